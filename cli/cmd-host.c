// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl host: hot-add and remove memory of a running VM through its
 * QMP socket or through libvirt.  Argument parsing and printing only; the
 * operations, checks and rollback live in qmp/ (host.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#ifdef MP_HAVE_CMD_PROOF
#include "cmd-proof.h"
#endif
#include "host-conn.h"
#include "host-print.h"
#include "host.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

struct host_opts {
	struct mp_cli_host_conn conn;
	bool wait_online, steps, wait;
	/* why there is no proof ("" while a channel is attached) */
	char no_proof[400];
	bool json;
	int timeout_ms;
	/* plug */
	const char *kind;
	int node;
	int nodes[64];
	unsigned int nnodes;
	uint64_t dimm_size;
	bool proxmox;
	struct mp_host_plug_spec spec;
	bool no_wait, dry_run;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memplugctl host (--qmp PATH | [--connect URI] --domain NAME) [-J]\n"
		"                       [--channel PATH] [--timeout SEC] COMMAND ...\n"
		"\n"
		"Commands:\n"
		"  plug SIZE          add memory: one DIMM, or several (--nodes, --dimm-size)\n"
		"      --kind dimm|nvdimm|virtio-mem   device (default dimm)\n"
		"      --node N                        guest NUMA node (default 0)\n"
		"      --nodes N,M,...                 spread DIMMs over these guest nodes\n"
		"      --dimm-size SIZE                split SIZE into DIMMs of this size\n"
		"      --layout proxmox                DIMMs on Proxmox's grid (512M x32, 1G x32...)\n"
		"      --host-node auto|N              bind the backend to a host NUMA node\n"
		"      --mem-path PATH [--share]       file/hugetlbfs backend (NVDIMM: required)\n"
		"      --prealloc                      preallocate host memory\n"
		"      --label-size SIZE               NVDIMM label area\n"
		"      --requested SIZE                virtio-mem: plugged at once (SIZE = max)\n"
		"      --id ID                         device id (prefixed with mp-)\n"
		"      --force                         skip memplug's checks, let QEMU decide\n"
		"      --wait-online                   wait for the guest's proof (needs the channel)\n"
		"      --steps                         plug in DIMMs the guest can afford, each waited for\n"
		"  unplug ID          remove a DIMM (waits for the guest, --timeout); with the\n"
		"                     channel the guest drains it first (also virtio-mem)\n"
		"  resize ID SIZE     set a virtio-mem device's size [--no-wait]\n"
		"  list               memory devices, slots, address space left, orphans\n"
		"  cleanup            remove orphan backends left by interrupted runs [--dry-run]\n"
		"  proof [ID]         the guest's proof for a device already there (every\n"
		"                     memory device without ID) [--wait for its outcome]\n"
		"  serve              answer the guest's growth requests within --config's limits\n"
		"                     (memplugctl host serve --help)\n"
		"\n"
		"The channel (--channel PATH, or the libvirt domain's org.memplug.0) reaches\n"
		"memplugd in the guest: proof of plugs, drained unplugs, memmap planning.\n"
		"Exit status: 0 done, 1 failed (nothing changed) or no proof in time,\n"
		"64 partial (or online with violations), 2 usage.\n");
}

static void libvirt_watchdog(int sig)
{
	static const char msg[] = "memplugctl host: libvirt did not answer in time "
				  "(libvirtd stopped or hung?); giving up\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing left to tell */
	}
	_exit(MP_EXIT_FAIL);
}

static void progress(const char *what, long elapsed_ms, void *ud)
{
	fprintf(stderr, "%s (%ld s)\n", what, elapsed_ms / 1000);
}

static int parse_nodes(const char *s, struct host_opts *o)
{
	_mp_free_ char *copy = strdup(s);
	char *save = NULL, *tok;
	uint64_t v;

	if (!copy)
		return -ENOMEM;
	o->nnodes = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (mp_parse_u64(tok, 10, &v) < 0 || v > 1023 ||
		    o->nnodes == MP_ARRAY_SIZE(o->nodes))
			return -EINVAL;
		o->nodes[o->nnodes++] = (int)v;
	}
	return o->nnodes ? 0 : -EINVAL;
}

static int size_arg(const char *what, const char *s, uint64_t *out)
{
	if (mp_parse_size(s, out) < 0) {
		fprintf(stderr, "memplugctl host: bad %s '%s'\n", what, s);
		return -EINVAL;
	}
	return 0;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_SPACED));
	json_object_put(o);
}

