// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The channel's messages (docs/channel.md): parsing a line into a request,
 * greeting, return, error or event with every framing field type-checked,
 * the arguments of the guest's commands, and the builders.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <json-c/json.h>

#include "mp-channel.h"
#include "mp-json.h"
#include "util.h"

static const char *const class_names[] = {
	[MP_CHAN_E_OK] = "",
	[MP_CHAN_E_LINE_TOO_LONG] = "LineTooLong",
	[MP_CHAN_E_BAD_MESSAGE] = "BadMessage",
	[MP_CHAN_E_BAD_ARGUMENTS] = "BadArguments",
	[MP_CHAN_E_COMMAND_NOT_FOUND] = "CommandNotFound",
	[MP_CHAN_E_RATE_LIMITED] = "RateLimited",
	[MP_CHAN_E_NOT_FOUND] = "NotFound",
	[MP_CHAN_E_NOT_PERMITTED] = "NotPermitted",
	[MP_CHAN_E_BUSY] = "Busy",
	[MP_CHAN_E_REFUSED] = "Refused",
	[MP_CHAN_E_NOT_DRAINED] = "NotDrained",
	[MP_CHAN_E_FAILED] = "Failed",
};

const char *mp_chan_class_name(enum mp_chan_class c)
{
	if ((size_t)c >= sizeof(class_names) / sizeof(class_names[0]))
		return "Failed";
	return class_names[c];
}

int mp_chan_class_parse(const char *s)
{
	for (size_t i = 1; s && i < sizeof(class_names) / sizeof(class_names[0]); i++)
		if (!strcmp(s, class_names[i]))
			return (int)i;
	return -EINVAL;
}

__attribute__((format(printf, 3, 4))) static int fail(struct mp_chan_err *err,
						      enum mp_chan_class cls, const char *fmt, ...)
{
	va_list ap;

	err->cls = cls;
	va_start(ap, fmt);
	vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void mp_chan_msg_clear(struct mp_chan_msg *m)
{
	json_object_put(m->root);
	memset(m, 0, sizeof(*m));
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* An id is echoed back unchanged: an integer or a short string, nothing else. */
static int check_id(struct json_object *id, struct mp_chan_err *err)
{
	if (json_object_is_type(id, json_type_int))
		return 0;
	if (json_object_is_type(id, json_type_string)) {
		if (json_object_get_string_len(id) > MP_CHAN_ID_MAX)
			return fail(err, MP_CHAN_E_BAD_MESSAGE,
				    "\"id\": a string of %d bytes, at most %d",
				    json_object_get_string_len(id), MP_CHAN_ID_MAX);
		return 0;
	}
	return fail(err, MP_CHAN_E_BAD_MESSAGE, "\"id\": %s, expected an integer or a string",
		    json_type_to_name(json_object_get_type(id)));
}

/* @key's string member, checked: NULL with @err when absent or not a short string. */
static const char *name_member(struct json_object *o, const char *key, struct mp_chan_err *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		fail(err, MP_CHAN_E_BAD_MESSAGE, "\"%s\": expected a string", key);
		return NULL;
	}
	if (json_object_get_string_len(v) == 0 ||
	    json_object_get_string_len(v) > MP_CHAN_NAME_MAX) {
		fail(err, MP_CHAN_E_BAD_MESSAGE, "\"%s\": a name of 1 to %d bytes", key,
		     MP_CHAN_NAME_MAX);
		return NULL;
	}
	return json_object_get_string(v);
}

int mp_chan_msg_parse(const char *text, size_t len, struct mp_chan_msg *m, struct mp_chan_err *err)
{
	struct json_tokener *tok;
	struct json_object *o, *v = NULL;
	const char *nul;
	size_t used;

	memset(m, 0, sizeof(*m));
	err->cls = MP_CHAN_E_OK;
	err->desc[0] = '\0';
	nul = memchr(text, '\0', len);
	if (nul)
		return fail(err, MP_CHAN_E_BAD_MESSAGE, "NUL byte at offset %zu",
			    (size_t)(nul - text));
	if (blank(text, len))
		return 1;
	if (len > MP_CHAN_LINE_MAX)
		return fail(err, MP_CHAN_E_LINE_TOO_LONG, "line of %zu bytes, at most %d", len,
			    MP_CHAN_LINE_MAX - 1);
	tok = json_tokener_new();
	if (!tok)
		return fail(err, MP_CHAN_E_FAILED, "out of memory");
	/* RFC 8259 and valid UTF-8: no trailing commas, no single quotes, no comments. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	/* A bare number may go on: the end of the line ends it. */
	if (!o && json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "\n", 1);
	if (!o) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		fail(err, MP_CHAN_E_BAD_MESSAGE, "not JSON: %s at offset %zu",
		     json_tokener_error_desc(
			     je == json_tokener_continue ? json_tokener_error_parse_eof : je),
		     json_tokener_get_parse_end(tok));
		json_tokener_free(tok);
		return -EINVAL;
	}
	used = MP_MIN(len, json_tokener_get_parse_end(tok));
	json_tokener_free(tok);
	m->root = o;
	if (!blank(text + used, len - used))
		return fail(err, MP_CHAN_E_BAD_MESSAGE, "bytes after the JSON value at offset %zu",
			    used);
	if (!json_object_is_type(o, json_type_object))
		return fail(err, MP_CHAN_E_BAD_MESSAGE, "a JSON %s, expected an object",
			    json_type_to_name(json_object_get_type(o)));
	if (json_object_object_get_ex(o, "id", &v)) {
		if (check_id(v, err))
			return -EINVAL;
		m->id = v;
	}

