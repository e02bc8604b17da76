// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target: one uevent netlink message (mp_uevent_parse()). */
#include "fuzz.h"
#include "mp-kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_uevent ev;
	char why[160], *msg;

	fuzz_quiet();
	/* memplugd's buffer has one byte more, a NUL after what recv(2) gave */
	msg = fuzz_text(data, size);
	if (!msg)
		return 0;
	if (mp_uevent_parse(msg, size, &ev, why, sizeof(why)) == 0) {
		uint64_t id;

		/* what memplugd does with it: every string must end inside msg */
		if (strlen(ev.action) + strlen(ev.subsystem) > size)
			abort();
		if (ev.devpath && strrchr(ev.devpath, '/'))
			mp_block_parse_name(strrchr(ev.devpath, '/') + 1, &id);
	} else if (!memchr(why, '\0', sizeof(why))) {
		abort();
	}
	free(msg);
	return 0;
}
