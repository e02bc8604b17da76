// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The guest engine: after every burst of uevents (or at start-up, or on
 * ENOBUFS), scan, group blocks by device, and take each device not decided
 * yet through policy -> online -> verify, keeping a record of each device
 * (the model `status` and `list` answer from).
 *
 * Reconciling from a fresh scan rather than from the uevents themselves
 * makes a lost event, a restart, or a device that arrived before the daemon
 * all the same case.  The uevents only say *when* to look.
 * § numbers refer to ../shared/KERNEL-RULES.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine-private.h"
#include "util.h"

/*
 * How long a device may stay incomplete (blocks missing, node or
 * firmware_node links not there yet) before the engine decides on what it
 * has or, for memory with no device at all, reports it and leaves it
 * alone.  The links follow the add uevents within milliseconds (§10).
 */
#define SETTLE_MAX_US (2u * 1000 * 1000)
/*
 * Settle checks: after 1 ms, then every 2 ms (the old full-rescan cadence, now
 * reading a few link directories only): links usually come within a few ms
 * and a longer wait showed in device_add -> online latency (bench/online-latency.py).
 */
#define SETTLE_FIRST_US 1000u
/*
 * The every-PFN kpageflags pass starts this long after the last device was
 * reported: the host's waiter (status --wait, plug --wait-online) and its
 * answer's trip out of the guest run first, not beside ~16 ms of page-flag
 * reading per block under TCG.
 */
#define DEFERRED_QUIET_US (250u * 1000)
/*
 * A request from the operator or the host (control socket, channel) holds
 * the pass back for another DEFERRED_QUIET_US (mp_engine_hold_deferred()),
 * so that a burst's chain of waiters is not answered between 16 ms reads;
 * never past this long after the last report, or a guest polled every
 * 200 ms would never have its pages checked.
 */
#define DEFERRED_HOLD_MAX_US (5u * 1000 * 1000)
#define SETTLE_MAX_STEP 1
/*
 * A scan that fails is tried again after 50 ms, doubling, 8 times (~13 s in
 * all).  The common cause is a block being removed: device_del() removes a
 * memoryN's attributes and sends its remove uevent before the directory goes
 * (drivers/base/core.c device_del: device_remove_attrs, kobject_uevent(REMOVE),
 * kobject_del), so a scan woken by the last remove uevent can list a block
 * whose "state" is gone, and no uevent follows to look again: without the
 * retry an ejected DIMM stayed in the model.  Bounded, so a scan that keeps
 * failing (a broken sysfs) costs 8 wakeups, not a busy loop.
 */
#define RETRY_FIRST_US (50u * 1000)
#define RETRY_MAX 8
/*
 * kmem/bind answered -EAGAIN: the device was not ready to probe yet.
 * device_add() (drivers/base/core.c) sends KOBJ_ADD before it marks the
 * device ready, and __driver_probe_device() (drivers/base/dd.c) defers a
 * bind in between, -EAGAIN from device_driver_attach() (the stable
 * backport of a2225b6e834a, in Debian's 6.1 and 6.12).  The engine acts
 * on that uevent and hit the window in about one README demo in eight.
 * It means "not now": tried again after 100 ms, doubling, 7 times (~13 s
 * in all), the dax device "settling" meanwhile; by then device_dax has it
 * and the retry is the usual unbind and bind.  Given up, it is handed
 * back to device_dax (mp_dax_release_kmem()) and failed, with the count.
 * tests/daemon/test_dax_bind_race.py makes the window in a real guest.
 */
#define BIND_DEFER_FIRST_US (100u * 1000)
#define BIND_DEFER_MAX 7

const char *mp_device_state_name(enum mp_device_state s)
{
	static const char *const names[] = {
		[MP_DEVICE_SETTLING] = "settling",
		[MP_DEVICE_ONLINE] = "online",
		[MP_DEVICE_PARTIAL] = "partial",
		[MP_DEVICE_OTHER] = "other-onliner",
		[MP_DEVICE_NO_MATCH] = "no-policy",
		[MP_DEVICE_LEFT_OFFLINE] = "left-offline",
		[MP_DEVICE_DEVDAX] = "devdax",
		[MP_DEVICE_KMEM] = "kmem-bound",
		[MP_DEVICE_BOOT] = "boot",
		[MP_DEVICE_OFFLINED] = "offlined-by-other",
		[MP_DEVICE_UNIDENTIFIED] = "unidentified",
		[MP_DEVICE_FAILED] = "failed",
		[MP_DEVICE_DRAINED] = "drained",
		[MP_DEVICE_DRAINING] = "draining",
	};

	return s < MP_ARRAY_SIZE(names) && names[s] ? names[s] : "unknown";
}

bool mp_device_final(const struct mp_device *dev)
{
	return dev->state != MP_DEVICE_SETTLING && dev->state != MP_DEVICE_KMEM;
}

int mp_engine_new(struct mp_ctx *ctx, const struct mp_engine_config *cfg, struct mp_engine **out)
{
	struct mp_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->ctx = ctx;
	if (cfg && cfg->state_path && cfg->state_path[0]) {
		e->state_path = strdup(cfg->state_path);
		if (!e->state_path) {
			free(e);
			return -ENOMEM;
		}
	}
	e->nodes = cfg && cfg->nodes ? cfg->nodes : mp_node_provider_default(ctx);
	e->ops = cfg ? cfg->ops : NULL;
	e->knobs_enabled = cfg && cfg->kernel_knobs;
	snprintf(e->knobs_why, sizeof(e->knobs_why), "not decided yet");
	mp_engine_state_load(e);
	*out = e;
	return 0;
}

void mp_engine_set_violation_fn(struct mp_engine *e, mp_engine_violation_fn fn, void *priv)
{
	e->violation_fn = fn;
	e->violation_priv = priv;
}

void mp_engine_violation(struct mp_engine *e, const char *key, uint64_t block, const char *evidence)
{
	if (e->violation_fn)
		e->violation_fn(e->violation_priv, key, block, evidence);
}

void mp_engine_free(struct mp_engine *e)
{
	if (!e)
		return;
	mp_engine_knobs_stop(e);
	mp_policyset_unref(e->set);
	mp_memory_free(e->mem);
	mp_kpageflags_close(e->kpf);
	free(e->state_path);
	free(e->devs);
	free(e->persist);
	free(e->expect);
	free(e->changed);
	free(e->deep);
	free(e->watch);
	free(e->fresh);
	free(e->early);
	free(e);
}

void mp_engine_set_policies(struct mp_engine *e, struct mp_policyset *set)
{
	mp_policyset_ref(set);
	mp_policyset_unref(e->set);
	e->set = set;
	/*
	 * Before the first reconcile the engine does not know which devices
	 * were there before the knobs: that one sets them when it is done.
	 */
	if (e->mem)
		mp_engine_knobs_update(e, false);
}

const struct mp_policyset *mp_engine_policies(const struct mp_engine *e)
{
	return e->set;
}

const struct mp_memory *mp_engine_memory(const struct mp_engine *e)
{
	return e->mem;
}

size_t mp_engine_device_count(const struct mp_engine *e)
{
	return e->nr_devs;
}

const struct mp_device *mp_engine_device(const struct mp_engine *e, size_t i)
{
	return i < e->nr_devs ? &e->devs[i] : NULL;
}

struct mp_device *mp_engine_dev_find(const struct mp_engine *e, const char *key)
{
	for (size_t i = 0; i < e->nr_devs; i++)
		if (!strcmp(e->devs[i].key, key))
			return &e->devs[i];
	return NULL;
}