	if (json_object_object_get_ex(o, "execute", NULL)) {
		m->kind = MP_CHAN_MSG_REQUEST;
		m->name = name_member(o, "execute", err);
		if (!m->name)
			return -EINVAL;
		if (json_object_object_get_ex(o, "arguments", &v) && v) {
			if (!json_object_is_type(v, json_type_object))
				return fail(err, MP_CHAN_E_BAD_ARGUMENTS,
					    "\"arguments\": %s, expected an object",
					    json_type_to_name(json_object_get_type(v)));
			m->body = v;
		}
		return 0;
	}
	if (json_object_object_get_ex(o, "event", NULL)) {
		m->kind = MP_CHAN_MSG_EVENT;
		m->name = name_member(o, "event", err);
		if (!m->name)
			return -EINVAL;
		if (json_object_object_get_ex(o, "data", &v) && v &&
		    !json_object_is_type(v, json_type_object))
			return fail(err, MP_CHAN_E_BAD_MESSAGE, "\"data\": expected an object");
		m->body = v;
		return 0;
	}
	if (json_object_object_get_ex(o, "return", &v)) {
		m->kind = MP_CHAN_MSG_RETURN;
		m->body = v;
		return 0;
	}
	if (json_object_object_get_ex(o, "error", &v)) {
		m->kind = MP_CHAN_MSG_ERROR;
		if (!json_object_is_type(v, json_type_object))
			return fail(err, MP_CHAN_E_BAD_MESSAGE, "\"error\": expected an object");
		m->name = name_member(v, "class", err);
		if (!m->name)
			return -EINVAL;
		m->desc = mp_json_get_str(v, "desc", NULL);
		if (json_object_object_get_ex(v, "data", &v) && v)
			m->body = v;
		return 0;
	}
	if (json_object_object_get_ex(o, "memplug", &v)) {
		int64_t p;

		m->kind = MP_CHAN_MSG_GREETING;
		if (!json_object_is_type(v, json_type_object))
			return fail(err, MP_CHAN_E_BAD_MESSAGE, "\"memplug\": expected an object");
		p = mp_json_get_int(v, "protocol", -1);
		if (p < 1 || p > 1000000)
			return fail(err, MP_CHAN_E_BAD_MESSAGE,
				    "greeting: \"protocol\": expected a positive integer");
		m->protocol = (int)p;
		m->body = v;
		return 0;
	}
	return fail(err, MP_CHAN_E_BAD_MESSAGE,
		    "no \"execute\", \"return\", \"error\", \"event\" or \"memplug\" member");
}

/* ---- arguments ------------------------------------------------------------------- */

/*
 * A non-negative JSON integer.  Return: 1 with @out, 0 when absent, or
 * -EINVAL with @err (a double, a string, a negative number).
 */
static int get_u64(struct json_object *args, const char *key, uint64_t *out,
		   struct mp_chan_err *err)
{
	struct json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS, "\"%s\": %s, expected an integer", key,
			    json_type_to_name(json_object_get_type(v)));
	if (json_object_get_int64(v) < 0)
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS, "\"%s\": negative", key);
	*out = json_object_get_uint64(v);
	return 1;
}

static bool key_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return len > 0;
}

/* Return: 1 with @key, 0 when absent, -EINVAL. */
static int get_device(struct json_object *args, char *key, size_t len, struct mp_chan_err *err)
{
	struct json_object *v;
	size_t n;

	if (!args || !json_object_object_get_ex(args, "device", &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS, "\"device\": %s, expected a string",
			    json_type_to_name(json_object_get_type(v)));
	n = (size_t)json_object_get_string_len(v);
	if (n >= len || !key_ok(json_object_get_string(v), n))
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS,
			    "\"device\": expected a device key of 1 to %zu printable characters",
			    len - 1);
	memcpy(key, json_object_get_string(v), n);
	key[n] = '\0';
	return 1;
}

