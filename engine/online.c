// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Onlining one device's blocks into the zone its policy chose, and
 * verifying each against the kernel's rules.  § numbers refer to
 * ../shared/KERNEL-RULES.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-engine.h"
#include "util.h"

static int kernel_write(void *priv, const struct mp_ctx *ctx, uint64_t id, const char *word)
{
	return mp_block_write_state(ctx, id, word, 0);
}

static const struct mp_engine_ops kernel_ops = { .write_state = kernel_write };

/* A verified result that contradicts a certain prediction breaks a kernel rule. */
static void compare_prediction(struct mp_block_outcome *bo)
{
	const struct mp_prediction *p = &bo->predicted;
	size_t n = strlen(bo->why);

	if (!p->certain)
		return;
	if (p->err == 0 && bo->err && !bo->by_other) {
		bo->violation = true;
		snprintf(bo->why + n, sizeof(bo->why) - n,
			 "%spredicted success (%s) but the write failed: %s", n ? "; " : "",
			 p->rule, strerror(-bo->err));
	} else if (p->err == 0 && !bo->err && p->zone[0] && bo->check.zone[0] &&
		   strcmp(p->zone, bo->check.zone)) {
		bo->violation = true;
		snprintf(bo->why + n, sizeof(bo->why) - n,
			 "%spredicted zone %s (%s), kernel put it in %s", n ? "; " : "", p->zone,
			 p->rule, bo->check.zone);
	}
}

/*
 * Verify every outcome without an error: one iomem read and one kpageflags
 * open for all of them, after all writes, so the checks see the final tree.
 * A block sampled in @early is judged from its sample; with
 * @scanned_after, @mem's state and zones were read after the change.
 */
static void verify_outcomes(const struct mp_ctx *ctx, const struct mp_memory *mem,
			    const struct mp_devgroup *g, enum mp_zone_want want,
			    enum mp_verify_level level, const struct mp_block_sample *early,
			    size_t nr_early, bool scanned_after, struct mp_group_outcome *out)
{
	/*
	 * virtio-mem keeps unplugged sub-blocks PageOffline and may leave
	 * parts of a block unplugged: coverage and NOPAGE are judged on the
	 * whole block only for other devices.
	 */
	bool partial_ok = g->dev.kind == MP_DEV_VIRTIO_MEM;
	struct mp_kpageflags *kpf = NULL;
	struct mp_iomem *io = NULL;
	uint64_t t1 = mp_now_us();
	bool need = false;

	for (size_t i = 0; i < out->nr && !need; i++)
		need = !out->blocks[i].err &&
		       !mp_block_sample_find(early, nr_early, out->blocks[i].id);
	if (level == MP_VERIFY_FULL && need && !partial_ok) {
		/* One iomem read after all writes: the verification sees the final tree. */
		if (mp_iomem_read(ctx, &io))
			io = NULL;
		if (mp_kpageflags_open(ctx, &kpf))
			kpf = NULL;
	}
	for (size_t i = 0; i < out->nr; i++) {
		struct mp_block_outcome *bo = &out->blocks[i];

		if (!bo->err) {
			const struct mp_block_sample *s =
				partial_ok ? NULL : mp_block_sample_find(early, nr_early, bo->id);
			int err;

			if (s) {
				err = mp_block_verify_sampled(
					ctx, &mem->geo, s,
					scanned_after ? mp_memory_find(mem, bo->id) : NULL, bo->id,
					want, level, &bo->check);
				out->sampled_early++;
				out->sample_us += s->took_us;
			} else {
				err = mp_block_verify(ctx, &mem->geo, partial_ok ? NULL : io,
						      partial_ok ? NULL : kpf, bo->id, want, level,
						      &bo->check);
			}
			if (err) {
				snprintf(bo->why, sizeof(bo->why),
					 "state unreadable after onlining");
			} else if (!bo->check.ok) {
				size_t n = strlen(bo->why);

				snprintf(bo->why + n, sizeof(bo->why) - n, "%s%s", n ? "; " : "",
					 bo->check.evidence);
				bo->violation |= bo->check.violation;
			} else {
				out->verified++;
			}
		}
		compare_prediction(bo);
		if (bo->violation)
			out->violations++;
	}
	out->verify_us = mp_now_us() - t1;
	mp_kpageflags_close(kpf);
	mp_iomem_free(io);
}

