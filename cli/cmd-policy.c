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
#include "mp-engine.h"
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
 * "policy explain memoryN|DEVICE": the engine takes the same steps as when
 * it reconciles, without writing, so the answer is what memplugd does.
 */
static int explain_device(const char *device, struct mp_policyset *set)
{
	struct mp_engine *e = NULL;
	struct mp_ctx *ctx;
	int r;

	if (mp_cli_ctx(&ctx))
		return MP_EXIT_FAIL;
	r = mp_engine_new(ctx, NULL, &e);
	if (r) {
		fprintf(stderr, "memplugctl policy explain: %s\n", strerror(-r));
		mp_ctx_free(ctx);
		return MP_EXIT_FAIL;
	}
	mp_engine_set_policies(e, set);
	r = mp_engine_explain(e, device, stdout);
	mp_engine_free(e);
	mp_ctx_free(ctx);
	return r < 0 ? MP_EXIT_FAIL : MP_EXIT_OK;
}

static int cmd_explain(struct policy_args *a)
{
	struct mp_policy_decision d;
	struct mp_policyset *set;
	_mp_free_ char *text = NULL;
	const char *device = NULL;
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
	if (!device && !a->has_size) {
		fprintf(stderr, "memplugctl policy explain: --size is required\n");
		return MP_EXIT_USAGE;
	}
	if (!device && a->has_kernel != a->has_movable) {
		fprintf(stderr,
			"memplugctl policy explain: --kernel-early and --movable go together\n");
		return MP_EXIT_USAGE;
	}
	if (load(a, &set) < 0)
		return MP_EXIT_FAIL;
	if (device) {
		r = explain_device(device, set);
		mp_policyset_unref(set);
		return r;
	}
	r = mp_policy_explain(set, &a->subject, a->has_kernel ? &a->facts : NULL, &d, &text);
	mp_policyset_unref(set);
	if (r == -ENOMEM) {
		fprintf(stderr, "memplugctl policy explain: %s\n", strerror(ENOMEM));
		return MP_EXIT_FAIL;
	}
	fputs(text, stdout);
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
