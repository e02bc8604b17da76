// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parsing the kernel's log for the reason of a refused offline.
 *
 * The records below were read from /dev/kmsg in a Debian 6.1 guest
 * (tests/e2e/test_drain_refused.py's setup: memory36 in ZONE_NORMAL full of
 * slab) and, for the migration failures, from the text of
 * tests/e2e/test_drain_deadline.py's report with headers added by hand.
 * Hand-made, and said so where used: a dictionary continuation, a caller
 * field, a userspace record, malformed headers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mp-kernel.h"

static const char *refused[] = {
	"6,384,4319435,-;Policy zone: Normal",
	"4,385,7186419,-;page:000000003e4d55d6 refcount:1 mapcount:-512 mapping:0000000000000000 index:0x0 pfn:0x120007",
	"4,386,7187211,-;flags: 0x17ffffc0000000(node=0|zone=2|lastcpupid=0x1fffff)",
	"4,387,7187843,-;raw: 0017ffffc0000000 0000000000000000 0000000000000000 0000000000000000",
	"4,388,7188118,-;raw: 0000000000000000 0000000000000000 00000001fffffdff 0000000000000000",
	"4,389,7188387,-;page dumped because: unmovable page",
	"7,390,7188757,-;memory offlining [mem 0x120000000-0x127ffffff] failed due to failure to isolate range",
	"7,391,7204553,-;Offlined Pages 32768",
};

static const char *migration[] = {
	"4,500,9000000,-;migrating pfn 108000 failed ret:1",
	"4,501,9000001,-;page:000000004d01901e refcount:66 mapcount:1 mapping:0000000000000000 index:0x7f31d5e00 pfn:0x108000",
	"4,502,9000002,-;head:000000004d01901e order:9 compound_mapcount:1 compound_pincount:0",
	"4,503,9000003,-;memcg:ffff888004918000",
	"4,504,9000004,-;anon flags: 0x1fffffc00b000e(referenced|uptodate|dirty|head|mappedtodisk|swapbacked|node=0|zone=3|lastcpupid=0x1fffff)",
	"4,505,9000005,-;raw: 001fffffc00b000e ffffc9000042fbc8 ffffc9000042fbc8 ffff888005bc8341",
	"4,506,9000006,-;raw: 00000007f31d5e00 0000000000000000 00000042ffffffff ffff888004918000",
	"4,507,9000007,-;page dumped because: migration failure",
	"4,508,9000008,-;migrating pfn 108200 failed ret:1",
	"4,509,9000009,-;page:000000004d01901f refcount:66 mapcount:1 mapping:0000000000000000 index:0x7f31d6000 pfn:0x108200",
	"4,510,9000010,-;page dumped because: migration failure",
	"7,511,9000011,-;memory offlining [mem 0x108000000-0x10fffffff] failed due to signal backoff",
};

static size_t parse_all(const char **lines, size_t n, struct mp_kmsg_record *recs)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int err = mp_kmsg_record_parse(lines[i], strlen(lines[i]), &recs[k]);

		CHECK(err == 0);
		if (!err)
			k++;
	}
	return k;
}

static void test_record(void)
{
	/* Hand-made: a dictionary after the text, and an extra header field. */
	static const char dict[] =
		"6,1200,123456,-,caller=T42;memory memory36: offline\n SUBSYSTEM=memory\n DEVICE=+memory:memory36\n";
	struct mp_kmsg_record r;

	CHECK(mp_kmsg_record_parse(refused[6], strlen(refused[6]), &r) == 0);
	CHECK(r.level == 7 && r.facility == 0);
	CHECK_EQ_U64(r.seq, 390);
	CHECK_EQ_U64(r.ts_us, 7188757);
	CHECK(!strcmp(r.text, "memory offlining [mem 0x120000000-0x127ffffff] failed due to "
			      "failure to isolate range"));

	CHECK(mp_kmsg_record_parse(dict, strlen(dict), &r) == 0);
	CHECK(r.level == 6 && r.seq == 1200);
	CHECK(!strcmp(r.text, "memory memory36: offline"));

	/* Userspace writes get facility 1 (LOG_USER) by default. */
	CHECK(mp_kmsg_record_parse("14,7,8,-;memplug test", 20, &r) == 0);
	CHECK(r.facility == 1 && r.level == 6);

	CHECK(mp_kmsg_record_parse("no header here", 14, &r) == -EINVAL);
	CHECK(mp_kmsg_record_parse("7,x,1,-;text", 12, &r) == -EINVAL);
	CHECK(mp_kmsg_record_parse("7,1;text", 8, &r) == -EINVAL);
	/* Not NUL-terminated: the length is what counts. */
	CHECK(mp_kmsg_record_parse("6,1,2,-;abcdef", 11, &r) == 0);
	CHECK(!strcmp(r.text, "abc"));
}

