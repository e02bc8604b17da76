// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugd's control socket: one JSON request line per connection, one JSON
 * answer, then close.  The socket is 0666: every user may read the model
 * (status, list, wait: what `memplugctl list` and `status` show, and no more
 * than sysfs shows them), but each peer's credentials are taken with
 * SO_PEERCRED at accept, and only uid 0 may change anything (drain,
 * undrain).  Unprivileged peers hold at most MAX_UNPRIV of the client slots,
 * so a user opening connections cannot lock root out.
 *
 *   {"command":"status"}                 policies, devices, outcomes, conflicts
 *   {"command":"list"}                   blocks from the latest scan
 *   {"command":"list","form":"runs"}     the same, runs of alike blocks (memplugctl list)
 *   {"command":"wait","device":"KEY"}    answered (with status) once the
 *                                        device has a final outcome
 *
 * The main loop must never wait for a client: every socket is non-blocking,
 * an answer the peer does not take at once is queued and sent on POLLOUT,
 * and a peer that stops reading (or never finishes its request) is dropped
 * after a set time.  All of it lives in struct mpd_control, owned by the
 * daemon (d->control); the loop only polls the fds mpd_control_fds() gives
 * it and hands the results to mpd_control_handle().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "memplugd.h"
#include "mp-json.h"
#include "util.h"

#define MAX_REQUEST 4096

/*
 * Unsent answer bytes, summed over all clients.  The largest legitimate
 * answer is "list": about 123 bytes a block, 8.0 MB for 65,536 blocks (8 TiB
 * in 128 MiB blocks, 128 TiB in 2 GiB ones; measured on a generated tree).
 * 32 MiB holds that answer four times over, and it is a bound on the whole
 * daemon, not per client, so 16 stalled clients cannot make it 16 times
 * bigger.  An answer that does not fit is refused with an error answer.
 *
 * Streaming the list piecewise as the socket drains was not chosen: the
 * answer must be one snapshot of the model (a rescan between two pieces
 * would mix two scans), and json-c builds the whole string anyway, so
 * keeping it costs no more memory than building it did.
 */
#define QUEUE_MAX (32u << 20)

/*
 * No byte of the answer taken for this long: the peer stopped reading.
 * memplugctl reads as fast as it can; a loaded machine empties a socket
 * buffer (~200 KB) far quicker than this.
 */
#define STALL_US (5 * 1000 * 1000)
/* From accept to the request's newline: memplugctl sends it in one write. */
#define REQUEST_US (5 * 1000 * 1000)
/* After EMFILE/ENFILE: the listening socket stays readable, so stop polling it. */
#define ACCEPT_PAUSE_US (1000 * 1000)
/* At most one "too many clients" line per second, with the count since. */
#define REFUSE_LOG_US (1000 * 1000)
/*
 * Client slots that peers other than root may hold at once: the remaining
 * MPD_CONTROL_MAX_CLIENTS - MAX_UNPRIV are root's, so `memplugctl drain`
 * and the channel's callers never find the daemon full because of a user.
 */
#define MAX_UNPRIV 4

enum client_state {
	CLIENT_READING, /* request line not complete yet */
	CLIENT_WAITING, /* "wait": mpd_control_wake() answers */
	CLIENT_WRITING, /* answer queued, sent on POLLOUT */
	CLIENT_DONE, /* to be closed by reap() */
};

struct client {
	int fd;
	pid_t pid;
	uid_t uid; /* SO_PEERCRED at accept: 0 may change state, others read */
	enum client_state state;
	uint64_t deadline_us; /* READING: request due; WRITING: next byte due; 0: none */
	char wait_key[48];
	bool drain_waiter; /* "drain": mpd_control_drain_done() answers */
	char *out; /* unsent tail of the answer */
	size_t out_len, out_off, answer_len;
	size_t in_len;
	char in[MAX_REQUEST];
};

struct mpd_control {
	char *path; /* unlinked by mpd_control_free() */
	int lfd, tfd;
	uint64_t timer_at_us; /* the timerfd fires then; 0: disarmed */
	uint64_t accept_paused_until_us;
	size_t queued; /* unsent answer bytes, all clients: <= QUEUE_MAX */
	size_t refused; /* "too many clients" since the last such log line */
	uint64_t refused_logged_us;
	int nr;
	int nr_unpriv; /* clients with uid != 0: <= MAX_UNPRIV */
	struct client *clients[MPD_CONTROL_MAX_CLIENTS];
};

