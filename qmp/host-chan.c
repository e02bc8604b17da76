// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The host end of the memplug channel (docs/channel.md): attach it to a
 * handle, validate the guest's greeting, plan what the guest can afford
 * (the memmap of hot-added memory), and read the guest's word on a device
 * (its events, and its status document as a fallback when events were
 * dropped or rate-limited).  The connection itself is qmp.c's, in channel
 * mode.  Nothing the guest sends is trusted: every field used is checked
 * for type and range, and a message that fails is dropped, named.
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

/* Largest values a field may take: a guest with more than 1 PiB per node
 * or a timing over a day is lying or broken. */
#define MAX_BYTES (1ull << 50)
#define MAX_US (86400ull * 1000000)
#define MAX_COUNT (1u << 24)

/* ---- validation helpers: 0, -ENOENT missing, -EINVAL wrong type/range ---- */

static int get_str(struct json_object *o, const char *k, char *buf, size_t len)
{
	struct json_object *x;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(o, k, &x))
		return -ENOENT;
	if (!json_object_is_type(x, json_type_string))
		return -EINVAL;
	s = json_object_get_string(x);
	n = strlen(s);
	if (n >= len)
		return -EINVAL;
	/* printable only: it is printed on the host's terminal */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -EINVAL;
	memcpy(buf, s, n + 1);
	return 0;
}

static int bad_field(const char *what, const char *field, int err, char *why, size_t len)
{
	snprintf(why, len, "%s: field '%s' %s", what, field,
		 err == -ENOENT ? "is missing" : "has a wrong type or is out of range");
	return -EBADMSG;
}

/* A required field, or an optional one (-ENOENT passes) */
#define REQ(call, name)                                             \
	do {                                                        \
		int _r = (call);                                    \
		if (_r < 0)                                         \
			return bad_field(what, name, _r, why, len); \
	} while (0)
#define OPT(call, name)                                             \
	do {                                                        \
		int _r = (call);                                    \
		if (_r < 0 && _r != -ENOENT)                        \
			return bad_field(what, name, _r, why, len); \
	} while (0)

/**
 * mp_host_hello_parse() - validate a channel greeting
 * @g: the object inside {"memplug": ...}
 * @out: receives the checked values
 * @why: receives the reason when it is refused
 * @len: size of @why
 *
 * Return: 0; -EPROTONOSUPPORT for a protocol version this host does not
 * speak; -EBADMSG for a missing required field or a field of the wrong
 * type or range.
 */
int mp_host_hello_parse(struct json_object *g, struct mp_host_hello *out, char *why, size_t len)
{
	const char *what = "greeting";
	struct json_object *nodes, *x;
	uint64_t v;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	REQ(mp_json_check_u64(g, "protocol", 1000000, &v), "protocol");
	if (v != MP_HOST_CHAN_PROTOCOL) {
		snprintf(why, len,
			 "the guest speaks channel protocol %" PRIu64
			 ", this host only %d; closing",
			 v, MP_HOST_CHAN_PROTOCOL);
		return -EPROTONOSUPPORT;
	}
	out->protocol = (int)v;
	OPT(get_str(g, "version", out->version, sizeof(out->version)), "version");
	OPT(get_str(g, "kernel", out->kernel, sizeof(out->kernel)), "kernel");
	OPT(get_str(g, "auto_online_blocks", out->auto_online, sizeof(out->auto_online)),
	    "auto_online_blocks");
	REQ(mp_json_check_u64(g, "block_size", 1ull << 40, &out->block_size), "block_size");
	/* a memory block is a power of two, at least a section (x86: 128 MiB,
	 * 2 GiB at most; other architectures go down to 16 MiB) */
	if (out->block_size < (1u << 20) || (out->block_size & (out->block_size - 1)))
		return bad_field(what, "block_size", -EINVAL, why, len);
	if (json_object_object_get_ex(g, "memmap_on_memory", &x)) {
		if (!json_object_is_type(x, json_type_boolean))
			return bad_field(what, "memmap_on_memory", -EINVAL, why, len);
		out->memmap_on_memory = json_object_get_boolean(x);
	}
	if (!json_object_object_get_ex(g, "nodes", &nodes))
		return bad_field(what, "nodes", -ENOENT, why, len);
	if (!json_object_is_type(nodes, json_type_array) ||
	    json_object_array_length(nodes) > MP_ARRAY_SIZE(out->nodes))
		return bad_field(what, "nodes", -EINVAL, why, len);
	n = json_object_array_length(nodes);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(nodes, i);
		struct mp_host_hello_node *nd = &out->nodes[i];
		char name[48];

		snprintf(name, sizeof(name), "nodes[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return bad_field(what, name, -EINVAL, why, len);
		snprintf(name, sizeof(name), "nodes[%zu].node", i);
		REQ(mp_json_check_u64(o, "node", 1023, &v), name);
		nd->node = (int)v;
		snprintf(name, sizeof(name), "nodes[%zu].kernel_free", i);
		REQ(mp_json_check_u64(o, "kernel_free", MAX_BYTES, &nd->kernel_free), name);
		snprintf(name, sizeof(name), "nodes[%zu].total", i);
		OPT(mp_json_check_u64(o, "total", MAX_BYTES, &nd->total), name);
		snprintf(name, sizeof(name), "nodes[%zu].free", i);
		OPT(mp_json_check_u64(o, "free", MAX_BYTES, &nd->free), name);
		snprintf(name, sizeof(name), "nodes[%zu].kernel_early", i);
		OPT(mp_json_check_u64(o, "kernel_early", MAX_BYTES, &nd->kernel_early), name);
		snprintf(name, sizeof(name), "nodes[%zu].movable", i);
		OPT(mp_json_check_u64(o, "movable", MAX_BYTES, &nd->movable), name);
		for (size_t j = 0; j < i; j++)
			if (out->nodes[j].node == nd->node) {
				snprintf(why, len, "greeting: node %d listed twice", nd->node);
				return -EBADMSG;
			}
	}
	out->nnodes = (unsigned int)n;
	return 0;
}

