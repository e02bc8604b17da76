// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * From a block scan to decisions and their execution: grouping blocks by
 * device, building the policy subject and zone facts, onlining and
 * verifying.  § numbers refer to ../shared/KERNEL-RULES.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mp-apply.h"
#include "util.h"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

enum mp_policy_kind mp_policy_kind_of_dev(const struct mp_devref *d, const struct mp_dax_dev *dax,
					  size_t nr_dax)
{
	switch (d->kind) {
	case MP_DEV_DIMM:
		return MP_POLICY_KIND_DIMM;
	case MP_DEV_VIRTIO_MEM:
		return MP_POLICY_KIND_VIRTIO_MEM;
	case MP_DEV_BOOT:
		return MP_POLICY_KIND_BOOT;
	case MP_DEV_DAX:
		for (size_t i = 0; i < nr_dax; i++)
			if (!strcmp(dax[i].name, d->name))
				return dax[i].from_nvdimm ? MP_POLICY_KIND_NVDIMM :
							    MP_POLICY_KIND_DAX;
		return MP_POLICY_KIND_DAX;
	default:
		return 0;
	}
}

/* The resource that delimits a block's device: see mp_devgroups_build(). */
static const struct mp_iomem_res *extent_res(const struct mp_memory *mem, const struct mp_block *b)
{
	const struct mp_iomem_res *r;

	if (!mem->iomem)
		return NULL;
	r = mp_iomem_find_sysram(mem->iomem, b->start, b->start + b->size - 1);
	if (!r)
		return NULL;
	switch (b->dev.kind) {
	case MP_DEV_DAX:
	case MP_DEV_VIRTIO_MEM:
		/* "System RAM (kmem)" under daxX.Y, "System RAM (virtio_mem)" under virtioN. */
		return r->parent ? r->parent : r;
	default:
		return r;
	}
}

static void group_key(const struct mp_block *b, char *key, size_t len)
{
	char dev[48];

	if (b->dev.kind == MP_DEV_BOOT && b->state != MP_BLOCK_ONLINE) {
		/* Plain System RAM, no firmware_node (yet), offline: see mp_devgroups_build(). */
		snprintf(key, len, "unknown:memory%llu", (unsigned long long)b->id);
		return;
	}
	if (b->dev.kind == MP_DEV_DIMM && !b->dev.name[0]) {
		snprintf(key, len, "dimm:%s", b->dev.acpi);
		return;
	}
	snprintf(key, len, "%s", mp_devref_format(&b->dev, dev, sizeof(dev)));
}

static int add_block(struct mp_devgroup *g, const struct mp_block *b)
{
	uint64_t *ids = realloc(g->ids, (g->nr + 1) * sizeof(*ids));

	if (!ids)
		return -ENOMEM;
	g->ids = ids;
	g->ids[g->nr++] = b->id;
	if (b->state == MP_BLOCK_OFFLINE)
		g->nr_offline++;
	else if (b->state == MP_BLOCK_ONLINE)
		g->nr_online++;
	else
		g->nr_other++;
	if (b->node < 0)
		g->nr_unlinked++;
	else if (g->node < 0)
		g->node = b->node;
	else if (g->node != b->node)
		g->mixed_nodes = true;
	return 0;
}

int mp_devgroups_build(const struct mp_memory *mem, const struct mp_dax_dev *dax, size_t nr_dax,
		       struct mp_devgroup **out, size_t *nr)
{
	struct mp_devgroup *groups = NULL;
	size_t n = 0;

