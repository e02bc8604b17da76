/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memplugd's own state: what it knows about each device and what it did.
 * The work itself (grouping, deciding, onlining, verifying) is in the
 * library (policies/mp-apply.h, kernel/mp-verify.h).
 */
#ifndef MEMPLUGD_H
#define MEMPLUGD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <poll.h>

#include "mp-apply.h"
#include "mp-kernel.h"
#include "mp-verify.h"
#include "policy.h"

enum rec_state {
	REC_SETTLING = 0, /* blocks still arriving or links missing */
	REC_ONLINE, /* onlined by memplugd (this run or a previous one) */
	REC_PARTIAL, /* some blocks failed */
	REC_OTHER, /* another onliner got there first */
	REC_NO_MATCH, /* no policy matched: left alone */
	REC_LEFT_OFFLINE, /* the policy says Online=no */
	REC_DEVDAX, /* dax device left as devdax */
	REC_KMEM, /* dax device handed to kmem, blocks pending */
	REC_BOOT, /* boot memory: never acted on */
	REC_OFFLINED, /* was online, someone offlined it: not fought */
	REC_UNIDENTIFIED, /* offline memory with no device: not ours to online */
	REC_FAILED,
};

/* One device memplugd has seen. */
struct rec {
	char key[48];
	uint64_t start, size; /* extent when first seen */
	enum mp_policy_kind kind;
	int node;
	enum rec_state state;
	bool seen; /* in the latest scan */
	bool persisted_ours; /* the state file says an earlier run onlined it */
	bool reported; /* conflict or left-alone message logged */
	uint64_t first_seen_us, decided_us, done_us;
	char blocks[64]; /* "memory32-35" */
	char policy[300]; /* "path:line" */
	char zone[16]; /* "movable" / "kernel" */
	char zone_why[MP_POLICY_WHY_LEN];
	char message[400]; /* last outcome in words */
	size_t onlined, verified, failed, by_other, violations;
	size_t pages_verified; /* blocks through the every-PFN kpageflags pass */
	uint64_t online_us, verify_us;
	time_t verified_at;
	/* dax only */
	bool trim_known, trim_checked, trim_ok;
	struct mp_dax_trim trim;
	char trim_text[400];
};

struct daemon {
	struct mp_ctx *ctx;
	const char *sysroot;
	const char **policy_dirs; /* NULL-terminated, NULL = defaults */
	const char *socket_path;
	const char *state_path;
	const char *events_path; /* test event source instead of netlink */
	bool once, foreground;
	struct mp_policyset *set;
	char *policy_errors; /* last refused reload, "" when none */
	const struct mp_node_provider *nodes;
	const struct mp_apply_ops *ops; /* NULL: the kernel */

	/* model */
	struct rec *recs;
	size_t nr_recs;
	struct mp_memory *mem; /* latest scan */
	char auto_online[24];
	bool auto_online_reported;
	uint64_t scans, reconciles, uevents;
	uint64_t violations;
	char last_error[200];
	/* ids memplugd wrote "online*" to, whose "online" uevent is expected */
	uint64_t *expect;
	size_t nr_expect;
	/* blocks waiting for the every-PFN kpageflags pass, after their device was reported */
	struct deep {
		char key[48];
		uint64_t id;
	} * deep;
	size_t nr_deep;
	struct mp_kpageflags *kpf;
	struct mpd_control *control; /* the control socket; NULL: none */
	bool settling; /* some device waits for its blocks/links */
	uint64_t settle_deadline_us;
	bool dirty;
};

uint64_t mpd_now_us(void);
/* engine.c */
int mpd_reconcile(struct daemon *d);
void mpd_state_load(struct daemon *d);
int mpd_reload(struct daemon *d, bool first);
void mpd_deep_verify_one(struct daemon *d);
bool mpd_uevent_expected(struct daemon *d, uint64_t id);
const char *mpd_rec_state_name(enum rec_state s);
bool mpd_rec_final(const struct rec *r);
struct rec *mpd_rec_find(struct daemon *d, const char *key);
/* control.c */
struct json_object *mpd_status_json(struct daemon *d);
struct json_object *mpd_list_json(struct daemon *d);
/* The control socket's listening fd, deadline timer and clients (private to control.c). */
struct mpd_control;
#define MPD_CONTROL_MAX_CLIENTS 16
/* Entries mpd_control_fds() may fill: listening socket, timer, clients. */
#define MPD_CONTROL_MAX_FDS (2 + MPD_CONTROL_MAX_CLIENTS)
int mpd_control_new(const char *path, struct mpd_control **out);
void mpd_control_free(struct mpd_control *ctl);
int mpd_control_fds(struct mpd_control *ctl, struct pollfd *pfd, int max);
void mpd_control_handle(struct daemon *d, const struct pollfd *pfd, int n);
void mpd_control_wake(struct daemon *d);

#endif
