// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel fast path: when the policy that will decide the next device
 * can be said in the kernel's own auto-online knobs, set them and let the
 * kernel online hot-added blocks inside add_memory(), before the ACPI add
 * returns; the engine then only verifies and reports.  Deciding block by
 * block costs a uevent round trip, the link settle and one state write per
 * block; the kernel does the same work in the hotplug path itself.
 *
 * The knobs (KERNEL-RULES.md §2, §11; mm/memory_hotplug.c):
 *   memory/auto_online_blocks                 offline | online | online_kernel | online_movable
 *   memory_hotplug/parameters/online_policy   contig-zones | auto-movable (plain "online" only)
 *   memory_hotplug/parameters/auto_movable_ratio        percent, MOVABLE <= ratio% of KERNEL_EARLY
 *   memory_hotplug/parameters/auto_movable_numa_aware   Y: the ratio also holds per node
 * They only decide blocks added after they are set.
 *
 * Zone=movable -> online_movable, Zone=kernel -> online_kernel, Zone=auto
 * with MovableRatio=R -> online + auto-movable, ratio R, numa-aware: the
 * kernel's auto-movable decides a static memory group (a DIMM) as a whole
 * from the same KERNEL_EARLY / MOVABLE split, globally and per node, as
 * mp_devgroup_decide() does.
 *
 * What the knobs cannot say, and what makes the engine decide block by
 * block instead: a policy with Node=, Size=, Address= or Device= (a zone
 * or a ratio per device or per node), Online=no, kinds of hot-added memory
 * that no policy covers or that policies put in different zones, a dax
 * device kept as devdax (the knob would online it if anyone bound kmem),
 * Zone=auto for dax devices (6.1's kmem registers its memory group with a
 * size in bytes where pages are expected, so auto-movable may pick a
 * kernel zone), and a kernel whose auto-movable disagreed with the policy
 * once (the engine stops trusting it until restarted).
 *
 * Ownership: the engine sets the knobs only when auto_online_blocks reads
 * "offline" (nobody else is onlining), saves what they read, and records
 * both in the state file.  Whenever they no longer read what it wrote,
 * someone else changed them: the engine lets go and never writes them
 * again in this run.  It puts the saved values back when the policy stops
 * fitting, and when it stops (mp_engine_free()), only while they still
 * read what it wrote.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "util.h"

#define K_AUTO "sys/devices/system/memory/auto_online_blocks"
#define K_POLICY "sys/module/memory_hotplug/parameters/online_policy"
#define K_RATIO "sys/module/memory_hotplug/parameters/auto_movable_ratio"
#define K_NUMA "sys/module/memory_hotplug/parameters/auto_movable_numa_aware"

/* Hot-added memory that comes as blocks the knobs decide at add time. */
#define HOTADD_KINDS (MP_POLICY_KIND_DIMM | MP_POLICY_KIND_VIRTIO_MEM)
#define DAX_KINDS (MP_POLICY_KIND_NVDIMM | MP_POLICY_KIND_DAX)

static int knob_read(const struct mp_engine *e, const char *rel, char *buf, size_t len)
{
	char path[PATH_MAX];
	int err = mp_ctx_path(e->ctx, path, sizeof(path), "%s", rel);

	if (err)
		return err;
	err = mp_read_attr(AT_FDCWD, path, buf, len);
	return err < 0 ? err : 0;
}

static int knob_write(const struct mp_engine *e, const char *rel, const char *val)
{
	char path[PATH_MAX];
	int err = mp_ctx_path(e->ctx, path, sizeof(path), "%s", rel);

	return err ? err : mp_write_attr(AT_FDCWD, path, val);
}

static int knobs_read(const struct mp_engine *e, struct mp_knobs *k)
{
	int err;

	memset(k, 0, sizeof(*k));
	err = knob_read(e, K_AUTO, k->auto_online, sizeof(k->auto_online));
	if (err)
		return err;
	/* 5.15+: without them only auto_online_blocks exists (Zone=auto does not fit then). */
	if (knob_read(e, K_POLICY, k->policy, sizeof(k->policy)) ||
	    knob_read(e, K_RATIO, k->ratio, sizeof(k->ratio)) ||
	    knob_read(e, K_NUMA, k->numa, sizeof(k->numa)))
		k->policy[0] = k->ratio[0] = k->numa[0] = '\0';
	return 0;
}

