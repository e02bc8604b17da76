/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_HOST_H
#define MP_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/*
 * Memory hotplug of a running VM, from the host: DIMM, NVDIMM and virtio-mem
 * devices added, resized, removed and listed, through QEMU's QMP socket or
 * through libvirt.  Everything memplug creates carries MP_HOST_ID_PREFIX, so
 * a backend left without its device by an interrupted run is recognised and
 * removed by mp_host_cleanup().
 */
struct mp_host;
struct mp_host_state;
struct mp_host_memdev;
struct mp_host_plan;
struct mp_qmp;

#define MP_HOST_ID_PREFIX "mp-"
/* Suffix of the backend object of device ID: "mp-dimm0" -> "mp-dimm0-mem". */
#define MP_HOST_BACKEND_SUFFIX "-mem"

#define MP_HOST_NODE_NONE (-1) /* no host NUMA binding */
#define MP_HOST_NODE_AUTO (-2) /* bind to the host node with most free memory */

/* Guests hot-add and online memory in blocks of this size (x86-64). */
#define MP_HOST_BLOCK_SIZE (128ull << 20)

/**
 * struct mp_host_plug_spec - what to plug
 * @size: bytes the guest gets (an NVDIMM's label area comes on top)
 * @node: guest NUMA node (DIMM, NVDIMM, virtio-mem)
 * @host_node: MP_HOST_NODE_NONE, MP_HOST_NODE_AUTO or a host node number
 * @mem_path: file or hugetlbfs path: memory-backend-file instead of -ram
 *            (required for an NVDIMM)
 * @share: map the backend shared (file backends)
 * @prealloc: preallocate the backend's memory on the host
 * @id: device id; NULL picks the next free "mp-<kind>N"; an id without
 *      MP_HOST_ID_PREFIX gets it prepended; it must satisfy
 *      mp_host_id_wellformed(), or the plug is refused before anything is
 *      sent
 * @label_size: NVDIMM label area (0 = no labels)
 * @requested_size: virtio-mem: size plugged at once (0 = none)
 * @force: skip memplug's own checks (free slots, maxmem, alignment) and let
 *         QEMU decide; the rollback still happens
 */
struct mp_host_plug_spec {
	uint64_t size;
	int node;
	int host_node;
	const char *mem_path;
	bool share;
	bool prealloc;
	const char *id;
	uint64_t label_size;
	uint64_t requested_size;
	bool force;
};

/**
 * typedef mp_host_progress_fn - called about once a second during long waits
 * @what: what is being waited for ("mp-dimm0: waiting for the guest to release it")
 * @elapsed_ms: time waited so far
 * @ud: caller's pointer
 */
typedef void (*mp_host_progress_fn)(const char *what, long elapsed_ms, void *ud);

/**
 * mp_host_open_qmp() - reach a VM through its QMP socket
 * @path: QMP unix socket
 * @timeout_ms: deadline for each QMP command (0: default)
 * @out: receives the handle
 *
 * Return: 0 or -errno (see mp_qmp_connect()).
 */
int mp_host_open_qmp(const char *path, int timeout_ms, struct mp_host **out);

/**
 * mp_host_open_libvirt() - reach a VM through libvirt
 * @uri: libvirt URI ("qemu:///system", "qemu+ssh://host/system"), NULL = default
 * @domain: domain name or UUID
 * @timeout_ms: deadline for waits (0: default)
 * @out: receives the handle
 *
 * Return: 0, -EOPNOTSUPP when built without libvirt, -ECONNREFUSED when the
 * connection fails, -ENOENT when there is no such domain, -ESRCH when it is
 * not running.
 */
int mp_host_open_libvirt(const char *uri, const char *domain, int timeout_ms, struct mp_host **out);

/**
 * mp_host_close() - disconnect and free
 * @h: handle, may be NULL
 */
void mp_host_close(struct mp_host *h);

/**
 * mp_host_set_progress() - install a progress callback for long waits
 * @h: handle
 * @fn: callback or NULL
 * @ud: passed to @fn
 */
void mp_host_set_progress(struct mp_host *h, mp_host_progress_fn fn, void *ud);

/**
 * mp_host_qmp() - run a raw QMP command (directly, or through libvirt's
 *                 virDomainQemuMonitorCommand)
 * @h: handle
 * @cmd: command
 * @args: arguments or NULL; consumed
 * @ret: receives the "return" member, may be NULL
 * @err: receives "Class: description" or the errno text on failure, may be NULL
 * @errlen: size of @err
 *
 * Return: 0 or -errno as mp_qmp_execute().
 */
