// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl online|offline: change block states by hand, one result line per
 * block with the kernel's errno, the state re-read afterwards and the rules'
 * prediction next to it.  Exit codes like chmem: 0 all, 1 none, 64 some.
 *
 * memplugctl offline --all-or-nothing: drain a device (mp_blocks_offline()):
 * every block offline, or every block back as it was, under one deadline,
 * with the refusing block, the errno, the kernel's reason and the page flags.
 * Exit 0 all offline, 1 refused or timed out and rolled back (none changed),
 * 64 a rollback failed (some blocks left offline).
 *
 * memplugctl snapshot: record a fixture / bug-report directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "commands.h"
#include "mp-engine.h"
#include "mp-json.h"
#include "mp-kernel.h"
#include "util.h"

/* "memory32", "32", "memory32-39", "32-39" */
static int parse_spec(const char *s, uint64_t *first, uint64_t *last)
{
	char buf[64];
	char *dash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (mp_block_parse_name(buf, first))
		return -EINVAL;
	if (!dash) {
		*last = *first;
		return 0;
	}
	if (mp_block_parse_name(dash, last) || *last < *first)
		return -EINVAL;
	return 0;
}

static const char *zone_word(const char *zone, bool online)
{
	if (!online)
		return "offline";
	if (!zone || !strcmp(zone, "auto"))
		return "online";
	if (!strcmp(zone, "movable"))
		return "online_movable";
	if (!strcmp(zone, "kernel"))
		return "online_kernel";
	return NULL;
}

static const struct mp_prediction *pick(const struct mp_block_verdict *v, const char *word)
{
	if (!strcmp(word, "offline"))
		return &v->offline;
	if (!strcmp(word, "online_movable"))
		return &v->online_movable;
	if (!strcmp(word, "online_kernel"))
		return &v->online_kernel;
	return &v->online;
}

/* "120", "0.5", "2.25": seconds to milliseconds, at most a day. */
static int parse_timeout_ms(const char *s, uint64_t *ms)
{
	const char *dot = strchr(s, '.');
	size_t n = dot ? (size_t)(dot - s) : strlen(s), m = dot ? strlen(dot + 1) : 0;
	uint64_t w, f = 0;

	if (mp_parse_u64_n(s, n, &w) || (dot && (m > 3 || mp_parse_u64_n(dot + 1, m, &f))))
		return -EINVAL;
	for (; dot && m < 3; m++) /* milliseconds: "0.5" is 500 */
		f *= 10;
	if (w > 86400 || (w == 86400 && f))
		return -EINVAL;
	*ms = w * 1000 + f;
	return 0;
}

/* The drain's result as text, from its JSON (mp_offline_result_to_json()): a
 * local run and memplugd's answer print the same way. */
