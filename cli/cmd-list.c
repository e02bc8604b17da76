// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl list: memory blocks like lsmem, merged into ranges by the
 * columns shown, plus NODE, ZONES, DEVICE and HOLES.  Scans only what the
 * chosen columns need.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "mp-kernel.h"
#include "util.h"

enum col { C_RANGE, C_SIZE, C_STATE, C_BLOCK, C_NODE, C_ZONES, C_DEVICE, C_HOLES, C_NR };

static const struct {
	const char *name;
	const char *json;
	int width;
	bool right;
	unsigned int scan;
} cols[C_NR] = {
	[C_RANGE] = { "RANGE", "range", 37, false, 0 },
	[C_SIZE] = { "SIZE", "size", 5, true, 0 },
	[C_STATE] = { "STATE", "state", 7, true, 0 },
	[C_BLOCK] = { "BLOCK", "block", 6, true, 0 },
	[C_NODE] = { "NODE", "node", 4, true, MP_SCAN_NODES },
	[C_ZONES] = { "ZONES", "zones", 14, false, MP_SCAN_ZONES },
	[C_DEVICE] = { "DEVICE", "device", 18, false, MP_SCAN_DEVICES },
	[C_HOLES] = { "HOLES", "holes", 5, true, MP_SCAN_IOMEM },
};

struct range {
	size_t first, last; /* indexes into mem->blocks */
	uint64_t missing;
};

