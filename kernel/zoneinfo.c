// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Free memory per node and zone from /proc/zoneinfo.
 *
 * The memmap (struct pages) of hot-added memory, 1/64 of it, is allocated
 * from the node's kernel zones unless memmap_on_memory places it inside
 * the new memory itself; a host that plans a plug needs the free pages of
 * DMA, DMA32 and Normal per node, which neither meminfo nor libnuma splits
 * out.  zoneinfo prints, per zone:
 *
 *   Node 0, zone   Normal
 *     per-node stats
 *         ...
 *     pages free     12345
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-kernel.h"
#include "util.h"

int mp_zoneinfo_parse(const char *text, struct mp_zone_free **out, size_t *nr)
{
	struct mp_zone_free *z = NULL, *cur = NULL;
	size_t n = 0;
	const char *line = text;
	unsigned int lineno = 0;

	*out = NULL;
	*nr = 0;
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char buf[160], zone[sizeof(z->zone)];
		int node, used = 0;
		unsigned long long pages;

		lineno++;
		/* zoneinfo_show() ends every line: no newline is a cut-off read. */
		if (!eol) {
			mp_err("zoneinfo:%u: truncated line (no newline)", lineno);
			goto bad;
		}
		snprintf(buf, sizeof(buf), "%.*s", (int)MP_MIN(len, sizeof(buf) - 1), line);
		line = eol + 1;
		if (sscanf(buf, "Node %d, zone %15s%n", &node, zone, &used) == 2) {
			struct mp_zone_free *t;

			/* The header is the whole line: "Node 0, zone   Normal". */
			if ((size_t)used != len || node < 0) {
				mp_err("zoneinfo:%u: malformed zone header '%s'", lineno, buf);
				goto bad;
			}
			t = realloc(z, (n + 1) * sizeof(*z));
			if (!t) {
				free(z);
				return -ENOMEM;
			}
			z = t;
			cur = &z[n++];
			memset(cur, 0, sizeof(*cur));
			cur->node = node;
			snprintf(cur->zone, sizeof(cur->zone), "%s", zone);
			cur->kernel = !strcmp(zone, "DMA") || !strcmp(zone, "DMA32") ||
				      !strcmp(zone, "Normal");
			continue;
		}
		/* Every line belongs to a zone: the file starts with a header. */
		if (!cur) {
			mp_err("zoneinfo:%u: '%s' before the first zone header (expected 'Node N, zone NAME')",
			       lineno, buf);
			goto bad;
		}
		/* The first "pages free" after a zone's header is the zone's own. */
		if (!cur->known && sscanf(buf, " pages free %llu", &pages) == 1) {
			if (pages > UINT64_MAX / MP_PAGE_SIZE) {
				mp_err("zoneinfo:%u: pages free %llu is more than memory can hold",
				       lineno, pages);
				goto bad;
			}
			cur->free = pages * MP_PAGE_SIZE;
			cur->known = true;
		}
	}
	/* A zone without its "pages free" would count as a zone with none free. */
	for (size_t i = 0; i < n; i++)
		if (!z[i].known) {
			mp_err("zoneinfo: node %d zone %s has no 'pages free' line", z[i].node,
			       z[i].zone);
			goto bad;
		}
	if (!n) {
		mp_err("zoneinfo: no zone (expected 'Node N, zone NAME' headers)");
		goto bad;
	}
	*out = z;
	*nr = n;
	return 0;

bad:
	free(z);
	return -EINVAL;
}

int mp_zoneinfo_read(const struct mp_ctx *ctx, struct mp_zone_free **out, size_t *nr)
{
	char path[PATH_MAX], *text = NULL;
	int err;

	*out = NULL;
	*nr = 0;
	err = mp_ctx_read_text(ctx, "proc/zoneinfo", path, sizeof(path), &text, NULL);
	if (!err)
		err = mp_zoneinfo_parse(text, out, nr);
	free(text);
	return err;
}

int64_t mp_zoneinfo_kernel_free(const struct mp_zone_free *z, size_t nr, int node)
{
	uint64_t sum = 0;
	bool any = false;

	for (size_t i = 0; i < nr; i++) {
		if (z[i].node != node || !z[i].kernel || !z[i].known)
			continue;
		sum += z[i].free;
		any = true;
	}
	return any ? (int64_t)sum : -ENOENT;
}
