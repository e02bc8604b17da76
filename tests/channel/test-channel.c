// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * channel/: the line reader (64 KiB limit, resync, NUL, stalled half
 * lines), the writer (queue full -> events dropped, counted, announced),
 * the rate limiter, message parsing and argument validation; and the
 * zoneinfo reader behind the greeting's kernel_free, on a zoneinfo
 * recorded from a real guest (argv[1]).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check.h"
#include "mp-channel.h"
#include "mp-json.h"
#include "mp-kernel.h"
#include "util.h"

/* Feed @s in pieces of @chunk bytes; collect every line as "KIND:len:text\n". */
static char *feed_all(struct mp_chan_reader *r, const char *s, size_t len, size_t chunk)
{
	static char out[4096];
	size_t off = 0, o = 0;
	struct mp_chan_line l;

	out[0] = '\0';
	while (off < len) {
		off += mp_chan_reader_feed(r, s + off, MP_MIN(chunk, len - off));
		while (mp_chan_reader_next(r, &l) > 0)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%d:%zu:%.40s\n", l.kind,
					      l.len, l.kind == MP_CHAN_LINE_OK ? l.text : "");
	}
	return out;
}

static void test_reader(void)
{
	struct mp_chan_reader r;
	size_t big = 70000;
	char *s = malloc(big + 64), *out;
	struct mp_chan_line l;

	if (mp_chan_reader_init(&r))
		FAIL("reader: ENOMEM");
	/* An oversized line, then a good one in the same stream. */
	memset(s, 'a', big);
	memcpy(s + big, "\n{\"execute\":\"hello\"}\n", 22);
	int rounds = 0;

	for (size_t chunk = 1000; chunk <= 70000; chunk *= 7, rounds++) {
		out = feed_all(&r, s, big + 21, chunk);
		CHECK(!strcmp(out, "1:70000:\n0:19:{\"execute\":\"hello\"}\n"));
		if (strcmp(out, "1:70000:\n0:19:{\"execute\":\"hello\"}\n"))
			fprintf(stderr, "chunk %zu: %s", chunk, out);
	}
	CHECK_EQ(r.too_long, rounds);

	/* The limit is 65536 bytes with the newline: 65535 + \n fits, 65536 + \n does not. */
	memset(s, 'b', 65536);
	s[65535] = '\n';
	out = feed_all(&r, s, 65536, 65536);
	CHECK(!strncmp(out, "0:65535:bbbb", 12));
	memset(s, 'c', 65537);
	s[65536] = '\n';
	memcpy(s + 65537, "x\n", 2);
	out = feed_all(&r, s, 65539, 65536);
	CHECK(!strcmp(out, "1:65536:\n0:1:x\n"));

	/* A NUL byte makes the line bad, not the reader. */
	out = feed_all(&r, "{\"exe\0cute\":1}\n{}\n", 18, 18);
	CHECK(!strcmp(out, "2:14:\n0:2:{}\n"));

	/* A stalled half line: kept until MP_CHAN_STALL_US without a byte, then dropped. */
	mp_chan_reader_feed(&r, "{\"exec", 6);
	CHECK_EQ(mp_chan_reader_next(&r, &l), 0);
	CHECK_EQ(mp_chan_reader_partial(&r), 6);
	CHECK(mp_chan_reader_deadline(&r) == r.last_byte_us + MP_CHAN_STALL_US);
	CHECK_EQ(mp_chan_reader_expire(&r, r.last_byte_us + MP_CHAN_STALL_US - 1), 0);
	CHECK_EQ(mp_chan_reader_expire(&r, r.last_byte_us + MP_CHAN_STALL_US), 6);
	CHECK_EQ(mp_chan_reader_partial(&r), 0);
	CHECK_EQ(mp_chan_reader_deadline(&r), 0);
	out = feed_all(&r, "ute\":\"x\"}\n{\"a\":1}\n", 18, 18);
	CHECK(!strcmp(out, "0:9:ute\":\"x\"}\n0:7:{\"a\":1}\n"));
	/* A stalled too-long line is dropped too, and the stream resyncs. */
	memset(s, 'd', 66000);
	out = feed_all(&r, s, 66000, 4096);
	CHECK(!strcmp(out, ""));
	CHECK(mp_chan_reader_partial(&r) >= 66000 - MP_CHAN_LINE_MAX);
	CHECK(mp_chan_reader_expire(&r, mp_now_us() + MP_CHAN_STALL_US) > 0);
	out = feed_all(&r, "{}\n", 3, 3);
	CHECK(!strcmp(out, "0:2:{}\n"));
	CHECK_EQ(r.stalled, 2);

	mp_chan_reader_free(&r);
	free(s);
}

