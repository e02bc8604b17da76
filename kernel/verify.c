// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Verification after a state change, the dax -> kmem rebinding, and node
 * memory facts.  § numbers refer to ../shared/KERNEL-RULES.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mp-kernel.h"
#include "mp-verify.h"
#include "util.h"

#if HAVE_LIBNUMA
#include <numa.h>
#endif

bool mp_zone_is_kernel(const char *zone)
{
	return !strcmp(zone, "Normal") || !strcmp(zone, "DMA32") || !strcmp(zone, "DMA");
}

static void add_evidence(struct mp_block_check *c, bool violation, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_evidence(struct mp_block_check *c, bool violation, const char *fmt, ...)
{
	size_t n = strlen(c->evidence);
	va_list ap;

	c->ok = false;
	c->violation |= violation;
	if (n && n + 2 < sizeof(c->evidence)) {
		memcpy(c->evidence + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(c->evidence + n, sizeof(c->evidence) - n, fmt, ap);
	va_end(ap);
}

/* §6 and §11 over the counts in @c->kpf. */
static void judge_kpf(struct mp_block_check *c, const char *what)
{
	c->kpf_read = true;
	/* §6: NOPAGE exactly when pfn_to_online_page() is NULL. */
	if (c->kpf.nopage || c->kpf.eof)
		add_evidence(
			c, true,
			"%llu of %llu %sPFNs have no online page (NOPAGE %llu, past EOF %llu) in an online block (§6)",
			(unsigned long long)(c->kpf.nopage + c->kpf.eof),
			(unsigned long long)c->kpf.pfns, what, (unsigned long long)c->kpf.nopage,
			(unsigned long long)c->kpf.eof);
	/*
	 * §6: onlining hands every page to the buddy except the self-hosted
	 * memmap, which reads RESERVED|OWNER_PRIVATE before 6.11 and
	 * OWNER_PRIVATE alone from 6.11 (kpageflags.c counts it by the
	 * release's rule): any other PG_reserved page is a violation.
	 */
	if (c->kpf.reserved_other)
		add_evidence(
			c, true,
			"%llu %sPG_reserved pages beyond %llu memmap_on_memory pages after onlining (§6)",
			(unsigned long long)c->kpf.reserved_other, what,
			(unsigned long long)c->kpf.memmap_self);
	if (!strcmp(c->zone, "Movable") && (c->kpf.slab || c->kpf.pgtable))
		add_evidence(
			c, true, "Movable block holds %llu slab and %llu page-table %spages (§11)",
			(unsigned long long)c->kpf.slab, (unsigned long long)c->kpf.pgtable, what);
}

/*
 * §6 with the version rules: a block of an ACPI DIMM (it has a
 * firmware_node) self-hosts its memmap exactly when
 * mp_kernel_memmap_expected() says so (@s->memmap_want, worked out when
 * sampling), and then its first PFN (the first sample) is a memmap page;
 * otherwise no sample is.  This is what finds a kpageflags reading that
 * counts a release's memmap pages as something else.  Whether the block
 * is a DIMM's is looked up at judging time, not sampling time: on the
 * kernel fast path the sample is taken before acpi_bind_memory_blocks()
 * made the link.
 */
static void judge_memmap_rule(const struct mp_ctx *ctx, const struct mp_block_sample *s,
			      struct mp_block_check *c)
{
	char path[PATH_MAX];

	if (s->memmap_want < 0 || (s->memmap_want == 1) == (c->kpf.memmap_self > 0))
		return;
	if (mp_ctx_path(ctx, path, sizeof(path),
			"sys/devices/system/memory/memory%llu/firmware_node",
			(unsigned long long)c->id) ||
	    access(path, F_OK))
		return;
	add_evidence(
		c, true,
		"memmap_on_memory=%s and a %llu MiB DIMM on %s: the memmap should %sbe self-hosted, but %llu sampled PFNs are memmap pages (§6)",
		s->memmap_param, (unsigned long long)(s->res_bytes >> 20), s->release,
		s->memmap_want ? "" : "not ", (unsigned long long)c->kpf.memmap_self);
}

int mp_block_verify_pages(const struct mp_ctx *ctx, const struct mp_geometry *geo,
			  struct mp_kpageflags *kpf, uint64_t id, struct mp_block_check *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->ok = true;
	if (mp_block_read_zones(ctx, id, c->zone, sizeof(c->zone)))
		c->zone[0] = '\0';
	err = mp_kpageflags_count(kpf, mp_addr_to_pfn(mp_block_to_addr(geo, id)),
				  geo->block_size / MP_PAGE_SIZE, &c->kpf);
	if (err)
		return err;
	judge_kpf(c, "");
	/*
	 * A block self-hosts its whole memmap or none of it
	 * (mhp_init_memmap_on_memory() marks all of altmap->free, one
	 * block's worth: memory_block_memmap_on_memory_pages()).  Any other
	 * count means the release's rule for what those pages read is wrong.
	 */
	if (c->kpf.memmap_self && c->kpf.memmap_self != mp_kernel_memmap_pages(geo->block_size))
		add_evidence(
			c, true,
			"%llu self-hosted memmap pages, expected 0 or %llu for a %llu MiB block (§6)",
			(unsigned long long)c->kpf.memmap_self,
			(unsigned long long)mp_kernel_memmap_pages(geo->block_size),
			(unsigned long long)(geo->block_size >> 20));
	return 0;
}

int mp_block_sample(const struct mp_ctx *ctx, const struct mp_geometry *geo,
		    const struct mp_iomem *io, struct mp_kpageflags *kpf, uint64_t id,
		    struct mp_block_sample *s)
{
	uint64_t start = mp_block_to_addr(geo, id);

	memset(s, 0, sizeof(*s));
	s->id = id;
	s->at_us = mp_now_us();
	s->memmap_want = -1;
	if (kpf) {
		/*
		 * One PFN per 2 MiB sub-section: NOPAGE is decided per section
		 * and sub-section (pfn_to_online_page(), §5), so this sees every
		 * NOPAGE failure a whole-block read would, at 1/512 of the cost
		 * (a whole 1 GiB read takes ~130 ms under TCG).  The per-page
		 * checks need every PFN: mp_block_verify_pages().
		 */
		struct mp_kpf_counts one;
		uint64_t pfn = mp_addr_to_pfn(start), step = MP_SUBSECTION_SIZE / MP_PAGE_SIZE;

		for (uint64_t i = 0; !s->kpf_err && i < geo->block_size / MP_PAGE_SIZE; i += step) {
			s->kpf_err = mp_kpageflags_count(kpf, pfn + i, 1, &one);
			s->kpf.pfns++;
			s->kpf.eof += one.eof;
			s->kpf.nopage += one.nopage;
			s->kpf.reserved += one.reserved;
			s->kpf.memmap_self += one.memmap_self;
			s->kpf.reserved_other += one.reserved_other;
			s->kpf.buddy += one.buddy;
			s->kpf.slab += one.slab;
			s->kpf.pgtable += one.pgtable;
			s->kpf.offline += one.offline;
		}
		s->kpf_read = true;
	}
	if (io) {
		const struct mp_iomem_res *r = mp_iomem_find(io, start);

		s->io_read = true;
		s->sysram_bytes = mp_iomem_sysram_bytes(io, start, start + geo->block_size - 1);
		if (r && mp_iomem_is_sysram(r))
			s->res_bytes = r->end - r->start + 1;
	}
	if (kpf && s->res_bytes) {
		const char *param, *release;

		s->memmap_want = mp_kpageflags_memmap_expected(kpf, s->res_bytes, geo->block_size,
							       &param, &release);
		snprintf(s->memmap_param, sizeof(s->memmap_param), "%s", param);
		snprintf(s->release, sizeof(s->release), "%s", release);
	}
	s->took_us = mp_now_us() - s->at_us;
	return s->kpf_err;
}

const struct mp_block_sample *mp_block_sample_find(const struct mp_block_sample *arr, size_t nr,
						   uint64_t id)
{
	for (size_t i = 0; i < nr; i++)
		if (arr[i].id == id)
			return &arr[i];
	return NULL;
}

/* The page half of a check (§3, §6, §11) from what @s read. */
static void judge_sample(const struct mp_ctx *ctx, const struct mp_geometry *geo,
			 const struct mp_block_sample *s, struct mp_block_check *c)
{
	if (s->kpf_read) {
		c->kpf = s->kpf;
		if (s->kpf_err) {
			add_evidence(c, false, "kpageflags unreadable: %s", strerror(-s->kpf_err));
		} else {
			judge_kpf(c, "sampled ");
			judge_memmap_rule(ctx, s, c);
		}
	}
	if (s->io_read) {
		c->sysram_bytes = s->sysram_bytes;
		/* §3: hot-added memory is whole blocks covered by its own System RAM resource. */
		if (c->sysram_bytes != geo->block_size)
			add_evidence(c, true,
				     "only %llu of %llu bytes are System RAM in /proc/iomem (§3)",
				     (unsigned long long)c->sysram_bytes,
				     (unsigned long long)geo->block_size);
	}
}

int mp_block_verify_sampled(const struct mp_ctx *ctx, const struct mp_geometry *geo,
			    const struct mp_block_sample *s, const struct mp_block *seen,
			    uint64_t id, enum mp_zone_want want, enum mp_verify_level level,
			    struct mp_block_check *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->ok = true;
	if (level == MP_VERIFY_NONE)
		return 0;
	if (seen && seen->id != id)
		seen = NULL;
	if (seen) {
		c->state = seen->state;
	} else {
		err = mp_block_read_state(ctx, id, &c->state);
		if (err)
			return err;
	}
	if (c->state != MP_BLOCK_ONLINE) {
		/* The write returned success: the block must be online now (§2). */
		add_evidence(c, true, "state reads '%s' after a successful online write (§2)",
			     mp_block_state_name(c->state));
		return 0;
	}
	if (seen && seen->zones[0]) {
		snprintf(c->zone, sizeof(c->zone), "%s", seen->zones);
		err = 0;
	} else {
		err = mp_block_read_zones(ctx, id, c->zone, sizeof(c->zone));
	}
	if (err) {
		add_evidence(c, false, "valid_zones unreadable: %s", strerror(-err));
	} else if (want == MP_ZONE_WANT_MOVABLE && strcmp(c->zone, "Movable")) {
		add_evidence(c, true,
			     "valid_zones reads '%s' after online_movable, not Movable (§11)",
			     c->zone);
	} else if (want == MP_ZONE_WANT_KERNEL && !mp_zone_is_kernel(c->zone)) {
		add_evidence(c, true,
			     "valid_zones reads '%s' after online_kernel, not a kernel zone (§11)",
			     c->zone);
	}
	if (level == MP_VERIFY_FULL && s && s->id == id)
		judge_sample(ctx, geo, s, c);
	return 0;
}

int mp_block_verify(const struct mp_ctx *ctx, const struct mp_geometry *geo,
		    const struct mp_iomem *io, struct mp_kpageflags *kpf, uint64_t id,
		    enum mp_zone_want want, enum mp_verify_level level, struct mp_block_check *c)
{
	struct mp_block_sample s;

	if (level != MP_VERIFY_FULL)
		return mp_block_verify_sampled(ctx, geo, NULL, NULL, id, want, level, c);
	/* A failed read is in @s and said by the judging; a block that is not online is judged by its state. */
	mp_block_sample(ctx, geo, io, kpf, id, &s);
	return mp_block_verify_sampled(ctx, geo, &s, NULL, id, want, level, c);
}

/* Only daxN.M names are accepted by the driver core here (§8): checked before any write. */
static bool dax_name_ok(const char *name)
{
	return !strncmp(name, "dax", 3) && !strchr(name, '/');
}

/* The driver @name is bound to, in @drv ("" when none); -errno only for a bad path. */
static int dax_driver_of(const struct mp_ctx *ctx, const char *name, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;
	int err;

	drv[0] = '\0';
	err = mp_ctx_path(ctx, path, sizeof(path), "sys/bus/dax/devices/%s/driver", name);
	if (err)
		return err;
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(drv, len, "%s", base ? base + 1 : link);
	return 0;
}

static int dax_driver_write(const struct mp_ctx *ctx, const char *name, const char *drv,
			    const char *file)
{
	char path[PATH_MAX];
	int err = mp_ctx_path(ctx, path, sizeof(path), "sys/bus/dax/drivers/%s/%s", drv, file);

	if (!err)
		err = mp_write_attr(AT_FDCWD, path, name);
	/* -EAGAIN (a deferred probe) is not a failure yet: the caller says what it does next. */
	if (err && err != -EAGAIN)
		mp_ctx_err(ctx, "%s: %s/%s: %s", name, drv, file, strerror(-err));
	return err;
}

/*
 * How often another driver may take the device between our unbind and our
 * bind before we give up.  The usual one is device_dax itself: the dax
 * device's add uevent comes before the driver core probes it
 * (drivers/base/core.c device_add: kobject_uevent(KOBJ_ADD) before
 * bus_probe_device), so a look at "driver" right after the uevent can find
 * nothing, and new_id's driver_attach() then waits for device_dax's probe
 * and skips the device it bound (drivers/dax/bus.c do_id_store,
 * drivers/base/dd.c __driver_attach).  Seen on 6.1: kmem "bound", no
 * memory ever added.
 */
#define DAX_BIND_TRIES 3

int mp_dax_bind_kmem(const struct mp_ctx *ctx, const char *name)
{
	char drv[64];
	int err;

	if (!dax_name_ok(name))
		return -EINVAL;
	err = dax_driver_of(ctx, name, drv, sizeof(drv));
	if (err || !strcmp(drv, "kmem"))
		return err;
	/* kmem matches @name from now on (dax_bus_match() reads the ids); bound if unbound. */
	err = dax_driver_write(ctx, name, "kmem", "new_id");
	if (err)
		return err;
	for (int i = 0; i < DAX_BIND_TRIES; i++) {
		err = dax_driver_of(ctx, name, drv, sizeof(drv));
		if (err || !strcmp(drv, "kmem"))
			return err;
		if (drv[0]) {
			err = dax_driver_write(ctx, name, drv, "unbind");
			/* -ENODEV: it let go on its own in between */
			if (err && err != -ENODEV)
				return err;
		}
		err = dax_driver_write(ctx, name, "kmem", "bind");
		/*
		 * -EBUSY: bound again by someone else meanwhile; look again.
		 * -EAGAIN: the device is not ready to probe yet (device_add()
		 * sent its uevent and is still running; drivers/base/dd.c
		 * __driver_probe_device(), -EPROBE_DEFER made -EAGAIN by
		 * device_driver_attach()); at once again would only be
		 * refused again, so the caller decides when.
		 */
		if (err && err != -EBUSY)
			return err;
	}
	err = dax_driver_of(ctx, name, drv, sizeof(drv));
	if (err || !strcmp(drv, "kmem"))
		return err;
	mp_ctx_err(ctx, "%s: bound to %s, not kmem, after %d tries", name, drv[0] ? drv : "nothing",
		   DAX_BIND_TRIES);
	return -EBUSY;
}

int mp_dax_release_kmem(const struct mp_ctx *ctx, const char *name, char *back, size_t len)
{
	char drv[64], path[PATH_MAX];
	int err;

	back[0] = '\0';
	if (!dax_name_ok(name))
		return -EINVAL;
	err = dax_driver_of(ctx, name, drv, sizeof(drv));
	if (err)
		return err;
	/* kmem stops matching @name (drivers/dax/bus.c do_id_store, ID_REMOVE). */
	err = dax_driver_write(ctx, name, "kmem", "remove_id");
	if (err && err != -ENOENT)
		return err;
	if (drv[0]) {
		/* Bound meanwhile (a late bind, an operator): left so. */
		snprintf(back, len, "%s", drv);
		return 0;
	}
	/* Left unbound by our unbind: device_dax takes it back, as before (when it is there). */
	err = mp_ctx_path(ctx, path, sizeof(path), "sys/bus/dax/drivers/device_dax/bind");
	if (err)
		return err;
	if (access(path, F_OK))
		return 0;
	err = dax_driver_write(ctx, name, "device_dax", "bind");
	/* -EBUSY: a driver took it since we looked; whichever it is, it has it. */
	if (err && err != -EBUSY)
		return err;
	err = dax_driver_of(ctx, name, back, len);
	return err ? err : back[0] ? 0 : -EIO;
}

void mp_dax_verify_trim(const struct mp_iomem *io, const char *name, const struct mp_dax_trim *t,
			struct mp_dax_check *c)
{
	struct mp_iomem_span k;

	memset(c, 0, sizeof(*c));
	/*
	 * By name, not mp_iomem_find(t->start): once kmem is bound, 6.1 shows
	 * daxX.Y itself shrunk to the kept range (§8, observed), so the
	 * device's sysfs start can lie outside its own iomem resource.
	 */
	if (!mp_iomem_find_named(io, name)) {
		snprintf(c->evidence, sizeof(c->evidence), "no '%s' resource in /proc/iomem", name);
		return;
	}
	mp_iomem_kmem(io, name, &k, NULL, 0);
	c->kmem_start = k.start;
	c->kmem_end = k.end;
	c->kmem_bytes = k.bytes;
	if (t->keeps_nothing) {
		c->ok = !c->kmem_bytes;
		if (!c->ok)
			snprintf(
				c->evidence, sizeof(c->evidence),
				"predicted nothing kept (range 0x%llx-0x%llx smaller than a block) but /proc/iomem has System RAM (kmem) 0x%llx-0x%llx (§8)",
				(unsigned long long)t->start, (unsigned long long)t->end,
				(unsigned long long)c->kmem_start, (unsigned long long)c->kmem_end);
		return;
	}
	c->ok = c->kmem_start == t->keep_start && c->kmem_end == t->keep_end &&
		c->kmem_bytes == t->keep_end - t->keep_start + 1;
	if (!c->ok)
		snprintf(
			c->evidence, sizeof(c->evidence),
			"predicted System RAM (kmem) 0x%llx-0x%llx (stranded %llu head, %llu tail), /proc/iomem has %s0x%llx-0x%llx (%llu bytes) (§8)",
			(unsigned long long)t->keep_start, (unsigned long long)t->keep_end,
			(unsigned long long)t->stranded_head, (unsigned long long)t->stranded_tail,
			c->kmem_bytes ? "" : "none: ", (unsigned long long)c->kmem_start,
			(unsigned long long)c->kmem_end, (unsigned long long)c->kmem_bytes);
}

/* ---- node facts ---------------------------------------------------------- */

static int scan_read(void *priv, const struct mp_memory *mem, int node, struct mp_node_mem *out)
{
	memset(out, 0, sizeof(*out));
	out->node = node;
	out->source = "block scan";
	for (size_t i = 0; i < mem->nr; i++) {
		const struct mp_block *b = &mem->blocks[i];

		if (b->node != node || b->state != MP_BLOCK_ONLINE)
			continue;
		/* Blocks with holes count only their System RAM (a boot block's tail). */
		out->total += mem->iomem ? b->sysram_bytes : b->size;
	}
	return 0;
}

static const struct mp_node_provider scan_provider = { .name = "block scan", .read = scan_read };

const struct mp_node_provider *mp_node_provider_scan(void)
{
	return &scan_provider;
}

#if HAVE_LIBNUMA
static int numa_read(void *priv, const struct mp_memory *mem, int node, struct mp_node_mem *out)
{
	long long freeb = 0, total;

	memset(out, 0, sizeof(*out));
	out->node = node;
	out->source = "libnuma";
	total = numa_node_size64(node, &freeb);
	if (total < 0)
		return -ENOENT;
	out->total = (uint64_t)total;
	out->free = (uint64_t)freeb;
	out->free_known = true;
	return 0;
}

static const struct mp_node_provider numa_provider = { .name = "libnuma", .read = numa_read };
#endif

const struct mp_node_provider *mp_node_provider_libnuma(void)
{
#if HAVE_LIBNUMA
	if (numa_available() >= 0)
		return &numa_provider;
#endif
	return NULL;
}

const struct mp_node_provider *mp_node_provider_default(const struct mp_ctx *ctx)
{
	const struct mp_node_provider *p;

	if (mp_ctx_root(ctx)[0])
		return &scan_provider;
	p = mp_node_provider_libnuma();
	return p ? p : &scan_provider;
}
