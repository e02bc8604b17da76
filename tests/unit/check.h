/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Minimal assertions for unit tests: report file:line and keep going. */
#ifndef MP_TEST_CHECK_H
#define MP_TEST_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                                       \
	do {                                                                                     \
		unsigned long long _a = (a), _b = (b);                                           \
		if (_a != _b) {                                                                  \
			fprintf(stderr, "%s:%d: %s = 0x%llx, want 0x%llx\n", __FILE__, __LINE__, \
				#a, _a, _b);                                                     \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_DONE()                                                             \
	do {                                                                     \
		if (check_failures)                                              \
			fprintf(stderr, "%d check(s) failed\n", check_failures); \
		return check_failures ? 1 : 0;                                   \
	} while (0)

#endif