static void test_reader_fd(void)
{
	struct mp_chan_reader r;
	struct mp_chan_line l;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) || mp_chan_reader_init(&r))
		FAIL("socketpair: %m");
	CHECK_EQ(mp_chan_reader_fill(&r, sv[0]), -EAGAIN);
	CHECK_EQ(write(sv[1], "{\"execute\":\"st", 14), 14);
	CHECK_EQ(mp_chan_reader_fill(&r, sv[0]), 14);
	CHECK_EQ(mp_chan_reader_next(&r, &l), 0);
	CHECK_EQ(write(sv[1], "atus\"}\n", 7), 7);
	CHECK_EQ(mp_chan_reader_fill(&r, sv[0]), 7);
	CHECK_EQ(mp_chan_reader_next(&r, &l), 1);
	CHECK(l.kind == MP_CHAN_LINE_OK && !strcmp(l.text, "{\"execute\":\"status\"}"));
	close(sv[1]);
	CHECK_EQ(mp_chan_reader_fill(&r, sv[0]), 0);
	close(sv[0]);
	mp_chan_reader_free(&r);
}

static int parse_class(const char *s, struct mp_chan_msg *m)
{
	struct mp_chan_err err;
	int rc = mp_chan_msg_parse(s, strlen(s), m, &err);

	if (rc < 0 && !err.desc[0])
		fprintf(stderr, "%s: error without a description\n", s);
	return rc < 0 ? (int)err.cls : rc;
}

static void test_parse(void)
{
	static const char *const garbage[] = {
		"hello world",
		"[1,2]",
		"123",
		"\"x\"",
		"{}",
		"{\"execute\":1}",
		"{\"execute\":\"\"}",
		"{\"execute\":\"x\",\"id\":[1]}",
		"{\"execute\":\"x\",\"id\":{\"a\":1}}",
		"{\"execute\":\"x\",\"id\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
		"{\"execute\":\"x\"} trailing",
		"{\"execute\":\"x\"",
		"{\"execute\":\"x\",}",
		"\xff\xfe{}",
		"{\"error\":\"x\"}",
		"{\"memplug\":{\"protocol\":\"1\"}}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]",
	};
	struct mp_chan_msg m;
	struct mp_chan_err err;

	for (size_t i = 0; i < MP_ARRAY_SIZE(garbage); i++) {
		int c = parse_class(garbage[i], &m);

		if (c != MP_CHAN_E_BAD_MESSAGE)
			fprintf(stderr, "garbage %zu (%s): class %d\n", i, garbage[i], c);
		CHECK_EQ(c, MP_CHAN_E_BAD_MESSAGE);
		mp_chan_msg_clear(&m);
	}
	CHECK_EQ(mp_chan_msg_parse("{\"a\"\0:1}", 8, &m, &err), -EINVAL);
	CHECK(err.cls == MP_CHAN_E_BAD_MESSAGE && strstr(err.desc, "NUL byte at offset 4"));
	mp_chan_msg_clear(&m);
	CHECK_EQ(parse_class("   \t", &m), 1);
	mp_chan_msg_clear(&m);

	/* Bad arguments keep the id, so the error can echo it. */
	CHECK_EQ(parse_class("{\"execute\":\"x\",\"arguments\":5,\"id\":7}", &m),
		 MP_CHAN_E_BAD_ARGUMENTS);
	CHECK(m.id && json_object_get_int(m.id) == 7);
	mp_chan_msg_clear(&m);

	/* Unknown members are ignored, at every level. */
	CHECK_EQ(parse_class(
			 "{\"execute\":\"prepare-unplug\",\"arguments\":{\"device\":\"dimm:slot0\","
			 "\"foo\":[1,2],\"timeout_ms\":5000},\"id\":\"a\",\"extra\":true}",
			 &m),
		 0);
	CHECK(m.kind == MP_CHAN_MSG_REQUEST && !strcmp(m.name, "prepare-unplug"));
	CHECK(!strcmp(json_object_get_string(m.id), "a"));
	{
		struct mp_chan_unplug_args a;

		CHECK_EQ(mp_chan_args_prepare_unplug(m.body, &a, &err), 0);
		CHECK(!strcmp(a.device, "dimm:slot0") && !a.by_range && a.timeout_ms == 5000);
	}
	mp_chan_msg_clear(&m);

	/* The other forms, as the host reads them. */
	CHECK_EQ(parse_class("{\"memplug\":{\"protocol\":1,\"new\":{}}}", &m), 0);
	CHECK(m.kind == MP_CHAN_MSG_GREETING && m.protocol == 1);
	mp_chan_msg_clear(&m);
	CHECK_EQ(parse_class("{\"return\":{\"x\":1},\"id\":3}", &m), 0);
	CHECK(m.kind == MP_CHAN_MSG_RETURN && json_object_get_int(m.id) == 3);
	mp_chan_msg_clear(&m);
	CHECK_EQ(parse_class(
			 "{\"error\":{\"class\":\"Refused\",\"desc\":\"d\",\"data\":{}},\"id\":3}",
			 &m),
		 0);
	CHECK(m.kind == MP_CHAN_MSG_ERROR && mp_chan_class_parse(m.name) == MP_CHAN_E_REFUSED);
	CHECK(m.desc && !strcmp(m.desc, "d") && m.body);
	mp_chan_msg_clear(&m);
	CHECK_EQ(parse_class("{\"event\":\"DEVICE_GONE\",\"data\":{\"device\":\"dimm:slot0\"},"
			     "\"timestamp\":{\"seconds\":1,\"microseconds\":2}}",
			     &m),
		 0);
	CHECK(m.kind == MP_CHAN_MSG_EVENT && !strcmp(m.name, "DEVICE_GONE"));
	mp_chan_msg_clear(&m);
}

