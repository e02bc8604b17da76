/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_QMP_H
#define MP_QMP_H

#include <stdbool.h>
#include <json-c/json.h>

/*
 * A QMP client: one unix-socket connection to QEMU's monitor, commands
 * matched to replies by "id", asynchronous events queued while a command
 * waits, and a deadline on everything, so a QEMU that dies or stops
 * answering gives an error instead of a hang.
 */
struct mp_qmp;

/* Default deadline for one command or for the greeting, in milliseconds. */
#define MP_QMP_DEFAULT_TIMEOUT_MS 30000

/**
 * mp_qmp_connect() - connect to a QMP unix socket and negotiate capabilities
 * @path: path of the socket (QEMU's -qmp unix:PATH,server=on)
 * @timeout_ms: deadline for connect, greeting and qmp_capabilities
 * @out: receives the new connection
 *
 * QEMU serves one QMP client at a time on a socket: while another client is
 * connected, the connection is accepted by the kernel but the greeting never
 * comes, which shows up here as -ETIMEDOUT.
 *
 * Return: 0, or -errno (-ENOENT no socket, -ECONNREFUSED nobody listening,
 * -ETIMEDOUT no greeting, -EPROTO not a QMP peer).
 */
int mp_qmp_connect(const char *path, int timeout_ms, struct mp_qmp **out);

/**
 * mp_qmp_new_fd() - run the QMP handshake on an already connected stream
 * @fd: connected socket; owned by the connection from now on, even on error
 * @timeout_ms: deadline for greeting and qmp_capabilities
 * @out: receives the new connection
 *
 * Return: 0 or -errno, as mp_qmp_connect().
 */
int mp_qmp_new_fd(int fd, int timeout_ms, struct mp_qmp **out);

/**
 * mp_qmp_connect_channel() - connect to a memplug channel socket (docs/channel.md)
 * @path: the host end of the guest's org.memplug.0 port (a chardev socket)
 * @timeout_ms: deadline for connect and the guest's greeting
 * @out: receives the new connection
 *
 * The channel is QMP's framing with a guest at the other end: the greeting
 * is {"memplug": {...}} (see mp_qmp_get_greeting()), there is no
 * qmp_capabilities, lines are at most 64 KiB (longer ones are skipped to
 * their newline), a line that is not a JSON object is logged and skipped,
 * replies are taken only with the id of the command waiting, the guest's
 * events pass at most 20 a second (burst 40; the rest are dropped and
 * counted), and a command that times out leaves the connection usable.
 * Nothing is logged at error level: the caller says why there is no proof.
 *
 * Return: 0, or -errno (-ENOENT no socket, -ECONNREFUSED nobody listening,
 * -ETIMEDOUT no greeting, -ECONNRESET closed before the greeting).
 */
int mp_qmp_connect_channel(const char *path, int timeout_ms, struct mp_qmp **out);

/**
 * mp_qmp_new_channel_fd() - mp_qmp_connect_channel() on a connected stream
 * @fd: connected socket; owned by the connection from now on, even on error
 * @timeout_ms: deadline for the greeting
 * @out: receives the new connection
 *
 * Return: 0 or -errno, as mp_qmp_connect_channel().
 */
int mp_qmp_new_channel_fd(int fd, int timeout_ms, struct mp_qmp **out);

/**
 * mp_qmp_get_greeting() - the channel's last {"memplug": ...} greeting
 * @q: channel connection
 *
 * The guest sends it again when asked ("hello") or when it restarts; the
 * newest one is kept.
 *
 * Return: the greeting object (borrowed, valid until the next read or
 * mp_qmp_close()), NULL on a QMP connection.
 */
struct json_object *mp_qmp_get_greeting(const struct mp_qmp *q);

/**
 * struct mp_qmp_stats - what a channel connection refused from its peer
 * @bad_messages: lines that were not a JSON object (BadMessage)
 * @long_lines: lines over 64 KiB (LineTooLong)
 * @events_limited: events dropped by the rate limit
 * @replies_dropped: replies with no or another id
 * @unknown_messages: objects of a kind we don't know (ignored)
 */
struct mp_qmp_stats {
	unsigned long bad_messages, long_lines, events_limited, replies_dropped, unknown_messages;
};

/**
 * mp_qmp_get_stats() - counters of what the peer sent that was refused
 * @q: connection
 * @st: receives the counters
 */
void mp_qmp_get_stats(const struct mp_qmp *q, struct mp_qmp_stats *st);

/**
 * mp_qmp_close() - close the connection and free it, with queued events
 * @q: connection, may be NULL
 */
void mp_qmp_close(struct mp_qmp *q);

/**
 * mp_qmp_set_timeout() - deadline used by later mp_qmp_execute() calls
 * @q: connection
 * @timeout_ms: milliseconds, > 0
 */
