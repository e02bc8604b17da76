// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * QMP client on json-c.  One poll()-driven reader: every wait has a
 * deadline on CLOCK_MONOTONIC, the stream is parsed incrementally (QEMU
 * writes one object per line, a scripted peer may not), and anything that
 * is neither a reply, an event nor the greeting is a protocol error.
 *
 * The same machinery speaks the memplug channel (docs/channel.md): there
 * the peer is a guest, which is not trusted the way QEMU is, so the framing
 * is JSON lines of at most 64 KiB, a bad line is logged and skipped rather
 * than ending the connection, replies must carry our id, events are
 * rate-limited, and the greeting is {"memplug": ...} with no
 * qmp_capabilities to negotiate.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "qmp.h"
#include "util.h"

/* Bound on one inbound message and on the event queue: QEMU never gets near
 * either; a runaway peer must not make us allocate without limit. */
#define QMP_MAX_MSG (16u << 20)
#define QMP_MAX_EVENTS 4096

/* docs/channel.md: a line is at most 64 KiB including its newline; the
 * guest's events are rate-limited like its requests are: 20 a second,
 * burst 40 (tokens are kept in thousandths). */
#define CHAN_MAX_LINE 65536u
#define CHAN_EVENT_RATE 20
#define CHAN_EVENT_BURST 40

struct qmp_event {
	struct qmp_event *next;
	struct json_object *obj;
};

struct mp_qmp {
	int fd;
	bool dead;
	int dead_err;
	int timeout_ms;
	unsigned long next_id;
	struct json_tokener *tok;
	size_t msg_bytes; /* bytes fed to the tokener for the current message */
	struct qmp_event *ev_head, *ev_tail;
	unsigned int nev;
	char version[32];
	char err_class[64];
	char err_desc[512];
	/* reply matching: set while a command is in flight */
	char want_id[32];
	struct json_object *reply;
	struct json_object *err_data; /* "data" of the last error reply */
	/* memplug channel mode (mp_qmp_new_channel_fd()) */
	bool chan;
	char *line; /* CHAN_MAX_LINE bytes: the partial line */
	size_t line_len;
	bool discarding; /* inside a line that was too long: skip to its newline */
	struct json_object *greeting; /* the {"memplug": ...} object */
	unsigned long greetings;
	uint64_t tokens_milli, tokens_ms;
	struct mp_qmp_stats stats;
};

static int ms_left(long long deadline)
{
	long long left = deadline - (long long)mp_now_ms();

	if (left <= 0)
		return 0;
	return left > 1000000 ? 1000000 : (int)left;
}

/* Wait for @events on @fd until @deadline: > 0 ready, 0 timed out, or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&pfd, 1, ms_left(deadline));
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static int qmp_fail(struct mp_qmp *q, int err)
{
	/* After EOF, garbage or a timeout mid-reply the stream position is
	 * unknown: a late reply would be taken for the next command's. */
	if (!q->dead) {
		q->dead = true;
		q->dead_err = err;
	}
	return err;
}

static void queue_event(struct mp_qmp *q, struct json_object *obj)
{
	struct qmp_event *ev;

	if (q->nev >= QMP_MAX_EVENTS) {
		ev = q->ev_head;
		q->ev_head = ev->next;
		if (!q->ev_head)
			q->ev_tail = NULL;
		mp_warn("qmp: event queue full, dropping the oldest event");
		json_object_put(ev->obj);
		free(ev);
		q->nev--;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev) {
		json_object_put(obj);
		return;
	}
	ev->obj = obj;
	if (q->ev_tail)
		q->ev_tail->next = ev;
	else
		q->ev_head = ev;
	q->ev_tail = ev;
	q->nev++;
}

/* Log the first ten of a kind, then every power of ten: a guest that floods
 * garbage must not flood our log as well. */
static bool log_this(unsigned long n)
{
	unsigned long p = 10;

	if (n <= 10)
		return true;
	while (p < n && p < 1000000000ul)
		p *= 10;
	return p == n;
}

