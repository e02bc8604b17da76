// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The operations: plug (one device, or a plan of DIMMs), unplug and
 * virtio-mem resize.  Each reads the snapshot its checks need, refuses
 * before anything is sent what memplug can tell would fail, then hands the
 * step to the backend (host-qmp.c or virt.c), which rolls back its own
 * half-done work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

#define POLL_INTERVAL_US 100000

/*
 * The host node for the backend: the one asked for, or with
 * MP_HOST_NODE_AUTO the one with most free memory.  A backend that binds
 * the device whatever it says (libvirt's NVDIMM: the domain's <numatune>)
 * decides, and a request against it is refused rather than dropped.
 */
static int pick_host_node(struct mp_host *h, const char *kind, const struct mp_host_plug_spec *spec,
			  const char *disp, int *host_node)
{
	int want = spec->host_node, bound = -1, r;

	if (h->ops->bound_host_node) {
		r = h->ops->bound_host_node(h, kind, spec->node, &bound);
		if (r < 0)
			return r;
	}
	if (bound >= 0 && want >= 0 && want != bound) {
		mp_err("%s: host node %d asked, but the domain binds guest node %d to host "
		       "node %d (<numatune>)",
		       disp, want, spec->node, bound);
		return -EINVAL;
	}
	return mp_host_numa_pick(h, bound >= 0 ? bound : want, spec->size, host_node);
}

static int plug(struct mp_host *h, const char *kind, const char *driver,
		const struct mp_host_plug_spec *spec, char *id, size_t idlen)
{
	struct mp_host_state *st = NULL;
	char a[32], name[160], disp[170];
	bool is_vmem = !strcmp(kind, "virtio-mem");
	bool needs_slot = !is_vmem;
	struct mp_host_plug_req rq = { .kind = kind, .driver = driver, .spec = spec };
	int host_node = MP_HOST_NODE_NONE;
	int r;

	if (!spec->size) {
		mp_err("%s: size must not be 0", kind);
		return -EINVAL;
	}
	r = mp_host_id_check(spec->id);
	if (r < 0)
		return r;
	/* through libvirt, QEMU's objects and ids are libvirt's business:
	 * ours show up as devices ("ua-mp-...") and libvirt rolls back itself */
	r = mp_host_state_read(
		h,
		MP_ST_LIMITS | MP_ST_DEVICES | (!strcmp(kind, "nvdimm") ? MP_ST_NVDIMM : 0) |
			(h->ops->owns_objects ? 0 : MP_ST_OBJECTS | MP_ST_PERIPHERAL),
		&st);
	if (r < 0)
		return r;
	r = mp_host_make_id(st, spec->id, is_vmem ? "vmem" : kind, name, sizeof(name));
	if (r < 0)
		goto out;
	/* libvirt turns the alias into QEMU's id with its "ua-" prefix:
	 * messages and the caller get the id the VM will know */
	if ((size_t)snprintf(disp, sizeof(disp), "%s%s",
			     h->ops->alias_prefix ? h->ops->alias_prefix : "",
			     name) >= sizeof(disp)) {
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
		r = mp_host_check_fit(st, disp,
				      spec->size + (strcmp(kind, "nvdimm") ? 0 : spec->label_size),
				      needs_slot);
		if (r < 0)
			goto out;
	}
	if (spec->host_node != MP_HOST_NODE_NONE) {
		r = pick_host_node(h, kind, spec, disp, &host_node);
		if (r < 0)
			goto out;
		mp_info("%s: backend bound to host node %d", disp, host_node);
	}
	rq.host_node = host_node;
	rq.id = name;
	r = h->ops->plug(h, &rq);
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

/*
 * mp_host_find_dev() - read the VM's memory devices and find @id in them
 *
 * Return: 0 with *@st (free it) and *@d in it; -ENODEV (said with the id) or
 * the read's -errno, *@st still to be freed.
 */
int mp_host_find_dev(struct mp_host *h, const char *id, struct mp_host_state **st,
		     const struct mp_host_memdev **d)
{
	int r = mp_host_state_read(h, MP_ST_DEVICES, st);

	if (r < 0)
		return r;
	*d = mp_host_state_find(*st, id);
	if (!*d) {
		mp_err("%s: no such memory device in this VM", id);
		return -ENODEV;
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
	r = mp_host_find_dev(h, id, &st, &d);
	if (r < 0)
		goto out;
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
	r = h->ops->unplug(h, d, timeout_ms);
out:
	mp_host_state_free(st);
	return r;
}

static int qom_get_u64(struct mp_host *h, const char *path, const char *prop, uint64_t *val)
{
	struct json_object *args = json_object_new_object(), *ret = NULL;
	int r;

	mp_json_add_str(args, "path", path);
	mp_json_add_str(args, "property", prop);
	r = mp_host_cmd(h, path, "qom-get", args, &ret);
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

static int wait_size(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size,
		     int timeout_ms)
{
	char path[200], what[256], a[32], b[32];
	uint64_t start = mp_now_ms();
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
		if (mp_now_ms() - start >= (uint64_t)timeout_ms)
			break;
		if (h->ops->drain_events)
			h->ops->drain_events(h);
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

	r = mp_host_find_dev(h, id, &st, &d);
	if (r < 0)
		goto out;
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
	r = h->ops->set_requested(h, d, size);
	if (r == 0 && timeout_ms)
		r = wait_size(h, d, size, timeout_ms);
out:
	mp_host_state_free(st);
	return r;
}

int mp_host_plug_plan(struct mp_host *h, const struct mp_host_plan *plan,
		      const struct mp_host_plug_spec *tmpl, char ***ids)
{
	struct mp_host_state *st = NULL;
	char **v = NULL, id[160];
	unsigned int count = mp_host_plan_get_count(plan), i, n = 0;
	int r;

	if (ids)
		*ids = NULL;
	r = mp_host_state_read(h, MP_ST_LIMITS | MP_ST_DEVICES, &st);
	if (r < 0)
		return r;
	r = tmpl->force ? 0 : mp_host_plan_check(plan, st);
	mp_host_state_free(st);
	if (r < 0)
		return r;
	for (i = 0; i < count; i++) {
		struct mp_host_plug_spec s = *tmpl;

		s.size = mp_host_plan_get_size(plan, i);
		s.node = mp_host_plan_get_node(plan, i);
		s.id = count == 1 ? tmpl->id : NULL;
		r = mp_host_plug_dimm(h, &s, id, sizeof(id));
		if (r < 0)
			break;
		if (ids && mp_host_strv_add(&v, &n, id) < 0)
			break;
		if (!ids)
			n++;
	}
	if (ids)
		*ids = v;
	if (n < count && n > 0)
		mp_err("plan: only %u of %u DIMMs plugged", n, count);
	return n ? (int)n : r;
}