/* Signals are held while a DIMM goes in, so an interrupt cannot land
 * between object-add and device_add; a waiting unplug stays interruptible. */
static void hold_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
}

/* A string of the guest's: the library keeps only printable ones in what it
 * hands back (validated proof fields, sanitized refusal fields). */
static const char *gs(struct json_object *o, const char *k)
{
	return mp_json_get_str(o, k, "");
}

static void print_proof(struct json_object *p)
{
	const char *oc = mp_json_get_str(p, "outcome", "");
	unsigned long long onl = mp_json_get_u64(p, "onlined", 0),
			   exp = mp_json_get_u64(p, "expected_blocks", 0);
	char expect[32] = "";

	if (exp)
		snprintf(expect, sizeof(expect), "/%llu", exp);
	if (!strcmp(oc, "timeout")) {
		printf("%s: no proof in time; the guest's last word on %s: %s%s%s\n", gs(p, "id"),
		       gs(p, "device")[0] ? gs(p, "device") : "it",
		       gs(p, "source")[0] ? gs(p, "source") : "nothing",
		       gs(p, "message")[0] ? ": " : "", gs(p, "message"));
		return;
	}
	if (!strcmp(oc, "online") && !mp_json_get_u64(p, "violations", 0))
		printf("%s: online and verified by the guest: %s %s", gs(p, "id"), gs(p, "device"),
		       gs(p, "blocks"));
	else
		printf("%s: %s (the guest's word): %s %s%s%s", gs(p, "id"),
		       !strcmp(oc, "online") ? "online WITH VIOLATIONS" : oc, gs(p, "device"),
		       gs(p, "blocks"), gs(p, "message")[0] ? ": " : "", gs(p, "message"));
	printf(", %llu%s block(s) in %s on node %lld, %llu verified, %llu violation(s)", onl,
	       expect, gs(p, "zone")[0] ? gs(p, "zone") : "?",
	       (long long)mp_json_get_int(p, "node", -1),
	       (unsigned long long)mp_json_get_u64(p, "verified", 0),
	       (unsigned long long)mp_json_get_u64(p, "violations", 0));
	if (gs(p, "policy")[0])
		printf(" (policy %s)", gs(p, "policy"));
	mp_cli_print_proof_timings("; guest:", p);
}

/* Worst of two exit statuses: fail over partial over ok. */
static int worse(int a, int b)
{
	if (a == MP_EXIT_FAIL || b == MP_EXIT_FAIL)
		return MP_EXIT_FAIL;
	return a == MP_EXIT_PARTIAL || b == MP_EXIT_PARTIAL ? MP_EXIT_PARTIAL : MP_EXIT_OK;
}

static int proof_exit(int r)
{
	return r == MP_HOST_PROOF_OK	  ? MP_EXIT_OK :
	       r == MP_HOST_PROOF_PARTIAL ? MP_EXIT_PARTIAL :
					    MP_EXIT_FAIL;
}

static struct json_object *memmap_json(const struct mp_host_memmap *m, uint64_t size)
{
	struct json_object *o = json_object_new_object();

	mp_json_add_u64(o, "size", size);
	mp_json_add_u64(o, "memmap_need", m->need);
	mp_json_add_u64(o, "kernel_free", m->avail);
	mp_json_add_int(o, "node", m->node);
	mp_json_add_u64(o, "node_kernel_free", m->node_avail);
	mp_json_add_bool(o, "memmap_on_memory", m->self_hosted);
	mp_json_add_str(o, "rule", m->rule);
	return o;
}

/*
 * The memmap of @size must fit the guest's free kernel-zone memory: refuse
 * with the numbers when it does not (and --steps was not given).
 */
static int plan_check(struct mp_host *h, struct host_opts *o, const char *kind, uint64_t size,
		      int node, struct json_object *jo)
{
	const struct mp_host_hello *hello = mp_host_get_hello(h);
	struct mp_host_memmap m;
	char a[32], b[32], c[32], d[32];
	int r;

	if (!hello)
		return 0;
	r = mp_host_memmap_check(hello, kind, size, node, &m);
	json_object_object_add(jo, "memmap", memmap_json(&m, size));
	if (r == 0 || (o->steps && !strcmp(kind, "dimm")))
		return 0;
	fprintf(stderr,
		"memplugctl host: the guest cannot afford the memmap of %s: it needs %s of kernel-zone "
		"memory (1/64), the guest has %s free there (node %d: %s); memmap_on_memory does not "
		"apply (%s)%s\n",
		mp_format_size(size, a, sizeof(a)), mp_format_size(m.need, b, sizeof(b)),
		mp_format_size(m.avail, c, sizeof(c)), node,
		mp_format_size(m.node_avail, d, sizeof(d)), m.rule,
		strcmp(kind, "dimm") ? "" : "; --steps plugs it in DIMMs the guest can afford");
	return -ENOMEM;
}

