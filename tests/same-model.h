/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * same_model(): two struct mp_memory say the same, field for field, with
 * CHECK() (check.h) naming the first field that differs.  For the tests
 * that make one model two ways: through JSON (test-memjson) and by a
 * rescan against a full scan (test-rescan).
 */
#ifndef MP_TEST_SAME_MODEL_H
#define MP_TEST_SAME_MODEL_H

#include <string.h>

#include "check.h"
#include "mp-kernel.h"

static inline void same_model(const struct mp_memory *a, const struct mp_memory *b)
{
	CHECK_EQ_U64(b->geo.block_size, a->geo.block_size);
	CHECK(!strcmp(a->auto_online, b->auto_online));
	CHECK(!strcmp(a->iomem_why, b->iomem_why));
	CHECK_EQ_U64(b->nr, a->nr);
	for (size_t i = 0; i < a->nr && i < b->nr; i++) {
		const struct mp_block *x = &a->blocks[i], *y = &b->blocks[i];

		CHECK_EQ_U64(y->id, x->id);
		CHECK_EQ_U64(y->start, x->start);
		CHECK_EQ_U64(y->size, x->size);
		CHECK(y->state == x->state);
		CHECK(!strcmp(y->zones, x->zones));
		CHECK(mp_block_same_nodes(x, y));
		CHECK(y->node == x->node);
		CHECK(y->removable == x->removable);
		CHECK(y->memmap_on_memory == x->memmap_on_memory);
		CHECK(y->dev.kind == x->dev.kind && !strcmp(y->dev.name, x->dev.name));
		CHECK(y->dev.slot == x->dev.slot);
		CHECK_EQ_U64(y->sysram_bytes, x->sysram_bytes);
	}
}

#endif
