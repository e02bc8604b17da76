// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Draining a device for an unplug, and undoing it when the unplug is
 * cancelled: what the host/guest channel's prepare-unplug and
 * cancel-unplug do.  The offlining itself, all or nothing, with the
 * kernel's reason and the page-flag evidence, is mp_blocks_offline()
 * (kernel/offline.c); here it is applied to one whole device of the
 * engine's, and the engine's record of the device is kept true.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "util.h"

/* The engine's record of @g, made now if the engine has not seen it yet. */
static struct mp_device *record_of(struct mp_engine *e, const struct mp_memory *mem,
				   const struct mp_devgroup *g)
{
	struct mp_device *r = mp_engine_dev_find(e, g->key);

	if (!r) {
		r = mp_engine_dev_add(e, g->key);
		if (!r)
			return NULL;
		r->start = g->start;
		r->size = g->size;
		r->kind = g->pkind;
		r->node = g->node;
		r->state = MP_DEVICE_OTHER;
	}
	/* The zone to come back to: what the blocks are in now (all one zone for a DIMM). */
	for (size_t i = 0; !r->zone[0] && i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(mem, g->ids[i]);

		if (b && b->state == MP_BLOCK_ONLINE && b->zones[0])
			snprintf(r->zone, sizeof(r->zone), "%s",
				 strcmp(b->zones, "Movable") ? "kernel" : "movable");
	}
	return r;
}

static void install_model(struct mp_engine *e, struct mp_engine_scan *s)
{
	mp_memory_free(e->mem);
	e->mem = s->mem;
	s->mem = NULL;
}

void mp_drain_plan_free(struct mp_drain_plan *plan)
{
	free(plan->ids);
	plan->ids = NULL;
	plan->nr = 0;
}

int mp_engine_drain_prepare(struct mp_engine *e, const char *name, struct mp_drain_plan *plan)
{
	struct mp_engine_scan s;
	struct mp_devgroup *g;
	struct mp_device *r;
	int err;

	memset(plan, 0, sizeof(*plan));
	err = mp_engine_scan(e, &s);
	if (err)
		return err;
	g = mp_engine_scan_find(&s, name);
	if (!g) {
		mp_ctx_err(e->ctx, "drain: no device '%s'", name);
		err = -ENOENT;
		goto out;
	}
	if (!g->pkind || g->pkind == MP_POLICY_KIND_BOOT) {
		mp_ctx_err(e->ctx, "drain: %s is %s: not a device that can be unplugged", g->key,
			   g->pkind ? "boot memory" : "memory of no known device");
		err = -EPERM;
		goto out;
	}
	mp_memory_read_zones(e->ctx, s.mem, NULL, 0);
	r = record_of(e, s.mem, g);
	plan->ids = calloc(g->nr ? g->nr : 1, sizeof(*plan->ids));
	if (!r || !plan->ids) {
		err = -ENOMEM;
		goto out;
	}
	if (r->state == MP_DEVICE_DRAINING) {
		mp_ctx_err(e->ctx, "drain: %s: a drain is already running", r->key);
		err = -EBUSY;
		goto out;
	}
	snprintf(plan->key, sizeof(plan->key), "%s", r->key);
	plan->prev = r->state;
	/* Blocks already offline stay as they are: only the online ones are the drain's. */
	for (size_t i = 0; i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(s.mem, g->ids[i]);

		if (b && b->state != MP_BLOCK_OFFLINE)
			plan->ids[plan->nr++] = g->ids[i];
	}
	if (!plan->nr) {
		r->state = MP_DEVICE_DRAINED;
		snprintf(r->message, sizeof(r->message), "drained: all %zu blocks were offline",
			 g->nr);
		mp_ctx_notice(e->ctx, "%s: %s", r->key, r->message);
		err = 1;
	} else {
		r->state = MP_DEVICE_DRAINING;
		snprintf(r->message, sizeof(r->message), "draining %zu block(s) for an unplug",
			 plan->nr);
	}
	mp_engine_state_save(e);
	install_model(e, &s);
out:
	if (err < 0)
		mp_drain_plan_free(plan);
	mp_engine_scan_free(&s);
	return err;
}

