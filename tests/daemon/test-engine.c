// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The engine object (engine/mp-engine.h) against a fixture recorded from a
 * real guest (two 512 MiB DIMMs, offline, on two nodes), with a scripted
 * fake kernel behind memoryN/state: reconcile decides and onlines both
 * DIMMs by policy; every message goes to the context's log function (none
 * to stderr); the status document survives the trip through text and
 * mp_status_print(); the persisted state makes a second engine recognise
 * the first one's work; explain says what reconcile would do without
 * writing; a block whose node link is missing keeps its device settling
 * on the timer until the link appears.
 *
 *   test-engine FIXTURE-DIR MEMPLUGCTL
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fake-kernel.h"
#include "mp-engine.h"
#include "mp-json.h"
#include "util.h"

struct fake {
	const char *root;
	int writes;
};

struct logbuf {
	char text[65536];
	size_t len;
};

/* A kernel that does as told: state, zone, and buddy pages in kpageflags. */
static int fake_write(void *priv, const struct mp_ctx *ctx, uint64_t id, const char *word)
{
	struct fake *f = priv;

	f->writes++;
	fk_online(f->root, id, strcmp(word, "online_movable") ? "Normal" : "Movable",
		  1ULL << MP_KPF_BUDDY);
	return 0;
}

static void capture(void *data, int priority, const char *fmt, va_list ap)
{
	struct logbuf *l = data;
	int n;

	if (l->len >= sizeof(l->text) - 1)
		return;
	n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	if (n > 0)
		l->len = MP_MIN(l->len + (size_t)n, sizeof(l->text) - 2);
	l->text[l->len++] = '\n';
	l->text[l->len] = '\0';
}

/* A policy set of one file @name holding @text, in @root/policies. */
static struct mp_policyset *policies(const char *root, const char *name, const char *text)
{
	char dir[4200], file[4300], cmd[4400];
	const char *const dirs[] = { dir, NULL };
	struct mp_policyset *set = NULL;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/policies", root);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	REQUIRE(system(cmd) == 0);
	snprintf(file, sizeof(file), "%s/%s", dir, name);
	f = fopen(file, "w");
	REQUIRE(f);
	fputs(text, f);
	fclose(f);
	REQUIRE(!mp_policyset_load(dirs, MP_POLICY_LOAD_ANY_OWNER, &set, NULL));
	return set;
}

static const struct mp_device *must_find(struct mp_engine *e, const char *key)
{
	const struct mp_device *d = mp_engine_device_find(e, key);

	if (!d)
		FAIL("no device %s", key);
	return d;
}

static void run_cmd(const char *fmt, const char *root)
{
	char cmd[8800];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(cmd, sizeof(cmd), fmt, root, root, root);
#pragma GCC diagnostic pop
	REQUIRE(system(cmd) == 0);
}

/*
 * The kernel fast path as acpi_memory_enable_device() plays it: the
 * kernel adds and onlines a DIMM's blocks under the engine's
 * auto_online_blocks, and links them to their ACPI device only after.  The
 * engine samples each block's pages as soon as a scan finds it online,
 * and when the device is complete reads only state and zone.  A sample is
 * void after an offline uevent (memory34) or a scan that finds the block
 * offline (memory35): those are read again.  The pages of memory33 and
 * memory34 go bad after their samples: memory34 is re-read (a violation
 * at once), memory33's sample stands and the every-PFN pass after the
 * report finds it.  Then the kernel puts slot1 in the wrong zone: the
 * engine stops trusting its auto-online and puts the knobs back.
 */
/* A copy of @fixture with neither DIMM plugged yet: memory32-39 wait in hidden/. */
static char *fixture_unplugged(const char *fixture, const char *memplugctl)
{
	char *root = fk_fixture_copy(fixture, memplugctl);

	run_cmd("mkdir -p '%s/hidden'", root);
	run_cmd("cd '%s/sys/devices/system/memory' && mv memory3[2-9] '%s/hidden/'", root);
	return root;
}

/* An engine on @root with @set in force, its messages into @log; the context in @ctx. */
static struct mp_engine *engine_on(const char *root, const struct mp_engine_config *cfg,
				   struct mp_policyset *set, struct logbuf *log,
				   struct mp_ctx **ctx)
{
	struct mp_engine *e;

	REQUIRE(!mp_ctx_new(root, ctx));
	mp_ctx_set_log_fn(*ctx, capture, log);
	REQUIRE(!mp_engine_new(*ctx, cfg, &e));
	mp_engine_set_policies(e, set);
	return e;
}