const struct mp_device *mp_engine_device_find(const struct mp_engine *e, const char *key)
{
	return mp_engine_dev_find(e, key);
}

void mp_engine_counters(const struct mp_engine *e, struct mp_engine_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->scans = e->scans;
	c->reconciles = e->reconciles;
	c->settles = e->settles;
	c->violations = e->violations;
	for (size_t i = 0; i < e->nr_devs; i++) {
		c->online += e->devs[i].state == MP_DEVICE_ONLINE;
		c->other += e->devs[i].state == MP_DEVICE_OTHER;
	}
	snprintf(c->last_error, sizeof(c->last_error), "%s", e->last_error);
	snprintf(c->auto_online, sizeof(c->auto_online), "%s", e->auto_online);
}

char *mp_engine_summary(const struct mp_engine *e, char *buf, size_t len)
{
	struct mp_engine_counters c;

	mp_engine_counters(e, &c);
	snprintf(buf, len,
		 "%zu device(s) onlined, %zu by another onliner, %llu violation(s), %zu policies",
		 c.online, c.other, (unsigned long long)c.violations,
		 e->set ? mp_policyset_count(e->set) : (size_t)0);
	return buf;
}

/* ---- model helpers ----------------------------------------------------------- */

struct mp_device *mp_engine_dev_add(struct mp_engine *e, const char *key)
{
	struct mp_device *nd = realloc(e->devs, (e->nr_devs + 1) * sizeof(*nd)), *r;

	if (!nd)
		return NULL;
	e->devs = nd;
	r = &e->devs[e->nr_devs++];
	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->node = -1;
	r->first_seen_us = mp_now_us();
	return r;
}

static void format_blocks(const struct mp_devgroup *g, char *buf, size_t len)
{
	if (!g->nr)
		snprintf(buf, len, "-");
	else if (g->nr == 1)
		snprintf(buf, len, "memory%llu", (unsigned long long)g->ids[0]);
	else if (g->ids[g->nr - 1] - g->ids[0] + 1 == g->nr)
		snprintf(buf, len, "memory%llu-%llu", (unsigned long long)g->ids[0],
			 (unsigned long long)g->ids[g->nr - 1]);
	else
		snprintf(buf, len, "memory%llu-%llu (%zu blocks)", (unsigned long long)g->ids[0],
			 (unsigned long long)g->ids[g->nr - 1], g->nr);
}

static void expect_add(struct mp_engine *e, uint64_t id)
{
	/* no room: the uevent reads as unexpected, which costs a rescan, nothing more */
	MP_ARRAY_PUSH(e->expect, e->nr_expect, id);
}

bool mp_engine_uevent_expected(struct mp_engine *e, uint64_t id)
{
	for (size_t i = 0; i < e->nr_expect; i++)
		if (e->expect[i] == id) {
			e->expect[i] = e->expect[--e->nr_expect];
			return true;
		}
	return false;
}

static const char *first_zone(const struct mp_memory *mem, const struct mp_devgroup *g)
{
	for (size_t i = 0; i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(mem, g->ids[i]);

		if (b && b->state == MP_BLOCK_ONLINE)
			return b->zones;
	}
	return "";
}

static void report_once(struct mp_engine *e, struct mp_device *r, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report_once(struct mp_engine *e, struct mp_device *r, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	if (r->reported)
		return;
	r->reported = true;
	mp_ctx_log(e->ctx, level, "%s: %s", r->key, r->message);
}

static void record_policy(struct mp_device *r, const struct mp_policy_decision *dec)
{
	if (dec->policy)
		snprintf(r->policy, sizeof(r->policy), "%s:%u", mp_policy_path(dec->policy),
			 mp_policy_match_line(dec->policy));
}

/* ---- the scan: one place for every reader of the kernel's state ---------------- */

void mp_engine_scan_free(struct mp_engine_scan *s)
{
	mp_devgroups_free(s->groups, s->ng);
	free(s->dax);
	mp_memory_free(s->mem);
	memset(s, 0, sizeof(*s));
}

/*
 * More named blocks than this between two reconciles (a burst of DIMMs
 * bigger than 512 GiB of 128 MiB blocks) and the next reconcile reads
 * everything: the list would cost more than it saves.
 */
#define CHANGED_MAX 8192

void mp_engine_changed(struct mp_engine *e, uint64_t id)
{
	uint64_t *n;
	size_t cap;

	if (e->changed_all)
		return;
	/* add and online of one block come back to back: one entry */
	if (e->nr_changed && e->changed[e->nr_changed - 1] == id)
		return;
	if (e->nr_changed == e->cap_changed) {
		cap = e->cap_changed ? 2 * e->cap_changed : 64;
		n = cap <= CHANGED_MAX ? realloc(e->changed, cap * sizeof(*n)) : NULL;
		if (!n) {
			mp_engine_rescan_all(e);
			return;
		}
		e->changed = n;
		e->cap_changed = cap;
	}
	e->changed[e->nr_changed++] = id;
}

void mp_engine_rescan_all(struct mp_engine *e)
{
	e->changed_all = true;
	e->nr_changed = 0;
}

/*
 * The reconcile's scan reads again only the blocks that can have changed
 * since the model (mp_memory_rescan()): the ones named since, and the
 * ones whose links the engine waits for (e->watch, e->fresh: those links
 * come without a uevent).  Everything else in a reconcile is as before.
 */
static int rescan(struct mp_engine *e, struct mp_memory **out)
{
	for (size_t i = 0; e->mem && i < e->nr_watch; i++)
		mp_engine_changed(e, e->watch[i].id);
	for (size_t i = 0; e->mem && i < e->nr_fresh; i++)
		mp_engine_changed(e, e->fresh[i].id);
	if (e->mem && !e->changed_all)
		return mp_memory_rescan(e->ctx, MP_ENGINE_SCAN, e->mem, e->changed, e->nr_changed,
					out);
	e->full_scans++;
	return mp_memory_scan(e->ctx, MP_ENGINE_SCAN, out);
}

static int engine_scan(struct mp_engine *e, struct mp_engine_scan *s, bool incremental)
{
	int err;

	memset(s, 0, sizeof(*s));
	/* Never MP_SCAN_ZONES: mp_memory_read_zones() reads them where it is safe. */
	if (incremental)
		err = rescan(e, &s->mem);
	else
		err = mp_memory_scan(e->ctx, MP_ENGINE_SCAN, &s->mem);
	if (err) {
		snprintf(e->last_error, sizeof(e->last_error), "scan failed: %s", strerror(-err));
		return err;
	}
	e->scans++;
	mp_memory_read_zones(e->ctx, s->mem, NULL, 0);
	if (mp_dax_scan(e->ctx, &s->dax, &s->nr_dax)) {
		s->dax = NULL;
		s->nr_dax = 0;
	}
	err = mp_devgroups_build(s->mem, s->dax, s->nr_dax, &s->groups, &s->ng);
	if (err)
		mp_engine_scan_free(s);
	return err;
}

int mp_engine_scan(struct mp_engine *e, struct mp_engine_scan *s)
{
	return engine_scan(e, s, false);
}

static bool names_group(const struct mp_devgroup *g, const char *name)
{
	return !strcmp(g->key, name) || (g->dev.name[0] && !strcmp(g->dev.name, name)) ||
	       (g->dev.acpi[0] && !strcmp(g->dev.acpi, name));
}

struct mp_devgroup *mp_engine_scan_find(struct mp_engine_scan *s, const char *name)
{
	uint64_t id;

	if (!strncmp(name, "memory", 6) && !mp_block_parse_name(name, &id))
		return mp_devgroup_find_block(s->groups, s->ng, id);
	for (size_t i = 0; i < s->ng; i++)
		if (names_group(&s->groups[i], name))
			return &s->groups[i];
	return NULL;
}

/* ---- dax devices ---------------------------------------------------------- */

/* The earlier of two wake times, 0 meaning none. */
static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : MP_MIN(a, b);
}

