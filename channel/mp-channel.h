/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The memplug channel (docs/channel.md): JSON lines between memplugd in the
 * guest and the host, over the virtio-serial port org.memplug.0.
 *
 * This is the transport-agnostic part, used by both sides: file descriptors
 * in, lines out.  Neither side trusts the other, so everything here is
 * bounded:
 *
 *   struct mp_chan_reader     a line is at most MP_CHAN_LINE_MAX bytes with
 *                             its newline; a longer one is discarded up to
 *                             its newline and reported once; a NUL byte is
 *                             reported; a partial line that stalls is
 *                             dropped after MP_CHAN_STALL_US
 *   struct mp_chan_writer     non-blocking, at most a set number of unsent
 *                             bytes; events that do not fit are counted and
 *                             announced (EVENTS_DROPPED) before the next one
 *                             that fits; replies keep a reserve
 *   struct mp_chan_ratelimit  a token bucket (requests per connection)
 *   mp_chan_msg_parse()       one line -> request, greeting, return, error
 *                             or event, every framing field type-checked
 *   mp_chan_args_*()          the arguments of the guest's commands
 *   mp_chan_*_new()           message builders
 *
 * Nothing here blocks, allocates without bound, or knows about virtio.
 */
#ifndef MP_CHANNEL_H
#define MP_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

#define MP_CHAN_PROTOCOL 1
#define MP_CHAN_PORT_NAME "org.memplug.0"
/* Longest line in bytes, its newline included. */
#define MP_CHAN_LINE_MAX 65536
/* A partial line with no new byte for this long is discarded. */
#define MP_CHAN_STALL_US (30ull * 1000 * 1000)
/* Unsent output the guest keeps, and the part of it only replies may use. */
#define MP_CHAN_QUEUE_MAX (1u << 20)
#define MP_CHAN_REPLY_RESERVE (64u << 10)
/* Requests per second per connection, and the burst. */
#define MP_CHAN_RATE 20
#define MP_CHAN_BURST 40
/* Longest request id (a string) and command name. */
#define MP_CHAN_ID_MAX 64
#define MP_CHAN_NAME_MAX 64
/* prepare-unplug's deadline: default and range, in ms. */
#define MP_CHAN_TIMEOUT_DEFAULT_MS 30000
#define MP_CHAN_TIMEOUT_MAX_MS 600000

/* Error classes (docs/channel.md). */
enum mp_chan_class {
	MP_CHAN_E_OK = 0,
	MP_CHAN_E_LINE_TOO_LONG,
	MP_CHAN_E_BAD_MESSAGE,
	MP_CHAN_E_BAD_ARGUMENTS,
	MP_CHAN_E_COMMAND_NOT_FOUND,
	MP_CHAN_E_RATE_LIMITED,
	MP_CHAN_E_NOT_FOUND,
	MP_CHAN_E_NOT_PERMITTED,
	MP_CHAN_E_BUSY,
	MP_CHAN_E_REFUSED,
	MP_CHAN_E_NOT_DRAINED,
	MP_CHAN_E_FAILED,
};

/** mp_chan_class_name() - "BadMessage", ... ("" for MP_CHAN_E_OK). */
const char *mp_chan_class_name(enum mp_chan_class c);
/** mp_chan_class_parse() - the class named @s, or -EINVAL. */
int mp_chan_class_parse(const char *s);

/* An error to answer: class and a sentence naming the field or the byte. */
struct mp_chan_err {
	enum mp_chan_class cls;
	char desc[240];
};

/* ---- reading lines ---------------------------------------------------------- */

enum mp_chan_line_kind {
	MP_CHAN_LINE_OK = 0,
	MP_CHAN_LINE_TOO_LONG, /* discarded: @len is how many bytes it had */
	MP_CHAN_LINE_NUL, /* contains a NUL byte at @nul_at */
};