static int listen_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], *slash;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			mp_err("%s: %s", dir, strerror(-err));
			return err;
		}
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket of a killed run would make bind() fail. */
	unlink(path);
	/*
	 * Created 0666 whatever the caller's umask (the unit's is 0077): the
	 * read-only view is for every user; SO_PEERCRED decides who may change
	 * state, so the mode is not what protects drain and undrain.
	 */
	mode_t old = umask(0111);

	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, MPD_CONTROL_MAX_CLIENTS) < 0) {
		err = -errno;
		umask(old);
		close(fd);
		mp_err("%s: %s", path, strerror(-err));
		return err;
	}
	umask(old);
	return fd;
}

/**
 * mpd_control_new() - create the control socket at @path
 * @path: socket path; its directory is created if missing
 * @out: the new control context, for mpd_control_free()
 *
 * Return: 0, or -errno (logged).
 */
int mpd_control_new(const char *path, struct mpd_control **out)
{
	struct mpd_control *ctl = calloc(1, sizeof(*ctl));
	int err;

	if (!ctl)
		return -ENOMEM;
	ctl->lfd = ctl->tfd = -1;
	ctl->path = strdup(path);
	if (!ctl->path) {
		err = -ENOMEM;
		goto out_free;
	}
	ctl->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ctl->tfd < 0) {
		err = -errno;
		mp_err("control: timerfd: %s", strerror(-err));
		goto out_free;
	}
	err = listen_open(path);
	if (err < 0)
		goto out_free;
	ctl->lfd = err;
	*out = ctl;
	return 0;
out_free:
	if (ctl->tfd >= 0)
		close(ctl->tfd);
	free(ctl->path);
	free(ctl);
	return err;
}

static void client_free(struct mpd_control *ctl, struct client *c)
{
	ctl->queued -= c->out_len - c->out_off;
	if (c->uid != 0)
		ctl->nr_unpriv--;
	free(c->out);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Close the clients marked CLIENT_DONE; the others keep their order. */
static void reap(struct mpd_control *ctl)
{
	int k = 0;

	for (int i = 0; i < ctl->nr; i++) {
		if (ctl->clients[i]->state == CLIENT_DONE)
			client_free(ctl, ctl->clients[i]);
		else
			ctl->clients[k++] = ctl->clients[i];
	}
	ctl->nr = k;
}

/**
 * mpd_control_free() - close every client and the socket, and remove it
 * @ctl: from mpd_control_new(), or NULL
 *
 * Unsent answers are dropped.
 */
void mpd_control_free(struct mpd_control *ctl)
{
	if (!ctl)
		return;
	for (int i = 0; i < ctl->nr; i++)
		client_free(ctl, ctl->clients[i]);
	close(ctl->lfd);
	unlink(ctl->path);
	close(ctl->tfd);
	free(ctl->path);
	free(ctl);
}

/* Best effort, never waits: for a peer that is refused or dropped anyway. */
static void say_and_close(int fd, const char *error)
{
	char buf[200];
	int n = snprintf(buf, sizeof(buf), "{\"error\":\"%s\"}\n", error);

	(void)!send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static void accept_one(struct mpd_control *ctl, int fd)
{
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1 };
	socklen_t len = sizeof(cred);
	struct client *c;
	uint64_t now;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int err = -errno;

		mp_warn("control: SO_PEERCRED: %s: connection refused", strerror(-err));
		close(fd);
		return;
	}
	now = mp_now_us();
	if (ctl->nr == MPD_CONTROL_MAX_CLIENTS || (cred.uid != 0 && ctl->nr_unpriv >= MAX_UNPRIV)) {
		ctl->refused++;
		/* A connection storm must not become a log storm. */
		if (now - ctl->refused_logged_us >= REFUSE_LOG_US || !ctl->refused_logged_us) {
			if (ctl->nr == MPD_CONTROL_MAX_CLIENTS)
				mp_warn("control: %d clients already: refused pid %d (%zu refused since the last such message)",
					MPD_CONTROL_MAX_CLIENTS, (int)cred.pid, ctl->refused);
			else
				mp_warn("control: %d unprivileged clients already: refused pid %d uid %d (%zu refused since the last such message)",
					MAX_UNPRIV, (int)cred.pid, (int)cred.uid, ctl->refused);
			ctl->refused = 0;
			ctl->refused_logged_us = now;
		}
		say_and_close(fd, "too many clients: try again");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		mp_warn("control: pid %d: %s: connection refused", (int)cred.pid, strerror(ENOMEM));
		close(fd);
		return;
	}
	c->fd = fd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	if (c->uid != 0)
		ctl->nr_unpriv++;
	c->state = CLIENT_READING;
	c->deadline_us = now + REQUEST_US;
	ctl->clients[ctl->nr++] = c;
}