static void drain_print(struct json_object *o)
{
	struct json_object *blocks, *f;
	const char *result = mp_json_get_str(o, "result", "?");

	if (json_object_object_get_ex(o, "blocks", &blocks) &&
	    json_object_is_type(blocks, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(blocks); i++) {
			struct json_object *b = json_object_array_get_idx(blocks, i);
			unsigned long long id = mp_json_get_u64(b, "block", 0);
			const char *out = mp_json_get_str(b, "outcome", "?");

			if (!strcmp(out, "refused"))
				printf("memory%llu: offline: refused: %s after %llu ms\n", id,
				       mp_json_get_str(b, "errno", "?"),
				       (unsigned long long)mp_json_get_u64(b, "write_ms", 0));
			else if (!strcmp(out, "rolled back"))
				printf("memory%llu: offline: rolled back: %s, zones %s\n", id,
				       mp_json_get_str(b, "rollback_word", ""),
				       mp_json_get_str(b, "zone_after", ""));
			else if (!strcmp(out, "offlined"))
				printf("memory%llu: offline: ok (was %s) in %llu ms\n", id,
				       mp_json_get_str(b, "zone_before", ""),
				       (unsigned long long)mp_json_get_u64(b, "write_ms", 0));
			else if (!strcmp(out, "rolled back into another zone"))
				printf("memory%llu: offline: ROLLBACK INTO ANOTHER ZONE: %s gave %s, was %s\n",
				       id, mp_json_get_str(b, "rollback_word", ""),
				       mp_json_get_str(b, "zone_after", ""),
				       mp_json_get_str(b, "zone_before", ""));
			else if (mp_json_get_str(b, "rollback_errno", "")[0])
				printf("memory%llu: offline: %s: %s %s; the block stays offline\n",
				       id, out,
				       mp_json_get_str(b, "rollback_word", "(no zone word)"),
				       mp_json_get_str(b, "rollback_errno", ""));
			else
				printf("memory%llu: offline: %s\n", id, out);
		}
	}
	if (json_object_object_get_ex(o, "failed", &f)) {
		unsigned long long id = mp_json_get_u64(f, "block", 0);
		struct json_object *k;

		bool tried = mp_json_get_u64(f, "tried", 0) > 0;
		bool timed_out = mp_json_get_bool(o, "timed_out", false);
		const char *en = mp_json_get_str(f, "errno", result), *et;

		et = mp_json_get_str(f, "error", "");
		if (!tried && timed_out)
			printf("all-or-nothing: deadline of %llu ms passed before memory%llu\n",
			       (unsigned long long)mp_json_get_u64(o, "deadline_ms", 0), id);
		else if (!tried)
			printf("all-or-nothing: memory%llu: %s (%s): nothing was written\n", id, et,
			       en);
		else
			printf("all-or-nothing: refused by memory%llu: %s (%s)%s\n", id, en, et,
			       timed_out ?
				       ": the deadline interrupted the kernel's migration retries" :
				       "");
		if (!tried)
			goto done_failed;
		printf("all-or-nothing: kernel reason: %s\n", mp_json_get_str(f, "reason", "?"));
		if (mp_json_get_str(f, "message", "")[0])
			printf("all-or-nothing: kernel message: %s\n",
			       mp_json_get_str(f, "message", ""));
		if (json_object_object_get_ex(f, "kpageflags", &k)) {
			printf("all-or-nothing: memory%llu kpageflags:", id);
			json_object_object_foreach(k, key, val)
			{
				printf(" %s %lld", key, (long long)json_object_get_int64(val));
			}
			putchar('\n');
		} else if (mp_json_get_str(f, "kpageflags_error", NULL)) {
			printf("all-or-nothing: memory%llu kpageflags not available: %s\n", id,
			       mp_json_get_str(f, "kpageflags_error", ""));
		}
		if (mp_json_get_u64(f, "page_dumps", 0)) {
			char dump[1024], *save = NULL;

			printf("all-or-nothing: memory%llu page dump (%llu seen): page dumped because: %s\n",
			       id, (unsigned long long)mp_json_get_u64(f, "page_dumps", 0),
			       mp_json_get_str(f, "dump_because", "?"));
			snprintf(dump, sizeof(dump), "%s", mp_json_get_str(f, "dump", ""));
			for (char *l = strtok_r(dump, "\n", &save); l;
			     l = strtok_r(NULL, "\n", &save))
				printf("  %s\n", l);
		}
		if (mp_json_get_u64(f, "migrate_failures", 0))
			printf("all-or-nothing: memory%llu migration failures: %llu, first: %s\n",
			       id, (unsigned long long)mp_json_get_u64(f, "migrate_failures", 0),
			       mp_json_get_str(f, "migrate_line", ""));
	}
done_failed:
	if (mp_json_get_bool(o, "rollback_failed", false))
		printf("all-or-nothing: ROLLBACK FAILED: the device is left partly offline\n");
	else if (strcmp(result, "ok"))
		printf("all-or-nothing: rolled back %llu block(s): the device is as it was\n",
		       (unsigned long long)mp_json_get_u64(o, "rolled_back", 0));
	else
		printf("all-or-nothing: all %zu block(s) offline in %llu ms\n",
		       json_object_is_type(blocks, json_type_array) ?
			       json_object_array_length(blocks) :
			       (size_t)0,
		       (unsigned long long)mp_json_get_u64(o, "elapsed_ms", 0));
}

static int drain_exit(int err)
{
	return !err ? MP_EXIT_OK : err == -ENOTRECOVERABLE ? MP_EXIT_PARTIAL : MP_EXIT_FAIL;
}

