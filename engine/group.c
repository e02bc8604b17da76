// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Devices from a block scan: grouping blocks by the device they belong to,
 * the policy subject and zone facts of a group, and its decision.
 * § numbers refer to ../shared/KERNEL-RULES.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-engine.h"
#include "util.h"

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
	if (MP_ARRAY_PUSH(g->ids, g->nr, b->id))
		return -ENOMEM;
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
			struct mp_iomem_span kmem;

			mp_iomem_kmem(mem->iomem, g->dev.name, &kmem, NULL, 0);
			g->nr_expected = kmem.bytes ? kmem.bytes / bs : g->nr;
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
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	s->kind = g->pkind;
	s->node = g->mixed_nodes ? -1 : g->node;
	s->start = g->start;
	s->size = g->size;
	/* The names live in the group: the subject is valid as long as @g is. */
	if (g->dev.name[0])
		s->ids[n++] = g->dev.name;
	if (g->dev.acpi[0])
		s->ids[n++] = g->dev.acpi;
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

void mp_dax_subject(const struct mp_dax_dev *x, struct mp_policy_subject *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = x->from_nvdimm ? MP_POLICY_KIND_NVDIMM : MP_POLICY_KIND_DAX;
	s->node = x->target_node >= 0 ? x->target_node : x->numa_node;
	s->start = x->start;
	s->size = x->size;
	s->ids[0] = x->name;
}

int mp_devgroup_decide_zone(const struct mp_devgroup *g, const struct mp_memory *mem,
			    uint64_t new_bytes, struct mp_policy_decision *d)
{
	struct mp_policy_subject s;
	struct mp_zone_facts node_f, all_f;
	bool was_auto = d->zone == MP_POLICY_ZONE_AUTO;
	int err;

	mp_devgroup_subject(g, &s);
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

int mp_devgroup_decide(const struct mp_policyset *set, const struct mp_devgroup *g,
		       const struct mp_memory *mem, uint64_t new_bytes,
		       struct mp_policy_decision *d)
{
	struct mp_policy_subject s;
	int err;

	mp_devgroup_subject(g, &s);
	err = mp_policyset_match(set, &s, d);
	if (err)
		return err;
	if (!d->online)
		return -ENODATA;
	return mp_devgroup_decide_zone(g, mem, new_bytes, d);
}
