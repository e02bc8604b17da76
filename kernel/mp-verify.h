/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memplug verification: after a state change, read the kernel back and say
 * whether it did what was asked and what its rules predicted (the rules are
 * in ../shared/KERNEL-RULES.md §2, §3, §6, §8, §11).  A result that breaks a
 * rule the kernel is known to keep is a *violation* and carries the evidence.
 *
 * Also here: the dax -> kmem rebinding (§8) and per-node memory facts with a
 * replaceable provider (libnuma on a live system, the block scan on a fixture).
 */
#ifndef MP_VERIFY_H
#define MP_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "mp-kernel.h"

/* How much to check (mirrors the policy's Verify=). */
enum mp_verify_level {
	MP_VERIFY_FULL = 0, /* state, valid_zones, kpageflags, iomem coverage */
	MP_VERIFY_STATE, /* state and valid_zones */
	MP_VERIFY_NONE,
};

/* The zone a block was onlined into, as asked. */
enum mp_zone_want {
	MP_ZONE_WANT_ANY = 0, /* plain "online": the kernel picks */
	MP_ZONE_WANT_MOVABLE,
	MP_ZONE_WANT_KERNEL, /* DMA, DMA32 or Normal */
};

struct mp_block_check {
	uint64_t id;
	bool ok; /* every check passed */
	bool violation; /* a kernel rule was broken (not merely: someone else acted) */
	enum mp_block_state state;
	char zone[48]; /* valid_zones after onlining */
	uint64_t sysram_bytes; /* iomem coverage (full only) */
	bool kpf_read; /* kpageflags counted (full only, root) */
	struct mp_kpf_counts kpf;
	char evidence[320]; /* what failed, with the numbers; "" when ok */
};

/**
 * mp_block_verify() - check one block after it was onlined
 * @ctx: context
 * @geo: geometry (block size)
 * @io: /proc/iomem read *after* onlining, or NULL (coverage then skipped)
 * @kpf: open kpageflags, or NULL (page flags then skipped and said so)
 * @id: block number
 * @want: zone asked for
 * @level: what to check
 * @c: result
 *
 * Checks, in order (KERNEL-RULES.md): state reads "online" (§2); valid_zones
 * names the zone asked for, Movable or a kernel zone (§11); kpageflags of
 * one PFN per 2 MiB sub-section: an online page (no NOPAGE, no EOF: §6,
 * decided per section and sub-section, §5, so the sample sees every such
 * failure), no PG_reserved besides memmap_on_memory's self-hosted memmap
 * (§6, 6.1), no slab or page-table page in Movable (§11); the whole block is
 * System RAM in /proc/iomem (§3).  All failures are collected in
 * @c->evidence.  The per-page checks over every PFN are
 * mp_block_verify_pages(), which memplugd runs after reporting.
 *
 * Return: 0 when the checks could run (see @c->ok), or -errno when the
 * block's state could not be read at all.
 */
int mp_block_verify(const struct mp_ctx *ctx, const struct mp_geometry *geo,
		    const struct mp_iomem *io, struct mp_kpageflags *kpf, uint64_t id,
		    enum mp_zone_want want, enum mp_verify_level level, struct mp_block_check *c);

/*
 * The page half of a block's check: what holds for as long as the block
 * stays online, read once (mp_block_sample()) and judged later
 * (mp_block_verify_sampled()).  On the kernel fast path the engine takes it
 * while the kernel is still adding the rest of the device, so that little
 * is left to do when the device is complete.
 */
struct mp_block_sample {
	uint64_t id;
	uint64_t at_us; /* mp_now_us() when taken */
	uint64_t took_us; /* how long taking it took */
	bool kpf_read; /* kpageflags was given */
	int kpf_err; /* 0 or the -errno of reading it */
	struct mp_kpf_counts kpf; /* one PFN per 2 MiB sub-section */
	bool io_read; /* /proc/iomem was given */
	uint64_t sysram_bytes; /* of the block, System RAM in iomem */
	uint64_t res_bytes; /* the System RAM resource the block starts in; 0 none */
	/* were it a DIMM's block: memmap self-hosted (1), not (0), unknown (-1) */
	int memmap_want;
	char memmap_param[16]; /* memmap_on_memory, for the message */
	char release[48]; /* the release's rules, for the message */
};

/**
 * mp_block_sample() - read the page half of mp_block_verify()
 * @ctx: context
 * @geo: geometry
 * @io: /proc/iomem read after the block came online, or NULL
 * @kpf: open kpageflags, or NULL
 * @id: block number
 * @s: result, for mp_block_verify_sampled()
 *
 * One kpageflags PFN per 2 MiB sub-section and the block's System RAM in
 * /proc/iomem.  Judges nothing: the firmware_node that tells a DIMM's
 * block (the memmap rule) may not be linked yet.
 *
 * Return: 0, or the -errno of reading kpageflags (also in @s->kpf_err).
 */
int mp_block_sample(const struct mp_ctx *ctx, const struct mp_geometry *geo,
		    const struct mp_iomem *io, struct mp_kpageflags *kpf, uint64_t id,
		    struct mp_block_sample *s);

/** mp_block_sample_find() - the sample of block @id in @arr[@nr], or NULL. */
const struct mp_block_sample *mp_block_sample_find(const struct mp_block_sample *arr, size_t nr,
						   uint64_t id);

