// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <string.h>

#include "check.h"
#include "util.h"

int main(void)
{
	uint64_t v;
	char buf[32];

	CHECK(mp_parse_u64("8000000", 16, &v) == 0 && v == 0x8000000);
	CHECK(mp_parse_u64("0x10", 16, &v) == 0 && v == 16);
	CHECK(mp_parse_u64("", 16, &v) == -EINVAL);
	CHECK(mp_parse_u64("0x", 16, &v) == -EINVAL);
	CHECK(mp_parse_u64("12zz", 16, &v) == -EINVAL);
	CHECK(mp_parse_u64("-1", 10, &v) == -EINVAL);
	CHECK(mp_parse_u64(" 1", 10, &v) == -EINVAL);
	CHECK(mp_parse_u64("1 ", 10, &v) == -EINVAL);
	CHECK(mp_parse_u64("18446744073709551616", 10, &v) == -ERANGE);

	CHECK(mp_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(mp_parse_size("512M", &v) == 0 && v == 512ULL << 20);
	CHECK(mp_parse_size("2GiB", &v) == 0 && v == 2ULL << 30);
	CHECK(mp_parse_size("1g", &v) == 0 && v == 1ULL << 30);
	CHECK(mp_parse_size("3T", &v) == 0 && v == 3ULL << 40);
	CHECK(mp_parse_size("0x1000", &v) == 0 && v == 4096);
	CHECK(mp_parse_size("1Q", &v) == -EINVAL);
	CHECK(mp_parse_size("M", &v) == -EINVAL);
	CHECK(mp_parse_size("1GX", &v) == -EINVAL);
	CHECK(mp_parse_size("99999999999T", &v) == -ERANGE);

	CHECK(!strcmp(mp_format_size(128ULL << 20, buf, sizeof(buf)), "128M"));
	CHECK(!strcmp(mp_format_size(3ULL << 29, buf, sizeof(buf)), "1.5G"));
	CHECK(!strcmp(mp_format_size(0, buf, sizeof(buf)), "0B"));
	CHECK(!strcmp(mp_format_size(398336, buf, sizeof(buf)), "389K"));
	CHECK_DONE();
}
