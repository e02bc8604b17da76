// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's memory-hotplug rules as pure functions over scanned data.
 * Each prediction carries the rule in words and the evidence, so a user can
 * check it and the verifier can say which rule the kernel broke.  Section
 * numbers (§) refer to ../shared/KERNEL-RULES.md, mirrored in docs/kernel.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mp-kernel.h"
#include "util.h"

static void predict(struct mp_prediction *p, int err, bool certain, const char *zone,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void predict(struct mp_prediction *p, int err, bool certain, const char *zone,
		    const char *fmt, ...)
{
	va_list ap;

	p->err = err;
	p->certain = certain;
	snprintf(p->zone, sizeof(p->zone), "%s", zone ? zone : "");
	va_start(ap, fmt);
	vsnprintf(p->rule, sizeof(p->rule), fmt, ap);
	va_end(ap);
}

static bool zone_listed(const char *zones, const char *zone)
{
	size_t n = strlen(zone);
	const char *p = zones;

	while ((p = strstr(p, zone))) {
		if ((p == zones || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
		p += n;
	}
	return false;
}

/* First word of valid_zones, or the first kernel zone in it. */
static void pick_zone(const char *zones, bool kernel_only, char *out, size_t len)
{
	const char *p = zones;

	out[0] = '\0';
	while (*p) {
		size_t n = strcspn(p, " ");

		if (n && !(kernel_only && n == 7 && !strncmp(p, "Movable", 7))) {
			snprintf(out, len, "%.*s", (int)n, p);
			return;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
}

static void rules_online_block(const struct mp_block *b, const struct mp_kpf_counts *kpf,
			       struct mp_block_verdict *v)
{
	const char *zone = b->zones;
	bool movable = !strcmp(zone, "Movable");

	predict(&v->online_movable, -EINVAL, true, zone,
		"already online: a state write asking for the current state fails with EINVAL (§2)");
	v->online_kernel = v->online_movable;
	v->online = v->online_movable;

	if (v->holes) {
		predict(&v->offline, -EINVAL, true, NULL,
			"memory holes: only %llu of %llu bytes are System RAM in /proc/iomem; offline_pages() refuses blocks with holes (§3, 5.6+)",
			(unsigned long long)v->sysram_bytes, (unsigned long long)b->size);
		return;
	}
	/*
	 * Zones are per node, so a block on a node boundary spans two zones.
	 * memory_block_add_nid() sets mem->zone = NULL when an early block
	 * gets a second node, and memory_block_offline() then refuses with
	 * EINVAL before offline_pages() (whose own check of the first and
	 * last page's zone, "multizone range", would refuse it too).
	 * valid_zones reads "none".
	 */
	if (b->nr_nodes > 1) {
		char nodes[64];

		predict(&v->offline, -EINVAL, true, NULL,
			"the block spans nodes %s, so two zones (zones are per node): the kernel refuses to offline a multizone block (§3)",
			mp_block_format_nodes(b, nodes, sizeof(nodes)));
		return;
	}
	if (v->multizone) {
		predict(&v->offline, -EINVAL, true, NULL,
			"block spans several zones (valid_zones reads 'none'); offline_pages() refuses a multizone range (§3)");
		return;
	}
	if (!kpf) {
		predict(&v->offline, 0, false, NULL,
			"no holes, one zone (%s); page flags unknown (kpageflags not read), so unmovable pages can't be ruled out",
			zone);
		return;
	}
	if (movable) {
		uint64_t res = kpf->reserved_other;

		if (res)
			predict(&v->offline, -EBUSY, false, NULL,
				"Movable block holds %llu PG_reserved pages that can't be migrated: offline fails (or retries until interrupted) (§11)",
				(unsigned long long)res);
		else
			predict(&v->offline, 0, true, NULL,
				"no holes, zone Movable, no PG_reserved pages besides %llu memmap_on_memory pages: pages migrate (§11)",
				(unsigned long long)kpf->memmap_self);
		return;
	}
	if (kpf->slab || kpf->pgtable || kpf->reserved_other) {
		predict(&v->offline, -EBUSY, false, NULL,
			"zone %s holds unmovable pages (slab %llu, page tables %llu, reserved %llu): isolating the range fails with EBUSY (§11)",
			zone, (unsigned long long)kpf->slab, (unsigned long long)kpf->pgtable,
			(unsigned long long)kpf->reserved_other);
		return;
	}
	predict(&v->offline, 0, false, NULL,
		"no holes, one zone (%s), no slab/page-table/reserved pages seen; kernel-zone pages kpageflags can't classify may still refuse (EBUSY)",
		zone);
}

static void rules_offline_block(const struct mp_block *b, struct mp_block_verdict *v)
{
	char kzone[16], dzone[16];

	predict(&v->offline, -EINVAL, true, NULL,
		"already offline: a state write asking for the current state fails with EINVAL (§2)");
	if (v->holes) {
		/* Hot-added memory arrives as whole covered blocks: this is unexpected. */
		predict(&v->online_movable, 0, false, "Movable",
			"block has holes (%llu of %llu bytes System RAM) though offline; online_pages() has no hole check (§3)",
			(unsigned long long)v->sysram_bytes, (unsigned long long)b->size);
		v->online_kernel = v->online_movable;
		v->online = v->online_movable;
		return;
	}
	if (!b->zones[0]) {
		predict(&v->online_movable, 0, false, "Movable", "valid_zones not read");
		v->online_kernel = v->online_movable;
		v->online = v->online_movable;
		return;
	}
	if (zone_listed(b->zones, "Movable"))
		predict(&v->online_movable, 0, true, "Movable",
			"valid_zones '%s' lists Movable: online_movable puts the block in ZONE_MOVABLE (§11)",
			b->zones);
	else
		predict(&v->online_movable, 0, false, "Movable",
			"valid_zones '%s' does not list Movable; the kernel may still accept online_movable",
			b->zones);
	pick_zone(b->zones, true, kzone, sizeof(kzone));
	if (kzone[0])
		predict(&v->online_kernel, 0, true, kzone,
			"online_kernel picks the first kernel zone valid_zones lists: %s (§11)",
			kzone);
	else
		predict(&v->online_kernel, 0, false, "Normal",
			"valid_zones '%s' lists no kernel zone", b->zones);
	pick_zone(b->zones, false, dzone, sizeof(dzone));
	predict(&v->online, 0, true, dzone,
		"plain 'online' takes the zone valid_zones lists first: %s (online_policy may refine it) (§11)",
		dzone);
}

void mp_rules_block(const struct mp_memory *mem, const struct mp_block *b,
		    const struct mp_kpf_counts *kpf, struct mp_block_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->sysram_bytes = mem->iomem ? b->sysram_bytes : b->size;
	v->holes = mem->iomem && b->sysram_bytes < b->size;
	v->multizone =
		b->state == MP_BLOCK_ONLINE && (b->nr_nodes > 1 || !strcmp(b->zones, "none"));

	switch (b->state) {
	case MP_BLOCK_ONLINE:
		rules_online_block(b, kpf, v);
		break;
	case MP_BLOCK_OFFLINE:
		rules_offline_block(b, v);
		break;
	default:
		predict(&v->offline, -EBUSY, false, NULL,
			"block is in transition (%s): wait and re-read",
			mp_block_state_name(b->state));
		v->online_movable = v->online_kernel = v->online = v->offline;
		break;
	}
}

void mp_rules_dax_trim(const struct mp_geometry *geo, uint64_t start, uint64_t end,
		       struct mp_dax_trim *t)
{
	uint64_t bs = geo->block_size, stop = end + 1;
	uint64_t kstart, kstop;

	memset(t, 0, sizeof(*t));
	t->start = start;
	t->end = end;
	/* check_pfn_span(): ZONE_DEVICE ranges must be whole 2 MiB sub-sections (§4). */
	t->aligned_2m = !(start % MP_SUBSECTION_SIZE) && !(stop % MP_SUBSECTION_SIZE);
	t->first_section = mp_addr_to_section(start);
	t->last_section = mp_addr_to_section(end);
	t->partial_first_section = start % MP_SECTION_SIZE != 0;
	t->partial_last_section = stop % MP_SECTION_SIZE != 0;
	/* dev_dax_kmem_probe(): each range trimmed inward to block boundaries (§8). */
	kstart = (start + bs - 1) / bs * bs;
	kstop = stop / bs * bs;
	if (kstart >= kstop) {
		t->keeps_nothing = true;
		t->stranded_head = stop - start;
		return;
	}
	t->keep_start = kstart;
	t->keep_end = kstop - 1;
	t->stranded_head = kstart - start;
	t->stranded_tail = stop - kstop;
}
