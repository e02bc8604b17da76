// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * engine/online.c and kernel/verify.c against a recorded fixture with a
 * scripted fake kernel behind memoryN/state (the mp_engine_ops hook): a
 * kernel that does what it is told passes verification; one that leaves
 * NOPAGE pages, picks another zone or loses a race is caught and named.
 *
 *   test-apply FIXTURE-DIR MEMPLUGCTL
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fake-kernel.h"
#include "mp-engine.h"
#include "util.h"

enum fake_mode { FAKE_GOOD, FAKE_LAZY, FAKE_WRONG_ZONE, FAKE_RACE, FAKE_NOPAGE, FAKE_RESERVED };

struct fake {
	enum fake_mode mode;
	const char *root;
	int writes;
};

/* What one run left behind. */
struct result {
	struct mp_group_outcome o;
	/* mp_block_verify_pages() of the group's first block, after the run */
	struct mp_block_check pages;
	int writes;
};

static int fake_write(void *priv, const struct mp_ctx *ctx, uint64_t id, const char *word)
{
	struct fake *f = priv;
	bool movable = !strcmp(word, "online_movable");

	f->writes++;
	switch (f->mode) {
	case FAKE_LAZY:
		return 0;
	case FAKE_RACE:
		fk_put(f->root, id, "state", "online");
		fk_put(f->root, id, "valid_zones", "Movable");
		return -EINVAL;
	default:
		break;
	}
	fk_online(f->root, id, movable != (f->mode == FAKE_WRONG_ZONE) ? "Movable" : "Normal",
		  1ULL << (f->mode == FAKE_NOPAGE ? MP_KPF_NOPAGE : MP_KPF_BUDDY));
	/* One stray PG_reserved page between two samples (PFN 1000 of the block). */
	if (f->mode == FAKE_RESERVED)
		fk_kpf_fill(f->root, id * FK_BLOCK_PAGES + 1000, 1, 1ULL << MP_KPF_RESERVED);
	return 0;
}

static void run(const char *fixture, const char *memplugctl, enum fake_mode mode,
		enum mp_policy_zone zone, struct result *res)
{
	struct mp_devgroup *groups, *g;
	struct mp_kpageflags *kpf;
	struct mp_memory *mem;
	struct mp_ctx *ctx;
	char *root = fk_fixture_copy(fixture, memplugctl);
	struct fake f = { .mode = mode, .root = root };
	struct mp_engine_ops ops = { .write_state = fake_write, .priv = &f };
	size_t ng;

	REQUIRE(!mp_ctx_new(root, &ctx));
	REQUIRE(!mp_memory_scan(ctx, MP_SCAN_ALL, &mem));
	REQUIRE(!mp_devgroups_build(mem, NULL, 0, &groups, &ng));
	g = mp_devgroup_find_block(groups, ng, 32);
	REQUIRE(g && !strcmp(g->key, "dimm:slot0") && g->nr == 4 && g->nr_offline == 4);
	REQUIRE(mp_devgroup_complete(g));
	REQUIRE(mp_devgroup_online(ctx, mem, g, zone, MP_VERIFY_FULL, &ops, &res->o) != -ENOMEM);
	REQUIRE(res->o.nr == 4);
	REQUIRE(!mp_kpageflags_open(ctx, &kpf));
	REQUIRE(!mp_block_verify_pages(ctx, &mem->geo, kpf, g->ids[0], &res->pages));
	mp_kpageflags_close(kpf);
	res->writes = f.writes;
	mp_devgroups_free(groups, ng);
	mp_memory_free(mem);
	mp_ctx_free(ctx);
	fk_fixture_remove(root);
}

