/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_HOST_PRIVATE_H
#define MP_HOST_PRIVATE_H

/*
 * Internals shared by the host-side files:
 *   host.c          the handle, raw QMP passthrough, progress
 *   host-state.c    the VM's state (devices, limits, names in use) and ids
 *   host-place.c    placement: slots/maxmem fit, host NUMA, plans, Proxmox grid
 *   host-ops.c      plug, unplug, resize: the checks, then the backend
 *   host-cleanup.c  orphan backends
 *   host-qmp.c      backend: QEMU's QMP socket directly
 *   virt.c          backend: libvirt (only when built with it)
 *   virt-xml.c      libvirt device XML, built and read (always built, so its
 *                   unit tests run without libvirt)
 */
#include "config.h"
#include "host.h"
#include "qmp.h"

struct mp_host_memdev {
	char kind[16];
	char id[128];
	char backend[128]; /* object id, without "/objects/" */
	uint64_t addr, size;
	int slot, node;
	bool hotplugged;
	uint64_t requested_size, max_size, block_size;
};

struct mp_host_state {
	uint64_t base, plugged, maxmem;
	unsigned int slots, slots_used;
	uint64_t space_left;
	bool nvdimm;
	unsigned int ndevs;
	struct mp_host_memdev *devs;
	unsigned int norphans;
	char **orphans;
	/* every object under /objects and device under /machine/peripheral,
	 * for picking ids that are free */
	unsigned int nnames;
	char **names;
};

/**
 * struct mp_host_plug_req - a plug that passed every check, for a backend
 * @kind: "dimm", "nvdimm" or "virtio-mem"
 * @driver: QEMU's device type ("pc-dimm", "nvdimm", "virtio-mem-pci")
 * @spec: what the caller asked for
 * @host_node: host node the backend is bound to, or MP_HOST_NODE_NONE
 * @id: device id, MP_HOST_ID_PREFIX included, well-formed for QEMU
 */
struct mp_host_plug_req {
	const char *kind;
	const char *driver;
	const struct mp_host_plug_spec *spec;
	int host_node;
	const char *id;
};

/**
 * struct mp_host_backend_ops - how one way of reaching a VM does each step
 * @name: "qmp" or "libvirt", for messages
 * @alias_prefix: optional; what the VM puts before our device ids ("ua-"
 *                for libvirt)
 * @owns_objects: QEMU's object ids are the backend's business (libvirt
 *                names backends itself), so plug need not read them
 * @close: optional; free the backend object
 * @qmp: run a raw QMP command (reads all go through it)
 * @numa_free: optional; free memory of host node @node (-1: only count the
 *             nodes); without it, --host-node is refused (-EOPNOTSUPP)
 * @bound_host_node: optional; the host node the backend will be bound to
 *                   whatever the device asks (-1: free to choose), or
 *                   -EOPNOTSUPP when the binding cannot be had
 * @plug: add the device (and its backend), all or nothing
 * @unplug: remove a DIMM, waiting up to @timeout_ms for the guest
 * @set_requested: set a virtio-mem device's requested size
 * @drain_events: optional; drop queued events while polling
 * @channel_path: optional; the unix socket of the VM's org.memplug.0
 *                channel (libvirt: from the live domain XML), -ENOENT
 *                when it has none
 * @revive: optional; check the connection still answers and open it again
 *          when it does not, retrying until the timeout (a long-lived
 *          caller's libvirt connection, closed by a restart or keepalive)
 */
struct mp_host_backend_ops {
	const char *name;
	const char *alias_prefix;
	bool owns_objects;
	void (*close)(void *be);
	int (*qmp)(struct mp_host *h, const char *cmd, struct json_object *args,
		   struct json_object **ret, char *err, size_t errlen);
	int (*numa_free)(struct mp_host *h, int node, uint64_t *free_bytes, int *nnodes);
	int (*bound_host_node)(struct mp_host *h, const char *kind, int guest_node, int *host_node);
	int (*plug)(struct mp_host *h, const struct mp_host_plug_req *rq);
	int (*unplug)(struct mp_host *h, const struct mp_host_memdev *d, int timeout_ms);
	int (*set_requested)(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size);
	void (*drain_events)(struct mp_host *h);
	int (*channel_path)(struct mp_host *h, char *path, size_t len);
	int (*revive)(struct mp_host *h, int timeout_ms);
};

