// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl scenario: check or run a scenario file (docs/scenarios.md,
 * memplug-scenario(5)) against a VM through QMP or libvirt.  Argument
 * parsing and printing only; the parser and runner are scenario/.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "host-conn.h"
#include "host-print.h"
#include "host.h"
#include "mp-json.h"
#include "mp-scenario.h"
#include "util.h"

/* The scenario command's own exit codes (docs/scenarios.md). */
#define SCN_EXIT_PASS 0
#define SCN_EXIT_FAIL 1
#define SCN_EXIT_USAGE 64

struct scn_opts {
	struct mp_cli_host_conn conn;
	bool json, cleanup;
	int hook_fd;
	const char *report;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: memplugctl scenario check FILE [-J]\n"
		   "       memplugctl scenario run FILE (--qmp SOCK [--channel SOCK] |\n"
		   "                                     [--connect URI] --domain NAME)\n"
		   "                                    [-J] [--report FILE] [--cleanup]\n"
		   "                                    [--hook-fd FD]\n"
		   "\n"
		   "check parses FILE only and names every error as FILE:LINE.\n"
		   "run runs each step against the VM and prints a report per step; the\n"
		   "channel (--channel, or the libvirt domain's org.memplug.0) brings the\n"
		   "guest's proof that expect online and expect refused judge.\n"
		   "  -J            the report as JSON on stdout (else text, step by step)\n"
		   "  --report FILE also write the JSON report to FILE\n"
		   "  --cleanup     after a failed step, unplug what the run plugged\n"
		   "                (coordinated: memory the guest cannot empty stays)\n"
		   "  --hook-fd FD  a socket for 'hook' steps: a JSON line out, 'ok' back\n"
		   "Exit status: 0 every step passed, 1 a step failed, 64 usage or a file\n"
		   "that does not parse.  See memplug-scenario(5).\n");
}

static void print_proof(struct json_object *p)
{
	printf("        proof: %s %s, %llu block(s) in %s on node %lld, %llu verified, %llu "
	       "violation(s)",
	       mp_json_get_str(p, "device", "?"), mp_json_get_str(p, "blocks", ""),
	       (unsigned long long)mp_json_get_u64(p, "onlined", 0),
	       mp_json_get_str(p, "zone", "?"), (long long)mp_json_get_int(p, "node", -1),
	       (unsigned long long)mp_json_get_u64(p, "verified", 0),
	       (unsigned long long)mp_json_get_u64(p, "violations", 0));
	if (mp_json_get_str(p, "policy", "")[0])
		printf(" (policy %s)", mp_json_get_str(p, "policy", ""));
	mp_cli_print_proof_timings("\n        timings: guest", p);
}

static void print_trim(struct json_object *t)
{
	char a[32], b[32];

	printf("        kmem trim: kept %#llx-%#llx, stranded %s head + %s tail, %s\n",
	       (unsigned long long)mp_json_get_u64(t, "keep_start", 0),
	       (unsigned long long)mp_json_get_u64(t, "keep_end", 0),
	       mp_format_size(mp_json_get_u64(t, "stranded_head", 0), a, sizeof(a)),
	       mp_format_size(mp_json_get_u64(t, "stranded_tail", 0), b, sizeof(b)),
	       mp_json_get_bool(t, "as_predicted", false) ? "as predicted" : "NOT as predicted");
}