static void drain_show(struct json_object *o, bool json)
{
	if (json)
		printf("%s\n",
		       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		drain_print(o);
}

/* Print @r as JSON or text; the exit status for @err. */
static int drain_report(const struct mp_offline_result *r, int err, bool json)
{
	struct json_object *o = mp_offline_result_to_json(r);

	if (!o)
		return MP_EXIT_FAIL;
	drain_show(o, json);
	json_object_put(o);
	return drain_exit(err);
}

/*
 * drain/undrain through memplugd, which then knows the device is drained.
 * Return: the exit status, or -1 when no memplugd answers (do it here).
 */
static int drain_via_daemon(const char *cmd, const char *device, uint64_t timeout_ms, bool json)
{
	struct json_object *o, *res;
	char req[256], *answer = NULL;
	int err, rc;

	if (mp_cli.sysroot || getenv("MEMPLUG_SYSROOT"))
		return -1; /* a sysroot is not the system memplugd runs on */
	if (strlen(device) > 64 || strpbrk(device, "\"\\")) {
		fprintf(stderr, "memplugctl %s: bad device name '%s'\n", cmd, device);
		return MP_EXIT_USAGE;
	}
	snprintf(req, sizeof(req), "{\"command\":\"%s\",\"device\":\"%s\",\"timeout_ms\":%llu}\n",
		 cmd, device, (unsigned long long)timeout_ms);
	/* The daemon answers when the drain is done: its deadline plus time to roll back. */
	err = mp_cli_ask_daemon(MP_DAEMON_SOCKET, req, (int)timeout_ms + 60000, &answer);
	if (err == -ENOENT || err == -ECONNREFUSED)
		return -1;
	if (err) {
		fprintf(stderr, "memplugctl %s: memplugd (%s): %s\n", cmd, MP_DAEMON_SOCKET,
			strerror(-err));
		return MP_EXIT_FAIL;
	}
	o = json_tokener_parse(answer);
	free(answer);
	if (!o || !json_object_object_get_ex(o, "err", NULL)) {
		fprintf(stderr, "memplugctl %s: memplugd says: %s\n", cmd,
			o ? mp_json_get_str(o, "error", "?") : "(not JSON)");
		json_object_put(o);
		return MP_EXIT_FAIL;
	}
	err = (int)mp_json_get_int(o, "err", -EPROTO);
	if (json_object_object_get_ex(o, "drain", &res)) {
		drain_show(res, json);
		rc = drain_exit(err);
	} else if (json) {
		drain_show(o, true);
		rc = err ? MP_EXIT_FAIL : MP_EXIT_OK;
	} else {
		if (err)
			fprintf(stderr, "memplugctl %s: %s: %s\n", cmd,
				mp_json_get_str(o, "device", device),
				mp_json_get_str(o, "error", strerror(-err)));
		else
			printf("%s: %s%s%s\n", mp_json_get_str(o, "device", device),
			       mp_json_get_str(o, "outcome", ""),
			       mp_json_get_str(o, "outcome", "")[0] ? ": " : "",
			       mp_json_get_str(o, "message", ""));
		rc = err ? MP_EXIT_FAIL : MP_EXIT_OK;
	}
	json_object_put(o);
	return rc;
}

/* Collect the blocks of every spec, then drain them as one device. */
static int drain(int argc, char **argv, int first, uint64_t timeout_ms, unsigned int flags,
		 bool json)
{
	struct mp_offline_result *r = NULL;
	struct mp_ctx *ctx = NULL;
	uint64_t *ids = NULL;
	size_t nr = 0, cap = 0;
	int err, rc;

	for (int i = first; i < argc; i++) {
		uint64_t a, z;

		if (parse_spec(argv[i], &a, &z)) {
			fprintf(stderr,
				"memplugctl offline: '%s' is not a block (memoryN or N-M)\n",
				argv[i]);
			free(ids);
			return MP_EXIT_USAGE;
		}
		for (uint64_t id = a; id <= z; id++) {
			if (nr == cap) {
				uint64_t *n;

				cap = cap ? cap * 2 : 16;
				n = realloc(ids, cap * sizeof(*ids));
				if (!n) {
					free(ids);
					return MP_EXIT_FAIL;
				}
				ids = n;
			}
			ids[nr++] = id;
		}
	}
	if (mp_cli_ctx(&ctx)) {
		free(ids);
		return MP_EXIT_FAIL;
	}
	err = mp_blocks_offline(ctx, ids, nr, (int)timeout_ms, flags, &r);
	if (!r) {
		fprintf(stderr, "memplugctl offline: %s%s\n", strerror(-err),
			err == -EINVAL ? " (a block given twice?)" : "");
		rc = MP_EXIT_FAIL;
	} else {
		rc = drain_report(r, err, json);
	}
	free(r);
	free(ids);
	mp_ctx_free(ctx);
	return rc;
}

static void drain_usage(FILE *f)
{
	fputs("Usage: memplugctl drain [--timeout SEC] [-J] DEVICE\n"
	      "       memplugctl undrain DEVICE\n"
	      "DEVICE: memoryN (its device), dimm:slotN, slotN, dax:daxX.Y, virtio-mem:virtioN.\n"
	      "drain: offline every block of the device, or none (rolled back into their zones),\n"
	      "       under one deadline, with the refusing block, errno, the kernel's reason and\n"
	      "       page-flag evidence; the device is then left offline until undrained.\n"
	      "undrain: online a drained device again, in the zone it had, and verify it.\n"
	      "Exit: 0 done, 1 refused or failed (nothing changed), 64 rollback failed.\n",
	      f);
}

/* memplugctl drain|undrain DEVICE: the engine's device drain (engine/drain.c). */
int mp_cmd_drain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool undrain = !strcmp(argv[0], "undrain"), json = false;
	struct mp_engine_config cfg = { 0 };
	struct mp_offline_result *r = NULL;
	struct mp_engine *e = NULL;
	struct mp_ctx *ctx = NULL;
	uint64_t timeout_ms = 30000;
	int c, err, rc;

	optind = 0;
	while ((c = mp_cli_getopt(argc, argv, "+t:Jh", opts, drain_usage)) != -1) {
		switch (c) {
		case 't':
			if (undrain || parse_timeout_ms(optarg, &timeout_ms)) {
				fprintf(stderr, "memplugctl %s: bad --timeout '%s'\n", argv[0],
					optarg);
				return MP_EXIT_USAGE;
			}
			break;
		case 'J':
			json = true;
			break;
		default:
			break; /* -h and bad options: mp_cli_getopt() */
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "memplugctl %s: name one device\n", argv[0]);
		drain_usage(stderr);
		return MP_EXIT_USAGE;
	}
	rc = drain_via_daemon(argv[0], argv[optind], timeout_ms, json);
	if (rc >= 0)
		return rc;
	if (mp_cli_ctx(&ctx))
		return MP_EXIT_FAIL;
	/*
	 * No memplugd: the engine here, recording the drain where memplugd
	 * will find it when it starts (on a sysroot: nowhere).
	 */
	cfg.state_path = mp_ctx_root(ctx)[0] ? NULL : MEMPLUG_STATE_FILE;
	err = mp_engine_new(ctx, &cfg, &e);
	if (err) {
		fprintf(stderr, "memplugctl %s: %s\n", argv[0], strerror(-err));
		mp_ctx_free(ctx);
		return MP_EXIT_FAIL;
	}
	if (undrain) {
		const struct mp_device *dev;

		err = mp_engine_undrain(e, argv[optind], &dev);
		if (dev && err != -EINVAL)
			printf("%s: %s: %s\n", dev->key, mp_device_state_name(dev->state),
			       dev->message);
		rc = err ? MP_EXIT_FAIL : MP_EXIT_OK;
		goto out;
	}
	err = mp_engine_drain(e, argv[optind], (int)timeout_ms, &r);
	if (!r) {
		if (err)
			fprintf(stderr, "memplugctl drain: %s: %s\n", argv[optind], strerror(-err));
		else
			printf("%s: every block was offline already\n", argv[optind]);
		rc = err ? MP_EXIT_FAIL : MP_EXIT_OK;
		goto out;
	}
	rc = drain_report(r, err, json);
out:
	free(r);
	mp_engine_free(e);
	mp_ctx_free(ctx);
	return rc;
}

