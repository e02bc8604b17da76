// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The scenario runner: each step over struct mp_host (qmp/host.h), judged
 * and timed, into a report.  The runner decides nothing the host library
 * does not: a plug is mp_host_plug_*() with its checks and rollback, an
 * unplug with the channel is the coordinated one (never a device_del
 * while a block may be online), "online" is the guest's proof as
 * mp_host_wait_online() reads it.  What it adds is the judging against
 * what the file expects, and a clear word for each step.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host-private.h" /* mp_host_chan_execute(): the guest's status, expect removed */
#include "host.h"
#include "log.h"
#include "mp-json.h"
#include "scenario-private.h"
#include "util.h"

/* what a step left for later steps */
struct step_state {
	int rc;
	struct json_object *unplug; /* unplug: the host library's report */
};

struct run {
	struct mp_scenario *s;
	struct mp_host *h;
	const struct mp_scenario_opts *o;
	struct step_state *ss;
	struct json_object *grow_request; /* the last GROW_REQUEST's data */
};

static void reason(struct json_object *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reason(struct json_object *o, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mp_json_add_str(o, "reason", buf);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *dev_label(const struct mp_scn_dev *d)
{
	return d->name[0] == '#' ? d->id : d->name;
}

static bool need_channel(struct run *rn, struct json_object *o, const char *what)
{
	if (mp_host_has_channel(rn->h))
		return true;
	reason(o,
	       "%s needs the guest's word: no channel to memplugd (give --channel SOCK, or a "
	       "libvirt domain with the org.memplug.0 channel)",
	       what);
	return false;
}

/* The host id of the step's device, or NULL (and why) when it has none yet. */
static const char *dev_id(struct run *rn, const struct mp_scn_step *st, struct json_object *o)
{
	struct mp_scn_dev *d = &rn->s->devs[st->dev];

	if (d->plugged_by >= 0 && !d->plugged) {
		reason(o, "%s was not plugged (its plug at line %u did not succeed)", dev_label(d),
		       rn->s->steps[d->plugged_by].line);
		return NULL;
	}
	mp_json_add_str(o, "id", d->id);
	return d->id;
}

static int step_plug(struct run *rn, struct mp_scn_step *st, struct json_object *o, uint64_t t0)
{
	struct mp_scn_dev *d = &rn->s->devs[st->dev];
	const struct mp_host_hello *hello = mp_host_get_hello(rn->h);
	struct mp_host_plug_spec spec = {
		.size = st->size,
		.node = st->node,
		.host_node = st->host_node,
		.mem_path = st->mem_path[0] ? st->mem_path : NULL,
		.share = st->share || !strcmp(st->kind, "nvdimm"),
		.prealloc = st->prealloc,
		.id = st->id[0] ? st->id : NULL,
		.label_size = st->label_size,
		.requested_size = st->requested,
		.force = st->force,
	};
	char id[160], a[32], b[32];
	sigset_t set, old;
	int r;

	/* what the guest can afford, before anything is sent (as host plug does) */
	if (hello && !st->force) {
		struct mp_host_memmap m;
		uint64_t sz = !strcmp(st->kind, "virtio-mem") ? st->requested : st->size;

		r = mp_host_memmap_check(hello, st->kind, sz, st->node, &m);
		if (r < 0) {
			reason(o,
			       "the guest cannot afford the memmap: it needs %s of kernel-zone "
			       "memory, %s is free there (%s); nothing sent",
			       mp_format_size(m.need, a, sizeof(a)),
			       mp_format_size(m.avail, b, sizeof(b)), m.rule);
			return r;
		}
	}
	if (mp_host_has_channel(rn->h))
		mp_host_proof_begin(rn->h);
	d->since_ms = t0;
	/* as memplugctl host plug does: an interrupt must not land between
	 * the backend's object-add and device_add */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (!strcmp(st->kind, "dimm"))
		r = mp_host_plug_dimm(rn->h, &spec, id, sizeof(id));
	else if (!strcmp(st->kind, "nvdimm"))
		r = mp_host_plug_nvdimm(rn->h, &spec, id, sizeof(id));
	else
		r = mp_host_plug_virtio_mem(rn->h, &spec, id, sizeof(id));
	if (r == 0) {
		snprintf(d->id, sizeof(d->id), "%s", id);
		d->plugged = true;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		reason(o, "plug refused: %s (nothing left behind: the host library rolls back)",
		       strerror(-r));
		return r;
	}
	mp_json_add_str(o, "id", id);
	return 0;
}

static int step_resize(struct run *rn, struct mp_scn_step *st, struct json_object *o, uint64_t t0)
{
	struct mp_scn_dev *d = &rn->s->devs[st->dev];
	const char *id = dev_id(rn, st, o);
	int r;

	if (!id)
		return -ENODEV;
	if (mp_host_has_channel(rn->h))
		mp_host_proof_begin(rn->h);
	d->since_ms = t0;
	r = mp_host_resize(rn->h, id, st->size, st->within_ms);
	if (r < 0)
		reason(o, "%s: resize: %s", id,
		       r == -ETIMEDOUT ? "the device did not reach the size in time (the request "
					 "stays set)" :
					 strerror(-r));
	return r;
}

static const char *gs(struct json_object *o, const char *k)
{
	return mp_json_get_str(o, k, "");
}

static int step_unplug(struct run *rn, struct mp_scn_step *st, struct json_object *o,
		       struct step_state *ss)
{
	struct mp_scn_dev *d = &rn->s->devs[st->dev];
	const char *id = dev_id(rn, st, o);
	struct json_object *rep = NULL, *f = NULL;
	int r;

	if (!id)
		return -ENODEV;
	if (mp_host_has_channel(rn->h)) {
		r = mp_host_unplug_coordinated(rn->h, id, st->within_ms, &rep);
	} else {
		r = mp_host_unplug(rn->h, id, st->within_ms);
		rep = json_object_new_object();
		mp_json_add_str(rep, "id", id);
		mp_json_add_str(rep, "outcome",
				r == 0	    ? "unplugged" :
				r == -EBUSY ? "refused" :
					      "failed");
		mp_json_add_str(rep, "note", "no channel: the guest's ACPI answer only");
	}
	mp_json_add_bool(rep, "unplugged", r == 0);
	ss->rc = r;
	ss->unplug = json_object_get(rep);
	json_object_object_add(o, "unplug", rep);
	if (r == 0) {
		d->unplugged = true;
		return 0;
	}
	json_object_object_get_ex(rep, "refusal", &f);
	if (r == -EBUSY && st->judged) {
		mp_json_add_str(o, "note", "refused; the next step judges the refusal");
		return 0;
	}
	if (f)
		reason(o, "%s: the guest refused: memory%llu %s (%s); kernel reason: %s", id,
		       (unsigned long long)mp_json_get_u64(f, "block", 0), gs(f, "errno"),
		       gs(f, "error"), gs(f, "reason")[0] ? gs(f, "reason") : "none given");
	else
		reason(o, "%s: not unplugged: %s%s%s", id, gs(rep, "outcome"),
		       gs(rep, "error")[0] ? ": " : "", gs(rep, "error"));
	return r;
}

/* kmem's trim as the guest checked it, from the proof's last word. */
static struct json_object *proof_trim(struct json_object *proof)
{
	struct json_object *lw = NULL, *data = NULL, *t = NULL;

	if (!json_object_object_get_ex(proof, "last_word", &lw) || !lw)
		return NULL;
	if (json_object_object_get_ex(lw, "data", &data))
		lw = data;
	json_object_object_get_ex(lw, "kmem_trim", &t);
	return t;
}

/* A device someone else plugs: wait until QEMU lists it (observe-only). */
static int wait_present(struct run *rn, const char *id, uint64_t deadline)
{
	for (;;) {
		struct mp_host_state *st = NULL;
		bool found;
		int r = mp_host_state_get(rn->h, &st);

		if (r < 0)
			return r;
		found = mp_host_state_find(st, id) != NULL;
		mp_host_state_free(st);
		if (found)
			return 0;
		if (mp_now_ms() >= deadline)
			return -ENODEV;
		sleep_ms(200);
	}
}

static int step_online(struct run *rn, struct mp_scn_step *st, struct json_object *o, uint64_t t0)
{
	struct mp_scn_dev *d = &rn->s->devs[st->dev];
	struct json_object *proof = NULL, *trim;
	const char *id = dev_id(rn, st, o);
	uint64_t since = d->since_ms ? d->since_ms : t0;
	char bad[512] = "";
	size_t n = 0;
	int r, left;

	if (!id || !need_channel(rn, o, "expect online"))
		return id ? -ENOTCONN : -ENODEV;
	if (d->plugged_by < 0) {
		r = wait_present(rn, id, t0 + (uint64_t)st->within_ms);
		if (r < 0) {
			reason(o, "%s: %s", id,
			       r == -ENODEV ? "not among the VM's memory devices in time" :
					      strerror(-r));
			return r;
		}
	}
	left = st->within_ms - (int)(mp_now_ms() - t0);
	r = mp_host_wait_online(rn->h, id, since, left > 0 ? left : 1, &proof);
	if (!proof) {
		reason(o, "%s: no proof: %s", id, strerror(-r));
		return r < 0 ? r : -EIO;
	}
	json_object_object_add(o, "proof", proof);
#define BAD(...) (n += snprintf(bad + n, n < sizeof(bad) ? sizeof(bad) - n : 0, __VA_ARGS__))
	if (r == -ETIMEDOUT)
		BAD("no final word from the guest in %d ms (last: %s%s%s); ", st->within_ms,
		    gs(proof, "source")[0] ? gs(proof, "source") : "nothing",
		    gs(proof, "message")[0] ? ": " : "", gs(proof, "message"));
	else if (r < 0 && r != -ETIMEDOUT)
		BAD("the guest says %s%s%s; ", gs(proof, "outcome"),
		    gs(proof, "message")[0] ? ": " : "", gs(proof, "message"));
	if (r >= 0 && mp_json_get_u64(proof, "violations", 0))
		BAD("%llu kernel-rule violation(s); ",
		    (unsigned long long)mp_json_get_u64(proof, "violations", 0));
	else if (r == MP_HOST_PROOF_PARTIAL && st->verified)
		BAD("%s: %llu of %llu block(s) verified; ", gs(proof, "outcome"),
		    (unsigned long long)mp_json_get_u64(proof, "verified", 0),
		    (unsigned long long)mp_json_get_u64(proof, "onlined", 0));
	if (r >= 0 && st->zone[0] && strcmp(gs(proof, "zone"), st->zone))
		BAD("zone %s, expected %s; ", gs(proof, "zone")[0] ? gs(proof, "zone") : "unknown",
		    st->zone);
	if (r >= 0 && st->node != MP_SCN_ANY && mp_json_get_int(proof, "node", -1) != st->node)
		BAD("node %lld, expected %d; ", (long long)mp_json_get_int(proof, "node", -1),
		    st->node);
	if (r >= 0 && st->blocks != MP_SCN_ANY &&
	    mp_json_get_u64(proof, "onlined", 0) != (uint64_t)st->blocks)
		BAD("%llu block(s) online, expected %ld; ",
		    (unsigned long long)mp_json_get_u64(proof, "onlined", 0), st->blocks);
	trim = proof_trim(proof);
	if (trim)
		json_object_object_add(o, "kmem_trim", json_object_get(trim));
	if (r >= 0 && st->trim &&
	    (!trim || !mp_json_get_bool(trim, "checked", false) ||
	     !mp_json_get_bool(trim, "as_predicted", false)))
		BAD("kmem's trim %s; ",
		    !trim ? "not reported by the guest" : "not as predicted (or not checked)");
#undef BAD
	if (!n)
		return 0;
	bad[strlen(bad) > 2 ? strlen(bad) - 2 : 0] = 0;
	reason(o, "%s (%s): %s", id, gs(proof, "device")[0] ? gs(proof, "device") : "?", bad);
	return r < 0 ? r : -EPROTO;
}

/* Does the guest's status still hold a record of device @key? */
static int guest_has(struct run *rn, const char *key)
{
	struct json_object *ret = NULL, *devs;
	int r, found = 0;

	r = mp_host_chan_execute(rn->h, "status", NULL, 10000, &ret);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(ret, "devices", &devs) &&
	    json_object_is_type(devs, json_type_array))
		for (size_t i = 0; i < json_object_array_length(devs); i++)
			if (!strcmp(mp_json_get_str(json_object_array_get_idx(devs, i), "device",
						    ""),
				    key))
				found = 1;
	json_object_put(ret);
	return found;
}

/*
 * With the channel, removed also means memplugd has forgotten the device
 * (DEVICE_GONE once the kernel removed its blocks): until then a new
 * device in the same slot could be taken for it.
 */
static int guest_forgot(struct run *rn, struct mp_scn_step *st, struct json_object *o,
			uint64_t deadline)
{
	const char *key = st->unplug_step >= 0 ?
				  mp_json_get_str(rn->ss[st->unplug_step].unplug, "device", "") :
				  "";
	int r;

	if (!key[0] || !mp_host_has_channel(rn->h))
		return 0;
	for (;;) {
		r = guest_has(rn, key);
		if (r == 0)
			return 0;
		if (r < 0) {
			reason(o, "the guest's status: %s", strerror(-r));
			return r;
		}
		if (mp_now_ms() >= deadline) {
			reason(o, "gone from the VM, but memplugd still has a record of %s", key);
			return -ETIMEDOUT;
		}
		sleep_ms(250);
	}
}

static int step_removed(struct run *rn, struct mp_scn_step *st, struct json_object *o, uint64_t t0)
{
	const char *id = dev_id(rn, st, o);
	uint64_t deadline = t0 + (uint64_t)st->within_ms;

	if (!id)
		return -ENODEV;
	if (st->unplug_step >= 0 && rn->ss[st->unplug_step].rc < 0) {
		reason(o, "%s: its unplug at line %u did not succeed: %s", id,
		       rn->s->steps[st->unplug_step].line,
		       gs(rn->ss[st->unplug_step].unplug, "outcome"));
		return -EBUSY;
	}
	for (;;) {
		struct mp_host_state *hs = NULL;
		bool there;
		int r = mp_host_state_get(rn->h, &hs);

		if (r < 0) {
			reason(o, "cannot read the VM's devices: %s", strerror(-r));
			return r;
		}
		there = mp_host_state_find(hs, id) != NULL;
		mp_host_state_free(hs);
		if (!there) {
			/* DEVICE_DELETED: the guest ejected it (ACPI), so its blocks are gone */
			if (st->unplug_step >= 0)
				json_object_object_add(
					o, "drain",
					json_object_get(json_object_object_get(
						rn->ss[st->unplug_step].unplug, "drain")));
			return guest_forgot(rn, st, o, deadline);
		}
		if (mp_now_ms() >= deadline) {
			reason(o, "%s is still among the VM's memory devices after %d ms", id,
			       st->within_ms);
			return -ETIMEDOUT;
		}
		sleep_ms(200);
	}
}

static int step_refused(struct run *rn, struct mp_scn_step *st, struct json_object *o)
{
	struct step_state *u = &rn->ss[st->unplug_step];
	struct json_object *f = NULL;
	struct mp_host_state *hs = NULL;
	const char *id = dev_id(rn, st, o), *why;
	bool there = false;

	if (!id)
		return -ENODEV;
	if (u->rc == 0) {
		reason(o, "%s was unplugged: the guest did not refuse", id);
		return -EPROTO;
	}
	json_object_object_get_ex(u->unplug, "refusal", &f);
	if (u->rc != -EBUSY) {
		reason(o, "%s: the unplug ended otherwise than in a refusal: %s%s%s", id,
		       gs(u->unplug, "outcome"), gs(u->unplug, "error")[0] ? ": " : "",
		       gs(u->unplug, "error"));
		return -EPROTO;
	}
	if (f)
		json_object_object_add(o, "refusal", json_object_get(f));
	why = f && gs(f, "reason")[0] ? gs(f, "reason") : gs(u->unplug, "error");
	if (st->reason[0] && !strstr(why, st->reason)) {
		reason(o, "%s: refused, but for '%s', not '%s'", id, why, st->reason);
		return -EPROTO;
	}
	if (st->errname[0] && strcmp(gs(f, "errno"), st->errname)) {
		reason(o, "%s: refused with %s, not %s", id, f ? gs(f, "errno") : "no errno",
		       st->errname);
		return -EPROTO;
	}
	if (mp_host_state_get(rn->h, &hs) == 0)
		there = mp_host_state_find(hs, id) != NULL;
	mp_host_state_free(hs);
	if (!there) {
		reason(o, "%s: refused, yet gone from the VM's devices", id);
		return -EPROTO;
	}
	if (!strcmp(gs(u->unplug, "outcome"), "refused-rollback-failed")) {
		reason(o, "%s: refused, but the guest could not online every block again", id);
		return -EPROTO;
	}
	mp_json_add_str(o, "reason", why);
	return 0;
}

/*
 * The next GROW_REQUEST on the channel (docs/channel.md), as the host's
 * serve loop waits for it: mp_host_grow_wait().  Kept for the serve step
 * that follows, which answers it.
 */
static int step_grow_request(struct run *rn, struct mp_scn_step *st, struct json_object *o)
{
	struct json_object *data = NULL;
	int r;

	if (!need_channel(rn, o, "expect grow-request"))
		return -ENOTCONN;
	r = mp_host_grow_wait(rn->h, st->within_ms, &data);
	if (r < 0) {
		reason(o, "%s",
		       r == -ETIMEDOUT ? "no GROW_REQUEST from the guest in time" : strerror(-r));
		return r;
	}
	if (mp_json_get_int(data, "request", -1) < 0 || !mp_json_get_u64(data, "size", 0)) {
		reason(o, "a GROW_REQUEST without a request number and a size");
		json_object_put(data);
		return -EBADMSG;
	}
	json_object_put(rn->grow_request);
	rn->grow_request = data;
	json_object_object_add(o, "grow_request", json_object_get(data));
	return 0;
}

/*
 * serve: one grow request answered as `memplugctl host serve` answers it
 * (mp_host_grow_handle(): decide within the config's limits, plug, wait for
 * the guest's proof, grow-answer).  The request is the one `expect
 * grow-request` took, else the next one within `within=`.  The step passes
 * when memory was granted, plugged and proven online; a refusal fails it
 * with the decision's reason and numbers.
 */
static int step_serve(struct run *rn, struct mp_scn_step *st, struct json_object *o)
{
	struct mp_host_grow_decision dec;
	struct mp_host_config *cfg = NULL;
	struct json_object *data;
	char why[2048], line[1024];
	int r;

	if (!need_channel(rn, o, "serve"))
		return -ENOTCONN;
	if (!st->config[0]) {
		reason(o, "serve: config=FILE is required (the host's limits, docs/host.md)");
		return -EINVAL;
	}
	r = mp_host_config_load(st->config, &cfg, why, sizeof(why));
	if (r < 0) {
		reason(o, "serve: %s refused: %s", st->config, why);
		return r;
	}
	data = rn->grow_request;
	rn->grow_request = NULL;
	if (!data) {
		r = mp_host_grow_wait(rn->h, st->within_ms, &data);
		if (r < 0) {
			reason(o, "serve: %s",
			       r == -ETIMEDOUT ? "no GROW_REQUEST from the guest in time" :
						 strerror(-r));
			free(cfg);
			return r;
		}
	}
	r = mp_host_grow_handle(rn->h, cfg, data, &dec);
	json_object_object_add(o, "decision", mp_host_grow_decision_json(&dec));
	mp_json_add_str(o, "note", mp_host_grow_decision_format(&dec, line, sizeof(line)));
	json_object_put(data);
	free(cfg);
	if (r < 0) {
		reason(o, "serve: %s", dec.reason[0] ? dec.reason : strerror(-r));
		return r;
	}
	if (r == 0) {
		reason(o, "serve: refused: %s", dec.reason);
		return -EPERM;
	}
	if (dec.proof != MP_HOST_PROOF_OK) {
		reason(o, "serve: %s plugged, but the guest's proof is %s", dec.device,
		       dec.proof_outcome[0] ? dec.proof_outcome : "missing");
		return -EPROTO;
	}
	return 0;
}

/* One line to the hook's socket; a driver that went away is an error, not a SIGPIPE. */
static int hook_send(int fd, const char *line)
{
	size_t n = strlen(line), off = 0;
	_mp_free_ char *buf = malloc(n + 2);

	if (!buf)
		return -1;
	memcpy(buf, line, n);
	buf[n++] = '\n';
	while (off < n) {
		ssize_t k = send(fd, buf + off, n - off, MSG_NOSIGNAL);

		if (k < 0 && errno == ENOTSOCK)
			k = write(fd, buf + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		off += (size_t)k;
	}
	return 0;
}

static int step_hook(struct run *rn, struct mp_scn_step *st, struct json_object *o, uint64_t t0)
{
	struct json_object *msg, *devs;
	char buf[1024];
	size_t n = 0;
	const char *line;

	if (!rn->o || rn->o->hook_fd < 0) {
		reason(o,
		       "hook %s: no hook handler (run with --hook-fd FD: a driver prepares the "
		       "guest at this point, see docs/scenarios.md)",
		       st->hook);
		return -ENOSYS;
	}
	msg = json_object_new_object();
	devs = json_object_new_object();
	mp_json_add_str(msg, "hook", st->hook);
	mp_json_add_int(msg, "line", st->line);
	for (unsigned int i = 0; i < rn->s->ndevs; i++)
		if (rn->s->devs[i].id[0] && rn->s->devs[i].name[0] != '#')
			mp_json_add_str(devs, rn->s->devs[i].name, rn->s->devs[i].id);
	json_object_object_add(msg, "devices", devs);
	line = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	if (hook_send(rn->o->hook_fd, line) < 0) {
		int err = -errno;

		reason(o, "hook %s: cannot write to the hook fd: %s", st->hook, strerror(-err));
		json_object_put(msg);
		return err;
	}
	json_object_put(msg);
	while (n + 1 < sizeof(buf)) {
		struct pollfd pfd = { rn->o->hook_fd, POLLIN, 0 };
		int left = st->within_ms - (int)(mp_now_ms() - t0);
		ssize_t k;

		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			reason(o, "hook %s: no answer from the hook handler in %d ms", st->hook,
			       st->within_ms);
			return -ETIMEDOUT;
		}
		k = read(rn->o->hook_fd, buf + n, 1);
		if (k <= 0) {
			reason(o, "hook %s: the hook handler went away", st->hook);
			return -EPIPE;
		}
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	if (!strncmp(buf, "ok", 2) && (!buf[2] || buf[2] == ' ')) {
		if (buf[2])
			mp_json_add_str(o, "note", buf + 3);
		return 0;
	}
	reason(o, "hook %s: %s", st->hook, buf[0] ? buf : "failed (no reason given)");
	return -EIO;
}

static int run_step(struct run *rn, unsigned int i, struct json_object *o, uint64_t t0)
{
	struct mp_scn_step *st = &rn->s->steps[i];

	switch (st->op) {
	case MP_SCN_PLUG:
		return step_plug(rn, st, o, t0);
	case MP_SCN_RESIZE:
		return step_resize(rn, st, o, t0);
	case MP_SCN_UNPLUG:
		return step_unplug(rn, st, o, &rn->ss[i]);
	case MP_SCN_EXPECT_ONLINE:
		return step_online(rn, st, o, t0);
	case MP_SCN_EXPECT_REMOVED:
		return step_removed(rn, st, o, t0);
	case MP_SCN_EXPECT_REFUSED:
		return step_refused(rn, st, o);
	case MP_SCN_EXPECT_GROW:
		return step_grow_request(rn, st, o);
	case MP_SCN_SERVE:
		return step_serve(rn, st, o);
	case MP_SCN_SLEEP:
		sleep_ms(st->within_ms);
		return 0;
	case MP_SCN_HOOK:
		return step_hook(rn, st, o, t0);
	}
	return -EINVAL;
}

static struct json_object *step_head(const struct mp_scenario *s, unsigned int i)
{
	struct json_object *o = json_object_new_object();

	mp_json_add_int(o, "step", i + 1);
	mp_json_add_int(o, "line", s->steps[i].line);
	mp_json_add_str(o, "op", mp_scn_op_name(s->steps[i].op));
	mp_json_add_str(o, "text", s->steps[i].text);
	return o;
}

/*
 * After a failed run with --cleanup: what this run plugged and did not
 * unplug goes, each the way an unplug step would (coordinated with the
 * channel, so memory the guest cannot empty stays and is named).
 */
static void cleanup(struct run *rn, struct json_object *arr)
{
	for (unsigned int i = 0; i < rn->s->ndevs; i++) {
		struct mp_scn_dev *d = &rn->s->devs[i];
		struct json_object *c, *rep = NULL;
		int r;

		if (!d->plugged || d->unplugged || !strcmp(d->kind, "nvdimm"))
			continue;
		c = json_object_new_object();
		mp_json_add_str(c, "id", d->id);
		if (mp_host_has_channel(rn->h))
			r = mp_host_unplug_coordinated(rn->h, d->id, 120000, &rep);
		else
			r = mp_host_unplug(rn->h, d->id, 120000);
		mp_json_add_bool(c, "unplugged", r == 0);
		if (r < 0)
			mp_json_add_str(c, "error", strerror(-r));
		json_object_object_add(c, "unplug", rep);
		if (r == 0)
			d->unplugged = true;
		json_object_array_add(arr, c);
	}
}

int mp_scenario_run(struct mp_scenario *s, struct mp_host *h, const struct mp_scenario_opts *o,
		    struct json_object **report)
{
	struct run rn = { .s = s, .h = h, .o = o };
	struct json_object *rep, *steps, *devs, *left;
	unsigned int passed = 0, failed = 0, skipped = 0;
	uint64_t start = mp_now_ms();
	bool stop = false;

	*report = NULL;
	rn.ss = calloc(s->nsteps, sizeof(*rn.ss));
	if (!rn.ss)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->ndevs; i++) {
		s->devs[i].plugged = s->devs[i].unplugged = false;
		s->devs[i].since_ms = 0;
		if (s->devs[i].plugged_by >= 0)
			s->devs[i].id[0] = 0;
	}
	rep = json_object_new_object();
	steps = json_object_new_array();
	mp_json_add_str(rep, "file", s->file);
	for (unsigned int i = 0; i < s->nsteps; i++) {
		struct json_object *so = step_head(s, i);
		uint64_t t0 = mp_now_ms();
		int r;

		if (stop) {
			mp_json_add_str(so, "result", "skipped");
			skipped++;
		} else {
			r = run_step(&rn, i, so, t0);
			rn.ss[i].rc = rn.ss[i].unplug ? rn.ss[i].rc : r;
			mp_json_add_str(so, "result", r == 0 ? "pass" : "fail");
			mp_json_add_int(so, "elapsed_ms", (int64_t)(mp_now_ms() - t0));
			if (r == 0) {
				passed++;
			} else {
				failed++;
				if (!s->steps[i].keep_going)
					stop = true;
			}
		}
		json_object_array_add(steps, so);
		if (o && o->on_step)
			o->on_step(so, o->ud);
	}
	json_object_object_add(rep, "steps", steps);
	if (failed && o && o->cleanup) {
		struct json_object *c = json_object_new_array();

		cleanup(&rn, c);
		json_object_object_add(rep, "cleanup", c);
	}
	devs = json_object_new_object();
	left = json_object_new_array();
	for (unsigned int i = 0; i < s->ndevs; i++) {
		struct mp_scn_dev *d = &s->devs[i];

		if (d->plugged && d->name[0] != '#')
			mp_json_add_str(devs, d->name, d->id);
		if (d->plugged && !d->unplugged)
			json_object_array_add(left, json_object_new_string(d->id));
	}
	json_object_object_add(rep, "devices", devs);
	json_object_object_add(rep, "left_plugged", left);
	mp_json_add_int(rep, "passed", passed);
	mp_json_add_int(rep, "failed", failed);
	mp_json_add_int(rep, "skipped", skipped);
	mp_json_add_int(rep, "elapsed_ms", (int64_t)(mp_now_ms() - start));
	for (unsigned int i = 0; i < s->nsteps; i++)
		json_object_put(rn.ss[i].unplug);
	free(rn.ss);
	json_object_put(rn.grow_request);
	*report = rep;
	return (int)failed;
}
