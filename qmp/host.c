// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory hotplug operations on a VM, common code and the direct-QMP
 * backend.  The VM's state is always read back through QMP (directly, or
 * passed through libvirt), so checks, ids and orphan detection are the same
 * for both; only the mutating steps differ (virt.c for libvirt, which must
 * see every device change to keep its own view of the domain).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "host-private.h"
#include "log.h"
#include "util.h"

#if HAVE_LIBNUMA
#include <numa.h>
#endif

#define DEFAULT_TIMEOUT_MS 30000
#define POLL_INTERVAL_US 100000

long long mp_host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Called from wait loops: reports once a second after the first second. */
void mp_host_progress(struct mp_host *h, const char *what, long long start)
{
	static long long last;
	long long now = mp_host_now_ms();

	if (!h->progress || now - start < 1000 || now - last < 1000)
		return;
	last = now;
	h->progress(what, (long)(now - start), h->progress_ud);
}

int mp_host_open_qmp(const char *path, int timeout_ms, struct mp_host **out)
{
	struct mp_host *h;
	int r;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	r = mp_qmp_connect(path, h->timeout_ms, &h->q);
	if (r < 0) {
		free(h);
		return r;
	}
	*out = h;
	return 0;
}

int mp_host_open_libvirt(const char *uri, const char *domain, int timeout_ms, struct mp_host **out)
{
#if HAVE_LIBVIRT
	struct mp_host *h;
	int r;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	r = mp_virt_open(uri, domain, &h->virt);
	if (r < 0) {
		free(h);
		return r;
	}
	*out = h;
	return 0;
#else
	*out = NULL;
	mp_err("%s: memplug was built without libvirt", domain);
	return -EOPNOTSUPP;
#endif
}

void mp_host_close(struct mp_host *h)
{
	if (!h)
		return;
	mp_qmp_close(h->q);
#if HAVE_LIBVIRT
	if (h->virt)
		mp_virt_close(h->virt);
#endif
	free(h);
}

void mp_host_set_progress(struct mp_host *h, mp_host_progress_fn fn, void *ud)
{
	h->progress = fn;
	h->progress_ud = ud;
}

bool mp_host_is_libvirt(const struct mp_host *h)
{
	return h->virt != NULL;
}

int mp_host_qmp(struct mp_host *h, const char *cmd, struct json_object *args,
		struct json_object **ret, char *err, size_t errlen)
{
	int r;

	if (err && errlen)
		err[0] = '\0';
#if HAVE_LIBVIRT
	if (h->virt)
		return mp_virt_qmp(h->virt, cmd, args, ret, err, errlen);
#endif
	r = mp_qmp_execute(h->q, cmd, args, ret);
	if (r < 0 && err)
		mp_qmp_strerror(h->q, r, err, errlen);
	return r;
}

/* A QMP command whose failure is logged as "OBJ: CMD: reason". */
static int hq(struct mp_host *h, const char *obj, const char *cmd, struct json_object *args,
	      struct json_object **ret)
{
	char err[600];
	int r;

	r = mp_host_qmp(h, cmd, args, ret, err, sizeof(err));
	if (r < 0)
		mp_err("%s: %s failed: %s", obj, cmd, err);
	return r;
}

static struct json_object *jobj(void)
{
	return json_object_new_object();
}

static void jset_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void jset_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void jset_int(struct json_object *o, const char *k, int v)
{
	json_object_object_add(o, k, json_object_new_int(v));
}

static void jset_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static uint64_t jget_u64(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v))
		return 0;
	return json_object_get_uint64(v);
}

static int jget_int(struct json_object *o, const char *k, int def)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v))
		return def;
	return json_object_get_int(v);
}

static const char *jget_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* ---- state ---- */

void mp_host_state_free(struct mp_host_state *st)
{
	unsigned int i;

	if (!st)
		return;
	for (i = 0; i < st->norphans; i++)
		free(st->orphans[i]);
	for (i = 0; i < st->nnames; i++)
		free(st->names[i]);
	free(st->orphans);
	free(st->names);
	free(st->devs);
	free(st);
}