static void accept_all(struct mpd_control *ctl)
{
	int fd;

	while ((fd = accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
		accept_one(ctl, fd);
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		int err = -errno;

		/* The pending connection stays queued and the socket readable: back off. */
		mp_warn("control: accept: %s: not accepting for %d ms", strerror(-err),
			ACCEPT_PAUSE_US / 1000);
		ctl->accept_paused_until_us = mp_now_us() + ACCEPT_PAUSE_US;
	}
}

/* Arm the timer for the earliest deadline; a later one is re-armed when it fires. */
static void timer_update(struct mpd_control *ctl)
{
	uint64_t first = ctl->accept_paused_until_us;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	for (int i = 0; i < ctl->nr; i++) {
		uint64_t t = ctl->clients[i]->deadline_us;

		if (t && (!first || t < first))
			first = t;
	}
	/* Deadlines only move later, so an earlier timer just fires early and re-arms. */
	if (first && ctl->timer_at_us && ctl->timer_at_us <= first)
		return;
	if (first == ctl->timer_at_us)
		return;
	if (first) {
		its.it_value.tv_sec = (time_t)(first / 1000000u);
		its.it_value.tv_nsec = (long)(first % 1000000u) * 1000;
	}
	if (timerfd_settime(ctl->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		mp_err("control: timerfd_settime: %s", strerror(errno));
		return;
	}
	ctl->timer_at_us = first;
}

/**
 * mpd_control_fds() - the fds to poll for the control socket
 * @ctl: the control context, or NULL (no socket: 0 fds)
 * @pfd: filled with up to @max entries (events set, revents cleared)
 * @max: room in @pfd; MPD_CONTROL_MAX_FDS is always enough
 *
 * The listening socket, a timer for the clients' deadlines, and one entry
 * per client: POLLIN while its request is incomplete or it waits, POLLOUT
 * only while it has answer bytes queued.  Pass exactly these entries, after
 * poll(), to mpd_control_handle().
 *
 * Return: the number of entries filled.
 */
int mpd_control_fds(struct mpd_control *ctl, struct pollfd *pfd, int max)
{
	int n = 0;

	if (!ctl || max < 2)
		return 0;
	/* Clients mpd_control_wake() finished since the last turn. */
	reap(ctl);
	timer_update(ctl);
	pfd[n++] = (struct pollfd){
		.fd = ctl->lfd,
		.events = ctl->accept_paused_until_us ? 0 : POLLIN,
	};
	pfd[n++] = (struct pollfd){ .fd = ctl->tfd, .events = POLLIN };
	for (int i = 0; i < ctl->nr && n < max; i++) {
		struct client *c = ctl->clients[i];

		pfd[n++] = (struct pollfd){
			.fd = c->fd,
			.events = c->state == CLIENT_WRITING ? POLLOUT : POLLIN,
		};
	}
	return n;
}

struct json_object *mpd_status_json(struct daemon *d)
{
	struct json_object *o = mp_engine_status_json(d->engine);

	if (!o)
		return NULL;
	mp_json_add_str(o, "version", MEMPLUG_VERSION);
	mp_json_add_int(o, "pid", getpid());
	mp_json_add_u64(o, "uevents", d->uevents);
	if (d->policy_errors)
		mp_json_add_str(o, "refused_reload", d->policy_errors);
	mpd_channel_status(d, o);
	mpd_grow_status(d, o);
	return o;
}

struct json_object *mpd_list_json(struct daemon *d)
{
	const struct mp_memory *mem = mp_engine_memory(d->engine);
	struct mp_memory none = { 0 };

	/* One definition of the list model: kernel/memjson.c. */
	return mp_memory_to_json(mem ? mem : &none, mp_ctx_root(d->ctx));
}

/*
 * Send what the socket takes now.  Return: true when the client is done
 * (answer complete, or the peer gone), false while bytes remain.
 */
static bool client_flush(struct mpd_control *ctl, struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n <= 0) {
			int err = n < 0 ? -errno : -EPIPE;

			mp_info("control: pid %d: %s with %zu of %zu answer bytes unsent",
				(int)c->pid, strerror(-err), c->out_len - c->out_off,
				c->answer_len);
			return true;
		}
		c->out_off += (size_t)n;
		ctl->queued -= (size_t)n;
		c->deadline_us = mp_now_us() + STALL_US;
	}
	return true;
}

