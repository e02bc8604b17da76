/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memplug guest engine: the one path from what the kernel shows to memory
 * online where policy says, verified.
 *
 * struct mp_engine (engine.c) owns the whole reconcile: the scan and the
 * rule for when valid_zones may be read, grouping blocks by device, the
 * DIMM, virtio-mem and dax decisions, onlining, verification, the model
 * that `list` and `status` answer from, the persisted state, and draining a
 * device for an unplug.  memplugd's loop, `memplugctl policy explain`,
 * `status` and `list` only call it.  The pieces below the engine (device
 * groups, decisions, onlining a group) are exported for tests.
 *
 * How the pieces fit:
 *
 * Blocks are grouped by the device they belong to (a DIMM, a dax device
 * handed to kmem, a virtio-mem device, boot memory), a group becomes a
 * struct mp_policy_subject, the node's zone sizes become struct
 * mp_zone_facts, the policy set decides the group as a whole (as the
 * kernel's memory groups do: one zone for all blocks of a DIMM), and the
 * blocks are onlined and verified.
 */
#ifndef MP_ENGINE_H
#define MP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp-kernel.h"
#include "mp-verify.h"
#include "policy.h"

#include <stdio.h>

struct json_object;

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

/**
 * mp_devgroup_decide_zone() - resolve the zone of a decision already matched
 * @g: group
 * @mem: the scan @g came from
 * @new_bytes: bytes about to be onlined
 * @d: a decision from mp_policyset_match() (a dax device's, taken when the
 *     device appeared, so that one device is matched once)
 *
 * Return: as mp_devgroup_decide(), without -ENOENT.
 */
int mp_devgroup_decide_zone(const struct mp_devgroup *g, const struct mp_memory *mem,
			    uint64_t new_bytes, struct mp_policy_decision *d);

/** mp_dax_subject() - the policy subject of a dax device as sysfs describes it. */
void mp_dax_subject(const struct mp_dax_dev *x, struct mp_policy_subject *s);

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
	size_t sampled_early; /* blocks judged from a sample taken before the device was complete */
	uint64_t online_us, verify_us; /* time spent writing, and verifying */
	uint64_t sample_us; /* time the early samples took, before verify_us */
};

/*
 * The engine's writes that change the kernel: the kernel's own (default,
 * or a NULL member) or a test's fake, for answers a guest gives only
 * sometimes (kmem/bind's -EAGAIN).
 */
struct mp_engine_ops {
	/* memoryN/state; NULL: mp_block_set_state()'s write */
	int (*write_state)(void *priv, const struct mp_ctx *ctx, uint64_t id, const char *word);
	/* a dax device to kmem; NULL: mp_dax_bind_kmem() */
	int (*bind_kmem)(void *priv, const struct mp_ctx *ctx, const char *name);
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
		       enum mp_verify_level level, const struct mp_engine_ops *ops,
		       struct mp_group_outcome *out);
void mp_group_outcome_free(struct mp_group_outcome *o);

/**
 * mp_devgroup_verify_online() - verify the online blocks of @g, onlined by the kernel
 * @ctx: context
 * @mem: scan the group came from
 * @g: group
 * @zone: the zone the policy wants (MP_POLICY_ZONE_MOVABLE or _KERNEL)
 * @level: verification
 * @out: per-block outcomes (each online block counts as onlined); free
 *       with mp_group_outcome_free()
 *
 * The kernel fast path's half of mp_devgroup_online(): the kernel onlined
 * the blocks at add time (auto_online_blocks), the checks are the same.
 * A block with a sample in @early (mp_block_sample(), taken while the
 * kernel was still adding the device and valid since) has only its state
 * and zone read now; the others are read whole.
 *
 * Return: 0 or -ENOMEM.
 */
int mp_devgroup_verify_online(const struct mp_ctx *ctx, const struct mp_memory *mem,
			      const struct mp_devgroup *g, enum mp_policy_zone zone,
			      enum mp_verify_level level, const struct mp_block_sample *early,
			      size_t nr_early, struct mp_group_outcome *out);