/*
 * The kernel adds memory@first..@last (moved back from hidden/) and onlines
 * them at add time, in @zone; their ACPI links come later (fw_relink()):
 * the targets are kept in @fw.
 */
static void fw_online_unlinked(const char *root, unsigned int first, unsigned int last,
			       const char *zone, char fw[][256])
{
	char path[4300];

	for (unsigned int id = first; id <= last; id++) {
		ssize_t n;

		REQUIRE(fk_run("cd '%s/hidden' && mv memory%u '%s/sys/devices/system/memory/'",
			       root, id, root) == 0);
		snprintf(path, sizeof(path), "%s/sys/devices/system/memory/memory%u/firmware_node",
			 root, id);
		n = readlink(path, fw[id - first], 255);
		REQUIRE(n > 0);
		fw[id - first][n] = '\0';
		REQUIRE(unlink(path) == 0);
		fk_online(root, id, zone, 1ULL << MP_KPF_BUDDY);
	}
}

/* acpi_bind_memory_blocks(): the links fw_online_unlinked() took away come, with no uevent. */
static void fw_relink(const char *root, unsigned int first, unsigned int last, char fw[][256])
{
	char path[4300];

	for (unsigned int id = first; id <= last; id++) {
		snprintf(path, sizeof(path), "%s/sys/devices/system/memory/memory%u/firmware_node",
			 root, id);
		REQUIRE(symlink(fw[id - first], path) == 0);
	}
}