struct mp_chan_line {
	enum mp_chan_line_kind kind;
	char *text; /* NUL-terminated in place of its newline; valid until the next fill/feed */
	size_t len; /* without the newline */
	size_t nul_at;
};

struct mp_chan_reader {
	char *buf; /* MP_CHAN_LINE_MAX bytes */
	size_t off, len; /* unread bytes are buf[off, off + len) */
	size_t scanned; /* of those, known to hold no newline */
	bool discarding; /* inside a line that is too long */
	size_t discarded; /* its bytes so far */
	uint64_t last_byte_us; /* mp_now_us() of the last byte read */
	uint64_t lines, too_long, nul, stalled; /* counters */
};

/**
 * mp_chan_reader_init() - an empty reader
 * @r: reader
 *
 * Return: 0 or -ENOMEM.
 */
int mp_chan_reader_init(struct mp_chan_reader *r);
/** mp_chan_reader_free() - release the buffer (the reader may be re-initialised). */
void mp_chan_reader_free(struct mp_chan_reader *r);
/** mp_chan_reader_reset() - forget unread bytes (a new connection); counters stay. */
void mp_chan_reader_reset(struct mp_chan_reader *r);

/**
 * mp_chan_reader_fill() - one read(2) of @fd into the free space
 * @r: reader
 * @fd: a non-blocking descriptor
 *
 * Call mp_chan_reader_next() until it returns 0 before the next fill: the
 * space a line used is reclaimed there.
 *
 * Return: bytes read (> 0); 0 at end of file (a virtio port: the host is not
 * connected); -EAGAIN when nothing is there; -ENOBUFS when the buffer holds
 * unread lines; another -errno from read(2).
 */
ssize_t mp_chan_reader_fill(struct mp_chan_reader *r, int fd);

/**
 * mp_chan_reader_feed() - copy bytes in (tests, a transport that is not an fd)
 * @r: reader
 * @data: bytes
 * @len: how many
 *
 * Return: bytes taken (less than @len when the buffer is full: take the
 * lines out with mp_chan_reader_next() and feed the rest).
 */
size_t mp_chan_reader_feed(struct mp_chan_reader *r, const void *data, size_t len);

/**
 * mp_chan_reader_next() - the next complete line
 * @r: reader
 * @l: the line (its text stays valid until the next fill, feed or reset)
 *
 * A line that would exceed MP_CHAN_LINE_MAX is discarded up to its newline
 * and returned once as MP_CHAN_LINE_TOO_LONG, when its newline arrives; the
 * bytes after that newline are the next line.
 *
 * Return: 1 with a line in @l, 0 when no complete line is buffered.
 */
int mp_chan_reader_next(struct mp_chan_reader *r, struct mp_chan_line *l);

/** mp_chan_reader_partial() - bytes of an incomplete line waiting (or being discarded). */
size_t mp_chan_reader_partial(const struct mp_chan_reader *r);

/**
 * mp_chan_reader_deadline() - when a stalled partial line is due to be dropped
 * Return: an mp_now_us() time, or 0 when no partial line waits.
 */
uint64_t mp_chan_reader_deadline(const struct mp_chan_reader *r);

/**
 * mp_chan_reader_expire() - drop a partial line with no byte for MP_CHAN_STALL_US
 * @r: reader
 * @now_us: mp_now_us()
 *
 * Return: bytes dropped, 0 when nothing was due.
 */
size_t mp_chan_reader_expire(struct mp_chan_reader *r, uint64_t now_us);

/* ---- writing lines ---------------------------------------------------------- */

struct mp_chan_writer {
	char *buf;
	size_t off, len, cap; /* unsent bytes are buf[off, off + len) */
	size_t max; /* at most this many unsent bytes */
	uint64_t dropped; /* events dropped since the last EVENTS_DROPPED */
	uint64_t dropped_total, events, replies, replies_refused;
};

