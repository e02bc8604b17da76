// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The host's growth limits: the config file (every problem with file:line)
 * and mp_host_grow_decide(): MaxMemory, Step, Cooldown, HostFreeFloor, the
 * rate limit, the guest's own ceiling, malformed requests.  Pure: no VM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "host.h"
#include "mp-json.h"

#define M (1ull << 20)
#define G (1ull << 30)

static char dir[] = "/tmp/mp-host-grow.XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_config(void)
{
	struct mp_host_config *c = NULL;
	char why[2048];
	const char *p;
	int r;

	p = write_file("good.conf", "# a VM\n[Grow]\nMaxMemory=4G\nStep=512M\nCooldown=2min\n"
				    "HostFreeFloor=2G\nKind=virtio-mem\nHostNode=auto\n"
				    "MaxRequestsPerMinute=12\nProofTimeout=30s\nMemInfo=/tmp/mi\n");
	r = mp_host_config_load(p, &c, why, sizeof(why));
	CHECK_EQ(r, 0);
	REQUIRE(c);
	CHECK_EQ_U64(c->max_memory, 4 * G);
	CHECK_EQ_U64(c->step, 512 * M);
	CHECK_EQ_U64(c->cooldown_ms, 120000);
	CHECK_EQ_U64(c->host_floor, 2 * G);
	CHECK_STR(c->kind, "virtio-mem");
	CHECK_EQ(c->host_node, MP_HOST_NODE_AUTO);
	CHECK_EQ(c->max_rpm, 12);
	CHECK_EQ(c->proof_ms, 30000);
	CHECK_STR(c->meminfo, "/tmp/mi");
	free(c);

	/* defaults */
	p = write_file("min.conf", "[Grow]\nMaxMemory=2G\n");
	CHECK_EQ(mp_host_config_load(p, &c, why, sizeof(why)), 0);
	REQUIRE(c);
	CHECK_EQ_U64(c->step, MP_HOST_GROW_DEFAULT_STEP);
	CHECK_EQ_U64(c->host_floor, MP_HOST_GROW_DEFAULT_FLOOR);
	CHECK_STR(c->kind, "dimm");
	CHECK_EQ(c->host_node, MP_HOST_NODE_NONE);
	CHECK_STR(c->meminfo, "/proc/meminfo");
	free(c);

	/* every problem, each with its line */
	p = write_file("bad.conf", "Step=1G\n[Grow]\nMaxMemory=lots\nStep=100K\nCooldown=30\n"
				   "Kind=nvdimm\nHostNode=x\nMaxRequestsPerMinute=0\nBogus=1\n"
				   "Step=1G\n[Other]\n");
	r = mp_host_config_load(p, &c, why, sizeof(why));
	CHECK_EQ(r, -EINVAL);
	CHECK(c == NULL);
	CHECK(strstr(why, "bad.conf:1: Step= outside [Grow]"));
	CHECK(strstr(why, "bad.conf:3: bad MaxMemory= value 'lots'"));
	CHECK(strstr(why, "bad.conf:4: bad Step= value '100K'"));
	CHECK(strstr(why, "bad.conf:5: bad Cooldown= value '30'"));
	CHECK(strstr(why, "bad.conf:6: bad Kind= value 'nvdimm'"));
	CHECK(strstr(why, "bad.conf:7: bad HostNode= value 'x'"));
	CHECK(strstr(why, "bad.conf:8: bad MaxRequestsPerMinute= value '0'"));
	CHECK(strstr(why, "bad.conf:9: unknown key Bogus= in [Grow]"));
	CHECK(strstr(why, "bad.conf:10: duplicate key Step= (first at line 4)"));
	CHECK(strstr(why, "bad.conf:11: unknown section [Other]"));

	p = write_file("nomax.conf", "[Grow]\nStep=1G\n");
	CHECK_EQ(mp_host_config_load(p, &c, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "needs MaxMemory="));
	p = write_file("step.conf", "[Grow]\nMaxMemory=1G\nStep=2G\n");
	CHECK_EQ(mp_host_config_load(p, &c, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "step.conf:3: Step= is above MaxMemory= (line 2)"));
	CHECK_EQ(mp_host_config_load("/nonexistent/x.conf", &c, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "/nonexistent/x.conf: "));
}

