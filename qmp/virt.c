// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvirt backend: the mutating steps go through device XML so libvirt's
 * view of the domain stays right (it also does its own object-del rollback
 * when device_add fails); reads go through virDomainQemuMonitorCommand so
 * they share the QMP code in host-state.c.  Works with any URI, remote ones
 * too.  This is struct mp_host_backend_ops for libvirt (mp_virt_ops); the
 * XML it sends is built in virt-xml.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "config.h"
#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

/*
 * libvirt is loaded with dlopen() on first use, not linked: linking it
 * pulls ~55 shared libraries (glib, gnutls, krb5, icu...) whose loading and
 * constructors cost every memplugctl run ~25 ms, QMP-only ones included,
 * and would put them all into the guest initramfs too.
 */
#define VIRT_FUNCS(X)                         \
	X(virConnectClose)                    \
	X(virConnectDomainEventDeregisterAny) \
	X(virConnectDomainEventRegisterAny)   \
	X(virConnectIsAlive)                  \
	X(virConnectOpen)                     \
	X(virConnectSetKeepAlive)             \
	X(virDomainAttachDeviceFlags)         \
	X(virDomainDetachDeviceAlias)         \
	X(virDomainFree)                      \
	X(virDomainGetXMLDesc)                \
	X(virDomainIsActive)                  \
	X(virDomainLookupByName)              \
	X(virDomainLookupByUUIDString)        \
	X(virDomainQemuMonitorCommand)        \
	X(virDomainUpdateDeviceFlags)         \
	X(virEventAddTimeout)                 \
	X(virEventRegisterDefaultImpl)        \
	X(virEventRemoveTimeout)              \
	X(virEventRunDefaultImpl)             \
	X(virGetLastErrorMessage)             \
	X(virNodeGetCellsFreeMemory)          \
	X(virSetErrorFunc)

struct virt_lib {
#define X(f) __typeof__(f) *f;
	VIRT_FUNCS(X)
#undef X
	void *lib, *qemu;
};

/*
 * RTLD_NODELETE: libvirt keeps process-wide state (its event loop, thread
 * locals) that must not be unloaded under a later connection, so dlclose()
 * only drops our reference.
 */