/**
 * mp_chan_writer_init() - an empty writer
 * @w: writer
 * @max: most unsent bytes (MP_CHAN_QUEUE_MAX); events may use all of it but
 *       MP_CHAN_REPLY_RESERVE, replies all of it.  Memory grows as needed.
 */
void mp_chan_writer_init(struct mp_chan_writer *w, size_t max);
/** mp_chan_writer_free() - release the buffer. */
void mp_chan_writer_free(struct mp_chan_writer *w);
/** mp_chan_writer_reset() - drop what is unsent (the peer went away); totals stay. */
void mp_chan_writer_reset(struct mp_chan_writer *w);
/** mp_chan_writer_pending() - unsent bytes. */
size_t mp_chan_writer_pending(const struct mp_chan_writer *w);

/**
 * mp_chan_writer_reply() - queue a reply (or a greeting) line
 * @w: writer
 * @text: the JSON text, without newline
 * @len: its length
 *
 * Return: 0; -ENOBUFS when it does not fit under the writer's maximum (the
 * caller answers Busy instead, which is small); -ENOMEM.
 */
int mp_chan_writer_reply(struct mp_chan_writer *w, const char *text, size_t len);

/**
 * mp_chan_writer_event() - queue an event line, or count it as dropped
 * @w: writer
 * @text: the JSON text, without newline
 * @len: its length
 *
 * When earlier events were dropped, an EVENTS_DROPPED event with their
 * count is queued first; the event is queued only when both fit.
 *
 * Return: 0; -ENOBUFS when it was dropped (and counted); -ENOMEM.
 */
int mp_chan_writer_event(struct mp_chan_writer *w, const char *text, size_t len);

/**
 * mp_chan_writer_json() - serialise @o and queue it
 * @w: writer
 * @o: message (not consumed)
 * @event: queue as an event (may be dropped) rather than a reply
 *
 * Return: as mp_chan_writer_reply() or mp_chan_writer_event().
 */
int mp_chan_writer_json(struct mp_chan_writer *w, struct json_object *o, bool event);

/**
 * mp_chan_writer_flush() - write what @fd takes now
 * @w: writer
 * @fd: a non-blocking descriptor
 *
 * Return: 0 when everything is sent, 1 when bytes remain (poll for
 * POLLOUT), -errno from write(2) other than EAGAIN/EINTR (the bytes stay).
 */
int mp_chan_writer_flush(struct mp_chan_writer *w, int fd);

/* ---- rate limit ------------------------------------------------------------- */

struct mp_chan_ratelimit {
	uint64_t tokens; /* in millionths of a request */
	uint64_t last_us;
	unsigned int rate, burst;
	uint64_t limited; /* requests refused */
};

/**
 * mp_chan_ratelimit_init() - a full bucket
 * @rl: limiter
 * @rate: requests per second
 * @burst: bucket size
 * @now_us: mp_now_us()
 */
void mp_chan_ratelimit_init(struct mp_chan_ratelimit *rl, unsigned int rate, unsigned int burst,
			    uint64_t now_us);
/** mp_chan_ratelimit_take() - may one more request run now?  Counts refusals. */
bool mp_chan_ratelimit_take(struct mp_chan_ratelimit *rl, uint64_t now_us);

/* ---- messages --------------------------------------------------------------- */

enum mp_chan_msg_kind {
	MP_CHAN_MSG_REQUEST = 1, /* {"execute": NAME, "arguments": {...}, "id": ID} */
	MP_CHAN_MSG_GREETING, /* {"memplug": {...}} */
	MP_CHAN_MSG_RETURN, /* {"return": VALUE, "id": ID} */
	MP_CHAN_MSG_ERROR, /* {"error": {"class", "desc", "data"}, "id": ID} */
	MP_CHAN_MSG_EVENT, /* {"event": NAME, "data": {...}, "timestamp": {...}} */
};

