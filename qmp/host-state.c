// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The VM's memory state as one snapshot: query-memory-size-summary, the
 * machine's memory and nvdimm properties, query-memory-devices parsed into
 * struct mp_host_memdev, the names in use under /objects and
 * /machine/peripheral, and the orphans among them.  Also ids: picking a
 * free one, and refusing one QEMU would refuse.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

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

int mp_host_strv_add(char ***v, unsigned int *n, const char *s)
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
	struct json_object *args = json_object_new_object(), *ret = NULL;
	size_t i, n;
	int r;

	mp_json_add_str(args, "path", path);
	r = mp_host_cmd(h, path, "qom-list", args, &ret);
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
		const char *name = mp_json_get_str(e, "name", NULL);
		const char *type = mp_json_get_str(e, "type", NULL);

		if (!name || !type || strncmp(type, "child<", 6))
			continue;
		r = mp_host_strv_add(&st->names, &st->nnames, name);
		if (r == 0 && out)
			r = mp_host_strv_add(out, nout, name);
	}
	json_object_put(ret);
	return r;
}

static int parse_memdev(struct mp_host_memdev *d, struct json_object *e)
{
	const char *type = mp_json_get_str(e, "type", NULL);
	struct json_object *data;
	const char *s;

	if (!type || !json_object_object_get_ex(e, "data", &data))
		return -EPROTO;
	memset(d, 0, sizeof(*d));
	snprintf(d->kind, sizeof(d->kind), "%s", type);
	s = mp_json_get_str(data, "id", NULL);
	snprintf(d->id, sizeof(d->id), "%s", s ? s : "");
	s = mp_json_get_str(data, "memdev", NULL);
	if (s && !strncmp(s, "/objects/", 9))
		s += 9;
	snprintf(d->backend, sizeof(d->backend), "%s", s ? s : "");
	d->addr = mp_json_get_u64(data, !strcmp(type, "virtio-mem") ? "memaddr" : "addr", 0);
	d->size = mp_json_get_u64(data, "size", 0);
	d->slot = mp_json_get_int(data, "slot", -1);
	d->node = mp_json_get_int(data, "node", -1);
	d->hotplugged = mp_json_get_bool(data, "hotplugged", false);
	d->requested_size = mp_json_get_u64(data, "requested-size", 0);
	d->max_size = mp_json_get_u64(data, "max-size", 0);
	d->block_size = mp_json_get_u64(data, "block-size", 0);
	return 0;
}

int mp_host_state_read(struct mp_host *h, unsigned int what, struct mp_host_state **out)
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

	if (!(what & MP_ST_LIMITS))
		goto nvdimm;
	r = mp_host_cmd(h, "machine", "query-memory-size-summary", NULL, &ret);
	if (r < 0)
		goto fail;
	st->base = mp_json_get_u64(ret, "base-memory", 0);
	st->plugged = mp_json_get_u64(ret, "plugged-memory", 0);
	json_object_put(ret);

	/* maxmem and slots are the machine's "memory" property (QEMU >= 7.1) */
	args = json_object_new_object();
	mp_json_add_str(args, "path", "/machine");
	mp_json_add_str(args, "property", "memory");
	r = mp_host_cmd(h, "machine", "qom-get", args, &ret);
	if (r < 0)
		goto fail;
	st->maxmem = mp_json_get_u64(ret, "max-size", 0);
	st->slots = mp_json_get_int(ret, "slots", 0);
	json_object_put(ret);