/* Does @cur read what @set asked for?  Empty fields of @set were not written. */
static bool knobs_match(const struct mp_knobs *set, const struct mp_knobs *cur)
{
	return !strcmp(set->auto_online, cur->auto_online) &&
	       (!set->policy[0] || !strcmp(set->policy, cur->policy)) &&
	       (!set->ratio[0] || !strcmp(set->ratio, cur->ratio)) &&
	       (!set->numa[0] || !strcmp(set->numa, cur->numa));
}

/*
 * Write @k: the policy parameters first, auto_online_blocks last, so that
 * no block is onlined under half of the setting.  Fields left empty are
 * not written.  Return: 0 or the first write's -errno.
 */
static int knobs_write(const struct mp_engine *e, const struct mp_knobs *k)
{
	int err = 0;

	if (k->policy[0] && (err = knob_write(e, K_POLICY, k->policy)))
		return err;
	if (k->ratio[0] && (err = knob_write(e, K_RATIO, k->ratio)))
		return err;
	if (k->numa[0] && (err = knob_write(e, K_NUMA, k->numa)))
		return err;
	return knob_write(e, K_AUTO, k->auto_online);
}

/* Put @saved back: auto_online_blocks first, so nothing is onlined under a half-restored setting. */
static int knobs_restore_to(const struct mp_engine *e, const struct mp_knobs *saved,
			    const struct mp_knobs *set)
{
	int err = knob_write(e, K_AUTO, saved->auto_online), e2;

	if (set->policy[0] && saved->policy[0] && (e2 = knob_write(e, K_POLICY, saved->policy)))
		err = err ? err : e2;
	if (set->ratio[0] && saved->ratio[0] && (e2 = knob_write(e, K_RATIO, saved->ratio)))
		err = err ? err : e2;
	if (set->numa[0] && saved->numa[0] && (e2 = knob_write(e, K_NUMA, saved->numa)))
		err = err ? err : e2;
	return err;
}

void mp_knobs_format(const struct mp_knobs *k, char *buf, size_t len)
{
	if (k->policy[0])
		snprintf(
			buf, len,
			"auto_online_blocks=%s online_policy=%s auto_movable_ratio=%s auto_movable_numa_aware=%s",
			k->auto_online, k->policy, k->ratio, k->numa);
	else
		snprintf(buf, len, "auto_online_blocks=%s", k->auto_online);
}

/*
 * The knobs that say what the policy set says about the next hot-added
 * device, or false with the reason in @why.
 */