/* Scan flags for mp_devgroups_build() callers: everything but MP_SCAN_ZONES. */
#define MP_ENGINE_SCAN (MP_SCAN_NODES | MP_SCAN_DEVICES | MP_SCAN_IOMEM)

/* ---- the engine ------------------------------------------------------------ */

/* What the engine knows of one device, and what it did. */
enum mp_device_state {
	MP_DEVICE_SETTLING = 0, /* blocks still arriving or links missing */
	MP_DEVICE_ONLINE, /* onlined by memplugd (this run or a previous one) */
	MP_DEVICE_PARTIAL, /* some blocks failed */
	MP_DEVICE_OTHER, /* another onliner got there first */
	MP_DEVICE_NO_MATCH, /* no policy matched: left alone */
	MP_DEVICE_LEFT_OFFLINE, /* the policy says Online=no */
	MP_DEVICE_DEVDAX, /* dax device left as devdax */
	MP_DEVICE_KMEM, /* dax device handed to kmem, blocks pending */
	MP_DEVICE_BOOT, /* boot memory: never acted on */
	MP_DEVICE_OFFLINED, /* was online, someone offlined it: not fought */
	MP_DEVICE_UNIDENTIFIED, /* offline memory with no device: not ours to online */
	MP_DEVICE_FAILED,
	MP_DEVICE_DRAINED, /* offlined for an unplug (mp_engine_drain()) */
	MP_DEVICE_DRAINING, /* a drain is running: reconcile leaves it alone */
};

struct mp_device {
	char key[48]; /* "dimm:slot1", "dax:dax0.0", "virtio-mem:virtio0", "boot" */
	uint64_t start, size; /* extent when first seen */
	enum mp_policy_kind kind;
	int node;
	enum mp_device_state state;
	bool persisted_ours; /* the state file says an earlier run onlined it */
	bool by_kernel; /* the kernel fast path: the kernel onlined it, the engine verified */
	uint64_t first_seen_us, decided_us, done_us; /* mp_now_us() */
	char blocks[64]; /* "memory32-35" */
	char policy[300]; /* "path:line" of the policy that decided it */
	char zone[16]; /* "movable" / "kernel", "" before a decision */
	char zone_why[MP_POLICY_WHY_LEN];
	char message[400]; /* last outcome in words */
	size_t onlined, verified, failed, by_other, violations;
	size_t pages_verified; /* blocks through the every-PFN kpageflags pass */
	size_t sampled_early; /* fast path: blocks whose page checks were read while the kernel still added the device */
	uint64_t sample_us; /* what reading those samples took (not in verify_us) */
	uint64_t online_us, verify_us;
	int64_t verified_at; /* time(NULL) of the last verification */
	/* dax only: what kmem keeps, predicted before binding and checked after */
	bool trim_known, trim_checked, trim_ok;
	struct mp_dax_trim trim;
	char trim_text[400];
	/* dax only: the one policy decision, taken when the dax device appeared */
	bool decided;
	struct mp_policy_decision decision;
	/* dax only: kmem's probe deferred by the kernel this many times; the next try then */
	unsigned int bind_deferred;
	uint64_t bind_retry_at_us;
	/* private to the engine */
	bool seen, reported;
};

/** mp_device_state_name() - "settling", "online", ... for status and logs. */
const char *mp_device_state_name(enum mp_device_state s);
/** mp_device_final() - has the device reached an outcome (not settling, not waiting for kmem)? */
bool mp_device_final(const struct mp_device *dev);

struct mp_engine;

struct mp_engine_config {
	/*
	 * The record of devices this engine onlined, kept across restarts
	 * (memplugd: /run/memplug/state.json); NULL or "" keeps none.
	 */
	const char *state_path;
	/* Node sizes for status; NULL: mp_node_provider_default(ctx). */
	const struct mp_node_provider *nodes;
	/* memoryN/state writes; NULL: the kernel. */
	const struct mp_engine_ops *ops;
	/*
	 * The kernel fast path (memplugd, not one-shot tools): set the
	 * kernel's auto-online knobs when the policies fit them, put them
	 * back in mp_engine_knobs_stop() / mp_engine_free().
	 */
	bool kernel_knobs;
};

