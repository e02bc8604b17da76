// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target: /proc/iomem text -> tree -> queries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_iomem *io;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	mp_log_set_level(-1);
	if (mp_iomem_parse(text, "fuzz", &io) == 0) {
		const struct mp_iomem_res *r;

		for (r = mp_iomem_first(io); r; r = r->sibling) {
			mp_iomem_find(io, r->start);
			mp_iomem_find(io, r->end);
			mp_iomem_sysram_bytes(io, r->start, r->end);
			mp_iomem_find_sysram(io, r->start, r->end);
		}
		mp_iomem_sysram_bytes(io, 0, UINT64_MAX);
		mp_iomem_free(io);
	}
	free(text);
	return 0;
}