static void on_step(struct json_object *so, void *ud)
{
	struct json_object *p = NULL, *x = NULL;
	const char *res = mp_json_get_str(so, "result", "?");

	if (!strcmp(res, "skipped")) {
		printf("%3lld  line %-4lld %-44s SKIPPED\n",
		       (long long)mp_json_get_int(so, "step", 0),
		       (long long)mp_json_get_int(so, "line", 0), mp_json_get_str(so, "text", ""));
		fflush(stdout);
		return;
	}
	printf("%3lld  line %-4lld %-44s %s %6lld ms", (long long)mp_json_get_int(so, "step", 0),
	       (long long)mp_json_get_int(so, "line", 0), mp_json_get_str(so, "text", ""),
	       !strcmp(res, "pass") ? "PASS" : "FAIL",
	       (long long)mp_json_get_int(so, "elapsed_ms", 0));
	if (mp_json_get_str(so, "id", "")[0])
		printf("  %s", mp_json_get_str(so, "id", ""));
	printf("\n");
	if (json_object_object_get_ex(so, "proof", &p) && p)
		print_proof(p);
	if (json_object_object_get_ex(so, "kmem_trim", &x) && x)
		print_trim(x);
	if (json_object_object_get_ex(so, "refusal", &x) && x)
		printf("        refused: memory%llu %s (%s); kernel reason: %s%s\n",
		       (unsigned long long)mp_json_get_u64(x, "block", 0),
		       mp_json_get_str(x, "errno", "?"), mp_json_get_str(x, "error", ""),
		       mp_json_get_str(x, "reason", "none"),
		       mp_json_get_bool(x, "reason_from_kernel", false) ? "" :
									  " (memplug's guess)");
	if (json_object_object_get_ex(so, "unplug", &x) && x &&
	    !strcmp(mp_json_get_str(x, "outcome", ""), "unplugged")) {
		struct json_object *d = NULL, *b = NULL;

		json_object_object_get_ex(x, "drain", &d);
		json_object_object_get_ex(d, "blocks", &b);
		printf("        unplugged: the guest drained %s first (%zu block(s) offline in %llu "
		       "ms)\n",
		       mp_json_get_str(x, "device", "?"),
		       json_object_is_type(b, json_type_array) ? json_object_array_length(b) : 0,
		       (unsigned long long)mp_json_get_u64(d, "elapsed_ms", 0));
	}
	if (json_object_object_get_ex(so, "grow_request", &x) && x) {
		char a[32];

		printf("        grow request %lld: %s on node %lld\n",
		       (long long)mp_json_get_int(x, "request", -1),
		       mp_format_size(mp_json_get_u64(x, "size", 0), a, sizeof(a)),
		       (long long)mp_json_get_int(x, "node", -1));
	}
	if (mp_json_get_str(so, "note", "")[0])
		printf("        note: %s\n", mp_json_get_str(so, "note", ""));
	if (strcmp(res, "pass") || mp_json_get_str(so, "op", "")[0] == 'e')
		if (mp_json_get_str(so, "reason", "")[0])
			printf("        %s: %s\n", strcmp(res, "pass") ? "why" : "reason",
			       mp_json_get_str(so, "reason", ""));
	fflush(stdout);
}

static int load(const char *file, struct mp_scenario **s)
{
	char *errors = NULL;
	int r = mp_scenario_load(file, s, &errors);

	if (r < 0)
		fprintf(stderr, "%s", errors && errors[0] ? errors : "");
	if (r < 0 && (!errors || !errors[0]))
		fprintf(stderr, "memplugctl scenario: %s: %s\n", file, strerror(-r));
	free(errors);
	return r;
}

static int cmd_check(struct scn_opts *o, const char *file)
{
	struct mp_scenario *s = NULL;
	unsigned int n;

	if (load(file, &s) < 0)
		return SCN_EXIT_USAGE;
	n = mp_scenario_get_nsteps(s);
	if (o->json) {
		struct json_object *jo = json_object_new_object(), *arr = json_object_new_array();

		for (unsigned int i = 0; i < n; i++)
			json_object_array_add(arr, mp_scenario_step_json(s, i));
		mp_json_add_str(jo, "file", file);
		json_object_object_add(jo, "steps", arr);
		printf("%s\n", json_object_to_json_string_ext(jo, JSON_C_TO_STRING_PRETTY |
									  JSON_C_TO_STRING_SPACED));
		json_object_put(jo);
	} else {
		printf("%s: scenario OK, %u step(s)\n", file, n);
	}
	mp_scenario_free(s);
	return SCN_EXIT_PASS;
}