/**
 * mp_block_verify_sampled() - mp_block_verify() with the page half read earlier
 * @ctx: context
 * @geo: geometry
 * @s: mp_block_sample() of block @id, taken while it was online; NULL
 *     (or another block's) judges state and zone only
 * @seen: block @id as a scan read it *after* the state change (state and
 *        valid_zones), or NULL to read them now
 * @id: block number
 * @want: zone asked for
 * @level: what to check
 * @c: result
 *
 * Judges state and valid_zones (from @seen, else read now), then @s as
 * mp_block_verify() would have.  The caller makes sure the block stayed
 * online since @s was taken (an offline uevent in between voids it).
 * @seen is for the kernel fast path: the kernel onlined the block before
 * the scan that found its device whole, so that scan's reading is one
 * taken after the change; reading again would only repeat it.
 *
 * Return: 0, or -errno when the state could not be read.
 */
int mp_block_verify_sampled(const struct mp_ctx *ctx, const struct mp_geometry *geo,
			    const struct mp_block_sample *s, const struct mp_block *seen,
			    uint64_t id, enum mp_zone_want want, enum mp_verify_level level,
			    struct mp_block_check *c);

/**
 * mp_block_verify_pages() - kpageflags over every PFN of an online block
 * @ctx: context (valid_zones is re-read for the Movable check)
 * @geo: geometry
 * @kpf: open kpageflags
 * @id: block
 * @c: result: NOPAGE/EOF, PG_reserved beyond the self-hosted memmap, slab
 *     or page tables in Movable (§6, §11), with the counts
 *
 * A whole-block read costs ~16 ms per 128 MiB under TCG; memplugd runs it
 * after a device is reported, one block per main-loop turn.
 *
 * Return: 0 or -errno from reading.
 */
int mp_block_verify_pages(const struct mp_ctx *ctx, const struct mp_geometry *geo,
			  struct mp_kpageflags *kpf, uint64_t id, struct mp_block_check *c);

/** mp_zone_is_kernel() - true for "DMA", "DMA32" and "Normal". */
bool mp_zone_is_kernel(const char *zone);

/**
 * mp_dax_bind_kmem() - hand a device-dax instance to the kmem driver
 * @ctx: context (the sysfs files are under its root)
 * @name: "daxX.Y"
 *
 * Writes @name to bus/dax/drivers/kmem/new_id, the sysfs route daxctl
 * takes (§8); when another driver (device_dax) holds the device then, or
 * takes it while new_id runs, unbinds it from that driver and writes
 * kmem/bind, and checks the device's driver link says kmem at the end.
 *
 * Return: 0 or the kernel's -errno (-EINVAL: target_node < 0 or nothing
 * left after trimming; -EBUSY: the range clashes, or another driver kept
 * taking the device; -EAGAIN: the device was not ready to probe yet
 * (device_add() still running), not logged: it may be left unbound, try
 * again later or hand it back with mp_dax_release_kmem()).
 */
int mp_dax_bind_kmem(const struct mp_ctx *ctx, const char *name);

/**
 * mp_dax_release_kmem() - undo a mp_dax_bind_kmem() that did not end in kmem
 * @ctx: context
 * @name: "daxX.Y"
 * @back: the driver @name is bound to at the end ("" when none)
 * @len: size of @back
 *
 * Takes @name out of kmem's ids (kmem/remove_id) and, if the device has no
 * driver (our unbind left it so), binds it to device_dax again, so a bind
 * given up on leaves the devdax device it found.  A driver that took the
 * device meanwhile keeps it (kmem too: a late bind, or an operator's);
 * @back names it.
 *
 * Return: 0; -EIO when device_dax's bind left it unbound; or the -errno
 * of a write.
 */
int mp_dax_release_kmem(const struct mp_ctx *ctx, const char *name, char *back, size_t len);

/* What kmem made of a dax device, against mp_rules_dax_trim()'s prediction. */
struct mp_dax_check {
	bool ok;
	uint64_t kmem_start, kmem_end; /* first/last byte of "System RAM (kmem)"; 0/0 none */
	uint64_t kmem_bytes;
	char evidence[320];
};

/**
 * mp_dax_verify_trim() - compare "System RAM (kmem)" under @name with @t
 * @io: /proc/iomem after kmem bound
 * @name: "daxX.Y"
 * @t: prediction for the device's range
 * @c: result; @c->ok is false (evidence says why) when the ranges differ
 */
void mp_dax_verify_trim(const struct mp_iomem *io, const char *name, const struct mp_dax_trim *t,
			struct mp_dax_check *c);

/* ---- node memory facts ----------------------------------------------------- */

struct mp_node_mem {
	int node;
	uint64_t total; /* bytes of memory on the node */
	uint64_t free; /* bytes free, valid when @free_known */
	bool free_known;
	const char *source; /* "libnuma" or "block scan" */
};

/*
 * Where node sizes come from.  memplugd uses libnuma on the running system;
 * with a sysroot (fixture tests) it must not read the test machine's own
 * nodes, so the facts are computed from the scanned blocks instead.  Tests
 * can install their own provider.
 */
struct mp_node_provider {
	const char *name;
	int (*read)(void *priv, const struct mp_memory *mem, int node, struct mp_node_mem *out);
	void *priv;
};

/** mp_node_provider_scan() - node sizes summed from online blocks of @mem; free unknown. */
const struct mp_node_provider *mp_node_provider_scan(void);
/**
 * mp_node_provider_libnuma() - numa_node_size64() per node
 *
 * Return: the provider, or NULL when memplug was built without libnuma or
 * numa_available() says the kernel has no NUMA API.
 */
const struct mp_node_provider *mp_node_provider_libnuma(void);
/**
 * mp_node_provider_default() - the provider for @ctx
 * @ctx: context
 *
 * Return: the scan provider when @ctx has a sysroot (never the host's
 * nodes for a fixture), else libnuma if available, else the scan provider.
 */
const struct mp_node_provider *mp_node_provider_default(const struct mp_ctx *ctx);

#endif