static int unplug_args(const char *json, struct mp_chan_unplug_args *a, struct mp_chan_err *err)
{
	struct json_object *o = json_tokener_parse(json);
	int rc;

	if (!o)
		FAIL("bad test json %s", json);
	rc = mp_chan_args_prepare_unplug(o, a, err);
	json_object_put(o);
	return rc;
}

static void test_args(void)
{
	static const struct {
		const char *json, *word;
	} bad[] = {
		{ "{}", "missing \"device\"" },
		{ "{\"device\":\"dimm:slot0\",\"start\":0}", "one or the other" },
		{ "{\"start\":4294967296}", "missing \"size\"" },
		{ "{\"size\":4294967296}", "missing \"start\"" },
		{ "{\"start\":-1,\"size\":1}", "negative" },
		{ "{\"start\":1.5,\"size\":1}", "expected an integer" },
		{ "{\"start\":\"0x100000000\",\"size\":1}", "expected an integer" },
		{ "{\"start\":4294967296,\"size\":0}", "must be > 0" },
		{ "{\"start\":18446744073709551615,\"size\":2}", "within 64 bits" },
		{ "{\"device\":\"\"}", "device key" },
		{ "{\"device\":\"dimm slot0\"}", "device key" },
		{ "{\"device\":\"0123456789012345678901234567890123456789012345678\"}",
		  "device key" },
		{ "{\"device\":5}", "expected a string" },
		{ "{\"device\":\"dimm:slot0\",\"timeout_ms\":0}", "1..600000" },
		{ "{\"device\":\"dimm:slot0\",\"timeout_ms\":600001}", "1..600000" },
		{ "{\"device\":\"dimm:slot0\",\"timeout_ms\":-5}", "1..600000" },
		{ "{\"device\":\"dimm:slot0\",\"timeout_ms\":\"5\"}", "1..600000" },
	};
	struct mp_chan_unplug_args a;
	struct mp_chan_err err;
	char key[48];

	for (size_t i = 0; i < MP_ARRAY_SIZE(bad); i++) {
		err.desc[0] = '\0';
		CHECK_EQ(unplug_args(bad[i].json, &a, &err), -EINVAL);
		CHECK(err.cls == MP_CHAN_E_BAD_ARGUMENTS);
		if (!strstr(err.desc, bad[i].word))
			fprintf(stderr, "%s: '%s' lacks '%s'\n", bad[i].json, err.desc,
				bad[i].word);
		CHECK(strstr(err.desc, bad[i].word));
	}
	CHECK_EQ(unplug_args("{\"start\":4294967296,\"size\":1073741824}", &a, &err), 0);
	CHECK(a.by_range && a.start == 4294967296ull && a.size == 1073741824ull &&
	      a.timeout_ms == MP_CHAN_TIMEOUT_DEFAULT_MS);
	CHECK_EQ(mp_chan_args_device(NULL, key, sizeof(key), &err), -EINVAL);
	CHECK(strstr(err.desc, "missing \"device\""));
}

