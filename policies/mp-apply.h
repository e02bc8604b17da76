/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memplug apply: from a block scan to decisions and their execution.
 *
 * Blocks are grouped by the device they belong to (a DIMM, a dax device
 * handed to kmem, a virtio-mem device, boot memory), a group becomes a
 * struct mp_policy_subject, the node's zone sizes become struct
 * mp_zone_facts, the policy set decides the group as a whole (as the
 * kernel's memory groups do: one zone for all blocks of a DIMM), and the
 * blocks are onlined and verified.  memplugd and memplugctl both use this,
 * so "memplugctl policy explain memory40" says exactly what memplugd does.
 */
#ifndef MP_APPLY_H
#define MP_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp-kernel.h"
#include "mp-verify.h"
#include "policy.h"

/* The blocks of one device, as one scan saw them. */
struct mp_devgroup {
	char key[48]; /* "dimm:slot1", "dax:dax0.0", "virtio-mem:virtio0", "boot", "unknown:memory40" */
	struct mp_devref dev; /* kernel layer's view (kind, name, ACPI name, slot) */
	enum mp_policy_kind pkind; /* 0 when the device is not identified (yet) */
	int node; /* node of the first block, -1 when not linked (yet) */
	bool mixed_nodes; /* blocks on several nodes */
	uint64_t start, size; /* the device's extent (iomem resource or dax range) */
	size_t nr_expected; /* blocks the extent holds */
	size_t nr; /* blocks present */
	uint64_t *ids; /* sorted */
	size_t nr_offline, nr_online, nr_other, nr_unlinked;
	char ids_buf[3][32]; /* names behind subject ids */
};

/**
 * mp_devgroups_build() - group the blocks of @mem by device
 * @mem: scan with MP_SCAN_ALL
 * @dax: dax devices (mp_dax_scan()), to tell nvdimm from other dax; may be NULL
 * @nr_dax: entries in @dax
 * @out: malloc'ed array, free with mp_devgroups_free()
 * @nr: entries
 *
 * A DIMM's extent is its top-level "System RAM" resource; a kmem device's
 * is the union of its "System RAM (kmem)" ranges; a virtio-mem device's is
 * its "virtioN" resource.  A hot-added block whose firmware_node link has
 * not appeared yet looks like boot memory to the kernel layer; when offline
 * it is grouped as "unknown:memoryN" (boot memory is never offline unless
 * someone offlined it, and then it is not ours to online).
 *
 * Return: 0 or -ENOMEM.
 */
int mp_devgroups_build(const struct mp_memory *mem, const struct mp_dax_dev *dax, size_t nr_dax,
		       struct mp_devgroup **out, size_t *nr);
void mp_devgroups_free(struct mp_devgroup *groups, size_t nr);

/**
 * mp_devgroup_complete() - are all blocks of the device present and linked?
 * @g: group
 *
 * A DIMM's blocks arrive as several add uevents and get their node and
 * firmware_node links afterwards (KERNEL-RULES.md §2, §10); deciding before
 * that would decide on part of the device.  virtio-mem is dynamic: always
 * complete (its blocks are onlined as they appear).
 */
bool mp_devgroup_complete(const struct mp_devgroup *g);

/** mp_devgroup_find_block() - group holding block @id, or NULL. */
struct mp_devgroup *mp_devgroup_find_block(struct mp_devgroup *groups, size_t nr, uint64_t id);

/**
 * mp_devgroup_subject() - the policy subject for a group
 * @g: group (the subject's ids point into it)
 * @s: result
 */
void mp_devgroup_subject(const struct mp_devgroup *g, struct mp_policy_subject *s);

/**
 * mp_zone_facts_scan() - zone sizes behind MovableRatio, from the block scan
 * @mem: scan with MP_SCAN_ALL
 * @node: node, or -1 for the sums over all nodes
 * @f: result
 *
 * kernel_early: online boot blocks not in ZONE_MOVABLE (their System RAM
 * bytes); movable: online blocks in ZONE_MOVABLE.  This is the kernel's
 * KERNEL_EARLY/MOVABLE split (present_early_pages), which no libnuma or
 * meminfo number gives.
 */
void mp_zone_facts_scan(const struct mp_memory *mem, int node, struct mp_zone_facts *f);

/**
 * mp_devgroup_decide() - match a policy and resolve its zone for @g
 * @set: policies in force
 * @g: group
 * @mem: the scan @g came from (for the zone facts)
 * @new_bytes: bytes about to be onlined (all offline blocks of the group)
 * @d: result; for Zone=auto the ratio is checked per node and over all
 *     nodes (as the kernel's auto-movable does), kernel when either refuses
 *
 * Return: 0; -ENOENT when no policy matches; -ENODATA when the policy says
 * Online=no.
 */
int mp_devgroup_decide(const struct mp_policyset *set, const struct mp_devgroup *g,
		       const struct mp_memory *mem, uint64_t new_bytes,
		       struct mp_policy_decision *d);

/* ---- execution ------------------------------------------------------------- */

struct mp_block_outcome {
	uint64_t id;
	int err; /* the state write's result */
	bool by_other; /* EINVAL and the block was online: another writer won (§2) */
	bool violation;
	struct mp_prediction predicted; /* mp_rules_block() before the write */
	struct mp_block_check check;
	char why[400]; /* violation or failure, with evidence */
};

struct mp_group_outcome {
	size_t nr;
	struct mp_block_outcome *blocks;
	size_t onlined, failed, by_other, verified, violations;
	uint64_t online_us, verify_us; /* time spent writing, and verifying */
};

/* How to write memoryN/state: the kernel (default) or a test's fake. */
struct mp_apply_ops {
	int (*write_state)(void *priv, const struct mp_ctx *ctx, uint64_t id, const char *word);
	void *priv;
};

/**
 * mp_devgroup_online() - online the offline blocks of @g into @zone and verify
 * @ctx: context
 * @mem: scan (with MP_SCAN_ALL) the group came from, for the predictions
 * @g: group
 * @zone: MP_POLICY_ZONE_MOVABLE or MP_POLICY_ZONE_KERNEL
 * @level: verification
 * @ops: NULL for the kernel
 * @out: per-block outcomes; free with mp_group_outcome_free()
 *
 * Blocks are written in address order.  An EINVAL is re-read before it is
 * judged: a block that reads online lost a race with another onliner and is
 * reported as such, not as a failure.  After all writes, /proc/iomem is read
 * once and every onlined block is verified (mp_block_verify()); a result
 * that contradicts a prediction mp_rules_block() made with certainty is a
 * violation.
 *
 * Return: 0 when every offline block ended up online, verified or not
 * (see @out), -EIO when some failed, -ENOMEM.
 */
int mp_devgroup_online(const struct mp_ctx *ctx, const struct mp_memory *mem,
		       const struct mp_devgroup *g, enum mp_policy_zone zone,
		       enum mp_verify_level level, const struct mp_apply_ops *ops,
		       struct mp_group_outcome *out);
void mp_group_outcome_free(struct mp_group_outcome *o);

/* Scan flags for mp_devgroups_build() callers: everything but MP_SCAN_ZONES. */
#define MP_APPLY_SCAN (MP_SCAN_NODES | MP_SCAN_DEVICES | MP_SCAN_IOMEM)

/**
 * mp_memory_read_zones_safe() - read valid_zones where it is safe to
 * @ctx: context
 * @mem: scan made with MP_APPLY_SCAN
 * @ids: offline blocks whose zones are wanted too (a device about to be
 *       decided), or NULL
 * @nr_ids: entries in @ids
 *
 * 6.1's valid_zones_show() dereferences NODE_DATA(mem->nid) for an offline
 * block, and a block being removed has had its nid reset to NUMA_NO_NODE
 * (unregister_memory_block_under_nodes()) before its sysfs files go away:
 * reading valid_zones of an offline block during a DIMM eject oopses the
 * kernel (seen in a Debian 6.1.0 guest, zone_for_pfn_range+0x43).  So
 * valid_zones is read for online blocks (the kernel takes mem->zone, no
 * node lookup) and for the offline blocks in @ids that still have a node
 * link, and nowhere else.
 */
void mp_memory_read_zones_safe(const struct mp_ctx *ctx, struct mp_memory *mem, const uint64_t *ids,
			       size_t nr_ids);

/** mp_policy_kind_of_dev() - the policy kind for a kernel-layer device (dax: nvdimm or dax). */
enum mp_policy_kind mp_policy_kind_of_dev(const struct mp_devref *d, const struct mp_dax_dev *dax,
					  size_t nr_dax);

#endif
