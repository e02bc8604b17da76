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
	char whole[24], frac[4] = "000";
	const char *dot = strchr(s, '.');
	uint64_t w, f = 0;
	size_t n = dot ? (size_t)(dot - s) : strlen(s);

	if (!n || n >= sizeof(whole))
		return -EINVAL;
	memcpy(whole, s, n);
	whole[n] = '\0';
	if (mp_parse_u64(whole, 10, &w))
		return -EINVAL;
	if (dot) {
		size_t m = strlen(dot + 1);

		if (!m || m > 3 || strspn(dot + 1, "0123456789") != m)
			return -EINVAL;
		memcpy(frac, dot + 1, m);
		mp_parse_u64(frac, 10, &f);
	}
	if (w > 86400 || (w == 86400 && f))
		return -EINVAL;
	*ms = w * 1000 + f;
	return 0;
}

static const char *errname(int err)
{
	const char *n = mp_cli_errname(err);

	if (strcmp(n, "E?"))
		return n;
	n = strerrorname_np(-err);
	return n ? n : "E?";
}

static struct json_object *drain_kpf_json(const struct mp_kpf_counts *k)
{
	struct json_object *o = json_object_new_object();

	mp_json_add_u64(o, "pfns", k->pfns);
	mp_json_add_u64(o, "nopage", k->nopage);
	mp_json_add_u64(o, "slab", k->slab);
	mp_json_add_u64(o, "pgtable", k->pgtable);
	mp_json_add_u64(o, "reserved", k->reserved);
	mp_json_add_u64(o, "memmap_on_memory", k->memmap_self);
	mp_json_add_u64(o, "unmovable", k->unmovable);
	mp_json_add_u64(o, "hwpoison", k->hwpoison);
	mp_json_add_u64(o, "offline", k->offline);
	mp_json_add_u64(o, "lru", k->lru);
	mp_json_add_u64(o, "buddy", k->buddy);
	return o;
}

