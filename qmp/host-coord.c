// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The coordinated unplug: the guest drains the device (prepare-unplug on
 * the channel), and only an answer that shows every block of the device
 * offline lets the host send device_del (DIMM) or shrink the requested size
 * to 0 (virtio-mem).  An ACPI eject of memory that is still online is what
 * this avoids: the kernel would try to offline it itself, fail with no word
 * to the host but an _OST code, and online what it managed to offline back
 * into whatever zone policy gives it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

/* Time the guest gets on top of its drain deadline to answer: rolling back
 * a refused drain onlines blocks again without a deadline. */
#define ANSWER_SLACK_MS 60000

/* A string of the guest's, printable and bounded, or "". */
static const char *gstr(struct json_object *o, const char *k, char *buf, size_t len)
{
	const char *s = mp_json_get_str(o, k, "");
	size_t n = strlen(s);

	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f ? '?' : s[i];
	buf[n] = '\0';
	return buf;
}

/* @s, a string of the guest's, made printable (it reaches a terminal) as @k of @o. */
static void add_guest_str(struct json_object *o, const char *k, const char *s, size_t max)
{
	struct json_object *t = json_object_new_object();
	char buf[1024];

	mp_json_add_str(t, "s", s);
	mp_json_add_str(o, k, gstr(t, "s", buf, max < sizeof(buf) ? max : sizeof(buf)));
	json_object_put(t);
}

/*
 * The refusing block of a drain RESULT, its fields checked, as a new
 * object: block, errno, error, reason, message, kpageflags (numbers only).
 */
static struct json_object *refusal_json(struct json_object *res)
{
	struct json_object *f, *k, *o, *kk;
	char buf[1024];

	if (!json_object_object_get_ex(res, "failed", &f) ||
	    !json_object_is_type(f, json_type_object))
		return NULL;
	o = json_object_new_object();
	mp_json_add_u64(o, "block", mp_json_get_u64(f, "block", 0));
	mp_json_add_str(o, "outcome", gstr(f, "outcome", buf, 64));
	mp_json_add_str(o, "errno", gstr(f, "errno", buf, 32));
	mp_json_add_str(o, "error", gstr(f, "error", buf, 128));
	mp_json_add_str(o, "reason", gstr(f, "reason", buf, 256));
	mp_json_add_bool(o, "reason_from_kernel", mp_json_get_bool(f, "reason_from_kernel", false));
	mp_json_add_str(o, "message", gstr(f, "message", buf, 512));
	if (json_object_object_get_ex(f, "kpageflags", &k) &&
	    json_object_is_type(k, json_type_object)) {
		kk = json_object_new_object();
		json_object_object_foreach(k, key, val)
		{
			if (strlen(key) < 32 && json_object_is_type(val, json_type_int) &&
			    json_object_get_int64(val) >= 0)
				mp_json_add_u64(kk, key, json_object_get_uint64(val));
		}
		json_object_object_add(o, "kpageflags", kk);
	} else if (mp_json_get_str(f, "kpageflags_error", NULL)) {
		mp_json_add_str(o, "kpageflags_error", gstr(f, "kpageflags_error", buf, 256));
	}
	return o;
}

/*
 * Does drain RESULT @res prove every block of @d offline?  A DIMM's blocks
 * are known from its address and size: each must be listed, offlined or
 * already offline, and none outside it.  A virtio-mem device plugs blocks
 * the host cannot name, so every block listed must lie in the device's
 * range and be offline, and there must be at least one.
 */
static int drain_proves(const struct mp_host_memdev *d, uint64_t bs, struct json_object *res,
			char *why, size_t len)
{
	struct json_object *blocks;
	uint64_t first = d->addr / bs,
		 span = !strcmp(d->kind, "virtio-mem") ? d->max_size : d->size;
	uint64_t last = (d->addr + span - 1) / bs, n, seen = 0;
	unsigned char *have;

	if (strcmp(mp_json_get_str(res, "result", ""), "ok")) {
		snprintf(why, len, "the drain result is '%.32s', not ok",
			 mp_json_get_str(res, "result", "(none)"));
		return -EPROTO;
	}
	if (!json_object_object_get_ex(res, "blocks", &blocks) ||
	    !json_object_is_type(blocks, json_type_array)) {
		snprintf(why, len, "the answer lists no blocks");
		return -EPROTO;
	}
	n = last - first + 1;
	if (n > (1u << 20)) {
		snprintf(why, len, "the device spans too many blocks");
		return -EPROTO;
	}
	have = calloc(n, 1);
	if (!have)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(blocks); i++) {
		struct json_object *b = json_object_array_get_idx(blocks, i), *id;
		const char *oc = mp_json_get_str(b, "outcome", "");
		uint64_t v;

		if (!json_object_object_get_ex(b, "block", &id) ||
		    !json_object_is_type(id, json_type_int) || json_object_get_int64(id) < 0) {
			snprintf(why, len, "blocks[%zu] has no block number", i);
			goto bad;
		}
		v = json_object_get_uint64(id);
		if (v < first || v > last) {
			snprintf(why, len, "memory%" PRIu64 " is not a block of this device", v);
			goto bad;
		}
		if (strcmp(oc, "offlined") && strcmp(oc, "already offline")) {
			snprintf(why, len, "memory%" PRIu64 " is '%.40s', not offline", v, oc);
			goto bad;
		}
		if (!have[v - first])
			seen++;
		have[v - first] = 1;
	}
	if (!strcmp(d->kind, "dimm")) {
		for (uint64_t i = 0; i < n; i++)
			if (!have[i]) {
				snprintf(why, len,
					 "memory%" PRIu64 " of the DIMM is not in the answer",
					 first + i);
				goto bad;
			}
	} else if (!seen && d->size) {
		snprintf(why, len, "the answer lists no block of the device");
		goto bad;
	}
	free(have);
	return 0;
