// SPDX-License-Identifier: LGPL-2.1-or-later
/* Names and number formats shared by the parser, the printer and explain. */
#include <stdio.h>
#include <string.h>

#include "policy-internal.h"

const char *mp_policy_kind_name(enum mp_policy_kind kind)
{
	switch (kind) {
	case MP_POLICY_KIND_DIMM:
		return "dimm";
	case MP_POLICY_KIND_NVDIMM:
		return "nvdimm";
	case MP_POLICY_KIND_DAX:
		return "dax";
	case MP_POLICY_KIND_VIRTIO_MEM:
		return "virtio-mem";
	case MP_POLICY_KIND_BOOT:
		return "boot";
	}
	return "unknown";
}

const char *mp_policy_zone_name(enum mp_policy_zone zone)
{
	switch (zone) {
	case MP_POLICY_ZONE_AUTO:
		return "auto";
	case MP_POLICY_ZONE_MOVABLE:
		return "movable";
	case MP_POLICY_ZONE_KERNEL:
		return "kernel";
	}
	return "unknown";
}

const char *mp_policy_verify_name(enum mp_verify_level verify)
{
	switch (verify) {
	case MP_VERIFY_FULL:
		return "full";
	case MP_VERIFY_STATE:
		return "state";
	case MP_VERIFY_NONE:
		return "none";
	}
	return "unknown";
}

const char *mp_grow_pressure_name(enum mp_grow_pressure p)
{
	return p == MP_GROW_PRESSURE_FULL ? "full" : "some";
}

const char *mp_policy_dax_mode_name(enum mp_policy_dax_mode mode)
{
	switch (mode) {
	case MP_POLICY_DAX_DEVDAX:
		return "devdax";
	case MP_POLICY_DAX_SYSTEM_RAM:
		return "system-ram";
	}
	return "unknown";
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