/* The engine looks again at @at at the latest (a deferred kmem bind). */
static void dax_retry_at(struct mp_engine *e, uint64_t at)
{
	e->dax_retry_at_us = earliest(e->dax_retry_at_us, at);
}

/*
 * The bind is given up: the device goes back to the driver it had
 * (mp_dax_release_kmem()), so nothing is left half-done, unless kmem
 * has it after all (a bind that went through late, or someone else's).
 */
static void bind_failed(struct mp_engine *e, struct mp_device *r, const char *name, int err)
{
	char back[64], deferred[64] = "";
	int rerr = mp_dax_release_kmem(e->ctx, name, back, sizeof(back));

	if (!rerr && !strcmp(back, "kmem")) {
		r->state = MP_DEVICE_KMEM;
		snprintf(r->message, sizeof(r->message),
			 "bound to kmem after all (%u deferral(s)), waiting for its blocks",
			 r->bind_deferred);
		mp_ctx_notice(e->ctx, "%s: %s", r->key, r->message);
		e->rescan = true;
		return;
	}
	r->state = MP_DEVICE_FAILED;
	if (r->bind_deferred)
		snprintf(deferred, sizeof(deferred), " (after %u deferral(s) over %.1f s)",
			 r->bind_deferred,
			 (double)(BIND_DEFER_FIRST_US * ((1u << r->bind_deferred) - 1)) / 1e6);
	if (rerr)
		snprintf(r->message, sizeof(r->message),
			 "binding kmem failed: %s%s; handing it back to device_dax failed too: %s",
			 strerror(-err), deferred, strerror(-rerr));
	else if (back[0])
		snprintf(r->message, sizeof(r->message),
			 "binding kmem failed: %s%s; left as devdax, bound to %s", strerror(-err),
			 deferred, back);
	else
		snprintf(r->message, sizeof(r->message),
			 "binding kmem failed: %s%s; left unbound (no device_dax driver)",
			 strerror(-err), deferred);
	mp_ctx_err(e->ctx, "%s: %s", r->key, r->message);
}

/*
 * A reload between deferred binds made the policy devdax (or none): what
 * the earlier tries did (kmem's new_id, maybe an unbind) is undone too.
 */
static void bind_dropped(struct mp_engine *e, struct mp_device *r, const char *name)
{
	char back[64];
	int err;

	if (!r->bind_deferred)
		return;
	err = mp_dax_release_kmem(e->ctx, name, back, sizeof(back));
	if (err)
		mp_ctx_err(e->ctx, "%s: undoing the deferred kmem bind: %s", r->key,
			   strerror(-err));
	else
		mp_ctx_info(e->ctx, "%s: deferred kmem bind dropped, bound to %s", r->key,
			    back[0] ? back : "nothing");
}

static void handle_dax(struct mp_engine *e, const struct mp_memory *mem, const struct mp_dax_dev *x)
{
	enum mp_policy_kind kind = x->from_nvdimm ? MP_POLICY_KIND_NVDIMM : MP_POLICY_KIND_DAX;
	struct mp_policy_subject s = { 0 };
	struct mp_device *r;
	char key[48], sz[16];
	int err;

	snprintf(key, sizeof(key), "dax:%s", x->name);
	r = mp_engine_dev_find(e, key);
	if (!r) {
		r = mp_engine_dev_add(e, key);
		if (!r)
			return;
		r->kind = kind;
		r->start = x->start;
		r->size = x->size;
		r->node = x->target_node;
		snprintf(r->blocks, sizeof(r->blocks), "-");
	}
	r->seen = true;
	if (!strcmp(x->driver, "kmem")) {
		if (r->state == MP_DEVICE_SETTLING && !r->trim_known)
			/* Bound before the engine looked (daxctl, an earlier run): the blocks decide. */
			snprintf(r->message, sizeof(r->message), "already bound to kmem");
		else if (r->state == MP_DEVICE_SETTLING && r->bind_deferred)
			/* Between our deferred binds someone else (an operator, daxctl) bound kmem. */
			snprintf(
				r->message, sizeof(r->message),
				"bound to kmem meanwhile (not by memplugd), waiting for its blocks");
		if (r->state == MP_DEVICE_SETTLING)
			r->state = MP_DEVICE_KMEM;
		return;
	}
	if (r->state != MP_DEVICE_SETTLING)
		return;
	if (r->bind_retry_at_us && mp_now_us() < r->bind_retry_at_us) {
		dax_retry_at(e, r->bind_retry_at_us);
		return;
	}
	mp_dax_subject(x, &s);
	/*
	 * The one policy match for a dax device: its Mode= and, once kmem has
	 * added the blocks, its zone come from this decision (mp_engine_online_group()).
	 */
	err = e->set ? mp_policyset_match(e->set, &s, &r->decision) : -ENOENT;
	if (err) {
		r->state = MP_DEVICE_NO_MATCH;
		snprintf(r->message, sizeof(r->message), "no policy matches: left as devdax");
		mp_ctx_notice(e->ctx, "%s: %s", key, r->message);
		bind_dropped(e, r, x->name);
		return;
	}
	record_policy(r, &r->decision);
	/* The policy object may go with a reload; the decision's values stay. */
	r->decision.policy = NULL;
	r->decided = true;
	if (r->decision.dax_mode != MP_POLICY_DAX_SYSTEM_RAM) {
		r->state = MP_DEVICE_DEVDAX;
		snprintf(r->message, sizeof(r->message), "Mode=devdax: left as /dev/%s", x->name);
		mp_ctx_notice(e->ctx, "%s: %s (policy %s)", key, r->message, r->policy);
		bind_dropped(e, r, x->name);
		return;
	}
	/* §8: kmem trims each range inward to block boundaries; predict before binding. */
	if (x->nr_ranges == 1)
		mp_rules_dax_trim(&mem->geo, x->ranges[0].start, x->ranges[0].end, &r->trim);
	else
		mp_rules_dax_trim(&mem->geo, x->start, x->start + x->size - 1, &r->trim);
	r->trim_known = true;
	if (r->trim.keeps_nothing)
		snprintf(r->trim_text, sizeof(r->trim_text),
			 "predicted: kmem keeps nothing of 0x%llx-0x%llx (smaller than a %s block)",
			 (unsigned long long)r->trim.start, (unsigned long long)r->trim.end,
			 mp_format_size(mem->geo.block_size, sz, sizeof(sz)));
	else
		snprintf(
			r->trim_text, sizeof(r->trim_text),
			"predicted: kmem keeps 0x%llx-0x%llx (%llu blocks), strands %llu bytes at the start and %llu at the end",
			(unsigned long long)r->trim.keep_start,
			(unsigned long long)r->trim.keep_end,
			(unsigned long long)((r->trim.keep_end + 1 - r->trim.keep_start) /
					     mem->geo.block_size),
			(unsigned long long)r->trim.stranded_head,
			(unsigned long long)r->trim.stranded_tail);
	if (!r->bind_deferred)
		mp_ctx_notice(e->ctx, "%s: Mode=system-ram (policy %s): %s", key, r->policy,
			      r->trim_text);
	if (e->ops && e->ops->bind_kmem)
		err = e->ops->bind_kmem(e->ops->priv, e->ctx, x->name);
	else
		err = mp_dax_bind_kmem(e->ctx, x->name);
	if (err == -EAGAIN && r->bind_deferred < BIND_DEFER_MAX) {
		uint64_t wait = (uint64_t)BIND_DEFER_FIRST_US << r->bind_deferred;

		r->bind_deferred++;
		r->bind_retry_at_us = mp_now_us() + wait;
		dax_retry_at(e, r->bind_retry_at_us);
		snprintf(
			r->message, sizeof(r->message),
			"kmem/bind: the kernel deferred kmem's probe (EAGAIN, %u of %u): trying again in %llu ms",
			r->bind_deferred, BIND_DEFER_MAX + 1, (unsigned long long)(wait / 1000));
		if (r->bind_deferred == 1)
			mp_ctx_warn(e->ctx, "%s: %s", key, r->message);
		else
			mp_ctx_info(e->ctx, "%s: %s", key, r->message);
		return;
	}
	if (err) {
		bind_failed(e, r, x->name, err);
		return;
	}
	r->state = MP_DEVICE_KMEM;
	if (r->bind_deferred)
		mp_ctx_notice(e->ctx, "%s: kmem/bind took %u deferral(s) by the kernel", key,
			      r->bind_deferred);
	snprintf(r->message, sizeof(r->message), "bound to kmem, waiting for its blocks");
	mp_ctx_info(e->ctx, "%s: %s", key, r->message);
	/* kmem added the blocks during the bind: look again at once, uevents or not. */
	e->rescan = true;
}

