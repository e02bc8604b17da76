// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * iomem parsing.  The texts are cut from /proc/iomem of the recorded guests
 * (tests/fixtures/), except the deep-nesting and damaged ones, which a
 * guest can't be made to print and are written by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mp-kernel.h"

/* nvdimm-kmem fixture: dax0.0 with System RAM (kmem) inside (6.1 guest). */
static const char kmem_text[] = "00000000-00000fff : Reserved\n"
				"00001000-0009fbff : System RAM\n"
				"00100000-3ffdffff : System RAM\n"
				"  01000000-01ffffff : Kernel code\n"
				"100000000-17fffffff : Persistent Memory\n"
				"  100000000-17fffffff : namespace0.0\n"
				"    102200000-17fffffff : dax0.0\n"
				"      108000000-17fffffff : dax0.0\n"
				"        108000000-17fffffff : System RAM (kmem)\n";

/* Hand-written: the kernel stops indenting at depth 5. */
static const char deep_text[] = "100000000-1ffffffff : a\n"
				"  100000000-1ffffffff : b\n"
				"    100000000-1ffffffff : c\n"
				"      100000000-1ffffffff : d\n"
				"        100000000-1ffffffff : e\n"
				"          100000000-17fffffff : f\n"
				"          100000000-10fffffff : g\n"
				"          180000000-1ffffffff : h\n";

int main(void)
{
	struct mp_iomem *io;
	const struct mp_iomem_res *r;

	CHECK(mp_iomem_parse(kmem_text, "kmem", &io) == 0);
	r = mp_iomem_find(io, 0x108000000);
	CHECK(r && !strcmp(r->name, "System RAM (kmem)"));
	CHECK(r && r->parent && !strcmp(r->parent->name, "dax0.0") &&
	      r->parent->start == 0x108000000);
	r = mp_iomem_find(io, 0x102200000);
	CHECK(r && !strcmp(r->name, "dax0.0") && r->start == 0x102200000);
	r = mp_iomem_find(io, 0x1000000);
	CHECK(r && !strcmp(r->name, "Kernel code"));
	CHECK_EQ_U64(mp_iomem_sysram_bytes(io, 0x100000000, 0x17fffffff), 0x78000000);
	CHECK_EQ_U64(mp_iomem_sysram_bytes(io, 0x38000000, 0x3fffffff), 0x7fe0000);
	CHECK_EQ_U64(mp_iomem_sysram_bytes(io, 0x0, 0x7ffffff), 0x9ec00 + 0x7f00000);
	r = mp_iomem_find_sysram(io, 0x100000000, 0x17fffffff);
	CHECK(r && !strcmp(r->name, "System RAM (kmem)"));
	{
		struct mp_iomem_span sp;
		const struct mp_iomem_res *k[2];

		CHECK(mp_iomem_kmem(io, "dax0.0", &sp, k, 2) == 1);
		CHECK_EQ_U64(sp.start, 0x108000000);
		CHECK_EQ_U64(sp.end, 0x17fffffff);
		CHECK_EQ_U64(sp.bytes, 0x78000000);
		CHECK(k[0] && k[0]->start == 0x108000000);
		CHECK(mp_iomem_kmem(io, "dax1.0", &sp, NULL, 0) == 0 && sp.bytes == 0);
		CHECK(mp_iomem_find_named(io, "Kernel code") &&
		      mp_iomem_find_named(io, "Kernel code")->start == 0x1000000);
	}
	mp_iomem_free(io);

	/*
	 * Hand-written: more top-level resources and more kmem ranges than any
	 * fixed stack (memplugctl explain once walked iomem with stack[64]).
	 */
	{
		char *text = malloc(1 << 20), *p = text;
		struct mp_iomem_span sp;
		const struct mp_iomem_res *k[4];
		size_t walked = 0;

		REQUIRE(text);
		for (int i = 0; i < 300; i++)
			p += sprintf(p, "%08x-%08x : Reserved\n", i * 0x1000, i * 0x1000 + 0xfff);
		p += sprintf(p, "100000000-8ffffffff : Persistent Memory\n");
		p += sprintf(p, "  100000000-8ffffffff : dax0.0\n");
		for (int i = 0; i < 200; i++)
			p += sprintf(p, "    %llx-%llx : System RAM (kmem)\n",
				     0x100000000ULL + i * 0x8000000ULL,
				     0x100000000ULL + i * 0x8000000ULL + 0x7ffffffULL);
		CHECK(mp_iomem_parse(text, "wide", &io) == 0);
		for (r = mp_iomem_first(io); r; r = mp_iomem_next(r))
			walked++;
		CHECK(walked == 300 + 2 + 200);
		CHECK(mp_iomem_kmem(io, "dax0.0", &sp, k, 4) == 200);
		CHECK_EQ_U64(sp.start, 0x100000000);
		CHECK_EQ_U64(sp.end, 0x100000000ULL + 200 * 0x8000000ULL - 1);
		CHECK(k[3] && k[3]->start == 0x100000000ULL + 3 * 0x8000000ULL);
		mp_iomem_free(io);
		free(text);
	}

	CHECK(mp_iomem_parse(deep_text, "deep", &io) == 0);
	r = mp_iomem_find(io, 0x100000000);
	CHECK(r && !strcmp(r->name, "g") && r->parent && !strcmp(r->parent->name, "f"));
	r = mp_iomem_find(io, 0x180000000);
	CHECK(r && !strcmp(r->name, "h") && r->parent && !strcmp(r->parent->name, "e"));
	mp_iomem_free(io);

	CHECK(mp_iomem_parse("00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n", "z",
			     &io) == -EPERM);
	CHECK(mp_iomem_parse("00000000-00000fff : Reserved\n00001000-0009f", "t", &io) == -EINVAL);
	CHECK(mp_iomem_parse("00000000-00000fff Reserved\n", "m", &io) == -EINVAL);
	CHECK(mp_iomem_parse("00001000-00000fff : Backwards\n", "b", &io) == -EINVAL);
	CHECK(mp_iomem_parse("    00001000-00001fff : Orphan\n", "o", &io) == -EINVAL);
	CHECK(mp_iomem_parse("00001000-00001fff : A\n  00000000-00003fff : Outside\n", "x", &io) ==
	      -EINVAL);
	/* The kernel always lists resources: empty must not read as "no System RAM". */
	CHECK(mp_iomem_parse("", "empty", &io) == -EINVAL);
	CHECK(mp_iomem_parse("00000000-00000fff : Reserved\n\n", "blank", &io) == -EINVAL);
	CHECK(mp_iomem_parse("00000000-00000fff : \n", "noname", &io) == -EINVAL);
	CHECK(mp_iomem_parse("garbage\nmore garbage\n", "garbage", &io) == -EINVAL);
	CHECK_DONE();
}