int mp_host_qmp(struct mp_host *h, const char *cmd, struct json_object *args,
		struct json_object **ret, char *err, size_t errlen);

/**
 * mp_host_id_wellformed() - whether QEMU would take @id as a device/object id
 * @id: id to check
 *
 * QEMU's id_wellformed() (util/id.c): a letter first, then letters, digits,
 * '-', '.' and '_'.
 *
 * Return: true when QEMU accepts it.
 */
bool mp_host_id_wellformed(const char *id);

/**
 * mp_host_id_check() - check a user's device id before anything is sent
 * @want: the id asked for (MP_HOST_ID_PREFIX is prepended when missing), or
 *        NULL for a generated one
 *
 * Return: 0; -EINVAL when QEMU would refuse it, -ENAMETOOLONG when longer
 * than 100 characters (both logged, naming the id).
 */
int mp_host_id_check(const char *want);

/**
 * mp_host_plug_dimm() - hot-add a pc-dimm
 * @h: handle
 * @spec: what to plug
 * @id: receives the device id
 * @idlen: size of @id
 *
 * Over QMP: object-add of the backend, then device_add; when device_add
 * fails the backend is deleted again, so a failure leaves nothing behind.
 * Free slots, address space under maxmem and the host node's free memory
 * are checked before anything is sent.
 *
 * Return: 0 or -errno (-ENOSPC no slot or address space, -ENOMEM host node
 * lacks the memory, -EINVAL bad size or id, -EEXIST id taken, -EREMOTEIO
 * QEMU or libvirt refused).
 */
int mp_host_plug_dimm(struct mp_host *h, const struct mp_host_plug_spec *spec, char *id,
		      size_t idlen);

/**
 * mp_host_plug_nvdimm() - hot-add an NVDIMM (memory-backend-file + nvdimm)
 * @h: handle
 * @spec: what to plug; @spec->mem_path is required
 * @id: receives the device id
 * @idlen: size of @id
 *
 * Through libvirt a host node (@spec->host_node) can only come from the
 * domain's <numatune> for the guest node: libvirt has no per-device binding
 * for an NVDIMM.  Without one, a host node is refused before anything is
 * sent.
 *
 * Return: 0 or -errno; -EOPNOTSUPP when the machine was started without
 * nvdimm=on (it can only be set at boot), or a host node was asked of a
 * libvirt domain that does not bind the guest node.
 */
int mp_host_plug_nvdimm(struct mp_host *h, const struct mp_host_plug_spec *spec, char *id,
			size_t idlen);

/**
 * mp_host_plug_virtio_mem() - hot-add a virtio-mem-pci device
 * @h: handle
 * @spec: @size is the device's maximum, @requested_size what is plugged now
 * @id: receives the device id
 * @idlen: size of @id
 *
 * Return: 0 or -errno.
 */
int mp_host_plug_virtio_mem(struct mp_host *h, const struct mp_host_plug_spec *spec, char *id,
			    size_t idlen);

/**
 * mp_host_unplug() - remove a DIMM and its backend
 * @h: handle
 * @id: device id
 * @timeout_ms: how long the guest gets to release the memory
 *
 * Sends device_del and waits for DEVICE_DELETED.  A refusal by the guest
 * (ACPI _OST failure, or libvirt's DEVICE_REMOVAL_FAILED) is reported as
 * such and the DIMM stays in place.  NVDIMMs and virtio-mem devices are
 * refused before anything is sent: QEMU cannot unplug them.
 *
 * Return: 0; -EBUSY guest refused; -ETIMEDOUT no answer (the request stays
 * pending in QEMU); -ENODEV no such device; -EOPNOTSUPP not unpluggable.
 */
int mp_host_unplug(struct mp_host *h, const char *id, int timeout_ms);

/**
 * mp_host_resize() - set a virtio-mem device's requested size
 * @h: handle
 * @id: device id
 * @size: new requested size
 * @timeout_ms: wait until the device's size reaches @size (0: don't wait)
 *
 * The size is checked against the device's block size and maximum before
 * anything is sent.  Completion is seen by polling the "size" property,
 * since MEMORY_DEVICE_SIZE_CHANGE is rate limited by QEMU.
 *
 * Return: 0; -EINVAL bad size; -ETIMEDOUT the guest did not get there in
 * time (the request stays set).
 */
int mp_host_resize(struct mp_host *h, const char *id, uint64_t size, int timeout_ms);