static void check_trim(struct mp_engine *e, struct mp_device *r, const struct mp_devgroup *g)
{
	struct mp_iomem *io;
	struct mp_dax_check c;

	if (!r->trim_known || r->trim_checked)
		return;
	if (mp_iomem_read(e->ctx, &io))
		return;
	mp_dax_verify_trim(io, g->dev.name, &r->trim, &c);
	mp_iomem_free(io);
	r->trim_checked = true;
	r->trim_ok = c.ok;
	if (c.ok) {
		mp_ctx_notice(
			e->ctx,
			"%s: kmem trim as predicted: System RAM (kmem) 0x%llx-0x%llx, %llu bytes stranded",
			r->key, (unsigned long long)c.kmem_start, (unsigned long long)c.kmem_end,
			(unsigned long long)(r->trim.stranded_head + r->trim.stranded_tail));
	} else {
		e->violations++;
		mp_ctx_err(e->ctx, "kernel-rule violation: %s: %s", r->key, c.evidence);
		snprintf(r->trim_text, sizeof(r->trim_text), "%s", c.evidence);
		mp_engine_violation(e, r->key, UINT64_MAX, c.evidence);
	}
}

/* ---- memory devices ---------------------------------------------------------- */

/*
 * The device's decision: the dax device's own (taken once, when it
 * appeared) or a match for the group.  Return as mp_devgroup_decide().
 */
static int decide(struct mp_engine *e, const struct mp_devgroup *g, const struct mp_memory *mem,
		  struct mp_device *r, struct mp_policy_decision *dec)
{
	uint64_t new_bytes = g->nr_offline * mem->geo.block_size;
	char dkey[48];
	const struct mp_device *dx = NULL;

	if (g->dev.kind == MP_DEV_DAX) {
		snprintf(dkey, sizeof(dkey), "dax:%s", g->dev.name);
		dx = mp_engine_dev_find(e, dkey);
	}
	if (dx && dx->decided) {
		*dec = dx->decision;
		/* The kmem blocks' group is the dax device's own record: nothing to copy then. */
		if (dx != r)
			snprintf(r->policy, sizeof(r->policy), "%s", dx->policy);
		if (!dec->online)
			return -ENODATA;
		return mp_devgroup_decide_zone(g, mem, new_bytes, dec);
	}
	if (!e->set)
		return -ENOENT;
	return mp_devgroup_decide(e->set, g, mem, new_bytes, dec);
}

static void record_outcome(struct mp_engine *e, struct mp_memory *mem, struct mp_devgroup *g,
			   struct mp_device *r, struct mp_group_outcome *pout,
			   enum mp_verify_level level, const char *word);
static void record_earlier(struct mp_engine *e, struct mp_device *r, struct mp_group_outcome *v);

void mp_engine_online_group(struct mp_engine *e, struct mp_memory *mem, struct mp_devgroup *g,
			    struct mp_device *r, const struct mp_persisted *p)
{
	struct mp_policy_decision dec;
	enum mp_policy_zone zone;
	enum mp_verify_level level = MP_VERIFY_FULL;
	struct mp_group_outcome out, earlier = { 0 };
	uint64_t t0 = mp_now_us();
	const char *word;
	int err;

	if (p && p->zone[0]) {
		/* An earlier run decided this device: finish it the same way. */
		zone = strcmp(p->zone, "movable") ? MP_POLICY_ZONE_KERNEL : MP_POLICY_ZONE_MOVABLE;
		snprintf(r->zone_why, sizeof(r->zone_why), "%s",
			 p->why && p->why[0] ? p->why : "decided by an earlier run");
	} else {
		err = decide(e, g, mem, r, &dec);
		if (err == -ENOENT) {
			r->state = MP_DEVICE_NO_MATCH;
			report_once(e, r, LOG_NOTICE, "no policy matches: %s left offline",
				    r->blocks);
			return;
		}
		record_policy(r, &dec);
		if (err == -ENODATA) {
			r->state = MP_DEVICE_LEFT_OFFLINE;
			report_once(e, r, LOG_NOTICE, "Online=no (policy %s): %s left offline",
				    r->policy, r->blocks);
			return;
		}
		if (err) {
			r->state = MP_DEVICE_FAILED;
			report_once(e, r, LOG_ERR, "cannot decide: %s", strerror(-err));
			return;
		}
		zone = dec.zone;
		level = dec.verify;
		snprintf(r->zone_why, sizeof(r->zone_why), "%s", dec.zone_why);
	}
	word = zone == MP_POLICY_ZONE_MOVABLE ? "online_movable" : "online_kernel";
	snprintf(r->zone, sizeof(r->zone), "%s", mp_policy_zone_name(zone));
	r->decided_us = t0;
	/* Record the intent first: a restart after SIGKILL finishes with the same zone. */
	mp_engine_state_save(e);
	for (size_t i = 0; i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(mem, g->ids[i]);

		if (b && b->state == MP_BLOCK_OFFLINE)
			expect_add(e, b->id);
	}
	/*
	 * Finishing a device an earlier run was killed in the middle of: the
	 * blocks it onlined were never verified (it died before its checks).
	 * Checked now, while the model still says which blocks those are.
	 */
	if (p && g->nr_online && level != MP_VERIFY_NONE &&
	    mp_devgroup_verify_online(e->ctx, mem, g, zone, level, NULL, 0, &earlier))
		earlier.nr = 0;
	/* Its blocks are read at the next reconcile, whether their uevents were expected or not. */
	for (size_t i = 0; i < g->nr; i++)
		mp_engine_changed(e, g->ids[i]);
	err = mp_devgroup_online(e->ctx, mem, g, zone, level, e->ops, &out);
	if (err == -ENOMEM) {
		mp_group_outcome_free(&earlier);
		r->state = MP_DEVICE_FAILED;
		report_once(e, r, LOG_ERR, "out of memory");
		return;
	}
	record_outcome(e, mem, g, r, &out, level, word);
	if (earlier.nr)
		record_earlier(e, r, &earlier);
	mp_group_outcome_free(&earlier);
}