struct mp_host {
	const struct mp_host_backend_ops *ops;
	void *be; /* struct mp_qmp or struct mp_virt */
	int timeout_ms;
	mp_host_progress_fn progress;
	void *progress_ud;
	uint64_t progress_last; /* when progress was last reported */
	/* the memplug channel to the guest (host-chan.c), when attached */
	struct mp_qmp *chan;
	struct mp_host_hello hello;
	char chan_path[256];
	struct json_object *stale; /* guest status records from before a plug */
	struct mp_host_grow_limiter grow; /* host-grow.c: rate limit, cooldown */
};

/**
 * struct mp_host_proof - the guest's word on one device, every field checked
 * @device: the guest's key ("dimm:slot2")
 * @outcome: ours: online, partial, failed, left, conflict, gone, timeout
 * @guest_outcome: the status record's outcome ("online", "settling", ...)
 * @source: "event" or "status"
 * @blocks: the guest's blocks ("memory32-35")
 * @expected: blocks the host expected to come online
 * @zone: zone the blocks went to
 * @node: guest node, -1 unknown
 * @onlined: blocks onlined
 * @verified: blocks verified
 * @violations: kernel-rule violations
 * @failed: blocks that failed
 * @start: the device's start address, when the guest gave it
 * @policy: the policy that decided ("path:line")
 * @message: the guest's words
 * @online_us: guest time to online (-1 unknown)
 * @verify_us: guest time to verify (-1 unknown)
 * @latency_us: guest time from first uevent to verified (-1 unknown)
 * @host_ms: host time from the plug to this answer
 */
struct mp_host_proof {
	char device[48];
	char outcome[16];
	char guest_outcome[24];
	char source[8];
	char blocks[64];
	uint64_t expected;
	char zone[16];
	int node;
	uint64_t onlined, verified, violations, failed, start;
	char policy[300];
	char message[400];
	int64_t online_us, verify_us, latency_us;
	uint64_t host_ms;
};

extern const struct mp_host_backend_ops mp_host_qmp_ops;

/* host.c */
int mp_host_new(const struct mp_host_backend_ops *ops, void *be, int timeout_ms,
		struct mp_host **out);
void mp_host_progress(struct mp_host *h, const char *what, uint64_t start);
int mp_host_cmd(struct mp_host *h, const char *obj, const char *cmd, struct json_object *args,
		struct json_object **ret);
int mp_host_object_del(struct mp_host *h, const char *id);

/* host-state.c: what a snapshot reads; each part is a QMP round trip
 * (through libvirt a libvirt RPC too, ~3 ms), so operations read only what
 * their checks use. */
enum {
	MP_ST_LIMITS = 1 << 0, /* summary, maxmem, slots */
	MP_ST_NVDIMM = 1 << 1, /* machine's nvdimm=on */
	MP_ST_DEVICES = 1 << 2, /* query-memory-devices (always read) */
	MP_ST_OBJECTS = 1 << 3, /* /objects: ids in use, orphans */
	MP_ST_PERIPHERAL = 1 << 4, /* /machine/peripheral: ids in use */
	MP_ST_ALL = 0x1f,
};
int mp_host_state_read(struct mp_host *h, unsigned int what, struct mp_host_state **out);
int mp_host_find_dev(struct mp_host *h, const char *id, struct mp_host_state **st,
		     const struct mp_host_memdev **d);
int mp_host_strv_add(char ***v, unsigned int *n, const char *s);
int mp_host_next_id(const struct mp_host_state *st, const char *kind, char *id, size_t idlen);
int mp_host_make_id(const struct mp_host_state *st, const char *want, const char *kind, char *id,
		    size_t idlen);

/* host-chan.c */
int mp_host_chan_execute(struct mp_host *h, const char *cmd, struct json_object *args,
			 int timeout_ms, struct json_object **ret);
void mp_host_device_key(const struct mp_host_memdev *d, char *key, size_t len);
int mp_host_guest_key(struct mp_host *h, const struct mp_host_memdev *d, char *key, size_t len);

/* host-place.c */
int mp_host_check_fit(const struct mp_host_state *st, const char *id, uint64_t size,
		      bool needs_slot);
int mp_host_local_numa_free(struct mp_host *h, int node, uint64_t *free_bytes, int *nnodes);

/* virt-xml.c */
char *mp_virt_memory_xml(const struct mp_host_plug_req *rq);
char *mp_virt_virtio_mem_xml(const char *dom_xml, const char *alias, uint64_t size);
int mp_virt_numatune_node(const char *dom_xml, int cell);
int mp_virt_channel_path(const char *dom_xml, const char *name, char *path, size_t len);

#if HAVE_LIBVIRT
int mp_virt_open(const char *uri, const char *domain, void **out);
extern const struct mp_host_backend_ops mp_virt_ops;
#endif

#endif