struct mp_chan_msg {
	enum mp_chan_msg_kind kind;
	struct json_object *root; /* owned: mp_chan_msg_clear() */
	struct json_object *id; /* in root, or NULL */
	const char *name; /* execute or event name; error class */
	const char *desc; /* error desc, or NULL */
	/* arguments (NULL when absent), return value, error data, event data, greeting */
	struct json_object *body;
	int protocol; /* greeting only */
};

/**
 * mp_chan_msg_parse() - one line into a message
 * @text: the line, without its newline (need not be NUL-terminated)
 * @len: its length
 * @m: the message; mp_chan_msg_clear() it whatever the result
 * @err: why it was refused
 *
 * A NUL byte, invalid JSON, trailing bytes after the object, or a value
 * that is not an object: BadMessage.  So is a message of no known form, an
 * id that is neither an integer nor a string of at most MP_CHAN_ID_MAX
 * bytes, a name that is not a string, or "arguments" that is not an object
 * (BadArguments).  Members not named here are ignored.  When only the
 * arguments were wrong, @m->id is set so that the error can echo it.
 *
 * Return: 0; 1 for a blank line (nothing to answer); -EINVAL with @err.
 */
int mp_chan_msg_parse(const char *text, size_t len, struct mp_chan_msg *m, struct mp_chan_err *err);
/** mp_chan_msg_clear() - release @m's JSON. */
void mp_chan_msg_clear(struct mp_chan_msg *m);

/* prepare-unplug's arguments. */
struct mp_chan_unplug_args {
	char device[48]; /* "" when given by range */
	bool by_range;
	uint64_t start, size;
	int timeout_ms;
};

/**
 * mp_chan_args_prepare_unplug() - validate prepare-unplug's arguments
 * @args: the request's arguments (NULL: none)
 * @a: result
 * @err: BadArguments naming the field
 *
 * Exactly one of "device" (a key of 1..47 printable characters) or
 * "start" + "size" (non-negative integers, size > 0, no overflow);
 * "timeout_ms" an integer in 1..MP_CHAN_TIMEOUT_MAX_MS.
 *
 * Return: 0 or -EINVAL.
 */
int mp_chan_args_prepare_unplug(struct json_object *args, struct mp_chan_unplug_args *a,
				struct mp_chan_err *err);

/**
 * mp_chan_args_device() - validate the "device" argument (cancel-unplug)
 * @args: the request's arguments
 * @key: result
 * @len: size of @key (48: a device key)
 * @err: BadArguments
 *
 * Return: 0 or -EINVAL.
 */
int mp_chan_args_device(struct json_object *args, char *key, size_t len, struct mp_chan_err *err);

/** mp_chan_request_new() - {"execute": @name, "arguments": @args, "id": @id} (takes @args; @id may be NULL, is referenced). */
struct json_object *mp_chan_request_new(const char *name, struct json_object *args,
					struct json_object *id);
/** mp_chan_return_new() - {"return": @value, "id": @id} (takes @value; NULL: {}). */
struct json_object *mp_chan_return_new(struct json_object *id, struct json_object *value);
/**
 * mp_chan_error_new() - {"error": {"class", "desc", "data"}, "id": @id}
 * @id: echoed (referenced), NULL: none
 * @cls: class
 * @desc: sentence, may be NULL
 * @data: taken, may be NULL
 */
struct json_object *mp_chan_error_new(struct json_object *id, enum mp_chan_class cls,
				      const char *desc, struct json_object *data);
/**
 * mp_chan_event_new() - {"event": @name, "data": @data, "timestamp": ...}
 * @name: event name
 * @data: taken; NULL: {}
 * @wall_us: microseconds since the epoch, 0: now (CLOCK_REALTIME: the
 *           timestamp is for the peer's logs, as QMP's is; durations inside
 *           the data use mp_now_us())
 */
struct json_object *mp_chan_event_new(const char *name, struct json_object *data, uint64_t wall_us);
/** mp_chan_greeting_new() - {"memplug": @body} (takes @body). */
struct json_object *mp_chan_greeting_new(struct json_object *body);

#endif
