// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The scenario parser (scenario/parse.c): the shipped examples parse; bad
 * files are refused with every error named as file:line and what was
 * expected; references resolve (aliases, the implicit last device, the
 * unplug an expect refused judges).
 *
 *	test-scenario SCENARIOS_DIR
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "mp-json.h"
#include "mp-scenario.h"

static struct mp_scenario *parse_ok(const char *text)
{
	struct mp_scenario *s = NULL;
	char *errs = NULL;
	int r = mp_scenario_parse("t.scn", text, &s, &errs);

	if (r != 0)
		fprintf(stderr, "unexpected errors for:\n%s\n---\n%s", text, errs);
	CHECK_EQ(r, 0);
	CHECK(s != NULL);
	CHECK_STR(errs, "");
	free(errs);
	return s;
}

/* @text must be refused, and its errors must contain @want (a whole line). */
static void parse_bad(const char *text, const char *want)
{
	struct mp_scenario *s = (struct mp_scenario *)1;
	char *errs = NULL;
	int r = mp_scenario_parse("t.scn", text, &s, &errs);

	CHECK_EQ(r, -EINVAL);
	CHECK(s == NULL);
	if (!errs || !strstr(errs, want)) {
		fprintf(stderr, "for:\n%s\nwant: %s\ngot:  %s\n", text, want,
			errs ? errs : "(null)");
		check_failures++;
	}
	free(errs);
}