void mp_qmp_set_timeout(struct mp_qmp *q, int timeout_ms);

/**
 * mp_qmp_get_version() - QEMU version from the greeting
 * @q: connection
 *
 * Return: "major.minor.micro", valid until mp_qmp_close().
 */
const char *mp_qmp_get_version(const struct mp_qmp *q);

/**
 * mp_qmp_execute() - run one QMP command and wait for its reply
 * @q: connection
 * @cmd: command name, e.g. "object-add"
 * @args: arguments object or NULL; the reference is consumed, even on error
 * @ret: receives the "return" member (caller puts it), may be NULL
 *
 * Events arriving while waiting are queued for mp_qmp_event_wait().  A QMP
 * error is logged at debug level only; the caller knows which object it
 * concerns and reports mp_qmp_get_error_class() and mp_qmp_get_error_desc().
 *
 * Return: 0; -EREMOTEIO for a QMP error (-ENODEV for DeviceNotFound,
 * -EOPNOTSUPP for CommandNotFound); -ETIMEDOUT; -ECONNRESET when QEMU
 * closed the connection; -EPROTO for a reply that is not QMP; -ENOTCONN
 * when the connection already failed.
 */
int mp_qmp_execute(struct mp_qmp *q, const char *cmd, struct json_object *args,
		   struct json_object **ret);

/**
 * mp_qmp_execute_timeout() - mp_qmp_execute() with its own deadline
 * @q: connection
 * @cmd: command name
 * @args: arguments or NULL; consumed
 * @ret: receives the "return" member, may be NULL
 * @timeout_ms: deadline for this command (0: the connection's)
 *
 * Return: as mp_qmp_execute().
 */
int mp_qmp_execute_timeout(struct mp_qmp *q, const char *cmd, struct json_object *args,
			   struct json_object **ret, int timeout_ms);

/**
 * mp_qmp_get_error_data() - "data" of the last error reply
 * @q: connection
 *
 * Return: the object (borrowed, valid until the next command), or NULL.
 */
struct json_object *mp_qmp_get_error_data(const struct mp_qmp *q);

/**
 * mp_qmp_is_dead() - whether the connection is unusable
 * @q: connection
 *
 * An EOF, a read or write error, garbage or (on QMP, not on the channel) a
 * timeout mid-reply end a connection.  A channel's new greeting does not:
 * that is memplugd restarted behind a connection that still works.
 *
 * Return: true when no further command can be sent on @q.
 */
bool mp_qmp_is_dead(const struct mp_qmp *q);

/**
 * mp_qmp_get_error_class() - class of the last QMP error ("GenericError")
 * @q: connection
 *
 * Return: the class, or "" when the last command did not fail with a QMP error.
 */
const char *mp_qmp_get_error_class(const struct mp_qmp *q);

/**
 * mp_qmp_get_error_desc() - description of the last QMP error
 * @q: connection
 *
 * Return: QEMU's text, or "".
 */
const char *mp_qmp_get_error_desc(const struct mp_qmp *q);

/**
 * mp_qmp_strerror() - describe an error returned by this connection
 * @q: connection
 * @err: negative errno returned by a mp_qmp_*() call
 * @buf: destination
 * @len: size of @buf
 *
 * For a QMP error the text is "CLASS: desc", otherwise the errno text with
 * what it means for QMP ("QEMU closed the connection").
 *
 * Return: @buf.
 */
char *mp_qmp_strerror(const struct mp_qmp *q, int err, char *buf, size_t len);

/**
 * typedef mp_qmp_event_match_fn - predicate used by mp_qmp_event_wait()
 * @name: event name ("DEVICE_DELETED")
 * @data: the event's "data" member, may be NULL
 * @ud: caller's pointer
 *
 * Return: true to take this event.
 */
typedef bool (*mp_qmp_event_match_fn)(const char *name, struct json_object *data, void *ud);

/**
 * mp_qmp_event_wait() - wait for an event that @match accepts
 * @q: connection
 * @match: predicate; queued events are tried first, oldest first
 * @ud: passed to @match
 * @timeout_ms: deadline; 0 only looks at what is queued or readable now
 * @event: receives the whole event (caller puts it), may be NULL
 *
 * Events @match rejects stay queued, in order.
 *
 * Return: 0, -ETIMEDOUT, or a connection error as mp_qmp_execute().
 */
int mp_qmp_event_wait(struct mp_qmp *q, mp_qmp_event_match_fn match, void *ud, int timeout_ms,
		      struct json_object **event);

/**
 * mp_qmp_event_drop() - forget every queued event
 * @q: connection
 */
void mp_qmp_event_drop(struct mp_qmp *q);

#endif