	for (size_t i = 0; i < mem->nr; i++) {
		const struct mp_block *b = &mem->blocks[i];
		const struct mp_iomem_res *r;
		struct mp_devgroup *g = NULL;
		char key[48];

		group_key(b, key, sizeof(key));
		for (size_t j = 0; j < n; j++)
			if (!strcmp(groups[j].key, key)) {
				g = &groups[j];
				break;
			}
		if (!g) {
			struct mp_devgroup *ng = realloc(groups, (n + 1) * sizeof(*ng));

			if (!ng)
				goto out_nomem;
			groups = ng;
			g = &groups[n++];
			memset(g, 0, sizeof(*g));
			snprintf(g->key, sizeof(g->key), "%s", key);
			g->dev = b->dev;
			g->node = -1;
			g->pkind = b->dev.kind == MP_DEV_BOOT && b->state != MP_BLOCK_ONLINE ?
					   0 :
					   mp_policy_kind_of_dev(&b->dev, dax, nr_dax);
			r = extent_res(mem, b);
			if (r && b->dev.kind != MP_DEV_BOOT) {
				g->start = r->start;
				g->size = r->end - r->start + 1;
			} else {
				g->start = b->start;
				g->size = b->size;
			}
		} else if (b->dev.kind == MP_DEV_BOOT) {
			/* Boot memory is one group; its extent is just what the blocks span. */
			g->size = b->start + b->size - g->start;
		} else if (b->dev.kind == MP_DEV_DAX && (r = extent_res(mem, b)) &&
			   r->start < g->start) {
			g->size += g->start - r->start;
			g->start = r->start;
		}
		if (add_block(g, b))
			goto out_nomem;
	}
	for (size_t j = 0; j < n; j++) {
		struct mp_devgroup *g = &groups[j];
		uint64_t bs = mem->geo.block_size;

		if (g->dev.kind == MP_DEV_DAX) {
			/* kmem's System RAM is block aligned (§8): count what it added. */
			uint64_t bytes = 0;
			const struct mp_iomem_res *r = mp_iomem_find(mem->iomem, g->start);

			while (r && strcmp(r->name, g->dev.name))
				r = r->parent;
			for (const struct mp_iomem_res *k = r ? r->child : NULL; k; k = k->sibling)
				if (!strcmp(k->name, "System RAM (kmem)"))
					bytes += k->end - k->start + 1;
			g->nr_expected = bytes ? bytes / bs : g->nr;
			/*
			 * Policies match the dax device as sysfs describes it (the
			 * same subject memplugd used to pick Mode=system-ram), not
			 * the trimmed range kmem added (§8).
			 */
			for (size_t k = 0; k < nr_dax; k++)
				if (!strcmp(dax[k].name, g->dev.name) && dax[k].size) {
					g->start = dax[k].start;
					g->size = dax[k].size;
					if (g->node < 0 && dax[k].target_node >= 0)
						g->node = dax[k].target_node;
				}
		} else if (g->dev.kind == MP_DEV_DIMM) {
			g->nr_expected = (g->start % bs || g->size % bs) ? g->nr : g->size / bs;
		} else {
			g->nr_expected = g->nr;
		}
	}
	*out = groups;
	*nr = n;
	return 0;

out_nomem:
	mp_devgroups_free(groups, n);
	return -ENOMEM;
}

void mp_devgroups_free(struct mp_devgroup *groups, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(groups[i].ids);
	free(groups);
}

bool mp_devgroup_complete(const struct mp_devgroup *g)
{
	if (!g->pkind)
		return false;
	if (g->nr_unlinked)
		return false;
	return g->nr >= g->nr_expected;
}

struct mp_devgroup *mp_devgroup_find_block(struct mp_devgroup *groups, size_t nr, uint64_t id)
{
	for (size_t i = 0; i < nr; i++)
		for (size_t j = 0; j < groups[i].nr; j++)
			if (groups[i].ids[j] == id)
				return &groups[i];
	return NULL;
}

void mp_devgroup_subject(const struct mp_devgroup *g, struct mp_policy_subject *s)
{
	struct mp_devgroup *mg = (struct mp_devgroup *)g;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	s->kind = g->pkind;
	s->node = g->mixed_nodes ? -1 : g->node;
	s->start = g->start;
	s->size = g->size;
	if (g->dev.name[0]) {
		snprintf(mg->ids_buf[n], sizeof(mg->ids_buf[n]), "%s", g->dev.name);
		s->ids[n] = mg->ids_buf[n];
		n++;
	}
	if (g->dev.acpi[0]) {
		snprintf(mg->ids_buf[n], sizeof(mg->ids_buf[n]), "%s", g->dev.acpi);
		s->ids[n] = mg->ids_buf[n];
		n++;
	}
}

void mp_zone_facts_scan(const struct mp_memory *mem, int node, struct mp_zone_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->node = node;
	for (size_t i = 0; i < mem->nr; i++) {
		const struct mp_block *b = &mem->blocks[i];
		uint64_t bytes = mem->iomem ? b->sysram_bytes : b->size;

		if (b->state != MP_BLOCK_ONLINE || (node >= 0 && b->node != node))
			continue;
		if (!strcmp(b->zones, "Movable"))
			f->movable += bytes;
		else if (b->dev.kind == MP_DEV_BOOT)
			/* present_early_pages: boot memory only; hot-added kernel memory doesn't raise the cap. */
			f->kernel_early += bytes;
	}
}

int mp_devgroup_decide(const struct mp_policyset *set, const struct mp_devgroup *g,
		       const struct mp_memory *mem, uint64_t new_bytes,
		       struct mp_policy_decision *d)
{
	struct mp_policy_subject s;
	struct mp_zone_facts node_f, all_f;
	bool was_auto;
	int err;