/* The verification of the blocks an earlier run onlined (@v), added to @r's record. */
static void record_earlier(struct mp_engine *e, struct mp_device *r, struct mp_group_outcome *v)
{
	size_t n = strlen(r->message);

	for (size_t i = 0; i < v->nr; i++) {
		const struct mp_block_outcome *bo = &v->blocks[i];

		if (bo->violation) {
			mp_ctx_err(e->ctx, "kernel-rule violation: memory%llu (%s): %s",
				   (unsigned long long)bo->id, r->key, bo->why);
			mp_engine_violation(e, r->key, bo->id, bo->why);
		} else if (!bo->check.ok) {
			mp_ctx_warn(e->ctx, "memory%llu: onlined by an earlier run: %s",
				    (unsigned long long)bo->id, bo->why);
		}
	}
	r->verified += v->verified;
	r->violations += v->violations;
	e->violations += v->violations;
	snprintf(r->message + n, sizeof(r->message) - n,
		 "; %zu block(s) onlined by an earlier run, %zu verified%s", v->nr, v->verified,
		 v->violations ? ", KERNEL-RULE VIOLATIONS" : "");
	mp_ctx_notice(e->ctx,
		      "%s: %zu block(s) onlined by an earlier run: %zu verified, %zu violation(s)",
		      r->key, v->nr, v->verified, v->violations);
}

/*
 * What onlining (or, on the kernel fast path, the kernel) did to @g's
 * blocks: log it, keep the model current, queue the every-PFN pass and
 * settle the device's record.
 */
static void record_outcome(struct mp_engine *e, struct mp_memory *mem, struct mp_devgroup *g,
			   struct mp_device *r, struct mp_group_outcome *pout,
			   enum mp_verify_level level, const char *word)
{
	struct mp_group_outcome out = *pout;
	for (size_t i = 0; i < out.nr; i++) {
		struct mp_block_outcome *bo = &out.blocks[i];
		struct mp_block *b;

		if (bo->err && !bo->by_other)
			mp_ctx_err(e->ctx, "memory%llu: %s: %s", (unsigned long long)bo->id, word,
				   strerror(-bo->err));
		else if (bo->by_other)
			mp_ctx_warn(e->ctx, "memory%llu: %s", (unsigned long long)bo->id, bo->why);
		else
			mp_ctx_info(e->ctx, "memory%llu: %s: ok%s%s", (unsigned long long)bo->id,
				    word,
				    bo->check.ok ? (level == MP_VERIFY_NONE ? ", not verified" :
									      ", verified") :
						   ", verification failed: ",
				    bo->check.ok ? "" : bo->check.evidence);
		if (bo->violation) {
			mp_ctx_err(e->ctx, "kernel-rule violation: memory%llu (%s): %s",
				   (unsigned long long)bo->id, r->key, bo->why);
			mp_engine_violation(e, r->key, bo->id, bo->why);
		}
		/*
		 * Keep the model current: `memplugctl list` answers from it, and
		 * the next rescan may be a long idle time away.
		 */
		if ((bo->err && !bo->by_other) || !(b = mp_memory_find(mem, bo->id)))
			continue;
		b->state = MP_BLOCK_ONLINE;
		if (bo->check.zone[0])
			snprintf(b->zones, sizeof(b->zones), "%s", bo->check.zone);
		else if (mp_block_read_zones(e->ctx, b->id, b->zones, sizeof(b->zones)))
			b->zones[0] = '\0';
	}
	if (level == MP_VERIFY_FULL && g->dev.kind != MP_DEV_VIRTIO_MEM) {
		bool queued = false;

		for (size_t i = 0; i < out.nr; i++) {
			struct mp_deferred *dp;

			if (out.blocks[i].err || !out.blocks[i].check.ok)
				continue;
			dp = realloc(e->deep, (e->nr_deep + 1) * sizeof(*dp));
			if (!dp)
				break;
			e->deep = dp;
			snprintf(dp[e->nr_deep].key, sizeof(dp->key), "%s", r->key);
			dp[e->nr_deep++].id = out.blocks[i].id;
			queued = true;
		}
		if (queued) {
			uint64_t now = mp_now_us();

			e->deep_not_before_us = now + DEFERRED_QUIET_US;
			e->deep_hold_max_us = now + DEFERRED_HOLD_MAX_US;
		}
	}
	r->onlined += out.onlined;
	r->verified += out.verified;
	r->failed += out.failed;
	r->by_other += out.by_other;
	r->violations += out.violations;
	r->sampled_early += out.sampled_early;
	r->sample_us += out.sample_us;
	e->violations += out.violations;
	r->online_us = out.online_us;
	r->verify_us = out.verify_us;
	r->done_us = mp_now_us();
	r->verified_at = (int64_t)time(NULL);
	if (out.by_other && !out.onlined)
		r->state = MP_DEVICE_OTHER;
	else if (out.failed)
		r->state = out.onlined ? MP_DEVICE_PARTIAL : MP_DEVICE_FAILED;
	else
		r->state = MP_DEVICE_ONLINE;
	if (r->by_kernel)
		snprintf(
			r->message, sizeof(r->message),
			"%zu blocks onlined by the kernel at add time (kernel fast path, memplugd's auto_online_blocks=%s), policy zone %s (%s), %zu verified (%zu sampled while the kernel was adding)%s%s",
			out.onlined, e->knobs_set.auto_online, r->zone, r->zone_why, out.verified,
			out.sampled_early, out.violations ? ", KERNEL-RULE VIOLATIONS" : "",
			out.verified < out.onlined ? ", NOT WHAT THE POLICY SAYS" : "");
	else
		snprintf(r->message, sizeof(r->message),
			 "%zu of %zu offline blocks onlined into %s (%s), %zu verified%s%s%s",
			 out.onlined, out.nr, r->zone, r->zone_why, out.verified,
			 out.violations ? ", KERNEL-RULE VIOLATIONS" : "",
			 out.by_other ? ", some onlined by another writer" : "",
			 out.failed ? ", some failed" : "");
	mp_ctx_notice(
		e->ctx,
		"%s: %s: %zu/%zu blocks online in %s%s, node %d, %zu verified, %zu violation(s), policy %s; %.1f ms online + %.1f ms verify (+ %.1f ms of %zu samples while the kernel added it), %.1f ms after first seen",
		r->key, r->blocks, out.onlined, out.nr, r->zone,
		r->by_kernel ? " (by the kernel at add time)" : "", g->node, out.verified,
		out.violations, r->policy[0] ? r->policy : "(earlier run)", out.online_us / 1000.0,
		out.verify_us / 1000.0, out.sample_us / 1000.0, out.sampled_early,
		(r->done_us - r->first_seen_us) / 1000.0);
	mp_group_outcome_free(&out);
	if (g->dev.kind == MP_DEV_DAX)
		check_trim(e, r, g);
	mp_engine_state_save(e);
}

/* Is an online block of @out in another zone than @zone asks for? */
static bool wrong_zone(const struct mp_group_outcome *out, enum mp_policy_zone zone)
{
	for (size_t i = 0; i < out->nr; i++) {
		const struct mp_block_check *c = &out->blocks[i].check;

		if (out->blocks[i].err || c->state != MP_BLOCK_ONLINE || !c->zone[0])
			continue;
		if (zone == MP_POLICY_ZONE_MOVABLE ? strcmp(c->zone, "Movable") :
						     !mp_zone_is_kernel(c->zone))
			return true;
	}
	return false;
}

