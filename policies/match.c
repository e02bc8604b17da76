// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The engine: which policy decides a device, which zone an auto policy picks,
 * and the text that says why.  Pure functions over the caller's description
 * of the device and of its node; nothing here reads the system.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"
#include "util.h"

static bool size_holds(const struct mp_size_cmp *c, uint64_t size)
{
	switch (c->op) {
	case MP_SIZE_EQ:
		return size == c->bytes;
	case MP_SIZE_NE:
		return size != c->bytes;
	case MP_SIZE_LT:
		return size < c->bytes;
	case MP_SIZE_LE:
		return size <= c->bytes;
	case MP_SIZE_GT:
		return size > c->bytes;
	case MP_SIZE_GE:
		return size >= c->bytes;
	}
	return false;
}

static size_t subject_ids(const struct mp_policy_subject *s)
{
	size_t n = 0;

	while (n < MP_POLICY_SUBJECT_IDS && s->ids[n])
		n++;
	return n;
}

static bool refuse(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return false;
}

bool mp_policy_matches(const struct mp_policy *p, const struct mp_policy_subject *s, char *why,
		       size_t len)
{
	char a[64], b[64], c[64];
	size_t i, nids;

	if (!p->match_line)
		return refuse(why, len, "no [Match] section: a [Grow]-only file decides no device");
	if (p->has_kind && !(p->kinds & s->kind)) {
		char kinds[128];

		return refuse(why, len, "Kind=%s does not include %s",
			      mp_policy_fmt_kinds(p->kinds, kinds, sizeof(kinds)),
			      mp_policy_kind_name(s->kind));
	}
	if (p->has_node && (s->node < 0 || !mp_node_test(p->nodes, (unsigned int)s->node))) {
		char nodes[MP_POLICY_MAX_NODES * 5];

		mp_policy_fmt_nodes(p->nodes, nodes, sizeof(nodes));
		if (s->node < 0)
			return refuse(why, len, "Node=%s, and the device's node is unknown", nodes);
		return refuse(why, len, "Node=%s does not include node %d", nodes, s->node);
	}
	for (i = 0; i < p->nr_sizes; i++)
		if (!size_holds(&p->sizes[i], s->size))
			return refuse(
				why, len, "Size=%s%s: the device's %s is not %s %s",
				p->sizes[i].op == MP_SIZE_EQ ? "" : mp_size_op_name(p->sizes[i].op),
				mp_policy_fmt_size(p->sizes[i].bytes, a, sizeof(a)),
				mp_policy_fmt_bytes(s->size, b, sizeof(b)),
				mp_size_op_name(p->sizes[i].op),
				mp_policy_fmt_bytes(p->sizes[i].bytes, c, sizeof(c)));
	if (p->nr_addrs) {
		uint64_t last = s->size ? s->start + s->size - 1 : s->start;

		for (i = 0; i < p->nr_addrs; i++)
			if (s->start >= p->addrs[i].start && last <= p->addrs[i].end &&
			    last >= s->start)
				break;
		if (i == p->nr_addrs) {
			if (p->nr_addrs == 1)
				return refuse(
					why, len,
					"Address=0x%llx-0x%llx does not contain the device's 0x%llx-0x%llx",
					(unsigned long long)p->addrs[0].start,
					(unsigned long long)p->addrs[0].end,
					(unsigned long long)s->start, (unsigned long long)last);
			return refuse(
				why, len,
				"none of the %zu Address= ranges contains the device's 0x%llx-0x%llx",
				p->nr_addrs, (unsigned long long)s->start,
				(unsigned long long)last);
		}
	}
	nids = subject_ids(s);
	if (p->nr_devices) {
		char globs[256], ids[256];
		size_t j, off = 0;

		for (i = 0; i < p->nr_devices; i++)
			for (j = 0; j < nids; j++)
				if (!fnmatch(p->devices[i], s->ids[j], 0))
					goto device_ok;
		globs[0] = ids[0] = '\0';
		for (i = 0; i < p->nr_devices && off < sizeof(globs); i++)
			off += snprintf(globs + off, sizeof(globs) - off, "%s%s", i ? " " : "",
					p->devices[i]);
		if (!nids)
			return refuse(why, len, "Device=%s, and the device has no id", globs);
		for (off = 0, j = 0; j < nids && off < sizeof(ids); j++)
			off += snprintf(ids + off, sizeof(ids) - off, "%s%s", j ? ", " : "",
					s->ids[j]);
		return refuse(why, len, "Device=%s matches none of the device's ids (%s)", globs,
			      ids);
	}
device_ok:
	if (why && len)
		snprintf(why, len, "every [Match] key accepts it");
	return true;
}

