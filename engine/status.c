// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The status document: its writer (memplugd sends it over the control
 * socket) and its reader (memplugctl status prints it), side by side so
 * that a field is named once.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine-private.h"
#include "mp-grow.h"
#include "mp-json.h"
#include "util.h"

void mp_device_trim_add(const struct mp_device *r, struct json_object *o)
{
	struct json_object *t;

	if (!r->trim_known)
		return;
	t = json_object_new_object();
	mp_json_add_u64(t, "keep_start", r->trim.keep_start);
	mp_json_add_u64(t, "keep_end", r->trim.keep_end);
	mp_json_add_u64(t, "stranded_head", r->trim.stranded_head);
	mp_json_add_u64(t, "stranded_tail", r->trim.stranded_tail);
	mp_json_add_bool(t, "checked", r->trim_checked);
	mp_json_add_bool(t, "as_predicted", r->trim_ok);
	mp_json_add_str(t, "text", r->trim_text);
	json_object_object_add(o, "kmem_trim", t);
}

static struct json_object *device_json(const struct mp_device *r)
{
	struct json_object *x = json_object_new_object();

	mp_json_add_str(x, "device", r->key);
	mp_json_add_str(x, "kind", r->kind ? mp_policy_kind_name(r->kind) : "unknown");
	mp_json_add_int(x, "node", r->node);
	mp_json_add_u64(x, "start", r->start);
	mp_json_add_u64(x, "size", r->size);
	mp_json_add_str(x, "blocks", r->blocks);
	mp_json_add_str(x, "outcome", mp_device_state_name(r->state));
	mp_json_add_str(x, "policy", r->policy);
	mp_json_add_str(x, "zone", r->zone);
	mp_json_add_str(x, "zone_why", r->zone_why);
	mp_json_add_str(x, "message", r->message);
	mp_json_add_u64(x, "onlined", r->onlined);
	mp_json_add_u64(x, "verified", r->verified);
	mp_json_add_u64(x, "pages_verified", r->pages_verified);
	mp_json_add_u64(x, "failed", r->failed);
	mp_json_add_u64(x, "by_other", r->by_other);
	mp_json_add_u64(x, "violations", r->violations);
	mp_json_add_bool(x, "by_kernel", r->by_kernel);
	if (r->by_kernel) {
		mp_json_add_u64(x, "sampled_early", r->sampled_early);
		mp_json_add_u64(x, "sample_us", r->sample_us);
	}
	if (r->done_us) {
		mp_json_add_u64(x, "online_us", r->online_us);
		mp_json_add_u64(x, "verify_us", r->verify_us);
		mp_json_add_u64(x, "latency_us", r->done_us - r->first_seen_us);
		mp_json_add_int(x, "verified_at", r->verified_at);
	}
	mp_device_trim_add(r, x);
	return x;
}

/* Node facts from the provider in force (libnuma live, the scan on a fixture). */
static struct json_object *nodes_json(const struct mp_engine *e)
{
	struct json_object *a = json_object_new_array();
	const struct mp_memory *mem = e->mem;
	int last = -1;

	for (size_t i = 0; mem && i < mem->nr; i++) {
		int n = mem->blocks[i].node;
		bool seen = false;
		struct mp_node_mem nm;
		struct mp_zone_facts zf;
		struct json_object *x;

		if (n < 0 || n == last)
			continue;
		last = n;
		for (size_t k = 0; k < json_object_array_length(a); k++)
			seen |= mp_json_get_int(json_object_array_get_idx(a, k), "node", -1) == n;
		if (seen)
			continue;
		x = json_object_new_object();
		mp_json_add_int(x, "node", n);
		if (e->nodes && !e->nodes->read(e->nodes->priv, mem, n, &nm)) {
			mp_json_add_u64(x, "total", nm.total);
			if (nm.free_known)
				mp_json_add_u64(x, "free", nm.free);
		}
		mp_zone_facts_scan(mem, n, &zf);
		mp_json_add_u64(x, "kernel_early", zf.kernel_early);
		mp_json_add_u64(x, "movable", zf.movable);
		json_object_array_add(a, x);
	}
	return a;
}

struct json_object *mp_engine_status_json(const struct mp_engine *e)
{
	struct json_object *o = json_object_new_object(), *a;

	if (!o)
		return NULL;
	mp_json_add_str(o, "sysroot", mp_ctx_root(e->ctx));
	mp_json_add_str(o, "auto_online_blocks", e->auto_online);
	mp_json_add_str(o, "node_facts", e->nodes ? e->nodes->name : "");
	{
		char why[400];

		mp_json_add_bool(o, "kernel_fast_path", mp_engine_fast_path(e, why, sizeof(why)));
		mp_json_add_str(o, "kernel_fast_path_why", why);
	}
	mp_json_add_u64(o, "scans", e->scans);
	/* the scans that read every block; the others read the named ones (mp_memory_rescan()) */
	mp_json_add_u64(o, "full_scans", e->full_scans);
	mp_json_add_u64(o, "settle_checks", e->settles);
	mp_json_add_u64(o, "violations", e->violations);
	if (e->last_error[0])
		mp_json_add_str(o, "last_error", e->last_error);
	mp_json_add_str(o, "state_file", e->state_path ? e->state_path : "");
	if (e->state_error[0])
		mp_json_add_str(o, "state_error", e->state_error);
	a = json_object_new_array();
	for (size_t i = 0; e->set && i < mp_policyset_count(e->set); i++)
		json_object_array_add(
			a, json_object_new_string(mp_policy_path(mp_policyset_get(e->set, i))));
	json_object_object_add(o, "policies", a);

