// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvirt backend: the mutating steps go through device XML so libvirt's
 * view of the domain stays right (it also does its own object-del rollback
 * when device_add fails); reads go through virDomainQemuMonitorCommand so
 * they share the QMP code in host.c.  Works with any URI, remote ones too.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "config.h"
#include "host-private.h"
#include "log.h"
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

static struct {
#define X(f) __typeof__(f) *f;
	VIRT_FUNCS(X)
#undef X
} vl;

static int virt_load(void)
{
	static int loaded;
	void *lib, *qemu;

	if (loaded)
		return loaded > 0 ? 0 : -EOPNOTSUPP;
	loaded = -1;
	lib = dlopen("libvirt.so.0", RTLD_NOW | RTLD_GLOBAL);
	qemu = lib ? dlopen("libvirt-qemu.so.0", RTLD_NOW | RTLD_GLOBAL) : NULL;
	if (!lib || !qemu) {
		mp_err("libvirt: cannot load it (%s); install libvirt0", dlerror());
		return -EOPNOTSUPP;
	}
#define X(f)                                                         \
	vl.f = (__typeof__(vl.f))dlsym(lib, #f);                     \
	if (!vl.f)                                                   \
		vl.f = (__typeof__(vl.f))dlsym(qemu, #f);            \
	if (!vl.f) {                                                 \
		mp_err("libvirt: %s missing from libvirt.so.0", #f); \
		return -EOPNOTSUPP;                                  \
	}
	VIRT_FUNCS(X)
#undef X
	loaded = 1;
	return 0;
}

struct mp_virt {
	virConnectPtr conn;
	virDomainPtr dom;
	char name[128];
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

static const char *verr(void)
{
	const char *m = vl.virGetLastErrorMessage();

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
	/* only there so vl.virEventRunDefaultImpl() returns at least every
	 * 200 ms and the wait loops can check their deadlines */
}

static int event_impl_registered;

int mp_virt_open(const char *uri, const char *domain, struct mp_virt **out)
{
	struct mp_virt *v;
	int r;

	*out = NULL;
	r = virt_load();
	if (r < 0)
		return r;
	vl.virSetErrorFunc(NULL, quiet_error);
	if (!event_impl_registered) {
		/* must come before the connection is opened, or it gets no
		 * events */
		if (vl.virEventRegisterDefaultImpl() < 0) {
			mp_err("libvirt: cannot set up the event loop: %s", verr());
			return -EIO;
		}
		event_impl_registered = 1;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->cb_removed = v->cb_failed = v->cb_size = v->timer = -1;
	snprintf(v->name, sizeof(v->name), "%s", domain);
	v->conn = vl.virConnectOpen(uri);
	if (!v->conn) {
		mp_err("libvirt %s: cannot connect: %s", uri ? uri : "(default)", verr());
		free(v);
		return -ECONNREFUSED;
	}
	/* libvirt's RPCs have no deadline; keepalive (answered by the
	 * client's I/O loop during every call) makes a libvirtd that stopped
	 * answering an error after about 3 x 2 s instead of a hang */
	if (vl.virConnectSetKeepAlive(v->conn, 2, 3) < 0)
		mp_dbg("libvirt: keepalive not supported by this connection");
	v->dom = vl.virDomainLookupByName(v->conn, domain);
	if (!v->dom)
		v->dom = vl.virDomainLookupByUUIDString(v->conn, domain);
	if (!v->dom) {
		mp_err("%s: no such libvirt domain", domain);
		r = -ENOENT;
		goto fail;
	}
	if (vl.virDomainIsActive(v->dom) != 1) {
		mp_err("%s: domain is not running", domain);
		r = -ESRCH;
		goto fail;
	}
	*out = v;
	return 0;
fail:
	mp_virt_close(v);
	return r;
}

/* Registered only when an operation waits for events: three round trips
 * that a plug or a list would pay for nothing. */
static int virt_events(struct mp_virt *v)
{
	if (v->cb_removed >= 0)
		return 0;
	v->cb_removed = vl.virConnectDomainEventRegisterAny(
		v->conn, v->dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
		VIR_DOMAIN_EVENT_CALLBACK(ev_removed), v, NULL);
	v->cb_failed = vl.virConnectDomainEventRegisterAny(
		v->conn, v->dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
		VIR_DOMAIN_EVENT_CALLBACK(ev_failed), v, NULL);
	v->cb_size = vl.virConnectDomainEventRegisterAny(
		v->conn, v->dom, VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
		VIR_DOMAIN_EVENT_CALLBACK(ev_size), v, NULL);
	if (v->cb_removed < 0 || v->cb_failed < 0) {
		mp_err("%s: cannot register for device events: %s", v->name, verr());
		return -EIO;
	}
	v->timer = vl.virEventAddTimeout(200, ev_tick, NULL, NULL);
	return 0;
}

void mp_virt_close(struct mp_virt *v)
{
	if (!v)
		return;
	if (v->timer >= 0)
		vl.virEventRemoveTimeout(v->timer);
	if (v->conn) {
		if (v->cb_removed >= 0)
			vl.virConnectDomainEventDeregisterAny(v->conn, v->cb_removed);
		if (v->cb_failed >= 0)
			vl.virConnectDomainEventDeregisterAny(v->conn, v->cb_failed);
		if (v->cb_size >= 0)
			vl.virConnectDomainEventDeregisterAny(v->conn, v->cb_size);
	}
	if (v->dom)
		vl.virDomainFree(v->dom);
	if (v->conn)
		vl.virConnectClose(v->conn);
	free(v);
}

int mp_virt_qmp(struct mp_virt *v, const char *cmd, struct json_object *args,
		struct json_object **ret, char *err, size_t errlen)
{
	struct json_object *req = json_object_new_object(), *rep, *e, *x;
	char *reply = NULL;
	int r;

	if (ret)
		*ret = NULL;
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	r = vl.virDomainQemuMonitorCommand(
		v->dom, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), &reply, 0);
	json_object_put(req);
	if (r < 0) {
		if (err)
			snprintf(err, errlen, "libvirt: %s", verr());
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
		const char *cls = "", *desc = "";

		if (json_object_object_get_ex(e, "class", &x))
			cls = json_object_get_string(x);
		if (json_object_object_get_ex(e, "desc", &x))
			desc = json_object_get_string(x);
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

int mp_virt_numa_free(struct mp_virt *v, int node, uint64_t *free_bytes, int *nnodes)
{
	unsigned long long fr[64];
	int n;

	n = vl.virNodeGetCellsFreeMemory(v->conn, fr, 0, 64);
	if (n < 0) {
		mp_err("libvirt: cannot read the host's free memory per node: %s", verr());
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

int mp_virt_plug(struct mp_host *h, const char *kind, const struct mp_host_plug_spec *spec,
		 int host_node, const char *id)
{
	struct mp_virt *v = h->virt;
	char xml[2048], src[600] = "", extra[256] = "";
	uint64_t kib = spec->size >> 10;
	int n;

	if (host_node >= 0)
		snprintf(src, sizeof(src), "<source><nodemask>%d</nodemask></source>", host_node);
	if (!strcmp(kind, "nvdimm")) {
		snprintf(src, sizeof(src), "<source><path>%s</path></source>", spec->mem_path);
		if (spec->label_size) {
			snprintf(extra, sizeof(extra),
				 "<label><size unit='KiB'>%" PRIu64 "</size></label>",
				 spec->label_size >> 10);
			kib += spec->label_size >> 10;
		}
	} else if (!strcmp(kind, "virtio-mem")) {
		snprintf(extra, sizeof(extra),
			 "<block unit='KiB'>2048</block>"
			 "<requested unit='KiB'>%" PRIu64 "</requested>",
			 spec->requested_size >> 10);
	} else if (spec->mem_path) {
		mp_warn("%s: libvirt picks a DIMM's backend from the domain's "
			"<memoryBacking>; the backing path is ignored",
			id);
	}
	/* libvirt accepts user aliases only with its "ua-" prefix */
	n = snprintf(xml, sizeof(xml),
		     "<memory model='%s'>%s<target><size unit='KiB'>%" PRIu64
		     "</size><node>%d</node>%s</target><alias name='ua-%s'/></memory>",
		     kind, src, kib, spec->node >= 0 ? spec->node : 0, extra, id);
	if (n < 0 || (size_t)n >= sizeof(xml))
		return -ENAMETOOLONG;
	mp_dbg("%s: attach %s", v->name, xml);
	if (vl.virDomainAttachDeviceFlags(v->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		mp_err("ua-%s: libvirt refused to attach the %s: %s", id, kind, verr());
		return -EREMOTEIO;
	}
	return 0;
}

int mp_virt_unplug(struct mp_host *h, const struct mp_host_memdev *d, int timeout_ms)
{
	struct mp_virt *v = h->virt;
	long long start = mp_host_now_ms();
	char what[256];

	int r;

	r = virt_events(v);
	if (r < 0)
		return r;
	v->removed[0] = v->failed[0] = '\0';
	if (vl.virDomainDetachDeviceAlias(v->dom, d->id, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		mp_err("%s: libvirt refused to detach it: %s", d->id, verr());
		return -EREMOTEIO;
	}
	snprintf(what, sizeof(what), "%s: waiting for the guest to release it", d->id);
	while (strcmp(v->removed, d->id) && strcmp(v->failed, d->id)) {
		if (mp_host_now_ms() - start >= timeout_ms) {
			mp_err("%s: the guest did not release the DIMM within %d "
			       "ms; the unplug request stays pending",
			       d->id, timeout_ms);
			return -ETIMEDOUT;
		}
		if (vl.virEventRunDefaultImpl() < 0) {
			mp_err("%s: libvirt event loop failed: %s", d->id, verr());
			return -EIO;
		}
		if (vl.virConnectIsAlive(v->conn) != 1) {
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

/*
 * vl.virDomainUpdateDeviceFlags() wants the live XML of the device, with its
 * alias and PCI address, as virsh update-memory-device builds it: cut the
 * <memory> element holding the alias out of the live domain XML and
 * replace its <requested>.  libvirt formats its own XML deterministically
 * (single quotes, one element per line), which is what this relies on.
 */
static char *virtio_mem_xml(const char *dom_xml, const char *alias, uint64_t size)
{
	char needle[200], *res, *p;
	const char *a, *start, *end, *rq, *rq_end;
	size_t n;

	snprintf(needle, sizeof(needle), "<alias name='%s'/>", alias);
	a = strstr(dom_xml, needle);
	if (!a)
		return NULL;
	for (start = a; start > dom_xml && strncmp(start, "<memory model='virtio-mem'", 26);
	     start--)
		;
	end = strstr(a, "</memory>");
	if (start == dom_xml || !end)
		return NULL;
	end += strlen("</memory>");
	rq = strstr(start, "<requested");
	if (!rq || rq > end)
		return NULL;
	rq_end = strstr(rq, "</requested>");
	if (!rq_end || rq_end > end)
		return NULL;
	rq_end += strlen("</requested>");
	n = (size_t)(end - start) + 128;
	res = malloc(n);
	if (!res)
		return NULL;
	p = res;
	p += sprintf(p, "%.*s", (int)(rq - start), start);
	p += sprintf(p, "<requested unit='KiB'>%" PRIu64 "</requested>", size >> 10);
	sprintf(p, "%.*s", (int)(end - rq_end), rq_end);
	return res;
}

int mp_virt_resize(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size, int timeout_ms)
{
	struct mp_virt *v = h->virt;
	char *dom_xml, *xml;

	dom_xml = vl.virDomainGetXMLDesc(v->dom, 0);
	if (!dom_xml) {
		mp_err("%s: cannot read the live domain XML: %s", v->name, verr());
		return -EIO;
	}
	xml = virtio_mem_xml(dom_xml, d->id, size);
	free(dom_xml);
	if (!xml) {
		mp_err("%s: no virtio-mem <memory> with this alias in the live "
		       "domain XML",
		       d->id);
		return -ENODEV;
	}
	mp_dbg("%s: update %s", v->name, xml);
	v->size_seen = false;
	if (vl.virDomainUpdateDeviceFlags(v->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		mp_err("%s: libvirt refused the new requested size: %s", d->id, verr());
		free(xml);
		return -EREMOTEIO;
	}
	free(xml);
	if (!timeout_ms)
		return 0;
	return mp_host_wait_size(h, d, size, timeout_ms);
}
