// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The guest's growth decisions (engine/grow.c) with the test's own clock:
 * when a trigger becomes a GROW_REQUEST, the pending request, the cooldown
 * from the answer (or from the request after 60 s without one), the
 * ceiling, and grow-answer's checks.  The PSI line parser on the text of a
 * /proc/pressure/memory's format.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "mp-grow.h"
#include "mp-json.h"

#define M (1ull << 20)
#define G (1ull << 30)

static int answer(struct mp_grow *g, const char *args, uint64_t now, char *why, size_t len)
{
	struct json_object *a = json_tokener_parse(args);
	int r;

	REQUIRE(a);
	r = mp_grow_answer(g, a, now, why, len);
	json_object_put(a);
	return r;
}

int main(void)
{
	struct mp_grow_policy pol = {
		.path = "/etc/memplug/policies.d/60-grow.conf",
		.line = 3,
		.pressure = MP_GROW_PRESSURE_SOME,
		.stall_us = 150000,
		.window_us = 1000000,
		.step = 200 * M, /* rounded up to 256M with 128M blocks */
		.ceiling = 2 * G,
		.cooldown_ms = 30000,
		.node = -1,
	};
	struct mp_grow_facts f = {
		.now_ms = 5000,
		.host = true,
		.total = 1 * G,
		.block_size = 128 * M,
		.avg10 = 12.5,
	};
	struct mp_grow *g;
	struct json_object *data, *st, *x;
	char why[512], text[64];
	double avg;

	/* hand-written in the format of /proc/pressure/memory (Documentation/accounting/psi.rst) */
	const char *psi = "some avg10=23.41 avg60=5.10 avg300=1.09 total=3215840\n"
			  "full avg10=11.02 avg60=2.57 avg300=0.55 total=1626781\n";

	CHECK_EQ(mp_psi_avg10(psi, MP_GROW_PRESSURE_SOME, &avg), 0);
	CHECK(avg > 23.40 && avg < 23.42);
	CHECK_EQ(mp_psi_avg10(psi, MP_GROW_PRESSURE_FULL, &avg), 0);
	CHECK(avg > 11.01 && avg < 11.03);
	CHECK_EQ(mp_psi_avg10("some total=1\n", MP_GROW_PRESSURE_SOME, &avg), -EINVAL);
	CHECK_EQ(mp_psi_avg10("", MP_GROW_PRESSURE_FULL, &avg), -EINVAL);

	CHECK_EQ(mp_grow_trigger_text(&pol, text, sizeof(text)), 0);
	CHECK_STR(text, "some 150000 1000000");
	pol.pressure = MP_GROW_PRESSURE_FULL;
	CHECK_EQ(mp_grow_trigger_text(&pol, text, sizeof(text)), 0);
	CHECK_STR(text, "full 150000 1000000");
	CHECK_EQ(mp_grow_trigger_text(&pol, text, 8), -ENOSPC);
	pol.pressure = MP_GROW_PRESSURE_SOME;

	REQUIRE(mp_grow_new(&g) == 0);
	/* off until configured */
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 0);
	CHECK(strstr(why, "no [Grow] policy"));
	CHECK_EQ(mp_grow_configure(g, &pol), 0);
	REQUIRE(mp_grow_policy(g));
	CHECK_STR(mp_grow_policy(g)->path, pol.path);

	/* no host */
	f.host = false;
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 0);
	CHECK(strstr(why, "no host connected"));
	f.host = true;

	/* request 1: Step in whole blocks */
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 1);
	REQUIRE(data);
	CHECK_EQ_U64(mp_json_get_u64(data, "request", 0), 1);
	CHECK_EQ_U64(mp_json_get_u64(data, "size", 0), 256 * M);
	CHECK_EQ(mp_json_get_int(data, "node", 99), -1);
	CHECK_EQ_U64(mp_json_get_u64(data, "total", 0), 1 * G);
	CHECK_EQ_U64(mp_json_get_u64(data, "ceiling", 0), 2 * G);
	REQUIRE(json_object_object_get_ex(data, "pressure", &x));
	CHECK_STR(mp_json_get_str(x, "kind", ""), "some");
	CHECK_EQ_U64(mp_json_get_u64(x, "stall_us", 0), 150000);
	CHECK_EQ_U64(mp_json_get_u64(x, "window_us", 0), 1000000);
	json_object_put(data);

	/* pending: the next trigger asks for nothing */
	f.now_ms += 1000;
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 0);
	CHECK(strstr(why, "request 1 sent 1000 ms ago is not answered"));

	/* answers: bad fields, the wrong request, then the right one */
	CHECK_EQ(answer(g, "{\"granted\": true}", f.now_ms, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "'request'"));
	CHECK_EQ(answer(g, "{\"request\": 1, \"granted\": \"yes\"}", f.now_ms, why, sizeof(why)),
		 -EINVAL);
	CHECK(strstr(why, "'granted'"));
	CHECK_EQ(answer(g, "{\"request\": 1, \"granted\": true, \"device\": \"a\\u0001b\"}",
			f.now_ms, why, sizeof(why)),
		 -EINVAL);
	CHECK(strstr(why, "'device'"));
	CHECK_EQ(answer(g, "{\"request\": 7, \"granted\": true}", f.now_ms, why, sizeof(why)),
		 -ENOENT);
	CHECK(strstr(why, "request 7 is not pending (request 1 is)"));
	f.now_ms += 2000;
	CHECK_EQ(answer(g,
			"{\"request\": 1, \"granted\": true, \"size\": 268435456, \"device\": "
			"\"mp-dimm0\", \"reason\": \"granted 256M as asked\"}",
			f.now_ms, why, sizeof(why)),
		 0);
	CHECK(strstr(why, "request 1 granted 256M (mp-dimm0) after 3000 ms"));
	/* answered twice: NotFound */
	CHECK_EQ(answer(g, "{\"request\": 1, \"granted\": true}", f.now_ms, why, sizeof(why)),
		 -ENOENT);

	/* cooldown from the answer */
	f.now_ms += 10000;
	f.total = 1 * G + 256 * M;
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 0);
	CHECK(strstr(why, "cooldown: 20000 ms left of Cooldown=30s"));
	st = mp_grow_status_json(g, f.now_ms);
	CHECK_EQ_U64(mp_json_get_u64(st, "cooldown_left_ms", 0), 20000);
	CHECK_EQ_U64(mp_json_get_u64(st, "requests", 0), 1);
	CHECK_EQ_U64(mp_json_get_u64(st, "answers", 0), 1);
	CHECK_EQ_U64(mp_json_get_u64(st, "granted_bytes", 0), 256 * M);
	REQUIRE(json_object_object_get_ex(st, "last_answer", &x));
	CHECK_STR(mp_json_get_str(x, "device", ""), "mp-dimm0");
	CHECK_EQ_U64(mp_json_get_u64(x, "ago_ms", 0), 10000);
	json_object_put(st);

	/* past the cooldown, near the ceiling: asks only for what is left */
	f.now_ms += 20000;
	f.total = 2 * G - 128 * M;
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 1);
	CHECK_EQ_U64(mp_json_get_u64(data, "request", 0), 2);
	CHECK_EQ_U64(mp_json_get_u64(data, "size", 0), 128 * M);
	json_object_put(data);

	/* no answer in 60 s: given up, a late answer is NotFound, cooldown from the request */
	f.now_ms += MP_GROW_ANSWER_MS;
	CHECK_EQ(answer(g, "{\"request\": 2, \"granted\": false}", f.now_ms, why, sizeof(why)),
		 -ENOENT);
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 1);
	CHECK_EQ_U64(mp_json_get_u64(data, "request", 0), 3);
	json_object_put(data);
	f.now_ms += 100;
	CHECK_EQ(answer(g, "{\"request\": 3, \"granted\": false, \"reason\": \"MaxMemory\"}",
			f.now_ms, why, sizeof(why)),
		 0);
	CHECK(strstr(why, "request 3 refused"));

	/* at the ceiling */
	f.now_ms += 31000;
	f.total = 2 * G;
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 0);
	CHECK(strstr(why, "at the ceiling: 2G online, Ceiling=2G"));
	f.total = 2 * G - 64 * M;
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 0);
	CHECK(strstr(why, "less than one 128M block"));

	/* a reload without [Grow]: off, numbers kept; back on: numbering goes on */
	mp_grow_configure(g, NULL);
	CHECK(!mp_grow_policy(g));
	mp_grow_configure(g, &pol);
	f.total = 1 * G;
	CHECK_EQ(mp_grow_on_trigger(g, &f, &data, why, sizeof(why)), 1);
	CHECK_EQ_U64(mp_json_get_u64(data, "request", 0), 4);
	json_object_put(data);
	st = mp_grow_status_json(g, f.now_ms);
	CHECK_EQ_U64(mp_json_get_u64(st, "pending", 0), 4);
	CHECK_EQ_U64(mp_json_get_u64(st, "triggers", 0), 10);
	json_object_put(st);
	mp_grow_free(g);
	CHECK_DONE();
}