static void test_ratelimit(void)
{
	struct mp_chan_ratelimit rl;
	uint64_t t = 1000000;
	int ok = 0;

	mp_chan_ratelimit_init(&rl, MP_CHAN_RATE, MP_CHAN_BURST, t);
	for (int i = 0; i < 100; i++)
		ok += mp_chan_ratelimit_take(&rl, t);
	CHECK_EQ(ok, MP_CHAN_BURST);
	CHECK_EQ(rl.limited, 100 - MP_CHAN_BURST);
	/* 20 per second: one more every 50 ms. */
	CHECK(!mp_chan_ratelimit_take(&rl, t + 49999));
	CHECK(mp_chan_ratelimit_take(&rl, t + 50000));
	CHECK(!mp_chan_ratelimit_take(&rl, t + 50001));
	/* A second at full speed: 20 requests pass. */
	ok = 0;
	for (uint64_t us = 0; us < 1000000; us += 1000)
		ok += mp_chan_ratelimit_take(&rl, t + 50000 + us + 1000);
	CHECK(ok == 20 || ok == 19);
	/* After a long rest, a full burst again and no more. */
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += mp_chan_ratelimit_take(&rl, t + 3600ull * 1000000);
	CHECK_EQ(ok, MP_CHAN_BURST);
}

/* Read everything the peer has sent: the lines, concatenated. */
static size_t drain_peer(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void test_writer(void)
{
	struct mp_chan_writer w;
	struct json_object *ev;
	const char *text;
	size_t len, queued = 0, n, cap = 4u << 20;
	char *got = malloc(cap), *p;
	int sv[2], dropped = 0, rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		FAIL("socketpair: %m");
	mp_chan_writer_init(&w, MP_CHAN_QUEUE_MAX);
	ev = mp_chan_event_new("DEVICE_GONE", NULL, 1234567890123456ull);
	text = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN, &len);
	CHECK(!strcmp(text, "{\"event\":\"DEVICE_GONE\",\"data\":{},\"timestamp\":"
			    "{\"seconds\":1234567890,\"microseconds\":123456}}"));
	/* The peer reads nothing: events fill the queue up to the reply reserve, then drop. */
	for (int i = 0; i < 20000; i++) {
		rc = mp_chan_writer_event(&w, text, len);
		if (rc == -ENOBUFS)
			dropped++;
		else if (!rc)
			queued++;
	}
	CHECK(dropped > 0);
	CHECK_EQ(w.dropped, dropped);
	CHECK(mp_chan_writer_pending(&w) <= MP_CHAN_QUEUE_MAX - MP_CHAN_REPLY_RESERVE);
	CHECK(mp_chan_writer_pending(&w) + len + 1 > MP_CHAN_QUEUE_MAX - MP_CHAN_REPLY_RESERVE);
	/* A reply still fits: the reserve is for it. */
	CHECK_EQ(mp_chan_writer_reply(&w, "{\"return\":{},\"id\":1}", 20), 0);
	/* Send it all; the next event is preceded by EVENTS_DROPPED with the count. */
	while ((rc = mp_chan_writer_flush(&w, sv[0])) == 1)
		drain_peer(sv[1], got, cap);
	CHECK_EQ(rc, 0);
	CHECK_EQ(mp_chan_writer_pending(&w), 0);
	drain_peer(sv[1], got, cap);
	CHECK_EQ(mp_chan_writer_event(&w, text, len), 0);
	CHECK_EQ(w.dropped, 0);
	CHECK_EQ(w.dropped_total, dropped);
	CHECK_EQ(mp_chan_writer_flush(&w, sv[0]), 0);
	n = drain_peer(sv[1], got, cap);
	got[n] = '\0';
	p = strchr(got, '\n');
	{
		static const char pre[] = "{\"event\":\"EVENTS_DROPPED\",\"data\":{\"count\":";

		CHECK(p && !strncmp(got, pre, strlen(pre)));
		CHECK_EQ(atoi(got + strlen(pre)), dropped);
	}
	CHECK(p && !strncmp(p + 1, text, len) && p[1 + len] == '\n');

	/* A reply too big for the queue is refused (the caller answers Busy). */
	{
		size_t big = MP_CHAN_QUEUE_MAX + 1;
		char *b = malloc(big);

		memset(b, ' ', big);
		CHECK_EQ(mp_chan_writer_reply(&w, b, big), -ENOBUFS);
		CHECK_EQ(w.replies_refused, 1);
		free(b);
	}
	/* The peer goes away: reset drops what was unsent. */
	CHECK_EQ(mp_chan_writer_event(&w, text, len), 0);
	mp_chan_writer_reset(&w);
	CHECK_EQ(mp_chan_writer_pending(&w), 0);
	close(sv[1]);
	CHECK_EQ(mp_chan_writer_reply(&w, "{}", 2), 0);
	CHECK_EQ(mp_chan_writer_flush(&w, sv[0]), -EPIPE);
	close(sv[0]);
	json_object_put(ev);
	mp_chan_writer_free(&w);
	free(got);
}