/* "6.1.0-57-amd64" -> 601; 0 when it cannot be read. */
static int kernel_version(const char *k)
{
	unsigned int ma, mi;

	if (sscanf(k, "%u.%u", &ma, &mi) != 2 || ma > 99 || mi > 99)
		return 0;
	return (int)(ma * 100 + mi);
}

/**
 * mp_host_memmap_check() - can the guest afford the memmap of a plug?
 * @hello: the guest's greeting
 * @kind: "dimm", "nvdimm" or "virtio-mem"
 * @size: bytes to add
 * @node: guest node of the device
 * @out: receives the numbers
 *
 * Hot-added memory needs its memmap, 64 bytes of struct page per 4 KiB
 * page, 1/64 of its size, allocated from the kernel zones (it can never
 * live in ZONE_MOVABLE), unless memory_hotplug.memmap_on_memory places it
 * on the added memory itself.  When that happens depends on the driver and
 * kernel version:
 *
 * - ACPI DIMMs, 5.12 to 6.7: acpi_memory_enable_device() sets
 *   MHP_MEMMAP_ON_MEMORY only when mhp_supports_memmap_on_memory(length)
 *   holds, which requires length == memory_block_size_bytes(): a DIMM of
 *   exactly one block (6.6 passes the flag always, but add_memory_resource()
 *   still checks the size).  Measured in 6.1: a 128 MiB DIMM hosted its own
 *   512 memmap pages, a 1 GiB DIMM did not.
 * - 6.8 ("mm/memory_hotplug: split memmap_on_memory requests across
 *   memblocks"): each block of a larger range gets its own altmap, so any
 *   DIMM in whole blocks; dax/kmem asks for it too from 6.8.
 * - virtio-mem never asks for it.
 *
 * The allocation falls back to other nodes when the device's node has no
 * kernel memory (alloc_pages_node() without __GFP_THISNODE), so the check
 * is against the free kernel-zone memory of all nodes; the device's own
 * node's figure is reported too.
 *
 * Return: 0 when it fits, -ENOMEM when it does not.
 */