/* Token bucket for the guest's events: true when this event may pass. */
static bool event_allowed(struct mp_qmp *q)
{
	uint64_t now = mp_now_ms();

	q->tokens_milli += (now - q->tokens_ms) * CHAN_EVENT_RATE;
	if (q->tokens_milli > CHAN_EVENT_BURST * 1000ull)
		q->tokens_milli = CHAN_EVENT_BURST * 1000ull;
	q->tokens_ms = now;
	if (q->tokens_milli < 1000)
		return false;
	q->tokens_milli -= 1000;
	return true;
}

/*
 * One message from the guest on the channel; takes the reference on @obj.
 * Nothing the guest sends ends the connection: a message we cannot use is
 * logged (boundedly) and dropped.
 */
static void chan_handle_msg(struct mp_qmp *q, struct json_object *obj)
{
	struct json_object *v;

	if (json_object_object_get_ex(obj, "memplug", &v)) {
		if (!json_object_is_type(v, json_type_object)) {
			if (log_this(++q->stats.bad_messages))
				mp_warn("channel: BadMessage: greeting is not an object (%lu so far)",
					q->stats.bad_messages);
			json_object_put(obj);
			return;
		}
		json_object_put(q->greeting);
		q->greeting = json_object_get(v);
		q->greetings++;
		snprintf(q->version, sizeof(q->version), "memplug");
		json_object_put(obj);
		return;
	}
	if (json_object_object_get_ex(obj, "event", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) > 64) {
			if (log_this(++q->stats.bad_messages))
				mp_warn("channel: BadMessage: event without a name string (%lu so far)",
					q->stats.bad_messages);
			json_object_put(obj);
			return;
		}
		if (!event_allowed(q)) {
			if (log_this(++q->stats.events_limited))
				mp_warn("channel: guest exceeds %d events/s: event %s dropped (%lu so far)",
					CHAN_EVENT_RATE, json_object_get_string(v),
					q->stats.events_limited);
			json_object_put(obj);
			return;
		}
		mp_dbg("channel: <- event %s", json_object_get_string(v));
		queue_event(q, obj);
		return;
	}
	if (json_object_object_get_ex(obj, "return", NULL) ||
	    json_object_object_get_ex(obj, "error", NULL)) {
		const char *id = NULL;

		if (json_object_object_get_ex(obj, "id", &v) &&
		    (json_object_is_type(v, json_type_string) ||
		     json_object_is_type(v, json_type_int)))
			id = json_object_get_string(v);
		/* only our own id: a late answer to a request that timed out,
		 * or one the guest made up, must not be taken for another's */
		if (q->want_id[0] && !q->reply && id && !strcmp(id, q->want_id)) {
			q->reply = obj;
			return;
		}
		q->stats.replies_dropped++;
		mp_dbg("channel: dropping a reply nobody waits for (id %.64s)", id ? id : "none");
		json_object_put(obj);
		return;
	}
	/* forward compatibility: a message kind we don't know is ignored */
	q->stats.unknown_messages++;
	mp_dbg("channel: ignoring an unknown message: %.200s",
	       json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	json_object_put(obj);
}

/* One complete line from the guest (without its newline). */
static void chan_line(struct mp_qmp *q, const char *s, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;

	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len)
		return;
	if (memchr(s, '\0', len)) {
		if (log_this(++q->stats.bad_messages))
			mp_warn("channel: BadMessage: NUL byte in a line (%lu so far)",
				q->stats.bad_messages);
		return;
	}
	tok = json_tokener_new_ex(64);
	if (!tok)
		return;
	obj = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* a complete value that is the whole line, and an object */
	if (!obj || jerr != json_tokener_success || end != len ||
	    !json_object_is_type(obj, json_type_object)) {
		if (log_this(++q->stats.bad_messages)) {
			char head[81];
			size_t i;

			/* the guest's bytes reach a terminal: printable only */
			for (i = 0; i < len && i < sizeof(head) - 1; i++)
				head[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
			head[i] = '\0';
			mp_warn("channel: BadMessage: %s (%lu so far): %s",
				!obj || jerr != json_tokener_success ? "not JSON" :
				end != len ? "trailing data after the JSON" :
					     "not a JSON object",
				q->stats.bad_messages, head);
		}
		json_object_put(obj);
		return;
	}
	chan_handle_msg(q, obj);
}

