/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memplug policies: drop-in *.conf files that say what to do with a memory
 * device when it appears (online or not, which zone, how hard to verify, dax
 * mode), and the engine that picks the policy for a device and explains the
 * choice.  The language and the merge rules are in docs/policies.md.
 *
 * Nothing here touches /sys or /proc: the caller (memplugd, memplugctl)
 * describes the device in a struct mp_policy_subject and the node's zone
 * sizes in a struct mp_zone_facts.
 */
#ifndef MP_POLICY_H
#define MP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Verify= names the verifier's levels (kernel/mp-verify.h): one enum, not two. */
#include "mp-verify.h"

/* ---- vocabulary ---------------------------------------------------------- */

/* Device kinds, as bits so that a [Match] Kind= list is a mask. */
enum mp_policy_kind {
	MP_POLICY_KIND_DIMM = 1 << 0, /* ACPI memory device (pc-dimm) */
	MP_POLICY_KIND_NVDIMM = 1 << 1, /* dax device on an NVDIMM (pmem) region */
	MP_POLICY_KIND_DAX = 1 << 2, /* other dax device (hmem, soft-reserved, CXL) */
	MP_POLICY_KIND_VIRTIO_MEM = 1 << 3, /* virtio-mem device */
	MP_POLICY_KIND_BOOT = 1 << 4, /* memory present at boot */
};
#define MP_POLICY_KIND_ANY 0x1fu

enum mp_policy_zone {
	MP_POLICY_ZONE_AUTO = 0, /* movable while the MovableRatio cap allows, else kernel */
	MP_POLICY_ZONE_MOVABLE,
	MP_POLICY_ZONE_KERNEL,
};

enum mp_policy_dax_mode {
	MP_POLICY_DAX_DEVDAX = 0, /* leave the dax device as a character device */
	MP_POLICY_DAX_SYSTEM_RAM, /* hand it to kmem: it becomes memory blocks */
};

/* Defaults for keys a policy does not set (docs/policies.md, "Defaults"). */
#define MP_POLICY_DEFAULT_MOVABLE_RATIO 301u /* the kernel's auto_movable_ratio default */
#define MP_POLICY_MAX_MOVABLE_RATIO 6300u /* memmap of movable memory is ~1/64 of it */
#define MP_POLICY_MAX_NODES 1024 /* MAX_NUMNODES with NODES_SHIFT=10 */

/** mp_policy_kind_name() - the Kind= word for one kind bit ("virtio-mem"), or "unknown". */
const char *mp_policy_kind_name(enum mp_policy_kind kind);
/** mp_policy_zone_name() - the Zone= word ("auto", "movable", "kernel"). */
const char *mp_policy_zone_name(enum mp_policy_zone zone);
/** mp_policy_verify_name() - the Verify= word ("full", "state", "none"). */
const char *mp_policy_verify_name(enum mp_verify_level verify);
/** mp_policy_dax_mode_name() - the [Dax] Mode= word ("devdax", "system-ram"). */
const char *mp_policy_dax_mode_name(enum mp_policy_dax_mode mode);

/* ---- errors ---------------------------------------------------------------- */

/* One problem found while loading: "file:line: message" (line 0: no line). */
struct mp_policy_diag {
	const char *file;
	unsigned int line;
	const char *msg;
};

struct mp_policy_errors;

/** mp_policy_errors_count() - number of diagnostics in @errs (0 for NULL). */
size_t mp_policy_errors_count(const struct mp_policy_errors *errs);
/** mp_policy_errors_get() - diagnostic number @i, or NULL past the end. */
const struct mp_policy_diag *mp_policy_errors_get(const struct mp_policy_errors *errs, size_t i);
/**
 * mp_policy_errors_print() - print every diagnostic as "file:line: message\n"
 * @errs: list, may be NULL
 * @f: stream
 *
 * Return: number of lines printed.
 */
size_t mp_policy_errors_print(const struct mp_policy_errors *errs, FILE *f);
/** mp_policy_errors_free() - free a list from mp_policyset_load(); NULL is fine. */
void mp_policy_errors_free(struct mp_policy_errors *errs);

