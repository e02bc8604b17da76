// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: one channel line (docs/channel.md), either direction:
 * what memplugd reads from the host (requests and their arguments) and
 * what the host reads from memplugd (greeting, return, error, event).
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "mp-channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_chan_msg m = { 0 };
	struct mp_chan_err err;

	fuzz_quiet();
	if (mp_chan_msg_parse((const char *)data, size, &m, &err) == 0) {
		struct mp_chan_unplug_args a;
		struct json_object *o = NULL;
		char key[48];

		switch (m.kind) {
		case MP_CHAN_MSG_REQUEST:
			mp_chan_args_prepare_unplug(m.body, &a, &err);
			mp_chan_args_device(m.body, key, sizeof(key), &err);
			/* memplugd's answers echo the id */
			o = mp_chan_return_new(m.id, NULL);
			json_object_put(o);
			o = mp_chan_error_new(m.id, MP_CHAN_E_BAD_ARGUMENTS, err.desc, NULL);
			break;
		case MP_CHAN_MSG_ERROR:
			mp_chan_class_parse(m.name);
			break;
		default:
			break;
		}
		json_object_put(o);
	}
	mp_chan_msg_clear(&m);
	return 0;
}