/* Split what was read into lines; a line longer than CHAN_MAX_LINE is
 * dropped up to its newline, whatever it held. */
static void chan_feed(struct mp_qmp *q, const char *buf, size_t n)
{
	while (n) {
		const char *nl = memchr(buf, '\n', n);
		size_t seg = nl ? (size_t)(nl - buf) : n;

		if (q->discarding) {
			if (nl)
				q->discarding = false;
		} else if (q->line_len + seg + 1 > CHAN_MAX_LINE) {
			if (log_this(++q->stats.long_lines))
				mp_warn("channel: LineTooLong: a line from the guest exceeds %u bytes; "
					"skipped (%lu so far)",
					CHAN_MAX_LINE, q->stats.long_lines);
			q->line_len = 0;
			q->discarding = !nl;
		} else if (nl) {
			if (q->line_len) {
				memcpy(q->line + q->line_len, buf, seg);
				chan_line(q, q->line, q->line_len + seg);
			} else {
				chan_line(q, buf, seg);
			}
			q->line_len = 0;
		} else {
			memcpy(q->line + q->line_len, buf, seg);
			q->line_len += seg;
		}
		if (!nl)
			break;
		n -= seg + 1;
		buf += seg + 1;
	}
}

/* Takes the reference on @obj.  Returns 0 or -EPROTO. */
static int handle_msg(struct mp_qmp *q, struct json_object *obj)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object)) {
		mp_err("qmp: peer sent a JSON %s where an object was expected",
		       json_type_to_name(json_object_get_type(obj)));
		json_object_put(obj);
		return -EPROTO;
	}
	if (json_object_object_get_ex(obj, "event", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			mp_err("qmp: event without a name string");
			json_object_put(obj);
			return -EPROTO;
		}
		mp_dbg("qmp: <- event %s", json_object_get_string(v));
		queue_event(q, obj);
		return 0;
	}
	if (json_object_object_get_ex(obj, "return", NULL) ||
	    json_object_object_get_ex(obj, "error", NULL)) {
		const char *id = NULL;

		if (json_object_object_get_ex(obj, "id", &v))
			id = json_object_get_string(v);
		/* QEMU answers a request it could not parse without an id;
		 * with one command in flight that answer is ours. */
		if (q->want_id[0] && !q->reply && (!id || !strcmp(id, q->want_id))) {
			q->reply = obj;
			return 0;
		}
		mp_warn("qmp: dropping a reply nobody waits for (id %s)", id ? id : "none");
		json_object_put(obj);
		return 0;
	}
	if (json_object_object_get_ex(obj, "QMP", &v)) {
		struct json_object *ver, *qemu, *ma, *mi, *mc;

		if (json_object_object_get_ex(v, "version", &ver) &&
		    json_object_object_get_ex(ver, "qemu", &qemu) &&
		    json_object_object_get_ex(qemu, "major", &ma) &&
		    json_object_object_get_ex(qemu, "minor", &mi) &&
		    json_object_object_get_ex(qemu, "micro", &mc))
			snprintf(q->version, sizeof(q->version), "%d.%d.%d",
				 json_object_get_int(ma), json_object_get_int(mi),
				 json_object_get_int(mc));
		else
			snprintf(q->version, sizeof(q->version), "unknown");
		json_object_put(obj);
		return 0;
	}
	mp_err("qmp: unexpected message from peer: %.200s",
	       json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	json_object_put(obj);
	return -EPROTO;
}

/*
 * Read what is available (waiting at most until @deadline for the first
 * byte) and dispatch every complete message.  Returns 0 when something was
 * read, -ETIMEDOUT, or a connection error.
 */
