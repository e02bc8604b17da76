// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugd's reconciliation: after every burst of uevents (or at start-up,
 * or on ENOBUFS), scan, group blocks by device, and take each device that
 * memplugd has not decided yet through policy -> online -> verify.
 *
 * Reconciling from a fresh scan rather than from the uevents themselves
 * makes a lost event, a restart, or a device that arrived before memplugd
 * all the same case.  The uevents only say *when* to look.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "memplugd.h"
#include "util.h"

/*
 * How long a device may stay incomplete (blocks missing, node or
 * firmware_node links not there yet) before memplugd decides on what it has
 * or, for memory with no device at all, reports it and leaves it alone.
 * The links follow the add uevents within milliseconds (§10).
 */
#define SETTLE_MAX_US (2u * 1000 * 1000)

uint64_t mpd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *mpd_rec_state_name(enum rec_state s)
{
	static const char *const names[] = {
		[REC_SETTLING] = "settling",
		[REC_ONLINE] = "online",
		[REC_PARTIAL] = "partial",
		[REC_OTHER] = "other-onliner",
		[REC_NO_MATCH] = "no-policy",
		[REC_LEFT_OFFLINE] = "left-offline",
		[REC_DEVDAX] = "devdax",
		[REC_KMEM] = "kmem-bound",
		[REC_BOOT] = "boot",
		[REC_OFFLINED] = "offlined-by-other",
		[REC_UNIDENTIFIED] = "unidentified",
		[REC_FAILED] = "failed",
	};

	return s < MP_ARRAY_SIZE(names) && names[s] ? names[s] : "unknown";
}

bool mpd_rec_final(const struct rec *r)
{
	return r->state != REC_SETTLING && r->state != REC_KMEM;
}

struct rec *mpd_rec_find(struct daemon *d, const char *key)
{
	for (size_t i = 0; i < d->nr_recs; i++)
		if (!strcmp(d->recs[i].key, key))
			return &d->recs[i];
	return NULL;
}

/* ---- persisted state: what an earlier run onlined ------------------------ */

/*
 * /run/memplug/state.json lists the devices memplugd decided, with the zone,
 * written before the first block is onlined and again when done.  /run is
 * tmpfs: it survives a daemon restart (crash, SIGKILL, upgrade) but not a
 * reboot, which is exactly the lifetime of "this memory was onlined by us".
 * Without it a restarted memplugd would take its own earlier work for
 * another onliner's, and could not finish a device it was killed in the
 * middle of with the zone it had chosen.
 */
struct persisted {
	char key[48];
	uint64_t start;
	char zone[16];
	bool done;
};

static struct persisted *persist;
static size_t nr_persist;

void mpd_state_load(struct daemon *d)
{
	struct json_object *root, *devs;

	if (!d->state_path || !d->state_path[0])
		return;
	root = json_object_from_file(d->state_path);
	if (!root)
		return;
	if (json_object_object_get_ex(root, "devices", &devs) &&
	    json_object_is_type(devs, json_type_array)) {
		size_t n = json_object_array_length(devs);

		persist = calloc(n ? n : 1, sizeof(*persist));
		for (size_t i = 0; persist && i < n; i++) {
			struct json_object *o = json_object_array_get_idx(devs, i), *v;
			struct persisted *p = &persist[nr_persist];

			if (!json_object_object_get_ex(o, "key", &v))
				continue;
			snprintf(p->key, sizeof(p->key), "%s", json_object_get_string(v));
			if (json_object_object_get_ex(o, "start", &v))
				p->start = (uint64_t)json_object_get_int64(v);
			if (json_object_object_get_ex(o, "zone", &v))
				snprintf(p->zone, sizeof(p->zone), "%s", json_object_get_string(v));
			if (json_object_object_get_ex(o, "done", &v))
				p->done = json_object_get_boolean(v);
			nr_persist++;
		}
	}
	json_object_put(root);
	if (nr_persist)
		mp_info("%s: %zu device(s) onlined by an earlier run", d->state_path, nr_persist);
}

static struct persisted *persisted_find(const char *key, uint64_t start)
{
	for (size_t i = 0; i < nr_persist; i++)
		if (!strcmp(persist[i].key, key) && persist[i].start == start)
			return &persist[i];
	return NULL;
}

