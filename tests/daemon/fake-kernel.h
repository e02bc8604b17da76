/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A scripted fake kernel for the daemon suite's C tests: a private copy of a
 * recorded fixture (expanded by memplugctl snapshot --expand) whose sysfs
 * attributes and /proc/kpageflags the test's mp_engine_ops write_state hook
 * rewrites the way the kernel would.  Assertions: check.h (a failed step
 * exits at once).
 */
#ifndef MP_TEST_FAKE_KERNEL_H
#define MP_TEST_FAKE_KERNEL_H

#include <stdint.h>

/* Pages of one memory block in the fixtures (block_size_bytes 0x8000000). */
#define FK_BLOCK_PAGES 32768ULL

/* Copy @fixture into a fresh /tmp directory and expand it; returns it (malloc'ed). */
char *fk_fixture_copy(const char *fixture, const char *memplugctl);
/* Remove the copy and free @dir. */
void fk_fixture_remove(char *dir);
/* Write @val to memory@id/@attr under @root. */
void fk_put(const char *root, uint64_t id, const char *attr, const char *val);
/* system() of a printf-formatted shell command (paths quoted by the caller); its status. */
int fk_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set the /proc/kpageflags entries of PFNs @pfn .. @pfn + @n - 1 to @flags. */
void fk_kpf_fill(const char *root, uint64_t pfn, uint64_t n, uint64_t flags);
/* What the kernel does on a successful online write: state, valid_zones
 * (@zone) and every page of the block with @flags. */
void fk_online(const char *root, uint64_t id, const char *zone, uint64_t flags);

#endif
