/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small json-c helpers shared by the library, the daemon and the CLI, so
 * that a missing or mistyped field reads the same way everywhere: absent or
 * of the wrong type gives the caller's default, never a crash or a "0" that
 * looks like data.
 */
#ifndef MP_JSON_H
#define MP_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

/** mp_json_add_str() - add "@k": @v (NULL is added as ""). */
void mp_json_add_str(struct json_object *o, const char *k, const char *v);
/** mp_json_add_int() - add "@k": @v as a 64-bit integer. */
void mp_json_add_int(struct json_object *o, const char *k, int64_t v);
/** mp_json_add_u64() - add "@k": @v as an unsigned 64-bit integer. */
void mp_json_add_u64(struct json_object *o, const char *k, uint64_t v);
/** mp_json_add_bool() - add "@k": true/false. */
void mp_json_add_bool(struct json_object *o, const char *k, bool v);

/** mp_json_get_str() - the string member @k of @o, or @def when absent or not a string. */
const char *mp_json_get_str(struct json_object *o, const char *k, const char *def);
/** mp_json_get_int() - the integer member @k, or @def when absent or not an integer. */
int64_t mp_json_get_int(struct json_object *o, const char *k, int64_t def);
/** mp_json_get_u64() - the non-negative integer member @k, or @def. */
uint64_t mp_json_get_u64(struct json_object *o, const char *k, uint64_t def);
/** mp_json_get_bool() - the boolean member @k, or @def when absent or not a boolean. */
bool mp_json_get_bool(struct json_object *o, const char *k, bool def);

/**
 * mp_json_check_u64() - the member @k of a peer's message as an integer in 0..@max
 *
 * Unlike mp_json_get_u64(), for checking what the other side sent: a
 * missing field and a wrong one are told apart, so the caller can refuse
 * the message naming the field and what is wrong with it.
 *
 * Return: 0 with *@v set, -ENOENT when absent, -EINVAL when not an integer
 * or out of range (*@v untouched).
 */
int mp_json_check_u64(struct json_object *o, const char *k, uint64_t max, uint64_t *v);

#endif
