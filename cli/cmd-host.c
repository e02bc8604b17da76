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

#include "commands.h"
#include "host.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

struct host_opts {
	const char *qmp, *uri, *domain;
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
		"                       [--timeout SEC] COMMAND ...\n"
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
		"  unplug ID          remove a DIMM (waits for the guest, --timeout)\n"
		"  resize ID SIZE     set a virtio-mem device's size [--no-wait]\n"
		"  list               memory devices, slots, address space left, orphans\n"
		"  cleanup            remove orphan backends left by interrupted runs [--dry-run]\n"
		"\n"
		"Exit status: 0 done, 1 failed (nothing changed), 64 partial, 2 usage.\n");
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

static int cmd_plug(struct mp_host *h, struct host_opts *o, int argc, char **argv)
{
	struct json_object *jo, *arr;
	struct mp_host_plan *plan = NULL;
	struct mp_host_plug_spec *s = &o->spec;
	char **ids = NULL, id[160];
	sigset_t old;
	unsigned int want = 1;
	int r, n = 0, i;

	if (argc != 1) {
		usage(stderr);
		return MP_EXIT_USAGE;
	}
	if (size_arg("size", argv[0], &s->size) < 0)
		return MP_EXIT_USAGE;
	s->node = o->node;
	hold_signals(&old);
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
		if (o->nnodes)
			s->node = o->nodes[0];
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

	if (o->json) {
		jo = json_object_new_object();
		arr = json_object_new_array();
		for (i = 0; i < n && ids; i++)
			json_object_array_add(arr, json_object_new_string(ids[i]));
		json_object_object_add(jo, "plugged", arr);
		mp_json_add_int(jo, "wanted", want);
		if (r < 0)
			mp_json_add_str(jo, "error", strerror(-r));
		print_json(jo);
	} else {
		for (i = 0; i < n && ids; i++)
			printf("%s: plugged\n", ids[i]);
	}
	for (i = 0; i < n && ids; i++)
		free(ids[i]);
	free(ids);
	mp_host_plan_free(plan);
	if (n == 0)
		return MP_EXIT_FAIL;
	return (unsigned int)n < want ? MP_EXIT_PARTIAL : MP_EXIT_OK;
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
		O_QMP = 256,
		O_CONNECT,
		O_DOMAIN,
		O_TIMEOUT,
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
	};
	static const struct option opts[] = {
		{ "qmp", required_argument, NULL, O_QMP },
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "domain", required_argument, NULL, O_DOMAIN },
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
	int c, r, rc;

	o.qmp = getenv("MEMPLUG_QMP");
	while ((c = getopt_long(argc, argv, "Jh", opts, NULL)) != -1) {
		switch (c) {
		case O_QMP:
			o.qmp = optarg;
			break;
		case O_CONNECT:
			o.uri = optarg;
			break;
		case O_DOMAIN:
			o.domain = optarg;
			break;
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
		case 'h':
			usage(stdout);
			return MP_EXIT_OK;
		default:
			usage(stderr);
			return MP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return MP_EXIT_USAGE;
	}
	sub = argv[optind++];
	if (!o.domain && (!o.qmp || o.uri)) {
		fprintf(stderr, "memplugctl host: give --qmp PATH, or --domain NAME "
				"(with --connect URI)\n");
		return MP_EXIT_USAGE;
	}
	if (strcmp(sub, "plug") && strcmp(sub, "unplug") && strcmp(sub, "resize") &&
	    strcmp(sub, "list") && strcmp(sub, "cleanup")) {
		fprintf(stderr, "memplugctl host: unknown command '%s'\n", sub);
		usage(stderr);
		return MP_EXIT_USAGE;
	}

	if (o.domain) {
		/* libvirt calls have no deadline (keepalive starts only once the
		 * connection is open): a libvirtd that stopped answering would
		 * block us for good.  Dying is safe here: libvirtd does each
		 * device change atomically on its side. */
		signal(SIGALRM, libvirt_watchdog);
		alarm((o.timeout_ms ? o.timeout_ms / 1000 : 60) + 30);
	}
	if (o.domain)
		r = mp_host_open_libvirt(o.uri, o.domain, o.timeout_ms, &h);
	else
		r = mp_host_open_qmp(o.qmp, o.timeout_ms, &h);
	if (r < 0) {
		fprintf(stderr, "memplugctl host: cannot reach the VM (%s): %s\n",
			o.domain ? o.domain : o.qmp, strerror(-r));
		return MP_EXIT_FAIL;
	}
	mp_host_set_progress(h, progress, NULL);

	argc -= optind;
	argv += optind;
	if (!strcmp(sub, "plug")) {
		rc = cmd_plug(h, &o, argc, argv);
	} else if (!strcmp(sub, "unplug")) {
		if (argc != 1) {
			rc = MP_EXIT_USAGE;
			usage(stderr);
		} else {
			r = mp_host_unplug(h, argv[0], o.timeout_ms);
			rc = simple_result(&o, argv[0], "unplugged", r);
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
	} else {
		rc = argc ? MP_EXIT_USAGE : cmd_cleanup(h, &o);
	}
	mp_host_close(h);
	return rc;
}