static void test_failure_line(void)
{
	uint64_t a = 0, b = 0;
	const char *reason = NULL;

	CHECK(mp_kmsg_parse_offline_failure("memory offlining [mem 0x120000000-0x127ffffff] failed "
					    "due to failure to isolate range",
					    &a, &b, &reason) == 0);
	CHECK_EQ_U64(a, 0x120000000);
	CHECK_EQ_U64(b, 0x127ffffff);
	CHECK(reason && !strcmp(reason, "failure to isolate range"));
	/* %#010llx below 4 GiB: ten characters with the 0x. */
	CHECK(mp_kmsg_parse_offline_failure(
		      "memory offlining [mem 0x38000000-0x3fffffff] failed due "
		      "to memory holes",
		      &a, &b, &reason) == 0);
	CHECK_EQ_U64(a, 0x38000000);
	CHECK(!strcmp(reason, "memory holes"));
	CHECK(mp_kmsg_parse_offline_failure("Offlined Pages 32768", &a, &b, &reason) == -ENOENT);
	CHECK(mp_kmsg_parse_offline_failure("memory offlining [mem 0x10-0x1] failed due to x", &a,
					    &b, &reason) == -ENOENT);
	CHECK(mp_kmsg_parse_offline_failure("memory offlining [mem 0x120000000-0x127ffffff] failed",
					    &a, &b, &reason) == -ENOENT);
}

static void test_scan(void)
{
	struct mp_kmsg_record recs[16];
	struct mp_offline_why why;
	size_t n;

	n = parse_all(refused, sizeof(refused) / sizeof(refused[0]), recs);
	mp_kmsg_scan_records(recs, n, 0x120000000, 0x127ffffff, NULL, &why);
	CHECK(why.from_kernel);
	CHECK(!strcmp(why.reason, "failure to isolate range"));
	CHECK(!strcmp(why.message, "memory offlining [mem 0x120000000-0x127ffffff] failed due to "
				   "failure to isolate range"));
	CHECK(why.nr_dumps == 1);
	CHECK_EQ_U64(why.dump_pfn, 0x120007);
	CHECK(!strcmp(why.dump_because, "unmovable page"));
	CHECK(!strncmp(why.dump, "page:000000003e4d55d6 refcount:1", 32));
	CHECK(strstr(why.dump, "\nflags: 0x17ffffc0000000(node=0|zone=2|lastcpupid=0x1fffff)\n"));
	CHECK(strstr(why.dump, "\npage dumped because: unmovable page"));
	CHECK(!strstr(why.dump, "Offlined"));
	CHECK(why.nr_migrate_failures == 0);

	/* Another block: the line and the dump belong to memory36, not to memory37. */
	mp_kmsg_scan_records(recs, n, 0x128000000, 0x12fffffff, NULL, &why);
	CHECK(!why.from_kernel && why.nr_dumps == 0 && !why.dump[0]);
	CHECK(!strncmp(why.reason,
		       "kernel reason not available: no 'memory offlining [mem "
		       "0x128000000-0x12fffffff] failed due to' line",
		       90));
	/* With kmsg or dynamic debug missing, the report says why. */
	mp_kmsg_scan_records(recs, 0, 0x128000000, 0x12fffffff,
			     "kernel reason not available: /x/dev/kmsg: No such file or directory",
			     &why);
	CHECK(!strcmp(why.reason,
		      "kernel reason not available: /x/dev/kmsg: No such file or directory"));

	n = parse_all(migration, sizeof(migration) / sizeof(migration[0]), recs);
	mp_kmsg_scan_records(recs, n, 0x108000000, 0x10fffffff, NULL, &why);
	CHECK(why.from_kernel && !strcmp(why.reason, "signal backoff"));
	CHECK(why.nr_dumps == 2 && why.dump_pfn == 0x108000);
	CHECK(!strcmp(why.dump_because, "migration failure"));
	CHECK(strstr(why.dump, "\nanon flags: ") && !strstr(why.dump, "108200"));
	CHECK(why.nr_migrate_failures == 2);
	CHECK(!strcmp(why.migrate_line, "migrating pfn 108000 failed ret:1"));

	/* Hand-made: a userspace record imitating the kernel is not believed. */
	CHECK(mp_kmsg_record_parse("12,600,1,-;memory offlining [mem 0x108000000-0x10fffffff] "
				   "failed due to lies",
				   76, &recs[0]) == 0);
	mp_kmsg_scan_records(recs, 1, 0x108000000, 0x10fffffff, NULL, &why);
	CHECK(!why.from_kernel && !strncmp(why.reason, "kernel reason not available", 27));
}

int main(void)
{
	test_record();
	test_failure_line();
	test_scan();
	CHECK_DONE();
}
