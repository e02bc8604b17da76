// SPDX-License-Identifier: LGPL-2.1-or-later
/* json-c helpers: see mp-json.h. */
#include <errno.h>

#include "mp-json.h"

void mp_json_add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

void mp_json_add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

void mp_json_add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

void mp_json_add_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static struct json_object *member(struct json_object *o, const char *k, enum json_type t)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return json_object_is_type(v, t) ? v : NULL;
}

const char *mp_json_get_str(struct json_object *o, const char *k, const char *def)
{
	struct json_object *v = member(o, k, json_type_string);

	return v ? json_object_get_string(v) : def;
}

int64_t mp_json_get_int(struct json_object *o, const char *k, int64_t def)
{
	struct json_object *v = member(o, k, json_type_int);

	return v ? json_object_get_int64(v) : def;
}

uint64_t mp_json_get_u64(struct json_object *o, const char *k, uint64_t def)
{
	struct json_object *v = member(o, k, json_type_int);

	/* json-c keeps values above INT64_MAX as unsigned (int64 reads them as INT64_MAX). */
	if (!v || json_object_get_int64(v) < 0)
		return def;
	return json_object_get_uint64(v);
}

bool mp_json_get_bool(struct json_object *o, const char *k, bool def)
{
	struct json_object *v = member(o, k, json_type_boolean);

	return v ? json_object_get_boolean(v) : def;
}

int mp_json_check_u64(struct json_object *o, const char *k, uint64_t max, uint64_t *v)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, k, &x))
		return -ENOENT;
	if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0 ||
	    json_object_get_uint64(x) > max)
		return -EINVAL;
	*v = json_object_get_uint64(x);
	return 0;
}
