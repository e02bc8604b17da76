// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The QMP backend: QEMU's QMP socket, driven directly.  Plug is object-add
 * then device_add, with object-del as the rollback; unplug is device_del and
 * a wait for DEVICE_DELETED or the guest's _OST refusal, then object-del;
 * resize is qom-set of requested-size.  Host nodes come from libnuma, since
 * QEMU runs on this host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

static void qmp_close(void *be)
{
	mp_qmp_close(be);
}

static int qmp_passthrough(struct mp_host *h, const char *cmd, struct json_object *args,
			   struct json_object **ret, char *err, size_t errlen)
{
	int r = mp_qmp_execute(h->be, cmd, args, ret);

	if (r < 0 && err)
		mp_qmp_strerror(h->be, r, err, errlen);
	return r;
}

static struct json_object *backend_args(const struct mp_host_plug_spec *spec, const char *bid,
					uint64_t size, int host_node, bool force_file)
{
	struct json_object *a = json_object_new_object();

	if (spec->mem_path || force_file) {
		mp_json_add_str(a, "qom-type", "memory-backend-file");
		mp_json_add_str(a, "mem-path", spec->mem_path);
		/* an NVDIMM's content must reach the file */
		mp_json_add_bool(a, "share", spec->share || force_file);
	} else {
		mp_json_add_str(a, "qom-type", "memory-backend-ram");
		if (spec->share)
			mp_json_add_bool(a, "share", true);
	}
	mp_json_add_str(a, "id", bid);
	mp_json_add_u64(a, "size", size);
	if (spec->prealloc)
		mp_json_add_bool(a, "prealloc", true);
	if (host_node >= 0) {
		struct json_object *nodes = json_object_new_array();

		json_object_array_add(nodes, json_object_new_int(host_node));
		json_object_object_add(a, "host-nodes", nodes);
		mp_json_add_str(a, "policy", "bind");
	}
	return a;
}

/*
 * object-add then device_add, with object-del when device_add fails.  A
 * failure of the rollback itself (QEMU died) is reported with the orphan's
 * name, which the next run's cleanup finds by its prefix.
 */
static int qmp_plug(struct mp_host *h, const struct mp_host_plug_req *rq)
{
	const struct mp_host_plug_spec *spec = rq->spec;
	const char *id = rq->id;
	struct json_object *args;
	char bid[200];
	uint64_t bsize = spec->size;
	bool nv = !strcmp(rq->kind, "nvdimm");
	int r, r2;

	snprintf(bid, sizeof(bid), "%s" MP_HOST_BACKEND_SUFFIX, id);
	if (nv)
		bsize += spec->label_size;
	r = mp_host_cmd(h, bid, "object-add", backend_args(spec, bid, bsize, rq->host_node, nv),
			NULL);
	if (r < 0)
		return r;

	args = json_object_new_object();
	mp_json_add_str(args, "driver", rq->driver);
	mp_json_add_str(args, "id", id);
	mp_json_add_str(args, "memdev", bid);
	if (spec->node >= 0)
		mp_json_add_int(args, "node", spec->node);
	if (nv && spec->label_size)
		mp_json_add_u64(args, "label-size", spec->label_size);
	if (!strcmp(rq->kind, "virtio-mem"))
		mp_json_add_u64(args, "requested-size", spec->requested_size);
	r = mp_host_cmd(h, id, "device_add", args, NULL);
	if (r == 0)
		return 0;

	r2 = mp_host_object_del(h, bid);
	if (r2 < 0)
		mp_err("%s: rollback failed: backend %s left behind; "
		       "'memplugctl host cleanup' removes it",
		       id, bid);
	else
		mp_info("%s: rolled back: backend %s deleted", id, bid);
	return r;
}

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
		const char *dev = mp_json_get_str(data, "device", NULL);

		return dev && !strcmp(dev, m->id);
	}
	if (!strcmp(name, "ACPI_DEVICE_OST")) {
		struct json_object *info;
		const char *dev, *slot;
		int source, status;

		if (!json_object_object_get_ex(data, "info", &info))
			return false;
		dev = mp_json_get_str(info, "device", NULL);
		slot = mp_json_get_str(info, "slot", NULL);
		if (dev ? strcmp(dev, m->id) : (!slot || atoi(slot) != m->slot))
			return false;
		source = mp_json_get_int(info, "source", 0);
		status = mp_json_get_int(info, "status", 0);
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
	struct json_object *args = json_object_new_object();
	char what[256];
	uint64_t start = mp_now_ms();
	int64_t left;
	int r;

	/* events from before this request are not its answer */
	mp_qmp_event_drop(h->be);
	mp_json_add_str(args, "id", d->id);
	r = mp_host_cmd(h, d->id, "device_del", args, NULL);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "%s: waiting for the guest to release it", d->id);
	for (;;) {
		left = (int64_t)(start + (uint64_t)timeout_ms) - (int64_t)mp_now_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		r = mp_qmp_event_wait(h->be, match_unplug, &m, left < 250 ? (int)left : 250, NULL);
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
		       mp_qmp_strerror(h->be, r, err, sizeof(err)));
		return r;
	}
	if (m.refused) {
		mp_err("%s: the guest refused the unplug (ACPI _OST status "
		       "0x%x: %s); the DIMM stays plugged",
		       d->id, m.status, ost_text(m.status));
		return -EBUSY;
	}
	if (d->backend[0]) {
		r = mp_host_object_del(h, d->backend);
		if (r < 0) {
			mp_err("%s: device removed, but its backend %s is left; "
			       "'memplugctl host cleanup' removes it",
			       d->id, d->backend);
			return r;
		}
	}
	return 0;
}

static int qmp_set_requested(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size)
{
	struct json_object *args = json_object_new_object();
	char path[200];

	snprintf(path, sizeof(path), "/machine/peripheral/%s", d->id);
	mp_json_add_str(args, "path", path);
	mp_json_add_str(args, "property", "requested-size");
	mp_json_add_u64(args, "value", size);
	return mp_host_cmd(h, d->id, "qom-set", args, NULL);
}

static bool match_any(const char *name, struct json_object *data, void *ud)
{
	return true;
}

/* MEMORY_DEVICE_SIZE_CHANGE comes at most once a second and carries nothing
 * the property does not: while polling the size, just drain events. */
static void qmp_drain_events(struct mp_host *h)
{
	while (mp_qmp_event_wait(h->be, match_any, NULL, 0, NULL) == 0)
		;
}

const struct mp_host_backend_ops mp_host_qmp_ops = {
	.name = "qmp",
	.alias_prefix = "",
	.close = qmp_close,
	.qmp = qmp_passthrough,
	.numa_free = mp_host_local_numa_free,
	.plug = qmp_plug,
	.unplug = qmp_unplug,
	.set_requested = qmp_set_requested,
	.drain_events = qmp_drain_events,
};