static bool knobs_for(const struct mp_engine *e, struct mp_knobs *want, char *why, size_t len)
{
	const struct mp_policyset *set = e->set;
	unsigned int covered = 0, kinds;
	bool have = false;
	struct mp_policy_decision first = { 0 };

	memset(want, 0, sizeof(*want));
	if (!set) {
		snprintf(why, len, "no policies in force");
		return false;
	}
	if (e->knobs_distrust) {
		snprintf(why, len,
			 "the kernel's auto-online disagreed with the policy once in this run");
		return false;
	}
	for (size_t i = 0; i < mp_policyset_count(set); i++) {
		const struct mp_policy *p = mp_policyset_get(set, i);
		struct mp_policy_decision d;
		unsigned int k;

		if (!mp_policy_kind_only(p, &kinds)) {
			/* Only if it could decide hot-added memory: a boot-only policy never applies. */
			if (kinds & (HOTADD_KINDS | DAX_KINDS) & ~covered) {
				snprintf(
					why, len,
					"%s:%u decides device by device (Node=, Size=, Address= or Device=)",
					mp_policy_path(p), mp_policy_match_line(p));
				return false;
			}
			continue;
		}
		mp_policy_decision_of(p, &d);
		k = kinds & HOTADD_KINDS & ~covered;
		/* A dax device becomes blocks only when the engine binds kmem: only then is the knob involved. */
		if ((kinds & DAX_KINDS & ~covered) && d.online &&
		    d.dax_mode == MP_POLICY_DAX_SYSTEM_RAM) {
			if (d.zone == MP_POLICY_ZONE_AUTO) {
				snprintf(
					why, len,
					"%s:%u: Zone=auto for dax devices (kmem's memory group size is wrong in 6.1)",
					mp_policy_path(p), mp_policy_match_line(p));
				return false;
			}
			k |= kinds & DAX_KINDS & ~covered;
		}
		covered |= kinds & (HOTADD_KINDS | DAX_KINDS);
		if (!k)
			continue;
		if (!d.online) {
			snprintf(why, len, "%s:%u says Online=no", mp_policy_path(p),
				 mp_policy_match_line(p));
			return false;
		}
		if (!have) {
			first = d;
			have = true;
		} else if (d.zone != first.zone || (d.zone == MP_POLICY_ZONE_AUTO &&
						    d.movable_ratio != first.movable_ratio)) {
			snprintf(
				why, len,
				"%s:%u puts a kind of device in another zone than the policy before it",
				mp_policy_path(p), mp_policy_match_line(p));
			return false;
		}
	}
	if ((covered & HOTADD_KINDS) != HOTADD_KINDS || !have) {
		snprintf(why, len, "no policy for %s: the knobs would online it",
			 !(covered & MP_POLICY_KIND_DIMM) ? "DIMMs" : "virtio-mem");
		return false;
	}
	for (size_t i = 0; i < e->nr_devs; i++) {
		const struct mp_device *r = &e->devs[i];

		if ((r->kind & DAX_KINDS) &&
		    (r->state == MP_DEVICE_DEVDAX || r->state == MP_DEVICE_NO_MATCH)) {
			snprintf(why, len, "%s is kept as devdax", r->key);
			return false;
		}
	}
	switch (first.zone) {
	case MP_POLICY_ZONE_MOVABLE:
		snprintf(want->auto_online, sizeof(want->auto_online), "online_movable");
		break;
	case MP_POLICY_ZONE_KERNEL:
		snprintf(want->auto_online, sizeof(want->auto_online), "online_kernel");
		break;
	default:
		snprintf(want->auto_online, sizeof(want->auto_online), "online");
		snprintf(want->policy, sizeof(want->policy), "auto-movable");
		snprintf(want->ratio, sizeof(want->ratio), "%u", first.movable_ratio);
		snprintf(want->numa, sizeof(want->numa), "Y");
		break;
	}
	snprintf(why, len, "%s:%u says Zone=%s for every hot-added device",
		 mp_policy_path(first.policy), mp_policy_match_line(first.policy),
		 mp_policy_zone_name(first.zone));
	return true;
}

/* Someone else changed the knobs (or they were never ours): let go for this run. */
static void knobs_lost(struct mp_engine *e, const struct mp_knobs *cur)
{
	char a[200], b[200];

	mp_knobs_format(&e->knobs_set, a, sizeof(a));
	mp_knobs_format(cur, b, sizeof(b));
	mp_ctx_warn(
		e->ctx,
		"kernel fast path: the knobs memplugd set (%s) now read %s: another onliner changed them; memplugd leaves them alone and decides block by block",
		a, b);
	e->knobs_held = false;
	e->knobs_foreign = true;
	mp_engine_early_drop(e, NULL);
	snprintf(e->knobs_why, sizeof(e->knobs_why), "another onliner changed the knobs (%s)", b);
	mp_engine_state_save(e);
}

