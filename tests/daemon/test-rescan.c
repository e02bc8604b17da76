// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mp_memory_rescan() against mp_memory_scan(): the rescan must give the
 * model a full scan gives whenever the blocks that changed are named,
 * and it takes over unnamed online blocks from the previous model only.
 *
 * argv[1]: tests/fixtures, argv[2]: memplugctl.  Every recorded fixture is
 * scanned in place (nothing named, then everything named: both the full
 * scan's model); a copy of dimm-movable (memory32-39 online Movable, a
 * DIMM on slot 0; fake-kernel.c) is then changed the way the kernel
 * changes sysfs (state and valid_zones rewritten, a block removed and
 * added back) for the cases by hand and for a few hundred random rounds,
 * each compared with a full scan.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fake-kernel.h"
#include "mp-kernel.h"
#include "same-model.h"

#define MEM "sys/devices/system/memory"
/* What the engine scans with (MP_ENGINE_SCAN), zones read afterwards. */
#define FLAGS (MP_SCAN_NODES | MP_SCAN_DEVICES | MP_SCAN_IOMEM)

static struct mp_memory *full(struct mp_ctx *ctx)
{
	struct mp_memory *m = NULL;

	CHECK(mp_memory_scan(ctx, FLAGS, &m) == 0);
	if (m)
		mp_memory_read_zones(ctx, m, NULL, 0);
	return m;
}

static struct mp_memory *re(struct mp_ctx *ctx, const struct mp_memory *prev, const uint64_t *ids,
			    size_t nr)
{
	struct mp_memory *m = NULL;

	CHECK(mp_memory_rescan(ctx, FLAGS, prev, ids, nr, &m) == 0);
	if (m)
		mp_memory_read_zones(ctx, m, NULL, 0);
	return m;
}

/* same_model() and the ACPI name, which the JSON model does not carry. */
static void same(const struct mp_memory *a, const struct mp_memory *b)
{
	if (!a || !b) {
		CHECK(a && b);
		return;
	}
	same_model(a, b);
	for (size_t i = 0; i < a->nr && i < b->nr; i++)
		CHECK_STR(b->blocks[i].dev.acpi, a->blocks[i].dev.acpi);
}

/* Returns 1 when the fixture was compared, 0 when it cannot be scanned at all. */
static int in_place(const char *fixtures, const char *name)
{
	char root[600];
	struct mp_memory *a, *b, *c;
	struct mp_ctx *ctx;
	uint64_t *all;

	snprintf(root, sizeof(root), "%s/%s", fixtures, name);
	REQUIRE(mp_ctx_new(root, &ctx) == 0);
	/* A hand-made fixture without proc/iomem fails the full scan as well: nothing to compare. */
	if (mp_memory_scan(ctx, FLAGS, &a) == 0) {
		mp_memory_free(a);
		a = full(ctx);
	} else {
		a = NULL;
	}
	if (!a) {
		mp_ctx_free(ctx);
		return 0;
	}
	b = re(ctx, a, NULL, 0);
	same(a, b);
	all = calloc(a->nr + 1, sizeof(*all));
	REQUIRE(all != NULL);
	for (size_t i = 0; i < a->nr; i++)
		all[i] = a->blocks[a->nr - 1 - i].id; /* any order */
	c = re(ctx, a, all, a->nr);
	same(a, c);
	free(all);
	mp_memory_free(a);
	mp_memory_free(b);
	mp_memory_free(c);
	mp_ctx_free(ctx);
	return 1;
}

/* Block @id as the kernel shows it after device_online()/device_offline(). */
static void set_state(const char *root, uint64_t id, bool online)
{
	fk_put(root, id, "state", online ? "online" : "offline");
	fk_put(root, id, "valid_zones", online ? "Movable" : "Movable Normal");
}

static bool online_in(const struct mp_memory *m, uint64_t id)
{
	const struct mp_block *b = m ? mp_memory_find(m, id) : NULL;

	return b && b->state == MP_BLOCK_ONLINE;
}

/*
 * One step: the rescan of @prev naming @ids must be the full scan of now;
 * that full scan replaces @prev.  Returns the rescan's model, for the
 * caller's own checks (free it).
 */