	mp_devgroup_subject(g, &s);
	err = mp_policyset_match(set, &s, d);
	if (err)
		return err;
	if (!d->online)
		return -ENODATA;
	was_auto = d->zone == MP_POLICY_ZONE_AUTO;
	/* The ratio weighs what is about to be added, not the whole extent. */
	s.size = new_bytes;
	mp_zone_facts_scan(mem, s.node, &node_f);
	err = mp_policy_decide_zone(d, &s, &node_f);
	if (err)
		return err;
	if (was_auto && d->zone == MP_POLICY_ZONE_MOVABLE && s.node >= 0) {
		char why[MP_POLICY_WHY_LEN];
		size_t n = strlen(d->zone_why);

		/* auto-movable checks all nodes together too (auto_movable_can_online_movable()). */
		mp_zone_facts_scan(mem, -1, &all_f);
		if (mp_policy_auto_movable(d->movable_ratio, &all_f, new_bytes, why, sizeof(why)) ==
		    MP_POLICY_ZONE_KERNEL) {
			d->zone = MP_POLICY_ZONE_KERNEL;
			snprintf(d->zone_why + n, sizeof(d->zone_why) - n, "; all nodes: %s", why);
		}
	}
	return 0;
}

void mp_memory_read_zones_safe(const struct mp_ctx *ctx, struct mp_memory *mem, const uint64_t *ids,
			       size_t nr_ids)
{
	for (size_t i = 0; i < mem->nr; i++) {
		struct mp_block *b = &mem->blocks[i];

		if (b->state != MP_BLOCK_ONLINE)
			continue;
		if (mp_block_read_zones(ctx, b->id, b->zones, sizeof(b->zones)))
			b->zones[0] = '\0';
	}
	for (size_t i = 0; i < nr_ids; i++) {
		struct mp_block *b = mp_memory_find(mem, ids[i]);

		if (!b || b->state != MP_BLOCK_OFFLINE || b->node < 0)
			continue;
		if (mp_block_read_zones(ctx, b->id, b->zones, sizeof(b->zones)))
			b->zones[0] = '\0';
	}
}

static int kernel_write(void *priv, const struct mp_ctx *ctx, uint64_t id, const char *word)
{
	return mp_block_write_state(ctx, id, word, 0);
}

static const struct mp_apply_ops kernel_ops = { .write_state = kernel_write };

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

int mp_devgroup_online(const struct mp_ctx *ctx, const struct mp_memory *mem,
		       const struct mp_devgroup *g, enum mp_policy_zone zone,
		       enum mp_verify_level level, const struct mp_apply_ops *ops,
		       struct mp_group_outcome *out)
{
	const char *word = zone == MP_POLICY_ZONE_MOVABLE ? "online_movable" : "online_kernel";
	enum mp_zone_want want =
		zone == MP_POLICY_ZONE_MOVABLE ? MP_ZONE_WANT_MOVABLE : MP_ZONE_WANT_KERNEL;
	struct mp_kpageflags *kpf = NULL;
	struct mp_iomem *io = NULL;
	uint64_t t0, t1;
	int ret = 0;

	if (!ops)
		ops = &kernel_ops;
	memset(out, 0, sizeof(*out));
	out->blocks = calloc(g->nr ? g->nr : 1, sizeof(*out->blocks));
	if (!out->blocks)
		return -ENOMEM;
	t0 = now_us();
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
	t1 = now_us();
	out->online_us = t1 - t0;

	if (level == MP_VERIFY_FULL && out->onlined) {
		/* One iomem read after all writes: the verification sees the final tree. */
		if (mp_iomem_read(ctx, &io))
			io = NULL;
		if (mp_kpageflags_open(ctx, &kpf))
			kpf = NULL;
	}
	for (size_t i = 0; i < out->nr; i++) {
		struct mp_block_outcome *bo = &out->blocks[i];

		if (!bo->err) {
			/*
			 * virtio-mem keeps unplugged sub-blocks PageOffline and may
			 * leave parts of a block unplugged: coverage and NOPAGE are
			 * judged on the whole block only for other devices.
			 */
			bool partial_ok = g->dev.kind == MP_DEV_VIRTIO_MEM;

			if (mp_block_verify(ctx, &mem->geo, partial_ok ? NULL : io,
					    partial_ok ? NULL : kpf, bo->id, want, level,
					    &bo->check)) {
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
	out->verify_us = now_us() - t1;
	mp_kpageflags_close(kpf);
	mp_iomem_free(io);
	if (out->failed)
		ret = -EIO;
	return ret;
}

void mp_group_outcome_free(struct mp_group_outcome *o)
{
	free(o->blocks);
	o->blocks = NULL;
	o->nr = 0;
}
