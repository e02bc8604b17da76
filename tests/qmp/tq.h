/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef TQ_H
#define TQ_H

/* Small helpers for the qmp and libvirt suites (checks: tests/check.h): a real QEMU
 * started per test (TCG, QMP on a unix socket in a fresh directory). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "util.h"

#include "check.h"

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

/* The exit status: the checks of the calling test file (check.h counts per file). */
#define tq_finish(name)                                                                            \
	(check_failures ? (fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures), 1) : \
			  (printf("%s: all checks passed\n", name), 0))

#endif