/**
 * mp_host_cleanup() - find, and unless @dry_run remove, orphan backends
 * @h: handle
 * @dry_run: only report
 * @found: receives the number of orphans found, may be NULL
 *
 * An orphan is an object whose id starts with MP_HOST_ID_PREFIX that no
 * memory device uses: what a run killed between object-add and device_add,
 * or between DEVICE_DELETED and object-del, leaves behind.
 *
 * Return: number of orphans removed, or -errno.
 */
int mp_host_cleanup(struct mp_host *h, bool dry_run, unsigned int *found);

/**
 * mp_host_state_get() - read the VM's memory devices and limits
 * @h: handle
 * @out: receives a snapshot, freed with mp_host_state_free()
 *
 * Return: 0 or -errno.
 */
int mp_host_state_get(struct mp_host *h, struct mp_host_state **out);

/**
 * mp_host_state_free() - free a snapshot
 * @st: snapshot, may be NULL
 */
void mp_host_state_free(struct mp_host_state *st);

/**
 * mp_host_state_get_base() - state base
 * @st: snapshot
 *
 * Return: boot memory (query-memory-size-summary base-memory).
 */
uint64_t mp_host_state_get_base(const struct mp_host_state *st);

/**
 * mp_host_state_get_plugged() - state plugged
 * @st: snapshot
 *
 * Return: memory in memory devices, as QEMU counts it.
 */
uint64_t mp_host_state_get_plugged(const struct mp_host_state *st);

/**
 * mp_host_state_get_maxmem() - state maxmem
 * @st: snapshot
 *
 * Return: the machine's maxmem (0 without memory hotplug).
 */
uint64_t mp_host_state_get_maxmem(const struct mp_host_state *st);

/**
 * mp_host_state_get_slots() - state slots
 * @st: snapshot
 *
 * Return: DIMM slots the machine was started with.
 */
unsigned int mp_host_state_get_slots(const struct mp_host_state *st);

/**
 * mp_host_state_get_slots_used() - state slots used
 * @st: snapshot
 *
 * Return: slots taken by DIMMs and NVDIMMs (virtio-mem takes none).
 */
unsigned int mp_host_state_get_slots_used(const struct mp_host_state *st);

/**
 * mp_host_state_get_space_left() - state space left
 * @st: snapshot
 *
 * Return: bytes still addable under maxmem (virtio-mem counts its maximum).
 */
uint64_t mp_host_state_get_space_left(const struct mp_host_state *st);

/**
 * mp_host_state_get_nvdimm() - state nvdimm
 * @st: snapshot
 *
 * Return: whether the machine runs with nvdimm=on.
 */
bool mp_host_state_get_nvdimm(const struct mp_host_state *st);

/**
 * mp_host_state_get_ndevs() - state ndevs
 * @st: snapshot
 *
 * Return: number of memory devices.
 */
unsigned int mp_host_state_get_ndevs(const struct mp_host_state *st);

/**
 * mp_host_state_get_dev() - state dev
 * @st: snapshot
 * @i: index
 *
 * Return: memory device @i (in QEMU's order), NULL past the end.
 */
const struct mp_host_memdev *mp_host_state_get_dev(const struct mp_host_state *st, unsigned int i);

/**
 * mp_host_state_get_norphans() - state norphans
 * @st: snapshot
 *
 * Return: number of orphan backends (see mp_host_cleanup()).
 */
unsigned int mp_host_state_get_norphans(const struct mp_host_state *st);

/**
 * mp_host_state_get_orphan() - state orphan
 * @st: snapshot
 * @i: index
 *
 * Return: id of orphan backend @i, NULL past the end.
 */
const char *mp_host_state_get_orphan(const struct mp_host_state *st, unsigned int i);

/**
 * mp_host_state_find() - memory device by id
 * @st: snapshot
 * @id: device id
 *
 * Return: the device or NULL.
 */
const struct mp_host_memdev *mp_host_state_find(const struct mp_host_state *st, const char *id);

/**
 * mp_host_state_to_json() - the snapshot as a JSON object (for -J output)
 * @st: snapshot
 *
 * Return: new object, or NULL on allocation failure.
 */
struct json_object *mp_host_state_to_json(const struct mp_host_state *st);

/**
 * mp_host_memdev_get_kind() - memdev kind
 * @d: memory device
 *
 * Return: "dimm", "nvdimm", "virtio-mem" (QEMU's type).
 */