/*
 * The kernel fast path: the kernel onlined @g at add time under the knobs
 * the engine set.  Decide the device as if it had come offline (its own
 * blocks do not count in the zone facts, as for the kernel's auto-movable,
 * which decides a static group before onlining any of it) and verify that
 * the kernel's outcome is the policy's.
 */
static void kernel_onlined(struct mp_engine *e, struct mp_memory *mem, struct mp_devgroup *g,
			   struct mp_device *r)
{
	struct mp_policy_decision dec;
	struct mp_group_outcome out;
	enum mp_policy_zone zone;
	size_t nr_off = g->nr_offline, nr_on = g->nr_online;
	const char *word;
	int err;

	for (size_t i = 0; i < g->nr; i++) {
		struct mp_block *b = mp_memory_find(mem, g->ids[i]);

		if (b && b->state == MP_BLOCK_ONLINE)
			b->state = MP_BLOCK_OFFLINE;
	}
	g->nr_offline = g->nr;
	g->nr_online = 0;
	err = decide(e, g, mem, r, &dec);
	g->nr_offline = nr_off;
	g->nr_online = nr_on;
	for (size_t i = 0; i < g->nr; i++) {
		struct mp_block *b = mp_memory_find(mem, g->ids[i]);

		if (b && b->state == MP_BLOCK_OFFLINE)
			b->state = MP_BLOCK_ONLINE;
	}
	r->by_kernel = true;
	r->decided_us = mp_now_us();
	if (err) {
		/* The knobs said online, the policy says otherwise: they no longer fit. */
		e->knobs_distrust = true;
		r->state = MP_DEVICE_OTHER;
		report_once(
			e, r, LOG_ERR,
			"onlined by the kernel under memplugd's knobs, but the policy says %s: kernel fast path off",
			err == -ENODATA ? "Online=no" :
			err == -ENOENT	? "no policy" :
					  strerror(-err));
		return;
	}
	record_policy(r, &dec);
	zone = dec.zone;
	snprintf(r->zone_why, sizeof(r->zone_why), "%s", dec.zone_why);
	snprintf(r->zone, sizeof(r->zone), "%s", mp_policy_zone_name(zone));
	/* Not "online_movable: ok": the log tells the kernel's onlining from memplugd's writes. */
	word = "onlined by the kernel";
	err = mp_devgroup_verify_online(e->ctx, mem, g, zone, dec.verify, e->early, e->nr_early,
					&out);
	mp_engine_early_drop(e, g);
	if (err) {
		r->state = MP_DEVICE_FAILED;
		report_once(e, r, LOG_ERR, "out of memory");
		return;
	}
	r->online_us = 0;
	if (wrong_zone(&out, zone)) {
		/*
		 * The kernel decided otherwise than the policy (e.g. its
		 * auto-movable): stop trusting it.  Other violations (bad
		 * pages) are the kernel's onlining itself, which memplugd's
		 * own writes would go through as well: reported, not a reason
		 * to leave the fast path.
		 */
		e->knobs_distrust = true;
		mp_ctx_err(
			e->ctx,
			"%s: the kernel's auto-online did not do what the policy says: kernel fast path off for this run",
			r->key);
	}
	record_outcome(e, mem, g, r, &out, dec.verify, word);
}

/*
 * The every-PFN kpageflags pass (mp_block_verify_pages()), one block per
 * call after the device was reported: ~16 ms per 128 MiB block under TCG,
 * too slow to sit between device_add and "online" (the sampled pass in
 * mp_block_verify() already caught every NOPAGE failure), but still done,
 * and a failure is a violation like any other.
 */
bool mp_engine_deferred_pending(const struct mp_engine *e)
{
	return e->nr_deep > 0 && mp_now_us() >= e->deep_not_before_us;
}

void mp_engine_hold_deferred(struct mp_engine *e)
{
	uint64_t t = mp_now_us() + DEFERRED_QUIET_US;

	if (!e->nr_deep)
		return;
	if (t > e->deep_hold_max_us)
		t = e->deep_hold_max_us;
	if (t > e->deep_not_before_us)
		e->deep_not_before_us = t;
}

void mp_engine_run_deferred(struct mp_engine *e)
{
	struct mp_block_check c;
	struct mp_deferred dp;
	struct mp_device *r;
	enum mp_block_state st;

	if (!e->nr_deep || !e->mem)
		return;
	dp = e->deep[0];
	memmove(e->deep, e->deep + 1, --e->nr_deep * sizeof(*e->deep));
	if (!e->kpf && mp_kpageflags_open(e->ctx, &e->kpf)) {
		e->nr_deep = 0;
		return;
	}
	r = mp_engine_dev_find(e, dp.key);
	/*
	 * The pass runs a quiet moment after the device was reported, and by
	 * then the block may be drained (a coordinated unplug takes ~200 ms),
	 * ejected, or another device's in the same slot: only a block that is
	 * still online, of a device not being drained, is checked.  Its pages read
	 * as NOPAGE otherwise, which is no violation.
	 */
	if (!r || r->state == MP_DEVICE_DRAINING || r->state == MP_DEVICE_DRAINED ||
	    mp_block_read_state(e->ctx, dp.id, &st) || st != MP_BLOCK_ONLINE) {
		mp_ctx_dbg(e->ctx, "memory%llu (%s): no longer online; every-PFN check dropped",
			   (unsigned long long)dp.id, dp.key);
	} else if (mp_block_verify_pages(e->ctx, &e->mem->geo, e->kpf, dp.id, &c)) {
		mp_ctx_warn(e->ctx, "memory%llu: kpageflags unreadable", (unsigned long long)dp.id);
	} else if (!c.ok) {
		e->violations++;
		if (r)
			r->violations++;
		mp_ctx_err(e->ctx, "kernel-rule violation: memory%llu (%s): %s",
			   (unsigned long long)dp.id, dp.key, c.evidence);
		mp_engine_violation(e, dp.key, dp.id, c.evidence);
	} else {
		r->pages_verified++;
		if (r->pages_verified == r->verified)
			mp_ctx_info(e->ctx,
				    "%s: page flags of all %zu blocks checked, every PFN: ok",
				    r->key, r->pages_verified);
	}
	if (!e->nr_deep) {
		mp_kpageflags_close(e->kpf);
		e->kpf = NULL;
	}
}

/* ---- settling --------------------------------------------------------------- */

/* Remember what a settling group still lacks, for mp_engine_settle(). */
static void watch_group(struct mp_engine *e, const struct mp_memory *mem,
			const struct mp_devgroup *g, const struct mp_device *r)
{
	uint64_t deadline = r->first_seen_us + SETTLE_MAX_US;

	if (!e->settle_deadline_us || deadline < e->settle_deadline_us)
		e->settle_deadline_us = deadline;
	for (size_t i = 0; i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(mem, g->ids[i]);
		struct mp_watch *w;
		bool need_node = b && b->node < 0, need_fw = !g->pkind;

		if (!need_node && !need_fw)
			continue;
		w = realloc(e->watch, (e->nr_watch + 1) * sizeof(*w));
		if (!w)
			return;
		e->watch = w;
		w[e->nr_watch++] = (struct mp_watch){ g->ids[i], need_node, need_fw };
	}
}

