// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The channel's byte streams: a bounded line reader, a bounded
 * non-blocking writer, and the request rate limiter (mp-channel.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mp-channel.h"
#include "util.h"

/* ---- reader ------------------------------------------------------------------ */

int mp_chan_reader_init(struct mp_chan_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->buf = malloc(MP_CHAN_LINE_MAX + 1); /* + 1: room for the terminating NUL */
	return r->buf ? 0 : -ENOMEM;
}

void mp_chan_reader_free(struct mp_chan_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->off = r->len = r->scanned = 0;
}

void mp_chan_reader_reset(struct mp_chan_reader *r)
{
	r->off = r->len = r->scanned = 0;
	r->discarding = false;
	r->discarded = 0;
	r->last_byte_us = 0;
}

/* Move the unread bytes to the front: the space of lines handed out is free again. */
static size_t reader_room(struct mp_chan_reader *r)
{
	if (r->off) {
		memmove(r->buf, r->buf + r->off, r->len);
		r->off = 0;
	}
	return MP_CHAN_LINE_MAX - r->len;
}

ssize_t mp_chan_reader_fill(struct mp_chan_reader *r, int fd)
{
	size_t room = reader_room(r);
	ssize_t n;

	if (!room)
		return -ENOBUFS;
	do
		n = read(fd, r->buf + r->len, room);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n > 0) {
		r->len += (size_t)n;
		r->last_byte_us = mp_now_us();
	}
	return n;
}

size_t mp_chan_reader_feed(struct mp_chan_reader *r, const void *data, size_t len)
{
	size_t room = reader_room(r), n = MP_MIN(room, len);

	memcpy(r->buf + r->len, data, n);
	r->len += n;
	if (n)
		r->last_byte_us = mp_now_us();
	return n;
}

int mp_chan_reader_next(struct mp_chan_reader *r, struct mp_chan_line *l)
{
	char *start, *nl;
	size_t n;

	{
		start = r->buf + r->off;
		nl = memchr(start + r->scanned, '\n', r->len - r->scanned);
		if (r->discarding) {
			if (!nl) {
				/* Nothing of a too long line is kept: only its length. */
				r->discarded += r->len;
				r->off = r->len = r->scanned = 0;
				return 0;
			}
			n = (size_t)(nl - start);
			memset(l, 0, sizeof(*l));
			l->kind = MP_CHAN_LINE_TOO_LONG;
			l->len = r->discarded + n;
			l->text = start;
			*nl = '\0';
			r->off += n + 1;
			r->len -= n + 1;
			r->scanned = 0;
			r->discarding = false;
			r->discarded = 0;
			r->too_long++;
			return 1;
		}
		if (!nl) {
			r->scanned = r->len;
			if (r->len < MP_CHAN_LINE_MAX)
				return 0;
			/*
			 * A full buffer without a newline: with its newline the
			 * line would pass MP_CHAN_LINE_MAX.  Drop it and skip to
			 * the next newline.
			 */
			r->discarding = true;
			r->discarded = r->len;
			r->off = r->len = r->scanned = 0;
			return 0;
		}
		n = (size_t)(nl - start);
		memset(l, 0, sizeof(*l));
		l->text = start;
		l->len = n;
		*nl = '\0';
		r->off += n + 1;
		r->len -= n + 1;
		r->scanned = 0;
		if (!r->len)
			r->off = 0;
		if (memchr(start, '\0', n)) {
			l->kind = MP_CHAN_LINE_NUL;
			l->nul_at = (size_t)((char *)memchr(start, '\0', n) - start);
			r->nul++;
		} else {
			r->lines++;
		}
		return 1;
	}
}

size_t mp_chan_reader_partial(const struct mp_chan_reader *r)
{
	return r->discarding ? r->discarded + r->len : r->len;
}

uint64_t mp_chan_reader_deadline(const struct mp_chan_reader *r)
{
	if (!mp_chan_reader_partial(r) && !r->discarding)
		return 0;
	return r->last_byte_us + MP_CHAN_STALL_US;
}

size_t mp_chan_reader_expire(struct mp_chan_reader *r, uint64_t now_us)
{
	uint64_t at = mp_chan_reader_deadline(r);
	size_t n;

	if (!at || now_us < at)
		return 0;
	n = mp_chan_reader_partial(r);
	mp_chan_reader_reset(r);
	r->stalled++;
	return n ? n : 1;
}

