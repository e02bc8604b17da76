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

#define NR_FEATURES 16

int mp_kernel_features(const struct mp_ctx *ctx, struct mp_feature **out, size_t *nr)
{
	struct mp_feature *f;
	char rel[64] = "", buf[64];
	int maj = -1, min = -1, i = 0;
	size_t n = 0;

	f = calloc(NR_FEATURES, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (mp_kernel_release(ctx, rel, sizeof(rel)) || sscanf(rel, "%d.%d", &maj, &min) != 2)
		maj = min = -1;
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
		    "memmap_on_memory=%s", buf);
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

	if (path_exists(ctx, "sys/bus/dax"))
		set(&f[i++], "zone_device", "ZONE_DEVICE / device-dax", MP_FEAT_YES,
		    "sys/bus/dax present");
	else
		set(&f[i++], "zone_device", "ZONE_DEVICE / device-dax", MP_FEAT_UNKNOWN,
		    "sys/bus/dax missing (dax driver not loaded?)");

	if (path_exists(ctx, "sys/bus/dax/drivers/kmem"))
		set(&f[i++], "kmem", "kmem: device-dax as system RAM", MP_FEAT_YES,
		    "sys/bus/dax/drivers/kmem present");
	else
		set(&f[i++], "kmem", "kmem: device-dax as system RAM", MP_FEAT_UNKNOWN,
		    "kmem driver not loaded (modprobe kmem)");

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
#undef REL
	n = (size_t)i;
	*out = f;
	*nr = n;
	return 0;
}