static struct json_object *error_json(const char *msg)
{
	struct json_object *o = json_object_new_object();

	mp_json_add_str(o, "error", msg);
	return o;
}

/*
 * Answer @o (consumed) and mark the client done once it is sent.  What the
 * socket takes at once goes straight from json-c's string (a status answer,
 * normally all of it); only the rest is copied, and the json tree is freed
 * at once: it is several times the size of its text.
 */
static void client_answer(struct mpd_control *ctl, struct client *c, struct json_object *o)
{
	struct iovec iov[2] = { { NULL, 0 }, { "\n", 1 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t len, left, room = ctl->queued < QUEUE_MAX ? QUEUE_MAX - ctl->queued : 0;
	ssize_t n;

	iov[0].iov_base =
		(void *)json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	iov[0].iov_len = len;
	if (len + 1 > room) {
		/* An error answer is taken even so: it is small, and there are at most 16. */
		mp_warn("control: pid %d: answer of %zu bytes does not fit the %zu bytes left of the %u MiB answer queue: refused",
			(int)c->pid, len + 1, room, QUEUE_MAX >> 20);
		json_object_put(o);
		o = error_json("answer too large for the daemon's queue: try again");
		iov[0].iov_base =
			(void *)json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		iov[0].iov_len = len;
	}
	c->state = CLIENT_WRITING;
	c->answer_len = len + 1;
	c->deadline_us = mp_now_us() + STALL_US;
	do
		n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		mp_info("control: pid %d: %s before its answer was sent", (int)c->pid,
			strerror(errno));
		c->state = CLIENT_DONE;
		goto out;
	}
	if (n < 0)
		n = 0;
	left = len + 1 - (size_t)n;
	if (!left) {
		c->state = CLIENT_DONE;
		goto out;
	}
	c->out = malloc(left);
	if (!c->out) {
		mp_warn("control: pid %d: %s: answer dropped", (int)c->pid, strerror(ENOMEM));
		c->state = CLIENT_DONE;
		goto out;
	}
	if ((size_t)n < len) {
		memcpy(c->out, (const char *)iov[0].iov_base + n, len - (size_t)n);
		c->out[left - 1] = '\n';
	} else {
		c->out[0] = '\n';
	}
	c->out_len = left;
	ctl->queued += left;
out:
	json_object_put(o);
}

/* "undrain": quick (onlining takes milliseconds per block), answered at once. */
static struct json_object *undrain_json(struct daemon *d, const char *dev)
{
	const struct mp_device *r = NULL;
	struct json_object *o = json_object_new_object();
	int err = mp_engine_undrain(d->engine, dev, &r);

	mp_json_add_str(o, "device", r ? r->key : dev);
	mp_json_add_int(o, "err", err);
	if (err == -EINVAL && r) {
		char why[96];

		snprintf(why, sizeof(why), "%s, not drained", mp_device_state_name(r->state));
		mp_json_add_str(o, "error", why);
	} else if (err) {
		mp_json_add_str(o, "error",
				err == -ENOENT ? "no such drained device" : strerror(-err));
	}
	if (r) {
		mp_json_add_str(o, "outcome", mp_device_state_name(r->state));
		mp_json_add_str(o, "message", r->message);
	}
	return o;
}

/* The request line is in c->in (NUL-terminated at its newline). */
static void client_request(struct daemon *d, struct client *c)
{
	struct mpd_control *ctl = d->control;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req = NULL;
	const char *name, *dev;
	char msg[160];

	/* an operator is asking: the every-PFN pass waits for quiet */
	mp_engine_hold_deferred(d->engine);
	if (!tok) {
		client_answer(ctl, c, error_json("out of memory"));
		return;
	}
	req = json_tokener_parse_ex(tok, c->in, (int)strlen(c->in));
	if (!req || !json_object_is_type(req, json_type_object)) {
		snprintf(msg, sizeof(msg), "bad request: %s: expected one JSON object per line",
			 req ? "not an object" :
			       json_tokener_error_desc(json_tokener_get_error(tok) ==
								       json_tokener_continue ?
							       json_tokener_error_parse_eof :
							       json_tokener_get_error(tok)));
		mp_info("control: pid %d: %s", (int)c->pid, msg);
		client_answer(ctl, c, error_json(msg));
		goto out;
	}
	name = mp_json_get_str(req, "command", NULL);
	if (!name) {
		mp_info("control: pid %d: bad request: no \"command\"", (int)c->pid);
		client_answer(ctl, c, error_json("bad request: expected {\"command\": ...}"));
	} else if (!strcmp(name, "status")) {
		client_answer(ctl, c, mpd_status_json(d));
	} else if (!strcmp(name, "list") &&
		   !strcmp(mp_json_get_str(req, "form", "blocks"), "runs")) {
		/* memplugctl list: the compact form, a few runs instead of a tree per block. */
		const struct mp_memory *mem = mp_engine_memory(d->engine);
		struct mp_memory none = { 0 };

		client_answer(ctl, c,
			      mp_memory_to_json_runs(mem ? mem : &none, mp_ctx_root(d->ctx)));
	} else if (!strcmp(name, "list")) {
		client_answer(ctl, c, mpd_list_json(d));
	} else if (!strcmp(name, "wait") && !(dev = mp_json_get_str(req, "device", NULL))) {
		client_answer(ctl, c, error_json("bad request: \"wait\" needs \"device\""));
	} else if (!strcmp(name, "wait")) {
		snprintf(c->wait_key, sizeof(c->wait_key), "%s", dev);
		/* Waiting on us, not we on it: no deadline; it hangs up when it gives up. */
		c->state = CLIENT_WAITING;
		c->deadline_us = 0;
		mpd_control_wake(d);
	} else if ((!strcmp(name, "drain") || !strcmp(name, "undrain")) && c->uid != 0) {
		mp_warn("control: pid %d uid %d: %s refused: only root may change state",
			(int)c->pid, (int)c->uid, name);
		client_answer(ctl, c,
			      error_json("permission denied: only root may drain or undrain"));
	} else if ((!strcmp(name, "drain") || !strcmp(name, "undrain")) &&
		   !(dev = mp_json_get_str(req, "device", NULL))) {
		client_answer(ctl, c, error_json("bad request: \"drain\" needs \"device\""));
	} else if (!strcmp(name, "undrain")) {
		client_answer(ctl, c, undrain_json(d, dev));
	} else if (!strcmp(name, "drain")) {
		int64_t tmo = mp_json_get_int(req, "timeout_ms", 30000);
		int err;

		if (tmo < 0 || tmo > 3600 * 1000) {
			client_answer(ctl, c, error_json("bad request: timeout_ms out of range"));
			goto out;
		}
		err = mpd_drain_start(d, dev, (int)tmo);
		if (err == 0) {
			/* Answered when the drain process ends, however long that takes. */
			c->state = CLIENT_WAITING;
			c->wait_key[0] = '\0';
			c->drain_waiter = true;
			c->deadline_us = 0;
		} else {
			struct json_object *o = json_object_new_object();

			mp_json_add_str(o, "device", dev);
			mp_json_add_int(o, "err", err == 1 ? 0 : err);
			if (err == 1)
				mp_json_add_str(o, "message", "every block was offline already");
			else
				mp_json_add_str(o, "error", strerror(-err));
			client_answer(ctl, c, o);
		}
	} else {
		mp_info("control: pid %d: unknown command '%.40s'", (int)c->pid, name);
		client_answer(ctl, c, error_json("unknown command"));
	}
out:
	json_object_put(req);
	json_tokener_free(tok);
}

static void client_read(struct daemon *d, struct client *c)
{
	char *nl;
	ssize_t r;

	if (c->state == CLIENT_WAITING) {
		/* Only a hang-up matters; anything else it sends is ignored. */
		char tmp[256];

		r = read(c->fd, tmp, sizeof(tmp));
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			c->state = CLIENT_DONE;
		return;
	}
	r = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == 0 && c->in_len) {
		/* Half-closed after a request without its newline (printf | socat): answer it. */
		client_request(d, c);
		return;
	}
	if (r <= 0) {
		c->state = CLIENT_DONE;
		return;
	}
	c->in_len += (size_t)r;
	c->in[c->in_len] = '\0';
	nl = memchr(c->in, '\n', c->in_len);
	if (nl) {
		/* One request a connection: what follows the line is not read. */
		*nl = '\0';
		client_request(d, c);
	} else if (c->in_len == sizeof(c->in) - 1) {
		mp_warn("control: pid %d: request longer than %d bytes: refused", (int)c->pid,
			MAX_REQUEST - 1);
		client_answer(d->control, c, error_json("request too long"));
	}
}