void mp_policy_decision_of(const struct mp_policy *p, struct mp_policy_decision *out)
{
	memset(out, 0, sizeof(*out));
	out->policy = p;
	out->online = p->online;
	out->zone = p->zone;
	out->movable_ratio = p->movable_ratio;
	out->verify = p->verify;
	out->dax_mode = p->dax_mode;
}

bool mp_policy_kind_only(const struct mp_policy *p, unsigned int *kinds)
{
	*kinds = p->has_kind ? p->kinds : MP_POLICY_KIND_ANY;
	return !p->has_node && !p->nr_sizes && !p->nr_addrs && !p->nr_devices;
}

int mp_policyset_match(const struct mp_policyset *set, const struct mp_policy_subject *s,
		       struct mp_policy_decision *out)
{
	for (size_t i = 0; i < mp_policyset_count(set); i++) {
		const struct mp_policy *p = mp_policyset_get(set, i);

		if (!mp_policy_matches(p, s, NULL, 0))
			continue;
		mp_policy_decision_of(p, out);
		return 0;
	}
	return -ENOENT;
}

enum mp_policy_zone mp_policy_auto_movable(unsigned int ratio, const struct mp_zone_facts *facts,
					   uint64_t new_bytes, char *why, size_t len)
{
	char mov[32], add[32], sum[64], ker[32], lim[64], node[24];
	unsigned __int128 after, limit100;
	bool movable;

	if (facts->node >= 0)
		snprintf(node, sizeof(node), "node %d", facts->node);
	else
		snprintf(node, sizeof(node), "all nodes");
	/*
	 * As in auto_movable_can_online_movable(): no boot-time kernel memory
	 * means nothing could hold the movable memory's memmap and page
	 * tables, so kernel.
	 */
	if (!facts->kernel_early) {
		if (why && len)
			snprintf(why, len, "%s: no boot-time kernel memory -> kernel", node);
		return MP_POLICY_ZONE_KERNEL;
	}
	/* auto_movable_zone_for_pfn() also goes straight to kernel for a 0 ratio. */
	if (!ratio) {
		if (why && len)
			snprintf(why, len,
				 "%s: MovableRatio=0%% allows no movable memory -> kernel", node);
		return MP_POLICY_ZONE_KERNEL;
	}
	/*
	 * The kernel tests movable <= ratio * kernel_early / 100 in pages;
	 * for whole numbers that is movable * 100 <= ratio * kernel_early, which
	 * needs no rounding and, in 128 bits, cannot overflow.
	 */
	after = (unsigned __int128)facts->movable + new_bytes;
	limit100 = (unsigned __int128)ratio * facts->kernel_early;
	movable = after * 100 <= limit100;
	if (why && len) {
		/* limit100 is the limit times 100: in MiB, that is hundredths of a MiB. */
		unsigned __int128 hund = limit100 >> 20;

		if (hund % 100 == 0)
			snprintf(lim, sizeof(lim), "%llu MiB", (unsigned long long)(hund / 100));
		else if (hund % 10 == 0)
			snprintf(lim, sizeof(lim), "%llu.%u MiB", (unsigned long long)(hund / 100),
				 (unsigned int)(hund % 100) / 10);
		else
			snprintf(lim, sizeof(lim), "%llu.%02u MiB",
				 (unsigned long long)(hund / 100), (unsigned int)(hund % 100));
		mp_policy_fmt_mib(facts->movable, mov, sizeof(mov));
		mp_policy_fmt_mib(new_bytes, add, sizeof(add));
		mp_policy_fmt_mib(after > UINT64_MAX ? UINT64_MAX : (uint64_t)after, sum,
				  sizeof(sum));
		mp_policy_fmt_mib(facts->kernel_early, ker, sizeof(ker));
		/*
		 * Both are rounded down to hundredths of a MiB, so "over the
		 * cap" can print as two equal numbers: then show the bytes.
		 */
		if (!movable && !strcmp(sum, lim)) {
			snprintf(sum + strlen(sum), sizeof(sum) - strlen(sum), " (%llu B)",
				 (unsigned long long)after);
			snprintf(lim + strlen(lim), sizeof(lim) - strlen(lim), " = %llu B",
				 (unsigned long long)(limit100 / 100));
		}
		snprintf(why, len, "%s: movable %s + %s new = %s %s %u%% of kernel %s (%s) -> %s",
			 node, mov, add, sum, movable ? "<=" : ">", ratio, ker, lim,
			 movable ? "movable" : "kernel");
	}
	return movable ? MP_POLICY_ZONE_MOVABLE : MP_POLICY_ZONE_KERNEL;
}