/* ---- loading a set ------------------------------------------------------- */

struct mp_policy;
struct mp_policyset;

enum {
	/*
	 * Accept policy files owned by any user.  For tests and for checking
	 * files before they are installed; memplugd never sets it.  Files
	 * writable by group or others are refused regardless.
	 */
	MP_POLICY_LOAD_ANY_OWNER = 1 << 0,
};

/**
 * mp_policyset_default_dirs() - the drop-in directories, highest priority first
 *
 * Return: NULL-terminated array: <sysconfdir>/memplug/policies.d,
 * /run/memplug/policies.d, <prefix>/lib/memplug/policies.d.
 */
const char *const *mp_policyset_default_dirs(void);

/**
 * mp_policyset_load() - read, merge and check every policy in @dirs
 * @dirs: NULL-terminated directories, highest priority first; NULL means
 *        mp_policyset_default_dirs().  Missing directories are skipped.
 * @flags: MP_POLICY_LOAD_* bits
 * @out: receives the set (refcount 1) on success, NULL otherwise
 * @errs: if not NULL, receives the list of problems found, or NULL when there
 *        were none; free with mp_policy_errors_free()
 *
 * "*.conf" files are merged by file name: a file in an earlier directory
 * hides same-named files in later ones, and an empty file or a symlink to
 * /dev/null hides them without adding a policy.  Policies are kept in file
 * name order (strcmp).  Every file is parsed to the end and every problem
 * collected; a set with any problem is refused as a whole.
 *
 * Return: 0; -EINVAL when problems were found (listed in @errs); -ENOMEM.
 */
int mp_policyset_load(const char *const *dirs, unsigned int flags, struct mp_policyset **out,
		      struct mp_policy_errors **errs);

/**
 * mp_policyset_ref() - take a reference
 * @set: set, may be NULL
 *
 * A daemon keeps a reference to the set in force, and decisions point into
 * it, so a reload can swap sets while a decision is still being carried out.
 *
 * Return: @set.
 */
struct mp_policyset *mp_policyset_ref(struct mp_policyset *set);
/** mp_policyset_unref() - drop a reference; the last one frees the set. NULL is fine. */
void mp_policyset_unref(struct mp_policyset *set);

/** mp_policyset_count() - number of policies in force. */
size_t mp_policyset_count(const struct mp_policyset *set);
/** mp_policyset_get() - policy number @i in match order, or NULL past the end. */
const struct mp_policy *mp_policyset_get(const struct mp_policyset *set, size_t i);

/**
 * mp_policyset_print() - write the merged set, in match order, as policy files
 * @set: set
 * @f: stream
 *
 * Each policy starts with a "# path" comment and lists every setting with its
 * effective value (defaults included), so the output reads as what will be
 * done.
 *
 * Return: 0 or -EIO.
 */
int mp_policyset_print(const struct mp_policyset *set, FILE *f);

/** mp_policy_name() - the policy's file name, e.g. "50-default.conf". */
const char *mp_policy_name(const struct mp_policy *p);
/** mp_policy_path() - the file the policy was read from. */
const char *mp_policy_path(const struct mp_policy *p);
/** mp_policy_match_line() - line of the policy's [Match] header. */
unsigned int mp_policy_match_line(const struct mp_policy *p);

/**
 * mp_policy_print() - write one policy in canonical form (see mp_policyset_print())
 * @p: policy
 * @f: stream
 *
 * Return: 0 or -EIO.
 */
int mp_policy_print(const struct mp_policy *p, FILE *f);

/* ---- matching -------------------------------------------------------------- */

#define MP_POLICY_SUBJECT_IDS 4

/* A device being decided, as the caller found it. */
struct mp_policy_subject {
	enum mp_policy_kind kind;
	int node; /* NUMA node, -1 when unknown (matches no Node=) */
	uint64_t start; /* physical address of the first byte */
	uint64_t size; /* bytes of the whole device (a DIMM is decided as a whole) */
	/*
	 * Names the device goes by, NULL-terminated when fewer than
	 * MP_POLICY_SUBJECT_IDS: "slot3" and "PNP0C80:03" for a DIMM, "dax0.0",
	 * "virtio0".  Device= matches when a glob matches any of them.
	 */
	const char *ids[MP_POLICY_SUBJECT_IDS];
};