bool mp_engine_knobs_check(struct mp_engine *e, const char *auto_online)
{
	struct mp_knobs cur;

	if (!e->knobs_held)
		return false;
	if (auto_online && strcmp(auto_online, e->knobs_set.auto_online)) {
		snprintf(cur.auto_online, sizeof(cur.auto_online), "%s", auto_online);
		cur.policy[0] = cur.ratio[0] = cur.numa[0] = '\0';
		knobs_lost(e, &cur);
		return false;
	}
	/*
	 * With the scan's auto_online_blocks, the other three are read only
	 * when the engine wrote them (Zone=auto): 4 reads per reconcile were
	 * ~12 syscalls of guest CPU each time while the kernel adds a DIMM.
	 */
	if (!auto_online || e->knobs_set.policy[0]) {
		if (knobs_read(e, &cur) || !knobs_match(&e->knobs_set, &cur)) {
			knobs_lost(e, &cur);
			return false;
		}
	}
	return true;
}

static void knobs_release(struct mp_engine *e, const char *why)
{
	struct mp_knobs cur;
	char a[200];
	int err;

	if (!e->knobs_held)
		return;
	if (knobs_read(e, &cur) || !knobs_match(&e->knobs_set, &cur)) {
		knobs_lost(e, &cur);
		return;
	}
	err = knobs_restore_to(e, &e->knobs_saved, &e->knobs_set);
	mp_knobs_format(&e->knobs_saved, a, sizeof(a));
	if (err)
		mp_ctx_err(e->ctx, "kernel fast path: putting back %s failed: %s", a,
			   strerror(-err));
	else
		mp_ctx_notice(e->ctx, "kernel fast path off (%s): knobs put back: %s", why, a);
	e->knobs_held = false;
	mp_engine_early_drop(e, NULL);
	mp_engine_state_save(e);
}

void mp_engine_knobs_update(struct mp_engine *e, bool checked)
{
	struct mp_knobs want, cur;
	char why[sizeof(e->knobs_why)], a[200];
	bool fits;
	int err;

	if (!e->knobs_enabled)
		return;
	fits = knobs_for(e, &want, why, sizeof(why));
	if (e->knobs_held) {
		if (!checked && !mp_engine_knobs_check(e, NULL))
			return;
		if (fits && !memcmp(&want, &e->knobs_set, sizeof(want)))
			return;
		knobs_release(e, fits ? "the policy now says another zone" : why);
		if (!fits || e->knobs_held)
			goto out;
	}
	if (e->knobs_foreign)
		return; /* knobs_why says who changed them */
	if (!fits)
		goto out;
	if (knobs_read(e, &cur)) {
		snprintf(why, sizeof(why), "auto_online_blocks unreadable");
		fits = false;
		goto out;
	}
	if (strcmp(cur.auto_online, "offline")) {
		/* Not ours: another onliner (a boot parameter, a udev rule, an admin). */
		snprintf(why, sizeof(why), "auto_online_blocks=%s was set by someone else",
			 cur.auto_online);
		fits = false;
		goto out;
	}
	if (want.policy[0] && !cur.policy[0]) {
		snprintf(why, sizeof(why), "no online_policy knob (kernel older than 5.15)");
		fits = false;
		goto out;
	}
	e->knobs_saved = cur;
	err = knobs_write(e, &want);
	if (err) {
		/* Roll back whatever was written: never leave half a setting. */
		knobs_restore_to(e, &cur, &want);
		snprintf(why, sizeof(why), "setting the knobs failed: %s", strerror(-err));
		mp_ctx_warn(e->ctx, "kernel fast path: %s; deciding block by block", why);
		fits = false;
		goto out;
	}
	e->knobs_set = want;
	e->knobs_held = true;
	e->knobs_since_us = mp_now_us();
	mp_knobs_format(&want, a, sizeof(a));
	mp_ctx_notice(e->ctx, "kernel fast path on (%s): %s; memplugd verifies and reports", why,
		      a);
	mp_engine_state_save(e);
out:
	if (!fits && strcmp(why, e->knobs_why))
		mp_ctx_info(e->ctx, "kernel fast path off: %s", why);
	snprintf(e->knobs_why, sizeof(e->knobs_why), "%s", why);
}

void mp_engine_knobs_stop(struct mp_engine *e)
{
	if (e->knobs_enabled)
		knobs_release(e, "memplugd stops");
}