/*
 * Online memory with no device link yet, that was not there (or not
 * online) at the previous scan: a DIMM the kernel onlined at add time
 * (auto_online_blocks, another onliner's or the engine's fast path).  Its
 * firmware_node comes with acpi_bind_memory_blocks() after __add_memory()
 * returned (drivers/acpi/acpi_memhotplug.c acpi_memory_enable_device()),
 * with no uevent of its own, and until then the scan counts the blocks as
 * boot memory.  Unwatched, a scan that ran just before the link was made
 * stayed the last one until some other uevent: the device went unreported
 * (bench/online-latency.py, once in ~50 auto-onlined DIMMs).  Watched
 * like a settling device, up to SETTLE_MAX_US after it appeared.  After
 * that it stays on the list, unwatched, until it has a link or goes
 * offline: every reconcile reads its link again (rescan()), as the full
 * scans did.  A 32 GiB DIMM's first blocks come online ~2 s before
 * acpi_bind_memory_blocks() links them all, and a rescan that took them
 * over as boot memory would have split the DIMM.
 */
static void watch_fresh(struct mp_engine *e, const struct mp_memory *prev,
			const struct mp_memory *mem)
{
	uint64_t now = mp_now_us();

	for (size_t i = 0; i < e->nr_fresh;) {
		const struct mp_block *b = mp_memory_find(mem, e->fresh[i].id);

		if (!b || b->dev.kind != MP_DEV_BOOT || b->state != MP_BLOCK_ONLINE)
			e->fresh[i] = e->fresh[--e->nr_fresh];
		else
			i++;
	}
	/* The first scan: all there is is boot memory (or earlier devices, linked by now). */
	for (size_t i = 0; prev && i < mem->nr; i++) {
		const struct mp_block *b = &mem->blocks[i];

		/*
		 * Online before: boot memory, fresh memory already watched, or
		 * fresh memory whose settle time is over.
		 */
		if (b->dev.kind != MP_DEV_BOOT || !mp_engine_came_online(prev, b))
			continue;
		if (MP_ARRAY_PUSH(e->fresh, e->nr_fresh, ((struct mp_fresh){ b->id, now })))
			break;
	}
	for (size_t i = 0; i < e->nr_fresh; i++) {
		const struct mp_block *b = mp_memory_find(mem, e->fresh[i].id);
		uint64_t deadline = e->fresh[i].since_us + SETTLE_MAX_US;
		struct mp_watch *w;

		if (now >= deadline)
			continue; /* read at each reconcile, but no longer worth a timer */
		w = realloc(e->watch, (e->nr_watch + 1) * sizeof(*w));
		if (!w)
			return;
		e->watch = w;
		w[e->nr_watch++] = (struct mp_watch){ e->fresh[i].id, b && b->node < 0, true };
		if (!e->settle_deadline_us || deadline < e->settle_deadline_us)
			e->settle_deadline_us = deadline;
	}
}

uint64_t mp_engine_next_wake_us(const struct mp_engine *e)
{
	uint64_t t, now = mp_now_us();
	/* The every-PFN pass waits for a quiet moment: wake when it may start. */
	uint64_t deep = e->nr_deep && now < e->deep_not_before_us ? e->deep_not_before_us : 0;

	if (e->rescan)
		return now;
	deep = earliest(earliest(deep, e->retry_at_us), e->dax_retry_at_us);
	if (!e->settle_deadline_us)
		return deep;
	t = e->settle_last_us + ((uint64_t)SETTLE_FIRST_US << e->settle_step);
	t = t < e->settle_deadline_us ? t : e->settle_deadline_us;
	return deep && deep < t ? deep : t;
}

/* A failed scan with a retry still to come is not an error yet: wait for it. */
static int settle_reconcile(struct mp_engine *e)
{
	if (!mp_engine_reconcile(e))
		return 1;
	return e->retry_at_us ? 0 : -EIO;
}

int mp_engine_settle(struct mp_engine *e)
{
	uint64_t now = mp_now_us();
	bool changed = false;

	if (e->rescan || (e->retry_at_us && now >= e->retry_at_us) ||
	    (e->dax_retry_at_us && now >= e->dax_retry_at_us))
		return settle_reconcile(e);
	if (!e->settle_deadline_us)
		return 0;
	e->settles++;
	for (size_t i = 0; i < e->nr_watch && !changed; i++) {
		struct mp_block_links l;

		if (mp_block_read_links(e->ctx, e->watch[i].id, &l)) {
			changed = true; /* gone: the scan will tell */
			break;
		}
		if ((e->watch[i].need_node && l.node >= 0) ||
		    (e->watch[i].need_firmware && l.firmware_node))
			changed = true;
	}
	/*
	 * Nothing to check (blocks still missing come with their own add
	 * uevents) or nothing new: wait longer, up to the deadline.
	 */
	if (!changed && now < e->settle_deadline_us) {
		e->settle_last_us = now;
		if (e->settle_step < SETTLE_MAX_STEP)
			e->settle_step++;
		return 0;
	}
	return settle_reconcile(e);
}

/* ---- devices ------------------------------------------------------------------ */

static void handle_group(struct mp_engine *e, struct mp_memory *mem, struct mp_devgroup *g)
{
	const struct mp_persisted *p;
	struct mp_device *r;
	uint64_t now;
	bool fast;

	r = mp_engine_dev_find(e, g->key);
	if (!r) {
		r = mp_engine_dev_add(e, g->key);
		if (!r)
			return;
		r->start = g->start;
		r->size = g->size;
		r->kind = g->pkind;
		if (g->pkind == MP_POLICY_KIND_BOOT)
			r->state = MP_DEVICE_BOOT;
	}
	r->seen = true;
	r->node = g->node;
	now = mp_now_us(); /* after dev_add(): first_seen_us must not be in the future */
	format_blocks(g, r->blocks, sizeof(r->blocks));
	p = mp_engine_persisted_find(e, g->key, g->start);
	if (p)
		r->persisted_ours = true;
	if (r->state == MP_DEVICE_SETTLING && p && p->drained) {
		/* Drained for an unplug by an earlier run: stays offline until undrained. */
		r->state = MP_DEVICE_DRAINED;
		snprintf(r->zone, sizeof(r->zone), "%s", p->zone);
		snprintf(r->message, sizeof(r->message),
			 "drained for an unplug by an earlier run: left offline");
	}
	if (r->state == MP_DEVICE_BOOT || r->state == MP_DEVICE_DRAINED ||
	    r->state == MP_DEVICE_DRAINING)
		return;

	if (!g->pkind) {
		/* Offline plain System RAM: a DIMM whose links are not there yet, or not ours. */
		if (r->state != MP_DEVICE_SETTLING)
			return;
		if (now - r->first_seen_us < SETTLE_MAX_US) {
			watch_group(e, mem, g, r);
			return;
		}
		r->state = MP_DEVICE_UNIDENTIFIED;
		report_once(
			e, r, LOG_NOTICE,
			"offline memory with no device (no ACPI firmware_node, not kmem or virtio-mem), probably offlined boot memory: left alone");
		return;
	}

	if (mp_device_final(r)) {
		if (!g->nr_offline)
			return;
		if (g->dev.kind == MP_DEV_VIRTIO_MEM &&
		    (r->state == MP_DEVICE_ONLINE || r->state == MP_DEVICE_PARTIAL)) {
			/* virtio-mem grows block by block: online what appeared (§10). */
			mp_memory_read_zones(e->ctx, mem, g->ids, g->nr);
			mp_engine_online_group(e, mem, g, r, NULL);
			return;
		}
		if (r->state == MP_DEVICE_ONLINE) {
			r->state = MP_DEVICE_OFFLINED;
			r->reported = false;
			report_once(e, r, LOG_NOTICE,
				    "%zu block(s) offlined by someone else: not onlined again",
				    g->nr_offline);
		}
		return;
	}

	/*
	 * Kernel fast path: a device first seen after the engine set the
	 * knobs is the kernel's to online at add time.  Blocks still offline
	 * are the kernel at work (or its auto-online failed: it ignores errors
	 * and never retries, §10): wait, and after the settle time online the
	 * rest block by block.
	 */
	fast = e->knobs_held && !r->persisted_ours && r->first_seen_us >= e->knobs_since_us;
	if ((!mp_devgroup_complete(g) || (fast && g->nr_offline)) &&
	    now - r->first_seen_us < SETTLE_MAX_US) {
		watch_group(e, mem, g, r);
		return;
	}
	if (fast && !g->nr_offline) {
		/* All online: the scan read their zones (mp_engine_scan()). */
		kernel_onlined(e, mem, g, r);
		return;
	}
	if (fast)
		mp_ctx_warn(
			e->ctx,
			"%s: %zu of %zu blocks still offline %.0f ms after the add under memplugd's auto_online_blocks=%s: onlining them block by block",
			r->key, g->nr_offline, g->nr, (now - r->first_seen_us) / 1000.0,
			e->knobs_set.auto_online);
	if (!g->nr_offline) {
		if (r->persisted_ours) {
			r->state = MP_DEVICE_ONLINE;
			snprintf(r->zone, sizeof(r->zone), "%s", p->zone);
			snprintf(r->message, sizeof(r->message),
				 "onlined by an earlier memplugd run (zone %s)",
				 first_zone(mem, g));
			mp_ctx_info(e->ctx, "%s: %s", r->key, r->message);
			return;
		}
		r->state = MP_DEVICE_OTHER;
		report_once(
			e, r, LOG_WARNING,
			"conflict: all %zu blocks (%s) were online in %s before memplugd acted: another onliner (auto_online_blocks=%s, a udev rule, daxctl?); not touched",
			g->nr, r->blocks, first_zone(mem, g),
			mem->auto_online[0] ? mem->auto_online : "?");
		return;
	}
	if (g->nr_online && !r->persisted_ours && !fast) {
		r->state = MP_DEVICE_OTHER;
		report_once(
			e, r, LOG_WARNING,
			"conflict: %zu of %zu blocks (%s) were online before memplugd acted: another onliner is at work (auto_online_blocks=%s); not fighting it",
			g->nr_online, g->nr, r->blocks,
			mem->auto_online[0] ? mem->auto_online : "?");
		return;
	}
	/* Zones of the blocks about to be onlined, for the predictions. */
	mp_memory_read_zones(e->ctx, mem, g->ids, g->nr);
	mp_engine_online_group(e, mem, g, r, r->persisted_ours ? p : NULL);
}

