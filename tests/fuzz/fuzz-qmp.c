// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: whatever a QMP peer sends (greeting, replies, events,
 * garbage) against the client's handshake and one command.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include <json-c/json.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_qmp *q = NULL;
	int sv[2];

	mp_log_set_level(-1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	/* The whole peer script is queued, then the peer hangs up. */
	if (size && write(sv[1], data, size) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[1]);
	if (mp_qmp_new_fd(sv[0], 50, &q) == 0) {
		struct json_object *ret = NULL;

		mp_qmp_execute(q, "query-memory-devices", NULL, &ret);
		json_object_put(ret);
		mp_qmp_close(q);
	}
	return 0;
}
