/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine's insides, shared by the files of engine/ and nobody else. */
#ifndef MP_ENGINE_PRIVATE_H
#define MP_ENGINE_PRIVATE_H

#include <limits.h>

#include "mp-engine.h"

/* A device an earlier run decided (the persisted state, persist.c). */
struct mp_persisted {
	char key[48];
	uint64_t start;
	char zone[16];
	bool done;
	bool drained; /* offlined for an unplug: not to be onlined again */
	const char *why; /* not persisted: why this zone, "" = "decided by an earlier run" */
};

/* A block waiting for the every-PFN kpageflags pass. */
struct mp_deferred {
	char key[48];
	uint64_t id;
};

/* A block of a settling device and the link it still lacks. */
struct mp_watch {
	uint64_t id;
	bool need_node, need_firmware;
};

/* Online memory without a device link that appeared in this run (see watch_fresh()). */
struct mp_fresh {
	uint64_t id;
	uint64_t since_us;
};

/* The kernel's auto-online knobs (knobs.c); an empty field is not written. */
struct mp_knobs {
	char auto_online[24], policy[24], ratio[16], numa[8];
};

struct mp_engine {
	struct mp_ctx *ctx;
	char *state_path;
	const struct mp_node_provider *nodes;
	const struct mp_engine_ops *ops;
	struct mp_policyset *set;

	struct mp_device *devs;
	size_t nr_devs;
	struct mp_persisted *persist;
	size_t nr_persist;
	struct mp_memory *mem; /* the model: latest scan */
	/*
	 * Blocks that may have changed since @mem (mp_memory_rescan()): named
	 * by a uevent, written by the engine.  @changed_all: read everything
	 * at the next reconcile (uevents lost, one that named no block, a
	 * list grown past CHANGED_MAX, a failed scan).
	 */
	uint64_t *changed;
	size_t nr_changed, cap_changed;
	bool changed_all;
	uint64_t full_scans;
	char auto_online[24];
	bool auto_online_reported;
	uint64_t scans, reconciles, settles, violations;
	char last_error[200];
	/* the last save of the state file failed: "PATH: cannot save state: ERRNO TEXT"; "" = saved */
	char state_error[PATH_MAX + 64];
	/* ids the engine wrote "online*" to, whose "online" uevent is expected */
	uint64_t *expect;
	size_t nr_expect;
	struct mp_deferred *deep;
	size_t nr_deep;
	uint64_t deep_not_before_us; /* the every-PFN pass waits until then (mp_now_us()) */
	uint64_t deep_hold_max_us; /* requests hold it back no later than this */
	struct mp_kpageflags *kpf;
	/* settling: earliest deadline (0: nothing settles), backoff, what to look at */
	uint64_t settle_deadline_us, settle_last_us;
	unsigned int settle_step;
	bool rescan; /* look again now (kmem just added blocks) */
	/* a failed scan is tried again then (0: none pending), the n-th time */
	uint64_t retry_at_us;
	unsigned int retry_step;
	/* the earliest deferred kmem bind to try again (0: none) */
	uint64_t dax_retry_at_us;
	struct mp_watch *watch;
	size_t nr_watch;
	struct mp_fresh *fresh;
	size_t nr_fresh;
	mp_engine_violation_fn violation_fn;
	void *violation_priv;
	/* the kernel fast path (knobs.c) */
	bool knobs_enabled; /* cfg->kernel_knobs */
	bool knobs_held; /* the knobs read what knobs_set says, written by this engine */
	bool knobs_foreign; /* someone else changed them: never written again in this run */
	bool knobs_distrust; /* the kernel's auto-online disagreed with the policy */
	struct mp_knobs knobs_set, knobs_saved;
	uint64_t
		knobs_since_us; /* mp_now_us() when set: devices first seen later are the kernel's */
	char knobs_why[300];
	/* blocks the kernel onlined at add time, sampled before their device was complete */
	struct mp_block_sample *early;
	size_t nr_early;
};

/* @b (this scan) is online and was not in @prev, the scan before: it came online since. */
static inline bool mp_engine_came_online(const struct mp_memory *prev, const struct mp_block *b)
{
	const struct mp_block *p = prev ? mp_memory_find(prev, b->id) : NULL;

	return b->state == MP_BLOCK_ONLINE && (!p || p->state != MP_BLOCK_ONLINE);
}

/* Tell the violation hook, if any. */
void mp_engine_violation(struct mp_engine *e, const char *key, uint64_t block,
			 const char *evidence);

/* Everything one look at the kernel gives (engine.c). */
struct mp_engine_scan {
	struct mp_memory *mem;
	struct mp_dax_dev *dax;
	size_t nr_dax;
	struct mp_devgroup *groups;
	size_t ng;
};

int mp_engine_scan(struct mp_engine *e, struct mp_engine_scan *s);
/* Block @id may have changed: the next reconcile reads it (engine.c). */
void mp_engine_changed(struct mp_engine *e, uint64_t id);
void mp_engine_scan_free(struct mp_engine_scan *s);
struct mp_device *mp_engine_dev_find(const struct mp_engine *e, const char *key);
struct mp_device *mp_engine_dev_add(struct mp_engine *e, const char *key);
/* The group @name means: memoryN (its device), a key, a device or ACPI name. */
struct mp_devgroup *mp_engine_scan_find(struct mp_engine_scan *s, const char *name);
/* Online @g's offline blocks by policy, or into @p's zone when given, and verify. */
void mp_engine_online_group(struct mp_engine *e, struct mp_memory *mem, struct mp_devgroup *g,
			    struct mp_device *r, const struct mp_persisted *p);

/* knobs.c */
/*
 * Set, keep or put back the knobs for the policies in force.  @checked:
 * the caller's mp_engine_knobs_check() against a scan just now found them
 * still the engine's (no need to read them again).
 */
void mp_engine_knobs_update(struct mp_engine *e, bool checked);
/*
 * Do the knobs still read what the engine set?  @auto_online: the scan's
 * reading (no file read), or NULL to read all of them.  False, and the
 * engine lets go for good, when they changed.
 */
bool mp_engine_knobs_check(struct mp_engine *e, const char *auto_online);
void mp_knobs_format(const struct mp_knobs *k, char *buf, size_t len);
/*
 * On the kernel fast path, sample (mp_block_sample()) the blocks that came
 * online since the last scan while their device is still being added;
 * drop samples of blocks no longer online.  @mem: this scan.
 */
void mp_engine_early_sample(struct mp_engine *e, const struct mp_memory *mem);
/* Forget the samples of @g's blocks (they were used) or of all blocks (@g NULL). */
void mp_engine_early_drop(struct mp_engine *e, const struct mp_devgroup *g);

/* persist.c */
void mp_engine_state_load(struct mp_engine *e);
void mp_engine_state_save(struct mp_engine *e);
const struct mp_persisted *mp_engine_persisted_find(const struct mp_engine *e, const char *key,
						    uint64_t start);
void mp_engine_persisted_forget(struct mp_engine *e, const char *key, uint64_t start);

#endif