int mp_policy_decide_zone(struct mp_policy_decision *d, const struct mp_policy_subject *s,
			  const struct mp_zone_facts *facts)
{
	if (!d->online) {
		snprintf(d->zone_why, sizeof(d->zone_why), "Online=no: left offline");
		return -ENODATA;
	}
	switch (d->zone) {
	case MP_POLICY_ZONE_MOVABLE:
	case MP_POLICY_ZONE_KERNEL:
		snprintf(d->zone_why, sizeof(d->zone_why), "Zone=%s", mp_policy_zone_name(d->zone));
		return 0;
	case MP_POLICY_ZONE_AUTO:
		break;
	}
	if (!facts) {
		snprintf(d->zone_why, sizeof(d->zone_why),
			 "auto, MovableRatio=%u%%: undecided without the node's zone sizes",
			 d->movable_ratio);
		return -EINVAL;
	}
	d->zone = mp_policy_auto_movable(d->movable_ratio, facts, s->size, d->zone_why,
					 sizeof(d->zone_why));
	return 0;
}

/* ---- explain --------------------------------------------------------------- */

struct text {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if (t->buf && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = MP_MAX(t->cap * 2, t->len + (size_t)n + 256);
		char *nb = realloc(t->buf, cap);

		if (!nb) {
			t->oom = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

int mp_policy_explain(const struct mp_policyset *set, const struct mp_policy_subject *s,
		      const struct mp_zone_facts *facts, struct mp_policy_decision *dp,
		      char **textp)
{
	struct mp_policy_decision d;
	struct text t = { 0 };
	char why[MP_POLICY_WHY_LEN], size[32];
	size_t i, nids = subject_ids(s);
	int r = -ENOENT;

	*textp = NULL;
	text_add(&t, "device:");
	for (i = 0; i < nids; i++)
		text_add(&t, " %s", s->ids[i]);
	text_add(&t, " (%s, ", mp_policy_kind_name(s->kind));
	if (s->node >= 0)
		text_add(&t, "node %d, ", s->node);
	else
		text_add(&t, "node unknown, ");
	text_add(&t, "0x%llx-0x%llx, %s)\n", (unsigned long long)s->start,
		 (unsigned long long)(s->size ? s->start + s->size - 1 : s->start),
		 mp_policy_fmt_bytes(s->size, size, sizeof(size)));

	for (i = 0; i < mp_policyset_count(set); i++) {
		const struct mp_policy *p = mp_policyset_get(set, i);

		if (!mp_policy_matches(p, s, why, sizeof(why))) {
			text_add(&t, "  %s:%u: no match: %s\n", p->path,
				 p->match_line ? p->match_line : p->grow.line, why);
			continue;
		}
		text_add(&t, "  %s:%u: match\n", p->path, p->match_line);
		r = 0;
		break;
	}
	if (r < 0) {
		text_add(&t, "no policy matches: memplugd leaves the device alone\n");
		goto out;
	}
	mp_policyset_match(set, s, &d);
	text_add(&t, "decision: Online=%s", d.online ? "yes" : "no");
	if (d.online) {
		mp_policy_decide_zone(&d, s, facts);
		text_add(&t, " Zone=%s", mp_policy_zone_name(d.zone));
	}
	text_add(&t, " Verify=%s", mp_policy_verify_name(d.verify));
	if (s->kind & (MP_POLICY_KIND_DAX | MP_POLICY_KIND_NVDIMM))
		text_add(&t, " Mode=%s", mp_policy_dax_mode_name(d.dax_mode));
	text_add(&t, "\n");
	/* The numbers get a line of their own: they are what explain is for. */
	if (d.online && d.policy->zone == MP_POLICY_ZONE_AUTO) {
		if (d.zone == MP_POLICY_ZONE_AUTO)
			text_add(&t, "zone: %s\n", d.zone_why);
		else
			text_add(&t, "zone: auto, MovableRatio=%u%%: %s\n", d.movable_ratio,
				 d.zone_why);
	}
	if (dp)
		*dp = d;
out:
	if (t.oom) {
		free(t.buf);
		return -ENOMEM;
	}
	*textp = t.buf;
	return r;
}