/* Per-node zone sizes behind the MovableRatio rule, in bytes. */
struct mp_zone_facts {
	int node; /* for the explanation only; -1: the sums over all nodes */
	uint64_t kernel_early; /* boot-time kernel-zone (DMA, DMA32, Normal) memory present */
	uint64_t movable; /* ZONE_MOVABLE memory already present */
};

#define MP_POLICY_WHY_LEN 256

/* What the matching policy says about a subject. */
struct mp_policy_decision {
	const struct mp_policy *policy; /* valid while the set is referenced */
	bool online;
	/*
	 * The zone asked for; after mp_policy_decide_zone(), MOVABLE or KERNEL
	 * with the reason in @zone_why.
	 */
	enum mp_policy_zone zone;
	unsigned int movable_ratio; /* percent, for ZONE_AUTO */
	enum mp_verify_level verify;
	enum mp_policy_dax_mode dax_mode;
	char zone_why[MP_POLICY_WHY_LEN];
};

/**
 * mp_policy_matches() - does @p's [Match] section accept @subject?
 * @p: policy
 * @subject: device
 * @why: if not NULL, receives the first key that refused, e.g.
 *       "Kind=dimm does not include virtio-mem", or "all keys match"
 * @len: size of @why
 *
 * Return: true when every key present in [Match] accepts the subject.
 */
bool mp_policy_matches(const struct mp_policy *p, const struct mp_policy_subject *subject,
		       char *why, size_t len);

/**
 * mp_policy_decision_of() - what @p says, as mp_policyset_match() returns it
 * @p: policy
 * @out: result (zone not resolved: MP_POLICY_ZONE_AUTO stays auto)
 */
void mp_policy_decision_of(const struct mp_policy *p, struct mp_policy_decision *out);

/**
 * mp_policy_kind_only() - is Kind= the policy's only [Match] condition?
 * @p: policy
 * @kinds: the kinds it matches (MP_POLICY_KIND_ANY without Kind=)
 *
 * For the engine's kernel fast path: a policy that matches every device of
 * its kinds can be said in the kernel's auto-online knobs; one with Node=,
 * Size=, Address= or Device= decides devices one by one.
 *
 * Return: true when no Node=, Size=, Address= or Device= key is set.
 */
bool mp_policy_kind_only(const struct mp_policy *p, unsigned int *kinds);

/**
 * mp_policyset_match() - find the first policy, in file name order, that matches
 * @set: set
 * @subject: device
 * @out: the matching policy's decision (zone as asked, not yet resolved)
 *
 * Return: 0, or -ENOENT when no policy matches (memplugd then leaves the
 * device alone and says so).
 */
int mp_policyset_match(const struct mp_policyset *set, const struct mp_policy_subject *subject,
		       struct mp_policy_decision *out);

/**
 * mp_policy_auto_movable() - the MovableRatio rule for one whole device
 * @ratio: percent cap of movable to boot-time kernel memory on the node
 * @facts: the node's zone sizes before the device is onlined
 * @new_bytes: size of the whole device (a DIMM goes to one zone)
 * @why: if not NULL, receives the numbers, e.g. "node 0: movable 1024 MiB +
 *       1024 MiB new = 2048 MiB <= 301% of kernel 896 MiB (2696.96 MiB) -> movable"
 * @len: size of @why
 *
 * Movable if movable + @new_bytes <= @ratio% of kernel_early, else kernel;
 * kernel when the node has no boot-time kernel memory or @ratio is 0.  This
 * is the test of the kernel's online_policy=auto-movable (mm/memory_hotplug.c,
 * auto_movable_can_online_movable()), without its bookkeeping of dynamic
 * memory groups.  The kernel runs it for all nodes together and then per
 * node; a caller that wants both passes the global sums with node -1 too.
 * CMA pages count as movable, not kernel_early, as in the kernel.
 *
 * Return: MP_POLICY_ZONE_MOVABLE or MP_POLICY_ZONE_KERNEL.
 */