/**
 * mp_engine_new() - an engine over the kernel seen through @ctx
 * @ctx: context; must outlive the engine.  Messages go through its log
 *       function (mp_ctx_set_log_fn()).
 * @cfg: configuration, may be NULL for the defaults
 * @out: the engine
 *
 * Loads the persisted state when @cfg names one.  No policies are in force
 * until mp_engine_set_policies(): until then every device is left alone.
 *
 * Return: 0 or -ENOMEM.
 */
int mp_engine_new(struct mp_ctx *ctx, const struct mp_engine_config *cfg, struct mp_engine **out);
/** mp_engine_free() - release the engine and everything it holds; NULL is fine. */
void mp_engine_free(struct mp_engine *e);

/**
 * mp_engine_set_policies() - put @set in force (the engine takes a reference)
 *
 * Devices already decided keep their outcome; devices seen later are
 * decided by @set.
 */
void mp_engine_set_policies(struct mp_engine *e, struct mp_policyset *set);
/*
 * Called at every kernel-rule violation the engine finds (onlining,
 * the every-PFN pass, a dax trim): the device key, the block (UINT64_MAX
 * when the violation is the device's, not a block's) and the evidence.
 */
typedef void (*mp_engine_violation_fn)(void *priv, const char *key, uint64_t block,
				       const char *evidence);
/** mp_engine_set_violation_fn() - install @fn (NULL: none); memplugd sends VIOLATION events. */
void mp_engine_set_violation_fn(struct mp_engine *e, mp_engine_violation_fn fn, void *priv);

/**
 * mp_engine_fast_path() - is the kernel fast path on?
 * @e: engine
 * @why: if not NULL, the knobs set and why, or why not
 * @len: size of @why
 *
 * On: the policies in force fit the kernel's auto-online knobs
 * (auto_online_blocks, online_policy=auto-movable, auto_movable_ratio,
 * auto_movable_numa_aware), the engine set them, and they still read what
 * it wrote.  The kernel then onlines hot-added blocks at add time and the
 * engine verifies them against the policy (docs/performance.md).
 *
 * Return: true when on.
 */
bool mp_engine_fast_path(const struct mp_engine *e, char *why, size_t len);

/**
 * mp_engine_knobs_stop() - put the knobs the engine set back as they were
 *
 * Only while they still read what the engine wrote: a value someone else
 * wrote since is left alone.  mp_engine_free() calls it too.
 */
void mp_engine_knobs_stop(struct mp_engine *e);

/** mp_engine_policies() - the set in force, or NULL. */
const struct mp_policyset *mp_engine_policies(const struct mp_engine *e);

/**
 * mp_engine_reconcile() - look at the kernel and act on what is new
 * @e: engine
 *
 * Scans the blocks (valid_zones only where mp_memory_read_zones() allows),
 * the dax devices, groups blocks by device and takes every device not
 * decided yet through policy -> online (or dax -> kmem) -> verify.  A lost
 * uevent, a restart or a device that arrived before the daemon are all the
 * same case: the uevents only say when to look.  A device whose blocks or
 * links are still arriving is left settling; mp_engine_next_wake_us() says
 * when to look again.
 *
 * Return: 0, or -errno when the scan failed (the model is then unchanged).
 */
int mp_engine_reconcile(struct mp_engine *e);

/**
 * mp_engine_next_wake_us() - when a settling device next needs a look
 *
 * Return: an mp_now_us() time, or 0 when nothing is settling.  At that
 * time call mp_engine_settle().
 */
uint64_t mp_engine_next_wake_us(const struct mp_engine *e);

/**
 * mp_engine_settle() - the settle timer fired: check the settling devices
 *
 * Re-reads only the links of the settling devices' blocks (node, ACPI
 * firmware_node), not the whole memory tree, and reconciles once a device
 * is complete or its settle time is up.
 *
 * Return: 1 when it reconciled, 0 when nothing changed yet, or -errno.
 */
int mp_engine_settle(struct mp_engine *e);

