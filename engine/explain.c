// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the engine would do with one device, and why: `memplugctl policy
 * explain memoryN|DEVICE`.  The scan, the grouping, the subject and the
 * decision are the ones mp_engine_reconcile() uses, so the answer is what
 * memplugd does; nothing is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"

static const struct mp_dax_dev *find_dax(const struct mp_engine_scan *s, const char *name)
{
	if (!strncmp(name, "dax:", 4))
		name += 4;
	for (size_t i = 0; i < s->nr_dax; i++)
		if (!strcmp(s->dax[i].name, name))
			return &s->dax[i];
	return NULL;
}

static int explain_text(const struct mp_engine *e, const struct mp_policy_subject *subj,
			const struct mp_zone_facts *facts, FILE *f)
{
	struct mp_policy_decision d;
	char *text = NULL;
	int r;

	r = mp_policy_explain(e->set, subj, facts, &d, &text);
	if (r == -ENOMEM)
		return r;
	fputs(text, f);
	free(text);
	return r;
}

int mp_engine_explain(struct mp_engine *e, const char *name, FILE *f)
{
	struct mp_engine_scan s;
	struct mp_policy_subject subj;
	struct mp_zone_facts facts;
	struct mp_policy_decision dd;
	const struct mp_dax_dev *x;
	struct mp_devgroup *g;
	int r;

	if (!e->set) {
		mp_ctx_err(e->ctx, "explain: no policies in force");
		return -ENOENT;
	}
	r = mp_engine_scan(e, &s);
	if (r)
		return r;
	g = mp_engine_scan_find(&s, name);
	if (!g && (x = find_dax(&s, name))) {
		/* A dax device not (yet) handed to kmem has no blocks: describe it from sysfs. */
		mp_dax_subject(x, &subj);
		mp_zone_facts_scan(s.mem, subj.node, &facts);
		fprintf(f,
			"dax:%s: bound to %s, no memory blocks yet (zone facts from the block scan)\n",
			x->name, x->driver[0] ? x->driver : "no driver");
		r = explain_text(e, &subj, &facts, f);
		goto out;
	}
	if (!g) {
		mp_ctx_err(e->ctx, "explain: no %s '%s'",
			   strncmp(name, "memory", 6) ? "block or device" : "block", name);
		r = -ENOENT;
		goto out;
	}
	if (!g->pkind) {
		mp_ctx_err(
			e->ctx,
			"explain: %s: offline memory of no known device (no firmware_node, not kmem or virtio-mem): memplugd leaves it alone",
			name);
		r = -ENOENT;
		goto out;
	}
	/* valid_zones of the device asked about, as reconcile reads them before deciding. */
	mp_memory_read_zones(e->ctx, s.mem, g->ids, g->nr);
	mp_devgroup_subject(g, &subj);
	mp_zone_facts_scan(s.mem, subj.node, &facts);
	fprintf(f, "%s: memory%llu-%llu, %zu of %zu offline (zone facts from the block scan)\n",
		g->key, (unsigned long long)g->ids[0], (unsigned long long)g->ids[g->nr - 1],
		g->nr_offline, g->nr);
	r = explain_text(e, &subj, &facts, f);
	if (r)
		goto out;
	/* The engine's own decision: the same call reconcile makes, with the global cap too. */
	if (!g->nr_offline)
		fprintf(f, "all blocks are online already: memplugd would not write anything\n");
	else if (!mp_devgroup_decide(e->set, g, s.mem, g->nr_offline * s.mem->geo.block_size, &dd))
		fprintf(f, "memplugd would online %zu offline block(s) into %s: %s\n",
			g->nr_offline, mp_policy_zone_name(dd.zone), dd.zone_why);
out:
	mp_engine_scan_free(&s);
	return r;
}
