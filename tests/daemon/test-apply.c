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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mp-engine.h"
#include "util.h"

enum fake_mode { FAKE_GOOD, FAKE_LAZY, FAKE_WRONG_ZONE, FAKE_RACE, FAKE_NOPAGE, FAKE_RESERVED };

/* mp_block_verify_pages() of the first block, after each run */
static struct mp_block_check pages;

struct fake {
	enum fake_mode mode;
	const char *root;
	int writes;
};

static void put(const char *root, uint64_t id, const char *attr, const char *val)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/devices/system/memory/memory%llu/%s", root,
		 (unsigned long long)id, attr);
	f = fopen(path, "w");
	REQUIRE(f);
	fprintf(f, "%s\n", val);
	fclose(f);
}

/* Page flags of an onlined block: free pages in the buddy allocator (§6). */
static void kpf_fill(const char *root, uint64_t id, uint64_t flags, uint64_t bs)
{
	char path[4096];
	uint64_t n = bs / 4096, first = id * n;
	uint64_t *buf = malloc(n * 8);
	int fd;

	snprintf(path, sizeof(path), "%s/proc/kpageflags", root);
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0 && buf);
	for (uint64_t i = 0; i < n; i++)
		buf[i] = flags;
	REQUIRE(pwrite(fd, buf, n * 8, (off_t)(first * 8)) == (ssize_t)(n * 8));
	close(fd);
	free(buf);
}

static int fake_write(void *priv, const struct mp_ctx *ctx, uint64_t id, const char *word)
{
	struct fake *f = priv;
	bool movable = !strcmp(word, "online_movable");

	f->writes++;
	switch (f->mode) {
	case FAKE_LAZY:
		return 0;
	case FAKE_RACE:
		put(f->root, id, "state", "online");
		put(f->root, id, "valid_zones", "Movable");
		return -EINVAL;
	default:
		break;
	}
	put(f->root, id, "state", "online");
	put(f->root, id, "valid_zones",
	    f->mode == FAKE_WRONG_ZONE ? (movable ? "Normal" : "Movable") :
	    movable		       ? "Movable" :
					 "Normal");
	kpf_fill(f->root, id, f->mode == FAKE_NOPAGE ? 1ULL << MP_KPF_NOPAGE : 1ULL << MP_KPF_BUDDY,
		 128ULL << 20);
	if (f->mode == FAKE_RESERVED) {
		/* One stray PG_reserved page between two samples (PFN 1000 of the block). */
		char path[4096];
		uint64_t v = 1ULL << MP_KPF_RESERVED;
		int fd;

		snprintf(path, sizeof(path), "%s/proc/kpageflags", f->root);
		fd = open(path, O_WRONLY);
		REQUIRE(fd >= 0);
		REQUIRE(pwrite(fd, &v, 8, (off_t)((id * 32768 + 1000) * 8)) == 8);
		close(fd);
	}
	return 0;
}

static char *fresh_copy(const char *fixture, const char *memplugctl)
{
	static char dir[] = "/tmp/test-apply-XXXXXX";
	char cmd[8192];

	strcpy(dir, "/tmp/test-apply-XXXXXX");
	REQUIRE(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/' && '%s' snapshot --expand '%s'", fixture,
		 dir, memplugctl, dir);
	REQUIRE(system(cmd) == 0);
	return dir;
}