static void fast_path_samples(const char *fixture, const char *memplugctl, struct logbuf *log)
{
	char auto_online[32], fw[4][256], path[4300];
	struct fake f = { 0 };
	struct mp_engine_ops ops = { .write_state = fake_write, .priv = &f };
	struct mp_engine_config cfg = { .ops = &ops,
					.nodes = mp_node_provider_scan(),
					.kernel_knobs = true };
	struct mp_policyset *set;
	const struct mp_device *d;
	struct mp_engine *e;
	struct mp_ctx *ctx;
	char *root;

	root = fixture_unplugged(fixture, memplugctl);
	f.root = root;
	set = policies(root, "50-fast.conf",
		       "[Match]\nKind=dimm virtio-mem\n\n[Online]\nZone=movable\n");
	e = engine_on(root, &cfg, set, log, &ctx);
	CHECK(mp_engine_reconcile(e) == 0);
	CHECK(!mp_engine_device_find(e, "dimm:slot1") && f.writes == 0);
	CHECK(mp_engine_fast_path(e, NULL, 0));
	snprintf(path, sizeof(path), "%s/sys/devices/system/memory/auto_online_blocks", root);
	CHECK(mp_read_attr(AT_FDCWD, path, auto_online, sizeof(auto_online)) > 0 &&
	      !strcmp(auto_online, "online_movable"));

	/* The kernel adds slot0 and onlines its blocks; the ACPI links come last. */
	fw_online_unlinked(root, 32, 35, "Movable", fw);
	CHECK(mp_engine_reconcile(e) == 0);
	CHECK(!mp_engine_device_find(e, "dimm:slot0"));
	/*
	 * Online, no link, new: watched on the settle timer (1 ms; the link
	 * comes without a uevent), not left to the every-PFN pass's 250 ms.
	 */
	CHECK(mp_engine_next_wake_us(e) != 0 && mp_engine_next_wake_us(e) < mp_now_us() + 20000);
	/* memory35 reads offline to a scan (and online again later): its sample is void. */
	fk_put(root, 35, "state", "offline");
	CHECK(mp_engine_reconcile(e) == 0);
	fk_put(root, 35, "state", "online");
	CHECK(mp_engine_reconcile(e) == 0);
	CHECK(mp_engine_next_wake_us(e) != 0 && mp_engine_next_wake_us(e) < mp_now_us() + 20000);
	/* memory34: an offline uevent since its sample (offlined and onlined between scans). */
	mp_engine_block_uevent(e, "offline", 34);
	fk_kpf_fill(root, 33 * FK_BLOCK_PAGES, FK_BLOCK_PAGES, 1ULL << MP_KPF_NOPAGE);
	fk_kpf_fill(root, 34 * FK_BLOCK_PAGES, FK_BLOCK_PAGES, 1ULL << MP_KPF_NOPAGE);
	fw_relink(root, 32, 35, fw);
	/* No uevent: the settle timer finds the links and reconciles. */
	{
		uint64_t at = mp_engine_next_wake_us(e), now = mp_now_us();

		CHECK(at != 0);
		if (at > now)
			usleep((useconds_t)(at - now));
		CHECK(mp_engine_settle(e) == 1);
	}
	d = must_find(e, "dimm:slot0");
	CHECK(d->by_kernel && d->state == MP_DEVICE_ONLINE && d->onlined == 4);
	/* 32 and 33 from their samples; 34 re-read (bad pages); 35 sampled again when it came back online */
	CHECK(d->sampled_early == 3);
	CHECK(d->verified == 3 && d->violations == 1);
	CHECK(strstr(log->text, "memory34 (dimm:slot0)") && strstr(log->text, "NOPAGE"));
	CHECK(!strstr(log->text, "memory33 (dimm:slot0)"));
	CHECK(f.writes == 0); /* the kernel onlined slot0, not the engine */
	/* The every-PFN pass after the report reads memory33's pages again. */
	while (mp_engine_next_wake_us(e) && !mp_engine_deferred_pending(e)) {
		uint64_t at = mp_engine_next_wake_us(e), now = mp_now_us();

		if (at > now)
			usleep((useconds_t)(at - now));
		CHECK(mp_engine_settle(e) == 0);
	}
	while (mp_engine_deferred_pending(e))
		mp_engine_run_deferred(e);
	CHECK(strstr(log->text, "memory33 (dimm:slot0)"));
	CHECK(must_find(e, "dimm:slot0")->violations == 2);
	/* Bad pages are a violation, not the kernel deciding against the policy: still on. */
	CHECK(mp_engine_fast_path(e, NULL, 0));

	/*
	 * slot1: the kernel puts it in Normal under the engine's
	 * online_movable.  That is the kernel deciding otherwise than the
	 * policy: a violation, and the fast path is off for the rest of the
	 * run, the knobs put back (a plain file here, not truncated by the
	 * write as sysfs would be: "offline" over "online_movable").
	 */
	run_cmd("cd '%s/hidden' && mv memory3[6-9] '%s/sys/devices/system/memory/'", root);
	for (unsigned int id = 36; id <= 39; id++)
		fk_online(root, id, "Normal", 1ULL << MP_KPF_BUDDY);
	CHECK(mp_engine_reconcile(e) == 0);
	d = must_find(e, "dimm:slot1");
	CHECK(d->by_kernel && d->onlined == 4 && d->verified == 0 && d->violations == 4);
	CHECK(strstr(log->text, "not Movable") &&
	      strstr(log->text, "the kernel's auto-online did not do what the policy says"));
	CHECK(!mp_engine_fast_path(e, NULL, 0) && f.writes == 0);
	snprintf(path, sizeof(path), "%s/sys/devices/system/memory/auto_online_blocks", root);
	CHECK(mp_read_attr(AT_FDCWD, path, auto_online, sizeof(auto_online)) > 0 &&
	      !strncmp(auto_online, "offline", 7));
	mp_engine_free(e);
	mp_policyset_unref(set);
	mp_ctx_free(ctx);
	fk_fixture_remove(root);
	printf("ok   fast path: blocks sampled while the kernel adds them; a block offline since is read again; a zone against the policy turns it off\n");
}

/* kmem/bind as a guest answers it sometimes: -EAGAIN @eagain times, then bound. */
struct fake_bind {
	const char *root;
	int eagain, calls;
};

/*
 * The link of auto-onlined memory can come later than the settle time: a
 * 32 GiB DIMM's first blocks are online ~2 s before
 * acpi_bind_memory_blocks() links them all.  The rescan must still read
 * those blocks' links at a later reconcile, woken by some other block's
 * uevent, and not take them over as boot memory: the DIMM whole, with its
 * 4 blocks.
 */
