// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target: /proc/iomem text -> tree -> queries. */
#include "fuzz.h"
#include "mp-kernel.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_iomem *io;
	char *text;

	fuzz_quiet();
	text = fuzz_text(data, size);
	if (!text)
		return 0;
	/* mp_iomem_read() refuses a NUL byte before the parser sees the text. */
	if (mp_text_check(text, size, "fuzz") == 0 && mp_iomem_parse(text, "fuzz", &io) == 0) {
		const struct mp_iomem_res *r;
		struct mp_iomem_span span;
		const struct mp_iomem_res *ranges[4];

		for (r = mp_iomem_first(io); r; r = mp_iomem_next(r)) {
			mp_iomem_find(io, r->start);
			mp_iomem_find(io, r->end);
			mp_iomem_sysram_bytes(io, r->start, r->end);
			mp_iomem_find_sysram(io, r->start, r->end);
			if (!strncmp(r->name, "dax", 3))
				mp_iomem_kmem(io, r->name, &span, ranges, 4);
		}
		mp_iomem_find_named(io, "System RAM");
		mp_iomem_sysram_bytes(io, 0, UINT64_MAX);
		mp_iomem_free(io);
	}
	free(text);
	return 0;
}