bool mp_engine_fast_path(const struct mp_engine *e, char *why, size_t len)
{
	if (why && len) {
		char a[200];

		if (e->knobs_held) {
			mp_knobs_format(&e->knobs_set, a, sizeof(a));
			snprintf(why, len, "%s (%s)", a, e->knobs_why);
		} else {
			snprintf(why, len, "%s", e->knobs_enabled ? e->knobs_why : "not enabled");
		}
	}
	return e->knobs_held;
}

/* ---- samples taken while the kernel adds -------------------------------------- */

/*
 * On the fast path the kernel onlines a DIMM's blocks one after the other
 * inside add_memory(), and only then links them to their ACPI device
 * (acpi_memory_enable_device(): __add_memory(), then
 * acpi_bind_memory_blocks()).  Until the link is there the engine cannot
 * tell whose blocks they are, so it could only wait; it samples them
 * instead (the sub-section kpageflags and the iomem coverage: the bulk of
 * a check), each as soon as a scan finds it online, while the kernel
 * still onlines the rest on another CPU.  When the device is complete
 * only state and valid_zones are left to read and judge.  A sample is
 * void once its block reads anything but online (scan) or has an offline
 * or remove uevent (mp_engine_block_uevent()): it then is read again.
 */

/* A sample nobody used after this long (the block stayed unidentified): dropped. */
#define EARLY_MAX_AGE_US (4u * 1000 * 1000)

static bool early_new(const struct mp_engine *e, const struct mp_block *b)
{
	/* Not yet linked to its ACPI device (seen as boot memory), or a DIMM's. */
	return (b->dev.kind == MP_DEV_BOOT || b->dev.kind == MP_DEV_DIMM) &&
	       mp_engine_came_online(e->mem, b);
}

static void early_remove(struct mp_engine *e, size_t i)
{
	e->early[i] = e->early[--e->nr_early];
}

void mp_engine_early_sample(struct mp_engine *e, const struct mp_memory *mem)
{
	struct mp_kpageflags *kpf = NULL;
	uint64_t now = mp_now_us();
	bool opened = false;

	for (size_t i = 0; i < e->nr_early;) {
		const struct mp_block *b = mp_memory_find(mem, e->early[i].id);

		if (!b || b->state != MP_BLOCK_ONLINE || now - e->early[i].at_us > EARLY_MAX_AGE_US)
			early_remove(e, i);
		else
			i++;
	}
	/* Only blocks the kernel onlines under the engine's knobs, seen coming online. */
	if (!e->knobs_held || !e->mem)
		return;
	for (size_t i = 0; i < mem->nr; i++) {
		const struct mp_block *b = &mem->blocks[i];
		struct mp_block_sample s;

		if (!early_new(e, b) || mp_block_sample_find(e->early, e->nr_early, b->id))
			continue;
		if (!opened) {
			opened = true;
			if (mp_kpageflags_open(e->ctx, &kpf))
				kpf = NULL;
		}
		/* An unreadable kpageflags is judged later, like any other verification's. */
		mp_block_sample(e->ctx, &mem->geo, mem->iomem, kpf, b->id, &s);
		if (MP_ARRAY_PUSH(e->early, e->nr_early, s))
			break;
	}
	mp_kpageflags_close(kpf);
}

void mp_engine_early_drop(struct mp_engine *e, const struct mp_devgroup *g)
{
	if (!g) {
		e->nr_early = 0;
		return;
	}
	for (size_t i = 0; i < e->nr_early;) {
		bool mine = false;

		for (size_t j = 0; j < g->nr && !mine; j++)
			mine = g->ids[j] == e->early[i].id;
		if (mine)
			early_remove(e, i);
		else
			i++;
	}
}

void mp_engine_block_uevent(struct mp_engine *e, const char *action, uint64_t id)
{
	const struct mp_block_sample *s;

	mp_engine_changed(e, id);
	if (strcmp(action, "offline") && strcmp(action, "remove"))
		return;
	s = mp_block_sample_find(e->early, e->nr_early, id);
	if (s)
		early_remove(e, (size_t)(s - e->early));
}
