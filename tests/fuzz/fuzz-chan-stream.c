// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the channel's line reader (channel/stream.c) on bytes
 * arriving in pieces.  The first byte picks the piece sizes, so splits in
 * the middle of a line, of a NUL or of an over-long line are all tried.
 */
#include "fuzz.h"
#include "mp-channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_chan_reader r;
	struct mp_chan_line l;
	size_t off = 1, step;
	unsigned int seed;

	fuzz_quiet();
	if (!size || mp_chan_reader_init(&r))
		return 0;
	seed = data[0];
	while (off < size) {
		size_t took;

		step = 1 + (seed = seed * 1103515245u + 12345u) % 4096;
		step = step < size - off ? step : size - off;
		took = mp_chan_reader_feed(&r, data + off, step);
		off += took;
		while (mp_chan_reader_next(&r, &l) == 1) {
			if (l.kind == MP_CHAN_LINE_OK && strlen(l.text) != l.len)
				abort(); /* a line the reader calls clean holds a NUL */
			if (l.kind == MP_CHAN_LINE_NUL && l.nul_at >= l.len)
				abort();
		}
		if (!took && mp_chan_reader_partial(&r) == 0)
			break;
		if (!took)
			mp_chan_reader_expire(&r, mp_chan_reader_deadline(&r) + 1);
	}
	mp_chan_reader_free(&r);
	return 0;
}
