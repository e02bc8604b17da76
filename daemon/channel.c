// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugd's side of the memplug channel (docs/channel.md): the
 * virtio-serial port org.memplug.0, the greeting, the host's requests
 * (hello, status, prepare-unplug, cancel-unplug) and the device events.
 *
 * The protocol's bounded pieces (line reader, writer, rate limit,
 * validation, builders) are channel/'s; this file owns the port, what the
 * host may ask of the daemon, and turning the engine's outcomes into events.
 *
 * Knowing when a host is there.  virtio_console's poll (6.1,
 * port_fops_poll()) reports EPOLLHUP for as long as no host is connected,
 * and EPOLLIN too (a read returns 0 then); poll() on the port would
 * return at once, over and over.  What it does offer: every
 * VIRTIO_CONSOLE_PORT_OPEN control message (the host connecting or going
 * away) and every unplug of the port calls send_sigio_to_port(), a SIGIO to
 * the owner of an O_ASYNC file.  So the port is opened with O_ASYNC and
 * F_SETOWN, SIGIO goes to memplugd's signalfd, and while no host is
 * connected the port is not polled at all: idle with no host costs no
 * wakeup, and a host that connects is seen at once.  The alternatives were
 * worse: a backoff timer wakes memplugd forever on a guest nobody talks to,
 * and the port gets no uevent when the host connects (only its own
 * add/remove and the "name" change).  A SIGIO says only "something
 * changed": every one is answered by one poll() with timeout 0 to read the
 * state, so coalesced or spurious signals do no harm.  SIGIO on data while
 * a host is connected is the same: the loop also polls the port then.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "memplugd.h"
#include "mp-channel.h"
#include "mp-json.h"
#include "util.h"

/* What the channel last told of a device, to send each outcome once. */
struct seen {
	char key[48];
	enum mp_device_state state;
	uint64_t done_us;
};

struct mpd_channel {
	char name[64]; /* the port's name */
	char port[64]; /* vportNpM, "" while none is found */
	char path[PATH_MAX];
	int fd; /* the open port, -1 */
	bool connected; /* a host is there */
	int tfd; /* fires when a stalled partial line is due */
	uint64_t timer_at_us;
	uint64_t generation; /* connections so far: a reply for an earlier one is dropped */
	struct mp_chan_reader rd;
	struct mp_chan_writer wr;
	struct mp_chan_ratelimit rl;
	/* the prepare-unplug that waits for the daemon's drain */
	bool drain_pending;
	uint64_t drain_generation;
	struct json_object *drain_id;
	char drain_key[48];
	/* event tracking */
	struct seen *seen;
	size_t nr_seen;
	bool seen_init;
	uint64_t requests, rate_limited, bad, write_errors;
};

static void channel_send(struct mpd_channel *ch);
static void violation_hook(void *priv, const char *key, uint64_t block, const char *evidence);

/* ---- finding and opening the port --------------------------------------------- */

/* The port named @name under <root>/sys/class/virtio-ports: 0 and its name, or -ENOENT. */
static int port_find(const struct mp_ctx *ctx, const char *name, char *port, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX], buf[128];
	struct dirent *de;
	DIR *dp;
	int err = -ENOENT;

	if (mp_ctx_path(ctx, dir, sizeof(dir), "sys/class/virtio-ports"))
		return -ENAMETOOLONG;
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/name", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		/* A port gets its name attribute after its add uevent, with a change uevent. */
		if (mp_read_attr(AT_FDCWD, path, buf, sizeof(buf)) < 0 || strcmp(buf, name))
			continue;
		snprintf(port, len, "%s", de->d_name);
		err = 0;
		break;
	}
	closedir(dp);
	return err;
}

static void channel_close(struct mpd_channel *ch)
{
	if (ch->fd >= 0)
		close(ch->fd);
	ch->fd = -1;
	ch->connected = false;
	mp_chan_reader_reset(&ch->rd);
	mp_chan_writer_reset(&ch->wr);
}

static void channel_connected(struct daemon *d);

/*
 * Read the port's state with one poll(0): a host connected (no POLLHUP)
 * or not.  Called after every SIGIO and every POLLHUP/EOF.
 */