int mp_host_memmap_check(const struct mp_host_hello *hello, const char *kind, uint64_t size,
			 int node, struct mp_host_memmap *out)
{
	int kv = kernel_version(hello->kernel);
	bool whole = hello->block_size && size % hello->block_size == 0;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->node = node;
	out->node_avail = 0;
	for (i = 0; i < hello->nnodes; i++) {
		out->avail += hello->nodes[i].kernel_free;
		if (hello->nodes[i].node == node)
			out->node_avail = hello->nodes[i].kernel_free;
	}
	if (!hello->memmap_on_memory)
		out->rule = "memmap_on_memory is off in the guest";
	else if (!strcmp(kind, "virtio-mem"))
		out->rule = "virtio-mem never puts the memmap on the memory";
	else if (!strcmp(kind, "dimm") && kv >= 608 && whole)
		out->self_hosted = true, out->rule = "6.8+: every block of a DIMM hosts its memmap";
	else if (!strcmp(kind, "dimm") && size == hello->block_size)
		out->self_hosted = true,
		out->rule = "a DIMM of exactly one memory block hosts its memmap";
	else if (!strcmp(kind, "dimm"))
		out->rule =
			kv >= 608 ?
				"the DIMM is not in whole memory blocks" :
				"before 6.8 only a DIMM of exactly one memory block hosts its memmap";
	else if (!strcmp(kind, "nvdimm") && kv >= 608)
		out->self_hosted = true, out->rule = "6.8+: dax/kmem puts the memmap on the memory";
	else
		out->rule = "before 6.8 dax/kmem does not put the memmap on the memory";
	out->need = out->self_hosted ? 0 : size / 64;
	return out->need <= out->avail ? 0 : -ENOMEM;
}

/* ---- attaching ---- */

int mp_host_channel_attach(struct mp_host *h, const char *path, int timeout_ms, char *why,
			   size_t len)
{
	char found[256];
	struct json_object *g;
	int r;

	if (h->chan) {
		mp_qmp_close(h->chan);
		h->chan = NULL;
	}
	if (!path) {
		if (!h->ops->channel_path) {
			snprintf(why, len, "no --channel given");
			return -ENOENT;
		}
		r = h->ops->channel_path(h, found, sizeof(found));
		if (r < 0) {
			snprintf(why, len, "%s",
				 r == -ENOENT ? "the domain has no org.memplug.0 channel "
						"(<channel type='unix'> with <target type='virtio' "
						"name='org.memplug.0'/>)" :
						"cannot read the domain's channel");
			return r;
		}
		path = found;
	}
	r = mp_qmp_connect_channel(path, timeout_ms > 0 ? timeout_ms : MP_HOST_CHAN_GREETING_MS,
				   &h->chan);
	if (r < 0) {
		if (r == -ETIMEDOUT)
			snprintf(why, len,
				 "%s: no greeting from memplugd within %d ms (not running in the "
				 "guest, or another client holds the channel)",
				 path, timeout_ms > 0 ? timeout_ms : MP_HOST_CHAN_GREETING_MS);
		else if (r == -ECONNRESET)
			snprintf(why, len, "%s: the channel closed before memplugd's greeting",
				 path);
		else
			snprintf(why, len, "%s: %s", path, strerror(-r));
		return r;
	}
	g = mp_qmp_get_greeting(h->chan);
	r = mp_host_hello_parse(g, &h->hello, why, len);
	if (r < 0) {
		mp_qmp_close(h->chan);
		h->chan = NULL;
		return r;
	}
	snprintf(h->chan_path, sizeof(h->chan_path), "%s", path);
	mp_dbg("channel %s: memplugd %s, protocol %d, kernel %s, block %" PRIu64 ", %u node(s)",
	       path, h->hello.version, h->hello.protocol, h->hello.kernel, h->hello.block_size,
	       h->hello.nnodes);
	return 0;
}

bool mp_host_has_channel(const struct mp_host *h)
{
	return h->chan != NULL;
}

const struct mp_host_hello *mp_host_get_hello(const struct mp_host *h)
{
	return h->chan ? &h->hello : NULL;
}

int mp_host_hello_refresh(struct mp_host *h)
{
	struct json_object *ret = NULL;
	struct mp_host_hello nh;
	char why[256], err[256];
	int r;

	if (!h->chan)
		return -ENOTCONN;
	r = mp_qmp_execute(h->chan, "hello", NULL, &ret);
	if (r < 0) {
		mp_err("channel: hello: %s", mp_qmp_strerror(h->chan, r, err, sizeof(err)));
		return r;
	}
	r = mp_host_hello_parse(ret, &nh, why, sizeof(why));
	json_object_put(ret);
	if (r < 0) {
		mp_err("channel: %s", why);
		return r;
	}
	h->hello = nh;
	return 0;
}