static int read_some(struct mp_qmp *q, long long deadline)
{
	char buf[65536];
	ssize_t n;
	size_t off = 0;
	int r;

	if (q->dead)
		return -ENOTCONN;
	r = wait_fd(q->fd, POLLIN, deadline);
	if (r < 0)
		return qmp_fail(q, r);
	if (r == 0)
		return -ETIMEDOUT; /* the connection stays usable: the caller may wait again */
	n = recv(q->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return qmp_fail(q, -errno);
	}
	if (n == 0)
		return qmp_fail(q, -ECONNRESET);
	if (q->chan) {
		chan_feed(q, buf, (size_t)n);
		return 0;
	}

	while (off < (size_t)n) {
		struct json_object *obj;
		enum json_tokener_error jerr;
		size_t used;

		obj = json_tokener_parse_ex(q->tok, buf + off, (int)(n - off));
		jerr = json_tokener_get_error(q->tok);
		if (!obj && jerr == json_tokener_continue) {
			q->msg_bytes += n - off;
			if (q->msg_bytes > QMP_MAX_MSG) {
				mp_err("qmp: message from peer exceeds %u bytes", QMP_MAX_MSG);
				return qmp_fail(q, -EMSGSIZE);
			}
			break;
		}
		if (jerr != json_tokener_success) {
			mp_err("qmp: peer sent malformed JSON: %s", json_tokener_error_desc(jerr));
			return qmp_fail(q, -EPROTO);
		}
		used = json_tokener_get_parse_end(q->tok);
		json_tokener_reset(q->tok);
		q->msg_bytes = 0;
		off += used ? used : (size_t)(n - off);
		/* json-c accepts a bare scalar as a whole document: reject it
		 * in handle_msg, like any other non-object. */
		r = handle_msg(q, obj);
		if (r < 0)
			return qmp_fail(q, r);
	}
	return 0;
}

static int send_all(struct mp_qmp *q, const char *s, size_t len, long long deadline)
{
	ssize_t n;
	int r;

	while (len) {
		r = wait_fd(q->fd, POLLOUT, deadline);
		if (r < 0)
			return qmp_fail(q, r);
		if (r == 0)
			return qmp_fail(q, -ETIMEDOUT); /* half a command may be out: unusable */
		/* MSG_NOSIGNAL: a QEMU that died must give EPIPE, not kill us. */
		n = send(q->fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return qmp_fail(q, errno == EPIPE ? -ECONNRESET : -errno);
		}
		s += n;
		len -= n;
	}
	return 0;
}

static int error_to_errno(const char *cls)
{
	if (!strcmp(cls, "DeviceNotFound"))
		return -ENODEV;
	if (!strcmp(cls, "CommandNotFound"))
		return -EOPNOTSUPP;
	return -EREMOTEIO;
}

static int execute_deadline(struct mp_qmp *q, const char *cmd, struct json_object *args,
			    struct json_object **ret, long long deadline)
{
	struct json_object *req, *v, *err;
	unsigned long greetings = q->greetings;
	const char *s;
	int r;

	q->err_class[0] = q->err_desc[0] = '\0';
	json_object_put(q->err_data);
	q->err_data = NULL;
	if (ret)
		*ret = NULL;
	if (q->dead) {
		json_object_put(args);
		return -ENOTCONN;
	}
	req = json_object_new_object();
	if (!req) {
		json_object_put(args);
		return -ENOMEM;
	}
	snprintf(q->want_id, sizeof(q->want_id), "mp-%lu", q->next_id++);
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	json_object_object_add(req, "id", json_object_new_string(q->want_id));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	mp_dbg("qmp: -> %s", s);
	r = send_all(q, s, strlen(s), deadline);
	if (r == 0)
		r = send_all(q, "\n", 1, deadline);
	json_object_put(req);
	if (r < 0)
		goto out;