static void test_builders(void)
{
	struct json_object *id = json_object_new_string("x1"), *o;

	o = mp_chan_error_new(id, MP_CHAN_E_RATE_LIMITED, NULL, NULL);
	CHECK(!strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		      "{\"error\":{\"class\":\"RateLimited\"},\"id\":\"x1\"}"));
	json_object_put(o);
	o = mp_chan_return_new(id, NULL);
	CHECK(!strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		      "{\"return\":{},\"id\":\"x1\"}"));
	json_object_put(o);
	o = mp_chan_request_new("status", NULL, id);
	CHECK(!strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		      "{\"execute\":\"status\",\"id\":\"x1\"}"));
	json_object_put(o);
	json_object_put(id);
	for (int c = MP_CHAN_E_LINE_TOO_LONG; c <= MP_CHAN_E_FAILED; c++)
		CHECK_EQ(mp_chan_class_parse(mp_chan_class_name(c)), c);
}

/* Recorded from a real guest (tests/channel/fixtures/README). */
static void test_zoneinfo(const char *path)
{
	struct mp_zone_free *z;
	char *text;
	size_t nr;

	if (mp_read_file_alloc(path, &text, NULL))
		FAIL("%s: %m", path);
	CHECK_EQ(mp_zoneinfo_parse(text, &z, &nr), 0);
	CHECK(nr >= 3);
	for (size_t i = 0; i < nr; i++)
		printf("zoneinfo: node %d %-8s %s free %llu\n", z[i].node, z[i].zone,
		       z[i].kernel ? "kernel" : "      ", (unsigned long long)z[i].free);
	CHECK(!strcmp(z[0].zone, "DMA") && z[0].kernel && z[0].known);
	CHECK(mp_zoneinfo_kernel_free(z, nr, 0) > 0);
	CHECK_EQ(mp_zoneinfo_kernel_free(z, nr, 7), -ENOENT);
	for (size_t i = 0; i < nr; i++)
		CHECK(z[i].kernel == (strcmp(z[i].zone, "Movable") && strcmp(z[i].zone, "Device")));
	free(z);
	free(text);
	CHECK_EQ(mp_zoneinfo_parse("Node 0, zone DMA\n  nothing\n", &z, &nr), -EINVAL);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	test_reader();
	test_reader_fd();
	test_parse();
	test_args();
	test_ratelimit();
	test_writer();
	test_builders();
	if (argc > 1)
		test_zoneinfo(argv[1]);
	CHECK_DONE();
}
