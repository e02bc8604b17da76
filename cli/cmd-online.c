// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl online|offline: change block states by hand, one result line per
 * block with the kernel's errno, the state re-read afterwards and the rules'
 * prediction next to it.  Exit codes like chmem: 0 all, 1 none, 64 some.
 *
 * memplugctl snapshot: record a fixture / bug-report directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
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

int mp_cmd_online(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "zone", required_argument, NULL, 'z' },
		{ "timeout", required_argument, NULL, 't' },
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
	uint64_t timeout_s = 120;
	int opt;

	while ((opt = getopt_long(argc, argv, "z:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'z':
			zone = optarg;
			break;
		case 't':
			if (mp_parse_u64(optarg, 10, &timeout_s) || timeout_s > 86400) {
				fprintf(stderr, "memplugctl %s: bad --timeout '%s' (seconds)\n",
					argv[0], optarg);
				return MP_EXIT_USAGE;
			}
			break;
		case 'r':
			mp_cli.sysroot = optarg;
			break;
		case 'h':
			printf("Usage: memplugctl online [--zone movable|kernel|auto] BLOCK...\n"
			       "       memplugctl offline [--timeout SEC] BLOCK...\n"
			       "BLOCK: memoryN, N, memoryN-M or N-M.  Exit: 0 all, 1 none, 64 some.\n");
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
			err = mp_block_write_state(ctx, id, word,
						   online ? 0 : (int)(timeout_s * 1000));
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
					printf("memory%llu: offline interrupted after %llus: the kernel kept retrying migration\n",
					       (unsigned long long)id,
					       (unsigned long long)timeout_s);
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