	while (!q->reply) {
		r = read_some(q, deadline);
		if (r == -ETIMEDOUT) {
			/* The reply may still come: the stream would be out of
			 * step, so this connection is done.  On the channel
			 * replies must carry their id, so a late one is dropped
			 * and the connection stays usable. */
			if (!q->chan)
				qmp_fail(q, r);
			goto out;
		}
		if (r < 0)
			goto out;
		/*
		 * A new greeting on the channel: memplugd restarted (it greets
		 * every connection, and a restarted one reopens the port).  The
		 * answer was the old process's and will never come.
		 */
		if (q->chan && q->greetings != greetings && !q->reply) {
			r = -ECONNRESET;
			goto out;
		}
	}
	mp_dbg("qmp: <- %s", json_object_to_json_string_ext(q->reply, JSON_C_TO_STRING_PLAIN));
	if (json_object_object_get_ex(q->reply, "error", &err)) {
		const char *cls = "", *desc = "";

		if (json_object_object_get_ex(err, "class", &v))
			cls = json_object_get_string(v);
		if (json_object_object_get_ex(err, "desc", &v))
			desc = json_object_get_string(v);
		snprintf(q->err_class, sizeof(q->err_class), "%s",
			 cls && *cls ? cls : "(no class)");
		snprintf(q->err_desc, sizeof(q->err_desc), "%s", desc ? desc : "");
		if (json_object_object_get_ex(err, "data", &v) &&
		    json_object_is_type(v, json_type_object))
			q->err_data = json_object_get(v);
		mp_dbg("qmp: %s failed: %s: %s", cmd, q->err_class, q->err_desc);
		r = error_to_errno(q->err_class);
		goto out;
	}
	json_object_object_get_ex(q->reply, "return", &v);
	if (ret)
		*ret = json_object_get(v);
	r = 0;
out:
	json_object_put(q->reply);
	q->reply = NULL;
	q->want_id[0] = '\0';
	return r;
}

int mp_qmp_execute(struct mp_qmp *q, const char *cmd, struct json_object *args,
		   struct json_object **ret)
{
	return execute_deadline(q, cmd, args, ret, (long long)mp_now_ms() + q->timeout_ms);
}

int mp_qmp_execute_timeout(struct mp_qmp *q, const char *cmd, struct json_object *args,
			   struct json_object **ret, int timeout_ms)
{
	return execute_deadline(q, cmd, args, ret,
				(long long)mp_now_ms() +
					(timeout_ms > 0 ? timeout_ms : q->timeout_ms));
}

struct json_object *mp_qmp_get_error_data(const struct mp_qmp *q)
{
	return q->err_data;
}

/*
 * A client on @fd (taken: closed on failure), QMP or, with @chan, the
 * memplug channel (a line buffer and an event budget instead of json-c's
 * stream tokener).  Return: the client, or NULL (-ENOMEM).
 */
static struct mp_qmp *qmp_alloc(int fd, int timeout_ms, bool chan)
{
	struct mp_qmp *q = calloc(1, sizeof(*q));

	if (!q) {
		close(fd);
		return NULL;
	}
	q->fd = fd;
	q->timeout_ms = timeout_ms > 0 ? timeout_ms : MP_QMP_DEFAULT_TIMEOUT_MS;
	q->chan = chan;
	if (chan) {
		q->tokens_milli = CHAN_EVENT_BURST * 1000ull;
		q->tokens_ms = mp_now_ms();
		q->line = malloc(CHAN_MAX_LINE);
	} else {
		q->tok = json_tokener_new_ex(64);
	}
	if (chan ? !q->line : !q->tok) {
		mp_qmp_close(q);
		return NULL;
	}
	return q;
}

/*
 * Allocate a reader on @fd and wait for the peer's greeting by @deadline:
 * QMP's {"QMP": ...} (its version read), or memplugd's {"memplug": ...} in
 * channel mode.  Events that come first are kept (a QMP peer is checked
 * for them by the caller).  Return: 0, or -errno with *out NULL.
 */