static void late_link(const char *fixture, const char *memplugctl, struct logbuf *log)
{
	char fw[4][256];
	struct fake f = { 0 };
	struct mp_engine_ops ops = { .write_state = fake_write, .priv = &f };
	struct mp_engine_config cfg = { .ops = &ops, .nodes = mp_node_provider_scan() };
	struct mp_policyset *set;
	const struct mp_device *d;
	struct mp_engine *e;
	struct mp_ctx *ctx;
	char *root;

	root = fixture_unplugged(fixture, memplugctl);
	f.root = root;
	set = policies(root, "50-late.conf", "[Match]\nKind=dimm\n\n[Online]\nZone=movable\n");
	e = engine_on(root, &cfg, set, log, &ctx);
	CHECK(mp_engine_reconcile(e) == 0);
	/* Another onliner's kernel onlines slot0 at add time; no links yet. */
	fw_online_unlinked(root, 32, 35, "Movable", fw);
	for (unsigned int id = 32; id <= 35; id++) {
		mp_engine_block_uevent(e, "add", id);
		mp_engine_block_uevent(e, "online", id);
	}
	CHECK(mp_engine_reconcile(e) == 0);
	CHECK(!mp_engine_device_find(e, "dimm:slot0"));
	/* The settle time passes with no link: the timer stops. */
	while (mp_engine_next_wake_us(e)) {
		uint64_t at = mp_engine_next_wake_us(e), now = mp_now_us();

		if (at > now)
			usleep((useconds_t)(at - now));
		CHECK(mp_engine_settle(e) >= 0);
		while (mp_engine_deferred_pending(e))
			mp_engine_run_deferred(e);
	}
	CHECK(!mp_engine_device_find(e, "dimm:slot0"));
	/* The links come; the next reconcile is another block's uevent. */
	fw_relink(root, 32, 35, fw);
	run_cmd("cd '%s/hidden' && mv memory36 '%s/sys/devices/system/memory/'", root);
	mp_engine_block_uevent(e, "add", 36);
	CHECK(mp_engine_reconcile(e) == 0);
	d = must_find(e, "dimm:slot0");
	CHECK(d->state == MP_DEVICE_OTHER && !strcmp(d->blocks, "memory32-35"));
	CHECK(f.writes == 0);
	printf("ok   auto-onlined memory linked after the settle time is read again and found whole\n");
	mp_engine_free(e);
	mp_policyset_unref(set);
	mp_ctx_free(ctx);
	fk_fixture_remove(root);
}

static void dax_link(const char *root, const char *drv)
{
	char link[4300], target[4300];

	snprintf(link, sizeof(link), "%s/sys/bus/dax/devices/dax0.0/driver", root);
	snprintf(target, sizeof(target), "%s/sys/bus/dax/drivers/%s", root, drv);
	unlink(link);
	REQUIRE(symlink(target, link) == 0);
}

static int fake_bind(void *priv, const struct mp_ctx *ctx, const char *name)
{
	struct fake_bind *b = priv;

	(void)ctx;
	CHECK(!strcmp(name, "dax0.0"));
	b->calls++;
	if (b->eagain < 0 || b->eagain-- > 0)
		return -EAGAIN;
	dax_link(b->root, "kmem");
	return 0;
}

static void read_text(const char *root, const char *rel, char *buf, size_t len)
{
	char path[4300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f && !fgets(buf, (int)len, f))
		buf[0] = '\0';
	if (f)
		fclose(f);
}

/* Settle on the engine's own timer until @d leaves "settling" or @calls binds were tried. */
static void settle_until(struct mp_engine *e, const struct mp_device *d, const struct fake_bind *b,
			 int calls)
{
	uint64_t at;

	while (d->state == MP_DEVICE_SETTLING && b->calls < calls &&
	       (at = mp_engine_next_wake_us(e))) {
		uint64_t now = mp_now_us();

		if (at > now)
			usleep((useconds_t)(at - now));
		mp_engine_settle(e);
	}
}

/*
 * kmem/bind answering -EAGAIN (the device not ready to probe yet, as
 * the guests did about once in three CI runs): the dax device stays
 * settling and is tried again on the engine's timer (100 ms, doubling),
 * not at once and not on a scan before its time; a later bind ends in
 * kmem.  kmem bound by someone else meanwhile is taken as kmem's.
 * Deferred every time, the engine gives up after 8 tries (~13 s) and
 * takes its id back from kmem: the device is left as it was, devdax; so
 * does a reload that makes the policy devdax before the next try.
 */