/* Clients past their deadline: a request never finished, an answer not taken. */
static void expire(struct mpd_control *ctl, uint64_t now)
{
	for (int i = 0; i < ctl->nr; i++) {
		struct client *c = ctl->clients[i];

		if (!c->deadline_us || c->deadline_us > now)
			continue;
		if (c->state == CLIENT_READING) {
			mp_warn("control: pid %d sent no complete request within %d s (%zu bytes): dropped",
				(int)c->pid, REQUEST_US / 1000000, c->in_len);
			say_and_close(c->fd, "request timed out");
			c->fd = -1;
		} else if (c->state == CLIENT_WRITING) {
			mp_warn("control: pid %d stopped reading its answer (%zu of %zu bytes unsent, none taken for %d s): dropped",
				(int)c->pid, c->out_len - c->out_off, c->answer_len,
				STALL_US / 1000000);
		}
		c->state = CLIENT_DONE;
	}
}

/**
 * mpd_control_handle() - serve the control socket after poll()
 * @d: the daemon (d->control may be NULL: nothing to do)
 * @pfd: the entries mpd_control_fds() filled, with poll()'s revents
 * @n: their number
 *
 * Reads requests, answers them, sends queued answers, drops clients past
 * their deadline and accepts new ones.  Never blocks.
 */