/*
 * --steps: DIMMs sized so that each one's memmap takes at most half of the
 * guest's free kernel-zone memory as it is now, each waited for before the
 * next is sized from a fresh greeting (memory onlined movable adds nothing
 * to the kernel zones; onlined kernel does).  One block when only a
 * one-block DIMM gets memmap_on_memory.
 */
static int plug_steps(struct mp_host *h, struct host_opts *o, struct json_object *plugged,
		      struct json_object *proofs, struct json_object *steps, unsigned int *n)
{
	const struct mp_host_hello *hello = mp_host_get_hello(h);
	uint64_t remaining = o->spec.size, bs = hello->block_size, step;
	struct mp_host_memmap m;
	char id[160], a[32], b[32];
	sigset_t old;
	int rc = MP_EXIT_OK, r;

	while (remaining) {
		struct mp_host_plug_spec s = o->spec;
		struct json_object *proof = NULL;
		uint64_t t0;

		if (*n && mp_host_hello_refresh(h) < 0)
			return MP_EXIT_PARTIAL;
		hello = mp_host_get_hello(h);
		mp_host_memmap_check(hello, "dimm", remaining, o->node, &m);
		step = m.avail / 2 * 64 / bs * bs;
		if (m.self_hosted)
			step = remaining;
		else if (step < bs &&
			 (mp_host_memmap_check(hello, "dimm", bs, o->node, &m), m.self_hosted))
			step = bs;
		if (step > remaining)
			step = remaining;
		if (step < bs || step % MP_HOST_BLOCK_SIZE) {
			fprintf(stderr,
				"memplugctl host: the guest cannot afford even one block now (%s of "
				"kernel-zone memory free); %s of %s not plugged\n",
				mp_format_size(m.avail, a, sizeof(a)),
				mp_format_size(remaining, b, sizeof(b)),
				mp_format_size(o->spec.size, a, sizeof(a)));
			return *n ? MP_EXIT_PARTIAL : MP_EXIT_FAIL;
		}
		json_object_array_add(steps, memmap_json(&m, step));
		s.size = step;
		s.node = o->node;
		s.id = NULL;
		mp_host_proof_begin(h);
		t0 = mp_now_ms();
		hold_signals(&old);
		r = mp_host_plug_dimm(h, &s, id, sizeof(id));
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (r < 0)
			return *n ? MP_EXIT_PARTIAL : MP_EXIT_FAIL;
		(*n)++;
		json_object_array_add(plugged, json_object_new_string(id));
		if (!o->json)
			printf("%s: plugged (step %u, %s)\n", id, *n,
			       mp_format_size(step, a, sizeof(a)));
		r = mp_host_wait_online(h, id, t0, o->timeout_ms ? o->timeout_ms : 60000, &proof);
		if (proof) {
			if (!o->json)
				print_proof(proof);
			json_object_array_add(proofs, proof);
		}
		rc = worse(rc, proof_exit(r));
		if (r != MP_HOST_PROOF_OK)
			return remaining > step ? worse(rc, MP_EXIT_PARTIAL) : rc;
		remaining -= step;
	}
	return rc;
}