static void drain_print_json(const struct mp_offline_result *r)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	const struct mp_offline_why *w = &r->why;

	mp_json_add_str(root, "result", r->err ? errname(r->err) : "ok");
	mp_json_add_bool(root, "timed_out", r->timed_out);
	mp_json_add_bool(root, "rollback_failed", r->rollback_failed);
	mp_json_add_u64(root, "rolled_back", r->rolled_back);
	mp_json_add_u64(root, "deadline_ms", r->deadline_ms);
	mp_json_add_u64(root, "elapsed_ms", r->elapsed_ms);
	for (size_t i = 0; i < r->nr; i++) {
		const struct mp_offline_block *b = &r->blocks[i];
		struct json_object *o = json_object_new_object();

		mp_json_add_u64(o, "block", b->id);
		mp_json_add_str(o, "outcome", mp_offline_outcome_name(b->outcome));
		mp_json_add_u64(o, "tried", b->tried);
		mp_json_add_bool(o, "suspect", b->suspect);
		mp_json_add_str(o, "zone_before", b->zone_before);
		mp_json_add_str(o, "zone_after", b->zone_after);
		mp_json_add_str(o, "rollback_word", b->rollback_word);
		mp_json_add_str(o, "errno", b->err ? errname(b->err) : "");
		mp_json_add_str(o, "rollback_errno",
				b->rollback_err ? errname(b->rollback_err) : "");
		mp_json_add_u64(o, "write_ms", b->write_ms);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "blocks", arr);
	if (r->failed >= 0) {
		const struct mp_offline_block *f = &r->blocks[r->failed];
		struct json_object *o = json_object_new_object();

		mp_json_add_u64(o, "block", f->id);
		mp_json_add_str(o, "errno", f->err ? errname(f->err) : "");
		mp_json_add_bool(o, "reason_from_kernel", w->from_kernel);
		mp_json_add_str(o, "reason", w->reason);
		mp_json_add_str(o, "message", w->message);
		mp_json_add_u64(o, "page_dumps", w->nr_dumps);
		mp_json_add_str(o, "dump_because", w->dump_because);
		mp_json_add_u64(o, "dump_pfn", w->dump_pfn);
		mp_json_add_str(o, "dump", w->dump);
		mp_json_add_u64(o, "migrate_failures", w->nr_migrate_failures);
		mp_json_add_str(o, "migrate_line", w->migrate_line);
		if (r->kpf_valid)
			json_object_object_add(o, "kpageflags", drain_kpf_json(&r->kpf));
		else if (f->tried)
			mp_json_add_str(o, "kpageflags_error", r->kpf_error);
		json_object_object_add(root, "failed", o);
	}
	printf("%s\n", json_object_to_json_string_ext(
			       root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

static void drain_print(const struct mp_offline_result *r)
{
	const struct mp_offline_why *w = &r->why;

	for (size_t i = 0; i < r->nr; i++) {
		const struct mp_offline_block *b = &r->blocks[i];
		unsigned long long id = (unsigned long long)b->id;

		switch (b->outcome) {
		case MP_OFFLINE_REFUSED:
			printf("memory%llu: offline: refused: %s (%s) after %llu ms\n", id,
			       strerror(-b->err), errname(b->err), (unsigned long long)b->write_ms);
			break;
		case MP_OFFLINE_ROLLED_BACK:
			printf("memory%llu: offline: rolled back: %s, zones %s\n", id,
			       b->rollback_word, b->zone_after);
			break;
		case MP_OFFLINE_ROLLBACK_ZONE:
			printf("memory%llu: offline: ROLLBACK INTO ANOTHER ZONE: %s gave %s, was %s\n",
			       id, b->rollback_word, b->zone_after, b->zone_before);
			break;
		case MP_OFFLINE_ROLLBACK_FAILED:
			printf("memory%llu: offline: ROLLBACK FAILED: %s: %s (%s); the block stays offline\n",
			       id, b->rollback_word ? b->rollback_word : "(no zone word)",
			       strerror(-b->rollback_err), errname(b->rollback_err));
			break;
		case MP_OFFLINE_OFFLINED:
			printf("memory%llu: offline: ok (was %s) in %llu ms\n", id, b->zone_before,
			       (unsigned long long)b->write_ms);
			break;
		default:
			printf("memory%llu: offline: %s\n", id,
			       mp_offline_outcome_name(b->outcome));
			break;
		}
	}
	if (r->failed >= 0) {
		const struct mp_offline_block *f = &r->blocks[r->failed];
		unsigned long long id = (unsigned long long)f->id;

		if (f->outcome == MP_OFFLINE_NOT_TRIED && r->timed_out)
			printf("all-or-nothing: deadline of %llu ms passed before memory%llu\n",
			       (unsigned long long)r->deadline_ms, id);
		else if (f->outcome == MP_OFFLINE_NOT_TRIED)
			printf("all-or-nothing: memory%llu: %s (%s): nothing was written\n", id,
			       strerror(-f->err), errname(f->err));
		else
			printf("all-or-nothing: refused by memory%llu: %s (%s)%s\n", id,
			       errname(f->err), strerror(-f->err),
			       r->timed_out ?
				       ": the deadline interrupted the kernel's migration retries" :
				       "");
		if (f->tried) {
			printf("all-or-nothing: kernel reason: %s\n", w->reason);
			if (w->message[0])
				printf("all-or-nothing: kernel message: %s\n", w->message);
			if (r->kpf_valid)
				printf("all-or-nothing: memory%llu kpageflags: pfns %llu, slab %llu, pgtable %llu, reserved %llu, unmovable %llu, hwpoison %llu, offline %llu, lru %llu, buddy %llu, nopage %llu\n",
				       id, (unsigned long long)r->kpf.pfns,
				       (unsigned long long)r->kpf.slab,
				       (unsigned long long)r->kpf.pgtable,
				       (unsigned long long)r->kpf.reserved,
				       (unsigned long long)r->kpf.unmovable,
				       (unsigned long long)r->kpf.hwpoison,
				       (unsigned long long)r->kpf.offline,
				       (unsigned long long)r->kpf.lru,
				       (unsigned long long)r->kpf.buddy,
				       (unsigned long long)r->kpf.nopage);
			else
				printf("all-or-nothing: memory%llu kpageflags not available: %s\n",
				       id, r->kpf_error);
			if (w->nr_dumps) {
				char dump[sizeof(w->dump)], *save = NULL;

				printf("all-or-nothing: memory%llu page dump (%u seen): page dumped because: %s\n",
				       id, w->nr_dumps, w->dump_because[0] ? w->dump_because : "?");
				snprintf(dump, sizeof(dump), "%s", w->dump);
				for (char *l = strtok_r(dump, "\n", &save); l;
				     l = strtok_r(NULL, "\n", &save))
					printf("  %s\n", l);
			}
			if (w->nr_migrate_failures)
				printf("all-or-nothing: memory%llu migration failures: %u, first: %s\n",
				       id, w->nr_migrate_failures, w->migrate_line);
		}
	}
	if (r->rollback_failed)
		printf("all-or-nothing: ROLLBACK FAILED: the device is left partly offline\n");
	else if (r->err)
		printf("all-or-nothing: rolled back %u block(s): the device is as it was\n",
		       r->rolled_back);
	else
		printf("all-or-nothing: all %zu block(s) offline in %llu ms\n", r->nr,
		       (unsigned long long)r->elapsed_ms);
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
		if (json)
			drain_print_json(r);
		else
			drain_print(r);
		rc = !err ? MP_EXIT_OK : err == -ENOTRECOVERABLE ? MP_EXIT_PARTIAL : MP_EXIT_FAIL;
	}
	free(r);
	free(ids);
	mp_ctx_free(ctx);
	return rc;
}

int mp_cmd_online(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "zone", required_argument, NULL, 'z' },
		{ "timeout", required_argument, NULL, 't' },
		{ "all-or-nothing", no_argument, NULL, 'A' },
		{ "order", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "sysroot", required_argument, NULL, 'r' },
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

	while ((opt = getopt_long(argc, argv, "z:t:AJh", opts, NULL)) != -1) {
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
		case 'r':
			mp_cli.sysroot = optarg;
			break;
		case 'h':
			printf("Usage: memplugctl online [--zone movable|kernel|auto] BLOCK...\n"
			       "       memplugctl offline [--timeout SEC] BLOCK...\n"
			       "       memplugctl offline --all-or-nothing [--timeout SEC] [--order address|suspects-first] [-J] BLOCK...\n"
			       "BLOCK: memoryN, N, memoryN-M or N-M.  SEC may have a fraction (0.5).\n"
			       "Exit: 0 all, 1 none, 64 some.  --all-or-nothing: every block offline or\n"
			       "every block back in its zone under one deadline; exit 0 all offline,\n"
			       "1 refused or timed out (rolled back), 64 a rollback failed.\n");
			return MP_EXIT_OK;
		default:
			return MP_EXIT_USAGE;
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

int mp_cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "expand", no_argument, NULL, 'x' },
		{ "sysroot", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mp_ctx *ctx;
	bool expand = false;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "xh", opts, NULL)) != -1) {
		switch (opt) {
		case 'x':
			expand = true;
			break;
		case 'r':
			mp_cli.sysroot = optarg;
			break;
		case 'h':
			printf("Usage: memplugctl snapshot DIR          record hotplug state into DIR\n"
			       "       memplugctl snapshot --expand DIR expand DIR/proc/kpageflags.rle\n");
			return MP_EXIT_OK;
		default:
			return MP_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "Usage: memplugctl snapshot [--expand] DIR\n");
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
