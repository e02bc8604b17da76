// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Growth on the guest's request (docs/host.md, "serve"): the host config
 * file, the decision (pure, so that every limit is unit-tested), and one
 * request end to end: decide, plug, wait for the guest's proof, answer.
 *
 * The guest is not trusted: it may ask for anything, as often as it likes.
 * What it gets is bounded by the host's file only: MaxMemory caps the VM,
 * Step each grant, Cooldown the rate of grants, MaxRequestsPerMinute the
 * rate of requests looked at, HostFreeFloor what the host keeps.  Nothing
 * the guest reports (its total, its ceiling) can raise a limit; its
 * ceiling can only lower a grant.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

#define MAX_BYTES (1ull << 50)
#define MIB (1ull << 20)
/* How long a request waits for libvirtd to answer again (a restart takes a
 * few seconds; the guest gives up on its request after MP_GROW_ANSWER_MS). */
#define REVIVE_MS 30000

/* ---- the config file ---- */

struct cfg_parser {
	const char *path;
	char *why;
	size_t len, used;
	unsigned int nerr;
	unsigned int key_line[16];
};

static void cerr(struct cfg_parser *ps, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cerr(struct cfg_parser *ps, unsigned int line, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->nerr++;
	if (ps->used >= ps->len)
		return;
	n = snprintf(ps->why + ps->used, ps->len - ps->used, "%s%s:%u: %s", ps->used ? "\n" : "",
		     ps->path, line, msg);
	if (n > 0)
		ps->used += (size_t)n;
}

/* A time as in policies (mp_parse_duration_us()), in ms, at most a day. */
static int parse_ms(const char *val, uint64_t *out)
{
	uint64_t us;
	int r = mp_parse_duration_us(val, &us);

	if (r)
		return r;
	if (us > 86400000000ull)
		return -ERANGE;
	*out = us / 1000;
	return 0;
}

static int parse_bytes(const char *s, uint64_t *out)
{
	/* "010G" is refused rather than read as octal, as in policies */
	if (s[0] == '0' && isdigit((unsigned char)s[1]))
		return -EINVAL;
	return mp_parse_size(s, out);
}

enum { K_MAX, K_STEP, K_COOLDOWN, K_FLOOR, K_KIND, K_HOSTNODE, K_RPM, K_PROOF, K_MEMINFO, K_N };
static const char *const key_names[K_N] = {
	[K_MAX] = "MaxMemory",
	[K_STEP] = "Step",
	[K_COOLDOWN] = "Cooldown",
	[K_FLOOR] = "HostFreeFloor",
	[K_KIND] = "Kind",
	[K_HOSTNODE] = "HostNode",
	[K_RPM] = "MaxRequestsPerMinute",
	[K_PROOF] = "ProofTimeout",
	[K_MEMINFO] = "MemInfo",
};

static void cfg_key(struct cfg_parser *ps, struct mp_host_config *c, unsigned int line, int k,
		    const char *val)
{
	uint64_t v;
	int r;

	switch (k) {
	case K_MAX:
	case K_STEP:
	case K_FLOOR:
		r = parse_bytes(val, &v);
		if (r < 0 || v > MAX_BYTES) {
			cerr(ps, line, "bad %s= value '%s': expected a size like 512M or 8G",
			     key_names[k], val);
			return;
		}
		if (k != K_FLOOR && (v < MP_HOST_BLOCK_SIZE || v % MIB)) {
			cerr(ps, line,
			     "bad %s= value '%s': at least one memory block (128M), whole MiB",
			     key_names[k], val);
			return;
		}
		if (k == K_MAX)
			c->max_memory = v;
		else if (k == K_STEP)
			c->step = v;
		else
			c->host_floor = v;
		return;
	case K_COOLDOWN:
	case K_PROOF:
		if (parse_ms(val, &v) < 0) {
			cerr(ps, line,
			     "bad %s= value '%s': expected a time like 30s or 2min (at most a day)",
			     key_names[k], val);
			return;
		}
		if (k == K_PROOF && (v < 1000 || v > 3600000)) {
			cerr(ps, line, "bad ProofTimeout= value '%s': from 1s to 1h", val);
			return;
		}
		if (k == K_COOLDOWN)
			c->cooldown_ms = v;
		else
			c->proof_ms = (int)v;
		return;
	case K_KIND:
		if (strcmp(val, "dimm") && strcmp(val, "virtio-mem")) {
			cerr(ps, line, "bad Kind= value '%s': expected dimm or virtio-mem", val);
			return;
		}
		snprintf(c->kind, sizeof(c->kind), "%s", val);
		return;
	case K_HOSTNODE:
		if (!strcmp(val, "none"))
			c->host_node = MP_HOST_NODE_NONE;
		else if (!strcmp(val, "auto"))
			c->host_node = MP_HOST_NODE_AUTO;
		else if (mp_parse_u64(val, 10, &v) == 0 && v < 1024)
			c->host_node = (int)v;
		else
			cerr(ps, line,
			     "bad HostNode= value '%s': expected none, auto or a node number", val);
		return;
	case K_RPM:
		if (mp_parse_u64(val, 10, &v) < 0 || !v || v > MP_HOST_GROW_MAX_RPM) {
			cerr(ps, line, "bad MaxRequestsPerMinute= value '%s': expected 1..%d", val,
			     MP_HOST_GROW_MAX_RPM);
			return;
		}
		c->max_rpm = (unsigned int)v;
		return;
	case K_MEMINFO:
		if (val[0] != '/' || strlen(val) >= sizeof(c->meminfo)) {
			cerr(ps, line, "bad MemInfo= value '%s': expected an absolute path", val);
			return;
		}
		snprintf(c->meminfo, sizeof(c->meminfo), "%s", val);
		return;
	}
}

int mp_host_config_load(const char *path, struct mp_host_config **out, char *why, size_t len)
{
	struct cfg_parser ps = { .path = path, .why = why, .len = len };
	struct mp_host_config *c;
	bool in_grow = false, seen_grow = false;
	unsigned int line = 0;
	char *buf = NULL, *s;
	size_t cap = 0;
	int got;
	FILE *f;
	int err;

	*out = NULL;
	if (len)
		why[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-err));
		return err;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fclose(f);
		return -ENOMEM;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->step = MP_HOST_GROW_DEFAULT_STEP;
	c->cooldown_ms = MP_HOST_GROW_DEFAULT_COOLDOWN_MS;
	c->host_floor = MP_HOST_GROW_DEFAULT_FLOOR;
	snprintf(c->kind, sizeof(c->kind), "dimm");
	c->host_node = MP_HOST_NODE_NONE;
	c->max_rpm = MP_HOST_GROW_DEFAULT_RPM;
	c->proof_ms = MP_HOST_GROW_DEFAULT_PROOF_MS;
	snprintf(c->meminfo, sizeof(c->meminfo), "/proc/meminfo");

	while ((got = mp_conf_next_line(f, &buf, &cap, &line, &s))) {
		char *eq, *key, *val;
		int k;

		if (got < 0) {
			cerr(&ps, line, "NUL byte in line");
			continue;
		}
		if (*s == '[') {
			if (strcmp(s, "[Grow]")) {
				cerr(&ps, line, "unknown section %s: expected [Grow]", s);
				in_grow = false;
				continue;
			}
			if (seen_grow)
				cerr(&ps, line, "duplicate section [Grow]");
			in_grow = seen_grow = true;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			cerr(&ps, line, "expected Key=Value or [Grow], got '%s'", s);
			continue;
		}
		*eq = '\0';
		key = mp_strip(s);
		val = mp_strip(eq + 1);
		if (!in_grow) {
			if (!seen_grow)
				cerr(&ps, line, "%s= outside [Grow]", key);
			continue;
		}
		for (k = 0; k < K_N; k++)
			if (!strcmp(key, key_names[k]))
				break;
		if (k == K_N) {
			cerr(&ps, line, "unknown key %s= in [Grow]", key);
			continue;
		}
		if (ps.key_line[k]) {
			cerr(&ps, line, "duplicate key %s= (first at line %u)", key,
			     ps.key_line[k]);
			continue;
		}
		ps.key_line[k] = line;
		if (!*val) {
			cerr(&ps, line, "%s= has an empty value", key);
			continue;
		}
		cfg_key(&ps, c, line, k, val);
	}
	free(buf);
	fclose(f);
	if (!seen_grow && !ps.nerr)
		cerr(&ps, 0, "no [Grow] section");
	else if (!ps.key_line[K_MAX] && seen_grow)
		cerr(&ps, 0, "[Grow] needs MaxMemory= (the most memory the VM may have)");
	if (!ps.nerr && c->step > c->max_memory)
		cerr(&ps, ps.key_line[K_STEP], "Step= is above MaxMemory= (line %u)",
		     ps.key_line[K_MAX]);
	if (ps.nerr) {
		free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

/* ---- the decision ---- */

static char *fmt(uint64_t bytes, char *buf, size_t len)
{
	return mp_format_size(bytes, buf, len);
}

static int refuse(struct mp_host_grow_decision *d, const char *f, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct mp_host_grow_decision *d, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(d->reason, sizeof(d->reason), f, ap);
	va_end(ap);
	d->granted = false;
	d->size = 0;
	return 0;
}

/* Token bucket: @rpm per minute, burst @rpm; true when this request may pass. */
static bool rate_take(struct mp_host_grow_limiter *lim, unsigned int rpm, uint64_t now)
{
	uint64_t cap = rpm * 1000ull;

	if (!lim->tokens_ms) {
		lim->tokens_milli = cap;
	} else if (now > lim->tokens_ms) {
		/* rpm/60000 tokens per ms = rpm/60 thousandths per ms */
		uint64_t add = (now - lim->tokens_ms) * rpm / 60;

		lim->tokens_milli = lim->tokens_milli + add > cap ? cap : lim->tokens_milli + add;
	}
	lim->tokens_ms = now;
	if (lim->tokens_milli < 1000)
		return false;
	lim->tokens_milli -= 1000;
	return true;
}

int mp_host_grow_decide(const struct mp_host_config *cfg, struct mp_host_grow_limiter *lim,
			struct json_object *data, const struct mp_host_grow_facts *fc,
			struct mp_host_grow_decision *d)
{
	uint64_t bs = fc->block_size >= MIB ? fc->block_size : MP_HOST_BLOCK_SIZE;
	char a[32], b[32], c[32], e[32], g[32];
	const char *limit = "Step=";
	uint64_t want, cap, v;
	struct json_object *x;

	memset(d, 0, sizeof(*d));
	d->proof = MP_HOST_GROW_NO_PROOF;
	d->node = -1;
	d->vm_memory = fc->vm_memory;
	d->max_memory = cfg->max_memory;
	d->host_avail = fc->host_avail;
	d->host_floor = cfg->host_floor;
	snprintf(d->kind, sizeof(d->kind), "%s", cfg->kind);
	lim->requests++;

	/* the number first: with it even a bad request can be answered */
	if (json_object_is_type(data, json_type_object) &&
	    mp_json_check_u64(data, "request", UINT32_MAX * 65536ull, &d->request) == 0)
		d->has_request = true;
	if (!rate_take(lim, cfg->max_rpm, fc->now_ms)) {
		lim->limited++;
		d->rate_limited = true;
		return refuse(d,
			      "rate limited: more than MaxRequestsPerMinute=%u (%" PRIu64
			      " refused so far); not answered",
			      cfg->max_rpm, lim->limited);
	}
	if (!d->has_request)
		return refuse(d, "bad request: field 'request' is missing or not an integer");
	if (mp_json_check_u64(data, "size", MAX_BYTES, &d->asked) || !d->asked)
		return refuse(d, "bad request: field 'size' is missing or out of range");
	if (json_object_object_get_ex(data, "node", &x)) {
		if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < -1 ||
		    json_object_get_int64(x) > 1023)
			return refuse(d, "bad request: field 'node' is not -1..1023");
		d->node = (int)json_object_get_int64(x);
	}
	if (mp_json_check_u64(data, "total", MAX_BYTES, &d->guest_total) == -EINVAL ||
	    mp_json_check_u64(data, "ceiling", MAX_BYTES, &d->guest_ceiling) == -EINVAL)
		return refuse(d, "bad request: field 'total' or 'ceiling' out of range");

	if (lim->last_grant_ms && fc->now_ms - lim->last_grant_ms < cfg->cooldown_ms) {
		d->cooldown_left_ms = cfg->cooldown_ms - (fc->now_ms - lim->last_grant_ms);
		return refuse(d,
			      "cooldown: %" PRIu64 ".%01" PRIu64 " s left of Cooldown=%" PRIu64
			      " s since the last grant",
			      d->cooldown_left_ms / 1000, d->cooldown_left_ms % 1000 / 100,
			      cfg->cooldown_ms / 1000);
	}

	/* whole guest blocks: a part block can never be onlined */
	want = (d->asked + bs - 1) / bs * bs;
	cap = cfg->step / bs * bs;
	if (want <= cap) {
		cap = want;
		limit = NULL;
	}
	if (d->guest_ceiling && d->guest_total < d->guest_ceiling &&
	    (d->guest_ceiling - d->guest_total) / bs * bs < cap) {
		cap = (d->guest_ceiling - d->guest_total) / bs * bs;
		limit = "the guest's Ceiling=";
	}
	if (d->guest_ceiling && d->guest_total >= d->guest_ceiling)
		return refuse(d, "the guest is at its own ceiling: %s online of Ceiling=%s",
			      fmt(d->guest_total, a, sizeof(a)),
			      fmt(d->guest_ceiling, b, sizeof(b)));
	v = fc->vm_memory < cfg->max_memory ? (cfg->max_memory - fc->vm_memory) / bs * bs : 0;
	if (v < cap) {
		cap = v;
		limit = "MaxMemory=";
	}
	if (!cap)
		return refuse(d, "MaxMemory: the VM has %s of MaxMemory=%s, not one %s block left",
			      fmt(fc->vm_memory, a, sizeof(a)), fmt(cfg->max_memory, b, sizeof(b)),
			      fmt(bs, c, sizeof(c)));
	if (fc->space_left / bs * bs < cap) {
		cap = fc->space_left / bs * bs;
		limit = "the machine's maxmem";
	}
	if (!cap)
		return refuse(d, "maxmem: %s of address space left, less than one %s block",
			      fmt(fc->space_left, a, sizeof(a)), fmt(bs, b, sizeof(b)));
	if (!strcmp(cfg->kind, "dimm") && !fc->slots_free)
		return refuse(d, "no free DIMM slot");
	if (fc->host_avail == UINT64_MAX)
		return refuse(d,
			      "host MemAvailable unknown (%s): refusing rather than risk the host",
			      cfg->meminfo);
	v = fc->host_avail > cfg->host_floor ? (fc->host_avail - cfg->host_floor) / bs * bs : 0;
	if (v < cap) {
		cap = v;
		limit = "HostFreeFloor=";
	}
	if (!cap)
		return refuse(
			d,
			"host floor: MemAvailable %s leaves less than one %s block above HostFreeFloor=%s",
			fmt(fc->host_avail, a, sizeof(a)), fmt(bs, b, sizeof(b)),
			fmt(cfg->host_floor, c, sizeof(c)));

	d->granted = true;
	d->size = cap;
	if (limit)
		snprintf(
			d->reason, sizeof(d->reason),
			"granted %s of %s asked: clipped by %s (VM %s, MaxMemory %s, host MemAvailable %s)",
			fmt(cap, a, sizeof(a)), fmt(d->asked, b, sizeof(b)), limit,
			fmt(fc->vm_memory, c, sizeof(c)), fmt(cfg->max_memory, e, sizeof(e)),
			fmt(fc->host_avail, g, sizeof(g)));
	else
		snprintf(d->reason, sizeof(d->reason),
			 "granted %s as asked (VM %s of MaxMemory %s)", fmt(cap, a, sizeof(a)),
			 fmt(fc->vm_memory, b, sizeof(b)), fmt(cfg->max_memory, c, sizeof(c)));
	lim->granted++;
	lim->last_grant_ms = fc->now_ms;
	return 1;
}

/* ---- end to end ---- */

static bool match_grow(const char *name, struct json_object *data, void *ud)
{
	return true; /* every event: the others are dropped by the caller */
}

int mp_host_grow_wait(struct mp_host *h, int timeout_ms, struct json_object **data)
{
	uint64_t deadline = mp_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	*data = NULL;
	if (!h->chan)
		return -ENOTCONN;
	for (;;) {
		struct json_object *ev = NULL, *name, *d;
		uint64_t now = mp_now_ms();
		int r;

		r = mp_qmp_event_wait(h->chan, match_grow, NULL,
				      now < deadline ? (int)(deadline - now) : 0, &ev);
		if (r < 0)
			return r;
		if (json_object_object_get_ex(ev, "event", &name) &&
		    !strcmp(json_object_get_string(name), "GROW_REQUEST")) {
			if (!json_object_object_get_ex(ev, "data", &d))
				d = json_object_new_object();
			else
				json_object_get(d);
			json_object_put(ev);
			*data = d;
			return 0;
		}
		mp_dbg("serve: dropping event %s", json_object_get_string(name));
		json_object_put(ev);
	}
}

struct mp_host_grow_limiter *mp_host_grow_limiter_get(struct mp_host *h)
{
	return &h->grow;
}

/* MemAvailable from @path in bytes, UINT64_MAX when it cannot be read. */
static uint64_t host_mem_available(const char *path)
{
	char line[256];
	uint64_t kb = UINT64_MAX;
	FILE *f = fopen(path, "re");

	if (!f) {
		mp_warn("serve: %s: %s", path, strerror(errno));
		return UINT64_MAX;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb == UINT64_MAX ? kb : kb * 1024;
}

static int answer(struct mp_host *h, struct mp_host_grow_decision *d)
{
	struct json_object *args = json_object_new_object(), *ret = NULL;
	int r;

	mp_json_add_u64(args, "request", d->request);
	mp_json_add_bool(args, "granted", d->granted);
	mp_json_add_u64(args, "size", d->granted ? d->size : 0);
	if (d->granted && d->device[0])
		mp_json_add_str(args, "device", d->device);
	mp_json_add_str(args, "reason", d->reason);
	r = mp_host_chan_execute(h, "grow-answer", args, 10000, &ret);
	json_object_put(ret);
	if (r < 0) {
		char err[200];

		mp_warn("serve: request %" PRIu64 ": grow-answer: %s", d->request,
			mp_qmp_strerror(h->chan, r, err, sizeof(err)));
		return r;
	}
	d->answered = true;
	return 0;
}

/* The VM's virtio-mem device to grow on @node: the first one there. */
static const struct mp_host_memdev *virtio_mem_pick(const struct mp_host_state *st, int node)
{
	for (unsigned int i = 0; i < st->ndevs; i++)
		if (!strcmp(st->devs[i].kind, "virtio-mem") &&
		    (node < 0 || st->devs[i].node == node))
			return &st->devs[i];
	return NULL;
}

int mp_host_grow_handle(struct mp_host *h, const struct mp_host_config *cfg,
			struct json_object *data, struct mp_host_grow_decision *d)
{
	const struct mp_host_hello *hello = mp_host_get_hello(h);
	struct mp_host_grow_facts fc = { .host_avail = UINT64_MAX };
	struct mp_host_state *st = NULL;
	const struct mp_host_memdev *vm = NULL;
	struct json_object *proof = NULL;
	uint64_t t0 = mp_now_us(), tplug;
	char a[32], b[32], c[32];
	int r, granted;

	if (!h->chan) {
		memset(d, 0, sizeof(*d));
		snprintf(d->reason, sizeof(d->reason), "no channel to the guest");
		return -ENOTCONN;
	}
	/* a libvirt connection that idled since the last request may be gone */
	r = mp_host_revive(h, REVIVE_MS);
	if (r == 0)
		r = mp_host_state_get(h, &st);
	if (r < 0) {
		memset(d, 0, sizeof(*d));
		snprintf(d->reason, sizeof(d->reason), "cannot read the VM's state: %s",
			 strerror(-r));
		return r;
	}
	fc.now_ms = mp_now_ms();
	fc.vm_memory = st->base + st->plugged;
	fc.space_left = st->space_left;
	fc.slots_free = st->slots > st->slots_used ? st->slots - st->slots_used : 0;
	fc.host_avail = host_mem_available(cfg->meminfo);
	fc.block_size = hello ? hello->block_size : MP_HOST_BLOCK_SIZE;
	if (!strcmp(cfg->kind, "virtio-mem")) {
		int node = -1;

		if (json_object_is_type(data, json_type_object))
			node = (int)mp_json_get_int(data, "node", -1);
		vm = virtio_mem_pick(st, node);
		if (vm) {
			/* a virtio-mem device's room is its maximum, not maxmem */
			fc.space_left = vm->max_size - vm->requested_size;
			fc.slots_free = 1;
		}
	}
	granted = mp_host_grow_decide(cfg, &h->grow, data, &fc, d);
	d->decide_us = mp_now_us() - t0;
	if (d->rate_limited) {
		mp_host_state_free(st);
		return 0;
	}
	if (granted && d->node < 0)
		d->node = hello && hello->nnodes ? hello->nodes[0].node : 0;
	if (granted && !strcmp(cfg->kind, "virtio-mem") && !vm) {
		granted =
			refuse(d, "Kind=virtio-mem but the VM has no virtio-mem device on node %d",
			       d->node);
		h->grow.granted--;
		h->grow.last_grant_ms = 0;
	}
	if (granted && hello) {
		struct mp_host_memmap m;

		if (mp_host_memmap_check(hello, cfg->kind, d->size, d->node, &m) < 0) {
			granted = refuse(
				d,
				"the guest cannot afford the memmap: %s needs %s of kernel memory, %s free",
				fmt(d->size, a, sizeof(a)), fmt(m.need, b, sizeof(b)),
				fmt(m.avail, c, sizeof(c)));
			h->grow.granted--;
			h->grow.last_grant_ms = 0;
		}
	}
	if (!granted) {
		mp_host_state_free(st);
		if (d->has_request)
			answer(h, d);
		return 0;
	}

	mp_host_proof_begin(h);
	tplug = mp_now_ms();
	if (vm) {
		snprintf(d->device, sizeof(d->device), "%s", vm->id);
		r = mp_host_resize(h, vm->id, vm->requested_size + d->size, cfg->proof_ms);
	} else {
		struct mp_host_plug_spec spec = {
			.size = d->size,
			.node = d->node,
			.host_node = cfg->host_node,
		};

		r = mp_host_plug_dimm(h, &spec, d->device, sizeof(d->device));
	}
	mp_host_state_free(st);
	d->plug_ms = mp_now_ms() - tplug;
	if (r < 0) {
		char reason[sizeof(d->reason)];

		snprintf(reason, sizeof(reason), "%s; but the plug failed: %s", d->reason,
			 strerror(-r));
		memcpy(d->reason, reason, sizeof(reason));
		d->granted = false;
		d->size = 0;
		d->device[0] = '\0';
		h->grow.granted--;
		h->grow.last_grant_ms = 0;
		answer(h, d);
		return r;
	}
	r = mp_host_wait_online(h, d->device, tplug, cfg->proof_ms, &proof);
	d->proof = r;
	d->proof_ms = mp_now_ms() - tplug;
	snprintf(d->proof_outcome, sizeof(d->proof_outcome), "%s",
		 mp_json_get_str(proof, "outcome", r == -ETIMEDOUT ? "timeout" : "none"));
	snprintf(d->blocks, sizeof(d->blocks), "%s", mp_json_get_str(proof, "blocks", ""));
	json_object_put(proof);
	{
		size_t n = strlen(d->reason);

		snprintf(d->reason + n, sizeof(d->reason) - n,
			 "; %s plugged, the guest's proof: %s%s", d->device, d->proof_outcome,
			 r == MP_HOST_PROOF_OK ? " (every block verified)" : "");
	}
	/* the cooldown runs from the memory being there, not from the decision */
	h->grow.last_grant_ms = mp_now_ms();
	r = answer(h, d);
	return r < 0 ? r : 1;
}

/* ---- the record ---- */

struct json_object *mp_host_grow_decision_json(const struct mp_host_grow_decision *d)
{
	struct json_object *o = json_object_new_object();

	if (d->has_request)
		mp_json_add_u64(o, "request", d->request);
	mp_json_add_bool(o, "granted", d->granted);
	mp_json_add_bool(o, "answered", d->answered);
	mp_json_add_bool(o, "rate_limited", d->rate_limited);
	mp_json_add_u64(o, "asked", d->asked);
	mp_json_add_u64(o, "size", d->size);
	mp_json_add_int(o, "node", d->node);
	mp_json_add_u64(o, "guest_total", d->guest_total);
	mp_json_add_u64(o, "guest_ceiling", d->guest_ceiling);
	mp_json_add_u64(o, "vm_memory", d->vm_memory);
	mp_json_add_u64(o, "max_memory", d->max_memory);
	if (d->host_avail != UINT64_MAX)
		mp_json_add_u64(o, "host_available", d->host_avail);
	mp_json_add_u64(o, "host_floor", d->host_floor);
	mp_json_add_u64(o, "cooldown_left_ms", d->cooldown_left_ms);
	mp_json_add_str(o, "kind", d->kind);
	mp_json_add_str(o, "device", d->device);
	if (d->proof != MP_HOST_GROW_NO_PROOF) {
		mp_json_add_str(o, "proof", d->proof_outcome);
		mp_json_add_str(o, "blocks", d->blocks);
		mp_json_add_u64(o, "plug_ms", d->plug_ms);
		mp_json_add_u64(o, "proof_ms", d->proof_ms);
	}
	mp_json_add_u64(o, "decide_us", d->decide_us);
	mp_json_add_str(o, "reason", d->reason);
	return o;
}

char *mp_host_grow_decision_format(const struct mp_host_grow_decision *d, char *buf, size_t len)
{
	char a[32], b[32], c[32], e[32], f[32], g[32], k[32];
	char req[32] = "?";

	if (d->has_request)
		snprintf(req, sizeof(req), "%" PRIu64, d->request);
	snprintf(
		buf, len,
		"request %s: %s: asked %s on node %d (guest %s online, ceiling %s); VM %s of MaxMemory %s; host MemAvailable %s, floor %s: %s",
		req, d->granted ? "GRANTED" : "REFUSED", fmt(d->asked, a, sizeof(a)), d->node,
		fmt(d->guest_total, b, sizeof(b)), fmt(d->guest_ceiling, c, sizeof(c)),
		fmt(d->vm_memory, e, sizeof(e)), fmt(d->max_memory, f, sizeof(f)),
		d->host_avail == UINT64_MAX ? "unknown" : fmt(d->host_avail, g, sizeof(g)),
		fmt(d->host_floor, k, sizeof(k)), d->reason);
	return buf;
}