static void channel_check(struct daemon *d)
{
	struct mpd_channel *ch = d->channel;
	struct pollfd p = { .fd = ch->fd, .events = POLLIN | POLLOUT };
	char tmp[4096];
	int n;

	if (ch->fd < 0)
		return;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		mp_warn("channel %s: poll: %s", ch->port, strerror(errno));
		return;
	}
	if (p.revents & POLLNVAL) {
		channel_close(ch);
		return;
	}
	if (!(p.revents & POLLHUP)) {
		if (!ch->connected)
			channel_connected(d);
		return;
	}
	if (ch->connected) {
		mp_notice("channel %s: host disconnected (%llu request(s) so far)", ch->port,
			  (unsigned long long)ch->requests);
		ch->connected = false;
		mp_chan_reader_reset(&ch->rd);
		mp_chan_writer_reset(&ch->wr);
	}
	/* What the host sent before it left is not for anyone; a port unplugged reads ENODEV. */
	while ((n = (int)read(ch->fd, tmp, sizeof(tmp))) > 0)
		;
	if (n < 0 && errno == ENODEV) {
		mp_notice("channel %s: port removed", ch->port);
		channel_close(ch);
		ch->port[0] = '\0';
	}
}

/* Find and open the port if it is there; quiet when it is not (the uevent brings it). */
static void channel_open(struct daemon *d)
{
	struct mpd_channel *ch = d->channel;
	int fd, err;

	if (ch->fd >= 0)
		return;
	err = port_find(d->ctx, ch->name, ch->port, sizeof(ch->port));
	if (err) {
		ch->port[0] = '\0';
		return;
	}
	if (mp_ctx_path(d->ctx, ch->path, sizeof(ch->path), "dev/%s", ch->port))
		return;
	fd = open(ch->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		/* EBUSY: virtio_console lets one process open a port; another memplugd? */
		mp_warn("channel %s: %s: %s", ch->name, ch->path, strerror(-err));
		return;
	}
	if (fcntl(fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC) < 0) {
		err = -errno;
		mp_warn("channel %s: %s: O_ASYNC: %s: a host connecting is not seen", ch->name,
			ch->path, strerror(-err));
	}
	ch->fd = fd;
	mp_notice("channel %s: %s open, waiting for a host", ch->name, ch->path);
	channel_check(d);
}

/**
 * mpd_channel_new() - the channel on the port named @name
 * @d: the daemon
 * @name: port name (org.memplug.0)
 *
 * The port may not exist yet (virtio_console not loaded, no such port):
 * mpd_channel_poke() (on its virtio-ports uevent) opens it when it appears.
 *
 * Return: 0 or -errno.
 */
int mpd_channel_new(struct daemon *d, const char *name)
{
	struct mpd_channel *ch = calloc(1, sizeof(*ch));
	int err;

	if (!ch)
		return -ENOMEM;
	ch->fd = -1;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ch->tfd < 0) {
		err = -errno;
		free(ch);
		return err;
	}
	if (mp_chan_reader_init(&ch->rd)) {
		close(ch->tfd);
		free(ch);
		return -ENOMEM;
	}
	mp_chan_writer_init(&ch->wr, MP_CHAN_QUEUE_MAX);
	d->channel = ch;
	mp_engine_set_violation_fn(d->engine, violation_hook, d);
	channel_open(d);
	if (ch->fd < 0)
		mp_info("channel %s: no such virtio-serial port (yet)", name);
	return 0;
}

void mpd_channel_free(struct daemon *d)
{
	struct mpd_channel *ch = d->channel;

	if (!ch)
		return;
	mp_engine_set_violation_fn(d->engine, NULL, NULL);
	channel_close(ch);
	close(ch->tfd);
	mp_chan_reader_free(&ch->rd);
	mp_chan_writer_free(&ch->wr);
	json_object_put(ch->drain_id);
	free(ch->seen);
	free(ch);
	d->channel = NULL;
}

void mpd_channel_poke(struct daemon *d)
{
	if (!d->channel)
		return;
	if (d->channel->fd < 0)
		channel_open(d);
	else
		channel_check(d);
}

/* ---- greeting ---------------------------------------------------------------------- */

static struct json_object *greeting_body(struct daemon *d)
{
	struct json_object *o = json_object_new_object(), *st, *v, *nodes, *caps;
	const struct mp_memory *mem = mp_engine_memory(d->engine);
	struct mp_zone_free *z = NULL;
	struct mp_geometry geo;
	char buf[128], path[PATH_MAX];
	size_t nz = 0;

