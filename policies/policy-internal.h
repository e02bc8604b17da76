/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the files of policies/; not part of the library's API. */
#ifndef MP_POLICY_INTERNAL_H
#define MP_POLICY_INTERNAL_H

#include <stdarg.h>

#include "policy.h"

enum mp_size_op {
	MP_SIZE_EQ = 0,
	MP_SIZE_NE,
	MP_SIZE_LT,
	MP_SIZE_LE,
	MP_SIZE_GT,
	MP_SIZE_GE,
};

struct mp_size_cmp {
	enum mp_size_op op;
	uint64_t bytes;
};

struct mp_addr_range {
	uint64_t start;
	uint64_t end; /* inclusive, as /proc/iomem prints ranges */
};

#define MP_NODE_WORDS (MP_POLICY_MAX_NODES / 64)

struct mp_policy {
	char *name;
	char *path;
	unsigned int match_line;

	/* [Match]: a key that is absent accepts everything. */
	bool has_kind;
	unsigned int kinds;
	bool has_node;
	uint64_t nodes[MP_NODE_WORDS];
	size_t nr_sizes;
	struct mp_size_cmp *sizes; /* all must hold */
	size_t nr_addrs;
	struct mp_addr_range *addrs; /* one must contain the device */
	size_t nr_devices;
	char **devices; /* fnmatch(3) globs, one must match an id */

	/* [Online] */
	bool online;
	enum mp_policy_zone zone;
	unsigned int movable_ratio;
	enum mp_verify_level verify;

	/* [Dax] */
	bool has_dax;
	enum mp_policy_dax_mode dax_mode;

	/* [Grow]: guest-wide, not matched against devices */
	bool has_grow;
	struct mp_grow_policy grow; /* grow.path set once the file is accepted */
};

struct mp_policy_errors {
	size_t nr;
	size_t cap;
	struct mp_policy_diag *v;
	bool oom; /* a diagnostic was lost to ENOMEM */
};

/* parse.c */
/*
 * Parse one policy from @f (already opened and checked).  Problems go to
 * @errs; *@out is set only when the file had none.  Return: 0 or -ENOMEM.
 */
int mp_policy_parse(FILE *f, const char *path, const char *name, struct mp_policy **out,
		    struct mp_policy_errors *errs);
void mp_policy_free(struct mp_policy *p);

/* policyset.c */
void mp_policy_errors_add(struct mp_policy_errors *errs, const char *file, unsigned int line,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* format.c: the words of the keys whose value is one of a set. */
enum mp_policy_word_set {
	MP_WORDS_KIND, /* one bit each; Kind= also takes "any" (parse.c) */
	MP_WORDS_ZONE,
	MP_WORDS_VERIFY,
	MP_WORDS_DAX_MODE,
	MP_WORDS_PRESSURE,
};
/* The word for @value in @set, or "unknown". */
const char *mp_policy_word_name(enum mp_policy_word_set set, unsigned int value);
/*
 * The value of the word @s in @set; -EINVAL with "expected a, b or c" in
 * @reason (REASON_LEN bytes) when it is none of them.
 */
int mp_policy_word_parse(enum mp_policy_word_set set, const char *s, char *reason,
			 size_t reason_len);

/* format.c: sizes for humans and for round trips. */
/* "1 GiB", "512 MiB", "4097 B": the largest binary unit that is exact. */
char *mp_policy_fmt_bytes(uint64_t bytes, char *buf, size_t len);
/* "1G", "512M", "4097": the same, in the syntax Size= accepts. */
char *mp_policy_fmt_size(uint64_t bytes, char *buf, size_t len);
/* "1024 MiB", "0.5 MiB", "2696.96 MiB": always MiB, at most two decimals. */
char *mp_policy_fmt_mib(uint64_t bytes, char *buf, size_t len);
const char *mp_size_op_name(enum mp_size_op op);
/* Node bitmap as "0,2-3". */
char *mp_policy_fmt_nodes(const uint64_t *nodes, char *buf, size_t len);
char *mp_policy_fmt_kinds(unsigned int kinds, char *buf, size_t len);

static inline bool mp_node_test(const uint64_t *nodes, unsigned int n)
{
	return n < MP_POLICY_MAX_NODES && (nodes[n / 64] >> (n % 64)) & 1;
}

static inline void mp_node_set(uint64_t *nodes, unsigned int n)
{
	nodes[n / 64] |= 1ULL << (n % 64);
}

#endif
