// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mp_blocks_offline() and the kmsg reader on a copy of a fixture recorded
 * from a real guest (tests/fixtures/dimm-movable: memory32-39 online
 * Movable).  The fixture has no dev/kmsg and no debugfs, which is the
 * "kernel reason not available" path.  Hand-made on top of it, because a
 * guest can't be made to do it on demand: a state file that is a FIFO
 * without a reader stands in for the kernel's endless migration retries,
 * valid_zones "none" for a block the kernel would refuse, a regular dev/kmsg,
 * and a dynamic-debug control file with the two offline_pages() lines a 6.1
 * guest lists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mp-kernel.h"

#define MEM "sys/devices/system/memory"
#define CONTROL "sys/kernel/debug/dynamic_debug/control"

static const char *fixture;

static void put(const char *root, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void get(const char *root, const char *rel, char *buf, size_t len)
{
	char path[512];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* A fresh copy of the fixture with kpageflags expanded. */
static struct mp_ctx *fresh(char *root, size_t len)
{
	char cmd[1024];
	struct mp_ctx *ctx = NULL;

	snprintf(root, len, "/tmp/mp-drain-XXXXXX");
	if (!mkdtemp(root))
		return NULL;
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", fixture, root);
	CHECK(system(cmd) == 0);
	CHECK(mp_snapshot_expand(root) == 0);
	CHECK(mp_ctx_new(root, &ctx) == 0);
	return ctx;
}

static void cleanup(char *root, struct mp_ctx *ctx)
{
	char cmd[600];

	mp_ctx_free(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

static void make_fifo(const char *root, unsigned int block)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/" MEM "/memory%u/state", root, block);
	CHECK(unlink(path) == 0);
	CHECK(mkfifo(path, 0600) == 0);
}

static bool state_is(const char *root, unsigned int block, const char *want)
{
	char rel[128], buf[64];

	snprintf(rel, sizeof(rel), MEM "/memory%u/state", block);
	get(root, rel, buf, sizeof(buf));
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want))
		fprintf(stderr, "memory%u/state: '%s', want '%s'\n", block, buf, want);
	return !strcmp(buf, want);
}

/* Open a kmsg reader and close it again: why it said the reason is unavailable, "" if usable. */
static const char *kmsg_probe(struct mp_ctx *ctx, char *why, size_t len)
{
	struct mp_kmsg *k;

	why[0] = '\0';
	if (mp_kmsg_open(ctx, &k)) {
		snprintf(why, len, "mp_kmsg_open failed");
		return why;
	}
	snprintf(why, len, "%s", mp_kmsg_unavailable(k) ? mp_kmsg_unavailable(k) : "");
	mp_kmsg_close(k);
	return why;
}

static void test_kmsg_unavailable(void)
{
	static const char sites[] =
		"# filename:lineno [module]function flags format\n"
		"mm/memory_hotplug.c:1919 [memory_hotplug]offline_pages =_ \"Offlined Pages %ld\\012\"\n"
		"mm/memory_hotplug.c:1965 [memory_hotplug]offline_pages =_ \"memory offlining [mem %#010llx-%#010llx] failed due to %s\\012\"\n"
		"mm/page_alloc.c:9544 [page_alloc]__offline_isolated_pages =_ \"remove from free list %lx %d %lx\\012\"\n";
	char root[64], buf[4096], wbuf[256];
	struct mp_ctx *ctx = fresh(root, sizeof(root));
	struct mp_kmsg *k;
	const char *why;

	if (!ctx)
		return;
	/* The fixture: no dev/kmsg. */
	why = kmsg_probe(ctx, wbuf, sizeof(wbuf));
	CHECK(strstr(why, "kernel reason not available: ") == why);
	CHECK(strstr(why, "/dev/kmsg: No such file or directory"));

	/* kmsg, but no debugfs. */
	mkdir(strcat(strcpy(buf, root), "/dev"), 0755);
	put(root, "dev/kmsg", "");
	why = kmsg_probe(ctx, wbuf, sizeof(wbuf));
	CHECK(strstr(why, "/" CONTROL ": No such file or directory (debugfs not mounted"));

	/* A control file with the sites off: turned on, and exactly those off again. */
	CHECK(system(strcat(strcat(strcpy(buf, "mkdir -p "), root),
			    "/sys/kernel/debug/dynamic_debug")) == 0);
	put(root, CONTROL, sites);
	CHECK(mp_kmsg_open(ctx, &k) == 0);
	CHECK(mp_kmsg_unavailable(k) == NULL);
	get(root, CONTROL, buf, sizeof(buf));
	CHECK(!strncmp(buf, "func offline_pages +p", 21));
	mp_kmsg_close(k);
	/* Each write lands at offset 0 of the plain file: the last one is first. */
	get(root, CONTROL, buf, sizeof(buf));
	CHECK(!strncmp(buf, "file mm/memory_hotplug.c line 1965 -p", 37));

	/* Already on: left alone, nothing written. */
	put(root, CONTROL,
	    "mm/memory_hotplug.c:1965 [memory_hotplug]offline_pages =p \"memory offlining\"\n");
	CHECK(!kmsg_probe(ctx, wbuf, sizeof(wbuf))[0]);
	get(root, CONTROL, buf, sizeof(buf));
	CHECK(!strncmp(buf, "mm/memory_hotplug.c:1965", 24));

	/* A kernel without the call site. */
	put(root, CONTROL,
	    "mm/page_alloc.c:9544 [page_alloc]__offline_isolated_pages =_ \"remove\"\n");
	CHECK(strstr(kmsg_probe(ctx, wbuf, sizeof(wbuf)), "lists no offline_pages() call site"));
	cleanup(root, ctx);
}

/*
 * Offline @ids (300 ms deadline) on a fresh fixture whose memory34 never
 * finishes an offline write (a FIFO); @zones35, if set, is memory35's
 * valid_zones.  *@ctx is NULL when the fixture can't be made.
 */
static struct mp_offline_result *offline_stuck(char *root, size_t len, struct mp_ctx **ctx,
					       const uint64_t *ids, size_t n, unsigned int flags,
					       const char *zones35, int *err)
{
	struct mp_offline_result *r = NULL;

	*ctx = fresh(root, len);
	if (!*ctx)
		return NULL;
	make_fifo(root, 34);
	if (zones35)
		put(root, MEM "/memory35/valid_zones", zones35);
	*err = mp_blocks_offline(*ctx, ids, n, 300, flags, &r);
	return r;
}

/* Eject order: 32, 33 offline, 34 never returns: deadline, both rolled back. */
static void test_deadline_rollback(void)
{
	static const uint64_t ids[] = { 32, 33, 34, 35, 36, 37, 38, 39 };
	char root[64];
	struct mp_ctx *ctx;
	int err = 0;
	struct mp_offline_result *r = offline_stuck(root, sizeof(root), &ctx, ids, 8,
						    MP_OFFLINE_ADDRESS_ORDER, NULL, &err);

	if (!ctx)
		return;
	CHECK(err == -ETIMEDOUT);
	CHECK(r != NULL);
	if (!r)
		goto out;
	CHECK(r->err == -ETIMEDOUT && r->timed_out && !r->rollback_failed);
	CHECK(r->failed == 2 && r->rolled_back == 2);
	CHECK(r->blocks[2].outcome == MP_OFFLINE_REFUSED && r->blocks[2].err == -EINTR);
	for (int i = 0; i < 2; i++) {
		CHECK(r->blocks[i].outcome == MP_OFFLINE_ROLLED_BACK);
		CHECK(r->blocks[i].tried == (unsigned int)i + 1);
		CHECK(!strcmp(r->blocks[i].zone_before, "Movable"));
		CHECK(!strcmp(r->blocks[i].zone_after, "Movable"));
		CHECK(r->blocks[i].rollback_word &&
		      !strcmp(r->blocks[i].rollback_word, "online_movable"));
	}
	for (int i = 3; i < 8; i++)
		CHECK(r->blocks[i].outcome == MP_OFFLINE_NOT_TRIED && !r->blocks[i].tried);
	/* What was written: offline, then online_movable over it. */
	CHECK(state_is(root, 32, "online_movable"));
	CHECK(state_is(root, 33, "online_movable"));
	CHECK(state_is(root, 35, "online"));
	CHECK(!r->why.from_kernel);
	CHECK(strstr(r->why.reason, "kernel reason not available: ") == r->why.reason);
	CHECK(strstr(r->why.reason, "/dev/kmsg: No such file or directory") != NULL);
	/* Evidence from the recorded kpageflags: an online Movable block. */
	CHECK(r->kpf_valid && r->kpf.pfns == 32768 && r->kpf.nopage == 0);
	CHECK(r->kpf.slab == 0 && r->kpf.pgtable == 0);
	CHECK(!strcmp(mp_offline_outcome_name(r->blocks[0].outcome), "rolled back"));
out:
	free(r);
	cleanup(root, ctx);
}

/*
 * Default order: memory35 (valid_zones "none", a certain refusal in a real
 * kernel) goes first.  Here its write "succeeds", 34 hangs, and 35 has no
 * zone to go back to: the rollback failure is reported, not hidden.
 */
static void test_suspect_first_rollback_failure(void)
{
	static const uint64_t ids[] = { 32, 33, 34, 35 };
	char root[64];
	struct mp_ctx *ctx;
	int err = 0;
	struct mp_offline_result *r =
		offline_stuck(root, sizeof(root), &ctx, ids, 4, 0, "none\n", &err);

	if (!ctx)
		return;
	CHECK(err == -ENOTRECOVERABLE);
	if (!r)
		goto out;
	CHECK(r->err == -ETIMEDOUT && r->rollback_failed && r->rolled_back == 2);
	CHECK(r->blocks[3].suspect && r->blocks[3].tried == 1);
	CHECK(r->blocks[0].tried == 2 && r->blocks[1].tried == 3 && r->blocks[2].tried == 4);
	CHECK(r->blocks[3].outcome == MP_OFFLINE_ROLLBACK_FAILED);
	CHECK(r->blocks[3].rollback_err == -EINVAL && r->blocks[3].rollback_word == NULL);
	CHECK(r->blocks[0].outcome == MP_OFFLINE_ROLLED_BACK);
	CHECK(r->blocks[1].outcome == MP_OFFLINE_ROLLED_BACK);
	CHECK(r->blocks[2].outcome == MP_OFFLINE_REFUSED && r->failed == 2);
	CHECK(state_is(root, 35, "offline"));
out:
	free(r);
	cleanup(root, ctx);
}

static void test_bad_sets(void)
{
	static const uint64_t missing[] = { 32, 99 }, twice[] = { 32, 33, 32 };
	char root[64];
	struct mp_ctx *ctx = fresh(root, sizeof(root));
	struct mp_offline_result *r = NULL;

	if (!ctx)
		return;
	/* A block that doesn't exist: nothing is written. */
	CHECK(mp_blocks_offline(ctx, missing, 2, 1000, 0, &r) == -ENOENT);
	CHECK(r && r->failed == 1 && r->blocks[1].err == -ENOENT);
	CHECK(r && r->blocks[0].outcome == MP_OFFLINE_NOT_TRIED);
	CHECK(r && !strcmp(r->why.reason, "not written: reading its state or zone failed: No such "
					  "file or directory"));
	CHECK(state_is(root, 32, "online"));
	free(r);
	r = NULL;
	CHECK(mp_blocks_offline(ctx, twice, 3, 1000, 0, &r) == -EINVAL && !r);
	CHECK(mp_blocks_offline(ctx, twice, 0, 1000, 0, &r) == -EINVAL && !r);
	/* All offline already: nothing to do, success. */
	put(root, MEM "/memory32/state", "offline\n");
	CHECK(mp_blocks_offline(ctx, missing, 1, 1000, 0, &r) == 0);
	CHECK(r && r->blocks[0].outcome == MP_OFFLINE_ALREADY && r->failed == -1);
	free(r);
	cleanup(root, ctx);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	test_kmsg_unavailable();
	test_deadline_rollback();
	test_suspect_first_rollback_failure();
	test_bad_sets();
	CHECK_DONE();
}