void mp_engine_drain_finish(struct mp_engine *e, struct mp_drain_plan *plan, int err,
			    const struct mp_offline_result *res)
{
	struct mp_device *r = mp_engine_dev_find(e, plan->key);

	if (!r)
		return; /* gone meanwhile: the next scan says so */
	if (res && e->mem) {
		/* Keep the model true: list and status answer from it. */
		for (size_t i = 0; i < res->nr; i++) {
			struct mp_block *b = mp_memory_find(e->mem, res->blocks[i].id);
			enum mp_offline_outcome o = res->blocks[i].outcome;

			/* Offlined, or put back online: read at the next scan either way. */
			mp_engine_changed(e, res->blocks[i].id);
			if (b && (o == MP_OFFLINE_OFFLINED || o == MP_OFFLINE_ROLLBACK_FAILED)) {
				b->state = MP_BLOCK_OFFLINE;
				b->zones[0] = '\0';
			}
		}
	}
	if (!err) {
		r->state = MP_DEVICE_DRAINED;
		snprintf(r->message, sizeof(r->message),
			 "drained for an unplug: %zu block(s) offline (%s) in %llu ms", plan->nr,
			 r->blocks, (unsigned long long)(res ? res->elapsed_ms : 0));
		mp_ctx_notice(e->ctx, "%s: %s", r->key, r->message);
	} else if (res && res->failed >= 0 && (size_t)res->failed < res->nr) {
		const struct mp_offline_block *fb = &res->blocks[res->failed];
		bool lost = err == -ENOTRECOVERABLE;

		r->state = lost ? MP_DEVICE_FAILED : plan->prev;
		snprintf(r->message, sizeof(r->message), "drain %s: memory%llu %s (%s): %s%s",
			 lost ? "FAILED AND ROLLBACK FAILED" : "refused, rolled back",
			 (unsigned long long)fb->id, res->timed_out ? "ran out of time" : "refused",
			 strerror(-(fb->err ? fb->err : res->err)), res->why.reason,
			 lost ? "; the device is left partly offline" : "");
		mp_ctx_log(e->ctx, lost ? LOG_ERR : LOG_WARNING, "%s: %s", r->key, r->message);
	} else {
		r->state = plan->prev;
		snprintf(r->message, sizeof(r->message), "drain failed: %s", strerror(-err));
		mp_ctx_warn(e->ctx, "%s: %s", r->key, r->message);
	}
	mp_engine_state_save(e);
}

int mp_engine_drain(struct mp_engine *e, const char *name, int timeout_ms,
		    struct mp_offline_result **out)
{
	struct mp_drain_plan plan;
	int err;

	*out = NULL;
	err = mp_engine_drain_prepare(e, name, &plan);
	if (err)
		return err < 0 ? err : 0;
	err = mp_blocks_offline(e->ctx, plan.ids, plan.nr, timeout_ms, 0, out);
	mp_engine_drain_finish(e, &plan, err, *out);
	mp_drain_plan_free(&plan);
	return err;
}

int mp_engine_undrain(struct mp_engine *e, const char *name, const struct mp_device **dev)
{
	struct mp_persisted p = { 0 };
	struct mp_engine_scan s;
	struct mp_devgroup *g;
	struct mp_device *r;
	int err;

	if (dev)
		*dev = NULL;
	err = mp_engine_scan(e, &s);
	if (err)
		return err;
	g = mp_engine_scan_find(&s, name);
	r = g ? mp_engine_dev_find(e, g->key) : NULL;
	if (dev)
		*dev = r;
	if (!g || !r) {
		mp_ctx_err(e->ctx, "undrain: no drained device '%s'", name);
		err = -ENOENT;
		goto out;
	}
	if (r->state != MP_DEVICE_DRAINED) {
		mp_ctx_err(e->ctx, "undrain: %s is %s, not drained", r->key,
			   mp_device_state_name(r->state));
		err = -EINVAL;
		goto out;
	}
	/* Back into the zone it had: the decision stands, no new policy match. */
	snprintf(p.key, sizeof(p.key), "%s", r->key);
	p.start = r->start;
	snprintf(p.zone, sizeof(p.zone), "%s", r->zone[0] ? r->zone : "movable");
	p.why = "the zone it had before the drain";
	r->reported = false;
	mp_memory_read_zones(e->ctx, s.mem, g->ids, g->nr);
	mp_engine_online_group(e, s.mem, g, r, &p);
	err = r->state == MP_DEVICE_ONLINE ? 0 : -EIO;
	install_model(e, &s);
out:
	mp_engine_scan_free(&s);
	return err;
}
