// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory operations against a real QEMU (TCG, stopped with -S: object-add,
 * device_add and the queries need no guest OS).  Unplug with a guest is in
 * test_host_guest.py.  Each test but the pure and the orphan one gets a QEMU
 * of its own from host_test_run().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "qmp.h"
#include "tq.h"

#define M (1ull << 20)
#define G (1ull << 30)

/* QEMU takes one QMP client at a time: ask through the test's own handle. */
static char *raw(struct mp_host *h, const char *cmd, const char *args)
{
	struct json_object *ret = NULL;
	char *s = NULL;

	if (mp_host_qmp(h, cmd, args ? json_tokener_parse(args) : NULL, &ret, NULL, 0) == 0)
		s = strdup(ret ? json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN) :
				 "null");
	json_object_put(ret);
	return s;
}

static bool has_object(struct mp_host *h, const char *id)
{
	char *s = raw(h, "qom-list", "{\"path\":\"/objects\"}");
	char needle[200];
	bool found;

	if (!s)
		return false;
	snprintf(needle, sizeof(needle), "\"name\":\"%s\"", id);
	found = strstr(s, needle) != NULL;
	free(s);
	return found;
}

static struct mp_host_plug_spec dimm(uint64_t size, int node)
{
	struct mp_host_plug_spec s = {
		.size = size,
		.node = node,
		.host_node = MP_HOST_NODE_NONE,
	};
	return s;
}

/* A test that runs against a QEMU of its own (@machine: tq_qemu_start()'s
 * machine_args) through a host handle, @timeout_ms per command. */
struct host_test {
	void (*fn)(struct tq_qemu *qm, struct mp_host *h);
	const char *machine;
	int timeout_ms;
};

static void host_test_run(const struct host_test *t)
{
	struct tq_qemu qm = { 0 };
	struct mp_host *h = NULL;

	CHECK_EQ(tq_qemu_start(&qm, t->machine), 0);
	CHECK_EQ(mp_host_open_qmp(qm.sock, t->timeout_ms, &h), 0);
	if (h)
		t->fn(&qm, h);
	mp_host_close(h);
	tq_qemu_kill(&qm);
}

static void test_plug_list_rollback(struct tq_qemu *qm, struct mp_host *h)
{
	struct mp_host_state *st;
	const struct mp_host_memdev *d;
	struct mp_host_plug_spec s;
	char id[64];
	int r, i;

	/* plain plug, then list */
	s = dimm(256 * M, 0);
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "mp-dimm0"));
	CHECK_EQ(mp_host_state_get(h, &st), 0);
	CHECK_EQ(mp_host_state_get_base(st), 1 * G);
	CHECK_EQ(mp_host_state_get_plugged(st), 256 * M);
	CHECK_EQ(mp_host_state_get_maxmem(st), 8 * G);
	CHECK_EQ(mp_host_state_get_slots(st), 3);
	CHECK_EQ(mp_host_state_get_slots_used(st), 1);
	CHECK_EQ(mp_host_state_get_space_left(st), 8 * G - 1 * G - 256 * M);
	CHECK(mp_host_state_get_nvdimm(st));
	CHECK_EQ(mp_host_state_get_norphans(st), 0);
	d = mp_host_state_find(st, "mp-dimm0");
	CHECK(d != NULL);
	if (d) {
		CHECK(!strcmp(mp_host_memdev_get_kind(d), "dimm"));
		CHECK(!strcmp(mp_host_memdev_get_backend(d), "mp-dimm0-mem"));
		CHECK_EQ(mp_host_memdev_get_size(d), 256 * M);
		CHECK_EQ(mp_host_memdev_get_addr(d), 4 * G);
		CHECK_EQ(mp_host_memdev_get_slot(d), 0);
	}
	mp_host_state_free(st);

	/* rollback: device_add refused (bad node) -> backend deleted again */
	s = dimm(128 * M, 5);
	r = mp_host_plug_dimm(h, &s, id, sizeof(id));
	CHECK_EQ(r, -EREMOTEIO);
	CHECK(!has_object(h, "mp-dimm1-mem"));

	/* refusal before sending: size not in whole blocks, maxmem exceeded */
	s = dimm(100 * M, 0);
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -EINVAL);
	s = dimm(8 * G, 0);
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -ENOSPC);
	CHECK(!has_object(h, "mp-dimm1-mem"));

	/* user id gets the prefix; duplicate refused */
	s = dimm(128 * M, 0);
	s.id = "extra";
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "mp-extra"));
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -EEXIST);

	/* fill the last slot, then: checked refusal, and with force the
	 * rollback after QEMU's "no free slots available" */
	s = dimm(128 * M, 0);
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), 0);
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -ENOSPC);
	s.force = true;
	r = mp_host_plug_dimm(h, &s, id, sizeof(id));
	CHECK_EQ(r, -EREMOTEIO);
	for (i = 0; i < 8; i++) {
		char b[64];

		snprintf(b, sizeof(b), "mp-dimm%d-mem", i);
		if (i == 0 || i == 1)
			CHECK(has_object(h, b));
		else
			CHECK(!has_object(h, b));
	}
	CHECK_EQ(mp_host_state_get(h, &st), 0);
	CHECK_EQ(mp_host_state_get_norphans(st), 0);
	CHECK_EQ(mp_host_state_get_slots_used(st), 3);
	mp_host_state_free(st);
}

