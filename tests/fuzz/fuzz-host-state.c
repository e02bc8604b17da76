// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: QEMU's answers as the host side reads the VM's state
 * (qmp/host-state.c: query-memory-size-summary, qom-get, query-memory-
 * devices, qom-list of /objects and /machine/peripheral) and picks ids.
 * The input is QEMU's side of the QMP socket; the seeds are recorded from
 * a real QEMU by record-qmp.py.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "host-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_host_state *st = NULL;
	struct mp_host *h = NULL;
	struct mp_qmp *q = NULL;
	int fd;

	fuzz_quiet();
	fd = fuzz_peer(data, size);
	if (fd < 0 || mp_qmp_new_fd(fd, 50, &q) < 0)
		return 0;
	if (mp_host_new(&mp_host_qmp_ops, q, 50, &h) < 0)
		return 0;
	if (mp_host_state_read(h, MP_ST_ALL, &st) == 0) {
		struct json_object *o = mp_host_state_to_json(st);
		char id[128];

		json_object_put(o);
		for (unsigned int i = 0; i < mp_host_state_get_ndevs(st); i++)
			mp_host_state_find(st, mp_host_memdev_get_id(mp_host_state_get_dev(st, i)));
		mp_host_next_id(st, "dimm", id, sizeof(id));
		mp_host_make_id(st, "mp-dimm0", "dimm", id, sizeof(id));
		mp_host_make_id(st, NULL, "virtio-mem", id, sizeof(id));
		mp_host_state_get_space_left(st);
		mp_host_state_free(st);
	}
	mp_host_close(h);
	return 0;
}