static void online_usage(FILE *f)
{
	fputs("Usage: memplugctl online [--zone movable|kernel|auto] BLOCK...\n"
	      "       memplugctl offline [--timeout SEC] BLOCK...\n"
	      "       memplugctl offline --all-or-nothing [--timeout SEC] [--order address|suspects-first] [-J] BLOCK...\n"
	      "BLOCK: memoryN, N, memoryN-M or N-M.  SEC may have a fraction (0.5).\n"
	      "Exit: 0 all, 1 none, 64 some.  --all-or-nothing: every block offline or\n"
	      "every block back in its zone under one deadline; exit 0 all offline,\n"
	      "1 refused or timed out (rolled back), 64 a rollback failed.\n",
	      f);
}

int mp_cmd_online(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "zone", required_argument, NULL, 'z' },
		{ "timeout", required_argument, NULL, 't' },
		{ "all-or-nothing", no_argument, NULL, 'A' },
		{ "order", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		MP_CLI_SYSROOT_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool online = !strcmp(argv[0], "online");
	const char *zone = NULL, *word;
	struct mp_memory *mem = NULL;
	struct mp_kpageflags *kpf = NULL;
	struct mp_ctx *ctx = NULL;
	unsigned int done = 0, failed = 0;
	uint64_t timeout_ms = 120 * 1000;
	bool all_or_nothing = false, json = false;
	unsigned int drain_flags = 0;
	int opt;

	while ((opt = mp_cli_getopt(argc, argv, "z:t:AJh", opts, online_usage)) != -1) {
		switch (opt) {
		case 'z':
			zone = optarg;
			break;
		case 't':
			if (parse_timeout_ms(optarg, &timeout_ms)) {
				fprintf(stderr, "memplugctl %s: bad --timeout '%s' (seconds)\n",
					argv[0], optarg);
				return MP_EXIT_USAGE;
			}
			break;
		case 'A':
			all_or_nothing = true;
			break;
		case 'o':
			if (!strcmp(optarg, "address")) {
				drain_flags |= MP_OFFLINE_ADDRESS_ORDER;
			} else if (strcmp(optarg, "suspects-first")) {
				fprintf(stderr,
					"memplugctl %s: --order takes address or suspects-first\n",
					argv[0]);
				return MP_EXIT_USAGE;
			}
			break;
		case 'J':
			json = true;
			break;
		default:
			break; /* -h and bad options: mp_cli_getopt() */
		}
	}
	word = zone_word(zone, online);
	if (!word || (zone && !online)) {
		fprintf(stderr,
			"memplugctl %s: --zone takes movable, kernel or auto (online only)\n",
			argv[0]);
		return MP_EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "memplugctl %s: no blocks given\n", argv[0]);
		return MP_EXIT_USAGE;
	}
	if ((all_or_nothing || json || drain_flags) && online) {
		fprintf(stderr,
			"memplugctl online: --all-or-nothing, --order and -J are for offline\n");
		return MP_EXIT_USAGE;
	}
	if ((json || drain_flags) && !all_or_nothing) {
		fprintf(stderr, "memplugctl offline: --order and -J need --all-or-nothing\n");
		return MP_EXIT_USAGE;
	}
	if (all_or_nothing)
		return drain(argc, argv, optind, timeout_ms, drain_flags, json);
	if (mp_cli_ctx(&ctx))
		return MP_EXIT_FAIL;
	if (mp_memory_scan(ctx, MP_SCAN_ZONES | MP_SCAN_IOMEM, &mem)) {
		mp_ctx_free(ctx);
		return MP_EXIT_FAIL;
	}
	/* Page flags sharpen the offline prediction; without them we still act. */
	if (!online && mp_kpageflags_open(ctx, &kpf))
		kpf = NULL;

	for (int i = optind; i < argc; i++) {
		uint64_t first, last;

		if (parse_spec(argv[i], &first, &last)) {
			fprintf(stderr, "memplugctl %s: '%s' is not a block (memoryN or N-M)\n",
				argv[0], argv[i]);
			failed++;
			continue;
		}
		for (uint64_t id = first; id <= last; id++) {
			struct mp_block *b = mp_memory_find(mem, id);
			struct mp_kpf_counts counts, *kc = NULL;
			const struct mp_prediction *p;
			struct mp_block_verdict v;
			enum mp_block_state st = MP_BLOCK_UNKNOWN;
			char zones[48] = "";
			int err;

			if (!b) {
				printf("memory%llu: %s: no such block\n", (unsigned long long)id,
				       word);
				failed++;
				continue;
			}
			if (kpf && !mp_kpageflags_count(kpf, mp_addr_to_pfn(b->start),
							b->size >> MP_PAGE_SHIFT, &counts))
				kc = &counts;
			mp_rules_block(mem, b, kc, &v);
			p = pick(&v, word);
			err = mp_block_write_state(ctx, id, word, online ? 0 : (int)timeout_ms);
			mp_block_read_state(ctx, id, &st);
			mp_block_read_zones(ctx, id, zones, sizeof(zones));
			if (!err) {
				printf("memory%llu: %s: ok; state %s, zones %s\n",
				       (unsigned long long)id, word, mp_block_state_name(st),
				       zones);
				done++;
			} else if (err == -EINVAL &&
				   st == (online ? MP_BLOCK_ONLINE : MP_BLOCK_OFFLINE)) {
				/* The kernel refuses a write asking for the current state (§2). */
				printf("memory%llu: %s: already %s (zones %s)\n",
				       (unsigned long long)id, word, mp_block_state_name(st),
				       zones);
				done++;
			} else {
				printf("memory%llu: %s: failed: %s (%s); state %s, zones %s\n",
				       (unsigned long long)id, word, strerror(-err),
				       mp_cli_errname(err), mp_block_state_name(st), zones);
				if (err == -EINTR)
					printf("memory%llu: offline interrupted after %llu%s: the kernel kept retrying migration\n",
					       (unsigned long long)id,
					       (unsigned long long)(timeout_ms % 1000 ?
									    timeout_ms :
									    timeout_ms / 1000),
					       timeout_ms % 1000 ? " ms" : "s");
				failed++;
			}
			if (p->err || (!err) != (!p->err))
				printf("memory%llu:   predicted %s%s: %s\n", (unsigned long long)id,
				       p->err ? mp_cli_errname(p->err) : "ok",
				       p->certain ? "" : " (uncertain)", p->rule);
			if (p->certain && (!err) != (!p->err) && err != -EINTR)
				printf("memory%llu:   RULE MISMATCH: the kernel answered %s where the rules say %s\n",
				       (unsigned long long)id, err ? mp_cli_errname(err) : "ok",
				       p->err ? mp_cli_errname(p->err) : "ok");
		}
	}
	mp_kpageflags_close(kpf);
	mp_memory_free(mem);
	mp_ctx_free(ctx);
	if (!failed)
		return MP_EXIT_OK;
	return done ? MP_EXIT_PARTIAL : MP_EXIT_FAIL;
}