/* ---- writer ------------------------------------------------------------------ */

void mp_chan_writer_init(struct mp_chan_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void mp_chan_writer_free(struct mp_chan_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->off = w->len = w->cap = 0;
}

void mp_chan_writer_reset(struct mp_chan_writer *w)
{
	w->off = w->len = 0;
	w->dropped = 0;
}

size_t mp_chan_writer_pending(const struct mp_chan_writer *w)
{
	return w->len;
}

/* Append @len bytes and a newline; the caller checked the limit. */
static int writer_append(struct mp_chan_writer *w, const char *text, size_t len)
{
	size_t need = len + 1;

	if (w->off && w->off + w->len + need > w->cap) {
		memmove(w->buf, w->buf + w->off, w->len);
		w->off = 0;
	}
	if (w->off + w->len + need > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		char *b;

		while (cap < w->len + need)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b)
			return -ENOMEM;
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->off + w->len, text, len);
	w->buf[w->off + w->len + len] = '\n';
	w->len += need;
	return 0;
}

int mp_chan_writer_reply(struct mp_chan_writer *w, const char *text, size_t len)
{
	int err;

	if (w->len + len + 1 > w->max) {
		w->replies_refused++;
		return -ENOBUFS;
	}
	err = writer_append(w, text, len);
	if (!err)
		w->replies++;
	return err;
}

int mp_chan_writer_event(struct mp_chan_writer *w, const char *text, size_t len)
{
	size_t limit = w->max > MP_CHAN_REPLY_RESERVE ? w->max - MP_CHAN_REPLY_RESERVE : w->max;
	struct json_object *ev = NULL;
	const char *dtext = NULL;
	size_t dlen = 0;
	int err;

	if (w->dropped) {
		struct json_object *data = json_object_new_object();

		json_object_object_add(data, "count", json_object_new_uint64(w->dropped));
		ev = mp_chan_event_new("EVENTS_DROPPED", data, 0);
		if (!ev)
			return -ENOMEM;
		dtext = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN, &dlen);
	}
	if (w->len + (dtext ? dlen + 1 : 0) + len + 1 > limit) {
		w->dropped++;
		w->dropped_total++;
		json_object_put(ev);
		return -ENOBUFS;
	}
	if (dtext) {
		err = writer_append(w, dtext, dlen);
		json_object_put(ev);
		if (err)
			return err;
		w->dropped = 0;
	}
	err = writer_append(w, text, len);
	if (!err)
		w->events++;
	return err;
}

int mp_chan_writer_json(struct mp_chan_writer *w, struct json_object *o, bool event)
{
	size_t len;
	const char *s;

	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	if (!s)
		return -ENOMEM;
	return event ? mp_chan_writer_event(w, s, len) : mp_chan_writer_reply(w, s, len);
}

int mp_chan_writer_flush(struct mp_chan_writer *w, int fd)
{
	while (w->len) {
		ssize_t n = write(fd, w->buf + w->off, w->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		w->off += (size_t)n;
		w->len -= (size_t)n;
	}
	w->off = 0;
	return 0;
}

/* ---- rate limit -------------------------------------------------------------- */

#define TOKEN 1000000ull

void mp_chan_ratelimit_init(struct mp_chan_ratelimit *rl, unsigned int rate, unsigned int burst,
			    uint64_t now_us)
{
	rl->rate = rate;
	rl->burst = burst ? burst : 1;
	rl->tokens = (uint64_t)rl->burst * TOKEN;
	rl->last_us = now_us;
	rl->limited = 0;
}

bool mp_chan_ratelimit_take(struct mp_chan_ratelimit *rl, uint64_t now_us)
{
	uint64_t full = (uint64_t)rl->burst * TOKEN;

	if (now_us > rl->last_us) {
		uint64_t dt = now_us - rl->last_us;

		/* A long idle time would overflow dt * rate: the bucket is full anyway. */
		if (dt >= full || rl->tokens + dt * rl->rate >= full)
			rl->tokens = full;
		else
			rl->tokens += dt * rl->rate;
		rl->last_us = now_us;
	}
	if (rl->tokens < TOKEN) {
		rl->limited++;
		return false;
	}
	rl->tokens -= TOKEN;
	return true;
}
