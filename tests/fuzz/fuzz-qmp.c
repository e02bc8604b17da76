// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: whatever a QMP peer sends (greeting, replies, events,
 * garbage) against the client's handshake, one command and event waits.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "qmp.h"

static bool match_any(const char *name, struct json_object *data, void *ud)
{
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_qmp *q = NULL;
	int fd;

	fuzz_quiet();
	fd = fuzz_peer(data, size);
	if (fd < 0)
		return 0;
	if (mp_qmp_new_fd(fd, 50, &q) == 0) {
		struct json_object *ret = NULL, *ev = NULL;
		char buf[256];
		int r;

		r = mp_qmp_execute(q, "query-memory-devices", NULL, &ret);
		mp_qmp_strerror(q, r, buf, sizeof(buf));
		mp_qmp_get_error_data(q);
		json_object_put(ret);
		while (mp_qmp_event_wait(q, match_any, NULL, 0, &ev) == 0)
			json_object_put(ev);
		mp_qmp_close(q);
	}
	return 0;
}
