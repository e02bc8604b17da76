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
#include <sys/types.h>

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
	bool fast_path; /* --kernel-fast-path */
	char *policy_errors; /* last refused reload, NULL when none */
	uint64_t uevents;
	bool dirty; /* something happened: reconcile */
	char status[256]; /* last STATUS= sent */
	struct mpd_control *control; /* the control socket; NULL: none */
	const char *channel_name; /* virtio-serial port name; "" = no channel */
	struct mpd_channel *channel; /* the memplug channel (channel.c); NULL: none */
	struct mpd_grow *grow; /* the PSI trigger (grow.c); NULL: never a [Grow] policy */
	/* a drain running in a child process (drain.c); pid 0: none */
	struct {
		pid_t pid;
		int fd; /* its result pipe */
		struct mp_drain_plan plan;
		bool for_channel; /* started by the channel's prepare-unplug: it answers */
		char *buf;
		size_t len, cap;
	} drain;
};

/* memplugd.c */
int mpd_reload(struct daemon *d, bool first);
/* drain.c */
/* Start draining @device; 0 started, 1 nothing to offline, or -errno (-EBUSY: one runs). */
int mpd_drain_start(struct daemon *d, const char *device, int timeout_ms);
/* The drain's pipe is readable: collect, and at its end record and answer. */
void mpd_drain_read(struct daemon *d);
/* Stopping: let a running drain finish (it rolls back on its own if refused). */
void mpd_drain_wait(struct daemon *d);
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
/* Answer the client waiting for the drain with @o (taken). */
void mpd_control_drain_done(struct daemon *d, struct json_object *o);

/* channel.c: the memplug channel (docs/channel.md) */
struct mpd_channel;
/* Entries mpd_channel_fds() may fill: the port, the stall timer. */
#define MPD_CHANNEL_MAX_FDS 2
int mpd_channel_new(struct daemon *d, const char *name);
void mpd_channel_free(struct daemon *d);
int mpd_channel_fds(struct mpd_channel *ch, struct pollfd *pfd);
void mpd_channel_handle(struct daemon *d, const struct pollfd *pfd, int n);
/*
 * Look at the port again: after SIGIO (its host connection changed:
 * virtio_console's fasync) or a virtio-ports uevent (it may have appeared,
 * been named or gone).
 */
void mpd_channel_poke(struct daemon *d);
/* Once per loop turn: send the engine's new outcomes as events. */
void mpd_channel_sync(struct daemon *d);
/* Answer the channel's prepare-unplug with the drain's end (@o taken). */
void mpd_channel_drain_done(struct daemon *d, struct json_object *o);
void mpd_channel_status(struct daemon *d, struct json_object *o);
/* Send event @name (@data taken); -ENOTCONN when no host is connected. */
int mpd_channel_event(struct daemon *d, const char *name, struct json_object *data);
bool mpd_channel_connected(struct daemon *d);

/* grow.c: growth on memory pressure (docs/daemon.md "Growth") */
struct mpd_grow;
void mpd_grow_sync(struct daemon *d);
int mpd_grow_fd(struct daemon *d);
void mpd_grow_handle(struct daemon *d, short revents);
struct json_object *mpd_grow_answer(struct daemon *d, struct json_object *id,
				    struct json_object *args);
void mpd_grow_status(struct daemon *d, struct json_object *o);
void mpd_grow_free(struct daemon *d);

#endif
