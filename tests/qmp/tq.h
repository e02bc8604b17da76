/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef TQ_H
#define TQ_H

/* Small helpers for the qmp and libvirt suites: checks, and a real QEMU
 * started per test (TCG, QMP on a unix socket in a fresh directory). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

extern int tq_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			tq_failures++;                                                           \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                    \
	do {                                                                              \
		long long _a = (long long)(a), _b = (long long)(b);                       \
		if (_a != _b) {                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);                      \
			tq_failures++;                                                    \
		}                                                                         \
	} while (0)

struct tq_qemu {
	pid_t pid;
	char dir[64];
	char sock[128];
};

/* Exits 77 when qemu-system-x86_64 is not installed (the only case where
 * this suite cannot run).  @machine_args replaces the default
 * "-M pc,nvdimm=on -m 1G,slots=8,maxmem=16G". */
int tq_qemu_start(struct tq_qemu *qm, const char *machine_args);
void tq_qemu_kill(struct tq_qemu *qm);
/* A raw QMP command over a fresh connection; returns the reply's "return"
 * as text (malloc'ed) or NULL on error. */
char *tq_qmp_raw(struct tq_qemu *qm, const char *cmd_json);
long long tq_now_ms(void);
int tq_finish(const char *name);

#endif