int mp_chan_args_prepare_unplug(struct json_object *args, struct mp_chan_unplug_args *a,
				struct mp_chan_err *err)
{
	uint64_t tmo = MP_CHAN_TIMEOUT_DEFAULT_MS;
	int dev, has_start, has_size;

	memset(a, 0, sizeof(*a));
	dev = get_device(args, a->device, sizeof(a->device), err);
	if (dev < 0)
		return dev;
	has_start = get_u64(args, "start", &a->start, err);
	if (has_start < 0)
		return has_start;
	has_size = get_u64(args, "size", &a->size, err);
	if (has_size < 0)
		return has_size;
	if (dev && (has_start || has_size))
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS,
			    "\"device\" and \"start\"/\"size\": give one or the other");
	if (!dev && !has_start && !has_size)
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS,
			    "missing \"device\" (or \"start\" and \"size\")");
	if (!dev && !has_start)
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS, "missing \"start\"");
	if (!dev && !has_size)
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS, "missing \"size\"");
	if (!dev && (!a->size || a->start + a->size < a->start))
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS,
			    "\"size\": must be > 0 and start + size within 64 bits");
	a->by_range = !dev;
	if (get_u64(args, "timeout_ms", &tmo, err) < 0) {
		/* A negative or non-integer deadline: say the range too. */
		snprintf(err->desc, sizeof(err->desc),
			 "\"timeout_ms\": expected an integer in 1..%d", MP_CHAN_TIMEOUT_MAX_MS);
		return -EINVAL;
	}
	if (tmo < 1 || tmo > MP_CHAN_TIMEOUT_MAX_MS)
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS,
			    "\"timeout_ms\": %llu, expected an integer in 1..%d",
			    (unsigned long long)tmo, MP_CHAN_TIMEOUT_MAX_MS);
	a->timeout_ms = (int)tmo;
	return 0;
}

int mp_chan_args_device(struct json_object *args, char *key, size_t len, struct mp_chan_err *err)
{
	int r = get_device(args, key, len, err);

	if (r < 0)
		return r;
	if (!r)
		return fail(err, MP_CHAN_E_BAD_ARGUMENTS, "missing \"device\"");
	return 0;
}

/* ---- builders --------------------------------------------------------------------- */

static void add_id(struct json_object *o, struct json_object *id)
{
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
}

struct json_object *mp_chan_request_new(const char *name, struct json_object *args,
					struct json_object *id)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(args);
		return NULL;
	}
	mp_json_add_str(o, "execute", name);
	if (args)
		json_object_object_add(o, "arguments", args);
	add_id(o, id);
	return o;
}

struct json_object *mp_chan_return_new(struct json_object *id, struct json_object *value)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(value);
		return NULL;
	}
	json_object_object_add(o, "return", value ? value : json_object_new_object());
	add_id(o, id);
	return o;
}

/*
 * A message and the object nested in it; on failure both and @data (which
 * the builders own) are freed, so a caller out of memory leaks nothing.
 */
static bool new_two(struct json_object **o, struct json_object **inner, struct json_object *data)
{
	*o = json_object_new_object();
	*inner = json_object_new_object();
	if (*o && *inner)
		return true;
	json_object_put(*o);
	json_object_put(*inner);
	json_object_put(data);
	return false;
}

struct json_object *mp_chan_error_new(struct json_object *id, enum mp_chan_class cls,
				      const char *desc, struct json_object *data)
{
	struct json_object *o, *e;

	if (!new_two(&o, &e, data))
		return NULL;
	mp_json_add_str(e, "class", mp_chan_class_name(cls));
	if (desc)
		mp_json_add_str(e, "desc", desc);
	if (data)
		json_object_object_add(e, "data", data);
	json_object_object_add(o, "error", e);
	add_id(o, id);
	return o;
}

struct json_object *mp_chan_event_new(const char *name, struct json_object *data, uint64_t wall_us)
{
	struct json_object *o, *ts;

	if (!new_two(&o, &ts, data))
		return NULL;
	if (!wall_us) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		wall_us = (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
	}
	mp_json_add_str(o, "event", name);
	json_object_object_add(o, "data", data ? data : json_object_new_object());
	mp_json_add_u64(ts, "seconds", wall_us / 1000000u);
	mp_json_add_u64(ts, "microseconds", wall_us % 1000000u);
	json_object_object_add(o, "timestamp", ts);
	return o;
}

struct json_object *mp_chan_greeting_new(struct json_object *body)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(body);
		return NULL;
	}
	json_object_object_add(o, "memplug", body ? body : json_object_new_object());
	return o;
}