	mp_json_add_int(o, "protocol", MP_CHAN_PROTOCOL);
	mp_json_add_str(o, "version", MEMPLUG_VERSION);
	if (mp_kernel_release(d->ctx, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	mp_json_add_str(o, "kernel", buf);
	if (mem)
		geo = mem->geo;
	else if (mp_geometry_read(d->ctx, &geo))
		geo.block_size = 0;
	mp_json_add_u64(o, "block_size", geo.block_size);
	/* 6.1: Y/N; from 6.6 also "force" (memmap_on_memory's mode): either means on. */
	if (mp_ctx_path(d->ctx, path, sizeof(path),
			"sys/module/memory_hotplug/parameters/memmap_on_memory") ||
	    mp_read_attr(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	mp_json_add_bool(o, "memmap_on_memory",
			 buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1' || !strcmp(buf, "force"));
	mp_json_add_str(o, "auto_online_blocks", mem ? mem->auto_online : "");

	if (mp_zoneinfo_read(d->ctx, &z, &nz) < 0)
		nz = 0;
	st = mp_engine_status_json(d->engine);
	nodes = json_object_new_array();
	if (st && json_object_object_get_ex(st, "nodes", &v)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *n = json_object_get(json_object_array_get_idx(v, i));
			int64_t kf =
				mp_zoneinfo_kernel_free(z, nz, (int)mp_json_get_int(n, "node", -1));

			if (kf >= 0)
				mp_json_add_u64(n, "kernel_free", (uint64_t)kf);
			json_object_array_add(nodes, n);
		}
	}
	json_object_object_add(o, "nodes", nodes);
	if (st && json_object_object_get_ex(st, "policies", &v))
		json_object_object_add(o, "policies", json_object_get(v));
	else
		json_object_object_add(o, "policies", json_object_new_array());
	json_object_put(st);
	free(z);
	caps = json_object_new_array();
	json_object_array_add(caps, json_object_new_string("status"));
	json_object_array_add(caps, json_object_new_string("prepare-unplug"));
	json_object_array_add(caps, json_object_new_string("cancel-unplug"));
	json_object_array_add(caps, json_object_new_string("grow-answer"));
	json_object_object_add(o, "capabilities", caps);
	return o;
}

/* Queue @o (taken) as a reply; one that does not fit becomes Busy, one even that cannot be dropped. */
static void reply(struct mpd_channel *ch, struct json_object *id, struct json_object *o)
{
	int err = mp_chan_writer_json(&ch->wr, o, false);

	if (err == -ENOBUFS) {
		size_t len = strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		char desc[160];

		snprintf(
			desc, sizeof(desc),
			"a reply of %zu bytes does not fit the %zu bytes left of the output queue: the host is not reading",
			len, MP_CHAN_QUEUE_MAX - mp_chan_writer_pending(&ch->wr));
		mp_warn("channel %s: %s", ch->port, desc);
		json_object_put(o);
		o = mp_chan_error_new(id, MP_CHAN_E_BUSY, desc, NULL);
		err = mp_chan_writer_json(&ch->wr, o, false);
	}
	if (err)
		mp_warn("channel %s: reply dropped: %s", ch->port, strerror(-err));
	json_object_put(o);
}

static void reply_error(struct mpd_channel *ch, struct json_object *id, enum mp_chan_class cls,
			const char *desc, struct json_object *data)
{
	reply(ch, id, mp_chan_error_new(id, cls, desc, data));
}

static void channel_connected(struct daemon *d)
{
	struct mpd_channel *ch = d->channel;

	ch->connected = true;
	ch->generation++;
	mp_chan_reader_reset(&ch->rd);
	mp_chan_writer_reset(&ch->wr);
	mp_chan_ratelimit_init(&ch->rl, MP_CHAN_RATE, MP_CHAN_BURST, mp_now_us());
	mp_notice("channel %s: host connected (connection %llu): greeting", ch->port,
		  (unsigned long long)ch->generation);
	reply(ch, NULL, mp_chan_greeting_new(greeting_body(d)));
	channel_send(ch);
}

/* ---- requests ---------------------------------------------------------------------- */

/* The device a prepare-unplug by range means: the one whose extent is exactly it. */
static const struct mp_device *device_by_range(struct daemon *d, uint64_t start, uint64_t size)
{
	for (size_t i = 0; i < mp_engine_device_count(d->engine); i++) {
		const struct mp_device *r = mp_engine_device(d->engine, i);

		if (r->start == start && r->size == size)
			return r;
	}
	return NULL;
}

static void prepare_unplug(struct daemon *d, struct json_object *id, struct json_object *args)
{
	struct mpd_channel *ch = d->channel;
	struct mp_chan_unplug_args a;
	const struct mp_device *r;
	struct mp_chan_err err;
	char desc[200];
	int rc;

	if (mp_chan_args_prepare_unplug(args, &a, &err)) {
		reply_error(ch, id, err.cls, err.desc, NULL);
		return;
	}
	r = a.by_range ? device_by_range(d, a.start, a.size) :
			 mp_engine_device_find(d->engine, a.device);
	if (!r) {
		if (a.by_range)
			snprintf(
				desc, sizeof(desc),
				"no device spans exactly 0x%llx-0x%llx: a range must be one whole device's",
				(unsigned long long)a.start,
				(unsigned long long)(a.start + a.size - 1));
		else
			snprintf(desc, sizeof(desc), "no device %s", a.device);
		reply_error(ch, id, MP_CHAN_E_NOT_FOUND, desc, NULL);
		return;
	}
	snprintf(a.device, sizeof(a.device), "%s", r->key);
	if (r->state == MP_DEVICE_BOOT || r->state == MP_DEVICE_UNIDENTIFIED ||
	    r->kind == MP_POLICY_KIND_BOOT) {
		snprintf(desc, sizeof(desc), "%s is %s: not memplugd's to unplug", r->key,
			 r->state == MP_DEVICE_BOOT ? "boot memory" : "memory of no known device");
		reply_error(ch, id, MP_CHAN_E_NOT_PERMITTED, desc, NULL);
		return;
	}
	if (d->drain.pid > 0) {
		snprintf(desc, sizeof(desc), "the drain of %s is running", d->drain.plan.key);
		reply_error(ch, id, MP_CHAN_E_BUSY, desc, NULL);
		return;
	}
	rc = mpd_drain_start(d, r->key, a.timeout_ms);
	if (rc == 0) {
		/* Answered by mpd_channel_drain_done() when the drain process ends. */
		d->drain.for_channel = true;
		ch->drain_pending = true;
		ch->drain_generation = ch->generation;
		json_object_put(ch->drain_id);
		ch->drain_id = id ? json_object_get(id) : NULL;
		snprintf(ch->drain_key, sizeof(ch->drain_key), "%s", r->key);
		return;
	}
	if (rc == 1) {
		struct json_object *o = json_object_new_object();

		mp_json_add_str(o, "device", r->key);
		json_object_object_add(o, "drain", NULL);
		mp_json_add_str(o, "message", "every block was offline already");
		reply(ch, id, mp_chan_return_new(id, o));
		return;
	}
	snprintf(desc, sizeof(desc), "%s: %s", r->key, strerror(-rc));
	reply_error(ch, id,
		    rc == -ENOENT ? MP_CHAN_E_NOT_FOUND :
		    rc == -EPERM  ? MP_CHAN_E_NOT_PERMITTED :
		    rc == -EBUSY  ? MP_CHAN_E_BUSY :
				    MP_CHAN_E_FAILED,
		    desc, NULL);
}

/* The drain (drain.c) ended: @o is {"device", "err", "drain" | "error"} (taken). */
void mpd_channel_drain_done(struct daemon *d, struct json_object *o)
{
	struct mpd_channel *ch = d->channel;
	struct json_object *res = NULL, *data, *f;
	int err = (int)mp_json_get_int(o, "err", -EIO);
	char desc[300];

	if (!ch || !ch->drain_pending) {
		json_object_put(o);
		return;
	}
	ch->drain_pending = false;
	if (!ch->connected || ch->drain_generation != ch->generation) {
		mp_info("channel: the drain of %s ended after its host went away: answer dropped",
			ch->drain_key);
		goto out;
	}
	json_object_object_get_ex(o, "drain", &res);
	data = json_object_new_object();
	mp_json_add_str(data, "device", ch->drain_key);
	json_object_object_add(data, "drain", res ? json_object_get(res) : NULL);
	if (!err) {
		reply(ch, ch->drain_id, mp_chan_return_new(ch->drain_id, data));
		goto out;
	}
	if (res && json_object_object_get_ex(res, "failed", &f)) {
		const char *reason = mp_json_get_str(f, "reason", "");

		snprintf(desc, sizeof(desc), "memory%llu refused: %s%s%s%s",
			 (unsigned long long)mp_json_get_u64(f, "block", 0),
			 mp_json_get_str(f, "errno", "?"), reason[0] ? " (" : "", reason,
			 reason[0] ? ")" : "");
	} else {
		snprintf(desc, sizeof(desc), "%s", mp_json_get_str(o, "error", strerror(-err)));
	}
	if (err == -ENOTRECOVERABLE)
		snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc),
			 "; the rollback failed: the device is partly offline");
	else if (res)
		snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc),
			 "; every block is back online in its zone");
	reply_error(ch, ch->drain_id, res ? MP_CHAN_E_REFUSED : MP_CHAN_E_FAILED, desc, data);
out:
	json_object_put(ch->drain_id);
	ch->drain_id = NULL;
	json_object_put(o);
	channel_send(ch);
}