/* A run killed between object-add and device_add leaves a backend that the
 * next run reports and cleanup removes. */
static void test_orphans(void)
{
	struct tq_qemu qm;
	struct mp_host *h = NULL;
	struct mp_host_state *st;
	struct mp_host_plug_spec s = dimm(128 * M, 0);
	unsigned int found;
	char id[64], *x;

	CHECK_EQ(tq_qemu_start(&qm, NULL), 0);
	/* exactly what the killed run sent: the object-add alone */
	x = tq_qmp_raw(&qm, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":"
			    "\"memory-backend-ram\",\"id\":\"mp-dimm0-mem\",\"size\":134217728}}");
	CHECK(x != NULL);
	free(x);
	/* someone else's object is never ours */
	x = tq_qmp_raw(&qm, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":"
			    "\"memory-backend-ram\",\"id\":\"other\",\"size\":134217728}}");
	free(x);
	CHECK_EQ(mp_host_open_qmp(qm.sock, 10000, &h), 0);
	if (!h)
		goto out;
	CHECK_EQ(mp_host_state_get(h, &st), 0);
	CHECK_EQ(mp_host_state_get_norphans(st), 1);
	CHECK(!strcmp(mp_host_state_get_orphan(st, 0), "mp-dimm0-mem"));
	mp_host_state_free(st);
	/* a new plug works around it (fresh id) */
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "mp-dimm1"));
	CHECK_EQ(mp_host_cleanup(h, true, &found), 0);
	CHECK_EQ(found, 1);
	CHECK_EQ(mp_host_cleanup(h, false, &found), 1);
	CHECK_EQ(found, 1);
	CHECK(!has_object(h, "mp-dimm0-mem"));
	CHECK(has_object(h, "mp-dimm1-mem"));
	CHECK(has_object(h, "other"));
	mp_host_close(h);
out:
	tq_qemu_kill(&qm);
}

static void test_nvdimm_vmem(struct tq_qemu *qm, struct mp_host *h)
{
	struct mp_host_state *st;
	const struct mp_host_memdev *d;
	struct mp_host_plug_spec s = dimm(256 * M, 0);
	char id[64], path[200];

	snprintf(path, sizeof(path), "%s/nv0", qm->dir);
	s.mem_path = path;
	s.label_size = 128 << 10;
	CHECK_EQ(mp_host_plug_nvdimm(h, &s, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "mp-nvdimm0"));
	CHECK_EQ(mp_host_unplug(h, id, 1000), -EOPNOTSUPP);

	s = dimm(1 * G, 0);
	s.requested_size = 0;
	CHECK_EQ(mp_host_plug_virtio_mem(h, &s, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "mp-vmem0"));
	CHECK_EQ(mp_host_state_get(h, &st), 0);
	d = mp_host_state_find(st, "mp-vmem0");
	CHECK(d && !strcmp(mp_host_memdev_get_kind(d), "virtio-mem"));
	CHECK(d && mp_host_memdev_get_max_size(d) == 1 * G);
	CHECK(d && mp_host_memdev_get_block_size(d) == 2 * M);
	d = mp_host_state_find(st, "mp-nvdimm0");
	CHECK(d && !strcmp(mp_host_memdev_get_kind(d), "nvdimm"));
	/* virtio-mem takes no slot, but its whole maximum in address space;
	 * QEMU reports an NVDIMM without its label area */
	CHECK_EQ(mp_host_state_get_slots_used(st), 1);
	CHECK_EQ(mp_host_state_get_space_left(st), 16 * G - 1 * G - 256 * M - 1 * G);
	mp_host_state_free(st);

	/* resize checks before sending, then the request is set; without a
	 * guest driver the size never moves, so waiting times out */
	CHECK_EQ(mp_host_resize(h, "mp-vmem0", 3 * M, 0), -EINVAL);
	CHECK_EQ(mp_host_resize(h, "mp-vmem0", 2 * G, 0), -EINVAL);
	CHECK_EQ(mp_host_resize(h, "mp-nvdimm0", 2 * M, 0), -EOPNOTSUPP);
	CHECK_EQ(mp_host_resize(h, "nope", 2 * M, 0), -ENODEV);
	CHECK_EQ(mp_host_resize(h, "mp-vmem0", 512 * M, 0), 0);
	CHECK_EQ(mp_host_state_get(h, &st), 0);
	d = mp_host_state_find(st, "mp-vmem0");
	CHECK(d && mp_host_memdev_get_requested_size(d) == 512 * M);
	mp_host_state_free(st);
	CHECK_EQ(mp_host_resize(h, "mp-vmem0", 256 * M, 500), -ETIMEDOUT);
	CHECK_EQ(mp_host_unplug(h, "mp-vmem0", 1000), -EOPNOTSUPP);
}