static int qmp_open(int fd, long long deadline, int timeout_ms, bool channel, struct mp_qmp **out)
{
	struct mp_qmp *q;
	int r;

	*out = NULL;
	q = qmp_alloc(fd, timeout_ms, channel);
	if (!q)
		return -ENOMEM;
	/* (a QMP peer's event before its greeting ends the wait: refused) */
	while (channel ? !q->greeting : !q->version[0] && !q->nev) {
		r = read_some(q, deadline);
		if (r == -ETIMEDOUT && channel)
			mp_dbg("channel: no greeting within %d ms", timeout_ms);
		else if (r == -ETIMEDOUT)
			mp_err("qmp: no greeting within %d ms (another client "
			       "connected, or not a QMP socket?)",
			       timeout_ms);
		else if (r == -ECONNRESET && !channel)
			mp_err("qmp: peer closed the connection before the greeting");
		if (r < 0) {
			mp_qmp_close(q);
			return r;
		}
	}
	*out = q;
	return 0;
}

int mp_qmp_new_channel_fd(int fd, int timeout_ms, struct mp_qmp **out)
{
	return qmp_open(fd, (long long)mp_now_ms() + timeout_ms, timeout_ms, true, out);
}

bool mp_qmp_is_dead(const struct mp_qmp *q)
{
	return q->dead;
}

struct json_object *mp_qmp_get_greeting(const struct mp_qmp *q)
{
	return q->greeting;
}

void mp_qmp_get_stats(const struct mp_qmp *q, struct mp_qmp_stats *st)
{
	*st = q->stats;
}

int mp_qmp_new_fd(int fd, int timeout_ms, struct mp_qmp **out)
{
	long long deadline = (long long)mp_now_ms() + timeout_ms;
	struct mp_qmp *q;
	char buf[256];
	int r;

	r = qmp_open(fd, deadline, timeout_ms, false, &q);
	if (r < 0)
		return r;
	if (q->nev) {
		mp_err("qmp: peer sent an event before its greeting");
		r = -EPROTO;
		goto fail;
	}
	r = execute_deadline(q, "qmp_capabilities", NULL, NULL, deadline);
	if (r < 0) {
		mp_err("qmp: qmp_capabilities failed: %s", mp_qmp_strerror(q, r, buf, sizeof(buf)));
		goto fail;
	}
	*out = q;
	return 0;
fail:
	mp_qmp_close(q);
	return r;
}

/* Connect to unix socket @path by @deadline: an fd, or -errno (logged). */
static int connect_unix(const char *path, long long deadline, int timeout_ms, const char *what,
			bool loud)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		mp_err("%s: %s: socket path too long", what, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* Non-blocking: a blocking connect to a unix socket whose listen
	 * backlog is full (QEMU busy with another client, more waiting)
	 * sleeps with no timeout.  Unix sockets then fail with EAGAIN rather
	 * than EINPROGRESS, so retry until the deadline. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN && (long long)mp_now_ms() < deadline) {
			usleep(10000);
			continue;
		}
		if (r == -EAGAIN) {
			mp_err("%s: %s: connect: listen queue full for %d ms "
			       "(QEMU serves another client)",
			       what, path, timeout_ms);
			r = -ETIMEDOUT;
		} else if (loud) {
			mp_err("%s: %s: connect: %s", what, path, strerror(-r));
		} else {
			/* the caller says it: e.g. "no proof available: ..." */
			mp_dbg("%s: %s: connect: %s", what, path, strerror(-r));
		}
		close(fd);
		return r;
	}
	return fd;
}

/* Connect to @path and wait for its greeting, all by one deadline. */
static int connect_open(const char *path, int timeout_ms, bool channel, struct mp_qmp **out)
{
	long long deadline = (long long)mp_now_ms() + timeout_ms;
	int fd, left;

	*out = NULL;
	/* (no host is normal for a channel: its connect errors are not said) */
	fd = connect_unix(path, deadline, timeout_ms, channel ? "channel" : "qmp", !channel);
	if (fd < 0)
		return fd;
	left = ms_left(deadline) ? ms_left(deadline) : 1;
	return channel ? mp_qmp_new_channel_fd(fd, left, out) : mp_qmp_new_fd(fd, left, out);
}