static void bind_deferred(const char *numa_fixture, const char *memplugctl, struct logbuf *log)
{
	char fixture[4200], buf[64];
	struct fake_bind b = { 0 };
	struct mp_engine_ops ops = { .bind_kmem = fake_bind, .priv = &b };
	struct mp_engine_config cfg = { .ops = &ops, .nodes = mp_node_provider_scan() };
	struct mp_policyset *set;
	const struct mp_device *d;
	struct mp_engine *e;
	struct mp_ctx *ctx;
	uint64_t t0, wake;
	char *root;

	snprintf(fixture, sizeof(fixture), "%s/../nvdimm-devdax", numa_fixture);
	for (int round = 0; round < 4; round++) {
		root = fk_fixture_copy(fixture, memplugctl);
		b = (struct fake_bind){ .root = root, .eagain = round == 2 ? -1 : 2 };
		run_cmd("touch '%s/sys/bus/dax/drivers/kmem/remove_id' "
			"'%s/sys/bus/dax/drivers/kmem/new_id' '%s/sys/bus/dax/drivers/device_dax/bind'",
			root);
		REQUIRE(!mp_ctx_new(root, &ctx));
		log->len = 0;
		log->text[0] = '\0';
		mp_ctx_set_log_fn(ctx, capture, log);
		set = policies(root, "20-nv.conf",
			       "[Match]\nKind=nvdimm\n\n[Dax]\nMode=system-ram\n");
		REQUIRE(!mp_engine_new(ctx, &cfg, &e));
		mp_engine_set_policies(e, set);
		t0 = mp_now_us();
		CHECK(mp_engine_reconcile(e) == 0);
		d = must_find(e, "dax:dax0.0");
		CHECK(d->state == MP_DEVICE_SETTLING && b.calls == 1);
		CHECK(strstr(d->message, "deferred kmem's probe (EAGAIN, 1 of 8)"));
		CHECK(strstr(log->text, "trying again in 100 ms"));
		wake = mp_engine_next_wake_us(e);
		CHECK(wake >= t0 + 100000 && wake <= mp_now_us() + 100000);
		/* A scan before its time (a uevent) does not try again. */
		CHECK(mp_engine_reconcile(e) == 0);
		d = must_find(e, "dax:dax0.0");
		CHECK(b.calls == 1 && d->state == MP_DEVICE_SETTLING);
		if (round == 1)
			dax_link(root, "kmem"); /* an operator's daxctl got there first */
		if (round == 3) {
			/* A reload before the retry: the policy now keeps it devdax. */
			mp_policyset_unref(set);
			set = policies(root, "20-nv.conf",
				       "[Match]\nKind=nvdimm\n\n[Dax]\nMode=devdax\n");
			mp_engine_set_policies(e, set);
		}
		settle_until(e, d, &b, 20);
		d = must_find(e, "dax:dax0.0");
		if (round == 0) {
			CHECK(b.calls == 3 && d->state == MP_DEVICE_KMEM);
			CHECK(strstr(log->text, "kmem/bind took 2 deferral(s)"));
			/* 100 + 200 ms of waiting at least, on the timer. */
			CHECK(mp_now_us() - t0 >= 300000);
		} else if (round == 1) {
			CHECK(b.calls == 1 && d->state == MP_DEVICE_KMEM);
			CHECK(strstr(d->message, "bound to kmem meanwhile (not by memplugd)"));
		} else if (round == 3) {
			CHECK(b.calls == 1 && d->state == MP_DEVICE_DEVDAX);
			CHECK(strstr(log->text, "deferred kmem bind dropped, bound to device_dax"));
			read_text(root, "sys/bus/dax/drivers/kmem/remove_id", buf, sizeof(buf));
			CHECK(!strcmp(buf, "dax0.0"));
		} else {
			CHECK(b.calls == 8 && d->state == MP_DEVICE_FAILED);
			CHECK(strstr(
				d->message,
				"binding kmem failed: Resource temporarily unavailable "
				"(after 7 deferral(s) over 12.7 s); left as devdax, bound to device_dax"));
			read_text(root, "sys/bus/dax/drivers/kmem/remove_id", buf, sizeof(buf));
			CHECK(!strcmp(buf, "dax0.0"));
			CHECK(mp_engine_next_wake_us(e) == 0);
		}
		if (!d || d->state == MP_DEVICE_SETTLING)
			fprintf(stderr, "log:\n%s", log->text);
		mp_engine_free(e);
		mp_policyset_unref(set);
		mp_ctx_free(ctx);
		fk_fixture_remove(root);
	}
	printf("ok   kmem/bind's EAGAIN: tried again on the timer, bound on the third try; "
	       "bound by someone else meanwhile; given up after 8 and left devdax; "
	       "a reload to devdax meanwhile undoes the tries\n");
}