static void snapshot_usage(FILE *f)
{
	fputs("Usage: memplugctl snapshot DIR          record hotplug state into DIR\n"
	      "       memplugctl snapshot --expand DIR expand DIR/proc/kpageflags.rle\n",
	      f);
}

int mp_cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "expand", no_argument, NULL, 'x' },
		MP_CLI_SYSROOT_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mp_ctx *ctx;
	bool expand = false;
	int opt, err;

	while ((opt = mp_cli_getopt(argc, argv, "xh", opts, snapshot_usage)) != -1) {
		switch (opt) {
		case 'x':
			expand = true;
			break;
		default:
			break; /* -h and bad options: mp_cli_getopt() */
		}
	}
	if (optind + 1 != argc) {
		snapshot_usage(stderr);
		return MP_EXIT_USAGE;
	}
	if (expand) {
		err = mp_snapshot_expand(argv[optind]);
		if (err)
			fprintf(stderr, "memplugctl snapshot: %s: %s\n", argv[optind],
				strerror(-err));
		return err ? MP_EXIT_FAIL : MP_EXIT_OK;
	}
	if (mp_cli_ctx(&ctx))
		return MP_EXIT_FAIL;
	err = mp_snapshot_record(ctx, argv[optind]);
	mp_ctx_free(ctx);
	if (err)
		fprintf(stderr, "memplugctl snapshot: %s: %s\n", argv[optind], strerror(-err));
	return err ? MP_EXIT_FAIL : MP_EXIT_OK;
}
