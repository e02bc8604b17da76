// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/iomem as a tree.
 *
 * Format (kernel/resource.c r_show()): two spaces of indent per nesting level,
 * "start-end : name", lowercase hex of at least 8 digits.  The kernel stops
 * indenting past depth 5 (MAX_IORES_LEVEL), so deeper entries are placed by
 * address containment, not by indentation alone.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-kernel.h"
#include "util.h"

#define IORES_MAX_INDENT 5

struct mp_iomem {
	struct mp_iomem_res root; /* virtual: covers everything */
};

static void free_res(struct mp_iomem_res *r)
{
	while (r) {
		struct mp_iomem_res *next = r->sibling;

		free_res(r->child);
		free(r->name);
		free(r);
		r = next;
	}
}

void mp_iomem_free(struct mp_iomem *io)
{
	if (!io)
		return;
	free_res(io->root.child);
	free(io);
}

const struct mp_iomem_res *mp_iomem_first(const struct mp_iomem *io)
{
	return io->root.child;
}

bool mp_iomem_is_sysram(const struct mp_iomem_res *r)
{
	/* "System RAM" and driver-managed "System RAM (kmem)" etc. (§3, §7). */
	return !strncmp(r->name, "System RAM", 10) && (r->name[10] == '\0' || r->name[10] == ' ');
}

static int parse_line(const char *line, const char *origin, unsigned int lineno, int *depth,
		      uint64_t *start, uint64_t *end, const char **name)
{
	const char *p = line, *dash, *colon;
	char num[32];
	size_t n;
	int spaces = 0;

	while (*p == ' ') {
		spaces++;
		p++;
	}
	dash = strchr(p, '-');
	colon = strstr(p, " : ");
	if (spaces % 2 || !dash || !colon || dash > colon) {
		mp_err("%s:%u: malformed line '%s'", origin, lineno, line);
		return -EINVAL;
	}
	n = (size_t)(dash - p);
	if (n == 0 || n >= sizeof(num))
		goto bad_num;
	memcpy(num, p, n);
	num[n] = '\0';
	if (mp_parse_u64(num, 16, start))
		goto bad_num;
	n = (size_t)(colon - dash - 1);
	if (n == 0 || n >= sizeof(num))
		goto bad_num;
	memcpy(num, dash + 1, n);
	num[n] = '\0';
	if (mp_parse_u64(num, 16, end))
		goto bad_num;
	if (*end < *start) {
		mp_err("%s:%u: range ends before it starts: '%s'", origin, lineno, line);
		return -EINVAL;
	}
	/* r_show() prints "<BAD>" for a resource without a name: never nothing. */
	if (!colon[3]) {
		mp_err("%s:%u: no name after ' : ' in '%s'", origin, lineno, line);
		return -EINVAL;
	}
	*depth = spaces / 2;
	*name = colon + 3;
	return 0;

bad_num:
	mp_err("%s:%u: bad address range in '%s'", origin, lineno, line);
	return -EINVAL;
}

int mp_iomem_parse(const char *text, const char *origin, struct mp_iomem **out)
{
	/* stack[i] is the open resource at nesting i - 1; tail[i] the last child of stack[i - 1]. */
	struct mp_iomem_res *stack[64], *tail[65] = { 0 };
	struct mp_iomem *io;
	const char *p = text;
	unsigned int lineno = 0, nonzero = 0, total = 0;
	int sp = 0, err = 0;

	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->root.end = UINT64_MAX;
	io->root.depth = -1;
	io->root.name = (char *)"";
	stack[0] = &io->root;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		struct mp_iomem_res *r, *parent;
		const char *name;
		uint64_t start, end;
		int depth;

		lineno++;
		if (!nl) {
			/* The kernel ends every line with '\n': no newline means truncation. */
			mp_err("%s:%u: truncated line (no newline)", origin, lineno);
			err = -EINVAL;
			goto out_err;
		}
		if (len >= sizeof(line)) {
			mp_err("%s:%u: line too long", origin, lineno);
			err = -EINVAL;
			goto out_err;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		/* r_show() prints a line per resource: an empty one is damage, not nothing. */
		if (!len) {
			mp_err("%s:%u: empty line (expected 'start-end : name')", origin, lineno);
			err = -EINVAL;
			goto out_err;
		}
		err = parse_line(line, origin, lineno, &depth, &start, &end, &name);
		if (err)
			goto out_err;
		total++;
		if (start || end)
			nonzero++;

		if (depth > sp) {
			mp_err("%s:%u: indented deeper than its parent allows", origin, lineno);
			err = -EINVAL;
			goto out_err;
		}
		if (depth < IORES_MAX_INDENT) {
			sp = depth;
		} else {
			/* The indent stops growing at depth 5: find the parent by containment. */
			while (sp > IORES_MAX_INDENT &&
			       !(stack[sp]->start <= start && end <= stack[sp]->end))
				sp--;
		}
		parent = stack[sp];
		if (!(parent->start <= start && end <= parent->end)) {
			mp_err("%s:%u: range %llx-%llx lies outside its parent '%s'", origin,
			       lineno, (unsigned long long)start, (unsigned long long)end,
			       parent->name);
			err = -EINVAL;
			goto out_err;
		}
		if (sp + 1 >= (int)MP_ARRAY_SIZE(stack)) {
			mp_err("%s:%u: nesting too deep", origin, lineno);
			err = -EINVAL;
			goto out_err;
		}
		r = calloc(1, sizeof(*r));
		if (!r || !(r->name = strdup(name))) {
			free(r);
			err = -ENOMEM;
			goto out_err;
		}
		r->start = start;
		r->end = end;
		r->depth = sp;
		r->line = lineno;
		r->parent = parent == &io->root ? NULL : parent;
		if (tail[sp + 1])
			tail[sp + 1]->sibling = r;
		else
			parent->child = r;
		tail[sp + 1] = r;
		tail[sp + 2] = NULL;
		stack[++sp] = r;
	}
	/*
	 * Without CAP_SYS_ADMIN at open time the kernel prints every address as
	 * zero (kernel/resource.c r_show()).  Such a file would make every block
	 * look like a hole: refuse it rather than give wrong answers.
	 */
	/*
	 * The kernel always lists its resources (at least the RAM it runs
	 * in): an empty file would read as "no System RAM" anywhere.
	 */
	if (!total) {
		mp_err("%s: empty (expected the kernel's resource list)", origin);
		err = -EINVAL;
		goto out_err;
	}
	if (nonzero == 0) {
		/* Said by mp_iomem_read(), whose caller may have a better answer (list). */
		err = -EPERM;
		goto out_err;
	}
	*out = io;
	return 0;

out_err:
	mp_iomem_free(io);
	return err;
}