/**
 * mp_engine_deferred_pending() - blocks waiting for the every-PFN pass
 *
 * After a device is reported, each of its blocks gets the full kpageflags
 * check (mp_block_verify_pages()), one per call of
 * mp_engine_run_deferred(), when the caller has nothing else to do.
 */
bool mp_engine_deferred_pending(const struct mp_engine *e);
/**
 * mp_engine_hold_deferred() - someone is asking: keep the pass for later
 *
 * The front-end calls this on each request it answers (memplugd: control
 * socket and channel).  The every-PFN pass waits for a quiet moment again,
 * up to a bound after the last report; a no-op when nothing is pending.
 */
void mp_engine_hold_deferred(struct mp_engine *e);
/** mp_engine_run_deferred() - run one deferred check; a failure is a violation. */
void mp_engine_run_deferred(struct mp_engine *e);

/**
 * mp_engine_uevent_expected() - is an "online" uevent of block @id the echo
 * of the engine's own write?  Each expected id is consumed once.
 */
bool mp_engine_uevent_expected(struct mp_engine *e, uint64_t id);

/**
 * mp_engine_block_uevent() - a uevent @action ("add", "online", "offline", ...) of block @id
 *
 * Call it for every uevent that names a block, expected or not: the next
 * reconcile reads again the blocks named since the last one and takes the
 * other online blocks over from the model (mp_memory_rescan()).  A block
 * that went offline or away since the engine sampled it on the kernel fast
 * path (mp_block_sample()) is read again when its device is verified: the
 * sample no longer says what the block holds.
 */
void mp_engine_block_uevent(struct mp_engine *e, const char *action, uint64_t id);

/**
 * mp_engine_rescan_all() - the next reconcile reads every block
 *
 * For when the engine cannot know which blocks changed: uevents were
 * lost (ENOBUFS), one could not be parsed, or one of subsystem memory
 * named no block.
 */
void mp_engine_rescan_all(struct mp_engine *e);

/** mp_engine_memory() - the model: the latest scan, kept current after onlining; or NULL. */
const struct mp_memory *mp_engine_memory(const struct mp_engine *e);
/** mp_engine_device_count() - devices known. */
size_t mp_engine_device_count(const struct mp_engine *e);
/** mp_engine_device() - device number @i, or NULL past the end. */
const struct mp_device *mp_engine_device(const struct mp_engine *e, size_t i);
/** mp_engine_device_find() - device with key @key ("dimm:slot1"), or NULL. */
const struct mp_device *mp_engine_device_find(const struct mp_engine *e, const char *key);

struct mp_engine_counters {
	uint64_t scans, reconciles, settles, violations;
	size_t online, other; /* devices onlined by the engine, by another onliner */
	char last_error[200];
	char auto_online[24]; /* auto_online_blocks as last read */
};

/** mp_engine_counters() - what the engine counted, for status. */
void mp_engine_counters(const struct mp_engine *e, struct mp_engine_counters *c);

/**
 * mp_engine_summary() - one line for systemd's STATUS=
 * Return: @buf.
 */
char *mp_engine_summary(const struct mp_engine *e, char *buf, size_t len);

/**
 * mp_device_trim_add() - add "kmem_trim" (prediction, checked, as_predicted,
 * text) to @o when @r is a dax device handed to kmem; the status document
 * and the channel's DEVICE_ONLINE event carry the same object.
 */
void mp_device_trim_add(const struct mp_device *r, struct json_object *o);

/**
 * mp_engine_status_json() - the status answer: devices, outcomes, node facts
 *
 * The one definition of the status document: memplugd sends it, and
 * mp_status_print() renders it for `memplugctl status`.
 *
 * Return: a new object (json_object_put() it), or NULL on -ENOMEM.
 */
struct json_object *mp_engine_status_json(const struct mp_engine *e);

/**
 * mp_status_print() - render a status document for humans
 * @o: from mp_engine_status_json(), possibly after a trip over a socket
 * @f: stream
 */
void mp_status_print(struct json_object *o, FILE *f);