static void cancel_unplug(struct daemon *d, struct json_object *id, struct json_object *args)
{
	struct mpd_channel *ch = d->channel;
	const struct mp_device *r;
	struct mp_chan_err err;
	struct json_object *o;
	char key[48], desc[200];
	int rc;

	if (mp_chan_args_device(args, key, sizeof(key), &err)) {
		reply_error(ch, id, err.cls, err.desc, NULL);
		return;
	}
	r = mp_engine_device_find(d->engine, key);
	if (!r) {
		snprintf(desc, sizeof(desc), "no device %s", key);
		reply_error(ch, id, MP_CHAN_E_NOT_FOUND, desc, NULL);
		return;
	}
	if (r->state == MP_DEVICE_DRAINING) {
		snprintf(desc, sizeof(desc), "%s: its drain is running", key);
		reply_error(ch, id, MP_CHAN_E_BUSY, desc, NULL);
		return;
	}
	if (r->state != MP_DEVICE_DRAINED) {
		o = json_object_new_object();
		mp_json_add_str(o, "device", key);
		mp_json_add_str(o, "outcome", mp_device_state_name(r->state));
		snprintf(desc, sizeof(desc), "%s is %s, not drained", key,
			 mp_device_state_name(r->state));
		reply_error(ch, id, MP_CHAN_E_NOT_DRAINED, desc, o);
		return;
	}
	rc = mp_engine_undrain(d->engine, key, &r);
	o = json_object_new_object();
	mp_json_add_str(o, "device", key);
	if (r) {
		mp_json_add_str(o, "outcome", mp_device_state_name(r->state));
		mp_json_add_str(o, "message", r->message);
	}
	if (!rc) {
		reply(ch, id, mp_chan_return_new(id, o));
		return;
	}
	snprintf(desc, sizeof(desc), "%s: %s", key, rc == -EIO && r ? r->message : strerror(-rc));
	reply_error(ch, id, rc == -ENOENT ? MP_CHAN_E_NOT_FOUND : MP_CHAN_E_FAILED, desc, o);
}

