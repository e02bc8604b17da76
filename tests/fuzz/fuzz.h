/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_FUZZ_H
#define MP_FUZZ_H
/*
 * What every target shares: the entry point libFuzzer (or driver.c) calls,
 * and the input as a NUL-terminated copy for the parsers that take text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'ed copy of @data with a NUL after it (NULL on ENOMEM). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *t = malloc(size + 1);

	if (t) {
		memcpy(t, data, size);
		t[size] = '\0';
	}
	return t;
}

/* Parsers log every refusal: a fuzzer would print millions of lines. */
static inline void fuzz_quiet(void)
{
	mp_log_set_level(-1);
}

/*
 * A connected stream whose peer has sent @data and hung up: the client's
 * end, or -1.  The peer's write is non-blocking: what does not fit in the
 * socket buffer is cut off (a peer that stops mid-line is a case too).
 */
static inline int fuzz_peer(const uint8_t *data, size_t size)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if (size && write(sv[1], data, size) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	return sv[0];
}
#endif
