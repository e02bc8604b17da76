// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Growth on memory pressure, the guest's decisions (mp-grow.h).  The host
 * decides what it gives; the guest decides only when to ask: one request
 * at a time, none within Cooldown= of the last answer, none past its own
 * Ceiling=.  A host that never answers costs one request per
 * MP_GROW_ANSWER_MS, not one per trigger.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mp-grow.h"
#include "mp-json.h"
#include "util.h"

struct mp_grow {
	bool enabled;
	struct mp_grow_policy pol;
	char path[4096]; /* pol.path points here: the set may go on a reload */
	bool armed;
	char trigger[160];
	uint64_t next_request; /* numbers increase per memplugd run */
	uint64_t triggers, requests, answers, granted_bytes, skipped;
	/* the request waiting for its answer */
	bool pending;
	uint64_t pending_n, pending_ms, pending_size;
	uint64_t cooldown_until_ms;
	struct json_object *last_request; /* the data sent */
	uint64_t last_request_ms;
	struct json_object *last_answer; /* the host's arguments, checked */
	uint64_t last_answer_ms;
	char last_skip[256];
};

int mp_grow_new(struct mp_grow **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->next_request = 1;
	return 0;
}

void mp_grow_free(struct mp_grow *g)
{
	if (!g)
		return;
	json_object_put(g->last_request);
	json_object_put(g->last_answer);
	free(g);
}

int mp_grow_configure(struct mp_grow *g, const struct mp_grow_policy *pol)
{
	if (!pol) {
		g->enabled = false;
		return 0;
	}
	g->pol = *pol;
	snprintf(g->path, sizeof(g->path), "%s", pol->path ? pol->path : "");
	g->pol.path = g->path;
	g->enabled = true;
	return 0;
}

const struct mp_grow_policy *mp_grow_policy(const struct mp_grow *g)
{
	return g->enabled ? &g->pol : NULL;
}

int mp_grow_trigger_text(const struct mp_grow_policy *pol, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s %" PRIu64 " %" PRIu64, mp_grow_pressure_name(pol->pressure),
			 pol->stall_us, pol->window_us);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

void mp_grow_set_armed(struct mp_grow *g, bool armed, const char *text)
{
	g->armed = armed;
	snprintf(g->trigger, sizeof(g->trigger), "%s", text ? text : "");
}

