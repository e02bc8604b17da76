// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mp_block_write_state()'s offline timeout must interrupt a write that never
 * returns even when the caller keeps SIGALRM blocked (a daemon reading its
 * signals through signalfd does).  A FIFO without a reader stands in for
 * the kernel's endless migration retries (hand-made: a real guest can't be
 * told to hang on demand).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "mp-kernel.h"

int main(void)
{
	char root[] = "/tmp/mp-timeout-XXXXXX", path[512];
	struct mp_ctx *ctx;
	struct timespec a, z;
	sigset_t set;
	double took;
	int err;

	if (!mkdtemp(root))
		return 1;
	snprintf(path, sizeof(path), "%s/sys/devices/system/memory/memory1", root);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
	strcat(path, "/state");
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(mp_ctx_new(root, &ctx) == 0);

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	err = mp_block_write_state(ctx, 1, "offline", 300);
	clock_gettime(CLOCK_MONOTONIC, &z);
	took = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
	CHECK(err == -EINTR);
	CHECK(took >= 0.25 && took < 5);
	/* The caller's mask is restored. */
	sigprocmask(SIG_BLOCK, NULL, &set);
	CHECK(sigismember(&set, SIGALRM));

	mp_ctx_free(ctx);
	unlink(path);
	CHECK_DONE();
}
