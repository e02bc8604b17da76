// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: what memplugd says on the channel, as the host reads
 * it (qmp/host-chan.c, host-coord.c): the greeting and hello (guest facts,
 * memmap check), status documents and device records, online/violation
 * events for plug --wait-online, prepare-unplug's answer or refusal.
 * The input is memplugd's side of the socket; QEMU is a canned backend
 * with one DIMM, one virtio-mem device and one NVDIMM.
 */
#include <errno.h>
#include <stdio.h>
#include <json-c/json.h>

#include "fuzz.h"
#include "host-private.h"
#include "util.h"

static const char devices_json[] =
	"[{\"type\":\"dimm\",\"data\":{\"id\":\"mp-dimm0\",\"memdev\":\"/objects/mp-mem-dimm0\","
	"\"addr\":4294967296,\"size\":268435456,\"slot\":0,\"node\":0,\"hotplugged\":true,"
	"\"hotpluggable\":true}},"
	"{\"type\":\"virtio-mem\",\"data\":{\"id\":\"mp-vmem0\",\"memdev\":\"/objects/mp-mem-vmem0\","
	"\"memaddr\":8589934592,\"size\":268435456,\"requested-size\":268435456,"
	"\"max-size\":1073741824,\"block-size\":2097152,\"node\":0}},"
	"{\"type\":\"nvdimm\",\"data\":{\"id\":\"mp-nv0\",\"memdev\":\"/objects/mp-mem-nv0\","
	"\"addr\":12884901888,\"size\":536870912,\"slot\":1,\"node\":0,\"hotplugged\":true}}]";

static int fake_qmp(struct mp_host *h, const char *cmd, struct json_object *args,
		    struct json_object **ret, char *err, size_t errlen)
{
	struct json_object *o = NULL;

	json_object_put(args);
	if (!strcmp(cmd, "query-memory-devices"))
		o = json_tokener_parse(devices_json);
	else if (!strcmp(cmd, "query-memory-size-summary"))
		o = json_tokener_parse(
			"{\"base-memory\":1073741824,\"plugged-memory\":1073741824}");
	else if (!strcmp(cmd, "qom-list"))
		o = json_object_new_array();
	else
		o = json_object_new_object();
	if (ret)
		*ret = o;
	else
		json_object_put(o);
	return 0;
}

static int fake_plug(struct mp_host *h, const struct mp_host_plug_req *rq)
{
	return 0;
}

static int fake_unplug(struct mp_host *h, const struct mp_host_memdev *d, int timeout_ms)
{
	return 0;
}

static int fake_set_requested(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size)
{
	return 0;
}

/* No backend object to close, no host nodes: those ops are optional. */
static const struct mp_host_backend_ops fake_ops = {
	.name = "fuzz",
	.qmp = fake_qmp,
	.plug = fake_plug,
	.unplug = fake_unplug,
	.set_requested = fake_set_requested,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_host *h = NULL;
	struct mp_host_memmap mm;
	struct json_object *proof = NULL;
	char why[256], key[48];
	int fd;

	fuzz_quiet();
	if (mp_host_new(&fake_ops, NULL, 50, &h) < 0)
		return 0;
	fd = fuzz_peer(data, size);
	if (fd < 0 || mp_qmp_new_channel_fd(fd, 50, &h->chan) < 0)
		goto out;
	if (mp_host_hello_parse(mp_qmp_get_greeting(h->chan), &h->hello, why, sizeof(why)) < 0)
		goto out;
	mp_host_memmap_check(&h->hello, "dimm", 256ull << 20, 0, &mm);
	mp_host_memmap_check(&h->hello, "virtio-mem", 1ull << 30, 1, &mm);
	mp_host_hello_refresh(h);
	mp_host_proof_begin(h);
	mp_host_wait_online(h, "mp-dimm0", mp_now_ms(), 100, &proof);
	json_object_put(proof);
	proof = NULL;
	{
		struct mp_host_state *st = NULL;

		if (mp_host_state_read(h, MP_ST_DEVICES, &st) == 0) {
			const struct mp_host_memdev *d = mp_host_state_find(st, "mp-vmem0");

			if (d)
				mp_host_guest_key(h, d, key, sizeof(key));
			d = mp_host_state_find(st, "mp-nv0");
			if (d)
				mp_host_guest_key(h, d, key, sizeof(key));
			mp_host_state_free(st);
		}
	}
	mp_host_unplug_coordinated(h, "mp-dimm0", 100, &proof);
	json_object_put(proof);
out:
	mp_host_close(h);
	return 0;
}