int mp_host_chan_execute(struct mp_host *h, const char *cmd, struct json_object *args,
			 int timeout_ms, struct json_object **ret)
{
	if (!h->chan) {
		json_object_put(args);
		return -ENOTCONN;
	}
	return mp_qmp_execute_timeout(h->chan, cmd, args, ret, timeout_ms);
}

/* ---- the guest's word on a device ---- */

/*
 * The device record of an event's data or of the status document, checked
 * field by field into @p.  Fields an event does not carry keep their
 * "unknown" value.
 */
static int record_parse(struct json_object *o, struct mp_host_proof *p, char *why, size_t len)
{
	const char *what = "device record";
	struct json_object *x;
	uint64_t v;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(why, len, "device record: not an object");
		return -EBADMSG;
	}
	REQ(get_str(o, "device", p->device, sizeof(p->device)), "device");
	/* blocks: a text ("memory32-35") or a count */
	if (json_object_object_get_ex(o, "blocks", &x) && json_object_is_type(x, json_type_int)) {
		REQ(mp_json_check_u64(o, "blocks", MAX_COUNT, &v), "blocks");
		snprintf(p->blocks, sizeof(p->blocks), "%" PRIu64 " block(s)", v);
	} else {
		OPT(get_str(o, "blocks", p->blocks, sizeof(p->blocks)), "blocks");
	}
	OPT(get_str(o, "zone", p->zone, sizeof(p->zone)), "zone");
	if (json_object_object_get_ex(o, "node", &x)) {
		if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < -1 ||
		    json_object_get_int64(x) > 1023)
			return bad_field(what, "node", -EINVAL, why, len);
		p->node = (int)json_object_get_int64(x);
	}
	OPT(mp_json_check_u64(o, "onlined", MAX_COUNT, &p->onlined), "onlined");
	OPT(mp_json_check_u64(o, "verified", MAX_COUNT, &p->verified), "verified");
	OPT(mp_json_check_u64(o, "violations", MAX_COUNT, &p->violations), "violations");
	OPT(mp_json_check_u64(o, "failed", MAX_COUNT, &p->failed), "failed");
	OPT(mp_json_check_u64(o, "start", UINT64_MAX, &p->start), "start");
	OPT(get_str(o, "policy", p->policy, sizeof(p->policy)), "policy");
	OPT(get_str(o, "message", p->message, sizeof(p->message)), "message");
	OPT(get_str(o, "outcome", p->guest_outcome, sizeof(p->guest_outcome)), "outcome");
	p->online_us = p->verify_us = p->latency_us = -1;
	if (mp_json_check_u64(o, "online_us", MAX_US, &v) == 0)
		p->online_us = (int64_t)v;
	else
		OPT(mp_json_check_u64(o, "online_us", MAX_US, &v), "online_us");
	if (mp_json_check_u64(o, "verify_us", MAX_US, &v) == 0)
		p->verify_us = (int64_t)v;
	else
		OPT(mp_json_check_u64(o, "verify_us", MAX_US, &v), "verify_us");
	if (mp_json_check_u64(o, "latency_us", MAX_US, &v) == 0)
		p->latency_us = (int64_t)v;
	else
		OPT(mp_json_check_u64(o, "latency_us", MAX_US, &v), "latency_us");
	return 0;
}

/* One word of the guest's and what it means for the host. */
struct word_map {
	const char *guest, *ours;
};

static const char *map_word(const struct word_map *map, size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w, map[i].guest))
			return map[i].ours;
	return NULL;
}

/* What a status record's outcome means for a plug: a final outcome, or
 * NULL while the guest is still at it (settling, kmem-bound, draining,
 * unidentified, boot). */
static const char *status_outcome(const char *o)
{
	static const struct word_map map[] = {
		{ "online", "online" },	 { "partial", "partial" },
		{ "failed", "failed" },	 { "other-onliner", "conflict" },
		{ "no-policy", "left" }, { "left-offline", "left" },
		{ "devdax", "left" },	 { "offlined-by-other", "failed" },
		{ "drained", "left" },
	};

	return map_word(map, MP_ARRAY_SIZE(map), o);
}