int mp_psi_avg10(const char *text, enum mp_grow_pressure kind, double *avg10)
{
	const char *want = mp_grow_pressure_name(kind);
	size_t wl = strlen(want);
	const char *l = text;

	while (l && *l) {
		if (!strncmp(l, want, wl) && l[wl] == ' ') {
			const char *a = strstr(l, "avg10=");
			const char *nl = strchr(l, '\n');
			char *end;

			if (!a || (nl && a > nl))
				return -EINVAL;
			*avg10 = strtod(a + 6, &end);
			return end == a + 6 ? -EINVAL : 0;
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return -EINVAL;
}

/* Whether the pending request was given up (no answer in time): then the cooldown runs from it. */
static void pending_expire(struct mp_grow *g, uint64_t now)
{
	if (!g->pending || now - g->pending_ms < MP_GROW_ANSWER_MS)
		return;
	g->pending = false;
	g->cooldown_until_ms = g->pending_ms + g->pol.cooldown_ms;
}

static int skip(struct mp_grow *g, char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int skip(struct mp_grow *g, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->last_skip, sizeof(g->last_skip), fmt, ap);
	va_end(ap);
	g->skipped++;
	snprintf(why, len, "%s", g->last_skip);
	return 0;
}

int mp_grow_on_trigger(struct mp_grow *g, const struct mp_grow_facts *f, struct json_object **data,
		       char *why, size_t len)
{
	const struct mp_grow_policy *p = &g->pol;
	uint64_t bs = f->block_size ? f->block_size : (128ull << 20);
	uint64_t size, room;
	struct json_object *o, *pr;
	char a[32], b[32], c[32];

	*data = NULL;
	g->triggers++;
	if (!g->enabled)
		return skip(g, why, len, "no [Grow] policy in force");
	pending_expire(g, f->now_ms);
	if (g->pending)
		return skip(g, why, len,
			    "request %" PRIu64 " sent %" PRIu64 " ms ago is not answered yet",
			    g->pending_n, f->now_ms - g->pending_ms);
	if (f->now_ms < g->cooldown_until_ms)
		return skip(g, why, len, "cooldown: %" PRIu64 " ms left of Cooldown=%" PRIu64 "s",
			    g->cooldown_until_ms - f->now_ms, p->cooldown_ms / 1000);
	if (f->total >= p->ceiling)
		return skip(g, why, len, "at the ceiling: %s online, Ceiling=%s (%s:%u)",
			    mp_format_size(f->total, a, sizeof(a)),
			    mp_format_size(p->ceiling, b, sizeof(b)), p->path, p->line);
	room = (p->ceiling - f->total) / bs * bs;
	if (!room)
		return skip(g, why, len,
			    "below the ceiling by less than one %s block: %s online, Ceiling=%s",
			    mp_format_size(bs, a, sizeof(a)),
			    mp_format_size(f->total, b, sizeof(b)),
			    mp_format_size(p->ceiling, c, sizeof(c)));
	if (!f->host)
		return skip(g, why, len, "no host connected to the channel");
	size = (p->step + bs - 1) / bs * bs;
	if (size > room)
		size = room;

	o = json_object_new_object();
	mp_json_add_u64(o, "request", g->next_request);
	mp_json_add_u64(o, "size", size);
	mp_json_add_int(o, "node", p->node);
	pr = json_object_new_object();
	mp_json_add_str(pr, "kind", mp_grow_pressure_name(p->pressure));
	mp_json_add_u64(pr, "stall_us", p->stall_us);
	mp_json_add_u64(pr, "window_us", p->window_us);
	json_object_object_add(pr, "avg10", json_object_new_double(f->avg10));
	json_object_object_add(o, "pressure", pr);
	mp_json_add_u64(o, "total", f->total);
	mp_json_add_u64(o, "ceiling", p->ceiling);

	g->pending = true;
	g->pending_n = g->next_request++;
	g->pending_ms = f->now_ms;
	g->pending_size = size;
	g->requests++;
	json_object_put(g->last_request);
	g->last_request = json_object_get(o);
	g->last_request_ms = f->now_ms;
	g->last_skip[0] = '\0';
	snprintf(why, len, "GROW_REQUEST %" PRIu64 ": %s (%s online, Ceiling=%s)", g->pending_n,
		 mp_format_size(size, a, sizeof(a)), mp_format_size(f->total, b, sizeof(b)),
		 mp_format_size(p->ceiling, c, sizeof(c)));
	*data = o;
	return 1;
}

/* A string argument: printable, shorter than @max; absent is "". */
static int arg_str(struct json_object *args, const char *k, size_t max, const char **out)
{
	struct json_object *x;
	const char *s;

	*out = "";
	if (!json_object_object_get_ex(args, k, &x))
		return 0;
	if (!json_object_is_type(x, json_type_string))
		return -EINVAL;
	s = json_object_get_string(x);
	if (strlen(s) >= max)
		return -EINVAL;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	*out = s;
	return 0;
}

int mp_grow_answer(struct mp_grow *g, struct json_object *args, uint64_t now_ms, char *why,
		   size_t len)
{
	struct json_object *x, *o;
	const char *device, *reason;
	uint64_t n, size = 0;
	bool granted;
	char a[32];

	if (!args || !json_object_is_type(args, json_type_object)) {
		snprintf(why, len, "grow-answer needs arguments: request, granted");
		return -EINVAL;
	}
	if (!json_object_object_get_ex(args, "request", &x) ||
	    !json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 1) {
		snprintf(why, len, "field 'request' is missing or not a positive integer");
		return -EINVAL;
	}
	n = (uint64_t)json_object_get_int64(x);
	if (!json_object_object_get_ex(args, "granted", &x) ||
	    !json_object_is_type(x, json_type_boolean)) {
		snprintf(why, len, "field 'granted' is missing or not a boolean");
		return -EINVAL;
	}
	granted = json_object_get_boolean(x);
	if (json_object_object_get_ex(args, "size", &x)) {
		if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0 ||
		    json_object_get_int64(x) > (1ll << 50)) {
			snprintf(why, len, "field 'size' is not a byte count");
			return -EINVAL;
		}
		size = (uint64_t)json_object_get_int64(x);
	}
	if (arg_str(args, "device", 128, &device)) {
		snprintf(why, len, "field 'device' is not a printable string under 128 bytes");
		return -EINVAL;
	}
	if (arg_str(args, "reason", 512, &reason)) {
		snprintf(why, len, "field 'reason' is not a printable string under 512 bytes");
		return -EINVAL;
	}
	pending_expire(g, now_ms);
	if (!g->pending || g->pending_n != n) {
		if (g->pending)
			snprintf(why, len,
				 "request %" PRIu64 " is not pending (request %" PRIu64 " is)", n,
				 g->pending_n);
		else
			snprintf(why, len,
				 "request %" PRIu64 " is not pending (%" PRIu64 " sent so far)", n,
				 g->next_request - 1);
		return -ENOENT;
	}
	g->pending = false;
	g->answers++;
	if (granted)
		g->granted_bytes += size;
	g->cooldown_until_ms = now_ms + g->pol.cooldown_ms;
	o = json_object_new_object();
	mp_json_add_u64(o, "request", n);
	mp_json_add_bool(o, "granted", granted);
	mp_json_add_u64(o, "size", size);
	mp_json_add_str(o, "device", device);
	mp_json_add_str(o, "reason", reason);
	mp_json_add_u64(o, "after_ms", now_ms - g->pending_ms);
	json_object_put(g->last_answer);
	g->last_answer = o;
	g->last_answer_ms = now_ms;
	snprintf(why, len, "request %" PRIu64 " %s%s%s%s%s after %" PRIu64 " ms: %s", n,
		 granted ? "granted " : "refused",
		 granted ? mp_format_size(size, a, sizeof(a)) : "", device[0] ? " (" : "", device,
		 device[0] ? ")" : "", now_ms - g->pending_ms,
		 reason[0] ? reason : "no reason given");
	return 0;
}

struct json_object *mp_grow_status_json(const struct mp_grow *g, uint64_t now_ms)
{
	struct json_object *o = json_object_new_object(), *x;
	const struct mp_grow_policy *p = &g->pol;
	char buf[4200];

	mp_json_add_bool(o, "enabled", g->enabled);
	mp_json_add_bool(o, "armed", g->armed);
	mp_json_add_str(o, "trigger", g->trigger);
	if (g->enabled) {
		snprintf(buf, sizeof(buf), "%s:%u", p->path, p->line);
		mp_json_add_str(o, "policy", buf);
		mp_json_add_u64(o, "step", p->step);
		mp_json_add_u64(o, "ceiling", p->ceiling);
		mp_json_add_u64(o, "cooldown_ms", p->cooldown_ms);
	}
	mp_json_add_u64(o, "triggers", g->triggers);
	mp_json_add_u64(o, "requests", g->requests);
	mp_json_add_u64(o, "answers", g->answers);
	mp_json_add_u64(o, "granted_bytes", g->granted_bytes);
	mp_json_add_u64(o, "skipped", g->skipped);
	if (g->pending && now_ms - g->pending_ms < MP_GROW_ANSWER_MS) {
		mp_json_add_u64(o, "pending", g->pending_n);
		mp_json_add_u64(o, "pending_ms", now_ms - g->pending_ms);
	}
	if (g->last_request) {
		x = json_tokener_parse(json_object_to_json_string(g->last_request));
		if (x)
			mp_json_add_u64(x, "ago_ms", now_ms - g->last_request_ms);
		json_object_object_add(o, "last_request", x);
	}
	if (g->last_answer) {
		/* a copy: "ago_ms" changes, the kept answer does not */
		x = json_tokener_parse(json_object_to_json_string(g->last_answer));
		if (x)
			mp_json_add_u64(x, "ago_ms", now_ms - g->last_answer_ms);
		json_object_object_add(o, "last_answer", x);
	}
	mp_json_add_u64(o, "cooldown_left_ms",
			now_ms < g->cooldown_until_ms ? g->cooldown_until_ms - now_ms : 0);
	mp_json_add_str(o, "last_skip", g->last_skip);
	return o;
}

void mp_grow_status_print(struct json_object *st, FILE *f)
{
	struct json_object *o, *x;
	char a[32], b[32];

	if (!json_object_object_get_ex(st, "grow", &o))
		return;
	fprintf(f, "\nGrowth on pressure:\n");
	if (!mp_json_get_bool(o, "enabled", false)) {
		fprintf(f, "  off (no [Grow] policy in force)\n");
		return;
	}
	fprintf(f, "  policy %s: step %s, ceiling %s, cooldown %llu s\n",
		mp_json_get_str(o, "policy", ""),
		mp_format_size(mp_json_get_u64(o, "step", 0), a, sizeof(a)),
		mp_format_size(mp_json_get_u64(o, "ceiling", 0), b, sizeof(b)),
		(unsigned long long)(mp_json_get_u64(o, "cooldown_ms", 0) / 1000));
	fprintf(f, "  trigger %s: %s\n",
		mp_json_get_bool(o, "armed", false) ? "armed" : "NOT armed",
		mp_json_get_str(o, "trigger", ""));
	fprintf(f, "  %llu trigger(s), %llu request(s), %llu answer(s), %s granted\n",
		(unsigned long long)mp_json_get_u64(o, "triggers", 0),
		(unsigned long long)mp_json_get_u64(o, "requests", 0),
		(unsigned long long)mp_json_get_u64(o, "answers", 0),
		mp_format_size(mp_json_get_u64(o, "granted_bytes", 0), a, sizeof(a)));
	if (json_object_object_get_ex(o, "pending", NULL))
		fprintf(f, "  request %llu pending for %llu ms\n",
			(unsigned long long)mp_json_get_u64(o, "pending", 0),
			(unsigned long long)mp_json_get_u64(o, "pending_ms", 0));
	if (json_object_object_get_ex(o, "last_request", &x))
		fprintf(f, "  last request %llu: %s, %llu s ago\n",
			(unsigned long long)mp_json_get_u64(x, "request", 0),
			mp_format_size(mp_json_get_u64(x, "size", 0), a, sizeof(a)),
			(unsigned long long)(mp_json_get_u64(x, "ago_ms", 0) / 1000));
	if (json_object_object_get_ex(o, "last_answer", &x))
		fprintf(f, "  last answer to %llu: %s%s%s%s, %llu s ago: %s\n",
			(unsigned long long)mp_json_get_u64(x, "request", 0),
			mp_json_get_bool(x, "granted", false) ? "granted " : "refused",
			mp_json_get_bool(x, "granted", false) ?
				mp_format_size(mp_json_get_u64(x, "size", 0), a, sizeof(a)) :
				"",
			mp_json_get_str(x, "device", "")[0] ? " " : "",
			mp_json_get_str(x, "device", ""),
			(unsigned long long)(mp_json_get_u64(x, "ago_ms", 0) / 1000),
			mp_json_get_str(x, "reason", ""));
	if (mp_json_get_u64(o, "cooldown_left_ms", 0))
		fprintf(f, "  cooldown: %.1f s left\n",
			mp_json_get_u64(o, "cooldown_left_ms", 0) / 1000.0);
	if (mp_json_get_str(o, "last_skip", "")[0])
		fprintf(f, "  last trigger without a request: %s\n",
			mp_json_get_str(o, "last_skip", ""));
}