static int virt_load(struct virt_lib *vl)
{
	const int flags = RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE;

	vl->lib = dlopen("libvirt.so.0", flags);
	vl->qemu = vl->lib ? dlopen("libvirt-qemu.so.0", flags) : NULL;
	if (!vl->lib || !vl->qemu) {
		mp_err("libvirt: cannot load it (%s); install libvirt0", dlerror());
		return -EOPNOTSUPP;
	}
#define X(f)                                                         \
	vl->f = (__typeof__(vl->f))dlsym(vl->lib, #f);               \
	if (!vl->f)                                                  \
		vl->f = (__typeof__(vl->f))dlsym(vl->qemu, #f);      \
	if (!vl->f) {                                                \
		mp_err("libvirt: %s missing from libvirt.so.0", #f); \
		return -EOPNOTSUPP;                                  \
	}
	VIRT_FUNCS(X)
#undef X
	return 0;
}

static void virt_unload(struct virt_lib *vl)
{
	if (vl->qemu)
		dlclose(vl->qemu);
	if (vl->lib)
		dlclose(vl->lib);
}

struct mp_virt {
	struct virt_lib vl;
	virConnectPtr conn;
	virDomainPtr dom;
	char name[128];
	char uri[256]; /* "" the default */
	int cb_removed, cb_failed, cb_size;
	int timer;
	/* set by the event callbacks, read by the wait loops */
	char removed[128];
	char failed[128];
	unsigned long long size_change;
	bool size_seen;
};

static void quiet_error(void *ud, virErrorPtr err)
{
	/* libvirt prints every error to stderr unless a handler is set; we
	 * report them ourselves, naming the object */
}

static const char *verr(struct mp_virt *v)
{
	const char *m = v->vl.virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

static void ev_removed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	struct mp_virt *v = opaque;

	snprintf(v->removed, sizeof(v->removed), "%s", alias);
}

static void ev_failed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	struct mp_virt *v = opaque;

	snprintf(v->failed, sizeof(v->failed), "%s", alias);
}

static void ev_size(virConnectPtr conn, virDomainPtr dom, const char *alias,
		    unsigned long long size, void *opaque)
{
	struct mp_virt *v = opaque;

	v->size_change = size;
	v->size_seen = true;
}

static void ev_tick(int timer, void *opaque)
{
	/* only there so virEventRunDefaultImpl() returns at least every
	 * 200 ms and the wait loops can check their deadlines */
}

static void virt_close(void *be);

/* The domain's connection: open, keepalive, the domain looked up and running. */
static int virt_connect(struct mp_virt *v)
{
	const char *uri = v->uri[0] ? v->uri : NULL;

	v->conn = v->vl.virConnectOpen(uri);
	if (!v->conn) {
		mp_err("libvirt %s: cannot connect: %s", uri ? uri : "(default)", verr(v));
		return -ECONNREFUSED;
	}
	/* libvirt's RPCs have no deadline; keepalive (answered by the
	 * client's I/O loop during every call) makes a libvirtd that stopped
	 * answering an error after about 3 x 2 s instead of a hang */
	if (v->vl.virConnectSetKeepAlive(v->conn, 2, 3) < 0)
		mp_dbg("libvirt: keepalive not supported by this connection");
	v->dom = v->vl.virDomainLookupByName(v->conn, v->name);
	if (!v->dom)
		v->dom = v->vl.virDomainLookupByUUIDString(v->conn, v->name);
	if (!v->dom) {
		mp_err("%s: no such libvirt domain", v->name);
		return -ENOENT;
	}
	if (v->vl.virDomainIsActive(v->dom) != 1) {
		mp_err("%s: domain is not running", v->name);
		return -ESRCH;
	}
	return 0;
}

/* Drop the connection (and its event callbacks, registered again on the next). */
static void virt_disconnect(struct mp_virt *v)
{
	if (v->conn) {
		if (v->cb_removed >= 0)
			v->vl.virConnectDomainEventDeregisterAny(v->conn, v->cb_removed);
		if (v->cb_failed >= 0)
			v->vl.virConnectDomainEventDeregisterAny(v->conn, v->cb_failed);
		if (v->cb_size >= 0)
			v->vl.virConnectDomainEventDeregisterAny(v->conn, v->cb_size);
	}
	v->cb_removed = v->cb_failed = v->cb_size = -1;
	if (v->timer >= 0)
		v->vl.virEventRemoveTimeout(v->timer);
	v->timer = -1;
	if (v->dom)
		v->vl.virDomainFree(v->dom);
	v->dom = NULL;
	if (v->conn)
		v->vl.virConnectClose(v->conn);
	v->conn = NULL;
}

int mp_virt_open(const char *uri, const char *domain, void **out)
{
	struct mp_virt *v;
	int r;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->cb_removed = v->cb_failed = v->cb_size = v->timer = -1;
	snprintf(v->name, sizeof(v->name), "%s", domain);
	snprintf(v->uri, sizeof(v->uri), "%s", uri ? uri : "");
	r = virt_load(&v->vl);
	if (r < 0)
		goto fail;
	v->vl.virSetErrorFunc(NULL, quiet_error);
	/* must come before the connection is opened, or it gets no events;
	 * registering again for a second handle is harmless (libvirt's
	 * initialisation runs once, the implementation is the same) */
	if (v->vl.virEventRegisterDefaultImpl() < 0) {
		mp_err("libvirt: cannot set up the event loop: %s", verr(v));
		r = -EIO;
		goto fail;
	}
	r = virt_connect(v);
	if (r < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	virt_close(v);
	return r;
}

/*
 * A long-lived client (host serve) idles between requests without running
 * libvirt's event loop, so it never answers libvirtd's keepalive probes:
 * libvirtd closes such a connection after keepalive_interval x
 * (keepalive_count + 1) seconds (libvirtd.conf; 30 s by default), and a
 * restarted libvirtd has closed it too.  One cheap RPC tells; a dead
 * connection is opened again, retried until @timeout_ms so that a restart
 * of libvirtd costs a wait, not the request.
 */
static int virt_revive(struct mp_host *h, int timeout_ms)
{
	struct mp_virt *v = h->be;
	uint64_t deadline = mp_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	int r, delay_ms = 100;

	if (v->conn && v->dom && v->vl.virConnectIsAlive(v->conn) == 1 &&
	    v->vl.virDomainIsActive(v->dom) == 1)
		return 0;
	mp_warn("%s: the libvirt connection is gone (%s): connecting again", v->name, verr(v));
	for (;;) {
		virt_disconnect(v);
		r = virt_connect(v);
		if (r == 0) {
			mp_notice("%s: connected to libvirt again", v->name);
			return 0;
		}
		/* no such domain, or not running: waiting does not help */
		if (r == -ENOENT || r == -ESRCH || mp_now_ms() >= deadline)
			break;
		usleep((useconds_t)delay_ms * 1000);
		if (delay_ms < 2000)
			delay_ms *= 2;
	}
	virt_disconnect(v);
	return r;
}

/* Registered only when an operation waits for events: three round trips
 * that a plug or a list would pay for nothing. */
static int virt_events(struct mp_virt *v)
{
	if (v->cb_removed >= 0)
		return 0;
	v->cb_removed = v->vl.virConnectDomainEventRegisterAny(
		v->conn, v->dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
		VIR_DOMAIN_EVENT_CALLBACK(ev_removed), v, NULL);
	v->cb_failed = v->vl.virConnectDomainEventRegisterAny(
		v->conn, v->dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
		VIR_DOMAIN_EVENT_CALLBACK(ev_failed), v, NULL);
	v->cb_size = v->vl.virConnectDomainEventRegisterAny(
		v->conn, v->dom, VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
		VIR_DOMAIN_EVENT_CALLBACK(ev_size), v, NULL);
	if (v->cb_removed < 0 || v->cb_failed < 0) {
		mp_err("%s: cannot register for device events: %s", v->name, verr(v));
		return -EIO;
	}
	v->timer = v->vl.virEventAddTimeout(200, ev_tick, NULL, NULL);
	return 0;
}

static void virt_close(void *be)
{
	struct mp_virt *v = be;

	if (!v)
		return;
	virt_disconnect(v);
	virt_unload(&v->vl);
	free(v);
}

static int virt_qmp(struct mp_host *h, const char *cmd, struct json_object *args,
		    struct json_object **ret, char *err, size_t errlen)
{
	struct mp_virt *v = h->be;
	struct json_object *req = json_object_new_object(), *rep, *e, *x;
	char *reply = NULL;
	int r;

	if (ret)
		*ret = NULL;
	mp_json_add_str(req, "execute", cmd);
	if (args)
		json_object_object_add(req, "arguments", args);
	r = v->vl.virDomainQemuMonitorCommand(
		v->dom, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), &reply, 0);
	json_object_put(req);
	if (r < 0) {
		if (err)
			snprintf(err, errlen, "libvirt: %s", verr(v));
		return -EIO;
	}
	rep = json_tokener_parse(reply);
	free(reply);
	if (!rep || !json_object_is_type(rep, json_type_object)) {
		json_object_put(rep);
		if (err)
			snprintf(err, errlen,
				 "libvirt passed back a reply that is "
				 "not a QMP object");
		return -EPROTO;
	}
	if (json_object_object_get_ex(rep, "error", &e)) {
		const char *cls = mp_json_get_str(e, "class", "");
		const char *desc = mp_json_get_str(e, "desc", "");

		if (err)
			snprintf(err, errlen, "%s: %s", cls, desc);
		r = !strcmp(cls, "DeviceNotFound") ? -ENODEV : -EREMOTEIO;
		json_object_put(rep);
		return r;
	}
	if (ret && json_object_object_get_ex(rep, "return", &x))
		*ret = json_object_get(x);
	json_object_put(rep);
	return 0;
}

static int virt_numa_free(struct mp_host *h, int node, uint64_t *free_bytes, int *nnodes)
{
	struct mp_virt *v = h->be;
	unsigned long long fr[64];
	int n;

	/* the domain's host may be remote: ask libvirt, not libnuma */
	n = v->vl.virNodeGetCellsFreeMemory(v->conn, fr, 0, 64);
	if (n < 0) {
		mp_err("libvirt: cannot read the host's free memory per node: %s", verr(v));
		return -EIO;
	}
	if (nnodes)
		*nnodes = n;
	if (node >= 0) {
		if (node >= n)
			return -ENOENT;
		*free_bytes = fr[node];
	}
	return 0;
}

/* The live domain XML, malloc'ed, or NULL (logged). */
static char *live_xml(struct mp_virt *v)
{
	char *x = v->vl.virDomainGetXMLDesc(v->dom, 0);

	if (!x)
		mp_err("%s: cannot read the live domain XML: %s", v->name, verr(v));
	return x;
}

/*
 * libvirt has no per-device host binding for an NVDIMM (its schema's
 * <source> for model nvdimm is path/alignsize/pmem, and a <nodemask> there
 * is dropped without a word): its backend follows the domain's <numatune>
 * for the guest cell.  So that is the binding to report, or to refuse by.
 */
static int virt_bound_host_node(struct mp_host *h, const char *kind, int guest_node, int *host_node)
{
	struct mp_virt *v = h->be;
	char *x;

	*host_node = -1;
	if (strcmp(kind, "nvdimm"))
		return 0;
	x = live_xml(v);
	if (!x)
		return -EIO;
	*host_node = mp_virt_numatune_node(x, guest_node >= 0 ? guest_node : 0);
	free(x);
	if (*host_node < 0) {
		mp_err("%s: libvirt cannot bind an NVDIMM's backend to a host node per device; "
		       "bind guest node %d in the domain instead "
		       "(<numatune><memnode cellid='%d' mode='strict' nodeset='N'/></numatune>)",
		       v->name, guest_node, guest_node);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int virt_plug(struct mp_host *h, const struct mp_host_plug_req *rq)
{
	struct mp_virt *v = h->be;
	char *xml;
	int r = 0;

	if (!strcmp(rq->kind, "dimm") && rq->spec->mem_path)
		mp_warn("ua-%s: libvirt picks a DIMM's backend from the domain's "
			"<memoryBacking>; the backing path is ignored",
			rq->id);
	xml = mp_virt_memory_xml(rq);
	if (!xml)
		return -ENOMEM;
	mp_dbg("%s: attach %s", v->name, xml);
	if (v->vl.virDomainAttachDeviceFlags(v->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		mp_err("ua-%s: libvirt refused to attach the %s: %s", rq->id, rq->kind, verr(v));
		r = -EREMOTEIO;
	}
	free(xml);
	return r;
}

static int virt_unplug(struct mp_host *h, const struct mp_host_memdev *d, int timeout_ms)
{
	struct mp_virt *v = h->be;
	uint64_t start = mp_now_ms();
	char what[256];
	int r;

	r = virt_events(v);
	if (r < 0)
		return r;
	v->removed[0] = v->failed[0] = '\0';
	if (v->vl.virDomainDetachDeviceAlias(v->dom, d->id, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		mp_err("%s: libvirt refused to detach it: %s", d->id, verr(v));
		return -EREMOTEIO;
	}
	snprintf(what, sizeof(what), "%s: waiting for the guest to release it", d->id);
	while (strcmp(v->removed, d->id) && strcmp(v->failed, d->id)) {
		if (mp_now_ms() - start >= (uint64_t)timeout_ms) {
			mp_err("%s: the guest did not release the DIMM within %d "
			       "ms; the unplug request stays pending",
			       d->id, timeout_ms);
			return -ETIMEDOUT;
		}
		if (v->vl.virEventRunDefaultImpl() < 0) {
			mp_err("%s: libvirt event loop failed: %s", d->id, verr(v));
			return -EIO;
		}
		if (v->vl.virConnectIsAlive(v->conn) != 1) {
			mp_err("%s: lost the connection to libvirt", d->id);
			return -ECONNRESET;
		}
		mp_host_progress(h, what, start);
	}
	if (!strcmp(v->failed, d->id)) {
		mp_err("%s: the guest refused the unplug (libvirt "
		       "DEVICE_REMOVAL_FAILED); the DIMM stays plugged",
		       d->id);
		return -EBUSY;
	}
	return 0;
}

static int virt_set_requested(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size)
{
	struct mp_virt *v = h->be;
	char *dom_xml, *xml;
	int r = 0;

	dom_xml = live_xml(v);
	if (!dom_xml)
		return -EIO;
	xml = mp_virt_virtio_mem_xml(dom_xml, d->id, size);
	free(dom_xml);
	if (!xml) {
		mp_err("%s: no virtio-mem <memory> with this alias in the live "
		       "domain XML",
		       d->id);
		return -ENODEV;
	}
	mp_dbg("%s: update %s", v->name, xml);
	v->size_seen = false;
	if (v->vl.virDomainUpdateDeviceFlags(v->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		mp_err("%s: libvirt refused the new requested size: %s", d->id, verr(v));
		r = -EREMOTEIO;
	}
	free(xml);
	return r;
}

static int virt_channel_path(struct mp_host *h, char *path, size_t len)
{
	struct mp_virt *v = h->be;
	char *x = live_xml(v);
	int r;

	if (!x)
		return -EIO;
	r = mp_virt_channel_path(x, "org.memplug.0", path, len);
	free(x);
	return r;
}

const struct mp_host_backend_ops mp_virt_ops = {
	.name = "libvirt",
	/* libvirt turns the alias into QEMU's id with its "ua-" prefix */
	.alias_prefix = "ua-",
	/* QEMU's objects and ids are libvirt's business: ours show up as
	 * devices ("ua-mp-...") and libvirt rolls back itself */
	.owns_objects = true,
	.close = virt_close,
	.qmp = virt_qmp,
	.numa_free = virt_numa_free,
	.bound_host_node = virt_bound_host_node,
	.plug = virt_plug,
	.unplug = virt_unplug,
	.set_requested = virt_set_requested,
	.channel_path = virt_channel_path,
	.revive = virt_revive,
};