/* The outcome a device event reports; NULL for other events. */
static const char *event_outcome(const char *ev)
{
	static const struct word_map map[] = {
		{ "DEVICE_ONLINE", "online" }, { "DEVICE_FAILED", "failed" },
		{ "DEVICE_LEFT", "left" },     { "DEVICE_CONFLICT", "conflict" },
		{ "DEVICE_GONE", "gone" },
	};

	return map_word(map, MP_ARRAY_SIZE(map), ev);
}

/*
 * Is guest record @p the device @d?  A DIMM by its key (dimm:slotN is
 * ACPI's _UID, which QEMU sets to the slot), and by address when the
 * record has one; virtio-mem by its start (the guest's "virtioN" resource
 * is QEMU's memaddr); an NVDIMM's dax device by lying inside the NVDIMM
 * (kmem's ranges start after the namespace's metadata and alignment trim).
 */
static bool record_is(const struct mp_host_memdev *d, const char *key,
		      const struct mp_host_proof *p, bool has_start)
{
	if (key[0] && !strcmp(p->device, key))
		return !has_start || !strcmp(d->kind, "nvdimm") || p->start == d->addr;
	if (!has_start)
		return false;
	if (!strcmp(d->kind, "virtio-mem"))
		return !strncmp(p->device, "virtio-mem:", 11) && p->start == d->addr;
	if (!strcmp(d->kind, "nvdimm"))
		return !strncmp(p->device, "dax:", 4) && p->start >= d->addr &&
		       p->start < d->addr + d->size;
	return false;
}

void mp_host_device_key(const struct mp_host_memdev *d, char *key, size_t len)
{
	if (!strcmp(d->kind, "dimm") && d->slot >= 0)
		snprintf(key, len, "dimm:slot%d", d->slot);
	else
		key[0] = '\0'; /* found from the guest's status by address */
}

/* The guest's status document; the device records that are @d, by key or address. */
static int status_find(struct mp_host *h, const struct mp_host_memdev *d, char *key, size_t keylen,
		       struct mp_host_proof *p, struct json_object **rec, int timeout_ms)
{
	struct json_object *st = NULL, *devs;
	char why[256];
	int r, found = 0;

	*rec = NULL;
	r = mp_qmp_execute_timeout(h->chan, "status", NULL, &st, timeout_ms);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(st, "devices", &devs) ||
	    !json_object_is_type(devs, json_type_array)) {
		mp_warn("channel: status: no devices array; ignored");
		json_object_put(st);
		return -EBADMSG;
	}
	for (size_t i = 0; i < json_object_array_length(devs) && i < 4096; i++) {
		struct json_object *o = json_object_array_get_idx(devs, i);
		struct mp_host_proof t = { .node = -1 };

		if (record_parse(o, &t, why, sizeof(why)) < 0) {
			mp_dbg("channel: status: %s; record ignored", why);
			continue;
		}
		if (!record_is(d, key, &t, json_object_object_get_ex(o, "start", NULL)))
			continue;
		if (!key[0])
			snprintf(key, keylen, "%s", t.device);
		*p = t;
		*rec = json_object_get(o);
		found = 1;
		break;
	}
	json_object_put(st);
	return found;
}

int mp_host_proof_begin(struct mp_host *h)
{
	struct json_object *st = NULL, *devs;
	int r;

	if (!h->chan)
		return -ENOTCONN;
	/* what happened before this plug is not its answer */
	mp_qmp_event_drop(h->chan);
	json_object_put(h->stale);
	h->stale = json_object_new_object();
	r = mp_qmp_execute_timeout(h->chan, "status", NULL, &st, 10000);
	if (r < 0)
		return 0; /* no snapshot: the status fallback waits for a change of key */
	if (json_object_object_get_ex(st, "devices", &devs) &&
	    json_object_is_type(devs, json_type_array))
		for (size_t i = 0; i < json_object_array_length(devs) && i < 4096; i++) {
			struct json_object *o = json_object_array_get_idx(devs, i);
			const char *k = mp_json_get_str(o, "device", NULL);

			if (k && strlen(k) < 48)
				json_object_object_add(
					h->stale, k,
					json_object_new_string(json_object_to_json_string_ext(
						o, JSON_C_TO_STRING_PLAIN)));
		}
	json_object_put(st);
	return 0;
}

/* A status record that is exactly what the snapshot before the plug had is
 * an earlier device's (a slot reused after an unplug), not this one's. */