static void state_save(struct daemon *d)
{
	struct json_object *root, *devs;
	char tmp[PATH_MAX];

	if (!d->state_path || !d->state_path[0])
		return;
	root = json_object_new_object();
	devs = json_object_new_array();
	json_object_object_add(root, "devices", devs);
	for (size_t i = 0; i < d->nr_recs; i++) {
		struct rec *r = &d->recs[i];
		struct json_object *o;

		if (!r->zone[0] || (r->state != REC_ONLINE && r->state != REC_PARTIAL &&
				    r->state != REC_SETTLING && r->state != REC_KMEM))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "key", json_object_new_string(r->key));
		json_object_object_add(o, "start", json_object_new_int64((int64_t)r->start));
		json_object_object_add(o, "zone", json_object_new_string(r->zone));
		json_object_object_add(o, "done", json_object_new_boolean(mpd_rec_final(r)));
		json_object_array_add(devs, o);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->state_path);
	if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PLAIN) < 0 ||
	    rename(tmp, d->state_path) < 0)
		mp_warn("%s: cannot save state: %s", d->state_path, strerror(errno));
	json_object_put(root);
}

/* ---- policies ---------------------------------------------------------------- */

int mpd_reload(struct daemon *d, bool first)
{
	struct mp_policy_errors *errs = NULL;
	struct mp_policyset *set = NULL;
	size_t n;
	int err;

	err = mp_policyset_load(d->policy_dirs, 0, &set, &errs);
	n = mp_policy_errors_count(errs);
	if (err) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		for (size_t i = 0; i < n; i++) {
			const struct mp_policy_diag *e = mp_policy_errors_get(errs, i);

			mp_err("%s:%u: %s", e->file, e->line, e->msg);
		}
		if (f) {
			mp_policy_errors_print(errs, f);
			fclose(f);
			free(d->policy_errors);
			d->policy_errors = buf;
		}
		mp_policy_errors_free(errs);
		if (first)
			mp_err("%zu problem%s: configuration refused", n, n == 1 ? "" : "s");
		else
			mp_err("reload refused (%zu problem%s): keeping the %zu policies in force",
			       n, n == 1 ? "" : "s", mp_policyset_count(d->set));
		return err;
	}
	mp_policy_errors_free(errs);
	free(d->policy_errors);
	d->policy_errors = NULL;
	mp_policyset_unref(d->set);
	d->set = set;
	mp_notice("%zu polic%s in force", mp_policyset_count(set),
		  mp_policyset_count(set) == 1 ? "y" : "ies");
	for (size_t i = 0; i < mp_policyset_count(set); i++)
		mp_info("  %s", mp_policy_path(mp_policyset_get(set, i)));
	return 0;
}

/* ---- model helpers ----------------------------------------------------------- */

static struct rec *rec_add(struct daemon *d, const char *key)
{
	struct rec *nr = realloc(d->recs, (d->nr_recs + 1) * sizeof(*nr)), *r;