static void good_movable(const struct result *r)
{
	REQUIRE(r->writes == 4 && r->o.onlined == 4 && r->o.verified == 4 && r->o.violations == 0);
	/* One PFN per 2 MiB sub-section at once, every PFN in the deferred pass. */
	REQUIRE(r->o.blocks[0].check.kpf_read && r->o.blocks[0].check.kpf.buddy == 64);
	REQUIRE(r->pages.ok && r->pages.kpf.buddy == 32768);
	REQUIRE(!strcmp(r->o.blocks[0].predicted.zone, "Movable") &&
		r->o.blocks[0].predicted.certain);
}

static void good_kernel(const struct result *r)
{
	REQUIRE(r->o.verified == 4 && r->o.violations == 0);
	REQUIRE(!strcmp(r->o.blocks[3].check.zone, "Normal"));
}

static void lazy(const struct result *r)
{
	REQUIRE(r->o.onlined == 4 && r->o.verified == 0 && r->o.violations == 4);
	REQUIRE(strstr(r->o.blocks[0].why,
		       "state reads 'offline' after a successful online write"));
}

static void wrong_zone(const struct result *r)
{
	REQUIRE(r->o.violations == 4);
	REQUIRE(strstr(r->o.blocks[1].why, "valid_zones reads 'Normal' after online_movable"));
	REQUIRE(strstr(r->o.blocks[1].why, "predicted zone Movable"));
}

static void nopage(const struct result *r)
{
	REQUIRE(r->o.violations == 4);
	REQUIRE(strstr(r->o.blocks[2].why, "64 of 64 sampled PFNs have no online page"));
	REQUIRE(!r->pages.ok &&
		strstr(r->pages.evidence, "32768 of 32768 PFNs have no online page"));
}

static void reserved(const struct result *r)
{
	REQUIRE(r->o.verified == 4 && r->o.violations == 0); /* between the samples */
	REQUIRE(!r->pages.ok && r->pages.violation);
	REQUIRE(strstr(r->pages.evidence, "1 PG_reserved pages beyond 0 memmap_on_memory pages"));
}

static void race(const struct result *r)
{
	REQUIRE(r->o.by_other == 4 && r->o.failed == 0 && r->o.onlined == 0 &&
		r->o.violations == 0);
	REQUIRE(strstr(r->o.blocks[0].why, "another onliner won the race"));
}

static const struct {
	enum fake_mode mode;
	enum mp_policy_zone zone;
	void (*check)(const struct result *r);
	const char *what;
} cases[] = {
	{ FAKE_GOOD, MP_POLICY_ZONE_MOVABLE, good_movable, "a kernel that does as told verifies" },
	{ FAKE_GOOD, MP_POLICY_ZONE_KERNEL, good_kernel, "online_kernel lands in Normal" },
	{ FAKE_LAZY, MP_POLICY_ZONE_MOVABLE, lazy, "a write that changed nothing is a violation" },
	{ FAKE_WRONG_ZONE, MP_POLICY_ZONE_MOVABLE, wrong_zone,
	  "the wrong zone is a violation, against the prediction" },
	{ FAKE_NOPAGE, MP_POLICY_ZONE_MOVABLE, nopage,
	  "NOPAGE pages in an online block are a violation (§6)" },
	{ FAKE_RESERVED, MP_POLICY_ZONE_MOVABLE, reserved,
	  "a stray PG_reserved page: missed by the sample, caught by the every-PFN pass (§6)" },
	{ FAKE_RACE, MP_POLICY_ZONE_MOVABLE, race,
	  "EINVAL on a block that reads online: another writer won (§2)" },
};

int main(int argc, char **argv)
{
	struct result r;

	if (argc != 3) {
		fprintf(stderr, "usage: test-apply FIXTURE MEMPLUGCTL\n");
		return 2;
	}
	for (size_t i = 0; i < MP_ARRAY_SIZE(cases); i++) {
		run(argv[1], argv[2], cases[i].mode, cases[i].zone, &r);
		cases[i].check(&r);
		mp_group_outcome_free(&r.o);
		printf("ok   %s\n", cases[i].what);
	}
	return 0;
}