int mp_iomem_read_flags(const struct mp_ctx *ctx, unsigned int flags, struct mp_iomem **out)
{
	bool quiet = flags & MP_IOMEM_QUIET_ACCESS;
	char path[PATH_MAX];
	_mp_free_ char *text = NULL;
	int err;

	err = mp_ctx_read_text(ctx, "proc/iomem", path, sizeof(path), &text, NULL);
	if (err) {
		if (err != -EBADMSG &&
		    (!quiet || (err != -ENOENT && err != -EACCES && err != -EPERM)))
			mp_ctx_err(ctx, "%s: %s", path, strerror(-err));
		return err;
	}
	err = mp_iomem_parse(text, path, out);
	if (err == -EPERM && !quiet)
		mp_ctx_err(
			ctx,
			"%s: all addresses read as zero: the file was opened without CAP_SYS_ADMIN (run as root)",
			path);
	return err;
}

int mp_iomem_read(const struct mp_ctx *ctx, struct mp_iomem **out)
{
	return mp_iomem_read_flags(ctx, 0, out);
}

const struct mp_iomem_res *mp_iomem_find(const struct mp_iomem *io, uint64_t addr)
{
	const struct mp_iomem_res *r = io->root.child, *found = NULL;

	while (r) {
		if (r->start <= addr && addr <= r->end) {
			found = r;
			r = r->child;
			continue;
		}
		r = r->sibling;
	}
	return found;
}

/* Union of System RAM pieces clipped to [start, end]; resources never partly overlap. */
static uint64_t sysram_walk(const struct mp_iomem_res *r, uint64_t start, uint64_t end)
{
	uint64_t sum = 0;

	for (; r; r = r->sibling) {
		uint64_t s, e;

		if (r->end < start || r->start > end)
			continue;
		if (mp_iomem_is_sysram(r)) {
			/* A System RAM resource counts whole: don't count its children again. */
			s = MP_MAX(r->start, start);
			e = MP_MIN(r->end, end);
			sum += e - s + 1;
			continue;
		}
		sum += sysram_walk(r->child, start, end);
	}
	return sum;
}

uint64_t mp_iomem_sysram_bytes(const struct mp_iomem *io, uint64_t start, uint64_t end)
{
	return sysram_walk(io->root.child, start, end);
}

static const struct mp_iomem_res *sysram_first(const struct mp_iomem_res *r, uint64_t start,
					       uint64_t end)
{
	for (; r; r = r->sibling) {
		const struct mp_iomem_res *c;

		if (r->end < start || r->start > end)
			continue;
		if (mp_iomem_is_sysram(r))
			return r;
		c = sysram_first(r->child, start, end);
		if (c)
			return c;
	}
	return NULL;
}

const struct mp_iomem_res *mp_iomem_find_sysram(const struct mp_iomem *io, uint64_t start,
						uint64_t end)
{
	return sysram_first(io->root.child, start, end);
}

const struct mp_iomem_res *mp_iomem_next(const struct mp_iomem_res *r)
{
	/* Pre-order by the parent links: no stack, so no depth or breadth limit. */
	if (r->child)
		return r->child;
	/* Top-level resources have no parent: climbing past them ends the walk. */
	for (; r; r = r->parent)
		if (r->sibling)
			return r->sibling;
	return NULL;
}

const struct mp_iomem_res *mp_iomem_find_named(const struct mp_iomem *io, const char *name)
{
	for (const struct mp_iomem_res *r = mp_iomem_first(io); r; r = mp_iomem_next(r))
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

size_t mp_iomem_kmem(const struct mp_iomem *io, const char *dax, struct mp_iomem_span *span,
		     const struct mp_iomem_res **ranges, size_t max)
{
	struct mp_iomem_span s = { 0 };

	/*
	 * kmem adds one "System RAM (kmem)" per kept range, as a child of
	 * daxX.Y (§7, §8).  Every resource of that name counts: a kernel may
	 * show daxX.Y nested in a daxX.Y of its own, shrunk to the kept range.
	 */
	for (const struct mp_iomem_res *k = mp_iomem_first(io); k; k = mp_iomem_next(k)) {
		if (strcmp(k->name, "System RAM (kmem)") || !k->parent ||
		    strcmp(k->parent->name, dax))
			continue;
		if (!s.nr)
			s.start = k->start;
		s.end = k->end;
		s.bytes += k->end - k->start + 1;
		if (ranges && s.nr < max)
			ranges[s.nr] = k;
		s.nr++;
	}
	if (span)
		*span = s;
	return s.nr;
}
