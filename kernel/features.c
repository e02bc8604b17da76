// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Which memory-hotplug behaviours memplug relies on the kernel offers.
 *
 * Behaviours with no sysfs trace (the hole rule, sub-section hotplug,
 * pfn_to_online_page()'s checks) are judged from the release, and the
 * evidence says so; the rest from what sysfs and procfs actually offer, so
 * later verification can say what it could not check.  Versions from
 * KERNEL-RULES.md "Timeline".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp-kernel.h"
#include "util.h"

int mp_kernel_release(const struct mp_ctx *ctx, char *buf, size_t len)
{
	char path[PATH_MAX];
	int err = mp_ctx_path(ctx, path, sizeof(path), "proc/sys/kernel/osrelease");

	if (err)
		return err;
	err = mp_read_attr(AT_FDCWD, path, buf, len);
	return err < 0 ? err : 0;
}

int mp_kernel_version(const struct mp_ctx *ctx, int *maj, int *min)
{
	char rel[64];
	int err = mp_kernel_release(ctx, rel, sizeof(rel));

	*maj = *min = -1;
	if (err)
		return err;
	if (sscanf(rel, "%d.%d", maj, min) != 2 || *maj < 0 || *min < 0) {
		*maj = *min = -1;
		return -EINVAL;
	}
	return 0;
}

/*
 * valid_zones_show() (drivers/base/memory.c, show_valid_zones() before 4.16)
 * through history:
 * - 4.4 (ed2f24009, first valid_zones): the zone of the block's pages, one
 *   word for online *and* offline blocks; two words only for a block at
 *   the Normal/Movable border.  A 2016 s390 lsmem dump has an offline
 *   block reading "Normal".
 * - 4.13 (f1dd2cd13c4b "do not associate hotadded memory to zones until
 *   online"): offline blocks print the allowed online zones, but only
 *   those allow_online_pfn_range() permits: still one word in the middle
 *   of a kernel zone.
 * - 4.14 (c6f03e2903c9 "mm, memory_hotplug: remove zone restrictions",
 *   with e5e689302633 "display allowed zones in the preferred ordering"):
 *   an offline block prints the default zone, then print_allowed_zone()
 *   for MMOP_ONLINE_KERNEL and MMOP_ONLINE_MOVABLE, each unless it equals
 *   the default.  The default is one of those two and they always differ
 *   (a kernel zone vs ZONE_MOVABLE), so an offline block prints at least
 *   two words, and only an online one prints one (its zone or "none").
 *   Unchanged through 6.1 and 6.18 (sysfs_emit_at() rewrite, 5.15's
 *   memory groups pass the group along).
 */
bool mp_kernel_zones_imply_state(int maj, int min)
{
	if (maj < 0)
		return false;
	return maj > 4 || (maj == 4 && min >= 14);
}

static bool at_least(int maj, int min, int want_maj, int want_min)
{
	return maj > want_maj || (maj == want_maj && min >= want_min);
}

/*
 * Read from the 6.1 and 6.12 sources (mm/memory_hotplug.c, mm/mm_init.c,
 * drivers/dax/kmem.c, drivers/dax/bus.c, fs/proc/page.c), and checked in
 * 6.1.0-57 and 6.12.95 guests (tests/fixtures/SCENARIO-6.12 and dimm-memmap-*):
 *
 * - memmap_owner_private_only, hotplug_memmap_offline (6.11, "mm/memory_hotplug:
 *   initialize memmap of !ZONE_DEVICE with PageOffline() instead of
 *   PageReserved()"): memmap_init_range() (mm/mm_init.c) used to mark every
 *   hot-added page PG_reserved, and mhp_init_memmap_on_memory() left the
 *   self-hosted vmemmap pages so, with SetPageVmemmapSelfHosted()
 *   (PG_owner_priv_1, KPF_OWNER_PRIVATE): 0x2100000000 in kpageflags.  From
 *   6.11 memmap_init_range() sets PageOffline instead (__SetPageOffline() for
 *   MEMINIT_HOTPLUG outside ZONE_DEVICE), and mhp_init_memmap_on_memory()
 *   does __ClearPageOffline() before SetPageVmemmapSelfHosted(): the pages
 *   read 0x2000000000, bit 37 alone.  ZONE_DEVICE pages stay PG_reserved
 *   on both (__init_zone_device_page()), behind NOPAGE in kpageflags
 *   (kpageflags_read() asks pfn_to_online_page(), NULL for ZONE_DEVICE).
 * - memmap_per_block (6.6, 6b8f0798b85a "mm/memory_hotplug: split
 *   memmap_on_memory requests across memblocks"): 6.1's add_memory_resource()
 *   self-hosts only when mhp_supports_memmap_on_memory(size) holds, which
 *   needs size == memory_block_size_bytes(): a 1 GiB DIMM (one ACPI range,
 *   eight blocks) gets none, a 128 MiB one gets it.  6.6+ calls
 *   create_altmaps_and_memory_blocks(), one altmap per block: every block
 *   of the DIMM self-hosts.
 * - memmap_force (6.6): set_memmap_mode()/get_memmap_mode() make the module
 *   parameter Y, N or "force" (6.1: a plain bool, Y/N).
 * - dax_memmap_on_memory (6.8): dev_dax_kmem_probe() (drivers/dax/kmem.c)
 *   adds MHP_MEMMAP_ON_MEMORY when daxX.Y/memmap_on_memory (drivers/dax/bus.c)
 *   is set; 6.1's kmem never self-hosts.
 */
void mp_kernel_rules_for(int maj, int min, struct mp_kernel_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->maj = maj;
	r->min = min;
	if (maj < 0 || min < 0) {
		r->maj = r->min = -1;
		snprintf(r->name, sizeof(r->name), "unknown release (both forms accepted)");
		return;
	}
	r->known = true;
	r->memmap_owner_private_only = at_least(maj, min, 6, 11);
	r->hotplug_memmap_offline = r->memmap_owner_private_only;
	r->memmap_per_block = at_least(maj, min, 6, 6);
	r->memmap_force = r->memmap_per_block;
	r->dax_memmap_on_memory = at_least(maj, min, 6, 8);
	snprintf(r->name, sizeof(r->name), "%d.%d (%s rules)", maj, min,
		 r->memmap_owner_private_only ? "6.11+" :
		 r->memmap_per_block	      ? "6.6-6.10" :
						"6.1-6.5");
}

int mp_kernel_memmap_expected(const struct mp_kernel_rules *r, const char *param,
			      uint64_t range_bytes, uint64_t block_size)
{
	if (!r->known || !param || !param[0])
		return -1;
	/* param_get_bool() prints Y/N; 6.6+ get_memmap_mode() also "force". */
	if (!strcmp(param, "N") || !strcmp(param, "n") || !strcmp(param, "0"))
		return 0;
	if (r->memmap_per_block)
		return 1;
	/* 6.1 mhp_supports_memmap_on_memory(): size == memory_block_size_bytes(). */
	return range_bytes == block_size;
}

uint64_t mp_kernel_memmap_pages(uint64_t block_size)
{
	/* sizeof(struct page) on x86_64 (include/linux/mm_types.h). */
	const uint64_t page_struct = 64;

	return (block_size / MP_PAGE_SIZE * page_struct + MP_PAGE_SIZE - 1) / MP_PAGE_SIZE;
}

static int path_exists(const struct mp_ctx *ctx, const char *rel)
{
	char path[PATH_MAX];

	if (mp_ctx_path(ctx, path, sizeof(path), "%s", rel))
		return 0;
	return access(path, F_OK) == 0;
}

static int read_rel(const struct mp_ctx *ctx, const char *rel, char *buf, size_t len)
{
	char path[PATH_MAX];
	int err = mp_ctx_path(ctx, path, sizeof(path), "%s", rel);

	if (err)
		return err;
	return mp_read_attr(AT_FDCWD, path, buf, len);
}

static void set(struct mp_feature *f, const char *key, const char *what, enum mp_feature_state st,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set(struct mp_feature *f, const char *key, const char *what, enum mp_feature_state st,
		const char *fmt, ...)
{
	va_list ap;

	f->key = key;
	f->what = what;
	f->state = st;
	va_start(ap, fmt);
	vsnprintf(f->evidence, sizeof(f->evidence), fmt, ap);
	va_end(ap);
}

/* Release at least maj.min?  Unknown release: UNKNOWN. */
static enum mp_feature_state since(int have_maj, int have_min, int maj, int min)
{
	if (have_maj < 0)
		return MP_FEAT_UNKNOWN;
	if (have_maj != maj)
		return have_maj > maj ? MP_FEAT_YES : MP_FEAT_NO;
	return have_min >= min ? MP_FEAT_YES : MP_FEAT_NO;
}

#define NR_FEATURES 20

int mp_kernel_features(const struct mp_ctx *ctx, struct mp_feature **out, size_t *nr)
{
	struct mp_feature *f;
	struct mp_kernel_rules kr;
	char rel[64] = "", buf[64];
	int maj = -1, min = -1, i = 0;
	size_t n = 0;

	f = calloc(NR_FEATURES, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (mp_kernel_release(ctx, rel, sizeof(rel)) || sscanf(rel, "%d.%d", &maj, &min) != 2)
		maj = min = -1;
	mp_kernel_rules_for(maj, min, &kr);
#define REL (rel[0] ? rel : "unknown release")

	if (path_exists(ctx, "sys/devices/system/memory/block_size_bytes"))
		set(&f[i++], "memory_hotplug", "memory blocks in sysfs (MEMORY_HOTPLUG)",
		    MP_FEAT_YES, "sys/devices/system/memory/block_size_bytes present");
	else
		set(&f[i++], "memory_hotplug", "memory blocks in sysfs (MEMORY_HOTPLUG)",
		    MP_FEAT_NO, "sys/devices/system/memory/block_size_bytes missing");

	set(&f[i++], "subsection_hotplug", "2 MiB sub-section hotplug for ZONE_DEVICE",
	    since(maj, min, 5, 3), "%s vs 5.3 (by release; needs SPARSEMEM_VMEMMAP, not visible)",
	    REL);
	set(&f[i++], "hole_rule", "offline refuses blocks with memory holes (EINVAL)",
	    since(maj, min, 5, 6), "%s vs 5.6 (by release)", REL);
	set(&f[i++], "pfn_to_online_page",
	    "pfn_to_online_page() checks sub-sections and ZONE_DEVICE", since(maj, min, 5, 12),
	    "%s vs 5.12 (by release)", REL);

	if (read_rel(ctx, "sys/module/memory_hotplug/parameters/online_policy", buf, sizeof(buf)) >=
	    0)
		set(&f[i++], "online_policy", "online_policy (contig-zones / auto-movable)",
		    MP_FEAT_YES, "online_policy=%s", buf);
	else
		set(&f[i++], "online_policy", "online_policy (contig-zones / auto-movable)",
		    MP_FEAT_NO,
		    "sys/module/memory_hotplug/parameters/online_policy missing (%s; 5.15+)", REL);

	if (read_rel(ctx, "sys/module/memory_hotplug/parameters/memmap_on_memory", buf,
		     sizeof(buf)) >= 0)
		set(&f[i++], "memmap_on_memory",
		    "memmap_on_memory (vmemmap inside hot-added memory)",
		    (!strcmp(buf, "N") || !strcmp(buf, "0")) ? MP_FEAT_NO : MP_FEAT_YES,
		    "memmap_on_memory=%s%s", buf,
		    !strcmp(buf, "force") ?
			    " (6.6+: self-hosts even where pageblocks waste pages)" :
			    "");
	else
		set(&f[i++], "memmap_on_memory",
		    "memmap_on_memory (vmemmap inside hot-added memory)", MP_FEAT_NO,
		    "parameter missing");

	{
		char path[PATH_MAX];
		uint64_t v;
		int fd = -1;
		ssize_t r = -1;

		if (!mp_ctx_path(ctx, path, sizeof(path), "proc/kpageflags"))
			fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			r = pread(fd, &v, sizeof(v), 0);
			close(fd);
		}
		if (r == 8)
			set(&f[i++], "kpageflags",
			    "/proc/kpageflags readable (page-level verification)", MP_FEAT_YES,
			    "read pfn 0");
		else
			set(&f[i++], "kpageflags",
			    "/proc/kpageflags readable (page-level verification)", MP_FEAT_NO, "%s",
			    fd < 0 ? "cannot open (root only, PROC_PAGE_MONITOR)" : "read failed");
	}

	/* Present or not known: a driver not loaded yet may come with a module. */
	{
		bool dax = path_exists(ctx, "sys/bus/dax");
		bool kmem = path_exists(ctx, "sys/bus/dax/drivers/kmem");

		set(&f[i++], "zone_device", "ZONE_DEVICE / device-dax",
		    dax ? MP_FEAT_YES : MP_FEAT_UNKNOWN, "%s",
		    dax ? "sys/bus/dax present" : "sys/bus/dax missing (dax driver not loaded?)");
		set(&f[i++], "kmem", "kmem: device-dax as system RAM",
		    kmem ? MP_FEAT_YES : MP_FEAT_UNKNOWN, "%s",
		    kmem ? "sys/bus/dax/drivers/kmem present" :
			   "kmem driver not loaded (modprobe kmem)");
	}

	if (read_rel(ctx, "sys/devices/system/memory/auto_online_blocks", buf, sizeof(buf)) >= 0)
		set(&f[i++], "auto_online", "kernel auto-online of hot-added blocks",
		    strcmp(buf, "offline") ? MP_FEAT_YES : MP_FEAT_NO, "auto_online_blocks=%s",
		    buf);
	else
		set(&f[i++], "auto_online", "kernel auto-online of hot-added blocks",
		    MP_FEAT_UNKNOWN, "auto_online_blocks missing");

	set(&f[i++], "valid_zones_state",
	    "one-word valid_zones means online (offline blocks list two zones)",
	    since(maj, min, 4, 14), "%s vs 4.14 (by release; else list reads state)", REL);
	set(&f[i++], "hotplug_memmap_offline",
	    "hot-added memmap starts PageOffline (else PG_reserved until online)",
	    since(maj, min, 6, 11), "%s vs 6.11 (by release)", REL);
	/* The version rules kpageflags counting and the verifier apply. */
	set(&f[i++], "memmap_owner_private",
	    "self-hosted memmap pages read OWNER_PRIVATE alone (else RESERVED|OWNER_PRIVATE)",
	    since(maj, min, 6, 11), "%s vs 6.11 (by release; %s)", REL,
	    kr.known ? (kr.memmap_owner_private_only ? "counts 0x2000000000 as memmap" :
						       "counts 0x2100000000 as memmap") :
		       "counts both as memmap");
	set(&f[i++], "memmap_per_block",
	    "memmap_on_memory in every block of a multi-block add (else one-block adds only)",
	    since(maj, min, 6, 6), "%s vs 6.6 (by release)", REL);
	set(&f[i++], "dax_memmap_on_memory",
	    "kmem can self-host the memmap (daxX.Y/memmap_on_memory)", since(maj, min, 6, 8),
	    "%s vs 6.8 (by release)", REL);
#undef REL
	n = (size_t)i;
	*out = f;
	*nr = n;
	return 0;
}