const char *mp_host_memdev_get_kind(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_id() - memdev id
 * @d: memory device
 *
 * Return: device id, "" when the device has none.
 */
const char *mp_host_memdev_get_id(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_backend() - memdev backend
 * @d: memory device
 *
 * Return: backend object id (without "/objects/").
 */
const char *mp_host_memdev_get_backend(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_addr() - memdev addr
 * @d: memory device
 *
 * Return: guest physical address.
 */
uint64_t mp_host_memdev_get_addr(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_size() - memdev size
 * @d: memory device
 *
 * Return: size; for virtio-mem the part plugged now.
 */
uint64_t mp_host_memdev_get_size(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_slot() - memdev slot
 * @d: memory device
 *
 * Return: slot, -1 for virtio-mem.
 */
int mp_host_memdev_get_slot(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_node() - memdev node
 * @d: memory device
 *
 * Return: guest NUMA node.
 */
int mp_host_memdev_get_node(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_requested_size() - memdev requested size
 * @d: memory device
 *
 * Return: virtio-mem requested size (0 for others).
 */
uint64_t mp_host_memdev_get_requested_size(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_max_size() - memdev max size
 * @d: memory device
 *
 * Return: virtio-mem maximum (0 for others).
 */
uint64_t mp_host_memdev_get_max_size(const struct mp_host_memdev *d);

/**
 * mp_host_memdev_get_block_size() - memdev block size
 * @d: memory device
 *
 * Return: virtio-mem block size (0 for others).
 */
uint64_t mp_host_memdev_get_block_size(const struct mp_host_memdev *d);

/**
 * mp_host_plan_new() - split a size into DIMMs spread over guest nodes
 * @total: bytes to add, a multiple of MP_HOST_BLOCK_SIZE
 * @dimm_size: size of each DIMM (the last one takes the rest); 0 = one DIMM
 *             per node, the size split evenly in whole blocks
 * @nodes: guest nodes to spread over, round robin as Proxmox does
 * @nnodes: number of @nodes (>= 1)
 * @out: receives the plan
 *
 * Return: 0 or -EINVAL (sizes not in whole blocks, no nodes).
 */
int mp_host_plan_new(uint64_t total, uint64_t dimm_size, const int *nodes, unsigned int nnodes,
		     struct mp_host_plan **out);

/**
 * mp_host_plan_new_proxmox() - DIMMs on Proxmox's grid
 * @total: bytes to add: must be the sum of the next DIMMs of the grid
 * @first: index of the first new DIMM (the DIMMs the VM already has)
 * @nodes: guest nodes
 * @nnodes: number of @nodes (>= 1)
 * @out: receives the plan
 *
 * Proxmox's layout (PVE::QemuServer::Memory): 32 DIMMs of 512 MiB, then 32 of
 * 1 GiB, doubling every 32 DIMMs; DIMM i of a size class on node i % nodes.
 *
 * Return: 0, or -EINVAL with the nearest sizes on the grid logged.
 */
int mp_host_plan_new_proxmox(uint64_t total, unsigned int first, const int *nodes,
			     unsigned int nnodes, struct mp_host_plan **out);

/**
 * mp_host_plan_check() - whether a plan fits the VM's free slots and maxmem
 * @plan: plan
 * @st: snapshot of the VM
 *
 * Return: 0, or -ENOSPC with the reason logged.
 */
int mp_host_plan_check(const struct mp_host_plan *plan, const struct mp_host_state *st);

/**
 * mp_host_plan_free() - free a plan
 * @plan: plan, may be NULL
 */
void mp_host_plan_free(struct mp_host_plan *plan);

/**
 * mp_host_plan_get_count() - plan count
 * @plan: plan
 *
 * Return: number of DIMMs.
 */
unsigned int mp_host_plan_get_count(const struct mp_host_plan *plan);

/**
 * mp_host_plan_get_size() - plan size
 * @plan: plan
 * @i: index
 *
 * Return: size of DIMM @i (0 past the end).
 */
uint64_t mp_host_plan_get_size(const struct mp_host_plan *plan, unsigned int i);

/**
 * mp_host_plan_get_node() - plan node
 * @plan: plan
 * @i: index
 *
 * Return: guest node of DIMM @i (-1 past the end).
 */
int mp_host_plan_get_node(const struct mp_host_plan *plan, unsigned int i);

/**
 * mp_host_plug_plan() - plug every DIMM of a plan, checked first as a whole
 * @h: handle
 * @plan: plan
 * @tmpl: spec for each DIMM; size, node and id are taken from the plan
 * @ids: receives the ids plugged (caller frees each and the array), may be NULL
 *
 * Each DIMM is all-or-nothing; a failure after some DIMMs went in leaves those
 * in place (unplugging needs the guest) and returns their count.
 *
 * Return: number of DIMMs plugged (less than the plan's count = partial) or
 * -errno when none was.
 */
int mp_host_plug_plan(struct mp_host *h, const struct mp_host_plan *plan,
		      const struct mp_host_plug_spec *tmpl, char ***ids);

/* ---- the memplug channel (docs/channel.md), host-chan.c and host-coord.c ---- */

#define MP_HOST_CHAN_PROTOCOL 1
/* How long a guest gets to greet: memplugd answers a connect at once, so
 * a silent channel means no memplugd (or another client holds it). */
#define MP_HOST_CHAN_GREETING_MS 5000

/**
 * struct mp_host_hello_node - one guest node from the greeting
 * @node: node number
 * @total: memory on the node
 * @free: free memory on the node
 * @kernel_early: kernel-zone memory present at boot
 * @movable: ZONE_MOVABLE memory
 * @kernel_free: free memory in the kernel zones (DMA, DMA32, Normal)
 */
struct mp_host_hello_node {
	int node;
	uint64_t total, free, kernel_early, movable, kernel_free;
};

/**
 * struct mp_host_hello - the guest's greeting, validated
 * @protocol: channel protocol version (MP_HOST_CHAN_PROTOCOL)
 * @version: memplug version in the guest
 * @kernel: guest kernel release
 * @auto_online: the guest's auto_online_blocks
 * @block_size: memory block size
 * @memmap_on_memory: memory_hotplug.memmap_on_memory is on
 * @nnodes: entries in @nodes
 * @nodes: the guest's nodes
 */
struct mp_host_hello {
	int protocol;
	char version[32];
	char kernel[128];
	char auto_online[32];
	uint64_t block_size;
	bool memmap_on_memory;
	unsigned int nnodes;
	struct mp_host_hello_node nodes[64];
};

/**
 * struct mp_host_memmap - what the memmap of a plug costs the guest
 * @need: bytes of kernel-zone memory it needs (0 when self-hosted)
 * @avail: free kernel-zone memory of all guest nodes
 * @node: the device's guest node
 * @node_avail: free kernel-zone memory of @node
 * @self_hosted: memmap_on_memory puts it on the added memory
 * @rule: why (or why not) it is self-hosted
 */
struct mp_host_memmap {
	uint64_t need, avail;
	int node;
	uint64_t node_avail;
	bool self_hosted;
	const char *rule;
};

int mp_host_hello_parse(struct json_object *g, struct mp_host_hello *out, char *why, size_t len);
int mp_host_memmap_check(const struct mp_host_hello *hello, const char *kind, uint64_t size,
			 int node, struct mp_host_memmap *out);

/**
 * mp_host_channel_attach() - connect the handle to the guest's memplugd
 * @h: handle
 * @path: the channel's unix socket; NULL asks the backend (libvirt: the
 *        live domain XML's org.memplug.0 channel)
 * @timeout_ms: deadline for connect and greeting (0: MP_HOST_CHAN_GREETING_MS)
 * @why: receives why there is no channel, for "no proof available: WHY"
 * @len: size of @why
 *
 * Return: 0; -ENOENT no channel; -ECONNREFUSED, -ETIMEDOUT no memplugd
 * answering; -EPROTONOSUPPORT another protocol version; -EBADMSG an
 * invalid greeting.
 */
int mp_host_channel_attach(struct mp_host *h, const char *path, int timeout_ms, char *why,
			   size_t len);

/**
 * mp_host_has_channel() - is a memplugd answering on the channel?
 * @h: handle
 *
 * Return: true after a successful mp_host_channel_attach().
 */
bool mp_host_has_channel(const struct mp_host *h);

/**
 * mp_host_get_hello() - the guest's validated greeting
 * @h: handle
 *
 * Return: the greeting, NULL without a channel.
 */
const struct mp_host_hello *mp_host_get_hello(const struct mp_host *h);

/**
 * mp_host_hello_refresh() - ask the guest for a fresh greeting ("hello")
 * @h: handle
 *
 * Return: 0 or -errno (logged).
 */
int mp_host_hello_refresh(struct mp_host *h);

/**
 * mp_host_proof_begin() - call before a plug whose proof will be waited for
 * @h: handle with a channel
 *
 * Drops queued events and remembers the guest's device records as they are
 * now, so that an earlier device's record (a slot reused after an unplug)
 * is not taken for the new device's proof.
 *
 * Return: 0 or -ENOTCONN.
 */
int mp_host_proof_begin(struct mp_host *h);

#define MP_HOST_PROOF_OK 0 /* online, every block verified, no violation */
#define MP_HOST_PROOF_PARTIAL 1 /* online in part, unverified blocks, violations, conflict */

/**
 * mp_host_wait_online() - wait for the guest's proof that device @id is online
 * @h: handle with a channel
 * @id: device id
 * @since_ms: mp_now_ms() when the plug was sent (for the host's latency)
 * @timeout_ms: deadline
 * @proof: receives the proof object (see docs/host.md), also on timeout
 *
 * The guest's DEVICE_ONLINE/FAILED/LEFT/CONFLICT/GONE event for the device,
 * and its VIOLATION events, decide; its status document is read every
 * second as well, so an event lost to a rate limit or a full queue costs a
 * second, not the answer.  A DIMM is the guest's "dimm:slotN" for QEMU's
 * slot N; virtio-mem the guest device whose start is QEMU's address; an
 * NVDIMM the dax device inside its range.
 *
 * Return: MP_HOST_PROOF_OK, MP_HOST_PROOF_PARTIAL, -EIO the guest failed or
 * left it offline, -ETIMEDOUT no final word (the proof has the last one),
 * or another -errno.
 */
int mp_host_wait_online(struct mp_host *h, const char *id, uint64_t since_ms, int timeout_ms,
			struct json_object **proof);

/**
 * mp_host_unplug_coordinated() - the guest drains the device, then it goes
 * @h: handle with a channel
 * @id: device id (DIMM or virtio-mem)
 * @timeout_ms: the guest's drain deadline; the host's unplug wait as well
 * @report: receives what happened (the guest's drain result), may be NULL
 *
 * prepare-unplug for the device's guest key; only when the answer shows
 * every block of the device offline, device_del (DIMM) or requested-size 0
 * (virtio-mem).  Never a device_del while a block may be online: a refusal,
 * a timeout, an answer that does not cover the device leave it plugged.  An
 * unplug that fails after the drain has the guest online it again
 * (cancel-unplug).
 *
 * Return: 0; -EBUSY the guest refused (its blocks are back online);
 * -ENOENT the guest does not know the device; -ETIMEDOUT; -EPROTO an answer
 * that proves nothing; or another -errno.
 */
int mp_host_unplug_coordinated(struct mp_host *h, const char *id, int timeout_ms,
			       struct json_object **report);

/**
 * mp_host_proof_get() - the guest's proof for devices already in the VM
 * @h: handle with a channel (mp_host_channel_attach())
 * @id: device id (QEMU's id or libvirt's alias; "ua-" may be left out), or
 *      NULL for every memory device of the VM
 * @wait: wait until the guest reports each device at an outcome (for an
 *        attach just done), instead of taking its word as it is now
 * @timeout_ms: deadline per device with @wait (0: 60 s)
 * @out: receives {"proofs": [...]}: per device the proof object of
 *       mp_host_wait_online() (docs/host.md) plus kind, slot, addr, size
 *       and wait_ms; without @wait an outcome of "pending" (a record
 *       without a final outcome) or "unknown" (no record) instead of
 *       "timeout"; "empty" for a virtio-mem device with nothing plugged
 *
 * Return: MP_HOST_PROOF_OK when every device is online and verified without
 * violations; MP_HOST_PROOF_PARTIAL; -EIO the guest failed or left one
 * offline; -ETIMEDOUT no final word on one (its last word is in @out);
 * -ENODEV no such device (logged); -ENOTCONN no channel; another -errno.
 * The worst over the devices counts.
 */
int mp_host_proof_get(struct mp_host *h, const char *id, bool wait, int timeout_ms,
		      struct json_object **out);

/**
 * mp_host_numa_pick() - choose the host node for a backend
 * @h: handle (libvirt handles ask the remote host)
 * @want: MP_HOST_NODE_AUTO or a node number
 * @size: bytes the backend needs
 * @node: receives the node
 *
 * Return: 0; -ENOMEM the node lacks @size free; -ENOENT no such node;
 * -EOPNOTSUPP no NUMA information (built without libnuma, no libvirt).
 */
int mp_host_numa_pick(struct mp_host *h, int want, uint64_t size, int *node);

/* ---- growth on the guest's request (docs/host.md "serve"), host-grow.c ---- */

#define MP_HOST_GROW_DEFAULT_STEP (256ull << 20)
#define MP_HOST_GROW_DEFAULT_COOLDOWN_MS 30000
#define MP_HOST_GROW_DEFAULT_FLOOR (1ull << 30)
#define MP_HOST_GROW_DEFAULT_RPM 6
#define MP_HOST_GROW_DEFAULT_PROOF_MS 60000
#define MP_HOST_GROW_MAX_RPM 600

/**
 * struct mp_host_config - the host's limits for one VM's growth requests
 * @path: the file it was read from
 * @max_memory: the VM's memory (boot + plugged) is never grown past this
 * @step: most bytes granted per request (a bigger request is clipped)
 * @cooldown_ms: no grant sooner than this after the last grant
 * @host_floor: host MemAvailable that must be left after a plug
 * @kind: "dimm" or "virtio-mem" (a virtio-mem device of the VM is grown)
 * @host_node: MP_HOST_NODE_NONE, MP_HOST_NODE_AUTO or a host node
 * @max_rpm: requests taken per minute (a token bucket, burst @max_rpm);
 *           the rest are refused without an answer
 * @proof_ms: how long the guest's proof is waited for
 * @meminfo: where the host's MemAvailable is read (tests point it elsewhere)
 */
struct mp_host_config {
	char path[256];
	uint64_t max_memory, step;
	uint64_t cooldown_ms;
	uint64_t host_floor;
	char kind[16];
	int host_node;
	unsigned int max_rpm;
	int proof_ms;
	char meminfo[256];
};

/**
 * mp_host_config_load() - read and check a host config file
 * @path: the file (INI: a [Grow] section, docs/host.md)
 * @out: receives the config (free() it)
 * @why: receives every problem, "file:line: message" one per line
 * @len: size of @why
 *
 * Every line is read and every problem collected before refusing.
 *
 * Return: 0; -EINVAL with @why filled; -errno when the file cannot be read.
 */
int mp_host_config_load(const char *path, struct mp_host_config **out, char *why, size_t len);

/**
 * struct mp_host_grow_limiter - what the decision remembers between requests
 * @tokens_milli: the rate limit's bucket, in thousandths of a request
 * @tokens_ms: when the bucket was last filled
 * @last_grant_ms: mp_now_ms() of the last grant, 0 none
 * @limited: requests refused by the rate limit so far
 * @requests: requests seen so far
 * @granted: requests granted so far
 */
struct mp_host_grow_limiter {
	uint64_t tokens_milli, tokens_ms;
	uint64_t last_grant_ms;
	uint64_t limited, requests, granted;
};

/**
 * struct mp_host_grow_facts - what the decision is made from (read by the caller)
 * @now_ms: mp_now_ms()
 * @vm_memory: the VM's memory now (boot + plugged, QEMU's count)
 * @space_left: bytes still addable under the machine's maxmem
 * @slots_free: free DIMM slots
 * @host_avail: host MemAvailable, UINT64_MAX when unknown (refused then)
 * @block_size: the guest's memory block size (grants are whole blocks)
 */
struct mp_host_grow_facts {
	uint64_t now_ms;
	uint64_t vm_memory, space_left;
	unsigned int slots_free;
	uint64_t host_avail;
	uint64_t block_size;
};

/**
 * struct mp_host_grow_decision - one request and what became of it
 * @request: the guest's request number (valid when @has_request)
 * @has_request: the request's number could be read (it is answered then)
 * @granted: memory was granted (and, after mp_host_grow_handle(), plugged)
 * @answered: the guest got a grow-answer
 * @rate_limited: refused by the rate limit (not answered)
 * @asked: bytes the guest asked for
 * @size: bytes granted
 * @node: guest node of the memory
 * @guest_total: online memory the guest reported
 * @guest_ceiling: its policy's ceiling
 * @vm_memory: the VM's memory before the plug
 * @max_memory: the config's MaxMemory
 * @host_avail: host MemAvailable before the plug
 * @host_floor: the config's HostFreeFloor
 * @cooldown_left_ms: cooldown left when refused for it
 * @kind: device kind plugged
 * @device: the device plugged or grown
 * @proof: MP_HOST_PROOF_OK/PARTIAL or -errno of the wait for proof (1000: none waited for)
 * @proof_outcome: the proof's outcome ("online", "timeout", ...)
 * @blocks: the guest's blocks of the device
 * @decide_us: time to decide
 * @plug_ms: time to plug
 * @proof_ms: time from plug to the guest's proof
 * @reason: why refused, or how much was granted and why not more
 */
struct mp_host_grow_decision {
	uint64_t request;
	bool has_request, granted, answered, rate_limited;
	uint64_t asked, size;
	int node;
	uint64_t guest_total, guest_ceiling;
	uint64_t vm_memory, max_memory, host_avail, host_floor, cooldown_left_ms;
	char kind[16];
	char device[128];
	int proof;
	char proof_outcome[16];
	char blocks[64];
	uint64_t decide_us, plug_ms, proof_ms;
	char reason[512];
};

#define MP_HOST_GROW_NO_PROOF 1000

/**
 * mp_host_grow_decide() - decide one request within the config's limits
 * @cfg: the host's limits
 * @lim: the state kept between requests (rate limit, cooldown); updated
 * @data: the GROW_REQUEST event's data (untrusted: every field is checked)
 * @facts: the VM's and the host's numbers now
 * @out: receives the decision with the numbers
 *
 * Pure: reads nothing and plugs nothing.  In order: a malformed request is
 * refused; the rate limit (not answered); the cooldown since the last
 * grant; then the size is clipped to Step, to the guest's own ceiling, to
 * MaxMemory, to maxmem's space and to what leaves HostFreeFloor of the
 * host's MemAvailable, in whole guest blocks; less than one block left is a
 * refusal naming the limit and its numbers.  A grant starts the cooldown
 * (mp_host_grow_handle() moves it to the plug's end).
 *
 * Return: 1 granted, 0 refused.
 */
int mp_host_grow_decide(const struct mp_host_config *cfg, struct mp_host_grow_limiter *lim,
			struct json_object *data, const struct mp_host_grow_facts *facts,
			struct mp_host_grow_decision *out);

/**
 * mp_host_revive() - make sure the VM's backend connection still answers
 * @h: handle
 * @timeout_ms: how long to keep trying to connect again
 *
 * For a caller that keeps a handle for long (host serve): a libvirt
 * connection that libvirtd closed (restarted, or keepalive of a client that
 * idled) is opened again, retrying with back-off until @timeout_ms.  QMP:
 * nothing to do (a lost QMP socket is an error of the next command).
 *
 * Return: 0; -ENOENT/-ESRCH the domain is gone or stopped; -ECONNREFUSED
 * libvirtd did not answer in time.
 */
int mp_host_revive(struct mp_host *h, int timeout_ms);

/**
 * mp_host_grow_wait() - wait for the guest's next GROW_REQUEST
 * @h: handle with a channel
 * @timeout_ms: deadline (0: only what is queued or readable now)
 * @data: receives the event's data (caller puts it)
 *
 * Other events are dropped on the way (nobody waits for their proof).
 *
 * Return: 0; -ETIMEDOUT; -ENOTCONN without a channel; a connection error
 * (-ECONNRESET: the channel went away) as mp_qmp_event_wait().
 */
int mp_host_grow_wait(struct mp_host *h, int timeout_ms, struct json_object **data);

/**
 * mp_host_grow_handle() - one request end to end
 * @h: handle with a channel (the handle keeps the rate limit and cooldown)
 * @cfg: the host's limits
 * @grow_request_data: the GROW_REQUEST event's data
 * @out: receives the decision record
 *
 * Decides (mp_host_grow_decide() on the VM's state, the host's
 * MemAvailable and the guest's block size), checks the memmap fits the
 * guest, plugs a DIMM (or grows the VM's virtio-mem device), waits for the
 * guest's proof, and answers the guest with grow-answer; every step's
 * numbers go into @out.  A rate-limited request is not answered.
 *
 * Return: 1 granted and plugged, 0 refused, or -errno when the plug or the
 * answer failed (@out says which).
 */
int mp_host_grow_handle(struct mp_host *h, const struct mp_host_config *cfg,
			struct json_object *grow_request_data, struct mp_host_grow_decision *out);

/**
 * mp_host_grow_limiter_get() - the handle's rate limit and cooldown state
 * @h: handle
 *
 * Return: the state mp_host_grow_handle() uses (a serve loop that reopens
 * the handle copies it over, so a reconnect does not reset the limits).
 */
struct mp_host_grow_limiter *mp_host_grow_limiter_get(struct mp_host *h);

/**
 * mp_host_grow_decision_json() - a decision as JSON (for -J and the log)
 * @d: decision
 *
 * Return: new object.
 */
struct json_object *mp_host_grow_decision_json(const struct mp_host_grow_decision *d);

/**
 * mp_host_grow_decision_format() - a decision as one log line with its numbers
 * @d: decision
 * @buf: receives the text
 * @len: size of @buf
 *
 * Return: @buf.
 */
char *mp_host_grow_decision_format(const struct mp_host_grow_decision *d, char *buf, size_t len);

#endif