static void request(struct daemon *d, const struct mp_chan_msg *m)
{
	struct mpd_channel *ch = d->channel;
	char desc[120];

	/* the host is asking: the every-PFN pass waits for quiet */
	mp_engine_hold_deferred(d->engine);
	if (!strcmp(m->name, "hello")) {
		reply(ch, m->id, mp_chan_return_new(m->id, greeting_body(d)));
	} else if (!strcmp(m->name, "status")) {
		reply(ch, m->id, mp_chan_return_new(m->id, mpd_status_json(d)));
	} else if (!strcmp(m->name, "prepare-unplug")) {
		prepare_unplug(d, m->id, m->body);
	} else if (!strcmp(m->name, "cancel-unplug")) {
		cancel_unplug(d, m->id, m->body);
	} else if (!strcmp(m->name, "grow-answer")) {
		reply(ch, m->id, mpd_grow_answer(d, m->id, m->body));
	} else {
		snprintf(desc, sizeof(desc), "no command '%s'", m->name);
		reply_error(ch, m->id, MP_CHAN_E_COMMAND_NOT_FOUND, desc, NULL);
	}
}

/* One line from the host: every line costs a token, answered or refused. */
static void channel_line(struct daemon *d, const struct mp_chan_line *l)
{
	struct mpd_channel *ch = d->channel;
	struct mp_chan_msg m;
	struct mp_chan_err err;
	char desc[160];
	int rc;

	if (l->kind == MP_CHAN_LINE_TOO_LONG) {
		ch->bad++;
		snprintf(desc, sizeof(desc),
			 "a line of %zu bytes discarded: at most %d bytes with its newline", l->len,
			 MP_CHAN_LINE_MAX);
		mp_info("channel %s: %s", ch->port, desc);
		if (mp_chan_ratelimit_take(&ch->rl, mp_now_us()))
			reply_error(ch, NULL, MP_CHAN_E_LINE_TOO_LONG, desc, NULL);
		return;
	}
	rc = mp_chan_msg_parse(l->text, l->len, &m, &err);
	if (rc == 1) {
		mp_chan_msg_clear(&m);
		return; /* blank */
	}
	if (!mp_chan_ratelimit_take(&ch->rl, mp_now_us())) {
		ch->rate_limited++;
		/* Not run, but answered: the queue's bound holds for a flood of these too. */
		reply_error(ch, m.id, MP_CHAN_E_RATE_LIMITED,
			    "more than 20 requests per second (burst 40): not run", NULL);
		mp_chan_msg_clear(&m);
		return;
	}
	if (rc == 0 && m.kind != MP_CHAN_MSG_REQUEST) {
		rc = -EINVAL;
		err.cls = MP_CHAN_E_BAD_MESSAGE;
		snprintf(err.desc, sizeof(err.desc), "the guest takes requests (\"execute\") only");
	}
	if (rc) {
		ch->bad++;
		mp_info("channel %s: %s: %s", ch->port, mp_chan_class_name(err.cls), err.desc);
		reply_error(ch, m.id, err.cls, err.desc, NULL);
		mp_chan_msg_clear(&m);
		return;
	}
	ch->requests++;
	mp_dbg("channel %s: %s", ch->port, m.name);
	request(d, &m);
	mp_chan_msg_clear(&m);
}