	if (!nr)
		return NULL;
	d->recs = nr;
	r = &d->recs[d->nr_recs++];
	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->node = -1;
	r->first_seen_us = mpd_now_us();
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

static void expect_add(struct daemon *d, uint64_t id)
{
	uint64_t *e = realloc(d->expect, (d->nr_expect + 1) * sizeof(*e));

	if (!e)
		return;
	d->expect = e;
	d->expect[d->nr_expect++] = id;
}

bool mpd_uevent_expected(struct daemon *d, uint64_t id)
{
	for (size_t i = 0; i < d->nr_expect; i++)
		if (d->expect[i] == id) {
			d->expect[i] = d->expect[--d->nr_expect];
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

/* ---- dax devices ---------------------------------------------------------- */

static void handle_dax(struct daemon *d, const struct mp_memory *mem, const struct mp_dax_dev *x,
		       enum mp_policy_kind kind)
{
	struct mp_policy_decision dec;
	struct mp_policy_subject s = { 0 };
	char key[48], sz[16];
	struct rec *r;
	int err;

	snprintf(key, sizeof(key), "dax:%s", x->name);
	r = mpd_rec_find(d, key);
	if (!r) {
		r = rec_add(d, key);
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
		if (r->state == REC_SETTLING && !r->trim_known)
			/* Bound before memplugd looked (daxctl, an earlier run): the blocks decide. */
			snprintf(r->message, sizeof(r->message), "already bound to kmem");
		if (r->state == REC_SETTLING)
			r->state = REC_KMEM;
		return;
	}
	if (r->state != REC_SETTLING)
		return;
	s.kind = kind;
	s.node = x->target_node >= 0 ? x->target_node : x->numa_node;
	s.start = x->start;
	s.size = x->size;
	s.ids[0] = x->name;
	err = mp_policyset_match(d->set, &s, &dec);
	if (err) {
		r->state = REC_NO_MATCH;
		snprintf(r->message, sizeof(r->message), "no policy matches: left as devdax");
		mp_notice("%s: %s", key, r->message);
		return;
	}
	snprintf(r->policy, sizeof(r->policy), "%s:%u", mp_policy_path(dec.policy),
		 mp_policy_match_line(dec.policy));
	if (dec.dax_mode != MP_POLICY_DAX_SYSTEM_RAM) {
		r->state = REC_DEVDAX;
		snprintf(r->message, sizeof(r->message), "Mode=devdax: left as /dev/%s", x->name);
		mp_notice("%s: %s (policy %s)", key, r->message, r->policy);
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
	mp_notice("%s: Mode=system-ram (policy %s): %s", key, r->policy, r->trim_text);
	err = mp_dax_bind_kmem(d->ctx, x->name);
	if (err) {
		r->state = REC_FAILED;
		snprintf(r->message, sizeof(r->message), "binding kmem failed: %s", strerror(-err));
		mp_err("%s: %s", key, r->message);
		return;
	}
	r->state = REC_KMEM;
	snprintf(r->message, sizeof(r->message), "bound to kmem, waiting for its blocks");
	mp_info("%s: %s", key, r->message);
	d->dirty = true;
}

static void check_trim(struct daemon *d, struct rec *r, const struct mp_devgroup *g)
{
	struct mp_iomem *io;
	struct mp_dax_check c;

	if (!r->trim_known || r->trim_checked)
		return;
	if (mp_iomem_read(d->ctx, &io))
		return;
	mp_dax_verify_trim(io, g->dev.name, &r->trim, &c);
	mp_iomem_free(io);
	r->trim_checked = true;
	r->trim_ok = c.ok;
	if (c.ok) {
		mp_notice(
			"%s: kmem trim as predicted: System RAM (kmem) 0x%llx-0x%llx, %llu bytes stranded",
			r->key, (unsigned long long)c.kmem_start, (unsigned long long)c.kmem_end,
			(unsigned long long)(r->trim.stranded_head + r->trim.stranded_tail));
	} else {
		d->violations++;
		mp_err("kernel-rule violation: %s: %s", r->key, c.evidence);
		snprintf(r->trim_text, sizeof(r->trim_text), "%s", c.evidence);
	}
}

/* ---- memory devices ---------------------------------------------------------- */

static void report_once(struct rec *r, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_once(struct rec *r, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	if (r->reported)
		return;
	r->reported = true;
	mp_log(level, "%s: %s", r->key, r->message);
}

static enum mp_verify_level verify_level(enum mp_policy_verify v)
{
	return v == MP_POLICY_VERIFY_NONE  ? MP_VERIFY_NONE :
	       v == MP_POLICY_VERIFY_STATE ? MP_VERIFY_STATE :
					     MP_VERIFY_FULL;
}

static void online_group(struct daemon *d, const struct mp_memory *mem, struct mp_devgroup *g,
			 struct rec *r, struct persisted *p)
{
	struct mp_policy_decision dec;
	enum mp_policy_zone zone;
	enum mp_verify_level level = MP_VERIFY_FULL;
	struct mp_group_outcome out;
	uint64_t t0 = mpd_now_us();
	int err;

	if (p && p->zone[0]) {
		/* An earlier run decided this device: finish it the same way. */
		zone = strcmp(p->zone, "movable") ? MP_POLICY_ZONE_KERNEL : MP_POLICY_ZONE_MOVABLE;
		snprintf(r->zone_why, sizeof(r->zone_why), "decided by an earlier run");
	} else {
		err = mp_devgroup_decide(d->set, g, mem, g->nr_offline * mem->geo.block_size, &dec);
		if (err == -ENOENT) {
			r->state = REC_NO_MATCH;
			report_once(r, LOG_NOTICE, "no policy matches: %s left offline", r->blocks);
			return;
		}
		if (dec.policy)
			snprintf(r->policy, sizeof(r->policy), "%s:%u", mp_policy_path(dec.policy),
				 mp_policy_match_line(dec.policy));
		if (err == -ENODATA) {
			r->state = REC_LEFT_OFFLINE;
			report_once(r, LOG_NOTICE, "Online=no (policy %s): %s left offline",
				    r->policy, r->blocks);
			return;
		}
		if (err) {
			r->state = REC_FAILED;
			report_once(r, LOG_ERR, "cannot decide: %s", strerror(-err));
			return;
		}
		zone = dec.zone;
		level = verify_level(dec.verify);
		snprintf(r->zone_why, sizeof(r->zone_why), "%s", dec.zone_why);
	}
	snprintf(r->zone, sizeof(r->zone), "%s", mp_policy_zone_name(zone));
	r->decided_us = t0;
	/* Record the intent first: a restart after SIGKILL finishes with the same zone. */
	state_save(d);
	for (size_t i = 0; i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(mem, g->ids[i]);

		if (b && b->state == MP_BLOCK_OFFLINE)
			expect_add(d, b->id);
	}
	err = mp_devgroup_online(d->ctx, mem, g, zone, level, d->ops, &out);
	if (err == -ENOMEM) {
		r->state = REC_FAILED;
		report_once(r, LOG_ERR, "out of memory");
		return;
	}
	for (size_t i = 0; i < out.nr; i++) {
		struct mp_block_outcome *bo = &out.blocks[i];

		if (bo->err && !bo->by_other)
			mp_err("memory%llu: %s: %s", (unsigned long long)bo->id,
			       zone == MP_POLICY_ZONE_MOVABLE ? "online_movable" : "online_kernel",
			       strerror(-bo->err));
		else if (bo->by_other)
			mp_warn("memory%llu: %s", (unsigned long long)bo->id, bo->why);
		else
			mp_info("memory%llu: %s: ok%s%s", (unsigned long long)bo->id,
				zone == MP_POLICY_ZONE_MOVABLE ? "online_movable" : "online_kernel",
				bo->check.ok ? (level == MP_VERIFY_NONE ? ", not verified" :
									  ", verified") :
					       ", verification failed: ",
				bo->check.ok ? "" : bo->check.evidence);
		if (bo->violation)
			mp_err("kernel-rule violation: memory%llu (%s): %s",
			       (unsigned long long)bo->id, r->key, bo->why);
		/*
		 * Keep the model current: `memplugctl list` answers from it, and
		 * the next rescan may be a long idle time away.
		 */
		if (!bo->err || bo->by_other) {
			struct mp_block *b = mp_memory_find(mem, bo->id);

			if (b) {
				b->state = MP_BLOCK_ONLINE;
				if (bo->check.zone[0])
					snprintf(b->zones, sizeof(b->zones), "%s", bo->check.zone);
				else if (mp_block_read_zones(d->ctx, b->id, b->zones,
							     sizeof(b->zones)))
					b->zones[0] = '\0';
			}
		}
	}
	if (level == MP_VERIFY_FULL && g->dev.kind != MP_DEV_VIRTIO_MEM) {
		for (size_t i = 0; i < out.nr; i++) {
			struct deep *dp;

			if (out.blocks[i].err || !out.blocks[i].check.ok)
				continue;
			dp = realloc(d->deep, (d->nr_deep + 1) * sizeof(*dp));
			if (!dp)
				break;
			d->deep = dp;
			snprintf(dp[d->nr_deep].key, sizeof(dp->key), "%s", r->key);
			dp[d->nr_deep++].id = out.blocks[i].id;
		}
	}
	r->onlined += out.onlined;
	r->verified += out.verified;
	r->failed += out.failed;
	r->by_other += out.by_other;
	r->violations += out.violations;
	d->violations += out.violations;
	r->online_us = out.online_us;
	r->verify_us = out.verify_us;
	r->done_us = mpd_now_us();
	r->verified_at = time(NULL);
	if (out.by_other && !out.onlined)
		r->state = REC_OTHER;
	else if (out.failed)
		r->state = out.onlined ? REC_PARTIAL : REC_FAILED;
	else
		r->state = REC_ONLINE;
	snprintf(r->message, sizeof(r->message),
		 "%zu of %zu offline blocks onlined into %s (%s), %zu verified%s%s%s", out.onlined,
		 out.nr, r->zone, r->zone_why, out.verified,
		 out.violations ? ", KERNEL-RULE VIOLATIONS" : "",
		 out.by_other ? ", some onlined by another writer" : "",
		 out.failed ? ", some failed" : "");
	mp_notice(
		"%s: %s: %zu/%zu blocks online in %s, node %d, %zu verified, %zu violation(s), policy %s; %.1f ms online + %.1f ms verify, %.1f ms after first seen",
		r->key, r->blocks, out.onlined, out.nr, r->zone, g->node, out.verified,
		out.violations, r->policy[0] ? r->policy : "(earlier run)", out.online_us / 1000.0,
		out.verify_us / 1000.0, (r->done_us - r->first_seen_us) / 1000.0);
	mp_group_outcome_free(&out);
	if (g->dev.kind == MP_DEV_DAX)
		check_trim(d, r, g);
	state_save(d);
}

/*
 * The every-PFN kpageflags pass (mp_block_verify_pages()), one block per
 * main-loop turn after the device was reported: ~16 ms per 128 MiB block
 * under TCG, too slow to sit between device_add and "online" (the sampled
 * pass in mp_block_verify() already caught every NOPAGE failure), but still
 * done, and a failure is a violation like any other.
 */
void mpd_deep_verify_one(struct daemon *d)
{
	struct mp_block_check c;
	struct deep dp;
	struct rec *r;

	if (!d->nr_deep)
		return;
	dp = d->deep[0];
	memmove(d->deep, d->deep + 1, --d->nr_deep * sizeof(*d->deep));
	if (!d->kpf && mp_kpageflags_open(d->ctx, &d->kpf)) {
		d->nr_deep = 0;
		return;
	}
	r = mpd_rec_find(d, dp.key);
	if (mp_block_verify_pages(d->ctx, &d->mem->geo, d->kpf, dp.id, &c)) {
		mp_warn("memory%llu: kpageflags unreadable", (unsigned long long)dp.id);
	} else if (!c.ok) {
		d->violations++;
		if (r)
			r->violations++;
		mp_err("kernel-rule violation: memory%llu (%s): %s", (unsigned long long)dp.id,
		       dp.key, c.evidence);
	} else if (r) {
		r->pages_verified++;
		if (r->pages_verified == r->verified)
			mp_info("%s: page flags of all %zu blocks checked, every PFN: ok", r->key,
				r->pages_verified);
	}
	if (!d->nr_deep) {
		mp_kpageflags_close(d->kpf);
		d->kpf = NULL;
	}
}

static void handle_group(struct daemon *d, const struct mp_memory *mem, struct mp_devgroup *g)
{
	struct persisted *p;
	struct rec *r;
	uint64_t now;

	r = mpd_rec_find(d, g->key);
	if (!r) {
		r = rec_add(d, g->key);
		if (!r)
			return;
		r->start = g->start;
		r->size = g->size;
		r->kind = g->pkind;
		if (g->pkind == MP_POLICY_KIND_BOOT)
			r->state = REC_BOOT;
	}
	r->seen = true;
	r->node = g->node;
	now = mpd_now_us(); /* after rec_add(): first_seen_us must not be in the future */
	format_blocks(g, r->blocks, sizeof(r->blocks));
	p = persisted_find(g->key, g->start);
	if (p)
		r->persisted_ours = true;
	if (r->state == REC_BOOT)
		return;

	if (!g->pkind) {
		/* Offline plain System RAM: a DIMM whose links are not there yet, or not ours. */
		if (r->state != REC_SETTLING)
			return;
		if (now - r->first_seen_us < SETTLE_MAX_US) {
			d->settling = true;
			return;
		}
		r->state = REC_UNIDENTIFIED;
		report_once(
			r, LOG_NOTICE,
			"offline memory with no device (no ACPI firmware_node, not kmem or virtio-mem), probably offlined boot memory: left alone");
		return;
	}

	if (mpd_rec_final(r)) {
		if (!g->nr_offline)
			return;
		if (g->dev.kind == MP_DEV_VIRTIO_MEM &&
		    (r->state == REC_ONLINE || r->state == REC_PARTIAL)) {
			/* virtio-mem grows block by block: online what appeared (§10). */
			mp_memory_read_zones_safe(d->ctx, (struct mp_memory *)mem, g->ids, g->nr);
			online_group(d, mem, g, r, NULL);
			return;
		}
		if (r->state == REC_ONLINE) {
			r->state = REC_OFFLINED;
			r->reported = false;
			report_once(r, LOG_NOTICE,
				    "%zu block(s) offlined by someone else: not onlined again",
				    g->nr_offline);
		}
		return;
	}

	if (!mp_devgroup_complete(g) && now - r->first_seen_us < SETTLE_MAX_US) {
		d->settling = true;
		return;
	}
	if (!g->nr_offline) {
		if (r->persisted_ours) {
			r->state = REC_ONLINE;
			snprintf(r->zone, sizeof(r->zone), "%s", p->zone);
			snprintf(r->message, sizeof(r->message),
				 "onlined by an earlier memplugd run (zone %s)",
				 first_zone(mem, g));
			mp_info("%s: %s", r->key, r->message);
			return;
		}
		r->state = REC_OTHER;
		report_once(
			r, LOG_WARNING,
			"conflict: all %zu blocks (%s) were online in %s before memplugd acted: another onliner (auto_online_blocks=%s, a udev rule, daxctl?); not touched",
			g->nr, r->blocks, first_zone(mem, g),
			mem->auto_online[0] ? mem->auto_online : "?");
		return;
	}
	if (g->nr_online && !r->persisted_ours) {
		r->state = REC_OTHER;
		report_once(
			r, LOG_WARNING,
			"conflict: %zu of %zu blocks (%s) were online before memplugd acted: another onliner is at work (auto_online_blocks=%s); not fighting it",
			g->nr_online, g->nr, r->blocks,
			mem->auto_online[0] ? mem->auto_online : "?");
		return;
	}
	/* Zones of the blocks about to be onlined, for the predictions. */
	mp_memory_read_zones_safe(d->ctx, (struct mp_memory *)mem, g->ids, g->nr);
	online_group(d, mem, g, r, r->persisted_ours ? p : NULL);
}

static void check_auto_online(struct daemon *d, const struct mp_memory *mem)
{
	if (strcmp(d->auto_online, mem->auto_online)) {
		snprintf(d->auto_online, sizeof(d->auto_online), "%s", mem->auto_online);
		d->auto_online_reported = false;
	}
	if (d->auto_online_reported || !d->auto_online[0] || !strcmp(d->auto_online, "offline"))
		return;
	d->auto_online_reported = true;
	mp_warn("conflict: auto_online_blocks is '%s': the kernel onlines hot-added memory itself, before any policy applies; memplugd reports such devices and does not fight the kernel (set it to 'offline', or boot with memhp_default_state=offline)",
		d->auto_online);
}

int mpd_reconcile(struct daemon *d)
{
	struct mp_dax_dev *dax = NULL;
	struct mp_devgroup *groups = NULL;
	struct mp_memory *mem;
	size_t nr_dax = 0, ng = 0;
	int err;

	d->reconciles++;
	/* Never MP_SCAN_ZONES: see mp_memory_read_zones_safe(). */
	err = mp_memory_scan(d->ctx, MP_APPLY_SCAN, &mem);
	if (err) {
		snprintf(d->last_error, sizeof(d->last_error), "scan failed: %s", strerror(-err));
		return err;
	}
	d->scans++;
	mp_memory_read_zones_safe(d->ctx, mem, NULL, 0);
	if (mp_dax_scan(d->ctx, &dax, &nr_dax)) {
		dax = NULL;
		nr_dax = 0;
	}
	d->settling = false;
	for (size_t i = 0; i < d->nr_recs; i++)
		d->recs[i].seen = false;
	check_auto_online(d, mem);
	for (size_t i = 0; i < nr_dax; i++)
		handle_dax(d, mem, &dax[i],
			   dax[i].from_nvdimm ? MP_POLICY_KIND_NVDIMM : MP_POLICY_KIND_DAX);
	err = mp_devgroups_build(mem, dax, nr_dax, &groups, &ng);
	if (!err) {
		for (size_t i = 0; i < ng; i++)
			handle_group(d, mem, &groups[i]);
		mp_devgroups_free(groups, ng);
	}
	/* Devices gone since the last scan (ejected DIMMs, settled "unknown" blocks). */
	for (size_t i = 0; i < d->nr_recs;) {
		struct rec *r = &d->recs[i];

		if (r->seen) {
			i++;
			continue;
		}
		if (r->state != REC_SETTLING)
			mp_info("%s: gone", r->key);
		/* A DIMM plugged into the same slot later is a new device, not ours. */
		for (size_t k = 0; k < nr_persist; k++)
			if (!strcmp(persist[k].key, r->key) && persist[k].start == r->start)
				persist[k] = persist[--nr_persist];
		d->recs[i] = d->recs[--d->nr_recs];
	}
	free(dax);
	mp_memory_free(d->mem);
	d->mem = mem;
	return err;
}
