// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target: /proc/zoneinfo text -> free pages per zone. */
#include "fuzz.h"
#include "mp-kernel.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_zone_free *z = NULL;
	size_t nr = 0;
	char *text;

	fuzz_quiet();
	text = fuzz_text(data, size);
	if (!text)
		return 0;
	/* The kernel writes text: a NUL byte is refused before the parser. */
	if (mp_text_check(text, size, "fuzz") == 0 && mp_zoneinfo_parse(text, &z, &nr) == 0) {
		for (size_t i = 0; i < nr; i++)
			mp_zoneinfo_kernel_free(z, nr, z[i].node);
		free(z);
	}
	free(text);
	return 0;
}