bad:
	free(have);
	return -EPROTO;
}

/* Have the guest online a drained device again; logs what it says. */
static void cancel_unplug(struct mp_host *h, const char *id, const char *key)
{
	struct json_object *args = json_object_new_object(), *ret = NULL;
	char err[256], buf[256];
	int r;

	mp_json_add_str(args, "device", key);
	r = mp_host_chan_execute(h, "cancel-unplug", args, ANSWER_SLACK_MS, &ret);
	if (r < 0)
		mp_err("%s: cancel-unplug of %s failed: %s; its blocks may stay offline "
		       "('memplugctl undrain %s' in the guest)",
		       id, key, mp_qmp_strerror(h->chan, r, err, sizeof(err)), key);
	else
		mp_info("%s: the guest onlined %s again: %s", id, key,
			gstr(ret, "message", buf, sizeof(buf)));
	json_object_put(ret);
}

/* The guest's prepare-unplug refusals other than Refused: outcome word and errno. */
static const struct {
	const char *cls, *outcome;
	int err;
} error_classes[] = {
	{ "NotFound", "not-found", -ENOENT },
	{ "NotPermitted", "not-permitted", -EPERM },
	{ "Busy", "busy", -EALREADY },
	{ "RateLimited", "rate-limited", -EAGAIN },
	{ "CommandNotFound", "no-prepare-unplug", -EOPNOTSUPP },
};

int mp_host_unplug_coordinated(struct mp_host *h, const char *id, int timeout_ms,
			       struct json_object **report)
{
	struct mp_host_state *st = NULL;
	const struct mp_host_memdev *d;
	struct json_object *rep = json_object_new_object(), *args, *ret = NULL, *res = NULL, *ref,
			   *inner;
	const char *cls, *outcome = "failed";
	char key[48], why[256], err[300];
	uint64_t t0;
	int r;