/**
 * mp_engine_explain() - what the engine would do with one device, and why
 * @e: engine (its policies are the ones explained)
 * @name: memoryN, a device key (dimm:slot1, dax:dax0.0), a device name
 *        (slot1, dax0.0, virtio0) or an ACPI name (PNP0C80:01)
 * @f: stream for the explanation
 *
 * Takes a fresh scan through the same steps as mp_engine_reconcile(),
 * without writing anything, and prints the device, the policies tried, the
 * numbers behind its zone and the engine's own decision.
 *
 * Return: 0; -ENOENT when there is no such block or device, or when no
 * policy matches (the text says which); -errno from the scan.
 */
int mp_engine_explain(struct mp_engine *e, const char *name, FILE *f);

/**
 * mp_engine_drain() - empty one device for an unplug: all its blocks offline, or none
 * @e: engine
 * @name: as for mp_engine_explain(): memoryN (its device), a key or a name
 * @timeout_ms: one deadline for the whole device (0: none)
 * @out: the per-block result (kernel/mp-kernel.h, mp_blocks_offline()):
 *       which block refused, the errno, the kernel's own reason and the
 *       kpageflags evidence; free() it.  NULL when nothing was tried.
 *
 * Takes a fresh scan, finds the device and offlines every online block of
 * it; if one refuses or time runs out, every block offlined is put back
 * into the zone it was in.  A drained device is recorded as such (also in
 * the persisted state), so that neither this engine nor a restarted one
 * onlines it again: only mp_engine_undrain() does.
 *
 * Return: 0 when the whole device is offline; the refusal's -errno or
 * -ETIMEDOUT after a complete rollback; -ENOTRECOVERABLE when a rollback
 * failed (the device is left partly offline and says so); -ENOENT for no
 * such device; -EPERM for boot memory and memory of no known device (not
 * the engine's to unplug).
 */
int mp_engine_drain(struct mp_engine *e, const char *name, int timeout_ms,
		    struct mp_offline_result **out);

/*
 * mp_engine_drain() in two halves, for a caller that runs the offlining
 * (mp_blocks_offline(), seconds of page migration) away from its event loop,
 * e.g. in a child process: prepare, offline @plan->ids, finish.
 */
struct mp_drain_plan {
	char key[48]; /* the device */
	enum mp_device_state prev; /* its state before, restored if the drain is undone */
	size_t nr;
	uint64_t *ids; /* its online blocks, malloc'ed */
};

/**
 * mp_engine_drain_prepare() - find the device and the blocks a drain must offline
 * Return: 0 (the device is now MP_DEVICE_DRAINING: reconcile leaves it
 * alone until mp_engine_drain_finish()); 1 when every block was offline
 * already (the device is recorded drained, nothing to do); -ENOENT,
 * -EPERM (boot memory or no known device), -EBUSY (already draining), -errno.
 */
int mp_engine_drain_prepare(struct mp_engine *e, const char *name, struct mp_drain_plan *plan);
/**
 * mp_engine_drain_finish() - record what the offlining did
 * @err: mp_blocks_offline()'s return
 * @res: its result, or NULL when it could not run
 */
void mp_engine_drain_finish(struct mp_engine *e, struct mp_drain_plan *plan, int err,
			    const struct mp_offline_result *res);
/** mp_drain_plan_free() - release @plan's block list. */
void mp_drain_plan_free(struct mp_drain_plan *plan);

/**
 * mp_engine_undrain() - the unplug was cancelled: online a drained device again
 * @e: engine
 * @name: the device
 * @dev: if not NULL, receives the engine's record of it (its message says
 *       what onlining and verification found)
 *
 * Onlines its offline blocks into the zone it had before the drain, and
 * verifies them as reconcile does.
 *
 * Return: 0, -ENOENT (no such device), -EINVAL (not drained), -EIO (some
 * block failed: see the device's message).
 */
int mp_engine_undrain(struct mp_engine *e, const char *name, const struct mp_device **dev);

/** mp_policy_kind_of_dev() - the policy kind for a kernel-layer device (dax: nvdimm or dax). */
enum mp_policy_kind mp_policy_kind_of_dev(const struct mp_devref *d, const struct mp_dax_dev *dax,
					  size_t nr_dax);

#endif