static bool stale_record(struct mp_host *h, struct json_object *rec)
{
	struct json_object *old;
	const char *k = mp_json_get_str(rec, "device", "");

	if (!h->stale || !json_object_object_get_ex(h->stale, k, &old))
		return false;
	return !strcmp(json_object_get_string(old),
		       json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN));
}

static bool match_all(const char *name, struct json_object *data, void *ud)
{
	return true;
}

/* Classify a final record: online may still be partial or carry violations. */
static void classify(struct mp_host_proof *p, const char *outcome, uint64_t expected,
		     const char *kind)
{
	snprintf(p->outcome, sizeof(p->outcome), "%s", outcome);
	if (strcmp(outcome, "online"))
		return;
	if (!strcmp(kind, "nvdimm"))
		expected = 0; /* kmem trims the namespace: the guest's count stands */
	if ((expected && p->onlined < expected) || p->verified < p->onlined || !p->onlined)
		snprintf(p->outcome, sizeof(p->outcome), "partial");
	p->expected = expected;
}

static struct json_object *proof_json(const struct mp_host_proof *p, const char *id,
				      struct json_object *last, struct json_object *viol)
{
	struct json_object *o = json_object_new_object(), *t;

	mp_json_add_str(o, "id", id);
	mp_json_add_str(o, "device", p->device);
	mp_json_add_str(o, "outcome", p->outcome);
	mp_json_add_str(o, "source", p->source);
	mp_json_add_str(o, "blocks", p->blocks);
	mp_json_add_u64(o, "expected_blocks", p->expected);
	mp_json_add_str(o, "zone", p->zone);
	mp_json_add_int(o, "node", p->node);
	mp_json_add_u64(o, "onlined", p->onlined);
	mp_json_add_u64(o, "verified", p->verified);
	mp_json_add_u64(o, "violations", p->violations);
	mp_json_add_str(o, "policy", p->policy);
	mp_json_add_str(o, "message", p->message);
	t = json_object_new_object();
	if (p->online_us >= 0)
		mp_json_add_int(t, "online_us", p->online_us);
	if (p->verify_us >= 0)
		mp_json_add_int(t, "verify_us", p->verify_us);
	if (p->latency_us >= 0)
		mp_json_add_int(t, "latency_us", p->latency_us);
	json_object_object_add(o, "guest_timings", t);
	mp_json_add_u64(o, "host_ms", p->host_ms);
	json_object_object_add(o, "violation_events", viol ? json_object_get(viol) : NULL);
	json_object_object_add(o, "last_word", last ? json_object_get(last) : NULL);
	return o;
}

int mp_host_wait_online(struct mp_host *h, const char *id, uint64_t since_ms, int timeout_ms,
			struct json_object **proof)
{
	struct mp_host_state *st = NULL;
	const struct mp_host_memdev *d;
	struct mp_host_proof p = { .node = -1, .online_us = -1, .verify_us = -1, .latency_us = -1 };
	struct json_object *last = NULL, *viol = json_object_new_array();
	char key[48], why[256], what[256];
	uint64_t start = mp_now_ms(), next_status = start + 300, expected = 0;
	bool final = false, have_last = false;
	int r;

