// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: /dev/kmsg records (one read(2) each; the input holds
 * several, separated by a NUL byte as a stand-in for read boundaries) ->
 * the offline-failure matcher.
 */
#include "fuzz.h"
#include "mp-kernel.h"

#define MAX_RECS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_kmsg_record *recs = calloc(MAX_RECS, sizeof(*recs));
	struct mp_offline_why why;
	size_t nr = 0, off = 0;

	fuzz_quiet();
	if (!recs)
		return 0;
	while (off < size && nr < MAX_RECS) {
		const uint8_t *end = memchr(data + off, '\0', size - off);
		size_t len = end ? (size_t)(end - (data + off)) : size - off;

		if (mp_kmsg_record_parse((const char *)data + off, len, &recs[nr]) == 0) {
			uint64_t s, e;
			const char *reason;

			mp_kmsg_parse_offline_failure(recs[nr].text, &s, &e, &reason);
			nr++;
		}
		off += len + 1;
	}
	mp_kmsg_scan_records(recs, nr, 0x100000000ULL, 0x107ffffffULL, NULL, &why);
	mp_kmsg_scan_records(recs, nr, 0, UINT64_MAX, "no dynamic debug", &why);
	free(recs);
	return 0;
}
