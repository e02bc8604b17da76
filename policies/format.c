// SPDX-License-Identifier: LGPL-2.1-or-later
/* Names and number formats shared by the parser, the printer and explain. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy-internal.h"
#include "util.h"

/*
 * One table for both directions, so that the parser accepts exactly the
 * words the printer writes.  Within a set, in the order the parser's
 * "expected ..." lists them.
 */
static const struct {
	enum mp_policy_word_set set;
	const char *name;
	unsigned int value;
} words[] = {
	{ MP_WORDS_KIND, "dimm", MP_POLICY_KIND_DIMM },
	{ MP_WORDS_KIND, "nvdimm", MP_POLICY_KIND_NVDIMM },
	{ MP_WORDS_KIND, "dax", MP_POLICY_KIND_DAX },
	{ MP_WORDS_KIND, "virtio-mem", MP_POLICY_KIND_VIRTIO_MEM },
	{ MP_WORDS_KIND, "boot", MP_POLICY_KIND_BOOT },
	{ MP_WORDS_ZONE, "movable", MP_POLICY_ZONE_MOVABLE },
	{ MP_WORDS_ZONE, "kernel", MP_POLICY_ZONE_KERNEL },
	{ MP_WORDS_ZONE, "auto", MP_POLICY_ZONE_AUTO },
	{ MP_WORDS_VERIFY, "full", MP_VERIFY_FULL },
	{ MP_WORDS_VERIFY, "state", MP_VERIFY_STATE },
	{ MP_WORDS_VERIFY, "none", MP_VERIFY_NONE },
	{ MP_WORDS_DAX_MODE, "system-ram", MP_POLICY_DAX_SYSTEM_RAM },
	{ MP_WORDS_DAX_MODE, "devdax", MP_POLICY_DAX_DEVDAX },
	{ MP_WORDS_PRESSURE, "some", MP_GROW_PRESSURE_SOME },
	{ MP_WORDS_PRESSURE, "full", MP_GROW_PRESSURE_FULL },
};

const char *mp_policy_word_name(enum mp_policy_word_set set, unsigned int value)
{
	for (size_t i = 0; i < MP_ARRAY_SIZE(words); i++)
		if (words[i].set == set && words[i].value == value)
			return words[i].name;
	return "unknown";
}

int mp_policy_word_parse(enum mp_policy_word_set set, const char *s, char *reason,
			 size_t reason_len)
{
	size_t n = 0, left = 0, off;

	for (size_t i = 0; i < MP_ARRAY_SIZE(words); i++) {
		if (words[i].set != set)
			continue;
		if (!strcmp(s, words[i].name))
			return (int)words[i].value;
		n++;
	}
	off = snprintf(reason, reason_len, "expected");
	for (size_t i = 0; i < MP_ARRAY_SIZE(words) && off < reason_len; i++) {
		if (words[i].set != set)
			continue;
		left++;
		off += snprintf(reason + off, reason_len - off, "%s%s",
				left == 1 ? " " :
				left == n ? " or " :
					    ", ",
				words[i].name);
	}
	return -EINVAL;
}

const char *mp_policy_kind_name(enum mp_policy_kind kind)
{
	return mp_policy_word_name(MP_WORDS_KIND, kind);
}

const char *mp_policy_zone_name(enum mp_policy_zone zone)
{
	return mp_policy_word_name(MP_WORDS_ZONE, zone);
}

const char *mp_policy_verify_name(enum mp_verify_level verify)
{
	return mp_policy_word_name(MP_WORDS_VERIFY, verify);
}

const char *mp_grow_pressure_name(enum mp_grow_pressure p)
{
	return mp_policy_word_name(MP_WORDS_PRESSURE, p);
}

const char *mp_policy_dax_mode_name(enum mp_policy_dax_mode mode)
{
	return mp_policy_word_name(MP_WORDS_DAX_MODE, mode);
}

const char *mp_size_op_name(enum mp_size_op op)
{
	static const char *const names[] = {
		[MP_SIZE_EQ] = "=",  [MP_SIZE_NE] = "!=", [MP_SIZE_LT] = "<",
		[MP_SIZE_LE] = "<=", [MP_SIZE_GT] = ">",  [MP_SIZE_GE] = ">=",
	};

	return names[op];
}

static unsigned int exact_unit(uint64_t bytes)
{
	unsigned int u = 0;

	while (u < 4 && bytes && !(bytes & 1023)) {
		bytes >>= 10;
		u++;
	}
	return u;
}

char *mp_policy_fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = exact_unit(bytes);

	snprintf(buf, len, "%llu %s", (unsigned long long)(bytes >> (10 * u)), units[u]);
	return buf;
}

char *mp_policy_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "", "K", "M", "G", "T" };
	unsigned int u = exact_unit(bytes);

	snprintf(buf, len, "%llu%s", (unsigned long long)(bytes >> (10 * u)), units[u]);
	return buf;
}

char *mp_policy_fmt_mib(uint64_t bytes, char *buf, size_t len)
{
	uint64_t mib = bytes >> 20;
	/* Hundredths of a MiB, rounded down so that a limit is never overstated. */
	unsigned int frac = (unsigned int)(((bytes & ((1ULL << 20) - 1)) * 100) >> 20);

	if (!frac)
		snprintf(buf, len, "%llu MiB", (unsigned long long)mib);
	else if (frac % 10 == 0)
		snprintf(buf, len, "%llu.%u MiB", (unsigned long long)mib, frac / 10);
	else
		snprintf(buf, len, "%llu.%02u MiB", (unsigned long long)mib, frac);
	return buf;
}

char *mp_policy_fmt_nodes(const uint64_t *nodes, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int n = 0;

	buf[0] = '\0';
	while (n < MP_POLICY_MAX_NODES) {
		unsigned int lo;

		if (!mp_node_test(nodes, n)) {
			n++;
			continue;
		}
		lo = n;
		while (n + 1 < MP_POLICY_MAX_NODES && mp_node_test(nodes, n + 1))
			n++;
		if (off < len) {
			if (lo == n)
				off += snprintf(buf + off, len - off, "%s%u", off ? "," : "", lo);
			else
				off += snprintf(buf + off, len - off, "%s%u-%u", off ? "," : "", lo,
						n);
		}
		n++;
	}
	return buf;
}

char *mp_policy_fmt_kinds(unsigned int kinds, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (kinds == MP_POLICY_KIND_ANY) {
		snprintf(buf, len, "any");
		return buf;
	}
	for (unsigned int bit = 1; bit <= MP_POLICY_KIND_BOOT; bit <<= 1) {
		if (!(kinds & bit) || off >= len)
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? " " : "",
				mp_policy_kind_name((enum mp_policy_kind)bit));
	}
	return buf;
}