/* ---- events ------------------------------------------------------------------------ */

static void event(struct mpd_channel *ch, const char *name, struct json_object *data)
{
	struct json_object *o = mp_chan_event_new(name, data, 0);
	int err;

	if (!ch->connected) {
		/* No host: the greeting and status tell the next one how things are. */
		json_object_put(o);
		return;
	}
	err = mp_chan_writer_json(&ch->wr, o, true);
	if (err == -ENOBUFS && ch->wr.dropped == 1)
		mp_warn("channel %s: output queue full (%zu bytes unsent): dropping events",
			ch->port, mp_chan_writer_pending(&ch->wr));
	json_object_put(o);
}

int mpd_channel_event(struct daemon *d, const char *name, struct json_object *data)
{
	if (!d->channel || !d->channel->connected) {
		json_object_put(data);
		return -ENOTCONN;
	}
	event(d->channel, name, data);
	channel_send(d->channel);
	return 0;
}

bool mpd_channel_connected(struct daemon *d)
{
	return d->channel && d->channel->connected;
}

static void violation_hook(void *priv, const char *key, uint64_t block, const char *evidence)
{
	struct daemon *d = priv;
	struct json_object *o;

	if (!d->channel)
		return;
	o = json_object_new_object();
	mp_json_add_str(o, "device", key);
	if (block != UINT64_MAX)
		mp_json_add_u64(o, "block", block);
	mp_json_add_str(o, "evidence", evidence);
	event(d->channel, "VIOLATION", o);
}

