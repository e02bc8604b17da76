// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The rules as pure functions.  The kmem numbers are those a 6.1 guest
 * showed (GUEST-RECIPE.md, tests/fixtures/nvdimm-kmem): dax0.0 at
 * 0x102200000-0x17fffffff became System RAM (kmem) 0x108000000-0x17fffffff,
 * 98566144 bytes stranded.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "mp-kernel.h"

int main(void)
{
	struct mp_geometry geo = { 4096, 1 << 21, 1 << 27, 1 << 27 };
	struct mp_dax_trim t;

	mp_rules_dax_trim(&geo, 0x102200000, 0x17fffffff, &t);
	CHECK(t.aligned_2m);
	CHECK(!t.keeps_nothing);
	CHECK_EQ_U64(t.keep_start, 0x108000000);
	CHECK_EQ_U64(t.keep_end, 0x17fffffff);
	CHECK_EQ_U64(t.stranded_head, 98566144);
	CHECK_EQ_U64(t.stranded_tail, 0);
	CHECK(t.partial_first_section && !t.partial_last_section);
	CHECK_EQ_U64(t.first_section, 32);
	CHECK_EQ_U64(t.last_section, 47);

	/* Smaller than a block after trimming: kmem keeps nothing. */
	mp_rules_dax_trim(&geo, 0x100200000, 0x107dfffff, &t);
	CHECK(t.keeps_nothing);
	CHECK_EQ_U64(t.stranded_head, 0x7c00000);

	/* Not 2 MiB aligned: check_pfn_span() would refuse it. */
	mp_rules_dax_trim(&geo, 0x100100000, 0x1080fffff, &t);
	CHECK(!t.aligned_2m);

	/* Block size 2 GiB: trims are larger. */
	geo.block_size = 1ULL << 31;
	mp_rules_dax_trim(&geo, 0x102200000, 0x2ffffffff, &t);
	CHECK_EQ_U64(t.keep_start, 0x180000000);
	CHECK_EQ_U64(t.stranded_head, 0x180000000 - 0x102200000);
	/* Block names: only the kernel's spelling ("memory05" would name memory5 twice). */
	{
		uint64_t id = 0;

		CHECK(mp_block_parse_name("memory5", &id) == 0 && id == 5);
		CHECK(mp_block_parse_name("memory0", &id) == 0 && id == 0);
		CHECK(mp_block_parse_name("65535", &id) == 0 && id == 65535);
		CHECK(mp_block_parse_name("memory05", &id) == -EINVAL);
		CHECK(mp_block_parse_name("memory+5", &id) == -EINVAL);
		CHECK(mp_block_parse_name("memory 5", &id) == -EINVAL);
		CHECK(mp_block_parse_name("memory", &id) == -EINVAL);
		CHECK(mp_block_parse_name("memory5x", &id) == -EINVAL);
	}
	CHECK_DONE();
}