static int strv_add(char ***v, unsigned int *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static bool state_has_name(const struct mp_host_state *st, const char *name)
{
	unsigned int i;

	for (i = 0; i < st->nnames; i++)
		if (!strcmp(st->names[i], name))
			return true;
	return false;
}

/* Names of the children of a QOM container, into st->names. */
static int list_children(struct mp_host *h, struct mp_host_state *st, const char *path, char ***out,
			 unsigned int *nout)
{
	struct json_object *args = jobj(), *ret = NULL;
	size_t i, n;
	int r;

	jset_str(args, "path", path);
	r = hq(h, path, "qom-list", args, &ret);
	if (r < 0)
		return r;
	if (!json_object_is_type(ret, json_type_array)) {
		mp_err("%s: qom-list returned no list", path);
		json_object_put(ret);
		return -EPROTO;
	}
	n = json_object_array_length(ret);
	for (i = 0; i < n && r == 0; i++) {
		struct json_object *e = json_object_array_get_idx(ret, i);
		const char *name = jget_str(e, "name");
		const char *type = jget_str(e, "type");

		if (!name || !type || strncmp(type, "child<", 6))
			continue;
		r = strv_add(&st->names, &st->nnames, name);
		if (r == 0 && out)
			r = strv_add(out, nout, name);
	}
	json_object_put(ret);
	return r;
}

static int parse_memdev(struct mp_host_memdev *d, struct json_object *e)
{
	const char *type = jget_str(e, "type");
	struct json_object *data;
	const char *s;

	if (!type || !json_object_object_get_ex(e, "data", &data))
		return -EPROTO;
	memset(d, 0, sizeof(*d));
	snprintf(d->kind, sizeof(d->kind), "%s", type);
	s = jget_str(data, "id");
	snprintf(d->id, sizeof(d->id), "%s", s ? s : "");
	s = jget_str(data, "memdev");
	if (s && !strncmp(s, "/objects/", 9))
		s += 9;
	snprintf(d->backend, sizeof(d->backend), "%s", s ? s : "");
	d->addr = jget_u64(data, !strcmp(type, "virtio-mem") ? "memaddr" : "addr");
	d->size = jget_u64(data, "size");
	d->slot = jget_int(data, "slot", -1);
	d->node = jget_int(data, "node", -1);
	d->hotplugged = jget_int(data, "hotplugged", 0);
	d->requested_size = jget_u64(data, "requested-size");
	d->max_size = jget_u64(data, "max-size");
	d->block_size = jget_u64(data, "block-size");
	return 0;
}

/*
 * What a snapshot reads: each part is a QMP round trip (through libvirt a
 * libvirt RPC too, ~3 ms), so operations read only what their checks use.
 */
enum {
	ST_LIMITS = 1 << 0, /* summary, maxmem, slots */
	ST_NVDIMM = 1 << 1, /* machine's nvdimm=on */
	ST_DEVICES = 1 << 2, /* query-memory-devices */
	ST_OBJECTS = 1 << 3, /* /objects: ids in use, orphans */
	ST_PERIPHERAL = 1 << 4, /* /machine/peripheral: ids in use */
	ST_ALL = 0x1f,
};

static int state_read(struct mp_host *h, unsigned int what, struct mp_host_state **out)
{
	struct mp_host_state *st;
	struct json_object *ret = NULL, *args;
	char **objects = NULL;
	unsigned int nobjects = 0, i, j;
	uint64_t used = 0;
	size_t n;
	int r;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;

	if (!(what & ST_LIMITS))
		goto nvdimm;
	r = hq(h, "machine", "query-memory-size-summary", NULL, &ret);
	if (r < 0)
		goto fail;
	st->base = jget_u64(ret, "base-memory");
	st->plugged = jget_u64(ret, "plugged-memory");
	json_object_put(ret);

	/* maxmem and slots are the machine's "memory" property (QEMU >= 7.1) */
	args = jobj();
	jset_str(args, "path", "/machine");
	jset_str(args, "property", "memory");
	r = hq(h, "machine", "qom-get", args, &ret);
	if (r < 0)
		goto fail;
	st->maxmem = jget_u64(ret, "max-size");
	st->slots = jget_int(ret, "slots", 0);
	json_object_put(ret);

nvdimm:
	if (what & ST_NVDIMM) {
		args = jobj();
		jset_str(args, "path", "/machine");
		jset_str(args, "property", "nvdimm");
		/* machines without the property (microvm) have no NVDIMM */
		if (mp_host_qmp(h, "qom-get", args, &ret, NULL, 0) == 0) {
			st->nvdimm = json_object_get_boolean(ret);
			json_object_put(ret);
		}
	}

	/* every operation needs the devices */
	r = hq(h, "machine", "query-memory-devices", NULL, &ret);
	if (r < 0)
		goto fail;
	if (!json_object_is_type(ret, json_type_array)) {
		mp_err("machine: query-memory-devices returned no list");
		json_object_put(ret);
		r = -EPROTO;
		goto fail;
	}
	n = json_object_array_length(ret);
	st->devs = calloc(n ? n : 1, sizeof(*st->devs));
	if (!st->devs) {
		json_object_put(ret);
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct mp_host_memdev *d = &st->devs[st->ndevs];

		if (parse_memdev(d, json_object_array_get_idx(ret, i)) < 0) {
			mp_warn("machine: skipping a memory device entry "
				"without type or data");
			continue;
		}
		st->ndevs++;
		if (!strcmp(d->kind, "virtio-mem")) {
			/* the whole maximum is reserved in device memory */
			used += d->max_size;
		} else {
			used += d->size;
			if (!strcmp(d->kind, "dimm") || !strcmp(d->kind, "nvdimm"))
				st->slots_used++;
		}
	}
	json_object_put(ret);
	st->space_left = st->maxmem > st->base + used ? st->maxmem - st->base - used : 0;

	if (what & ST_OBJECTS) {
		r = list_children(h, st, "/objects", &objects, &nobjects);
		if (r < 0)
			goto fail;
	}
	if (what & ST_PERIPHERAL) {
		r = list_children(h, st, "/machine/peripheral", NULL, NULL);
		if (r < 0)
			goto fail;
	}
	for (i = 0; i < nobjects; i++) {
		bool used_by_dev = false;

		if (strncmp(objects[i], MP_HOST_ID_PREFIX, strlen(MP_HOST_ID_PREFIX)))
			continue;
		for (j = 0; j < st->ndevs; j++)
			if (!strcmp(st->devs[j].backend, objects[i]))
				used_by_dev = true;
		if (!used_by_dev) {
			r = strv_add(&st->orphans, &st->norphans, objects[i]);
			if (r < 0)
				goto fail;
		}
	}
	for (i = 0; i < nobjects; i++)
		free(objects[i]);
	free(objects);
	*out = st;
	return 0;
fail:
	for (i = 0; i < nobjects; i++)
		free(objects[i]);
	free(objects);
	mp_host_state_free(st);
	return r;
}

int mp_host_state_get(struct mp_host *h, struct mp_host_state **out)
{
	return state_read(h, ST_ALL, out);
}

uint64_t mp_host_state_get_base(const struct mp_host_state *st)
{
	return st->base;
}

uint64_t mp_host_state_get_plugged(const struct mp_host_state *st)
{
	return st->plugged;
}

uint64_t mp_host_state_get_maxmem(const struct mp_host_state *st)
{
	return st->maxmem;
}

unsigned int mp_host_state_get_slots(const struct mp_host_state *st)
{
	return st->slots;
}

unsigned int mp_host_state_get_slots_used(const struct mp_host_state *st)
{
	return st->slots_used;
}

uint64_t mp_host_state_get_space_left(const struct mp_host_state *st)
{
	return st->space_left;
}

bool mp_host_state_get_nvdimm(const struct mp_host_state *st)
{
	return st->nvdimm;
}

unsigned int mp_host_state_get_ndevs(const struct mp_host_state *st)
{
	return st->ndevs;
}

const struct mp_host_memdev *mp_host_state_get_dev(const struct mp_host_state *st, unsigned int i)
{
	return i < st->ndevs ? &st->devs[i] : NULL;
}

unsigned int mp_host_state_get_norphans(const struct mp_host_state *st)
{
	return st->norphans;
}

const char *mp_host_state_get_orphan(const struct mp_host_state *st, unsigned int i)
{
	return i < st->norphans ? st->orphans[i] : NULL;
}

const struct mp_host_memdev *mp_host_state_find(const struct mp_host_state *st, const char *id)
{
	unsigned int i;

	for (i = 0; i < st->ndevs; i++)
		if (!strcmp(st->devs[i].id, id))
			return &st->devs[i];
	/* libvirt prefixes user aliases with "ua-" */
	for (i = 0; i < st->ndevs; i++)
		if (!strncmp(st->devs[i].id, "ua-", 3) && !strcmp(st->devs[i].id + 3, id))
			return &st->devs[i];
	return NULL;
}

const char *mp_host_memdev_get_kind(const struct mp_host_memdev *d)
{
	return d->kind;
}

const char *mp_host_memdev_get_id(const struct mp_host_memdev *d)
{
	return d->id;
}

const char *mp_host_memdev_get_backend(const struct mp_host_memdev *d)
{
	return d->backend;
}

uint64_t mp_host_memdev_get_addr(const struct mp_host_memdev *d)
{
	return d->addr;
}

uint64_t mp_host_memdev_get_size(const struct mp_host_memdev *d)
{
	return d->size;
}

int mp_host_memdev_get_slot(const struct mp_host_memdev *d)
{
	return d->slot;
}

int mp_host_memdev_get_node(const struct mp_host_memdev *d)
{
	return d->node;
}

bool mp_host_memdev_get_hotplugged(const struct mp_host_memdev *d)
{
	return d->hotplugged;
}

uint64_t mp_host_memdev_get_requested_size(const struct mp_host_memdev *d)
{
	return d->requested_size;
}

uint64_t mp_host_memdev_get_max_size(const struct mp_host_memdev *d)
{
	return d->max_size;
}

uint64_t mp_host_memdev_get_block_size(const struct mp_host_memdev *d)
{
	return d->block_size;
}

struct json_object *mp_host_state_to_json(const struct mp_host_state *st)
{
	struct json_object *o = jobj(), *devs, *orph;
	unsigned int i;

	if (!o)
		return NULL;
	jset_u64(o, "base-memory", st->base);
	jset_u64(o, "plugged-memory", st->plugged);
	jset_u64(o, "maxmem", st->maxmem);
	jset_int(o, "slots", st->slots);
	jset_int(o, "slots-used", st->slots_used);
	jset_int(o, "slots-free", st->slots > st->slots_used ? st->slots - st->slots_used : 0);
	jset_u64(o, "space-left", st->space_left);
	jset_bool(o, "nvdimm", st->nvdimm);
	devs = json_object_new_array();
	for (i = 0; i < st->ndevs; i++) {
		const struct mp_host_memdev *d = &st->devs[i];
		struct json_object *e = jobj();

		jset_str(e, "kind", d->kind);
		jset_str(e, "id", d->id);
		jset_str(e, "backend", d->backend);
		jset_u64(e, "addr", d->addr);
		jset_u64(e, "size", d->size);
		jset_int(e, "node", d->node);
		if (strcmp(d->kind, "virtio-mem")) {
			jset_int(e, "slot", d->slot);
			jset_bool(e, "hotplugged", d->hotplugged);
		} else {
			jset_u64(e, "requested-size", d->requested_size);
			jset_u64(e, "max-size", d->max_size);
			jset_u64(e, "block-size", d->block_size);
		}
		json_object_array_add(devs, e);
	}
	json_object_object_add(o, "devices", devs);
	orph = json_object_new_array();
	for (i = 0; i < st->norphans; i++)
		json_object_array_add(orph, json_object_new_string(st->orphans[i]));
	json_object_object_add(o, "orphans", orph);
	return o;
}

/* ---- ids ---- */

int mp_host_next_id(const struct mp_host_state *st, const char *kind, char *id, size_t idlen)
{
	char dev[128], mem[160], ua[160];
	unsigned int n;

	for (n = 0; n < 100000; n++) {
		snprintf(dev, sizeof(dev), MP_HOST_ID_PREFIX "%s%u", kind, n);
		snprintf(mem, sizeof(mem), "%s" MP_HOST_BACKEND_SUFFIX, dev);
		snprintf(ua, sizeof(ua), "ua-%s", dev);
		if (state_has_name(st, dev) || state_has_name(st, mem) || state_has_name(st, ua) ||
		    mp_host_state_find(st, dev))
			continue;
		if ((size_t)snprintf(id, idlen, "%s", dev) >= idlen)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOSPC;
}

int mp_host_make_id(const struct mp_host_state *st, const char *want, const char *kind, char *id,
		    size_t idlen)
{
	char mem[300];
	int n;

	if (!want)
		return mp_host_next_id(st, kind, id, idlen);
	/* the prefix is what makes a leftover backend recognisably ours */
	if (strncmp(want, MP_HOST_ID_PREFIX, strlen(MP_HOST_ID_PREFIX)))
		n = snprintf(id, idlen, MP_HOST_ID_PREFIX "%s", want);
	else
		n = snprintf(id, idlen, "%s", want);
	if (n < 0 || (size_t)n >= idlen || n > 100)
		return -ENAMETOOLONG;
	snprintf(mem, sizeof(mem), "%s" MP_HOST_BACKEND_SUFFIX, id);
	if (state_has_name(st, id) || state_has_name(st, mem) || mp_host_state_find(st, id)) {
		mp_err("%s: id already in use in this VM", id);
		return -EEXIST;
	}
	return 0;
}

/* ---- host NUMA ---- */

int mp_host_numa_pick(struct mp_host *h, int want, uint64_t size, int *node)
{
	char a[32], b[32];
	uint64_t best_free = 0, fr;
	int best = -1, nnodes = 0, i;
#if HAVE_LIBVIRT
	int r;
#endif

#if HAVE_LIBVIRT
	if (h->virt) {
		/* the domain's host may be remote: ask libvirt, not libnuma */
		r = mp_virt_numa_free(h->virt, -1, NULL, &nnodes);
		if (r < 0)
			return r;
	} else
#endif
	{
#if HAVE_LIBNUMA
		if (numa_available() < 0) {
			mp_err("host: NUMA is not available on this host");
			return -EOPNOTSUPP;
		}
		nnodes = numa_max_node() + 1;
#else
		mp_err("host: memplug was built without libnuma: no host node "
		       "placement");
		return -EOPNOTSUPP;
#endif
	}
	if (want >= 0 && want >= nnodes) {
		mp_err("host node %d: no such node (host has %d)", want, nnodes);
		return -ENOENT;
	}
	for (i = 0; i < nnodes; i++) {
		if (want >= 0 && i != want)
			continue;
#if HAVE_LIBVIRT
		if (h->virt) {
			r = mp_virt_numa_free(h->virt, i, &fr, NULL);
			if (r < 0)
				return r;
		} else
#endif
		{
#if HAVE_LIBNUMA
			long long f = 0;

			if (numa_node_size64(i, &f) < 0)
				continue; /* memory-less or offline node */
			fr = (uint64_t)f;
#else
			fr = 0;
#endif
		}
		if (best < 0 || fr > best_free) {
			best = i;
			best_free = fr;
		}
	}
	if (best < 0) {
		mp_err("host: no usable NUMA node");
		return -ENOENT;
	}
	if (best_free < size) {
		mp_err("host node %d: %s free, the backend needs %s", best,
		       mp_format_size(best_free, a, sizeof(a)), mp_format_size(size, b, sizeof(b)));
		return -ENOMEM;
	}
	*node = best;
	return 0;
}

/* ---- plug ---- */

static struct json_object *backend_args(const struct mp_host_plug_spec *spec, const char *bid,
					uint64_t size, int host_node, bool force_file)
{
	struct json_object *a = jobj();

	if (spec->mem_path || force_file) {
		jset_str(a, "qom-type", "memory-backend-file");
		jset_str(a, "mem-path", spec->mem_path);
		/* an NVDIMM's content must reach the file */
		jset_bool(a, "share", spec->share || force_file);
	} else {
		jset_str(a, "qom-type", "memory-backend-ram");
		if (spec->share)
			jset_bool(a, "share", true);
	}
	jset_str(a, "id", bid);
	jset_u64(a, "size", size);
	if (spec->prealloc)
		jset_bool(a, "prealloc", true);
	if (host_node >= 0) {
		struct json_object *nodes = json_object_new_array();

		json_object_array_add(nodes, json_object_new_int(host_node));
		json_object_object_add(a, "host-nodes", nodes);
		jset_str(a, "policy", "bind");
	}
	return a;
}

static int check_fit(const struct mp_host_state *st, const char *id, uint64_t size, bool needs_slot)
{
	char a[32], b[32];

	if (needs_slot && st->slots_used >= st->slots) {
		mp_err("%s: no free memory slot (%u of %u used; the VM's slots= "
		       "is fixed at boot)",
		       id, st->slots_used, st->slots);
		return -ENOSPC;
	}
	if (size > st->space_left) {
		mp_err("%s: %s does not fit: %s left under maxmem", id,
		       mp_format_size(size, a, sizeof(a)),
		       mp_format_size(st->space_left, b, sizeof(b)));
		return -ENOSPC;
	}
	return 0;
}

static int delete_object(struct mp_host *h, const char *bid)
{
	struct json_object *args = jobj();

	jset_str(args, "id", bid);
	return hq(h, bid, "object-del", args, NULL);
}

/*
 * object-add then device_add, with object-del when device_add fails.  A
 * failure of the rollback itself (QEMU died) is reported with the orphan's
 * name, which the next run's cleanup finds by its prefix.
 */
static int qmp_plug(struct mp_host *h, const char *kind, const char *driver,
		    const struct mp_host_plug_spec *spec, int host_node, const char *id)
{
	struct json_object *args;
	char bid[200];
	uint64_t bsize = spec->size;
	bool nv = !strcmp(kind, "nvdimm");
	int r, r2;

	snprintf(bid, sizeof(bid), "%s" MP_HOST_BACKEND_SUFFIX, id);
	if (nv)
		bsize += spec->label_size;
	r = hq(h, bid, "object-add", backend_args(spec, bid, bsize, host_node, nv), NULL);
	if (r < 0)
		return r;

	args = jobj();
	jset_str(args, "driver", driver);
	jset_str(args, "id", id);
	jset_str(args, "memdev", bid);
	if (spec->node >= 0)
		jset_int(args, "node", spec->node);
	if (nv && spec->label_size)
		jset_u64(args, "label-size", spec->label_size);
	if (!strcmp(kind, "virtio-mem"))
		jset_u64(args, "requested-size", spec->requested_size);
	r = hq(h, id, "device_add", args, NULL);
	if (r == 0)
		return 0;

	r2 = delete_object(h, bid);
	if (r2 < 0)
		mp_err("%s: rollback failed: backend %s left behind; "
		       "'memplugctl host cleanup' removes it",
		       id, bid);
	else
		mp_info("%s: rolled back: backend %s deleted", id, bid);
	return r;
}

static int plug(struct mp_host *h, const char *kind, const char *driver,
		const struct mp_host_plug_spec *spec, char *id, size_t idlen)
{
	struct mp_host_state *st = NULL;
	char a[32], name[160], disp[170];
	bool is_vmem = !strcmp(kind, "virtio-mem");
	bool needs_slot = !is_vmem;
	int host_node = MP_HOST_NODE_NONE;
	int r;

	if (!spec->size) {
		mp_err("%s: size must not be 0", kind);
		return -EINVAL;
	}
	/* through libvirt, QEMU's objects and ids are libvirt's business:
	 * ours show up as devices ("ua-mp-...") and libvirt rolls back itself */
	r = state_read(h,
		       ST_LIMITS | ST_DEVICES | (!strcmp(kind, "nvdimm") ? ST_NVDIMM : 0) |
			       (h->virt ? 0 : ST_OBJECTS | ST_PERIPHERAL),
		       &st);
	if (r < 0)
		return r;
	r = mp_host_make_id(st, spec->id, is_vmem ? "vmem" : kind, name, sizeof(name));
	if (r < 0)
		goto out;
	/* libvirt turns the alias into QEMU's id with its "ua-" prefix:
	 * messages and the caller get the id the VM will know */
	if ((size_t)snprintf(disp, sizeof(disp), "%s%s", h->virt ? "ua-" : "", name) >=
	    sizeof(disp)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if (st->norphans)
		mp_warn("%s: %u orphan backend(s) from an interrupted run "
			"(first: %s); 'memplugctl host cleanup' removes them",
			disp, st->norphans, st->orphans[0]);
	if (!strcmp(kind, "nvdimm") && !st->nvdimm) {
		mp_err("%s: the machine was started without nvdimm=on; NVDIMM "
		       "hot-add needs it set at boot (-M ...,nvdimm=on, or an "
		       "NVDIMM in the libvirt domain at start)",
		       disp);
		r = -EOPNOTSUPP;
		goto out;
	}
	if (!strcmp(kind, "nvdimm") && !spec->mem_path) {
		mp_err("%s: an NVDIMM needs a backing file (mem-path)", disp);
		r = -EINVAL;
		goto out;
	}
	if (!spec->force) {
		if (spec->size % MP_HOST_BLOCK_SIZE) {
			mp_err("%s: size %s is not a multiple of the guest's "
			       "128 MiB memory block; the rest could never be "
			       "onlined",
			       disp, mp_format_size(spec->size, a, sizeof(a)));
			r = -EINVAL;
			goto out;
		}
		r = check_fit(st, disp,
			      spec->size + (strcmp(kind, "nvdimm") ? 0 : spec->label_size),
			      needs_slot);
		if (r < 0)
			goto out;
	}
	if (spec->host_node != MP_HOST_NODE_NONE) {
		r = mp_host_numa_pick(h, spec->host_node, spec->size, &host_node);
		if (r < 0)
			goto out;
		mp_info("%s: backend bound to host node %d", disp, host_node);
	}
#if HAVE_LIBVIRT
	if (h->virt)
		r = mp_virt_plug(h, kind, spec, host_node, name);
	else
#endif
		r = qmp_plug(h, kind, driver, spec, host_node, name);
	if (r < 0)
		goto out;
	if ((size_t)snprintf(id, idlen, "%s", disp) >= idlen)
		r = -ENAMETOOLONG;
out:
	mp_host_state_free(st);
	return r;
}

int mp_host_plug_dimm(struct mp_host *h, const struct mp_host_plug_spec *spec, char *id,
		      size_t idlen)
{
	return plug(h, "dimm", "pc-dimm", spec, id, idlen);
}

int mp_host_plug_nvdimm(struct mp_host *h, const struct mp_host_plug_spec *spec, char *id,
			size_t idlen)
{
	return plug(h, "nvdimm", "nvdimm", spec, id, idlen);
}

int mp_host_plug_virtio_mem(struct mp_host *h, const struct mp_host_plug_spec *spec, char *id,
			    size_t idlen)
{
	return plug(h, "virtio-mem", "virtio-mem-pci", spec, id, idlen);
}

/* ---- unplug ---- */

struct unplug_match {
	const char *id;
	int slot;
	bool refused;
	int status;
};

static bool match_unplug(const char *name, struct json_object *data, void *ud)
{
	struct unplug_match *m = ud;

	if (!strcmp(name, "DEVICE_DELETED")) {
		const char *dev = jget_str(data, "device");

		return dev && !strcmp(dev, m->id);
	}
	if (!strcmp(name, "ACPI_DEVICE_OST")) {
		struct json_object *info;
		const char *dev, *slot;
		int source, status;

		if (!json_object_object_get_ex(data, "info", &info))
			return false;
		dev = jget_str(info, "device");
		slot = jget_str(info, "slot");
		if (dev ? strcmp(dev, m->id) : (!slot || atoi(slot) != m->slot))
			return false;
		source = jget_int(info, "source", 0);
		status = jget_int(info, "status", 0);
		/* _OST of an eject request (0x03, or 0x103 from the OSPM):
		 * 0x01 failure, 0x80-0x83 not supported / in use / busy /
		 * dependency busy.  0x84 is "in progress": keep waiting. */
		if ((source == 0x03 || source == 0x103) &&
		    (status == 0x01 || (status >= 0x80 && status <= 0x83))) {
			m->refused = true;
			m->status = status;
			return true;
		}
	}
	return false;
}

static const char *ost_text(int status)
{
	switch (status) {
	case 0x01:
		return "failure";
	case 0x80:
		return "eject not supported";
	case 0x81:
		return "device in use";
	case 0x82:
		return "device busy";
	case 0x83:
		return "dependency busy";
	}
	return "unknown";
}

static int qmp_unplug(struct mp_host *h, const struct mp_host_memdev *d, int timeout_ms)
{
	struct unplug_match m = { .id = d->id, .slot = d->slot };
	struct json_object *args = jobj();
	char what[256];
	long long start = mp_host_now_ms(), left;
	int r;

	/* events from before this request are not its answer */
	mp_qmp_event_drop(h->q);
	jset_str(args, "id", d->id);
	r = hq(h, d->id, "device_del", args, NULL);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "%s: waiting for the guest to release it", d->id);
	for (;;) {
		left = start + timeout_ms - mp_host_now_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		r = mp_qmp_event_wait(h->q, match_unplug, &m, left < 250 ? (int)left : 250, NULL);
		if (r != -ETIMEDOUT)
			break;
		mp_host_progress(h, what, start);
	}
	if (r == -ETIMEDOUT) {
		mp_err("%s: the guest did not release the DIMM within %d ms; the "
		       "unplug request stays pending in QEMU (guest without ACPI "
		       "hotplug, or memory it cannot offline)",
		       d->id, timeout_ms);
		return r;
	}
	if (r < 0) {
		char err[256];

		mp_err("%s: waiting for DEVICE_DELETED: %s", d->id,
		       mp_qmp_strerror(h->q, r, err, sizeof(err)));
		return r;
	}
	if (m.refused) {
		mp_err("%s: the guest refused the unplug (ACPI _OST status "
		       "0x%x: %s); the DIMM stays plugged",
		       d->id, m.status, ost_text(m.status));
		return -EBUSY;
	}
	if (d->backend[0]) {
		r = delete_object(h, d->backend);
		if (r < 0) {
			mp_err("%s: device removed, but its backend %s is left; "
			       "'memplugctl host cleanup' removes it",
			       d->id, d->backend);
			return r;
		}
	}
	return 0;
}

int mp_host_unplug(struct mp_host *h, const char *id, int timeout_ms)
{
	struct mp_host_state *st = NULL;
	const struct mp_host_memdev *d;
	int r;

	if (timeout_ms <= 0)
		timeout_ms = h->timeout_ms;
	r = state_read(h, ST_DEVICES, &st);
	if (r < 0)
		return r;
	d = mp_host_state_find(st, id);
	if (!d) {
		mp_err("%s: no such memory device in this VM", id);
		r = -ENODEV;
		goto out;
	}
	if (!strcmp(d->kind, "nvdimm")) {
		mp_err("%s: QEMU cannot hot-unplug NVDIMMs", id);
		r = -EOPNOTSUPP;
		goto out;
	}
	if (!strcmp(d->kind, "virtio-mem")) {
		mp_err("%s: virtio-mem devices cannot be unplugged; resize it "
		       "to 0 instead",
		       id);
		r = -EOPNOTSUPP;
		goto out;
	}
	if (strcmp(d->kind, "dimm")) {
		mp_err("%s: don't know how to unplug a %s device", id, d->kind);
		r = -EOPNOTSUPP;
		goto out;
	}
#if HAVE_LIBVIRT
	if (h->virt)
		r = mp_virt_unplug(h, d, timeout_ms);
	else
#endif
		r = qmp_unplug(h, d, timeout_ms);
out:
	mp_host_state_free(st);
	return r;
}

/* ---- virtio-mem resize ---- */

static int qom_get_u64(struct mp_host *h, const char *path, const char *prop, uint64_t *val)
{
	struct json_object *args = jobj(), *ret = NULL;
	int r;

	jset_str(args, "path", path);
	jset_str(args, "property", prop);
	r = hq(h, path, "qom-get", args, &ret);
	if (r < 0)
		return r;
	if (!json_object_is_type(ret, json_type_int)) {
		mp_err("%s: %s is not a number", path, prop);
		json_object_put(ret);
		return -EPROTO;
	}
	*val = json_object_get_uint64(ret);
	json_object_put(ret);
	return 0;
}

static bool match_any(const char *name, struct json_object *data, void *ud)
{
	return true;
}

static int qmp_resize(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size,
		      int timeout_ms)
{
	struct json_object *args = jobj();
	char path[200];
	int r;

	snprintf(path, sizeof(path), "/machine/peripheral/%s", d->id);
	jset_str(args, "path", path);
	jset_str(args, "property", "requested-size");
	jset_u64(args, "value", size);
	r = hq(h, d->id, "qom-set", args, NULL);
	if (r < 0 || !timeout_ms)
		return r;
	return mp_host_wait_size(h, d, size, timeout_ms);
}

int mp_host_wait_size(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size,
		      int timeout_ms)
{
	char path[200], what[256], a[32], b[32];
	long long start = mp_host_now_ms();
	uint64_t cur = 0;
	int r;

	snprintf(path, sizeof(path), "/machine/peripheral/%s", d->id);
	snprintf(what, sizeof(what), "%s: waiting for the guest to reach %s", d->id,
		 mp_format_size(size, a, sizeof(a)));
	for (;;) {
		r = qom_get_u64(h, path, "size", &cur);
		if (r < 0)
			return r;
		if (cur == size)
			return 0;
		if (mp_host_now_ms() - start >= timeout_ms)
			break;
		/* MEMORY_DEVICE_SIZE_CHANGE comes at most once a second and
		 * carries nothing the property does not: just drain it */
		if (h->q)
			while (mp_qmp_event_wait(h->q, match_any, NULL, 0, NULL) == 0)
				;
		mp_host_progress(h, what, start);
		usleep(POLL_INTERVAL_US);
	}
	mp_err("%s: size is %s, not the requested %s, after %d ms; the request "
	       "stays set (guest driver loaded? its memory onlined? the driver "
	       "stops plugging at 1 GiB of offline memory)",
	       d->id, mp_format_size(cur, a, sizeof(a)), mp_format_size(size, b, sizeof(b)),
	       timeout_ms);
	return -ETIMEDOUT;
}

int mp_host_resize(struct mp_host *h, const char *id, uint64_t size, int timeout_ms)
{
	struct mp_host_state *st = NULL;
	const struct mp_host_memdev *d;
	char a[32], b[32];
	int r;

	r = state_read(h, ST_DEVICES, &st);
	if (r < 0)
		return r;
	d = mp_host_state_find(st, id);
	if (!d) {
		mp_err("%s: no such memory device in this VM", id);
		r = -ENODEV;
		goto out;
	}
	if (strcmp(d->kind, "virtio-mem")) {
		mp_err("%s: only virtio-mem devices can be resized (this is a %s)", id, d->kind);
		r = -EOPNOTSUPP;
		goto out;
	}
	if (d->block_size && size % d->block_size) {
		mp_err("%s: %s is not a multiple of the device's block size %s", id,
		       mp_format_size(size, a, sizeof(a)),
		       mp_format_size(d->block_size, b, sizeof(b)));
		r = -EINVAL;
		goto out;
	}
	if (size > d->max_size) {
		mp_err("%s: %s exceeds the device's maximum %s", id,
		       mp_format_size(size, a, sizeof(a)),
		       mp_format_size(d->max_size, b, sizeof(b)));
		r = -EINVAL;
		goto out;
	}
#if HAVE_LIBVIRT
	if (h->virt)
		r = mp_virt_resize(h, d, size, timeout_ms);
	else
#endif
		r = qmp_resize(h, d, size, timeout_ms);
out:
	mp_host_state_free(st);
	return r;
}

/* ---- orphans ---- */

int mp_host_cleanup(struct mp_host *h, bool dry_run, unsigned int *found)
{
	struct mp_host_state *st = NULL;
	unsigned int i;
	int r, removed = 0, err = 0;

	if (found)
		*found = 0;
	r = state_read(h, ST_DEVICES | ST_OBJECTS, &st);
	if (r < 0)
		return r;
	if (found)
		*found = st->norphans;
	for (i = 0; i < st->norphans; i++) {
		if (dry_run) {
			mp_notice("%s: orphan backend (no device uses it)", st->orphans[i]);
			continue;
		}
		r = delete_object(h, st->orphans[i]);
		if (r < 0) {
			err = r;
			continue;
		}
		mp_info("%s: orphan backend removed", st->orphans[i]);
		removed++;
	}
	mp_host_state_free(st);
	return err && !removed ? err : removed;
}

/* ---- placement ---- */

struct mp_host_plan {
	unsigned int n;
	uint64_t *size;
	int *node;
};

void mp_host_plan_free(struct mp_host_plan *plan)
{
	if (!plan)
		return;
	free(plan->size);
	free(plan->node);
	free(plan);
}

unsigned int mp_host_plan_get_count(const struct mp_host_plan *plan)
{
	return plan->n;
}

uint64_t mp_host_plan_get_size(const struct mp_host_plan *plan, unsigned int i)
{
	return i < plan->n ? plan->size[i] : 0;
}

int mp_host_plan_get_node(const struct mp_host_plan *plan, unsigned int i)
{
	return i < plan->n ? plan->node[i] : -1;
}

int mp_host_plan_new(uint64_t total, uint64_t dimm_size, const int *nodes, unsigned int nnodes,
		     struct mp_host_plan **out)
{
	struct mp_host_plan *p;
	uint64_t blocks, per, extra, left;
	unsigned int n, i;

	*out = NULL;
	if (!nnodes || !total || total % MP_HOST_BLOCK_SIZE || dimm_size % MP_HOST_BLOCK_SIZE) {
		mp_err("plan: sizes must be non-zero multiples of 128 MiB and at "
		       "least one node given");
		return -EINVAL;
	}
	if (dimm_size)
		n = (unsigned int)((total + dimm_size - 1) / dimm_size);
	else
		n = nnodes;
	blocks = total / MP_HOST_BLOCK_SIZE;
	if (!dimm_size && blocks < nnodes)
		n = (unsigned int)blocks; /* fewer blocks than nodes */
	if (n > 4096)
		return -E2BIG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->size = calloc(n, sizeof(*p->size));
	p->node = calloc(n, sizeof(*p->node));
	if (!p->size || !p->node) {
		mp_host_plan_free(p);
		return -ENOMEM;
	}
	p->n = n;
	per = blocks / n;
	extra = blocks % n;
	left = total;
	for (i = 0; i < n; i++) {
		/* Proxmox spreads DIMMs round robin over the nodes
		 * (dimm i -> node i % sockets); same here */
		p->node[i] = nodes[i % nnodes];
		if (dimm_size)
			p->size[i] = MP_MIN(dimm_size, left);
		else
			p->size[i] = (per + (i < extra)) * MP_HOST_BLOCK_SIZE;
		left -= p->size[i];
	}
	*out = p;
	return 0;
}

static int plan_alloc(unsigned int n, struct mp_host_plan **out)
{
	struct mp_host_plan *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->size = calloc(n ? n : 1, sizeof(*p->size));
	p->node = calloc(n ? n : 1, sizeof(*p->node));
	if (!p->size || !p->node) {
		mp_host_plan_free(p);
		return -ENOMEM;
	}
	p->n = n;
	*out = p;
	return 0;
}

/*
 * Proxmox's grid (PVE::QemuServer::Memory, foreach_dimm): DIMMs of 512 MiB,
 * 32 of them, then 32 of 1 GiB, doubling every 32; DIMM i of a size class
 * goes to node i % nodes.  Following it means a VM grown by memplug and one
 * grown by Proxmox end up with the same DIMMs.
 */
#define PVE_FIRST_DIMM (512ull << 20)
#define PVE_PER_CLASS 32

static uint64_t pve_dimm_size(unsigned int idx)
{
	return PVE_FIRST_DIMM << (idx / PVE_PER_CLASS);
}

int mp_host_plan_new_proxmox(uint64_t total, unsigned int first, const int *nodes,
			     unsigned int nnodes, struct mp_host_plan **out)
{
	char a[32], b[32];
	uint64_t sum = 0;
	unsigned int n = 0, i;
	int r;

	*out = NULL;
	if (!nnodes || !total || first >= 8 * PVE_PER_CLASS) {
		mp_err("plan: proxmox layout needs a size, nodes and fewer than %u "
		       "DIMMs already plugged",
		       8 * PVE_PER_CLASS);
		return -EINVAL;
	}
	while (sum < total && first + n < 8 * PVE_PER_CLASS)
		sum += pve_dimm_size(first + n++);
	if (sum != total) {
		mp_err("plan: %s is not on Proxmox's DIMM grid from DIMM %u on "
		       "(nearest: %s or %s)",
		       mp_format_size(total, a, sizeof(a)), first,
		       mp_format_size(sum - pve_dimm_size(first + n - 1), b, sizeof(b)),
		       mp_format_size(sum, a, sizeof(a)));
		return -EINVAL;
	}
	r = plan_alloc(n, out);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		(*out)->size[i] = pve_dimm_size(first + i);
		(*out)->node[i] = nodes[((first + i) % PVE_PER_CLASS) % nnodes];
	}
	return 0;
}

int mp_host_plan_check(const struct mp_host_plan *plan, const struct mp_host_state *st)
{
	uint64_t total = 0;
	unsigned int i, free_slots;
	char a[32], b[32];

	for (i = 0; i < plan->n; i++)
		total += plan->size[i];
	free_slots = st->slots > st->slots_used ? st->slots - st->slots_used : 0;
	if (plan->n > free_slots) {
		mp_err("plan: %u DIMMs needed, %u slots free (of %u)", plan->n, free_slots,
		       st->slots);
		return -ENOSPC;
	}
	if (total > st->space_left) {
		mp_err("plan: %s needed, %s left under maxmem", mp_format_size(total, a, sizeof(a)),
		       mp_format_size(st->space_left, b, sizeof(b)));
		return -ENOSPC;
	}
	return 0;
}

int mp_host_plug_plan(struct mp_host *h, const struct mp_host_plan *plan,
		      const struct mp_host_plug_spec *tmpl, char ***ids)
{
	struct mp_host_state *st = NULL;
	char **v = NULL, id[160];
	unsigned int i, n = 0;
	int r;

	if (ids)
		*ids = NULL;
	r = state_read(h, ST_LIMITS | ST_DEVICES, &st);
	if (r < 0)
		return r;
	r = tmpl->force ? 0 : mp_host_plan_check(plan, st);
	mp_host_state_free(st);
	if (r < 0)
		return r;
	for (i = 0; i < plan->n; i++) {
		struct mp_host_plug_spec s = *tmpl;

		s.size = plan->size[i];
		s.node = plan->node[i];
		s.id = plan->n == 1 ? tmpl->id : NULL;
		r = mp_host_plug_dimm(h, &s, id, sizeof(id));
		if (r < 0)
			break;
		if (ids && strv_add(&v, &n, id) < 0)
			break;
		if (!ids)
			n++;
	}
	if (ids)
		*ids = v;
	if (n < plan->n && n > 0)
		mp_err("plan: only %u of %u DIMMs plugged", n, plan->n);
	return n ? (int)n : r;
}