static void check_auto_online(struct mp_engine *e, const struct mp_memory *mem)
{
	if (strcmp(e->auto_online, mem->auto_online)) {
		snprintf(e->auto_online, sizeof(e->auto_online), "%s", mem->auto_online);
		e->auto_online_reported = false;
	}
	if (e->auto_online_reported || !e->auto_online[0] || !strcmp(e->auto_online, "offline"))
		return;
	/* The engine's own setting (kernel fast path) is no conflict. */
	if (e->knobs_held && !strcmp(e->auto_online, e->knobs_set.auto_online))
		return;
	e->auto_online_reported = true;
	mp_ctx_warn(
		e->ctx,
		"conflict: auto_online_blocks is '%s': the kernel onlines hot-added memory itself, before any policy applies; memplugd reports such devices and does not fight the kernel (set it to 'offline', or boot with memhp_default_state=offline)",
		e->auto_online);
}

static void schedule_retry(struct mp_engine *e, int err)
{
	if (e->retry_step >= RETRY_MAX) {
		mp_ctx_err(e->ctx, "%s; tried again %u times: not again before the next uevent",
			   e->last_error, e->retry_step);
		e->retry_at_us = 0;
		e->retry_step = 0;
		return;
	}
	if (!e->retry_step)
		mp_ctx_warn(e->ctx, "%s (errno %d): trying again in %u ms", e->last_error, -err,
			    RETRY_FIRST_US / 1000);
	e->retry_at_us = mp_now_us() + ((uint64_t)RETRY_FIRST_US << e->retry_step);
	e->retry_step++;
}

int mp_engine_reconcile(struct mp_engine *e)
{
	struct mp_engine_scan s;
	bool was_settling = e->settle_deadline_us != 0;
	int err;

	e->reconciles++;
	e->rescan = false;
	err = engine_scan(e, &s, true);
	if (err) {
		/* What failed may be what changed: the retry reads everything. */
		mp_engine_rescan_all(e);
		schedule_retry(e, err);
		return err;
	}
	e->changed_all = false;
	e->nr_changed = 0;
	if (e->retry_step)
		mp_ctx_info(e->ctx, "scan: succeeded again after %u retr%s", e->retry_step,
			    e->retry_step == 1 ? "y" : "ies");
	e->retry_at_us = 0;
	e->retry_step = 0;
	e->settle_deadline_us = 0;
	e->nr_watch = 0;
	for (size_t i = 0; i < e->nr_devs; i++)
		e->devs[i].seen = false;
	/* The scan read auto_online_blocks: someone changed what the engine set? */
	mp_engine_knobs_check(e, s.mem->auto_online[0] ? s.mem->auto_online : NULL);
	/* Before the devices: a device complete in this scan uses what is sampled now. */
	mp_engine_early_sample(e, s.mem);
	check_auto_online(e, s.mem);
	e->dax_retry_at_us = 0; /* set again by the dax devices still waiting */
	for (size_t i = 0; i < s.nr_dax; i++)
		handle_dax(e, s.mem, &s.dax[i]);
	for (size_t i = 0; i < s.ng; i++)
		handle_group(e, s.mem, &s.groups[i]);
	/* Devices gone since the last scan (ejected DIMMs, settled "unknown" blocks). */
	for (size_t i = 0; i < e->nr_devs;) {
		struct mp_device *r = &e->devs[i];

		if (r->seen) {
			i++;
			continue;
		}
		if (r->state != MP_DEVICE_SETTLING)
			mp_ctx_info(e->ctx, "%s: gone", r->key);
		/* A DIMM plugged into the same slot later is a new device, not ours. */
		mp_engine_persisted_forget(e, r->key, r->start);
		e->devs[i] = e->devs[--e->nr_devs];
	}
	watch_fresh(e, e->mem, s.mem);
	/*
	 * After the first scan of this run, what an earlier run recorded holds
	 * only for devices that are still there: one ejected while memplugd was
	 * down is gone, and a DIMM plugged into its slot later (same key, same
	 * address) is a new device, not "drained by an earlier run".
	 */
	for (size_t i = 0; e->reconciles == 1 && i < e->nr_persist;) {
		struct mp_persisted p = e->persist[i]; /* a copy: forget() moves entries */
		const struct mp_device *r = mp_engine_dev_find(e, p.key);

		if (r && r->start == p.start)
			i++;
		else
			mp_engine_persisted_forget(e, p.key, p.start);
	}
	if (e->settle_deadline_us) {
		/* A new settling period starts with short waits; a continuing one keeps backing off. */
		if (!was_settling)
			e->settle_step = 0;
		e->settle_last_us = mp_now_us();
	}
	mp_memory_free(e->mem);
	e->mem = s.mem;
	s.mem = NULL;
	mp_engine_scan_free(&s);
	/* After the devices: the ones present now were decided without the knobs. */
	mp_engine_knobs_update(e, true);
	return 0;
}
