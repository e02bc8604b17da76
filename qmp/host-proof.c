// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The guest's proof for memory devices memplug did not plug itself: a DIMM
 * an operator attached with virsh attach-device, virtio-mem grown with virsh
 * update-memory-device, what the VM booted with.  The host's device is
 * matched to memplugd's record the way a plug's proof is (host-chan.c:
 * dimm:slotN for QEMU's slot, virtio-mem by its start, an NVDIMM by the dax
 * device inside it), and the guest's word is read from its status document
 * (and events, while waiting).  No record from before is filtered out as
 * stale: the question is what the guest says about the device now.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

/* Without --wait: the status document is read once, 300 ms in
 * (mp_host_wait_online()); this bounds a slow guest's answer. */
#define PROOF_NOW_MS 5000
#define PROOF_WAIT_MS 60000

/* Ranks for the worst result over several devices. */
static int rank(int r)
{
	if (r == MP_HOST_PROOF_OK)
		return 0;
	if (r == MP_HOST_PROOF_PARTIAL)
		return 1;
	if (r == -EIO)
		return 2;
	return 3; /* -ETIMEDOUT, -ENODEV, other errors */
}

/*
 * Without --wait, "timeout" only means that the guest has no final word
 * yet: say which of the two it is, pending (a record without an outcome)
 * or unknown (no record at all).
 */
static void relabel_now(struct json_object *p)
{
	struct json_object *last = NULL;

	if (strcmp(mp_json_get_str(p, "outcome", ""), "timeout"))
		return;
	json_object_object_get_ex(p, "last_word", &last);
	if (last) {
		mp_json_add_str(p, "outcome", "pending");
		return;
	}
	mp_json_add_str(p, "outcome", "unknown");
	mp_json_add_str(p, "message", "memplugd has no record of this device");
}

static int proof_one(struct mp_host *h, const struct mp_host_memdev *d, bool wait, int timeout_ms,
		     struct json_object *arr)
{
	struct json_object *p = NULL;
	uint64_t t0 = mp_now_ms();
	int r;

	if (!strcmp(d->kind, "virtio-mem") && !d->size && !d->requested_size) {
		/* nothing plugged: no blocks the guest could prove */
		p = json_object_new_object();
		mp_json_add_str(p, "id", d->id);
		mp_json_add_str(p, "outcome", "empty");
		mp_json_add_str(p, "message", "virtio-mem with nothing plugged or requested");
		json_object_array_add(arr, p);
		return MP_HOST_PROOF_OK;
	}
	r = mp_host_wait_online(h, d->id, t0, wait ? timeout_ms : PROOF_NOW_MS, &p);
	if (!p)
		return r;
	if (!wait)
		relabel_now(p);
	mp_json_add_str(p, "kind", d->kind);
	if (d->slot >= 0)
		mp_json_add_int(p, "slot", d->slot);
	mp_json_add_u64(p, "addr", d->addr);
	mp_json_add_u64(p, "size", d->size);
	/* host_ms counts from this question, not from a plug: call it what it is */
	json_object_object_add(p, "wait_ms", json_object_get(json_object_object_get(p, "host_ms")));
	json_object_object_del(p, "host_ms");
	json_object_array_add(arr, p);
	return r;
}

/* kernel-doc in host.h */
int mp_host_proof_get(struct mp_host *h, const char *id, bool wait, int timeout_ms,
		      struct json_object **out)
{
	struct mp_host_state *st = NULL;
	struct json_object *arr;
	int r, worst = MP_HOST_PROOF_OK;

	*out = NULL;
	if (!h->chan)
		return -ENOTCONN;
	if (timeout_ms <= 0)
		timeout_ms = PROOF_WAIT_MS;
	r = mp_host_state_read(h, MP_ST_DEVICES, &st);
	if (r < 0)
		return r;
	arr = json_object_new_array();
	if (id) {
		const struct mp_host_memdev *d = mp_host_state_find(st, id);

		if (!d) {
			mp_err("%s: not in the VM's memory devices", id);
			worst = -ENODEV;
		} else {
			worst = proof_one(h, d, wait, timeout_ms, arr);
		}
	} else {
		for (unsigned int i = 0; i < st->ndevs; i++) {
			const struct mp_host_memdev *d = &st->devs[i];

			if (!d->id[0]) {
				/* mp_host_wait_online() finds devices by id */
				mp_warn("a %s at 0x%llx has no id: no proof asked for", d->kind,
					(unsigned long long)d->addr);
				continue;
			}
			r = proof_one(h, d, wait, timeout_ms, arr);
			if (rank(r) > rank(worst))
				worst = r;
		}
	}
	mp_host_state_free(st);
	*out = json_object_new_object();
	json_object_object_add(*out, "proofs", arr);
	return worst;
}
