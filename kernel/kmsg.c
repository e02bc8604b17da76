// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's own reason for a refused offline, read from its log.
 *
 * offline_pages() (mm/memory_hotplug.c, 6.1) ends every failure with
 *
 *	pr_debug("memory offlining [mem %#010llx-%#010llx] failed due to %s\n",
 *		 start_pfn << PAGE_SHIFT, (end_pfn << PAGE_SHIFT) - 1, reason);
 *
 * where reason is one of "memory holes", "multizone range" (-EINVAL),
 * "failure to isolate range" (-EBUSY from start_isolate_page_range()),
 * "notifier failure" (a memory notifier's errno), "signal backoff" (-EINTR),
 * "unmovable page" (-EBUSY: a PageOffline page with a reference) and
 * "failure to dissolve huge pages".  It is a pr_debug: Debian's kernel has
 * CONFIG_DYNAMIC_DEBUG, so it prints only once "func offline_pages +p" is
 * written to <debugfs>/dynamic_debug/control.  The 6.1 guest lists two call
 * sites for the function ("Offlined Pages %ld" on success and the failure
 * line).  With memmap_on_memory the range starts after the block's own
 * vmemmap pages, so a line is matched by containment in the block.
 *
 * Before that line an isolation failure dumps the first unmovable page at
 * KERN_WARNING (set_migratetype_isolate() -> dump_page(page, "unmovable
 * page")): "page:... pfn:0x...", "flags: ...", "raw: ..." lines, then
 * "page dumped because: unmovable page".  Migration retries print
 * "migrating pfn %lx failed ret:%d" / "failed to isolate pfn %lx" with a dump
 * ("migration failure", "isolation failed"), rate-limited.
 *
 * A write refused before offline_pages() (a block spanning zones: the
 * memory block has no zone, -EINVAL) logs nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mp-kernel.h"
#include "util.h"

#define KMSG_PATH "dev/kmsg"
#define DYNDBG_CONTROL "sys/kernel/debug/dynamic_debug/control"
#define DYNDBG_FUNC "offline_pages"
#define MAX_SITES 8
/* A bound on one read-out, against a log flooded faster than we read. */
#define MAX_RECORDS 100000
/* CONSOLE_EXT_LOG_MAX: /dev/kmsg refuses smaller buffers with EINVAL. */
#define RECORD_MAX 8192

struct dyndbg_site {
	char file[128];
	unsigned int line;
};

struct mp_kmsg {
	const struct mp_ctx *ctx; /* for messages */
	int fd;
	char kmsg_path[PATH_MAX];
	char control[PATH_MAX];
	char unavailable[200]; /* "" when all is usable */
	bool kmsg_ok;
	size_t nr_enabled;
	struct dyndbg_site enabled[MAX_SITES]; /* sites this reader turned on */
};

int mp_kmsg_record_parse(const char *buf, size_t len, struct mp_kmsg_record *r)
{
	unsigned long long prio, seq, ts;
	const char *semi, *p, *nl;
	char head[128];
	size_t n;
	int used;

	memset(r, 0, sizeof(*r));
	/* devkmsg_read() escapes the text (\xNN): a NUL byte is not the kernel's. */
	if (!len || memchr(buf, '\0', len))
		return -EINVAL;
	semi = memchr(buf, ';', len);
	if (!semi || (size_t)(semi - buf) >= sizeof(head))
		return -EINVAL;
	memcpy(head, buf, (size_t)(semi - buf));
	head[semi - buf] = '\0';
	/* sscanf's %llu takes blanks and a sign, which the kernel never prints. */
	p = head;
	for (int field = 0; field < 3; field++) {
		const char *d = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == d || *p != ',')
			return -EINVAL;
		p++;
	}
	/* "prio,seq,usec,flag" and maybe more fields (",caller=T12"). */
	if (sscanf(head, "%llu,%llu,%llu,%n", &prio, &seq, &ts, &used) != 3 || !used)
		return -EINVAL;
	r->level = (int)(prio & 7);
	r->facility = (int)(prio >> 3);
	r->seq = seq;
	r->ts_us = ts;
	p = semi + 1;
	nl = memchr(p, '\n', len - (size_t)(p - buf));
	n = nl ? (size_t)(nl - p) : len - (size_t)(p - buf);
	n = MP_MIN(n, sizeof(r->text) - 1);
	memcpy(r->text, p, n);
	r->text[n] = '\0';
	return 0;
}

int mp_kmsg_parse_offline_failure(const char *text, uint64_t *start, uint64_t *end,
				  const char **reason)
{
	static const char pre[] = "memory offlining [mem ";
	static const char due[] = "] failed due to ";
	unsigned long long a, b;
	const char *p;
	char *q;

	p = strstr(text, pre);
	if (!p)
		return -ENOENT;
	p += sizeof(pre) - 1;
	errno = 0;
	a = strtoull(p, &q, 16); /* %#010llx: "0x" prefix, strtoull takes it */
	if (errno || q == p || *q != '-')
		return -ENOENT;
	p = q + 1;
	b = strtoull(p, &q, 16);
	if (errno || q == p || strncmp(q, due, sizeof(due) - 1) || b < a)
		return -ENOENT;
	*start = a;
	*end = b;
	*reason = q + sizeof(due) - 1;
	return 0;
}

/* "mm/memory_hotplug.c:1965 [memory_hotplug]offline_pages =_ "fmt"" */
static int parse_control_line(const char *l, struct dyndbg_site *site, char *flags, size_t flen)
{
	char func[64], fl[16];
	const char *colon, *sp;
	size_t n;

	colon = strchr(l, ':');
	sp = strchr(l, ' ');
	if (!colon || !sp || colon > sp)
		return -EINVAL;
	n = (size_t)(colon - l);
	if (n >= sizeof(site->file))
		return -EINVAL;
	memcpy(site->file, l, n);
	site->file[n] = '\0';
	/* The module part "[mod]" is glued to the function name. */
	if (sscanf(colon + 1, "%u [%*[^]]]%63s =%15s", &site->line, func, fl) != 3)
		return -EINVAL;
	if (strcmp(func, DYNDBG_FUNC))
		return -ENOENT;
	snprintf(flags, flen, "%s", fl);
	return 0;
}

/* "kernel reason not available: <path>: <errno text><hint>" */
static void set_unavailable(struct mp_kmsg *k, const char *path, int err, const char *hint)
{
	if (k->unavailable[0])
		return; /* the first cause is the one to fix */
	snprintf(k->unavailable, sizeof(k->unavailable), "kernel reason not available: %s: %s%s",
		 path, strerror(-err), hint);
}

/* Turn on offline_pages()'s call sites that are off; remember which. */
static void enable_dyndbg(struct mp_kmsg *k)
{
	char *text = NULL, *line, *save = NULL;
	struct dyndbg_site off[MAX_SITES];
	size_t nr_sites = 0, nr_off = 0;
	int err;

	err = mp_read_file_alloc(k->control, &text, NULL);
	if (err) {
		set_unavailable(
			k, k->control, err,
			err == -ENOENT ? " (debugfs not mounted, or no CONFIG_DYNAMIC_DEBUG)" : "");
		return;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct dyndbg_site site;
		char flags[16];

		if (parse_control_line(line, &site, flags, sizeof(flags)))
			continue;
		nr_sites++;
		if (!strchr(flags, 'p') && nr_off < MAX_SITES)
			off[nr_off++] = site;
	}
	free(text);
	if (!nr_sites) {
		snprintf(k->unavailable, sizeof(k->unavailable),
			 "kernel reason not available: %s lists no " DYNDBG_FUNC
			 "() call site (kernel without its pr_debug)",
			 k->control);
		return;
	}
	if (!nr_off)
		return; /* someone already turned them on: leave them as found */
	err = mp_write_attr(AT_FDCWD, k->control, "func " DYNDBG_FUNC " +p");
	if (err) {
		set_unavailable(k, k->control, err, " (enabling " DYNDBG_FUNC "() debug messages)");
		return;
	}
	memcpy(k->enabled, off, nr_off * sizeof(off[0]));
	k->nr_enabled = nr_off;
}

int mp_kmsg_open(const struct mp_ctx *ctx, struct mp_kmsg **out)
{
	struct mp_kmsg *k;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->ctx = ctx;
	k->fd = -1;
	if (mp_ctx_path(ctx, k->kmsg_path, sizeof(k->kmsg_path), KMSG_PATH) ||
	    mp_ctx_path(ctx, k->control, sizeof(k->control), DYNDBG_CONTROL)) {
		snprintf(k->unavailable, sizeof(k->unavailable),
			 "kernel reason not available: root path too long");
		*out = k;
		return 0;
	}
	k->fd = open(k->kmsg_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0) {
		int err = -errno;

		set_unavailable(k, k->kmsg_path, err,
				err == -EPERM || err == -EACCES ?
					" (reading needs CAP_SYSLOG when dmesg_restrict is set)" :
					"");
	} else {
		k->kmsg_ok = true;
		/* Only then is there a point in asking the kernel to say more. */
		enable_dyndbg(k);
	}
	*out = k;
	return 0;
}

void mp_kmsg_close(struct mp_kmsg *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->nr_enabled; i++) {
		char cmd[192];
		int err;

		snprintf(cmd, sizeof(cmd), "file %s line %u -p", k->enabled[i].file,
			 k->enabled[i].line);
		err = mp_write_attr(AT_FDCWD, k->control, cmd);
		if (err)
			mp_ctx_warn(k->ctx, "%s: restoring '%s': %s", k->control, cmd,
				    strerror(-err));
	}
	if (k->fd >= 0)
		close(k->fd);
	free(k);
}

const char *mp_kmsg_unavailable(const struct mp_kmsg *k)
{
	return k->unavailable[0] ? k->unavailable : NULL;
}

void mp_kmsg_mark(struct mp_kmsg *k)
{
	/* SEEK_END on /dev/kmsg: the next read returns the next new record. */
	if (k->fd >= 0 && lseek(k->fd, 0, SEEK_END) < 0) {
		int err = -errno;

		set_unavailable(k, k->kmsg_path, err, " (seek to the end)");
	}
}

/* "... pfn:0x120007" in a dump_page() header line */
static bool dump_pfn(const char *text, uint64_t *pfn)
{
	const char *p;
	char *q;

	if (strncmp(text, "page:", 5))
		return false;
	p = strstr(text, " pfn:");
	if (!p)
		return false;
	p += 5;
	errno = 0;
	*pfn = strtoull(p, &q, 16);
	return !errno && q != p;
}

/* "migrating pfn 120007 failed ret:1", "failed to isolate pfn 120007" */
static bool migrate_failure_pfn(const char *text, uint64_t *pfn)
{
	const char *p;
	char *q;

	if (!strncmp(text, "migrating pfn ", 14))
		p = text + 14;
	else if (!strncmp(text, "failed to isolate pfn ", 22))
		p = text + 22;
	else
		return false;
	errno = 0;
	*pfn = strtoull(p, &q, 16);
	return !errno && q != p;
}

static void append_line(char *buf, size_t len, const char *line)
{
	size_t n = strlen(buf);

	if (n + 1 >= len)
		return;
	snprintf(buf + n, len - n, "%s%s", n ? "\n" : "", line);
}

/* The matcher, one record at a time: a long migration logs hundreds. */
struct scan {
	uint64_t start, end, first_pfn, last_pfn;
	bool in_dump;
	struct mp_offline_why *why;
};

static void scan_begin(struct scan *sc, uint64_t start, uint64_t end, struct mp_offline_why *why)
{
	memset(why, 0, sizeof(*why));
	sc->start = start;
	sc->end = end;
	sc->first_pfn = mp_addr_to_pfn(start);
	sc->last_pfn = mp_addr_to_pfn(end);
	sc->in_dump = false;
	sc->why = why;
}

static void scan_record(struct scan *sc, const struct mp_kmsg_record *rec)
{
	struct mp_offline_why *why = sc->why;
	const char *text = rec->text, *reason;
	uint64_t a, b, pfn;

	if (rec->facility != 0)
		return; /* userspace writing to /dev/kmsg */
	if (!mp_kmsg_parse_offline_failure(text, &a, &b, &reason)) {
		if (a >= sc->start && b <= sc->end && !why->from_kernel) {
			why->from_kernel = true;
			snprintf(why->reason, sizeof(why->reason), "%s", reason);
			snprintf(why->message, sizeof(why->message), "%s", text);
		}
		sc->in_dump = false;
		return;
	}
	if (dump_pfn(text, &pfn)) {
		sc->in_dump = pfn >= sc->first_pfn && pfn <= sc->last_pfn;
		if (sc->in_dump && ++why->nr_dumps == 1) {
			why->dump_pfn = pfn;
			append_line(why->dump, sizeof(why->dump), text);
		} else {
			sc->in_dump = false; /* count later dumps, keep the first */
		}
		return;
	}
	if (sc->in_dump) {
		append_line(why->dump, sizeof(why->dump), text);
		if (!strncmp(text, "page dumped because: ", 21)) {
			snprintf(why->dump_because, sizeof(why->dump_because), "%s", text + 21);
			sc->in_dump = false;
		}
		return;
	}
	if (migrate_failure_pfn(text, &pfn) && pfn >= sc->first_pfn && pfn <= sc->last_pfn &&
	    !why->nr_migrate_failures++)
		snprintf(why->migrate_line, sizeof(why->migrate_line), "%s", text);
}

static void scan_end(struct scan *sc, const char *unavailable)
{
	struct mp_offline_why *why = sc->why;

	if (why->from_kernel)
		return;
	if (unavailable)
		snprintf(why->reason, sizeof(why->reason), "%s", unavailable);
	else
		snprintf(
			why->reason, sizeof(why->reason),
			"kernel reason not available: no 'memory offlining [mem %#llx-%#llx] failed due to' line in the log (refused before offline_pages(), e.g. a block spanning zones, or the log overflowed)",
			(unsigned long long)sc->start, (unsigned long long)sc->end);
}

void mp_kmsg_scan_records(const struct mp_kmsg_record *recs, size_t nr, uint64_t start,
			  uint64_t end, const char *unavailable, struct mp_offline_why *why)
{
	struct scan sc;

	scan_begin(&sc, start, end, why);
	for (size_t i = 0; i < nr; i++)
		scan_record(&sc, &recs[i]);
	scan_end(&sc, unavailable);
}

void mp_kmsg_offline_why(struct mp_kmsg *k, uint64_t start, uint64_t end,
			 struct mp_offline_why *why)
{
	struct mp_kmsg_record rec;
	struct scan sc;
	char *buf = NULL;
	unsigned int bad = 0;

	scan_begin(&sc, start, end, why);
	if (k->fd >= 0)
		buf = malloc(RECORD_MAX);
	/* Everything since the mark: the failure line comes after the dumps. */
	for (size_t n_read = 0; buf && n_read < MAX_RECORDS; n_read++) {
		ssize_t n = read(k->fd, buf, RECORD_MAX);

		if (n < 0 && (errno == EPIPE || errno == EINTR))
			continue; /* EPIPE: records overwritten before we read them */
		if (n < 0) {
			int err = -errno;

			if (err != -EAGAIN)
				set_unavailable(k, k->kmsg_path, err, " (read)");
			break;
		}
		if (n == 0)
			break;
		if (!mp_kmsg_record_parse(buf, (size_t)n, &rec))
			scan_record(&sc, &rec);
		else if (!bad++)
			/* Said once: a reason missing from a bad record is then explained. */
			mp_ctx_warn(k->ctx,
				    "%s: a record that is not PRIO,SEQ,USEC,FLAG;TEXT\\n: '%.*s'",
				    k->kmsg_path, (int)MP_MIN((size_t)n, 80), buf);
	}
	free(buf);
	scan_end(&sc, mp_kmsg_unavailable(k));
}
