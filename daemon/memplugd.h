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
	struct mpd_control *control; /* the control socket; NULL: none */
};

/* memplugd.c */
int mpd_reload(struct daemon *d, bool first);
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