static int cmd_plug(struct mp_host *h, struct host_opts *o, int argc, char **argv)
{
	struct json_object *jo = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *proofs = json_object_new_array(), *steps = NULL;
	struct mp_host_plan *plan = NULL;
	struct mp_host_plug_spec *s = &o->spec;
	char **ids = NULL, id[160];
	sigset_t old;
	unsigned int want = 1;
	uint64_t t0;
	int r, n = 0, i, rc;
	bool proof = mp_host_has_channel(h) && (o->wait_online || o->steps);

	if (argc != 1) {
		usage(stderr);
		json_object_put(jo);
		json_object_put(arr);
		json_object_put(proofs);
		return MP_EXIT_USAGE;
	}
	if (size_arg("size", argv[0], &s->size) < 0) {
		json_object_put(jo);
		json_object_put(arr);
		json_object_put(proofs);
		return MP_EXIT_USAGE;
	}
	s->node = o->nnodes ? o->nodes[0] : o->node;
	if (o->no_proof[0] && (o->wait_online || o->steps || o->conn.channel))
		fprintf(stderr, "memplugctl host: no proof available: %s\n", o->no_proof);
	if (o->no_proof[0])
		mp_json_add_str(jo, "proof_unavailable", o->no_proof);
	/* what the guest can afford, before anything is sent */
	r = plan_check(h, o, o->kind, !strcmp(o->kind, "virtio-mem") ? s->requested_size : s->size,
		       s->node, jo);
	if (r < 0) {
		mp_json_add_str(jo, "refused", "the guest cannot afford the memmap");
		goto print;
	}

	hold_signals(&old);
	if (proof)
		mp_host_proof_begin(h);
	t0 = mp_now_ms();
	if (o->steps && mp_host_has_channel(h) && !strcmp(o->kind, "dimm")) {
		unsigned int done = 0;

		sigprocmask(SIG_SETMASK, &old, NULL);
		steps = json_object_new_array();
		rc = plug_steps(h, o, arr, proofs, steps, &done);
		json_object_object_add(jo, "steps", steps);
		json_object_object_add(jo, "plugged", arr);
		json_object_object_add(jo, "proof", proofs);
		if (o->json)
			print_json(jo);
		else
			json_object_put(jo);
		return rc;
	}
	if (!strcmp(o->kind, "dimm") && (o->nnodes > 1 || o->dimm_size || o->proxmox)) {
		if (!o->nnodes) {
			o->nodes[0] = o->node;
			o->nnodes = 1;
		}
		if (o->proxmox) {
			struct mp_host_state *st = NULL;

			/* the grid continues after the DIMMs already there */
			r = mp_host_state_get(h, &st);
			if (r == 0)
				r = mp_host_plan_new_proxmox(s->size,
							     mp_host_state_get_slots_used(st),
							     o->nodes, o->nnodes, &plan);
			mp_host_state_free(st);
		} else {
			r = mp_host_plan_new(s->size, o->dimm_size, o->nodes, o->nnodes, &plan);
		}
		if (r == 0) {
			want = mp_host_plan_get_count(plan);
			r = mp_host_plug_plan(h, plan, s, &ids);
		}
		n = r > 0 ? r : 0;
	} else {
		if (!strcmp(o->kind, "dimm"))
			r = mp_host_plug_dimm(h, s, id, sizeof(id));
		else if (!strcmp(o->kind, "nvdimm"))
			r = mp_host_plug_nvdimm(h, s, id, sizeof(id));
		else if (!strcmp(o->kind, "virtio-mem"))
			r = mp_host_plug_virtio_mem(h, s, id, sizeof(id));
		else {
			fprintf(stderr, "memplugctl host: unknown kind '%s'\n", o->kind);
			r = -EINVAL;
		}
		if (r == 0) {
			ids = calloc(1, sizeof(*ids));
			if (ids)
				ids[0] = strdup(id);
			n = 1;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);

print:
	for (i = 0; i < n && ids; i++) {
		json_object_array_add(arr, json_object_new_string(ids[i]));
		if (!o->json)
			printf("%s: plugged\n", ids[i]);
	}
	rc = n == 0 ? MP_EXIT_FAIL : (unsigned int)n < want ? MP_EXIT_PARTIAL : MP_EXIT_OK;
	/* each device's proof; they come online in parallel */
	for (i = 0; proof && i < n && ids; i++) {
		struct json_object *p = NULL;

		if (!strcmp(o->kind, "virtio-mem") && !s->requested_size) {
			if (!o->json)
				printf("%s: nothing requested: no blocks to wait for\n", ids[i]);
			continue;
		}
		r = mp_host_wait_online(h, ids[i], t0, o->timeout_ms ? o->timeout_ms : 60000, &p);
		rc = worse(rc, proof_exit(r));
		if (p) {
			if (!o->json)
				print_proof(p);
			json_object_array_add(proofs, p);
		}
	}
	json_object_object_add(jo, "plugged", arr);
	mp_json_add_int(jo, "wanted", want);
	json_object_object_add(jo, "proof", proof ? proofs : NULL);
	if (!proof)
		json_object_put(proofs);
	if (n == 0 && r < 0)
		mp_json_add_str(jo, "error", strerror(-r));
	if (o->json)
		print_json(jo);
	else
		json_object_put(jo);
	for (i = 0; i < n && ids; i++)
		free(ids[i]);
	free(ids);
	mp_host_plan_free(plan);
	return rc;
}

static int cmd_list(struct mp_host *h, struct host_opts *o)
{
	struct mp_host_state *st;
	char a[32], b[32], c[32], d[32];
	unsigned int i;
	int r;

	r = mp_host_state_get(h, &st);
	if (r < 0)
		return MP_EXIT_FAIL;
	if (o->json) {
		print_json(mp_host_state_to_json(st));
		mp_host_state_free(st);
		return MP_EXIT_OK;
	}
	printf("%-16s %-10s %6s %4s %4s %-18s %s\n", "ID", "KIND", "SIZE", "NODE", "SLOT", "ADDR",
	       "BACKEND");
	for (i = 0; i < mp_host_state_get_ndevs(st); i++) {
		const struct mp_host_memdev *m = mp_host_state_get_dev(st, i);
		char slot[16] = "-";

		if (mp_host_memdev_get_slot(m) >= 0)
			snprintf(slot, sizeof(slot), "%d", mp_host_memdev_get_slot(m));
		printf("%-16s %-10s %6s %4d %4s 0x%-16" PRIx64 " %s",
		       mp_host_memdev_get_id(m)[0] ? mp_host_memdev_get_id(m) : "(no id)",
		       mp_host_memdev_get_kind(m),
		       mp_format_size(mp_host_memdev_get_size(m), a, sizeof(a)),
		       mp_host_memdev_get_node(m), slot, mp_host_memdev_get_addr(m),
		       mp_host_memdev_get_backend(m));
		if (!strcmp(mp_host_memdev_get_kind(m), "virtio-mem"))
			printf(" (requested %s, max %s, block %s)",
			       mp_format_size(mp_host_memdev_get_requested_size(m), b, sizeof(b)),
			       mp_format_size(mp_host_memdev_get_max_size(m), c, sizeof(c)),
			       mp_format_size(mp_host_memdev_get_block_size(m), d, sizeof(d)));
		printf("\n");
	}
	printf("base %s, plugged %s, maxmem %s, slots %u/%u used, %s address space left%s\n",
	       mp_format_size(mp_host_state_get_base(st), a, sizeof(a)),
	       mp_format_size(mp_host_state_get_plugged(st), b, sizeof(b)),
	       mp_format_size(mp_host_state_get_maxmem(st), c, sizeof(c)),
	       mp_host_state_get_slots_used(st), mp_host_state_get_slots(st),
	       mp_format_size(mp_host_state_get_space_left(st), d, sizeof(d)),
	       mp_host_state_get_nvdimm(st) ? ", nvdimm=on" : "");
	for (i = 0; i < mp_host_state_get_norphans(st); i++)
		printf("orphan backend %s (no device uses it): 'memplugctl host "
		       "cleanup' removes it\n",
		       mp_host_state_get_orphan(st, i));
	mp_host_state_free(st);
	return MP_EXIT_OK;
}

static int cmd_cleanup(struct mp_host *h, struct host_opts *o)
{
	unsigned int found = 0;
	int r;

	r = mp_host_cleanup(h, o->dry_run, &found);
	if (o->json) {
		struct json_object *jo = json_object_new_object();

		mp_json_add_int(jo, "found", found);
		mp_json_add_int(jo, "removed", r > 0 ? r : 0);
		print_json(jo);
	} else if (r >= 0) {
		if (!found)
			printf("no orphan backends\n");
		else if (o->dry_run)
			printf("%u orphan backend(s)\n", found);
		else
			printf("%d of %u orphan backend(s) removed\n", r, found);
	}
	if (r < 0)
		return MP_EXIT_FAIL;
	if (!o->dry_run && (unsigned int)r < found)
		return r ? MP_EXIT_PARTIAL : MP_EXIT_FAIL;
	return MP_EXIT_OK;
}

static void print_refusal(const char *id, struct json_object *rep)
{
	struct json_object *f = NULL, *k;

	json_object_object_get_ex(rep, "refusal", &f);
	fprintf(stderr, "memplugctl host: %s: the guest refused to drain %s", id,
		gs(rep, "device"));
	if (f) {
		fprintf(stderr, ": memory%llu %s: %s (%s)",
			(unsigned long long)mp_json_get_u64(f, "block", 0), gs(f, "outcome"),
			gs(f, "errno"), gs(f, "error"));
		if (gs(f, "reason")[0])
			fprintf(stderr, "; kernel reason: %s%s", gs(f, "reason"),
				mp_json_get_bool(f, "reason_from_kernel", false) ?
					"" :
					" (memplug's guess)");
		if (gs(f, "message")[0])
			fprintf(stderr, "; kernel message: %s", gs(f, "message"));
		if (json_object_object_get_ex(f, "kpageflags", &k)) {
			fprintf(stderr, "; kpageflags:");
			json_object_object_foreach(k, key, val)
			{
				fprintf(stderr, " %s %lld", key,
					(long long)json_object_get_int64(val));
			}
		}
	} else if (gs(rep, "error")[0]) {
		fprintf(stderr, ": %s", gs(rep, "error"));
	}
	if (!strcmp(mp_json_get_str(rep, "outcome", ""), "refused-rollback-failed"))
		fprintf(stderr, "; the DIMM stays plugged, but the guest could NOT online every "
				"block again\n");
	else
		fprintf(stderr, "; the device stays plugged, its blocks back online (the guest did "
				"that)\n");
}

static int cmd_unplug(struct mp_host *h, struct host_opts *o, const char *id)
{
	struct json_object *rep = NULL, *jo;
	const char *oc;
	int r, ex;

	if (!mp_host_has_channel(h)) {
		if (o->no_proof[0])
			fprintf(stderr, "memplugctl host: no proof available: %s\n", o->no_proof);
		r = mp_host_unplug(h, id, o->timeout_ms);
		if (o->json) {
			jo = json_object_new_object();
			mp_json_add_str(jo, "id", id);
			mp_json_add_bool(jo, "unplugged", r == 0);
			if (o->no_proof[0])
				mp_json_add_str(jo, "proof_unavailable", o->no_proof);
			if (r < 0)
				mp_json_add_str(jo, "error", strerror(-r));
			print_json(jo);
		} else if (r == 0) {
			printf("%s: unplugged\n", id);
		}
		return r < 0 ? MP_EXIT_FAIL : MP_EXIT_OK;
	}
	r = mp_host_unplug_coordinated(h, id, o->timeout_ms, &rep);
	oc = mp_json_get_str(rep, "outcome", "failed");
	if (o->json) {
		mp_json_add_bool(rep, "unplugged", r == 0);
		print_json(json_object_get(rep));
	} else if (r == 0) {
		struct json_object *d = NULL, *b = NULL;

		json_object_object_get_ex(rep, "drain", &d);
		json_object_object_get_ex(d, "blocks", &b);
		printf("%s: unplugged (the guest drained %s first: %zu block(s) offline in %llu ms)\n",
		       id, gs(rep, "device"),
		       json_object_is_type(b, json_type_array) ? json_object_array_length(b) : 0,
		       (unsigned long long)mp_json_get_u64(d, "elapsed_ms", 0));
	} else if (!strncmp(oc, "refused", 7)) {
		print_refusal(id, rep);
	} else if (gs(rep, "error_class")[0]) {
		fprintf(stderr, "memplugctl host: %s: memplugd says %s: %s; not unplugged\n", id,
			gs(rep, "error_class"), gs(rep, "error"));
	}
	/* @oc lives in @rep: the exit status is read before it goes */
	ex = r == 0				    ? MP_EXIT_OK :
	     !strcmp(oc, "refused-rollback-failed") ? MP_EXIT_PARTIAL :
						      MP_EXIT_FAIL;
	json_object_put(rep);
	return ex;
}

static int simple_result(struct host_opts *o, const char *id, const char *what, int r)
{
	if (o->json) {
		struct json_object *jo = json_object_new_object();

		mp_json_add_str(jo, "id", id);
		mp_json_add_bool(jo, what, r == 0);
		if (r < 0)
			mp_json_add_str(jo, "error", strerror(-r));
		print_json(jo);
	} else if (r == 0) {
		printf("%s: %s\n", id, what);
	}
	return r < 0 ? MP_EXIT_FAIL : MP_EXIT_OK;
}

int mp_cmd_host(int argc, char **argv)
{
	enum {
		O_TIMEOUT = MP_CLI_HOST_OPT_END,
		O_KIND,
		O_NODE,
		O_NODES,
		O_DIMM_SIZE,
		O_HOST_NODE,
		O_MEM_PATH,
		O_SHARE,
		O_PREALLOC,
		O_LABEL,
		O_REQUESTED,
		O_ID,
		O_FORCE,
		O_NO_WAIT,
		O_DRY_RUN,
		O_LAYOUT,
		O_WAIT_ONLINE,
		O_STEPS,
		O_WAIT,
	};
	static const struct option opts[] = {
		MP_CLI_HOST_CONN_OPTIONS,
		{ "json", no_argument, NULL, 'J' },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "kind", required_argument, NULL, O_KIND },
		{ "node", required_argument, NULL, O_NODE },
		{ "nodes", required_argument, NULL, O_NODES },
		{ "dimm-size", required_argument, NULL, O_DIMM_SIZE },
		{ "host-node", required_argument, NULL, O_HOST_NODE },
		{ "mem-path", required_argument, NULL, O_MEM_PATH },
		{ "share", no_argument, NULL, O_SHARE },
		{ "prealloc", no_argument, NULL, O_PREALLOC },
		{ "label-size", required_argument, NULL, O_LABEL },
		{ "requested", required_argument, NULL, O_REQUESTED },
		{ "id", required_argument, NULL, O_ID },
		{ "force", no_argument, NULL, O_FORCE },
		{ "no-wait", no_argument, NULL, O_NO_WAIT },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "layout", required_argument, NULL, O_LAYOUT },
		{ "wait-online", no_argument, NULL, O_WAIT_ONLINE },
		{ "steps", no_argument, NULL, O_STEPS },
		{ "wait", no_argument, NULL, O_WAIT },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct host_opts o = {
		.kind = "dimm",
		.timeout_ms = 0,
		.spec = { .host_node = MP_HOST_NODE_NONE },
	};
	struct mp_host *h = NULL;
	const char *sub;
	uint64_t v;
	char why[400];
	int c, r, rc;

	/* "serve" has options of its own: the first word that is not an option
	 * (or an option's value) names the command */
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			for (const struct option *op = opts; op->name; op++)
				if (op->has_arg == required_argument && !strchr(argv[i], '=') &&
				    !strcmp(argv[i] + 2, op->name) && argv[i][1] == '-')
					i++;
			continue;
		}
		if (!strcmp(argv[i], "serve"))
			return mp_cmd_host_serve(argc, argv);
		break;
	}
	mp_cli_host_conn_init(&o.conn);
	while ((c = mp_cli_host_conn_getopt(&o.conn, argc, argv, "Jh", opts, usage)) != -1) {
		switch (c) {
		case 'J':
			o.json = true;
			break;
		case O_TIMEOUT:
			if (mp_parse_u64(optarg, 10, &v) < 0 || !v || v > 86400) {
				fprintf(stderr,
					"memplugctl host: bad --timeout '%s' "
					"(seconds)\n",
					optarg);
				return MP_EXIT_USAGE;
			}
			o.timeout_ms = (int)v * 1000;
			break;
		case O_KIND:
			o.kind = optarg;
			break;
		case O_NODE:
			if (mp_parse_u64(optarg, 10, &v) < 0 || v > 1023) {
				fprintf(stderr, "memplugctl host: bad --node '%s'\n", optarg);
				return MP_EXIT_USAGE;
			}
			o.node = (int)v;
			break;
		case O_NODES:
			if (parse_nodes(optarg, &o) < 0) {
				fprintf(stderr, "memplugctl host: bad --nodes '%s'\n", optarg);
				return MP_EXIT_USAGE;
			}
			break;
		case O_DIMM_SIZE:
			if (size_arg("--dimm-size", optarg, &o.dimm_size) < 0)
				return MP_EXIT_USAGE;
			break;
		case O_HOST_NODE:
			if (!strcmp(optarg, "auto"))
				o.spec.host_node = MP_HOST_NODE_AUTO;
			else if (mp_parse_u64(optarg, 10, &v) == 0 && v < 1024)
				o.spec.host_node = (int)v;
			else {
				fprintf(stderr,
					"memplugctl host: bad --host-node '%s' "
					"(auto or a number)\n",
					optarg);
				return MP_EXIT_USAGE;
			}
			break;
		case O_MEM_PATH:
			o.spec.mem_path = optarg;
			break;
		case O_SHARE:
			o.spec.share = true;
			break;
		case O_PREALLOC:
			o.spec.prealloc = true;
			break;
		case O_LABEL:
			if (size_arg("--label-size", optarg, &o.spec.label_size) < 0)
				return MP_EXIT_USAGE;
			break;
		case O_REQUESTED:
			if (size_arg("--requested", optarg, &o.spec.requested_size) < 0)
				return MP_EXIT_USAGE;
			break;
		case O_ID:
			o.spec.id = optarg;
			break;
		case O_FORCE:
			o.spec.force = true;
			break;
		case O_NO_WAIT:
			o.no_wait = true;
			break;
		case O_DRY_RUN:
			o.dry_run = true;
			break;
		case O_LAYOUT:
			if (strcmp(optarg, "proxmox") && strcmp(optarg, "even")) {
				fprintf(stderr,
					"memplugctl host: bad --layout '%s' "
					"(even or proxmox)\n",
					optarg);
				return MP_EXIT_USAGE;
			}
			o.proxmox = !strcmp(optarg, "proxmox");
			break;
		case O_WAIT_ONLINE:
			o.wait_online = true;
			break;
		case O_STEPS:
			o.steps = true;
			break;
		case O_WAIT:
			o.wait = true;
			break;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return MP_EXIT_USAGE;
	}
	sub = argv[optind++];
	if (!mp_cli_host_conn_given(&o.conn)) {
		fprintf(stderr, "memplugctl host: give --qmp PATH, or --domain NAME "
				"(with --connect URI)\n");
		return MP_EXIT_USAGE;
	}
	if (strcmp(sub, "plug") && strcmp(sub, "unplug") && strcmp(sub, "resize") &&
	    strcmp(sub, "list") && strcmp(sub, "cleanup") && strcmp(sub, "proof")) {
		fprintf(stderr, "memplugctl host: unknown command '%s'\n", sub);
		usage(stderr);
		return MP_EXIT_USAGE;
	}

	if (o.conn.domain) {
		/* libvirt calls have no deadline (keepalive starts only once the
		 * connection is open): a libvirtd that stopped answering would
		 * block us for good.  Dying is safe here: libvirtd does each
		 * device change atomically on its side. */
		signal(SIGALRM, libvirt_watchdog);
		alarm((o.timeout_ms ? o.timeout_ms / 1000 : 60) + 30);
	}
	if (mp_cli_host_conn_open(&o.conn, o.timeout_ms, &h, why, sizeof(why)) < 0) {
		fprintf(stderr, "memplugctl host: %s\n", why);
		return MP_EXIT_FAIL;
	}
	mp_host_set_progress(h, progress, NULL);
	/* the channel to memplugd: given, or the libvirt domain's own; only
	 * plug, unplug and proof use it */
	if (!strcmp(sub, "plug") || !strcmp(sub, "unplug") || !strcmp(sub, "proof"))
		mp_cli_host_conn_attach(h, &o.conn, o.no_proof, sizeof(o.no_proof));

	argc -= optind;
	argv += optind;
	if (!strcmp(sub, "plug")) {
		rc = cmd_plug(h, &o, argc, argv);
	} else if (!strcmp(sub, "unplug")) {
		if (argc != 1) {
			rc = MP_EXIT_USAGE;
			usage(stderr);
		} else {
			rc = cmd_unplug(h, &o, argv[0]);
		}
	} else if (!strcmp(sub, "resize")) {
		if (argc != 2 || size_arg("size", argv[1], &v) < 0) {
			rc = MP_EXIT_USAGE;
			usage(stderr);
		} else {
			r = mp_host_resize(h, argv[0], v,
					   o.no_wait ? 0 : (o.timeout_ms ? o.timeout_ms : 60000));
			rc = simple_result(&o, argv[0], o.no_wait ? "requested" : "resized", r);
		}
	} else if (!strcmp(sub, "list")) {
		rc = argc ? MP_EXIT_USAGE : cmd_list(h, &o);
	} else if (!strcmp(sub, "proof")) {
#ifdef MP_HAVE_CMD_PROOF
		rc = mp_cli_host_proof(h, o.no_proof, o.json, o.wait, o.timeout_ms, argc, argv);
#else
		rc = MP_EXIT_USAGE;
#endif
	} else {
		rc = argc ? MP_EXIT_USAGE : cmd_cleanup(h, &o);
	}
	mp_host_close(h);
	return rc;
}