	if (report)
		*report = NULL;
	if (timeout_ms <= 0)
		timeout_ms = h->timeout_ms;
	mp_json_add_str(rep, "id", id);
	if (!h->chan) {
		r = -ENOTCONN;
		goto out;
	}
	r = mp_host_find_dev(h, id, &st, &d);
	if (r < 0)
		goto out;
	if (strcmp(d->kind, "dimm") && strcmp(d->kind, "virtio-mem")) {
		mp_err("%s: QEMU cannot unplug a %s", id, d->kind);
		r = -EOPNOTSUPP;
		goto out;
	}
	r = mp_host_guest_key(h, d, key, sizeof(key));
	if (r <= 0) {
		mp_err("%s: the guest's memplugd lists no device at 0x%" PRIx64
		       "; not unplugging what it has not drained",
		       id, d->addr);
		r = r < 0 ? r : -ENOENT;
		outcome = "not-found";
		goto out;
	}
	mp_json_add_str(rep, "device", key);
	args = json_object_new_object();
	mp_json_add_str(args, "device", key);
	mp_json_add_int(args, "timeout_ms", timeout_ms > 600000 ? 600000 : timeout_ms);
	t0 = mp_now_ms();
	r = mp_host_chan_execute(h, "prepare-unplug", args, timeout_ms + ANSWER_SLACK_MS, &ret);
	/* the guest's drain as the host sees it: request to answer */
	mp_json_add_u64(rep, "prepare_ms", mp_now_ms() - t0);
	if (r == -ETIMEDOUT) {
		mp_err("%s: memplugd did not answer prepare-unplug of %s in %d ms; not unplugging",
		       id, key, timeout_ms + ANSWER_SLACK_MS);
		/* it may be draining still: whatever it drained comes back */
		cancel_unplug(h, id, key);
		outcome = "timeout";
		goto out;
	}
	if (r == -ECONNRESET && mp_qmp_is_dead(h->chan)) {
		/*
		 * EOF on the channel: QEMU died (its chardev is the channel) or
		 * the socket went.  Not a restarted memplugd, which would greet.
		 */
		mp_err("%s: the channel closed while memplugd drained %s (QEMU gone or the "
		       "socket closed); no answer, not unplugging: the guest's blocks are in "
		       "whatever state the drain reached",
		       id, key);
		outcome = "connection-lost";
		goto out;
	}
	if (r == -ECONNRESET && !mp_qmp_get_error_class(h->chan)[0]) {
		/* mp_qmp_execute_timeout(): a new greeting came instead of the answer */
		mp_err("%s: memplugd restarted while it drained %s (a new greeting, no answer); "
		       "not unplugging: the restarted memplugd puts back online what was offlined",
		       id, key);
		outcome = "guest-restarted";
		goto out;
	}
	if (r < 0 && mp_qmp_get_error_class(h->chan)[0]) {
		cls = mp_qmp_get_error_class(h->chan);
		res = mp_qmp_get_error_data(h->chan);
		/*
		 * Refused's data is {"device": KEY, "drain": RESULT}
		 * (docs/channel.md): the result is the inner object, and
		 * only one for this device counts.
		 */
		if (res && json_object_is_type(res, json_type_object) &&
		    json_object_object_get_ex(res, "drain", &inner) &&
		    json_object_is_type(inner, json_type_object) &&
		    !strcmp(mp_json_get_str(res, "device", ""), key))
			res = inner;
		else
			res = NULL;
		add_guest_str(rep, "error_class", cls, 64);
		add_guest_str(rep, "error", mp_qmp_get_error_desc(h->chan), 512);
		if (res)
			json_object_object_add(rep, "drain", json_object_get(res));
		if (!strcmp(cls, "Refused")) {
			ref = res ? refusal_json(res) : NULL;
			if (ref)
				json_object_object_add(rep, "refusal", ref);
			outcome = res && mp_json_get_bool(res, "rollback_failed", false) ?
					  "refused-rollback-failed" :
					  "refused";
			r = -EBUSY;
		} else {
			for (size_t i = 0; i < MP_ARRAY_SIZE(error_classes); i++)
				if (!strcmp(cls, error_classes[i].cls)) {
					outcome = error_classes[i].outcome;
					r = error_classes[i].err;
				}
		}
		goto out;
	}
	if (r < 0) {
		mp_err("%s: prepare-unplug of %s: %s", id, key,
		       mp_qmp_strerror(h->chan, r, err, sizeof(err)));
		goto out;
	}
	/* the answer must be this device's, and prove every block offline */
	if (!json_object_is_type(ret, json_type_object) ||
	    strcmp(mp_json_get_str(ret, "device", ""), key) ||
	    !json_object_object_get_ex(ret, "drain", &res)) {
		snprintf(why, sizeof(why), "the answer is not for %s or has no drain result", key);
		r = -EPROTO;
	} else {
		json_object_object_add(rep, "drain", json_object_get(res));
		r = drain_proves(d, h->hello.block_size, res, why, sizeof(why));
	}
	if (r < 0) {
		mp_err("%s: memplugd's answer does not prove %s offline (%s); not unplugging", id,
		       key, why);
		mp_json_add_str(rep, "error", why);
		cancel_unplug(h, id, key);
		outcome = "unproven";
		goto out;
	}
	mp_info("%s: the guest drained %s: every block offline", id, key);
	t0 = mp_now_ms();
	if (!strcmp(d->kind, "dimm")) {
		r = h->ops->unplug(h, d, timeout_ms);
	} else {
		mp_host_state_free(st);
		st = NULL;
		r = mp_host_resize(h, id, 0, timeout_ms);
	}
	/* device_del (or the shrink) to the device gone */
	mp_json_add_u64(rep, "eject_ms", mp_now_ms() - t0);
	if (r == 0) {
		outcome = "unplugged";
	} else if (r == -ETIMEDOUT) {
		/* the request stays pending in QEMU: onlining the blocks now
		 * would make the eject that may still come fail */
		outcome = "unplug-timeout";
		mp_err("%s: drained, but the unplug did not complete; %s stays offline in the "
		       "guest ('memplugctl host unplug' again, or cancel-unplug)",
		       id, key);
	} else {
		outcome = "unplug-failed";
		cancel_unplug(h, id, key);
	}
out:
	mp_json_add_str(rep, "outcome", outcome);
	json_object_put(ret);
	mp_host_state_free(st);
	if (report)
		*report = rep;
	else
		json_object_put(rep);
	return r;
}