static int cmd_run(struct scn_opts *o, const char *file)
{
	struct mp_scenario_opts ro = { .hook_fd = o->hook_fd, .cleanup = o->cleanup };
	struct mp_scenario *s = NULL;
	struct json_object *rep = NULL, *x;
	struct mp_host *h = NULL;
	char why[400] = "";
	int failed;

	if (!mp_cli_host_conn_given(&o->conn)) {
		fprintf(stderr, "memplugctl scenario: run needs --qmp SOCK, or --domain NAME (with "
				"--connect URI)\n");
		return SCN_EXIT_USAGE;
	}
	if (load(file, &s) < 0)
		return SCN_EXIT_USAGE;
	if (mp_cli_host_conn_open(&o->conn, 0, &h, why, sizeof(why)) < 0) {
		fprintf(stderr, "memplugctl scenario: %s\n", why);
		mp_scenario_free(s);
		return SCN_EXIT_FAIL;
	}
	/* without a channel the run goes on: expect online and refused fail, saying why */
	if (mp_cli_host_conn_attach(h, &o->conn, why, sizeof(why)) < 0 &&
	    (o->conn.channel || o->conn.domain))
		fprintf(stderr, "memplugctl scenario: no proof available: %s\n", why);
	if (!o->json) {
		ro.on_step = on_step;
		printf("scenario %s: %u step(s)%s%s\n", file, mp_scenario_get_nsteps(s),
		       why[0] ? "; no channel: " : ", with the guest's proof", why);
		fflush(stdout);
	}
	failed = mp_scenario_run(s, h, &ro, &rep);
	if (failed < 0) {
		fprintf(stderr, "memplugctl scenario: %s: %s\n", file, strerror(-failed));
		mp_host_close(h);
		mp_scenario_free(s);
		return SCN_EXIT_FAIL;
	}
	if (why[0])
		mp_json_add_str(rep, "proof_unavailable", why);
	if (o->report) {
		FILE *f = fopen(o->report, "w");

		if (!f ||
		    fprintf(f, "%s\n",
			    json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY)) < 0 ||
		    fflush(f))
			fprintf(stderr, "memplugctl scenario: --report %s: %s\n", o->report,
				strerror(errno));
		if (f)
			fclose(f);
	}
	if (o->json) {
		printf("%s\n", json_object_to_json_string_ext(
				       rep, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	} else {
		printf("scenario %s: %lld passed, %lld failed, %lld skipped in %.1f s\n", file,
		       (long long)mp_json_get_int(rep, "passed", 0),
		       (long long)mp_json_get_int(rep, "failed", 0),
		       (long long)mp_json_get_int(rep, "skipped", 0),
		       mp_json_get_int(rep, "elapsed_ms", 0) / 1000.0);
		if (json_object_object_get_ex(rep, "cleanup", &x))
			for (size_t i = 0; i < json_object_array_length(x); i++) {
				struct json_object *c = json_object_array_get_idx(x, i);

				printf("cleanup: %s %s\n", mp_json_get_str(c, "id", "?"),
				       mp_json_get_bool(c, "unplugged", false) ?
					       "unplugged" :
					       "NOT unplugged: it stays plugged");
			}
		json_object_object_get_ex(rep, "left_plugged", &x);
		if (failed && x && json_object_array_length(x)) {
			printf("left plugged by this run:");
			for (size_t i = 0; i < json_object_array_length(x); i++)
				printf(" %s",
				       json_object_get_string(json_object_array_get_idx(x, i)));
			printf(" ('memplugctl host ... unplug ID' removes one; --cleanup does it "
			       "after a failure)\n");
		}
	}
	json_object_put(rep);
	mp_host_close(h);
	mp_scenario_free(s);
	return failed ? SCN_EXIT_FAIL : SCN_EXIT_PASS;
}

int mp_cmd_scenario(int argc, char **argv)
{
	enum { O_CLEANUP = MP_CLI_HOST_OPT_END, O_HOOK_FD, O_REPORT };
	static const struct option opts[] = {
		MP_CLI_HOST_CONN_OPTIONS,
		{ "cleanup", no_argument, NULL, O_CLEANUP },
		{ "hook-fd", required_argument, NULL, O_HOOK_FD },
		{ "report", required_argument, NULL, O_REPORT },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct scn_opts o = { .hook_fd = -1 };
	const char *sub;
	uint64_t v;
	int c;

	mp_cli_host_conn_init(&o.conn);
	/* options may come before or after the subcommand and file */
	while ((c = mp_cli_host_conn_getopt(&o.conn, argc, argv, "Jh", opts, NULL)) != -1) {
		switch (c) {
		case O_REPORT:
			o.report = optarg;
			break;
		case O_CLEANUP:
			o.cleanup = true;
			break;
		case O_HOOK_FD:
			if (mp_parse_u64(optarg, 10, &v) < 0 || v > 65535) {
				fprintf(stderr, "memplugctl scenario: bad --hook-fd '%s'\n",
					optarg);
				return SCN_EXIT_USAGE;
			}
			o.hook_fd = (int)v;
			break;
		case 'J':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return SCN_EXIT_PASS;
		default:
			usage(stderr);
			return SCN_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return SCN_EXIT_USAGE;
	}
	sub = argv[optind];
	if (!strcmp(sub, "check"))
		return cmd_check(&o, argv[optind + 1]);
	if (!strcmp(sub, "run"))
		return cmd_run(&o, argv[optind + 1]);
	fprintf(stderr, "memplugctl scenario: unknown command '%s' (check or run)\n", sub);
	usage(stderr);
	return SCN_EXIT_USAGE;
}