int main(int argc, char **argv)
{
	struct logbuf log = { 0 };
	struct fake f = { 0 };
	struct mp_engine_ops ops = { .write_state = fake_write, .priv = &f };
	struct mp_engine_config cfg = { .ops = &ops, .nodes = mp_node_provider_scan() };
	struct mp_engine *e, *e2;
	struct mp_policyset *set;
	struct json_object *st, *back;
	const struct mp_device *d;
	char state[4300], *root, *text = NULL, summary[256];
	size_t tlen = 0;
	FILE *mf;
	struct mp_ctx *ctx;

	if (argc != 3) {
		fprintf(stderr, "usage: test-engine FIXTURE MEMPLUGCTL\n");
		return 2;
	}

	/* ---- explain first: it must not write anything ---- */
	root = fk_fixture_copy(argv[1], argv[2]);
	f.root = root;
	snprintf(state, sizeof(state), "%s/state.json", root);
	cfg.state_path = state;
	REQUIRE(!mp_ctx_new(root, &ctx));
	mp_ctx_set_log_fn(ctx, capture, &log);
	set = policies(root, "50-movable.conf", "[Match]\nKind=dimm\n\n[Online]\nZone=movable\n");
	REQUIRE(!mp_engine_new(ctx, &cfg, &e));
	mp_engine_set_policies(e, set);
	mf = open_memstream(&text, &tlen);
	REQUIRE(mf);
	CHECK(mp_engine_explain(e, "memory32", mf) == 0);
	CHECK(mp_engine_explain(e, "slot9", mf) == -ENOENT);
	fclose(mf);
	CHECK(strstr(text, "dimm:slot0: memory32-35, 4 of 4 offline"));
	CHECK(strstr(text, "memplugd would online 4 offline block(s) into movable"));
	CHECK(strstr(log.text, "explain: no block or device 'slot9'"));
	CHECK(f.writes == 0);
	free(text);
	printf("ok   explain says what reconcile would do, writes nothing\n");

	/* ---- reconcile onlines both DIMMs by policy ---- */
	CHECK(mp_engine_reconcile(e) == 0);
	d = must_find(e, "dimm:slot0");
	CHECK(d->state == MP_DEVICE_ONLINE && d->onlined == 4 && d->verified == 4);
	CHECK(!strcmp(d->zone, "movable") && strstr(d->policy, "50-movable.conf:1"));
	d = must_find(e, "dimm:slot1");
	CHECK(d->state == MP_DEVICE_ONLINE && d->node == 1);
	CHECK(f.writes == 8);
	{
		size_t dimms = 0;

		for (size_t i = 0; i < mp_engine_device_count(e); i++)
			dimms += mp_engine_device(e, i)->kind == MP_POLICY_KIND_DIMM;
		CHECK(dimms == 2 && !mp_engine_device(e, mp_engine_device_count(e)));
	}
	CHECK(mp_engine_memory(e) &&
	      mp_memory_find(mp_engine_memory(e), 32)->state == MP_BLOCK_ONLINE);
	CHECK(!strcmp(mp_memory_find(mp_engine_memory(e), 39)->zones, "Movable"));
	CHECK(strstr(log.text, "dimm:slot0: memory32-35: 4/4 blocks online in movable"));
	/* The engine's own writes come back as "online" uevents: expected once each. */
	CHECK(mp_engine_uevent_expected(e, 33) && !mp_engine_uevent_expected(e, 33));
	/* The every-PFN pass waits for a quiet moment, and the engine says when that is;
	 * requests hold it back, boundedly. */
	CHECK(!mp_engine_deferred_pending(e) && mp_engine_next_wake_us(e) > mp_now_us());
	{
		uint64_t reported = mp_now_us(), held = 0;

		usleep((useconds_t)(mp_engine_next_wake_us(e) - mp_now_us()) + 1000);
		CHECK(mp_engine_deferred_pending(e));
		/* a request holds it back for another quiet moment... */
		mp_engine_hold_deferred(e);
		CHECK(!mp_engine_deferred_pending(e) && mp_engine_next_wake_us(e) > mp_now_us());
		/* ...but requests every 100 ms do not hold it for good (5 s bound) */
		while (!mp_engine_deferred_pending(e) && mp_now_us() - reported < 8000000) {
			usleep(100000);
			if (!mp_engine_deferred_pending(e))
				mp_engine_hold_deferred(e);
			held++;
		}
		CHECK(mp_engine_deferred_pending(e) && held > 10 &&
		      mp_now_us() - reported < 5500000);
	}
	while (mp_engine_deferred_pending(e))
		mp_engine_run_deferred(e);
	CHECK(must_find(e, "dimm:slot0")->pages_verified == 4);
	mp_engine_summary(e, summary, sizeof(summary));
	CHECK(strstr(summary,
		     "2 device(s) onlined, 0 by another onliner, 0 violation(s), 1 policies"));
	/* A second reconcile changes nothing: nothing is written twice. */
	CHECK(mp_engine_reconcile(e) == 0 && f.writes == 8);
	printf("ok   reconcile onlines by policy, verifies, keeps the model current\n");

	/* ---- the status document, through text and back ---- */
	st = mp_engine_status_json(e);
	REQUIRE(st);
	back = json_tokener_parse(json_object_to_json_string(st));
	REQUIRE(back);
	text = NULL;
	mf = open_memstream(&text, &tlen);
	REQUIRE(mf);
	mp_status_print(back, mf);
	fclose(mf);
	CHECK(strstr(text, "dimm:slot1"));
	CHECK(strstr(text, "policy ") && strstr(text, "50-movable.conf:1"));
	CHECK(strstr(text, "4 of 4 offline blocks onlined into movable"));
	free(text);
	json_object_put(st);
	json_object_put(back);
	printf("ok   status: one definition, written and read back\n");

	/* ---- a restarted engine knows its predecessor's work ---- */
	REQUIRE(!mp_engine_new(ctx, &cfg, &e2));
	mp_engine_set_policies(e2, set);
	CHECK(mp_engine_reconcile(e2) == 0);
	d = must_find(e2, "dimm:slot0");
	CHECK(d->state == MP_DEVICE_ONLINE && d->persisted_ours && f.writes == 8);
	CHECK(strstr(d->message, "onlined by an earlier memplugd run"));
	mp_engine_free(e2);
	printf("ok   the persisted state: a restart recognises its own work\n");

	/* ---- drain for an unplug, survive a restart, undrain ---- */
	{
		struct mp_offline_result *res = NULL;
		const struct mp_device *dd;

		CHECK(mp_engine_drain(e, "memory33", 10000, &res) == 0);
		REQUIRE(res);
		CHECK(res->nr == 4 && res->failed < 0);
		for (size_t i = 0; i < res->nr; i++)
			CHECK(res->blocks[i].outcome == MP_OFFLINE_OFFLINED);
		free(res);
		d = must_find(e, "dimm:slot0");
		CHECK(d->state == MP_DEVICE_DRAINED && !strcmp(d->zone, "movable"));
		CHECK(mp_memory_find(mp_engine_memory(e), 34)->state == MP_BLOCK_OFFLINE);
		/* Not "offlined by someone else", and never onlined again by reconcile. */
		CHECK(mp_engine_reconcile(e) == 0 && f.writes == 8);
		CHECK(must_find(e, "dimm:slot0")->state == MP_DEVICE_DRAINED);
		CHECK(mp_engine_drain(e, "boot", 1000, &res) == -EPERM && !res);
		CHECK(mp_engine_drain(e, "slot7", 1000, &res) == -ENOENT && !res);
		CHECK(mp_engine_undrain(e, "dimm:slot1", NULL) == -EINVAL);

		REQUIRE(!mp_engine_new(ctx, &cfg, &e2));
		mp_engine_set_policies(e2, set);
		CHECK(mp_engine_reconcile(e2) == 0 && f.writes == 8);
		CHECK(must_find(e2, "dimm:slot0")->state == MP_DEVICE_DRAINED);
		CHECK(mp_engine_undrain(e2, "slot0", &dd) == 0);
		CHECK(dd && dd->state == MP_DEVICE_ONLINE && f.writes == 12);
		CHECK(!strcmp(mp_memory_find(mp_engine_memory(e2), 35)->zones, "Movable"));
		mp_engine_free(e2);
	}
	printf("ok   drain: all blocks offline, kept offline across a restart, undrain onlines again\n");
	mp_engine_free(e);
	fk_fixture_remove(root);

	/* ---- settling: a block without its node link waits on the timer ---- */
	root = fk_fixture_copy(argv[1], argv[2]);
	f.root = root;
	f.writes = 0;
	cfg.state_path = NULL;
	{
		char link[4300], target[64];
		struct mp_ctx *c2;

		snprintf(link, sizeof(link), "%s/sys/devices/system/memory/memory34/node0", root);
		REQUIRE(unlink(link) == 0);
		snprintf(target, sizeof(target), "%s", "../../node/node0");
		snprintf(state, sizeof(state), "%s/sys/devices/system/node/node0/memory34", root);
		REQUIRE(unlink(state) == 0);
		REQUIRE(!mp_ctx_new(root, &c2));
		mp_ctx_set_log_fn(c2, capture, &log);
		REQUIRE(!mp_engine_new(c2, &cfg, &e));
		mp_engine_set_policies(e, set);
		CHECK(mp_engine_reconcile(e) == 0);
		CHECK(must_find(e, "dimm:slot0")->state == MP_DEVICE_SETTLING);
		CHECK(must_find(e, "dimm:slot1")->state == MP_DEVICE_ONLINE);
		CHECK(mp_engine_next_wake_us(e) != 0);
		/* Nothing changed: the check reads the links only, and backs off. */
		{
			uint64_t w1 = mp_engine_next_wake_us(e), w2;

			CHECK(mp_engine_settle(e) == 0);
			w2 = mp_engine_next_wake_us(e);
			CHECK(w2 > w1);
		}
		CHECK(f.writes == 4);
		/* The kernel makes both directions in one step (do_register_memory_block_under_node()). */
		REQUIRE(symlink(target, link) == 0);
		REQUIRE(symlink("../../memory/memory34", state) == 0);
		CHECK(mp_engine_settle(e) == 1);
		CHECK(must_find(e, "dimm:slot0")->state == MP_DEVICE_ONLINE);
		/* Nothing settles: the one wake left is the every-PFN pass's quiet time. */
		while (mp_engine_next_wake_us(e)) {
			uint64_t at = mp_engine_next_wake_us(e), now = mp_now_us();

			if (at > now)
				usleep((useconds_t)(at - now));
			CHECK(mp_engine_settle(e) == 0);
		}
		CHECK(mp_engine_deferred_pending(e));
		CHECK(f.writes == 8);
		while (mp_engine_deferred_pending(e))
			mp_engine_run_deferred(e);
		printf("ok   settling waits on the timer until the node link appears\n");

		/*
		 * An eject as device_del() does it: the attributes go and the
		 * remove uevent is sent before the directory goes.  A scan in
		 * between fails; the engine tries again on its timer, without
		 * another uevent, and then forgets the DIMM.
		 */
		char cmd[4400];
		uint64_t w1, w2;
		int n = 0;

		for (unsigned int id = 36; id <= 39; id++) {
			snprintf(cmd, sizeof(cmd), "%s/sys/devices/system/memory/memory%u/state",
				 root, id);
			REQUIRE(unlink(cmd) == 0);
			/* The remove uevent names the block (the daemon passes it on). */
			mp_engine_block_uevent(e, "remove", id);
		}
		CHECK(mp_engine_reconcile(e) == -ENOENT);
		CHECK(must_find(e, "dimm:slot1")->state == MP_DEVICE_ONLINE);
		CHECK(strstr(log.text, "scan failed") && strstr(log.text, "trying again in 50 ms"));
		w1 = mp_engine_next_wake_us(e);
		CHECK(w1 > mp_now_us() + 30000 && w1 <= mp_now_us() + 50000);
		usleep((useconds_t)(w1 - mp_now_us()) + 1000);
		/* Still failing: no error yet, the next try twice as late. */
		CHECK(mp_engine_settle(e) == 0);
		w2 = mp_engine_next_wake_us(e);
		CHECK(w2 > mp_now_us() + 60000 && w2 <= mp_now_us() + 100000);
		snprintf(
			cmd, sizeof(cmd),
			"cd '%s/sys/devices/system' && rm -rf memory/memory3[6-9] node/node1/memory3[6-9]",
			root);
		REQUIRE(system(cmd) == 0);
		while (mp_engine_device_find(e, "dimm:slot1") && n++ < 10) {
			uint64_t at = mp_engine_next_wake_us(e), now = mp_now_us();

			CHECK(at != 0);
			if (at > now)
				usleep((useconds_t)(at - now));
			CHECK(mp_engine_settle(e) >= 0);
		}
		CHECK(!mp_engine_device_find(e, "dimm:slot1"));
		CHECK(must_find(e, "dimm:slot0")->state == MP_DEVICE_ONLINE);
		CHECK(strstr(log.text, "dimm:slot1: gone") &&
		      strstr(log.text, "scan: succeeded again after 2 retries"));
		CHECK(mp_engine_next_wake_us(e) == 0);
		mp_engine_free(e);
		mp_ctx_free(c2);
	}
	printf("ok   a scan that fails mid-eject is tried again on the timer, the DIMM then forgotten\n");
	fk_fixture_remove(root);

	fast_path_samples(argv[1], argv[2], &log);
	late_link(argv[1], argv[2], &log);
	bind_deferred(argv[1], argv[2], &log);

	mp_policyset_unref(set);
	mp_ctx_free(ctx);
	CHECK_DONE();
}
