// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl policy check|show|explain: a thin front-end over policies/.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "mp-apply.h"
#include "policy.h"
#include "util.h"

static void policy_usage(FILE *f)
{
	fputs("Usage: memplugctl policy check [--any-owner] [DIR...]\n"
	      "       memplugctl policy show [--any-owner] [DIR...]\n"
	      "       memplugctl policy explain [--any-owner] memoryN|DEVICE [DIR...]\n"
	      "       memplugctl policy explain [--any-owner] --kind KIND --size SIZE\n"
	      "              [--node N] [--start ADDR] [--id NAME]...\n"
	      "              [--kernel-early SIZE --movable SIZE] [DIR...]\n"
	      "       memplugctl policy dirs\n"
	      "\n"
	      "DIRs are drop-in directories, highest priority first; without any, the\n"
	      "default ones (/etc, /run, /usr/lib: memplugctl policy dirs lists them).\n"
	      "  check    print every problem as file:line: message, or 'configuration OK'\n"
	      "  show     print the merged policies in the order they are tried\n"
	      "  explain  which policy decides a block's device (memoryN) or a device\n"
	      "           (slotN, dimm:slotN, dax0.0, virtio0), or one described by\n"
	      "           options, and the numbers behind its zone\n"
	      "  dirs     print the default directories\n"
	      "  --any-owner  accept files not owned by root (to check files before\n"
	      "               installing them; memplugd always requires root)\n",
	      f);
}

enum {
	OPT_ANY_OWNER = 0x100,
	OPT_KIND,
	OPT_SIZE,
	OPT_NODE,
	OPT_START,
	OPT_ID,
	OPT_KERNEL_EARLY,
	OPT_MOVABLE,
};

struct policy_args {
	unsigned int flags;
	const char *const *dirs; /* NULL: the defaults */
	bool explain;
	bool has_kind, has_size, has_kernel, has_movable;
	struct mp_policy_subject subject;
	struct mp_zone_facts facts;
	size_t nids;
};

static int parse_kind_arg(const char *s, enum mp_policy_kind *out)
{
	for (unsigned int bit = 1; bit <= MP_POLICY_KIND_BOOT; bit <<= 1) {
		if (!strcmp(s, mp_policy_kind_name((enum mp_policy_kind)bit))) {
			*out = (enum mp_policy_kind)bit;
			return 0;
		}
	}
	return -EINVAL;
}

static int bad_arg(const char *opt, const char *val)
{
	fprintf(stderr, "memplugctl policy: bad value for %s: '%s'\n", opt, val);
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct policy_args *a)
{
	static const struct option opts[] = {
		{ "any-owner", no_argument, NULL, OPT_ANY_OWNER },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "start", required_argument, NULL, OPT_START },
		{ "id", required_argument, NULL, OPT_ID },
		{ "kernel-early", required_argument, NULL, OPT_KERNEL_EARLY },
		{ "movable", required_argument, NULL, OPT_MOVABLE },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint64_t v;
	int c;

	a->subject.node = -1;
	a->facts.node = -1;
	optind = 0; /* the dispatcher may have run getopt already */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (!a->explain && c > OPT_ANY_OWNER) {
			fprintf(stderr, "memplugctl policy %s: --%s is for explain only\n", argv[0],
				opts[c - OPT_ANY_OWNER].name);
			return -EINVAL;
		}
		switch (c) {
		case OPT_ANY_OWNER:
			a->flags |= MP_POLICY_LOAD_ANY_OWNER;
			break;
		case OPT_KIND:
			if (parse_kind_arg(optarg, &a->subject.kind))
				return bad_arg("--kind", optarg);
			a->has_kind = true;
			break;
		case OPT_SIZE:
			if (mp_parse_size(optarg, &a->subject.size))
				return bad_arg("--size", optarg);
			a->has_size = true;
			break;
		case OPT_NODE:
			if (mp_parse_u64(optarg, 10, &v) || v >= MP_POLICY_MAX_NODES)
				return bad_arg("--node", optarg);
			a->subject.node = a->facts.node = (int)v;
			break;
		case OPT_START:
			if (mp_parse_size(optarg, &a->subject.start))
				return bad_arg("--start", optarg);
			break;
		case OPT_ID:
			if (a->nids == MP_POLICY_SUBJECT_IDS) {
				fprintf(stderr, "memplugctl policy explain: at most %d --id\n",
					MP_POLICY_SUBJECT_IDS);
				return -EINVAL;
			}
			a->subject.ids[a->nids++] = optarg;
			break;
		case OPT_KERNEL_EARLY:
			if (mp_parse_size(optarg, &a->facts.kernel_early))
				return bad_arg("--kernel-early", optarg);
			a->has_kernel = true;
			break;
		case OPT_MOVABLE:
			if (mp_parse_size(optarg, &a->facts.movable))
				return bad_arg("--movable", optarg);
			a->has_movable = true;
			break;
		case 'h':
			policy_usage(stdout);
			exit(MP_EXIT_OK);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc)
		a->dirs = (const char *const *)&argv[optind];
	return 0;
}