int mp_qmp_connect(const char *path, int timeout_ms, struct mp_qmp **out)
{
	return connect_open(path, timeout_ms, false, out);
}

int mp_qmp_connect_channel(const char *path, int timeout_ms, struct mp_qmp **out)
{
	return connect_open(path, timeout_ms, true, out);
}

void mp_qmp_event_drop(struct mp_qmp *q)
{
	while (q->ev_head) {
		struct qmp_event *ev = q->ev_head;

		q->ev_head = ev->next;
		json_object_put(ev->obj);
		free(ev);
	}
	q->ev_tail = NULL;
	q->nev = 0;
}

void mp_qmp_close(struct mp_qmp *q)
{
	if (!q)
		return;
	mp_qmp_event_drop(q);
	if (q->tok)
		json_tokener_free(q->tok);
	json_object_put(q->reply);
	json_object_put(q->err_data);
	json_object_put(q->greeting);
	free(q->line);
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}

void mp_qmp_set_timeout(struct mp_qmp *q, int timeout_ms)
{
	if (timeout_ms > 0)
		q->timeout_ms = timeout_ms;
}

const char *mp_qmp_get_version(const struct mp_qmp *q)
{
	return q->version;
}

const char *mp_qmp_get_error_class(const struct mp_qmp *q)
{
	return q->err_class;
}

const char *mp_qmp_get_error_desc(const struct mp_qmp *q)
{
	return q->err_desc;
}

char *mp_qmp_strerror(const struct mp_qmp *q, int err, char *buf, size_t len)
{
	if (q && q->err_class[0] && (err == -EREMOTEIO || err == -ENODEV || err == -EOPNOTSUPP))
		snprintf(buf, len, "%s: %s", q->err_class, q->err_desc);
	else if (q && q->chan && err == -ECONNRESET)
		snprintf(buf, len, "the channel was closed (memplugd or QEMU went away)");
	else if (q && q->chan && err == -ETIMEDOUT)
		snprintf(buf, len, "memplugd did not answer in time");
	else if (err == -ECONNRESET)
		snprintf(buf, len, "QEMU closed the QMP connection (did it exit?)");
	else if (err == -ENOTCONN && q && q->dead_err)
		snprintf(buf, len,
			 "QMP connection unusable after an earlier "
			 "error (%s)",
			 strerror(-q->dead_err));
	else if (err == -ETIMEDOUT)
		snprintf(buf, len, "QEMU did not answer in time (%s)", strerror(-err));
	else if (err == -EPROTO)
		snprintf(buf, len, "peer does not speak QMP (%s)", strerror(-err));
	else
		snprintf(buf, len, "%s", strerror(-err));
	return buf;
}

static bool take_event(struct mp_qmp *q, mp_qmp_event_match_fn match, void *ud,
		       struct json_object **event)
{
	struct qmp_event **pp, *ev;

	for (pp = &q->ev_head; (ev = *pp); pp = &ev->next) {
		struct json_object *name, *data = NULL;

		json_object_object_get_ex(ev->obj, "event", &name);
		json_object_object_get_ex(ev->obj, "data", &data);
		if (!match(json_object_get_string(name), data, ud))
			continue;
		*pp = ev->next;
		if (q->ev_tail == ev) {
			/* find the new tail: the element before @ev */
			struct qmp_event *t = q->ev_head;

			while (t && t->next)
				t = t->next;
			q->ev_tail = t;
		}
		q->nev--;
		if (event)
			*event = ev->obj;
		else
			json_object_put(ev->obj);
		free(ev);
		return true;
	}
	return false;
}

int mp_qmp_event_wait(struct mp_qmp *q, mp_qmp_event_match_fn match, void *ud, int timeout_ms,
		      struct json_object **event)
{
	long long deadline = (long long)mp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int r;

	if (event)
		*event = NULL;
	for (;;) {
		if (take_event(q, match, ud, event))
			return 0;
		if (q->dead)
			return q->dead_err ? q->dead_err : -ENOTCONN;
		r = read_some(q, deadline);
		if (r < 0)
			return r;
	}
}
