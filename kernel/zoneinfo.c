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

#include "mp-kernel.h"
#include "util.h"

int mp_zoneinfo_parse(const char *text, struct mp_zone_free **out, size_t *nr)
{
	struct mp_zone_free *z = NULL, *cur = NULL;
	size_t n = 0;
	const char *line = text;

	*out = NULL;
	*nr = 0;
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char buf[160], zone[sizeof(z->zone)];
		int node;
		unsigned long long pages;

		snprintf(buf, sizeof(buf), "%.*s", (int)MP_MIN(len, sizeof(buf) - 1), line);
		line = eol ? eol + 1 : NULL;
		if (sscanf(buf, "Node %d, zone %15s", &node, zone) == 2) {
			struct mp_zone_free *t = realloc(z, (n + 1) * sizeof(*z));

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
		/* The first "pages free" after a zone's header is the zone's own. */
		if (cur && !cur->known && sscanf(buf, " pages free %llu", &pages) == 1) {
			cur->free = pages * MP_PAGE_SIZE;
			cur->known = true;
		}
	}
	if (n && !z[0].known) {
		free(z);
		return -EINVAL;
	}
	*out = z;
	*nr = n;
	return 0;
}

int mp_zoneinfo_read(const struct mp_ctx *ctx, struct mp_zone_free **out, size_t *nr)
{
	char path[PATH_MAX], *text = NULL;
	int err;

	*out = NULL;
	*nr = 0;
	err = mp_ctx_path(ctx, path, sizeof(path), "proc/zoneinfo");
	if (err)
		return err;
	err = mp_read_file_alloc(path, &text, NULL);
	if (err)
		return err;
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