static struct mp_memory *step(struct mp_ctx *ctx, struct mp_memory **prev, const uint64_t *ids,
			      size_t nr)
{
	struct mp_memory *got = re(ctx, *prev, ids, nr), *want = full(ctx);

	same(want, got);
	mp_memory_free(*prev);
	*prev = want;
	return got;
}

static void on_a_copy(const char *fixtures, const char *memplugctl)
{
	char src[600], *root;
	struct mp_memory *prev, *got;
	struct mp_ctx *ctx;
	uint64_t id33 = 33;

	snprintf(src, sizeof(src), "%s/dimm-movable", fixtures);
	root = fk_fixture_copy(src, memplugctl);
	REQUIRE(mp_ctx_new(root, &ctx) == 0);
	prev = full(ctx);
	REQUIRE(prev && online_in(prev, 33) && mp_memory_find(prev, 33)->dev.kind == MP_DEV_DIMM);

	/* Offlined behind the engine's back with no uevent: the model keeps it online. */
	set_state(root, 33, false);
	got = re(ctx, prev, NULL, 0);
	CHECK(online_in(got, 33));
	mp_memory_free(got);
	/* Named (the offline uevent): read, and the same as a full scan. */
	got = step(ctx, &prev, &id33, 1);
	CHECK(!online_in(got, 33));
	mp_memory_free(got);
	printf("ok   an unnamed online block is taken over; a named one is read\n");

	/* Offline in the model: read whether named or not. */
	set_state(root, 33, true);
	got = step(ctx, &prev, NULL, 0);
	CHECK(online_in(got, 33));
	mp_memory_free(got);
	printf("ok   a block offline in the model is always read\n");

	/* A block gone and one come back, unnamed: the listing finds both. */
	REQUIRE(fk_run("mv '%s/" MEM "/memory39' '%s/memory39.away'", root, root) == 0);
	REQUIRE(fk_run("mv '%s/sys/devices/system/node/node0/memory39' '%s/link39.away'", root,
		       root) == 0);
	got = step(ctx, &prev, NULL, 0);
	CHECK(!mp_memory_find(got, 39));
	mp_memory_free(got);
	REQUIRE(fk_run("mv '%s/memory39.away' '%s/" MEM "/memory39'", root, root) == 0);
	REQUIRE(fk_run("mv '%s/link39.away' '%s/sys/devices/system/node/node0/memory39'", root,
		       root) == 0);
	got = step(ctx, &prev, NULL, 0);
	CHECK(online_in(got, 39) && mp_memory_find(got, 39)->dev.kind == MP_DEV_DIMM);
	mp_memory_free(got);
	printf("ok   blocks that went and came are found by the listing\n");

	/*
	 * Random rounds: some blocks of the DIMM flip, every flipped block is
	 * named (with some unchanged ones); the rescan is the full scan.
	 */
	srand(11);
	for (int round = 0; round < 300; round++) {
		uint64_t named[16];
		size_t nr = 0;

		for (uint64_t id = 32; id <= 39; id++) {
			int r = rand() % 4;

			if (r == 0) {
				set_state(root, id, !online_in(prev, id));
				named[nr++] = id;
			} else if (r == 1) {
				named[nr++] = id;
			}
		}
		mp_memory_free(step(ctx, &prev, named, nr));
	}
	printf("ok   300 random rounds of named changes: the rescan is the full scan\n");

	mp_memory_free(prev);
	mp_ctx_free(ctx);
	fk_fixture_remove(root);
}

int main(int argc, char **argv)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	REQUIRE(argc == 3);
	d = opendir(argv[1]);
	REQUIRE(d != NULL);
	while ((de = readdir(d))) {
		char mem[700];
		struct stat st;

		snprintf(mem, sizeof(mem), "%s/%s/" MEM, argv[1], de->d_name);
		if (de->d_name[0] == '.' || stat(mem, &st) || !S_ISDIR(st.st_mode))
			continue;
		n += in_place(argv[1], de->d_name);
	}
	closedir(d);
	CHECK(n >= 10);
	printf("ok   %d recorded fixtures: a rescan naming nothing, or everything, is the full scan\n",
	       n);
	on_a_copy(argv[1], argv[2]);
	CHECK_DONE();
}