static int parse_columns(const char *arg, int *out, int *n)
{
	_mp_free_ char *copy = strdup(arg);
	char *save = NULL;
	bool append = false;

	if (!copy)
		return -ENOMEM;
	if (copy[0] == '+')
		append = true;
	else
		*n = 0;
	for (char *tok = strtok_r(copy + append, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int c;

		for (c = 0; c < C_NR; c++)
			if (!strcasecmp(tok, cols[c].name))
				break;
		if (c == C_NR) {
			fprintf(stderr, "memplugctl list: unknown column '%s'\n", tok);
			return -EINVAL;
		}
		if (*n == C_NR)
			return -E2BIG;
		out[(*n)++] = c;
	}
	return 0;
}

static bool shown(const int *c, int n, int col)
{
	for (int i = 0; i < n; i++)
		if (c[i] == col)
			return true;
	return false;
}

/* Two blocks merge when they are adjacent and agree on every shown column. */
static bool mergeable(const struct mp_block *a, const struct mp_block *b, const int *c, int n)
{
	if (b->id != a->id + 1 || a->state != b->state)
		return false;
	if (shown(c, n, C_NODE) && a->node != b->node)
		return false;
	if (shown(c, n, C_ZONES) && strcmp(a->zones, b->zones))
		return false;
	if (shown(c, n, C_DEVICE) &&
	    (a->dev.kind != b->dev.kind || strcmp(a->dev.name, b->dev.name)))
		return false;
	/* A block with holes always stands alone, so the hole is visible. */
	if (shown(c, n, C_HOLES) && (a->sysram_bytes != a->size || b->sysram_bytes != b->size))
		return false;
	return true;
}

static void cell(const struct mp_memory *mem, const struct range *r, int col, bool bytes, char *buf,
		 size_t len)
{
	const struct mp_block *a = &mem->blocks[r->first], *z = &mem->blocks[r->last];
	uint64_t size = (z->id - a->id + 1) * mem->geo.block_size;

	switch (col) {
	case C_RANGE:
		snprintf(buf, len, "0x%016llx-0x%016llx", (unsigned long long)a->start,
			 (unsigned long long)(z->start + z->size - 1));
		break;
	case C_SIZE:
		if (bytes)
			snprintf(buf, len, "%llu", (unsigned long long)size);
		else
			mp_format_size(size, buf, len);
		break;
	case C_STATE:
		snprintf(buf, len, "%s", mp_block_state_name(a->state));
		break;
	case C_BLOCK:
		if (a == z)
			snprintf(buf, len, "%llu", (unsigned long long)a->id);
		else
			snprintf(buf, len, "%llu-%llu", (unsigned long long)a->id,
				 (unsigned long long)z->id);
		break;
	case C_NODE:
		if (a->node < 0)
			snprintf(buf, len, "-");
		else
			snprintf(buf, len, "%d", a->node);
		break;
	case C_ZONES:
		/* Like lsmem: "Normal/Movable", so the column stays one word. */
		snprintf(buf, len, "%s", a->zones[0] ? a->zones : "-");
		for (char *p = buf; *p; p++)
			if (*p == ' ')
				*p = '/';
		break;
	case C_DEVICE:
		mp_devref_format(&a->dev, buf, len);
		break;
	case C_HOLES:
		if (!r->missing)
			snprintf(buf, len, "-");
		else if (bytes)
			snprintf(buf, len, "%llu", (unsigned long long)r->missing);
		else
			mp_format_size(r->missing, buf, len);
		break;
	}
}

static void print_json(const struct mp_memory *mem, const struct range *rs, size_t nr, const int *c,
		       int n, bool bytes, const char *source)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	uint64_t on = 0, off = 0;
	char buf[128];

	for (size_t i = 0; i < nr; i++) {
		const struct mp_block *a = &mem->blocks[rs[i].first];
		struct json_object *o = json_object_new_object();
		uint64_t size = (mem->blocks[rs[i].last].id - a->id + 1) * mem->geo.block_size;

		for (int k = 0; k < n; k++) {
			struct json_object *v;

			if (c[k] == C_NODE)
				v = a->node < 0 ? NULL : json_object_new_int(a->node);
			else if (c[k] == C_SIZE && bytes)
				v = json_object_new_uint64(size);
			else if (c[k] == C_HOLES)
				v = json_object_new_uint64(rs[i].missing);
			else {
				cell(mem, &rs[i], c[k], bytes, buf, sizeof(buf));
				v = json_object_new_string(buf);
			}
			json_object_object_add(o, cols[c[k]].json, v);
		}
		json_object_array_add(arr, o);
		if (a->state == MP_BLOCK_ONLINE)
			on += size;
		else
			off += size;
	}
	json_object_object_add(root, "memory", arr);
	json_object_object_add(root, "block_size", json_object_new_uint64(mem->geo.block_size));
	json_object_object_add(root, "online", json_object_new_uint64(on));
	json_object_object_add(root, "offline", json_object_new_uint64(off));
	json_object_object_add(root, "auto_online_blocks",
			       json_object_new_string(mem->auto_online));
	json_object_object_add(root, "source", json_object_new_string(source));
	printf("%s\n", json_object_to_json_string_ext(
			       root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/*
 * The daemon's model: the blocks of memplugd's latest scan, which it reads
 * safely (see mp_memory_scan() on valid_zones) after every event burst.
 * Return: 0, -ENOENT when no daemon answers, -EPROTO for a bad answer.
 */
static int load_from_daemon(const char *sock, struct mp_memory **out)
{
	struct json_object *root = NULL, *blocks, *v;
	_mp_free_ char *answer = NULL;
	struct mp_memory *mem;
	int err;

	err = mp_cli_ask_daemon(sock, "{\"command\":\"list\"}\n", 2000, &answer);
	if (err == -ENOENT || err == -ECONNREFUSED)
		return -ENOENT;
	if (err) {
		fprintf(stderr, "memplugctl list: %s: %s; reading sysfs instead\n", sock,
			strerror(-err));
		return err;
	}
	root = json_tokener_parse(answer);
	if (!root || !json_object_object_get_ex(root, "blocks", &blocks) ||
	    !json_object_is_type(blocks, json_type_array) ||
	    !json_object_object_get_ex(root, "block_size", &v)) {
		fprintf(stderr, "memplugctl list: %s: unexpected answer; reading sysfs instead\n",
			sock);
		json_object_put(root);
		return -EPROTO;
	}
	/* A daemon reading a fixture (tests) does not describe this machine. */
	if (json_object_object_get_ex(root, "sysroot", &v) && json_object_get_string_len(v)) {
		json_object_put(root);
		return -ENOENT;
	}
	json_object_object_get_ex(root, "block_size", &v);
	mem = calloc(1, sizeof(*mem));
	if (!mem) {
		json_object_put(root);
		return -ENOMEM;
	}
	mem->geo = (struct mp_geometry){ MP_PAGE_SIZE, MP_SUBSECTION_SIZE, MP_SECTION_SIZE,
					 (uint64_t)json_object_get_int64(v) };
	mem->nr = json_object_array_length(blocks);
	mem->blocks = calloc(mem->nr ? mem->nr : 1, sizeof(*mem->blocks));
	if (!mem->blocks || !mem->geo.block_size) {
		mp_memory_free(mem);
		json_object_put(root);
		return -EPROTO;
	}
	for (size_t i = 0; i < mem->nr; i++) {
		struct json_object *o = json_object_array_get_idx(blocks, i), *f;
		struct mp_block *b = &mem->blocks[i];

		b->id = json_object_object_get_ex(o, "id", &f) ?
				(uint64_t)json_object_get_int64(f) :
				0;
		b->start = mp_block_to_addr(&mem->geo, b->id);
		b->size = mem->geo.block_size;
		b->state = mp_block_state_parse(
			json_object_object_get_ex(o, "state", &f) ? json_object_get_string(f) : "");
		b->node = json_object_object_get_ex(o, "node", &f) ? json_object_get_int(f) : -1;
		if (json_object_object_get_ex(o, "zones", &f))
			snprintf(b->zones, sizeof(b->zones), "%s", json_object_get_string(f));
		if (json_object_object_get_ex(o, "device", &f))
			mp_devref_parse(json_object_get_string(f), &b->dev);
		b->sysram_bytes = json_object_object_get_ex(o, "system_ram_bytes", &f) ?
					  (uint64_t)json_object_get_int64(f) :
					  b->size;
	}
	json_object_put(root);
	*out = mem;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memplugctl list [-a] [-b] [-J] [-n] [-o COLUMNS] [--sysroot DIR]\n"
		"  -a, --all          one line per block\n"
		"  -b, --bytes        sizes in bytes\n"
		"  -J, --json         JSON output\n"
		"  -n, --noheadings   no header line\n"
		"  -o, --output LIST  columns (+LIST appends): RANGE SIZE STATE BLOCK NODE ZONES DEVICE HOLES\n"
		"      --summary=never|only|always\n"
		"      --direct       read sysfs even when memplugd runs\n"
		"      --socket PATH  memplugd's control socket (default " MP_DAEMON_SOCKET ")\n"
		"Without --sysroot, blocks come from memplugd's model when it runs: it reads\n"
		"valid_zones only where 6.1 can't oops the reader during an eject.\n");
}

int mp_cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "sysroot", required_argument, NULL, 'r' },
		{ "summary", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "direct", no_argument, NULL, 'D' },
		{ "socket", required_argument, NULL, 'S' },
		{ 0 },
	};
	int c[C_NR] = { C_RANGE, C_SIZE, C_STATE, C_BLOCK, C_NODE, C_ZONES, C_DEVICE, C_HOLES };
	int n = C_NR, opt, err;
	bool all = false, bytes = false, json = false, headings = true, direct = false;
	const char *sock = MP_DAEMON_SOCKET, *source = "sysfs";
	const char *summary = "always";
	struct mp_memory *mem = NULL;
	struct mp_ctx *ctx = NULL;
	struct range *rs = NULL;
	unsigned int flags = 0;
	uint64_t on = 0, off = 0;
	size_t nr = 0;

	while ((opt = getopt_long(argc, argv, "abJno:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			all = true;
			break;
		case 'b':
			bytes = true;
			break;
		case 'J':
			json = true;
			break;
		case 'n':
			headings = false;
			break;
		case 'o':
			if (parse_columns(optarg, c, &n))
				return MP_EXIT_USAGE;
			break;
		case 'r':
			mp_cli.sysroot = optarg;
			break;
		case 's':
			summary = optarg;
			break;
		case 'D':
			direct = true;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return MP_EXIT_OK;
		default:
			usage(stderr);
			return MP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return MP_EXIT_USAGE;
	}
	for (int i = 0; i < n; i++)
		flags |= cols[c[i]].scan;
	err = mp_cli_ctx(&ctx);
	if (err)
		return MP_EXIT_FAIL;
	/* A sysroot is a snapshot or a test root: never mix in the live daemon. */
	if (!direct && !mp_cli.sysroot && !getenv("MEMPLUG_SYSROOT") &&
	    load_from_daemon(sock, &mem) == 0)
		source = "memplugd";
	else
		mem = NULL;
	err = mem ? 0 : mp_memory_scan(ctx, flags, &mem);
	if (err)
		goto out;
	rs = calloc(mem->nr ? mem->nr : 1, sizeof(*rs));
	if (!rs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < mem->nr; i++) {
		const struct mp_block *b = &mem->blocks[i];
		uint64_t missing = (flags & MP_SCAN_IOMEM) ? b->size - b->sysram_bytes : 0;

		if (!all && nr && mergeable(&mem->blocks[rs[nr - 1].last], b, c, n)) {
			rs[nr - 1].last = i;
			rs[nr - 1].missing += missing;
		} else {
			rs[nr].first = rs[nr].last = i;
			rs[nr].missing = missing;
			nr++;
		}
		if (b->state == MP_BLOCK_ONLINE)
			on += b->size;
		else
			off += b->size;
	}
	if (json) {
		print_json(mem, rs, nr, c, n, bytes, source);
		goto out;
	}
	if (strcmp(summary, "only")) {
		char line[512], buf[128];

		if (headings) {
			size_t p = 0;

			for (int k = 0; k < n; k++)
				p += (size_t)snprintf(
					line + p, sizeof(line) - p, "%s%*s", k ? " " : "",
					cols[c[k]].right ? cols[c[k]].width : -cols[c[k]].width,
					cols[c[k]].name);
			while (p && line[p - 1] == ' ')
				line[--p] = '\0';
			puts(line);
		}
		for (size_t i = 0; i < nr; i++) {
			size_t p = 0;

			for (int k = 0; k < n; k++) {
				cell(mem, &rs[i], c[k], bytes, buf, sizeof(buf));
				p += (size_t)snprintf(
					line + p, sizeof(line) - p, "%s%*s", k ? " " : "",
					cols[c[k]].right ? cols[c[k]].width : -cols[c[k]].width,
					buf);
				if (p >= sizeof(line))
					p = sizeof(line) - 1;
			}
			while (p && line[p - 1] == ' ')
				line[--p] = '\0';
			puts(line);
		}
	}
	if (strcmp(summary, "never")) {
		char buf[32];

		if (strcmp(summary, "only"))
			putchar('\n');
		printf("Memory block size:  %8s\n",
		       bytes ? (snprintf(buf, sizeof(buf), "%llu",
					 (unsigned long long)mem->geo.block_size),
				buf) :
			       mp_format_size(mem->geo.block_size, buf, sizeof(buf)));
		printf("Total online memory:  %6s\n",
		       bytes ? (snprintf(buf, sizeof(buf), "%llu", (unsigned long long)on), buf) :
			       mp_format_size(on, buf, sizeof(buf)));
		printf("Total offline memory: %6s\n",
		       bytes ? (snprintf(buf, sizeof(buf), "%llu", (unsigned long long)off), buf) :
			       mp_format_size(off, buf, sizeof(buf)));
		if (mem->auto_online[0] && strcmp(mem->auto_online, "offline"))
			printf("Kernel auto-online:   %s\n", mem->auto_online);
		if (strcmp(source, "sysfs"))
			printf("Source:               %s (%s)\n", source, sock);
	}
out:
	free(rs);
	mp_memory_free(mem);
	mp_ctx_free(ctx);
	return err ? MP_EXIT_FAIL : MP_EXIT_OK;
}