void mpd_control_handle(struct daemon *d, const struct pollfd *pfd, int n)
{
	struct mpd_control *ctl = d->control;
	bool listen_ready = false;
	uint64_t now;

	if (!ctl)
		return;
	for (int k = 0; k < n; k++) {
		struct client *c = NULL;

		if (!pfd[k].revents)
			continue;
		if (pfd[k].fd == ctl->lfd) {
			listen_ready = true;
			continue;
		}
		if (pfd[k].fd == ctl->tfd) {
			uint64_t x;

			(void)!read(ctl->tfd, &x, sizeof(x));
			continue;
		}
		for (int i = 0; i < ctl->nr && !c; i++)
			if (ctl->clients[i]->fd == pfd[k].fd)
				c = ctl->clients[i];
		if (!c || c->state == CLIENT_DONE)
			continue;
		if (c->state == CLIENT_WRITING) {
			if (client_flush(ctl, c))
				c->state = CLIENT_DONE;
		} else {
			client_read(d, c);
		}
	}
	/* After the I/O: a client that made progress just now is not late. */
	now = mp_now_us();
	if (ctl->timer_at_us && ctl->timer_at_us <= now)
		ctl->timer_at_us = 0; /* one-shot: fired */
	if (ctl->accept_paused_until_us && ctl->accept_paused_until_us <= now)
		ctl->accept_paused_until_us = 0;
	expire(ctl, now);
	reap(ctl);
	if (listen_ready && !ctl->accept_paused_until_us)
		accept_all(ctl);
}

/**
 * mpd_control_wake() - answer the "wait" clients whose device is decided
 * @d: the daemon (d->control may be NULL)
 *
 * Call after every reconciliation.  A kmem device is final only once its
 * blocks are decided too.
 */
void mpd_control_wake(struct daemon *d)
{
	struct mpd_control *ctl = d->control;

	if (!ctl)
		return;
	for (int i = 0; i < ctl->nr; i++) {
		struct client *c = ctl->clients[i];
		const struct mp_device *r;

		if (c->state != CLIENT_WAITING || c->drain_waiter)
			continue;
		r = mp_engine_device_find(d->engine, c->wait_key);
		if (!r || !mp_device_final(r))
			continue;
		client_answer(ctl, c, mpd_status_json(d));
	}
	/* Finished clients are closed by the next mpd_control_fds() or _handle(), not here:
	 * this runs inside mpd_control_handle() too, for a "wait" that is already decided. */
}

void mpd_control_drain_done(struct daemon *d, struct json_object *o)
{
	struct mpd_control *ctl = d->control;

	for (int i = 0; ctl && i < ctl->nr; i++) {
		struct client *c = ctl->clients[i];

		if (c->state == CLIENT_WAITING && c->drain_waiter) {
			c->drain_waiter = false;
			client_answer(ctl, c, o);
			return;
		}
	}
	/* The client gave up waiting: the outcome is in status and the log. */
	json_object_put(o);
}