nvdimm:
	if (what & MP_ST_NVDIMM) {
		args = json_object_new_object();
		mp_json_add_str(args, "path", "/machine");
		mp_json_add_str(args, "property", "nvdimm");
		/* machines without the property (microvm) have no NVDIMM */
		if (mp_host_qmp(h, "qom-get", args, &ret, NULL, 0) == 0) {
			st->nvdimm = json_object_get_boolean(ret);
			json_object_put(ret);
		}
	}

	/* every operation needs the devices */
	r = mp_host_cmd(h, "machine", "query-memory-devices", NULL, &ret);
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

	if (what & MP_ST_OBJECTS) {
		r = list_children(h, st, "/objects", &objects, &nobjects);
		if (r < 0)
			goto fail;
	}
	if (what & MP_ST_PERIPHERAL) {
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
			r = mp_host_strv_add(&st->orphans, &st->norphans, objects[i]);
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
	return mp_host_state_read(h, MP_ST_ALL, out);
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

/* The accessors of struct mp_host_memdev (kernel-doc in host.h): one field each. */
#define MEMDEV_GET(type, field)                                         \
	type mp_host_memdev_get_##field(const struct mp_host_memdev *d) \
	{                                                               \
		return d->field;                                        \
	}

MEMDEV_GET(const char *, kind)
MEMDEV_GET(const char *, id)
MEMDEV_GET(const char *, backend)
MEMDEV_GET(uint64_t, addr)
MEMDEV_GET(uint64_t, size)
MEMDEV_GET(int, slot)
MEMDEV_GET(int, node)
MEMDEV_GET(uint64_t, requested_size)
MEMDEV_GET(uint64_t, max_size)
MEMDEV_GET(uint64_t, block_size)

struct json_object *mp_host_state_to_json(const struct mp_host_state *st)
{
	struct json_object *o = json_object_new_object(), *devs, *orph;
	unsigned int i;

	if (!o)
		return NULL;
	mp_json_add_u64(o, "base-memory", st->base);
	mp_json_add_u64(o, "plugged-memory", st->plugged);
	mp_json_add_u64(o, "maxmem", st->maxmem);
	mp_json_add_int(o, "slots", st->slots);
	mp_json_add_int(o, "slots-used", st->slots_used);
	mp_json_add_int(o, "slots-free",
			st->slots > st->slots_used ? st->slots - st->slots_used : 0);
	mp_json_add_u64(o, "space-left", st->space_left);
	mp_json_add_bool(o, "nvdimm", st->nvdimm);
	devs = json_object_new_array();
	for (i = 0; i < st->ndevs; i++) {
		const struct mp_host_memdev *d = &st->devs[i];
		struct json_object *e = json_object_new_object();

		mp_json_add_str(e, "kind", d->kind);
		mp_json_add_str(e, "id", d->id);
		mp_json_add_str(e, "backend", d->backend);
		mp_json_add_u64(e, "addr", d->addr);
		mp_json_add_u64(e, "size", d->size);
		mp_json_add_int(e, "node", d->node);
		if (strcmp(d->kind, "virtio-mem")) {
			mp_json_add_int(e, "slot", d->slot);
			mp_json_add_bool(e, "hotplugged", d->hotplugged);
		} else {
			mp_json_add_u64(e, "requested-size", d->requested_size);
			mp_json_add_u64(e, "max-size", d->max_size);
			mp_json_add_u64(e, "block-size", d->block_size);
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

/*
 * QEMU's rule for device and object ids: id_wellformed() in QEMU's
 * util/id.c (a letter first, then letters, digits, '-', '.', '_'); qdev
 * and object-add refuse anything else.  Checked here so a bad id is
 * refused before anything is sent, and so an id never needs quoting on
 * its way into libvirt's XML.
 */
bool mp_host_id_wellformed(const char *id)
{
	const unsigned char *p = (const unsigned char *)id;

	if (!isascii(*p) || !isalpha(*p))
		return false;
	for (p++; *p; p++)
		if (!isascii(*p) || (!isalnum(*p) && !strchr("-._", *p)))
			return false;
	return true;
}

/* @want with MP_HOST_ID_PREFIX, checked: 0, -EINVAL or -ENAMETOOLONG. */
static int prefixed_id(const char *want, char *id, size_t idlen)
{
	int n;

	/* the prefix is what makes a leftover backend recognisably ours */
	if (strncmp(want, MP_HOST_ID_PREFIX, strlen(MP_HOST_ID_PREFIX)))
		n = snprintf(id, idlen, MP_HOST_ID_PREFIX "%s", want);
	else
		n = snprintf(id, idlen, "%s", want);
	if (n < 0 || (size_t)n >= idlen || n > 100) {
		mp_err("%.40s...: id too long (at most 100 characters)", want);
		return -ENAMETOOLONG;
	}
	if (!mp_host_id_wellformed(id)) {
		mp_err("'%s': not a valid device id: QEMU takes letters, digits, "
		       "'-', '.' and '_' only",
		       want);
		return -EINVAL;
	}
	return 0;
}

int mp_host_id_check(const char *want)
{
	char id[128];

	return want ? prefixed_id(want, id, sizeof(id)) : 0;
}

int mp_host_make_id(const struct mp_host_state *st, const char *want, const char *kind, char *id,
		    size_t idlen)
{
	char mem[300];
	int r;

	if (!want)
		return mp_host_next_id(st, kind, id, idlen);
	r = prefixed_id(want, id, idlen);
	if (r < 0)
		return r;
	snprintf(mem, sizeof(mem), "%s" MP_HOST_BACKEND_SUFFIX, id);
	if (state_has_name(st, id) || state_has_name(st, mem) || mp_host_state_find(st, id)) {
		mp_err("%s: id already in use in this VM", id);
		return -EEXIST;
	}
	return 0;
}