static void test_shipped(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned int n = 0;

	REQUIRE(d != NULL);
	setenv("MEMPLUG_SCENARIO_DIR", "/tmp", 1);
	setenv("MEMPLUG_DEVICE", "ua-dimm1", 1);
	while ((e = readdir(d))) {
		char path[4096], *errs = NULL;
		struct mp_scenario *s = NULL;
		size_t l = strlen(e->d_name);
		int r;

		if (l < 5 || strcmp(e->d_name + l - 4, ".scn"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		r = mp_scenario_load(path, &s, &errs);
		if (r)
			fprintf(stderr, "%s: %s", path, errs);
		CHECK_EQ(r, 0);
		CHECK(s && mp_scenario_get_nsteps(s) > 0);
		mp_scenario_free(s);
		free(errs);
		n++;
	}
	closedir(d);
	CHECK(n >= 4); /* default, plug-unplug, observe, virtio-mem, ... */
	{
		char path[4096], *errs = NULL;
		struct mp_scenario *s = NULL;

		unsetenv("MEMPLUG_SCENARIO_DIR");
		snprintf(path, sizeof(path), "%s/default.scn", dir);
		CHECK_EQ(mp_scenario_load(path, &s, &errs), -EINVAL);
		CHECK(errs &&
		      strstr(errs, "${MEMPLUG_SCENARIO_DIR} is not set in the environment"));
		free(errs);
		CHECK_EQ(mp_scenario_load("/nonexistent/x.scn", &s, &errs), -ENOENT);
		CHECK(errs && strstr(errs, "/nonexistent/x.scn: No such file or directory"));
		free(errs);
	}
}

static const char *sget(struct json_object *o, const char *k)
{
	return mp_json_get_str(o, k, "(none)");
}

/* One member of one step's JSON: a string, else an integer or a boolean. */
struct step_want {
	unsigned int step;
	const char *key;
	const char *str;
	long long num;
};

/* Each member must be there with its value; a miss names the step and the member. */
static void check_steps(struct mp_scenario *s, const struct step_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = mp_scenario_step_json(s, w[i].step), *v = NULL;
		long long got;

		if (!json_object_object_get_ex(o, w[i].key, &v)) {
			fprintf(stderr, "step %u: no member '%s'\n", w[i].step, w[i].key);
			check_failures++;
		} else if (w[i].str) {
			if (strcmp(sget(o, w[i].key), w[i].str)) {
				fprintf(stderr, "step %u: %s is '%s', want '%s'\n", w[i].step,
					w[i].key, sget(o, w[i].key), w[i].str);
				check_failures++;
			}
		} else {
			got = json_object_is_type(v, json_type_boolean) ?
				      json_object_get_boolean(v) :
				      mp_json_get_int(o, w[i].key, w[i].num - 1);
			if (got != w[i].num) {
				fprintf(stderr, "step %u: %s is %lld, want %lld\n", w[i].step,
					w[i].key, got, w[i].num);
				check_failures++;
			}
		}
		json_object_put(o);
	}
}

/* What test_resolve()'s scenario resolves to, step by step. */
static const struct step_want resolved[] = {
	{ 0, "line", NULL, 3 },
	{ 0, "text", "plug dimm 1G node=1 as=d1   # trailing comment" },
	{ 0, "device", "d1" },
	{ 0, "size", NULL, 1ll << 30 },
	{ 0, "node", NULL, 1 },
	/* an expect online without device= is about the last plug */
	{ 1, "device", "d1" },
	{ 1, "zone", "movable" },
	{ 1, "within_ms", NULL, 500 },
	{ 1, "verified", NULL, true },
	{ 1, "observed", NULL, false },
	/* a name no as= defined is a device someone else plugged */
	{ 3, "device", "d1x" },
	{ 3, "observed", NULL, true },
	{ 5, "op", "expect refused" },
	{ 5, "judges_line", NULL, 7 },
	{ 5, "reason", "failure to isolate range" },
	{ 5, "errno", "EBUSY" },
	{ 6, "on_fail_continue", NULL, true },
	{ 6, "judges_line", NULL, 7 },
	{ 7, "device", "ua-mp-dimm7" },
	{ 7, "observed", NULL, true },
	{ 11, "op", "serve" },
	{ 11, "line", NULL, 14 },
};

static void test_resolve(void)
{
	struct mp_scenario *s =
		parse_ok("# a comment\n"
			 "\n"
			 "  plug dimm 1G node=1 as=d1   # trailing comment\n"
			 "expect online zone=movable within=0.5\n"
			 "plug virtio-mem 4G requested=128M\n"
			 "resize d1x 1G\n"
			 "unplug d1\n"
			 "expect refused reason=\"failure to isolate range\" errno=EBUSY\n"
			 "expect removed device=d1 on-fail=continue\n"
			 "expect online device=ua-mp-dimm7\n"
			 "sleep 0\n"
			 "hook prepare.1\n"
			 "expect grow-request within=300\n"
			 "serve config=/etc/memplug/host.conf\r\n");

	REQUIRE(s != NULL);
	CHECK_EQ(mp_scenario_get_nsteps(s), 12);
	check_steps(s, resolved, sizeof(resolved) / sizeof(resolved[0]));
	CHECK(mp_scenario_step_json(s, 12) == NULL);
	mp_scenario_free(s);

	/* ${VAR} in values */
	setenv("MP_T_DIR", "/var/tmp/x", 1);
	s = parse_ok("plug nvdimm 2G mem-path=${MP_T_DIR}/nv.img label-size=128K as=nv\n"
		     "expect online trim=yes\n");
	CHECK_EQ(mp_scenario_get_nsteps(s), 2);
	mp_scenario_free(s);
}

static void test_bad(void)
{
	parse_bad("", "t.scn:1: no steps: a scenario needs at least one");
	parse_bad("# only\n\n", "t.scn:2: no steps");
	parse_bad("plug dimm\n", "t.scn:1: plug: a kind and a size are expected");
	parse_bad("\nplug dram 1G\n",
		  "t.scn:2: plug: kind 'dram': dimm, nvdimm or virtio-mem expected");
	parse_bad("plug dimm 1Q\n", "t.scn:1: plug: size '1Q': a size is expected");
	parse_bad("plug dimm 1G nodes=1\n", "t.scn:1: plug: unknown key 'nodes'");
	parse_bad("plug dimm 1G movable\n",
		  "t.scn:1: plug: unexpected word 'movable' (arguments are key=value)");
	parse_bad("plug dimm 1G node=1 node=2\n", "t.scn:1: node= given twice");
	parse_bad("serve within=5\n", "t.scn:1: serve: config=FILE is required");
	parse_bad("plug dimm 1G node=x\n", "t.scn:1: node=x: a number from 0 to 1023 is expected");
	parse_bad("plug dimm 1G as=1d\n", "t.scn:1: as=1d: a name is expected");
	parse_bad("plug dimm 1G as=d\nplug dimm 1G as=d\n",
		  "t.scn:2: as=d: the name is taken by the plug at line 1");
	parse_bad("unplug d\nplug dimm 1G as=d\n",
		  "t.scn:2: as=d: the name was used before this line as a device this scenario "
		  "did not plug");
	parse_bad("plug dimm 1G id=9x\n", "t.scn:1: id=9x: QEMU would refuse it");
	parse_bad("plug nvdimm 2G\n", "t.scn:1: plug nvdimm: mem-path=FILE is expected");
	parse_bad("plug dimm 1G requested=1G\n", "t.scn:1: requested= is for virtio-mem only");
	parse_bad("plug virtio-mem 1G requested=2G\n",
		  "t.scn:1: requested= is larger than the device's size");
	parse_bad("plug dimm 1G share=maybe\n", "t.scn:1: share=maybe: yes or no expected");
	parse_bad("plug dimm 1G as=d\nresize d 2G\n",
		  "t.scn:2: resize d: only virtio-mem can be resized; d is a dimm");
	parse_bad("plug nvdimm 1G mem-path=/x as=n\nunplug n\n",
		  "t.scn:2: unplug n: QEMU cannot unplug an NVDIMM");
	parse_bad("unplug\n", "t.scn:1: unplug: a device is expected: unplug NAME");
	parse_bad("unplug 'x'\n", "t.scn:1: device ''x'': a device is expected");
	parse_bad("expect\n", "t.scn:1: expect: what is expected");
	parse_bad("expect offline\n", "t.scn:1: expect offline: online, removed, refused or "
				      "grow-request expected");
	parse_bad("expect online\n", "t.scn:1: expect online: which device? give device=NAME, or "
				     "put a plug or resize before it");
	parse_bad("expect removed\n", "t.scn:1: expect removed: which device?");
	parse_bad("plug dimm 1G\nexpect refused\n",
		  "t.scn:2: expect refused: it judges the unplug on the line before it");
	parse_bad("plug dimm 1G\nexpect online zone=normal\n",
		  "t.scn:2: zone=normal: movable or kernel expected");
	parse_bad("plug dimm 1G\nexpect online within=0\n", "t.scn:2: within=0: seconds expected");
	parse_bad("plug dimm 1G\nexpect online within=1e3\n", "t.scn:2: within=1e3: seconds");
	parse_bad("plug dimm 1G\nexpect online within=90000\n", "t.scn:2: within=90000: seconds");
	parse_bad("plug dimm 1G\nexpect online blocks=-1\n", "t.scn:2: blocks=-1: a number");
	parse_bad("unplug x\nexpect refused errno=busy\n", "t.scn:2: errno=busy: an errno name");
	parse_bad("unplug x\nexpect refused within=3\n",
		  "t.scn:2: expect refused: unknown key 'within'");
	parse_bad("sleep\n", "t.scn:1: sleep: seconds expected: sleep 2");
	parse_bad("sleep soon\n", "t.scn:1: sleep soon: seconds expected");
	parse_bad("hook\n", "t.scn:1: hook: a name is expected");
	parse_bad("frob 1\n", "t.scn:1: 'frob': a step is expected");
	parse_bad("node=1\n", "t.scn:1: a step is expected first");
	parse_bad("plug dimm 1G on-fail=ignore\n",
		  "t.scn:1: on-fail=ignore: stop or continue expected");
	parse_bad("hook x reason=\"abc\n", "t.scn:1: unterminated quote");
	parse_bad("hook x reason=\"a\"b\n", "t.scn:1: blank expected after the closing quote");
	parse_bad("hook \"x\"\n", "t.scn:1: a quote may only open a value");
	parse_bad("hook x within=\n", "t.scn:1: within=: a value is expected after '='");
	parse_bad("hook x =3\n", "t.scn:1: '=3': a key is expected before '='");
	parse_bad("plug dimm 1G mem-path=${MP_T_SURELY_UNSET}\n",
		  "t.scn:1: ${MP_T_SURELY_UNSET} is not set in the environment");
	parse_bad("plug dimm 1G mem-path=${\n", "t.scn:1: '${' without a variable name and '}'");

	/* every error of the file, each with its line, in one pass */
	{
		struct mp_scenario *s = NULL;
		char *errs = NULL;

		CHECK_EQ(mp_scenario_parse("many.scn",
					   "plug dimm 1Q\n# fine\nsleep 1\nfrob\nexpect online "
					   "node=2000\nunplug\n",
					   &s, &errs),
			 -EINVAL);
		CHECK(errs && strstr(errs, "many.scn:1: plug: size '1Q'"));
		CHECK(errs && strstr(errs, "many.scn:4: 'frob'"));
		CHECK(errs && strstr(errs, "many.scn:5: node=2000"));
		CHECK(errs && strstr(errs, "many.scn:6: unplug: a device is expected"));
		CHECK(errs && !strstr(errs, "many.scn:3:"));
		free(errs);
	}
}

/* The driver's end of --hook-fd: answers each hook line as the hook's name says. */
static void *hook_peer(void *arg)
{
	int fd = *(int *)arg;
	char buf[1024];
	size_t n = 0;

	for (;;) {
		ssize_t k = read(fd, buf + n, 1);

		if (k <= 0)
			break;
		if (buf[n] != '\n') {
			if (n + 2 < sizeof(buf))
				n++;
			continue;
		}
		buf[n] = 0;
		n = 0;
		if (strstr(buf, "\"hook\":\"good\""))
			(void)!write(fd, "ok prepared\n", 12);
		else if (strstr(buf, "\"hook\":\"bad\""))
			(void)!write(fd, "no devdax here\n", 15);
		else if (strstr(buf, "\"hook\":\"gone\""))
			break; /* closes: the step must fail, not kill the run */
		/* "slow": no answer, the step's deadline ends it */
	}
	close(fd);
	return NULL;
}

static void count_steps(struct json_object *step, void *ud)
{
	(*(int *)ud)++;
}

/* The runner on steps that need no VM: hooks, sleep, stop and continue. */
static void test_run_hooks(void)
{
	struct mp_scenario *s = parse_ok("hook good\n"
					 "sleep 0.01\n"
					 "hook bad on-fail=continue\n"
					 "hook slow within=0.2 on-fail=continue\n"
					 "hook gone\n"
					 "hook good\n");
	struct json_object *rep = NULL, *steps, *st;
	struct mp_scenario_opts o = { .hook_fd = -1, .on_step = count_steps };
	int sv[2], calls = 0;
	pthread_t t;

	o.ud = &calls;
	REQUIRE(s != NULL);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pthread_create(&t, NULL, hook_peer, &sv[1]) == 0);
	o.hook_fd = sv[0];
	CHECK_EQ(mp_scenario_run(s, NULL, &o, &rep), 3);
	pthread_join(t, NULL);
	close(sv[0]);
	REQUIRE(rep != NULL);
	CHECK_EQ(calls, 6);
	CHECK_EQ(mp_json_get_int(rep, "passed", -1), 2);
	CHECK_EQ(mp_json_get_int(rep, "failed", -1), 3);
	CHECK_EQ(mp_json_get_int(rep, "skipped", -1), 1);
	json_object_object_get_ex(rep, "steps", &steps);
	CHECK_STR(sget(json_object_array_get_idx(steps, 0), "result"), "pass");
	CHECK_STR(sget(json_object_array_get_idx(steps, 0), "note"), "prepared");
	CHECK_STR(sget(json_object_array_get_idx(steps, 1), "result"), "pass");
	st = json_object_array_get_idx(steps, 2);
	CHECK_STR(sget(st, "result"), "fail");
	CHECK_STR(sget(st, "reason"), "hook bad: no devdax here");
	st = json_object_array_get_idx(steps, 3);
	CHECK_STR(sget(st, "reason"), "hook slow: no answer from the hook handler in 200 ms");
	st = json_object_array_get_idx(steps, 4);
	CHECK_STR(sget(st, "result"), "fail");
	CHECK_STR(sget(st, "reason"), "hook gone: the hook handler went away");
	/* hook gone has no on-fail=continue: the run stops there */
	st = json_object_array_get_idx(steps, 5);
	CHECK_STR(sget(st, "result"), "skipped");
	CHECK_EQ(mp_json_get_int(st, "line", 0), 6);
	CHECK(!json_object_object_get_ex(st, "elapsed_ms", NULL));
	json_object_put(rep);

	/* without --hook-fd a hook fails and says why; the peer gone, a write
	 * must not SIGPIPE the process */
	o.hook_fd = -1;
	CHECK_EQ(mp_scenario_run(s, NULL, &o, &rep), 1);
	json_object_object_get_ex(rep, "steps", &steps);
	CHECK(strstr(sget(json_object_array_get_idx(steps, 0), "reason"),
		     "no hook handler (run with --hook-fd FD"));
	json_object_put(rep);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	o.hook_fd = sv[0];
	CHECK_EQ(mp_scenario_run(s, NULL, &o, &rep), 1);
	json_object_object_get_ex(rep, "steps", &steps);
	CHECK(strstr(sget(json_object_array_get_idx(steps, 0), "reason"),
		     "cannot write to the hook fd"));
	json_object_put(rep);
	close(sv[0]);
	mp_scenario_free(s);
}

int main(int argc, char **argv)
{
	REQUIRE(argc == 2);
	test_shipped(argv[1]);
	test_resolve();
	test_bad();
	test_run_hooks();
	CHECK_DONE();
}
