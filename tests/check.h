/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The assertions of memplug's C tests, one set for every suite.
 *
 * CHECK*() report file:line and keep going (CHECK_DONE() makes the exit
 * status); REQUIRE*() and FAIL() report and exit(1) at once, for a step the
 * rest of the test depends on.  Never assert(): built with NDEBUG it drops
 * the call inside it and checks nothing.
 */
#ifndef MP_TEST_CHECK_H
#define MP_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures __attribute__((unused));

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

#define CHECK_EQ(a, b)                                                                    \
	do {                                                                              \
		long long _a = (long long)(a), _b = (long long)(b);                       \
		if (_a != _b) {                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);                      \
			check_failures++;                                                 \
		}                                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                                          \
	do {                                                                                     \
		const char *_a = (a), *_b = (b);                                                 \
		if (!_a || !_b || strcmp(_a, _b)) {                                              \
			fprintf(stderr,                                                          \
				"%s:%d: CHECK failed: %s\n  got:      '%s'\n  expected: '%s'\n", \
				__FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)"); \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_DONE()                                                             \
	do {                                                                     \
		if (check_failures)                                              \
			fprintf(stderr, "%d check(s) failed\n", check_failures); \
		return check_failures ? 1 : 0;                                   \
	} while (0)

#define FAIL(...)                                                     \
	do {                                                          \
		fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                         \
		fputc('\n', stderr);                                  \
		exit(1);                                              \
	} while (0)

#define REQUIRE(cond)                      \
	do {                               \
		if (!(cond))               \
			FAIL("%s", #cond); \
	} while (0)

#define REQUIRE_STR(a, b)                                                                      \
	do {                                                                                   \
		const char *_a = (a), *_b = (b);                                               \
		if (!_a || !_b || strcmp(_a, _b))                                              \
			FAIL("%s\n  got:      '%s'\n  expected: '%s'", #a, _a ? _a : "(null)", \
			     _b ? _b : "(null)");                                              \
	} while (0)

#endif