static int load(const struct policy_args *a, struct mp_policyset **set)
{
	struct mp_policy_errors *errs = NULL;
	size_t n;
	int r;

	r = mp_policyset_load(a->dirs, a->flags, set, &errs);
	n = mp_policy_errors_print(errs, stderr);
	mp_policy_errors_free(errs);
	if (r == -EINVAL) {
		fprintf(stderr, "%zu problem%s: configuration refused\n", n, n == 1 ? "" : "s");
		return r;
	}
	if (r < 0) {
		fprintf(stderr, "memplugctl policy: cannot load policies: %s\n", strerror(-r));
		return r;
	}
	return 0;
}

static int cmd_check(const struct policy_args *a)
{
	struct mp_policyset *set;

	if (load(a, &set) < 0)
		return MP_EXIT_FAIL;
	printf("configuration OK\n");
	mp_policyset_unref(set);
	return MP_EXIT_OK;
}

static int cmd_show(const struct policy_args *a)
{
	struct mp_policyset *set;
	int r;

	if (load(a, &set) < 0)
		return MP_EXIT_FAIL;
	if (!mp_policyset_count(set))
		printf("# no policies: every device is left alone\n");
	r = mp_policyset_print(set, stdout);
	mp_policyset_unref(set);
	return r < 0 ? MP_EXIT_FAIL : MP_EXIT_OK;
}

/*
 * The subject for "policy explain memoryN|DEVICE", built exactly as memplugd
 * builds it (policies/mp-apply.h), so the answer is what memplugd does.
 * DEVICE is a group key ("dimm:slot1"), a device name ("slot1", "dax0.0",
 * "virtio0") or an ACPI name ("PNP0C80:01").
 */
struct looked_up {
	struct mp_memory *mem;
	struct mp_dax_dev *dax;
	size_t nr_dax, ng;
	struct mp_devgroup *groups;
	char blocks[96];
	uint64_t offline_bytes;
};

static int lookup_device(const char *name, struct looked_up *lu, struct mp_policy_subject *s,
			 struct mp_zone_facts *facts)
{
	const struct mp_devgroup *g = NULL;
	struct mp_ctx *ctx;
	uint64_t id;
	int err;

	if (mp_cli_ctx(&ctx))
		return -EINVAL;
	err = mp_memory_scan(ctx, MP_APPLY_SCAN, &lu->mem);
	if (!err && mp_dax_scan(ctx, &lu->dax, &lu->nr_dax))
		lu->nr_dax = 0;
	if (err) {
		mp_ctx_free(ctx);
		return err;
	}
	/* valid_zones of offline blocks only for the device asked about: see mp-apply.h. */
	mp_memory_read_zones_safe(ctx, lu->mem, NULL, 0);
	err = mp_devgroups_build(lu->mem, lu->dax, lu->nr_dax, &lu->groups, &lu->ng);
	if (err) {
		mp_ctx_free(ctx);
		return err;
	}
	if (!mp_block_parse_name(name, &id) && !strncmp(name, "memory", 6)) {
		g = mp_devgroup_find_block(lu->groups, lu->ng, id);
		if (!g) {
			fprintf(stderr, "memplugctl policy explain: no block %s\n", name);
			mp_ctx_free(ctx);
			return -ENOENT;
		}
	}
	for (size_t i = 0; !g && i < lu->ng; i++) {
		const struct mp_devgroup *x = &lu->groups[i];

		if (!strcmp(x->key, name) || (x->dev.name[0] && !strcmp(x->dev.name, name)) ||
		    (x->dev.acpi[0] && !strcmp(x->dev.acpi, name)))
			g = x;
	}
	if (g)
		mp_memory_read_zones_safe(ctx, lu->mem, g->ids, g->nr);
	mp_ctx_free(ctx);
	if (g) {
		if (!g->pkind) {
			fprintf(stderr,
				"memplugctl policy explain: %s: offline memory of no known device (no firmware_node, not kmem or virtio-mem): memplugd leaves it alone\n",
				name);
			return -ENOENT;
		}
		mp_devgroup_subject(g, s);
		mp_zone_facts_scan(lu->mem, s->node, facts);
		lu->offline_bytes = g->nr_offline * lu->mem->geo.block_size;
		snprintf(lu->blocks, sizeof(lu->blocks), "%s: memory%llu-%llu, %zu of %zu offline",
			 g->key, (unsigned long long)g->ids[0],
			 (unsigned long long)g->ids[g->nr - 1], g->nr_offline, g->nr);
		return 0;
	}
	/* A dax device not (yet) handed to kmem has no blocks: describe it from sysfs. */
	for (size_t i = 0; i < lu->nr_dax; i++) {
		const struct mp_dax_dev *x = &lu->dax[i];

		if (strcmp(x->name, name) &&
		    (strncmp(name, "dax:", 4) || strcmp(x->name, name + 4)))
			continue;
		s->kind = x->from_nvdimm ? MP_POLICY_KIND_NVDIMM : MP_POLICY_KIND_DAX;
		s->node = x->target_node >= 0 ? x->target_node : x->numa_node;
		s->start = x->start;
		s->size = x->size;
		s->ids[0] = x->name;
		mp_zone_facts_scan(lu->mem, s->node, facts);
		lu->offline_bytes = x->size;
		snprintf(lu->blocks, sizeof(lu->blocks),
			 "dax:%s: bound to %s, no memory blocks yet", x->name,
			 x->driver[0] ? x->driver : "no driver");
		return 0;
	}
	fprintf(stderr, "memplugctl policy explain: no block or device '%s'\n", name);
	return -ENOENT;
}