static void device_event(struct mpd_channel *ch, enum mp_device_state prev,
			 const struct mp_device *r)
{
	struct json_object *o;
	const char *name, *left = NULL;

	/* A drain that was refused or cancelled ends where it began: its reply says so. */
	if (prev == MP_DEVICE_DRAINING && r->state != MP_DEVICE_DRAINED)
		return;
	switch (r->state) {
	case MP_DEVICE_ONLINE:
		name = "DEVICE_ONLINE";
		break;
	case MP_DEVICE_PARTIAL:
	case MP_DEVICE_FAILED:
		name = "DEVICE_FAILED";
		break;
	case MP_DEVICE_OTHER:
		name = "DEVICE_CONFLICT";
		break;
	case MP_DEVICE_NO_MATCH:
		name = "DEVICE_LEFT";
		left = "no-policy";
		break;
	case MP_DEVICE_LEFT_OFFLINE:
		name = "DEVICE_LEFT";
		left = "left-offline";
		break;
	case MP_DEVICE_DEVDAX:
		name = "DEVICE_LEFT";
		left = "devdax";
		break;
	case MP_DEVICE_DRAINED:
		name = "DEVICE_DRAINED";
		break;
	default:
		return;
	}
	o = json_object_new_object();
	mp_json_add_str(o, "device", r->key);
	if (r->state == MP_DEVICE_ONLINE) {
		mp_json_add_str(o, "blocks", r->blocks);
		mp_json_add_str(o, "zone", r->zone);
		mp_json_add_int(o, "node", r->node);
		mp_json_add_u64(o, "start", r->start);
		mp_json_add_u64(o, "size", r->size);
		mp_json_add_u64(o, "onlined", r->onlined);
		mp_json_add_u64(o, "verified", r->verified);
		mp_json_add_u64(o, "violations", r->violations);
		mp_json_add_str(o, "policy", r->policy);
		mp_json_add_str(o, "zone_why", r->zone_why);
		mp_json_add_u64(o, "online_us", r->online_us);
		mp_json_add_u64(o, "verify_us", r->verify_us);
		mp_json_add_u64(o, "latency_us", r->done_us ? r->done_us - r->first_seen_us : 0);
		mp_json_add_str(o, "message", r->message);
		/* The proof of an NVDIMM turned RAM includes kmem's trim, checked. */
		mp_device_trim_add(r, o);
	} else if (!strcmp(name, "DEVICE_FAILED")) {
		mp_json_add_str(o, "blocks", r->blocks);
		mp_json_add_str(o, "message", r->message);
		mp_json_add_u64(o, "onlined", r->onlined);
		mp_json_add_u64(o, "failed", r->failed);
		mp_json_add_u64(o, "violations", r->violations);
	} else if (r->state == MP_DEVICE_DRAINED) {
		mp_json_add_str(o, "blocks", r->blocks);
	} else {
		if (left)
			mp_json_add_str(o, "outcome", left);
		mp_json_add_str(o, "message", r->message);
	}
	event(ch, name, o);
}

static struct seen *seen_find(struct mpd_channel *ch, const char *key)
{
	for (size_t i = 0; i < ch->nr_seen; i++)
		if (!strcmp(ch->seen[i].key, key))
			return &ch->seen[i];
	return NULL;
}

/*
 * Compare the engine's devices with what the channel saw last: each new
 * outcome is one event, a device no longer there is DEVICE_GONE.  Called
 * once per loop turn (a few dozen devices at most: cheaper than a hook at
 * every place the engine changes a device).  The first call only records:
 * what was there before memplugd started is in the greeting and status.
 */
void mpd_channel_sync(struct daemon *d)
{
	struct mpd_channel *ch = d->channel;
	size_t n;

	if (!ch)
		return;
	n = mp_engine_device_count(d->engine);
	for (size_t i = 0; i < n; i++) {
		const struct mp_device *r = mp_engine_device(d->engine, i);
		struct seen *s = seen_find(ch, r->key);

		if (!s) {
			struct seen *t = realloc(ch->seen, (ch->nr_seen + 1) * sizeof(*t));

			if (!t)
				return;
			ch->seen = t;
			s = &t[ch->nr_seen++];
			snprintf(s->key, sizeof(s->key), "%s", r->key);
			s->state = ch->seen_init ? MP_DEVICE_SETTLING : r->state;
			s->done_us = ch->seen_init ? 0 : r->done_us;
		}
		if (s->state != r->state || s->done_us != r->done_us) {
			device_event(ch, s->state, r);
			s->state = r->state;
			s->done_us = r->done_us;
		}
	}
	for (size_t i = 0; i < ch->nr_seen;) {
		struct json_object *o;

		if (mp_engine_device_find(d->engine, ch->seen[i].key)) {
			i++;
			continue;
		}
		if (ch->seen[i].state != MP_DEVICE_SETTLING) {
			o = json_object_new_object();
			mp_json_add_str(o, "device", ch->seen[i].key);
			event(ch, "DEVICE_GONE", o);
		}
		ch->seen[i] = ch->seen[--ch->nr_seen];
	}
	ch->seen_init = true;
	channel_send(ch);
}

/* ---- the loop's side ---------------------------------------------------------------- */

static void channel_send(struct mpd_channel *ch)
{
	int err;

	if (ch->fd < 0 || !ch->connected || !mp_chan_writer_pending(&ch->wr))
		return;
	err = mp_chan_writer_flush(&ch->wr, ch->fd);
	if (err < 0) {
		ch->write_errors++;
		mp_warn("channel %s: write: %s", ch->port, strerror(-err));
		/* The state says what happened: a host gone, a port unplugged. */
	}
}