int mp_devgroup_online(const struct mp_ctx *ctx, const struct mp_memory *mem,
		       const struct mp_devgroup *g, enum mp_policy_zone zone,
		       enum mp_verify_level level, const struct mp_engine_ops *ops,
		       struct mp_group_outcome *out)
{
	const char *word = zone == MP_POLICY_ZONE_MOVABLE ? "online_movable" : "online_kernel";
	enum mp_zone_want want =
		zone == MP_POLICY_ZONE_MOVABLE ? MP_ZONE_WANT_MOVABLE : MP_ZONE_WANT_KERNEL;
	uint64_t t0, t1;
	int ret = 0;

	if (!ops || !ops->write_state)
		ops = &kernel_ops;
	memset(out, 0, sizeof(*out));
	out->blocks = calloc(g->nr ? g->nr : 1, sizeof(*out->blocks));
	if (!out->blocks)
		return -ENOMEM;
	t0 = mp_now_us();
	for (size_t i = 0; i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(mem, g->ids[i]);
		struct mp_block_outcome *bo;
		struct mp_block_verdict v;
		enum mp_block_state st;

		if (!b || b->state != MP_BLOCK_OFFLINE)
			continue;
		bo = &out->blocks[out->nr++];
		bo->id = b->id;
		mp_rules_block(mem, b, NULL, &v);
		bo->predicted = zone == MP_POLICY_ZONE_MOVABLE ? v.online_movable : v.online_kernel;
		bo->err = ops->write_state(ops->priv, ctx, b->id, word);
		if (bo->err == -EINVAL && !mp_block_read_state(ctx, b->id, &st) &&
		    st == MP_BLOCK_ONLINE) {
			/* §2: asking for the current state is EINVAL: someone onlined it first. */
			bo->by_other = true;
			out->by_other++;
			snprintf(bo->why, sizeof(bo->why),
				 "EINVAL and the block reads online: another onliner won the race");
		} else if (bo->err) {
			out->failed++;
			snprintf(bo->why, sizeof(bo->why), "%s: %s", word, strerror(-bo->err));
		} else {
			out->onlined++;
		}
	}
	t1 = mp_now_us();
	out->online_us = t1 - t0;
	verify_outcomes(ctx, mem, g, want, level, NULL, 0, false, out);
	if (out->failed)
		ret = -EIO;
	return ret;
}

int mp_devgroup_verify_online(const struct mp_ctx *ctx, const struct mp_memory *mem,
			      const struct mp_devgroup *g, enum mp_policy_zone zone,
			      enum mp_verify_level level, const struct mp_block_sample *early,
			      size_t nr_early, struct mp_group_outcome *out)
{
	enum mp_zone_want want =
		zone == MP_POLICY_ZONE_MOVABLE ? MP_ZONE_WANT_MOVABLE : MP_ZONE_WANT_KERNEL;

	memset(out, 0, sizeof(*out));
	out->blocks = calloc(g->nr ? g->nr : 1, sizeof(*out->blocks));
	if (!out->blocks)
		return -ENOMEM;
	for (size_t i = 0; i < g->nr; i++) {
		const struct mp_block *b = mp_memory_find(mem, g->ids[i]);

		if (!b || b->state != MP_BLOCK_ONLINE)
			continue;
		out->blocks[out->nr++].id = b->id;
		out->onlined++;
	}
	/* The kernel onlined them before @mem was scanned: its state and zones are after the fact. */
	verify_outcomes(ctx, mem, g, want, level, early, nr_early, true, out);
	return 0;
}

void mp_group_outcome_free(struct mp_group_outcome *o)
{
	free(o->blocks);
	o->blocks = NULL;
	o->nr = 0;
}