static void looked_up_free(struct looked_up *lu)
{
	mp_devgroups_free(lu->groups, lu->ng);
	free(lu->dax);
	mp_memory_free(lu->mem);
}

static int cmd_explain(struct policy_args *a)
{
	struct looked_up lu = { 0 };
	struct mp_policy_decision d;
	struct mp_policyset *set;
	_mp_free_ char *text = NULL;
	const char *device = NULL;
	bool facts_known = a->has_kernel;
	int r;

	/* "explain memoryN|DEVICE [DIR...]": a DIR has a slash, a device name never does. */
	if (!a->has_kind && a->dirs && a->dirs[0] && !strchr(a->dirs[0], '/')) {
		device = a->dirs[0];
		a->dirs = a->dirs[1] ? a->dirs + 1 : NULL;
	}
	if (!a->has_kind && !device) {
		fprintf(stderr,
			"memplugctl policy explain: name a block or device (memoryN, slotN, dax0.0, virtio0, dimm:slotN),\n"
			"or describe one: --kind KIND --size SIZE [--node N] [--start ADDR] [--id NAME] [--kernel-early SIZE --movable SIZE]\n");
		return MP_EXIT_USAGE;
	}
	if (device) {
		if (lookup_device(device, &lu, &a->subject, &a->facts)) {
			looked_up_free(&lu);
			return MP_EXIT_FAIL;
		}
		facts_known = true;
	} else {
		if (!a->has_size) {
			fprintf(stderr, "memplugctl policy explain: --size is required\n");
			return MP_EXIT_USAGE;
		}
		if (a->has_kernel != a->has_movable) {
			fprintf(stderr,
				"memplugctl policy explain: --kernel-early and --movable go together\n");
			return MP_EXIT_USAGE;
		}
	}
	if (load(a, &set) < 0) {
		looked_up_free(&lu);
		return MP_EXIT_FAIL;
	}
	if (device)
		printf("%s (zone facts from the block scan)\n", lu.blocks);
	r = mp_policy_explain(set, &a->subject, facts_known ? &a->facts : NULL, &d, &text);
	if (r == -ENOMEM) {
		fprintf(stderr, "memplugctl policy explain: %s\n", strerror(ENOMEM));
		mp_policyset_unref(set);
		looked_up_free(&lu);
		return MP_EXIT_FAIL;
	}
	fputs(text, stdout);
	if (device && r == 0) {
		/* memplugd's own decision: the same call it makes, with the global cap too. */
		struct mp_devgroup *g = NULL;
		struct mp_policy_decision dd;
		uint64_t id;

		if (!mp_block_parse_name(device, &id) && !strncmp(device, "memory", 6))
			g = mp_devgroup_find_block(lu.groups, lu.ng, id);
		for (size_t i = 0; !g && i < lu.ng; i++)
			if (!strcmp(lu.groups[i].key, device) ||
			    !strcmp(lu.groups[i].dev.name, device) ||
			    (lu.groups[i].dev.acpi[0] && !strcmp(lu.groups[i].dev.acpi, device)))
				g = &lu.groups[i];
		if (g && g->nr_offline &&
		    !mp_devgroup_decide(set, g, lu.mem, lu.offline_bytes, &dd))
			printf("memplugd would online %zu offline block(s) into %s: %s\n",
			       g->nr_offline, mp_policy_zone_name(dd.zone), dd.zone_why);
		else if (g && !g->nr_offline)
			printf("all blocks are online already: memplugd would not write anything\n");
	}
	mp_policyset_unref(set);
	looked_up_free(&lu);
	return r < 0 ? MP_EXIT_FAIL : MP_EXIT_OK;
}

int mp_cmd_policy(int argc, char **argv)
{
	struct policy_args a = { 0 };
	const char *cmd;

	if (argc < 2) {
		policy_usage(stderr);
		return MP_EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		policy_usage(stdout);
		return MP_EXIT_OK;
	}
	if (!strcmp(cmd, "dirs")) {
		for (const char *const *d = mp_policyset_default_dirs(); *d; d++)
			printf("%s\n", *d);
		return MP_EXIT_OK;
	}
	a.explain = !strcmp(cmd, "explain");
	if (strcmp(cmd, "check") && strcmp(cmd, "show") && !a.explain) {
		fprintf(stderr, "memplugctl policy: unknown command '%s'\n", cmd);
		policy_usage(stderr);
		return MP_EXIT_USAGE;
	}
	if (parse_args(argc - 1, argv + 1, &a) < 0)
		return MP_EXIT_USAGE;
	if (!strcmp(cmd, "check"))
		return cmd_check(&a);
	if (!strcmp(cmd, "show"))
		return cmd_show(&a);
	return cmd_explain(&a);
}