enum mp_policy_zone mp_policy_auto_movable(unsigned int ratio, const struct mp_zone_facts *facts,
					   uint64_t new_bytes, char *why, size_t len);

/**
 * mp_policy_decide_zone() - resolve the decision's zone for @subject
 * @d: decision from mp_policyset_match()
 * @subject: the device (its size is what would be added)
 * @facts: the node's zone sizes; may be NULL when @d asks for a fixed zone
 *
 * Fills @d->zone with MOVABLE or KERNEL and @d->zone_why with the reason.
 *
 * Return: 0; -EINVAL when @d asks for auto and @facts is NULL; -ENODATA when
 * @d says Online=no (nothing to decide).
 */
int mp_policy_decide_zone(struct mp_policy_decision *d, const struct mp_policy_subject *subject,
			  const struct mp_zone_facts *facts);

/**
 * mp_policy_explain() - say which policy decides @subject, and why
 * @set: set
 * @subject: device
 * @facts: the node's zone sizes, or NULL (auto then stays unresolved)
 * @d: if not NULL, receives the decision (resolved when @facts allow)
 * @text: receives a malloc'ed multi-line text: the subject, each policy tried
 *        before the match with the key that refused it, the match as
 *        "path:line", then the settings and the numbers behind the zone
 *
 * Return: 0, -ENOENT when nothing matches (@text still explains), -ENOMEM.
 */
int mp_policy_explain(const struct mp_policyset *set, const struct mp_policy_subject *subject,
		      const struct mp_zone_facts *facts, struct mp_policy_decision *d, char **text);

/* ---- growth on pressure ([Grow], docs/policies.md) ---------------------- */

enum mp_grow_pressure {
	MP_GROW_PRESSURE_SOME = 0, /* some task stalled on memory */
	MP_GROW_PRESSURE_FULL, /* every non-idle task stalled at once */
};

/* PSI trigger windows the kernel accepts (kernel/sched/psi.c, psi_trigger_create()). */
#define MP_GROW_WINDOW_MIN_US 500000ull
#define MP_GROW_WINDOW_MAX_US 10000000ull

/* Defaults for [Grow] keys a policy does not set (docs/policies.md). */
#define MP_GROW_DEFAULT_STALL_US 100000ull
#define MP_GROW_DEFAULT_WINDOW_US 1000000ull
#define MP_GROW_DEFAULT_STEP (256ull << 20)
#define MP_GROW_DEFAULT_COOLDOWN_MS 30000ull

/**
 * struct mp_grow_policy - the [Grow] section in force
 * @path: file it came from (valid while the set is referenced)
 * @line: line of its [Grow] header
 * @pressure: the PSI line the trigger watches
 * @stall_us: stall time per window that fires the trigger
 * @window_us: the trigger's window
 * @step: bytes asked for per request (rounded up to the guest's block size)
 * @ceiling: online memory the guest never asks to grow past
 * @cooldown_ms: no request for this long after an answer
 * @node: guest node the memory is asked for, -1 none (the host picks)
 */
struct mp_grow_policy {
	const char *path;
	unsigned int line;
	enum mp_grow_pressure pressure;
	uint64_t stall_us, window_us;
	uint64_t step, ceiling;
	uint64_t cooldown_ms;
	int node;
};

/** mp_grow_pressure_name() - the Pressure= word ("some", "full"). */
const char *mp_grow_pressure_name(enum mp_grow_pressure p);

/**
 * mp_policyset_grow() - the [Grow] section in force
 * @set: set, may be NULL
 *
 * At most one file of a set has a [Grow] section (a second is refused when
 * the set is loaded).
 *
 * Return: the section, or NULL when no file has one.
 */
const struct mp_grow_policy *mp_policyset_grow(const struct mp_policyset *set);

#endif