static void timer_update(struct mpd_channel *ch)
{
	uint64_t at = ch->connected ? mp_chan_reader_deadline(&ch->rd) : 0;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (at == ch->timer_at_us)
		return;
	if (at) {
		its.it_value.tv_sec = (time_t)(at / 1000000u);
		its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
	}
	if (timerfd_settime(ch->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		ch->timer_at_us = at;
}

/**
 * mpd_channel_fds() - the channel's fds to poll
 * @ch: the channel, or NULL (0 fds)
 * @pfd: room for MPD_CHANNEL_MAX_FDS entries
 *
 * The port only while a host is connected (POLLOUT only while output
 * waits): without a host it would report POLLHUP at once, forever; SIGIO
 * says when one connects.  The stall timer only while a partial line waits.
 *
 * Return: entries filled.
 */
int mpd_channel_fds(struct mpd_channel *ch, struct pollfd *pfd)
{
	int n = 0;

	if (!ch)
		return 0;
	timer_update(ch);
	if (ch->fd >= 0 && ch->connected)
		pfd[n++] = (struct pollfd){
			.fd = ch->fd,
			.events = POLLIN | (mp_chan_writer_pending(&ch->wr) ? POLLOUT : 0),
		};
	if (ch->timer_at_us)
		pfd[n++] = (struct pollfd){ .fd = ch->tfd, .events = POLLIN };
	return n;
}

static void channel_read(struct daemon *d)
{
	struct mpd_channel *ch = d->channel;
	struct mp_chan_line l;

	/* Bounded per turn: a host that sends without pause cannot starve the loop. */
	for (int i = 0; i < 16 && ch->fd >= 0 && ch->connected; i++) {
		ssize_t n = mp_chan_reader_fill(&ch->rd, ch->fd);

		if (n == -EAGAIN)
			return;
		if (n == 0 || (n < 0 && n != -ENOBUFS)) {
			/* EOF: the host went away (or the port did): read the state. */
			channel_check(d);
			return;
		}
		while (ch->connected && mp_chan_reader_next(&ch->rd, &l) > 0)
			channel_line(d, &l);
		channel_send(ch);
	}
}

/**
 * mpd_channel_handle() - serve the channel after poll()
 * @d: the daemon
 * @pfd: the entries mpd_channel_fds() filled, with revents
 * @n: their number
 */
void mpd_channel_handle(struct daemon *d, const struct pollfd *pfd, int n)
{
	struct mpd_channel *ch = d->channel;
	size_t dropped;

	if (!ch)
		return;
	for (int k = 0; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		if (pfd[k].fd == ch->tfd) {
			uint64_t x;

			(void)!read(ch->tfd, &x, sizeof(x));
			ch->timer_at_us = 0;
			dropped = mp_chan_reader_expire(&ch->rd, mp_now_us());
			if (dropped) {
				char desc[160];

				snprintf(
					desc, sizeof(desc),
					"a partial line of %zu bytes discarded: no byte for %llu s",
					dropped, MP_CHAN_STALL_US / 1000000);
				mp_info("channel %s: %s", ch->port, desc);
				reply_error(ch, NULL, MP_CHAN_E_BAD_MESSAGE, desc, NULL);
				channel_send(ch);
			}
			continue;
		}
		if (pfd[k].fd != ch->fd)
			continue;
		if (pfd[k].revents & POLLIN)
			channel_read(d);
		if (ch->fd >= 0 && (pfd[k].revents & POLLOUT))
			channel_send(ch);
		if (ch->fd >= 0 && (pfd[k].revents & (POLLHUP | POLLERR)))
			channel_check(d);
	}
}

/** mpd_channel_status() - the channel's part of the status document. */
void mpd_channel_status(struct daemon *d, struct json_object *o)
{
	struct mpd_channel *ch = d->channel;
	struct json_object *c;

	if (!ch)
		return;
	c = json_object_new_object();
	mp_json_add_str(c, "name", ch->name);
	mp_json_add_str(c, "port", ch->fd >= 0 ? ch->path : "");
	mp_json_add_bool(c, "connected", ch->connected);
	mp_json_add_u64(c, "connections", ch->generation);
	mp_json_add_u64(c, "requests", ch->requests);
	mp_json_add_u64(c, "bad_lines", ch->bad);
	mp_json_add_u64(c, "rate_limited", ch->rate_limited);
	mp_json_add_u64(c, "events", ch->wr.events);
	mp_json_add_u64(c, "events_dropped", ch->wr.dropped_total);
	mp_json_add_u64(c, "queued", mp_chan_writer_pending(&ch->wr));
	json_object_object_add(o, "channel", c);
}