	a = json_object_new_array();
	if (e->auto_online[0] && strcmp(e->auto_online, "offline") &&
	    !(e->knobs_held && !strcmp(e->auto_online, e->knobs_set.auto_online))) {
		char buf[160];

		snprintf(buf, sizeof(buf),
			 "auto_online_blocks=%s: the kernel onlines new memory itself",
			 e->auto_online);
		json_object_array_add(a, json_object_new_string(buf));
	}
	for (size_t i = 0; i < e->nr_devs; i++) {
		const struct mp_device *r = &e->devs[i];
		char buf[480];

		if (r->state != MP_DEVICE_OTHER && r->state != MP_DEVICE_OFFLINED && !r->by_other)
			continue;
		snprintf(buf, sizeof(buf), "%s: %s", r->key, r->message);
		json_object_array_add(a, json_object_new_string(buf));
	}
	json_object_object_add(o, "conflicts", a);

	a = json_object_new_array();
	for (size_t i = 0; i < e->nr_devs; i++)
		json_object_array_add(a, device_json(&e->devs[i]));
	json_object_object_add(o, "devices", a);
	json_object_object_add(o, "nodes", nodes_json(e));
	return o;
}

/* ---- the reader ----------------------------------------------------------------- */

static const char *str(struct json_object *o, const char *k)
{
	return mp_json_get_str(o, k, "");
}

static long long num(struct json_object *o, const char *k)
{
	return (long long)mp_json_get_int(o, k, 0);
}

void mp_status_print(struct json_object *o, FILE *f)
{
	struct json_object *a;
	char sz[16];

	fprintf(f, "memplugd %s, pid %lld%s%s\n", str(o, "version"), num(o, "pid"),
		str(o, "sysroot")[0] ? ", sysroot " : "", str(o, "sysroot"));
	fprintf(f,
		"auto_online_blocks: %s; node facts: %s; %lld scans (%lld full), %lld uevents, %lld violation(s)\n",
		str(o, "auto_online_blocks"), str(o, "node_facts"), num(o, "scans"),
		num(o, "full_scans"), num(o, "uevents"), num(o, "violations"));
	fprintf(f, "kernel fast path: %s: %s\n",
		mp_json_get_bool(o, "kernel_fast_path", false) ? "on" : "off",
		str(o, "kernel_fast_path_why"));
	if (str(o, "last_error")[0])
		fprintf(f, "last error: %s\n", str(o, "last_error"));
	if (str(o, "state_error")[0])
		fprintf(f,
			"STATE NOT SAVED: %s (devices are still onlined; a restarted memplugd would not know this run's)\n",
			str(o, "state_error"));
	fprintf(f, "\nPolicies in force:\n");
	if (json_object_object_get_ex(o, "policies", &a) &&
	    json_object_is_type(a, json_type_array)) {
		if (!json_object_array_length(a))
			fprintf(f, "  (none: every device is left alone)\n");
		for (size_t i = 0; i < json_object_array_length(a); i++)
			fprintf(f, "  %s\n",
				json_object_get_string(json_object_array_get_idx(a, i)));
	}
	if (str(o, "refused_reload")[0])
		fprintf(f, "Last reload refused:\n%s", str(o, "refused_reload"));
	fprintf(f, "\nDevices:\n");
	fprintf(f, "  %-20s %-10s %4s %-8s %-18s %-7s %s\n", "DEVICE", "KIND", "NODE", "SIZE",
		"OUTCOME", "ZONE", "BLOCKS");
	if (json_object_object_get_ex(o, "devices", &a) &&
	    json_object_is_type(a, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *x = json_object_array_get_idx(a, i), *t;

			fprintf(f, "  %-20s %-10s %4lld %-8s %-18s %-7s %s\n", str(x, "device"),
				str(x, "kind"), num(x, "node"),
				mp_format_size(mp_json_get_u64(x, "size", 0), sz, sizeof(sz)),
				str(x, "outcome"), str(x, "zone")[0] ? str(x, "zone") : "-",
				str(x, "blocks"));
			if (str(x, "policy")[0])
				fprintf(f, "      policy %s\n", str(x, "policy"));
			if (str(x, "message")[0])
				fprintf(f, "      %s\n", str(x, "message"));
			if (num(x, "verified_at")) {
				time_t at = (time_t)num(x, "verified_at");
				struct tm tm;
				char when[32];

				/* localtime() fails for a year past INT_MAX: the answer may carry any number */
				if (!localtime_r(&at, &tm) ||
				    !strftime(when, sizeof(when), "%F %T", &tm))
					snprintf(when, sizeof(when), "at %lld", (long long)at);
				fprintf(f,
					"      last verification %s: %lld verified, %lld violation(s); online %.1f ms, verify %.1f ms\n",
					when, num(x, "verified"), num(x, "violations"),
					num(x, "online_us") / 1000.0, num(x, "verify_us") / 1000.0);
			}
			if (json_object_object_get_ex(x, "kmem_trim", &t))
				fprintf(f, "      kmem: %s\n", str(t, "text"));
		}
	}
	if (json_object_object_get_ex(o, "conflicts", &a) &&
	    json_object_is_type(a, json_type_array) && json_object_array_length(a)) {
		fprintf(f, "\nConflicts:\n");
		for (size_t i = 0; i < json_object_array_length(a); i++)
			fprintf(f, "  %s\n",
				json_object_get_string(json_object_array_get_idx(a, i)));
	}
	mp_grow_status_print(o, f);
}