/* A machine without nvdimm=on: refused before sending, saying why. */
static void test_nvdimm_off(struct tq_qemu *qm, struct mp_host *h)
{
	struct mp_host_plug_spec s = dimm(256 * M, 0);
	char id[64], path[200];

	snprintf(path, sizeof(path), "%s/nv0", qm->dir);
	s.mem_path = path;
	CHECK_EQ(mp_host_plug_nvdimm(h, &s, id, sizeof(id)), -EOPNOTSUPP);
}

/* Without a guest OS the unplug request is never answered: a timeout with
 * the DIMM in place; QEMU killed during the wait: an error, not the end of
 * the wait.  No wall-clock bounds (a loaded machine stretches any duration):
 * what each call returns says why it returned, and one that hangs is ended
 * by meson's timeout for this test (180 s). */
static void test_unplug_no_guest_and_kill(struct tq_qemu *qm, struct mp_host *h)
{
	struct mp_host_state *st;
	struct mp_host_plug_spec s = dimm(128 * M, 0);
	char id[64];
	pid_t killer;
	int r;

	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), 0);
	CHECK_EQ(mp_host_unplug(h, "mp-nope", 1000), -ENODEV);
	CHECK_EQ(mp_host_unplug(h, id, 800), -ETIMEDOUT);
	CHECK_EQ(mp_host_state_get(h, &st), 0);
	CHECK(mp_host_state_find(st, id) != NULL);
	mp_host_state_free(st);

	/* kill QEMU 300 ms into a wait longer than meson's timeout: only
	 * noticing the closed connection can end it in time */
	killer = fork();
	if (killer == 0) {
		usleep(300000);
		kill(qm->pid, SIGKILL);
		_exit(0);
	}
	r = mp_host_unplug(h, id, 3600 * 1000);
	CHECK(r == -ECONNRESET || r == -EREMOTEIO);
	waitpid(killer, NULL, 0);
	/* and every later call fails at once: the connection is marked dead,
	 * nothing is sent (ENOTCONN, not a timeout or EPIPE) */
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -ENOTCONN);
}

/* QEMU stopped (SIGSTOP) gives a timeout, not a hang (a hang is ended by
 * meson's timeout for this test, 180 s: no wall-clock bound here). */
static void test_stopped_qemu(struct tq_qemu *qm, struct mp_host *h)
{
	struct mp_host_plug_spec s = dimm(128 * M, 0);
	char id[64], *x;

	kill(qm->pid, SIGSTOP);
	/* an id QEMU would refuse is refused before anything is sent: a
	 * stopped QEMU would make any command time out instead */
	s.id = "x'/><a";
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -EINVAL);
	s.id = "a&b";
	CHECK_EQ(mp_host_plug_virtio_mem(h, &s, id, sizeof(id)), -EINVAL);
	/* running again, QEMU has nothing of them, and the connection is in
	 * step (a command sent while it was stopped would have been answered
	 * late, or timed out and left the handle dead) */
	kill(qm->pid, SIGCONT);
	x = raw(h, "qom-list", "{\"path\":\"/objects\"}");
	CHECK(x && !strstr(x, "\"mp-"));
	free(x);
	kill(qm->pid, SIGSTOP);
	s.id = NULL;
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -ETIMEDOUT);
	kill(qm->pid, SIGCONT);
}

static const int nodes[] = { 0, 1 };

/* Splitting a size over nodes: pure, no QEMU.  Each plan as its DIMMs,
 * "MiB@node" in order; NULL: refused (-EINVAL). */