static struct json_object *req(uint64_t n, uint64_t size, uint64_t total, uint64_t ceiling)
{
	char buf[256];

	snprintf(
		buf, sizeof(buf),
		"{\"request\": %llu, \"size\": %llu, \"node\": 0, \"total\": %llu, \"ceiling\": %llu,"
		" \"pressure\": {\"kind\": \"some\", \"stall_us\": 1, \"window_us\": 2}}",
		(unsigned long long)n, (unsigned long long)size, (unsigned long long)total,
		(unsigned long long)ceiling);
	return json_tokener_parse(buf);
}

static int decide(const struct mp_host_config *c, struct mp_host_grow_limiter *lim,
		  struct json_object *r, const struct mp_host_grow_facts *f,
		  struct mp_host_grow_decision *d)
{
	int g = mp_host_grow_decide(c, lim, r, f, d);

	json_object_put(r);
	return g;
}

static void test_decide(void)
{
	struct mp_host_config c = {
		.max_memory = 4 * G,
		.step = 512 * M,
		.cooldown_ms = 30000,
		.host_floor = 1 * G,
		.kind = "dimm",
		.max_rpm = 600, /* the rate limit has its own case below */
		.meminfo = "/proc/meminfo",
	};
	struct mp_host_grow_facts f = {
		.now_ms = 1000000,
		.vm_memory = 1 * G,
		.space_left = 16 * G,
		.slots_free = 8,
		.host_avail = 16 * G,
		.block_size = 128 * M,
	};
	struct mp_host_grow_limiter lim = { 0 };
	struct mp_host_grow_decision d;
	char line[1024];

	/* as asked, in whole blocks (200M -> 256M) */
	CHECK_EQ(decide(&c, &lim, req(1, 200 * M, 1 * G, 8 * G), &f, &d), 1);
	CHECK(d.granted && d.has_request);
	CHECK_EQ_U64(d.request, 1);
	CHECK_EQ_U64(d.size, 256 * M);
	CHECK(strstr(d.reason, "as asked"));
	mp_host_grow_decision_format(&d, line, sizeof(line));
	CHECK(strstr(line, "request 1: GRANTED"));
	CHECK(strstr(line, "MaxMemory 4G"));

	/* inside the cooldown: refused with the time left */
	f.now_ms += 10000;
	CHECK_EQ(decide(&c, &lim, req(2, 256 * M, 1 * G, 8 * G), &f, &d), 0);
	CHECK(!d.granted && !d.rate_limited);
	CHECK_EQ_U64(d.cooldown_left_ms, 20000);
	CHECK(strstr(d.reason, "cooldown: 20.0 s left of Cooldown=30 s"));

	/* bigger than Step: clipped to Step */
	f.now_ms += 30000;
	CHECK_EQ(decide(&c, &lim, req(3, 2 * G, 1 * G, 8 * G), &f, &d), 1);
	CHECK_EQ_U64(d.size, 512 * M);
	CHECK(strstr(d.reason, "clipped by Step="));

	/* MaxMemory: clipped to what is left, then refused at the cap */
	f.now_ms += 31000;
	f.vm_memory = 4 * G - 256 * M;
	CHECK_EQ(decide(&c, &lim, req(4, 512 * M, 1 * G, 8 * G), &f, &d), 1);
	CHECK_EQ_U64(d.size, 256 * M);
	CHECK(strstr(d.reason, "clipped by MaxMemory="));
	f.now_ms += 31000;
	f.vm_memory = 4 * G;
	CHECK_EQ(decide(&c, &lim, req(5, 512 * M, 1 * G, 8 * G), &f, &d), 0);
	CHECK(strstr(d.reason, "MaxMemory: the VM has 4G of MaxMemory=4G"));
	/* a guest that claims a huge ceiling does not raise MaxMemory */
	CHECK_EQ(decide(&c, &lim, req(6, 512 * M, 0, 1ull << 49), &f, &d), 0);
	CHECK(strstr(d.reason, "MaxMemory:"));

	/* the guest's own ceiling lowers a grant, never raises it */
	f.vm_memory = 1 * G;
	CHECK_EQ(decide(&c, &lim, req(7, 512 * M, 1 * G + 128 * M, 1 * G + 256 * M), &f, &d), 1);
	CHECK_EQ_U64(d.size, 128 * M);
	f.now_ms += 31000;
	CHECK_EQ(decide(&c, &lim, req(8, 512 * M, 2 * G, 2 * G), &f, &d), 0);
	CHECK(strstr(d.reason, "at its own ceiling"));

	/* host floor: clipped, then refused with the numbers */
	f.host_avail = 1 * G + 300 * M;
	CHECK_EQ(decide(&c, &lim, req(9, 512 * M, 1 * G, 8 * G), &f, &d), 1);
	CHECK_EQ_U64(d.size, 256 * M);
	CHECK(strstr(d.reason, "clipped by HostFreeFloor="));
	f.now_ms += 31000;
	f.host_avail = 1 * G + 100 * M;
	CHECK_EQ(decide(&c, &lim, req(10, 512 * M, 1 * G, 8 * G), &f, &d), 0);
	CHECK(strstr(d.reason, "host floor: MemAvailable"));
	CHECK(strstr(d.reason, "HostFreeFloor=1G"));
	f.host_avail = UINT64_MAX;
	CHECK_EQ(decide(&c, &lim, req(11, 512 * M, 1 * G, 8 * G), &f, &d), 0);
	CHECK(strstr(d.reason, "MemAvailable unknown"));
	f.host_avail = 16 * G;

	/* maxmem and slots */
	f.space_left = 100 * M;
	CHECK_EQ(decide(&c, &lim, req(12, 512 * M, 1 * G, 8 * G), &f, &d), 0);
	CHECK(strstr(d.reason, "maxmem:"));
	f.space_left = 16 * G;
	f.slots_free = 0;
	CHECK_EQ(decide(&c, &lim, req(13, 512 * M, 1 * G, 8 * G), &f, &d), 0);
	CHECK(strstr(d.reason, "no free DIMM slot"));
	f.slots_free = 8;

	/* malformed requests are refused (and answered when the number is readable) */
	CHECK_EQ(decide(&c, &lim, json_tokener_parse("{\"request\": 14, \"size\": -1}"), &f, &d),
		 0);
	CHECK(d.has_request && strstr(d.reason, "'size'"));
	CHECK_EQ(decide(&c, &lim, json_tokener_parse("{\"size\": 1}"), &f, &d), 0);
	CHECK(!d.has_request && strstr(d.reason, "'request'"));
	CHECK_EQ(decide(&c, &lim, json_tokener_parse("[1]"), &f, &d), 0);
	CHECK(!d.has_request);
	CHECK_EQ(decide(&c, &lim,
			json_tokener_parse("{\"request\": 15, \"size\": 1, \"node\": 4096}"), &f,
			&d),
		 0);
	CHECK(strstr(d.reason, "'node'"));

	/* rate limit: a fresh bucket takes MaxRequestsPerMinute, then refuses unanswered */
	{
		struct mp_host_grow_limiter l2 = { 0 };
		int granted = 0, limited = 0;

		c.max_rpm = 6;
		for (int i = 0; i < 100; i++) {
			decide(&c, &l2, req(100 + i, 128 * M, 1 * G, 8 * G), &f, &d);
			granted += d.granted;
			limited += d.rate_limited;
		}
		CHECK_EQ(granted, 1); /* the rest of the six are in the cooldown */
		CHECK_EQ(limited, 94);
		CHECK_EQ(l2.limited, 94);
		CHECK_EQ(l2.requests, 100);
		CHECK(strstr(d.reason, "rate limited"));
		/* ten seconds refill one request (6 per minute) */
		f.now_ms += 10000;
		decide(&c, &l2, req(200, 128 * M, 1 * G, 8 * G), &f, &d);
		CHECK(!d.rate_limited);
		decide(&c, &l2, req(201, 128 * M, 1 * G, 8 * G), &f, &d);
		CHECK(d.rate_limited);
	}

	/* JSON record */
	{
		struct json_object *o = mp_host_grow_decision_json(&d);

		CHECK(mp_json_get_bool(o, "rate_limited", false));
		CHECK_EQ_U64(mp_json_get_u64(o, "request", 0), 201);
		json_object_put(o);
	}
}

int main(void)
{
	REQUIRE(mkdtemp(dir));
	test_config();
	test_decide();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", dir);
	}
	CHECK_DONE();
}