static void cleanup(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static void run(const char *fixture, const char *memplugctl, enum fake_mode mode,
		enum mp_policy_zone zone, struct mp_group_outcome *out, struct fake *f)
{
	struct mp_devgroup *groups, *g;
	struct mp_memory *mem;
	struct mp_ctx *ctx;
	struct mp_engine_ops ops = { .write_state = fake_write, .priv = f };
	size_t ng;
	char *root = fresh_copy(fixture, memplugctl);

	f->mode = mode;
	f->root = root;
	f->writes = 0;
	REQUIRE(!mp_ctx_new(root, &ctx));
	REQUIRE(!mp_memory_scan(ctx, MP_SCAN_ALL, &mem));
	REQUIRE(!mp_devgroups_build(mem, NULL, 0, &groups, &ng));
	g = mp_devgroup_find_block(groups, ng, 32);
	REQUIRE(g && !strcmp(g->key, "dimm:slot0") && g->nr == 4 && g->nr_offline == 4);
	REQUIRE(mp_devgroup_complete(g));
	REQUIRE(mp_devgroup_online(ctx, mem, g, zone, MP_VERIFY_FULL, &ops, out) != -ENOMEM);
	REQUIRE(out->nr == 4);
	{
		struct mp_kpageflags *kpf;

		REQUIRE(!mp_kpageflags_open(ctx, &kpf));
		REQUIRE(!mp_block_verify_pages(ctx, &mem->geo, kpf, g->ids[0], &pages));
		mp_kpageflags_close(kpf);
	}
	mp_devgroups_free(groups, ng);
	mp_memory_free(mem);
	mp_ctx_free(ctx);
	cleanup(root);
}

int main(int argc, char **argv)
{
	struct mp_group_outcome o;
	struct fake f;

	if (argc != 3) {
		fprintf(stderr, "usage: test-apply FIXTURE MEMPLUGCTL\n");
		return 2;
	}
	run(argv[1], argv[2], FAKE_GOOD, MP_POLICY_ZONE_MOVABLE, &o, &f);
	REQUIRE(f.writes == 4 && o.onlined == 4 && o.verified == 4 && o.violations == 0);
	/* One PFN per 2 MiB sub-section at once, every PFN in the deferred pass. */
	REQUIRE(o.blocks[0].check.kpf_read && o.blocks[0].check.kpf.buddy == 64);
	REQUIRE(pages.ok && pages.kpf.buddy == 32768);
	REQUIRE(!strcmp(o.blocks[0].predicted.zone, "Movable") && o.blocks[0].predicted.certain);
	mp_group_outcome_free(&o);
	printf("ok   a kernel that does as told verifies\n");

	run(argv[1], argv[2], FAKE_GOOD, MP_POLICY_ZONE_KERNEL, &o, &f);
	REQUIRE(o.verified == 4 && o.violations == 0);
	REQUIRE(!strcmp(o.blocks[3].check.zone, "Normal"));
	mp_group_outcome_free(&o);
	printf("ok   online_kernel lands in Normal\n");

	run(argv[1], argv[2], FAKE_LAZY, MP_POLICY_ZONE_MOVABLE, &o, &f);
	REQUIRE(o.onlined == 4 && o.verified == 0 && o.violations == 4);
	REQUIRE(strstr(o.blocks[0].why, "state reads 'offline' after a successful online write"));
	mp_group_outcome_free(&o);
	printf("ok   a write that changed nothing is a violation\n");

	run(argv[1], argv[2], FAKE_WRONG_ZONE, MP_POLICY_ZONE_MOVABLE, &o, &f);
	REQUIRE(o.violations == 4);
	REQUIRE(strstr(o.blocks[1].why, "valid_zones reads 'Normal' after online_movable"));
	REQUIRE(strstr(o.blocks[1].why, "predicted zone Movable"));
	mp_group_outcome_free(&o);
	printf("ok   the wrong zone is a violation, against the prediction\n");

	run(argv[1], argv[2], FAKE_NOPAGE, MP_POLICY_ZONE_MOVABLE, &o, &f);
	REQUIRE(o.violations == 4);
	REQUIRE(strstr(o.blocks[2].why, "64 of 64 sampled PFNs have no online page"));
	REQUIRE(!pages.ok && strstr(pages.evidence, "32768 of 32768 PFNs have no online page"));
	mp_group_outcome_free(&o);
	printf("ok   NOPAGE pages in an online block are a violation (§6)\n");

	run(argv[1], argv[2], FAKE_RESERVED, MP_POLICY_ZONE_MOVABLE, &o, &f);
	REQUIRE(o.verified == 4 && o.violations == 0); /* between the samples */
	REQUIRE(!pages.ok && pages.violation);
	REQUIRE(strstr(pages.evidence, "1 PG_reserved pages beyond 0 memmap_on_memory pages"));
	mp_group_outcome_free(&o);
	printf("ok   a stray PG_reserved page: missed by the sample, caught by the every-PFN pass (§6)\n");

	run(argv[1], argv[2], FAKE_RACE, MP_POLICY_ZONE_MOVABLE, &o, &f);
	REQUIRE(o.by_other == 4 && o.failed == 0 && o.onlined == 0 && o.violations == 0);
	REQUIRE(strstr(o.blocks[0].why, "another onliner won the race"));
	mp_group_outcome_free(&o);
	printf("ok   EINVAL on a block that reads online: another writer won (§2)\n");
	return 0;
}
