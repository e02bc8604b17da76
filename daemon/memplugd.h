/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memplugd: the daemon's own state.  What to do with memory (the scan, the
 * devices, policies, onlining, verification, the model) is the engine's
 * business (engine/mp-engine.h); memplugd owns the event sources, the
 * control socket, signals and systemd's protocol.
 */
#ifndef MEMPLUGD_H
#define MEMPLUGD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <poll.h>

#include "mp-engine.h"

struct daemon {
	struct mp_ctx *ctx;
	struct mp_engine *engine;
	const char *sysroot;
	const char **policy_dirs; /* NULL-terminated, NULL = defaults */
	const char *socket_path;
	const char *state_path;
	const char *events_path; /* test event source instead of netlink */
	bool once, foreground;
	char *policy_errors; /* last refused reload, NULL when none */
	uint64_t uevents;
	bool dirty; /* something happened: reconcile */
	char status[256]; /* last STATUS= sent */
};

/* memplugd.c */
int mpd_reload(struct daemon *d, bool first);
/* control.c */
struct json_object *mpd_status_json(struct daemon *d);
struct json_object *mpd_list_json(struct daemon *d);
int mpd_control_open(const char *path);
void mpd_control_accept(struct daemon *d, int lfd);
int mpd_control_fds(struct daemon *d, struct pollfd *pfd, int max);
void mpd_control_handle(struct daemon *d, struct pollfd *pfd, int n);
void mpd_control_wake(struct daemon *d);
void mpd_control_close_all(void);

#endif