	*proof = NULL;
	if (!h->chan)
		return -ENOTCONN;
	r = mp_host_find_dev(h, id, &st, &d);
	if (r < 0)
		goto out;
	mp_host_device_key(d, key, sizeof(key));
	if (!strcmp(d->kind, "virtio-mem"))
		expected = d->requested_size / h->hello.block_size;
	else
		expected = d->size / h->hello.block_size;
	snprintf(what, sizeof(what), "%s: waiting for the guest's proof", id);
	while (!final) {
		struct json_object *ev = NULL, *data = NULL, *rec = NULL;
		struct mp_host_proof t = { .node = -1 };
		int64_t left = (int64_t)(start + (uint64_t)timeout_ms) - (int64_t)mp_now_ms();

		if (left <= 0)
			break;
		r = mp_qmp_event_wait(h->chan, match_all, NULL, left < 250 ? (int)left : 250, &ev);
		if (r == 0) {
			const char *name = mp_json_get_str(ev, "event", "");
			const char *oc = event_outcome(name);

			json_object_object_get_ex(ev, "data", &data);
			if (!strcmp(name, "EVENTS_DROPPED")) {
				next_status = 0; /* ours may be among them: ask */
			} else if (!strcmp(name, "VIOLATION")) {
				char dev[48] = "";

				if (get_str(data, "device", dev, sizeof(dev)) == 0 && key[0] &&
				    !strcmp(dev, key) && json_object_array_length(viol) < 64)
					json_object_array_add(viol, json_object_get(data));
			} else if (oc) {
				if (record_parse(data, &t, why, sizeof(why)) < 0) {
					mp_warn("channel: %s: %s; event dropped", name, why);
				} else if (record_is(d, key, &t,
						     json_object_object_get_ex(data, "start",
									       NULL))) {
					if (!key[0])
						snprintf(key, sizeof(key), "%s", t.device);
					p = t;
					snprintf(p.source, sizeof(p.source), "event");
					json_object_put(last);
					last = json_object_get(ev);
					have_last = true;
					classify(&p, oc, expected, d->kind);
					/* virtio-mem plugs in steps: an online
					 * short of the request is not the end */
					final = strcmp(d->kind, "virtio-mem") ||
						strcmp(p.outcome, "partial") ||
						p.verified < p.onlined;
				} else if (!key[0]) {
					next_status = 0; /* maybe ours: its address is in status */
				}
			}
			json_object_put(ev);
		} else if (r != -ETIMEDOUT) {
			char err[256];

			mp_err("%s: channel: %s", id,
			       mp_qmp_strerror(h->chan, r, err, sizeof(err)));
			break;
		}
		if (final || mp_now_ms() < next_status)
			continue;
		/* events may have been dropped (rate limit, the guest's full
		 * queue): the status document says the same, a second later */
		next_status = mp_now_ms() + 1000;
		left = (int64_t)(start + (uint64_t)timeout_ms) - (int64_t)mp_now_ms();
		if (left > 0 && status_find(h, d, key, sizeof(key), &t, &rec,
					    left < 10000 ? (int)left : 10000) == 1) {
			const char *oc =
				t.guest_outcome[0] ? status_outcome(t.guest_outcome) : NULL;

			if (!stale_record(h, rec)) {
				p = t;
				snprintf(p.source, sizeof(p.source), "status");
				json_object_put(last);
				last = json_object_get(rec);
				have_last = true;
				if (oc) {
					classify(&p, oc, expected, d->kind);
					final = strcmp(d->kind, "virtio-mem") ||
						strcmp(p.outcome, "partial");
				}
			}
		}
		json_object_put(rec);
		mp_host_progress(h, what, start);
	}
	p.host_ms = mp_now_ms() - since_ms;
	if (!final) {
		/* the guest's last word, or that it said nothing */
		if (!have_last) {
			snprintf(p.device, sizeof(p.device), "%s", key);
			snprintf(p.message, sizeof(p.message),
				 "memplugd said nothing about this device in %d ms", timeout_ms);
		}
		snprintf(p.outcome, sizeof(p.outcome),
			 have_last && !strcmp(d->kind, "virtio-mem") && p.onlined ? "partial" :
										    "timeout");
		p.expected = expected;
	}
	p.violations = p.violations > json_object_array_length(viol) ?
			       p.violations :
			       json_object_array_length(viol);
	*proof = proof_json(&p, id, last, viol);
	if (!strcmp(p.outcome, "online") && !p.violations)
		r = MP_HOST_PROOF_OK;
	else if (!strcmp(p.outcome, "online") || !strcmp(p.outcome, "partial") ||
		 !strcmp(p.outcome, "conflict"))
		r = MP_HOST_PROOF_PARTIAL;
	else if (!strcmp(p.outcome, "timeout"))
		r = -ETIMEDOUT;
	else
		r = -EIO;
out:
	json_object_put(last);
	json_object_put(viol);
	mp_host_state_free(st);
	return r;
}

int mp_host_guest_key(struct mp_host *h, const struct mp_host_memdev *d, char *key, size_t len)
{
	struct mp_host_proof t = { .node = -1 };
	struct json_object *rec = NULL;
	int r;

	mp_host_device_key(d, key, len);
	if (key[0])
		return 1;
	r = status_find(h, d, key, len, &t, &rec, 10000);
	json_object_put(rec);
	return r;
}