static void test_plan(void)
{
	static const struct {
		bool proxmox;
		uint64_t total;
		uint64_t arg; /* DIMM size (0: one per node), or Proxmox's first DIMM */
		const char *want;
	} plans[] = {
		{ false, 1 * G, 0, "512@0 512@1" },
		{ false, 640 * M, 0, "384@0 256@1" },
		{ false, 1280 * M, 512 * M, "512@0 512@1 256@0" },
		{ false, 100 * M, 0, NULL },
		/* Proxmox's grid: 512M DIMMs, node = index in class % nodes;
		 * from DIMM 31 on: one 512M (node 1), then 1G DIMMs from node 0 */
		{ true, 2 * G, 0, "512@0 512@1 512@0 512@1" },
		{ true, 2560 * M, 31, "512@1 1024@0 1024@1" },
		{ true, 768 * M, 0, NULL },
	};

	for (size_t i = 0; i < MP_ARRAY_SIZE(plans); i++) {
		struct mp_host_plan *p = NULL;
		char got[256] = "";
		size_t len = 0;
		int r = plans[i].proxmox ?
				mp_host_plan_new_proxmox(plans[i].total, plans[i].arg, nodes, 2,
							 &p) :
				mp_host_plan_new(plans[i].total, plans[i].arg, nodes, 2, &p);

		CHECK_EQ(r, plans[i].want ? 0 : -EINVAL);
		if (r < 0)
			continue;
		for (unsigned int j = 0; j < mp_host_plan_get_count(p) && len < sizeof(got); j++)
			len += snprintf(got + len, sizeof(got) - len, "%s%llu@%d", j ? " " : "",
					(unsigned long long)(mp_host_plan_get_size(p, j) / M),
					mp_host_plan_get_node(p, j));
		CHECK_STR(got, plans[i].want);
		mp_host_plan_free(p);
	}
}

/* A plan plugged into a two-node QEMU, and host placement. */
static void test_numa_plug(struct tq_qemu *qm, struct mp_host *h)
{
	struct mp_host_state *st;
	struct mp_host_plan *p;
	struct mp_host_plug_spec s = dimm(0, 0);
	char **ids = NULL, id[64], *x;
	int r, i;

	/* 6 DIMMs don't fit 4 slots: refused as a whole, nothing sent */
	CHECK_EQ(mp_host_plan_new(6 * 128 * M, 128 * M, nodes, 2, &p), 0);
	CHECK_EQ(mp_host_plug_plan(h, p, &s, NULL), -ENOSPC);
	mp_host_plan_free(p);
	CHECK_EQ(mp_host_plan_new(1 * G, 0, nodes, 2, &p), 0);
	r = mp_host_plug_plan(h, p, &s, &ids);
	CHECK_EQ(r, 2);
	for (i = 0; i < r && ids; i++)
		free(ids[i]);
	free(ids);
	mp_host_plan_free(p);
	CHECK_EQ(mp_host_state_get(h, &st), 0);
	CHECK_EQ(mp_host_state_get_ndevs(st), 2);
	for (i = 0; i < 2; i++) {
		const struct mp_host_memdev *d = mp_host_state_get_dev(st, i);

		CHECK(d && mp_host_memdev_get_size(d) == 512 * M);
		CHECK(d && mp_host_memdev_get_node(d) == (int)(i));
	}
	mp_host_state_free(st);

	/* host placement: auto binds to a node, refusal when it lacks room */
	s = dimm(128 * M, 1);
	s.host_node = MP_HOST_NODE_AUTO;
#if !HAVE_LIBNUMA
	/* built without libnuma: refused, nothing sent */
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -EOPNOTSUPP);
	return;
#endif
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), 0);
	x = raw(h, "qom-get", "{\"path\":\"/objects/mp-dimm2-mem\",\"property\":\"host-nodes\"}");
	CHECK(x && !strcmp(x, "[0]"));
	free(x);
	x = raw(h, "qom-get", "{\"path\":\"/objects/mp-dimm2-mem\",\"property\":\"policy\"}");
	CHECK(x && !strcmp(x, "\"bind\""));
	free(x);
	s.host_node = 63;
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -ENOENT);
	s.host_node = MP_HOST_NODE_AUTO;
	s.size = 4096 * G;
	s.force = true; /* past the maxmem check, to reach the host check */
	CHECK_EQ(mp_host_plug_dimm(h, &s, id, sizeof(id)), -ENOMEM);
}

int main(int argc, char **argv)
{
	static const struct host_test tests[] = {
		{ test_plug_list_rollback, "-M pc,nvdimm=on -m 1G,slots=3,maxmem=8G", 10000 },
		{ test_nvdimm_vmem, NULL, 10000 },
		{ test_nvdimm_off, "-M pc -m 1G,slots=4,maxmem=8G", 10000 },
		{ test_unplug_no_guest_and_kill, NULL, 10000 },
		{ test_stopped_qemu, NULL, 1000 },
		{ test_numa_plug,
		  "-M pc -m 1G,slots=4,maxmem=8G "
		  "-object memory-backend-ram,id=r0,size=512M -numa node,nodeid=0,memdev=r0 "
		  "-object memory-backend-ram,id=r1,size=512M -numa node,nodeid=1,memdev=r1",
		  10000 },
	};

	mp_log_set_level(getenv("MP_TEST_DEBUG") ? LOG_DEBUG : LOG_NOTICE);
	test_plan();
	test_orphans();
	for (size_t i = 0; i < MP_ARRAY_SIZE(tests); i++)
		host_test_run(&tests[i]);
	return tq_finish("test-host-qemu");
}
