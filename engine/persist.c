// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The persisted state: what an earlier run onlined.
 *
 * memplugd keeps it in /run/memplug/state.json: the devices it decided,
 * with the zone, written before the first block is onlined and again when
 * done.  /run is tmpfs: it survives a daemon restart (crash, SIGKILL,
 * upgrade) but not a reboot, which is exactly the lifetime of "this memory
 * was onlined by us".  Without it a restarted memplugd would take its own
 * earlier work for another onliner's, and could not finish a device it was
 * killed in the middle of with the zone it had chosen.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine-private.h"
#include "mp-json.h"
#include "util.h"

static void knobs_get(struct json_object *o, struct mp_knobs *k)
{
	snprintf(k->auto_online, sizeof(k->auto_online), "%s",
		 mp_json_get_str(o, "auto_online_blocks", ""));
	snprintf(k->policy, sizeof(k->policy), "%s", mp_json_get_str(o, "online_policy", ""));
	snprintf(k->ratio, sizeof(k->ratio), "%s", mp_json_get_str(o, "auto_movable_ratio", ""));
	snprintf(k->numa, sizeof(k->numa), "%s", mp_json_get_str(o, "auto_movable_numa_aware", ""));
}

static struct json_object *knobs_json(const struct mp_knobs *k)
{
	struct json_object *o = json_object_new_object();

	mp_json_add_str(o, "auto_online_blocks", k->auto_online);
	if (k->policy[0]) {
		mp_json_add_str(o, "online_policy", k->policy);
		mp_json_add_str(o, "auto_movable_ratio", k->ratio);
		mp_json_add_str(o, "auto_movable_numa_aware", k->numa);
	}
	return o;
}

/*
 * The kernel fast path's knobs, set by an earlier run that did not put
 * them back (killed): held again, with the values they had before that run,
 * if they still read what it wrote (mp_engine_knobs_update() checks).
 * Devices already online stay the earlier run's or another onliner's.
 */
static void knobs_load(struct mp_engine *e, struct json_object *root)
{
	struct json_object *k, *set, *saved;

	if (!e->knobs_enabled || !json_object_object_get_ex(root, "knobs", &k) ||
	    !json_object_object_get_ex(k, "set", &set) ||
	    !json_object_object_get_ex(k, "saved", &saved))
		return;
	knobs_get(set, &e->knobs_set);
	knobs_get(saved, &e->knobs_saved);
	if (!e->knobs_set.auto_online[0] || !e->knobs_saved.auto_online[0])
		return;
	e->knobs_held = true;
	e->knobs_since_us = mp_now_us();
	mp_ctx_info(e->ctx, "%s: an earlier run set auto_online_blocks=%s (was %s)", e->state_path,
		    e->knobs_set.auto_online, e->knobs_saved.auto_online);
}

void mp_engine_state_load(struct mp_engine *e)
{
	struct json_object *root, *devs;
	size_t n;

	if (!e->state_path)
		return;
	root = json_object_from_file(e->state_path);
	if (!root)
		return;
	if (!json_object_object_get_ex(root, "devices", &devs) ||
	    !json_object_is_type(devs, json_type_array)) {
		mp_ctx_warn(e->ctx, "%s: no \"devices\" array: ignored", e->state_path);
		json_object_put(root);
		return;
	}
	knobs_load(e, root);
	n = json_object_array_length(devs);
	e->persist = calloc(n ? n : 1, sizeof(*e->persist));
	for (size_t i = 0; e->persist && i < n; i++) {
		struct json_object *o = json_object_array_get_idx(devs, i);
		struct mp_persisted *p = &e->persist[e->nr_persist];
		const char *key = mp_json_get_str(o, "key", NULL);

		if (!key)
			continue;
		snprintf(p->key, sizeof(p->key), "%s", key);
		p->start = mp_json_get_u64(o, "start", 0);
		snprintf(p->zone, sizeof(p->zone), "%s", mp_json_get_str(o, "zone", ""));
		p->done = mp_json_get_bool(o, "done", false);
		p->drained = mp_json_get_bool(o, "drained", false);
		e->nr_persist++;
	}
	json_object_put(root);
	if (e->nr_persist)
		mp_ctx_info(e->ctx, "%s: %zu device(s) onlined by an earlier run", e->state_path,
			    e->nr_persist);
}

const struct mp_persisted *mp_engine_persisted_find(const struct mp_engine *e, const char *key,
						    uint64_t start)
{
	for (size_t i = 0; i < e->nr_persist; i++)
		if (!strcmp(e->persist[i].key, key) && e->persist[i].start == start)
			return &e->persist[i];
	return NULL;
}

void mp_engine_persisted_forget(struct mp_engine *e, const char *key, uint64_t start)
{
	for (size_t k = 0; k < e->nr_persist;)
		if (!strcmp(e->persist[k].key, key) && e->persist[k].start == start)
			e->persist[k] = e->persist[--e->nr_persist];
		else
			k++;
}

void mp_engine_state_save(struct mp_engine *e)
{
	struct json_object *root, *devs;
	char tmp[PATH_MAX];

	if (!e->state_path)
		return;
	root = json_object_new_object();
	devs = json_object_new_array();
	json_object_object_add(root, "devices", devs);
	for (size_t i = 0; i < e->nr_devs; i++) {
		const struct mp_device *r = &e->devs[i];
		struct json_object *o;

		if (!r->zone[0] ||
		    (r->state != MP_DEVICE_ONLINE && r->state != MP_DEVICE_PARTIAL &&
		     r->state != MP_DEVICE_SETTLING && r->state != MP_DEVICE_KMEM &&
		     r->state != MP_DEVICE_DRAINED && r->state != MP_DEVICE_DRAINING))
			continue;
		o = json_object_new_object();
		mp_json_add_str(o, "key", r->key);
		mp_json_add_u64(o, "start", r->start);
		mp_json_add_str(o, "zone", r->zone);
		/* A drain that is running counts as done: the device was online, and is again if undone. */
		mp_json_add_bool(o, "done", mp_device_final(r));
		if (r->state == MP_DEVICE_DRAINED)
			mp_json_add_bool(o, "drained", true);
		json_object_array_add(devs, o);
	}
	if (e->knobs_held) {
		struct json_object *k = json_object_new_object();

		json_object_object_add(k, "set", knobs_json(&e->knobs_set));
		json_object_object_add(k, "saved", knobs_json(&e->knobs_saved));
		json_object_object_add(root, "knobs", k);
	}
	/* Written aside and renamed: a crash mid-write leaves the previous record. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", e->state_path);
	errno = 0;
	if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PLAIN) < 0 ||
	    rename(tmp, e->state_path) < 0) {
		int err = errno ? -errno : -EIO;
		char msg[sizeof(e->state_error)];

		/* Not a whole state file: a full disk would keep an empty .tmp forever. */
		unlink(tmp);
		snprintf(msg, sizeof(msg), "%s: cannot save state: %s", e->state_path,
			 strerror(-err));
		/*
		 * Said once per cause, not at every save (two per device): the
		 * status carries it until a save succeeds again.
		 */
		if (strcmp(msg, e->state_error))
			mp_ctx_warn(
				e->ctx,
				"%s (memplugd keeps onlining; a restarted memplugd would not know this run's devices)",
				msg);
		snprintf(e->state_error, sizeof(e->state_error), "%s", msg);
	} else if (e->state_error[0]) {
		mp_ctx_notice(e->ctx, "%s: state saved again", e->state_path);
		e->state_error[0] = '\0';
	}
	json_object_put(root);
}
