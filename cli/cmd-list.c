// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl list: memory blocks like lsmem, merged into ranges by the
 * columns shown (or --split), plus NODE, ZONES, DEVICE and HOLES.  Scans
 * only what the chosen columns need.
 *
 * lsmem's interface, so its users' habits work: -o LIST / -o +LIST,
 * --output-all, -r, -P, -J, -n, -a, -b, -S/--split, --summary[=WHEN],
 * -s/--sysroot, the REMOVABLE and MEMMAP-ON-MEMORY columns.  It answers
 * wherever lsmem does: without /proc/iomem and as a plain user the two
 * columns that need iomem show "?" and one line says why.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "mp-kernel.h"
#include "util.h"

enum col {
	C_RANGE,
	C_SIZE,
	C_STATE,
	C_REMOVABLE,
	C_BLOCK,
	C_NODE,
	C_ZONES,
	C_DEVICE,
	C_HOLES,
	C_MEMMAP,
	C_NR
};

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
	[C_REMOVABLE] = { "REMOVABLE", "removable", 9, true, MP_SCAN_REMOVABLE },
	[C_BLOCK] = { "BLOCK", "block", 6, true, 0 },
	[C_NODE] = { "NODE", "node", 4, true, MP_SCAN_NODES },
	[C_ZONES] = { "ZONES", "zones", 14, false, MP_SCAN_ZONES },
	[C_DEVICE] = { "DEVICE", "device", 18, false, MP_SCAN_DEVICES },
	[C_HOLES] = { "HOLES", "holes", 5, true, MP_SCAN_IOMEM },
	[C_MEMMAP] = { "MEMMAP-ON-MEMORY", "memmap-on-memory", 16, true, MP_SCAN_MEMMAP },
};

static const int default_cols[] = { C_RANGE, C_SIZE,  C_STATE,	C_BLOCK,
				    C_NODE,  C_ZONES, C_DEVICE, C_HOLES };

/* Like lsmem's columns[]: each column may be asked for twice. */
#define MAX_COLS (2 * C_NR)

enum fmt { F_TABLE, F_RAW, F_PAIRS, F_JSON };

struct range {
	size_t first, last; /* indexes into mem->blocks */
	uint64_t missing;
};

struct list_opts {
	int c[MAX_COLS];
	int n;
	bool split[C_NR];
	bool split_given;
	bool all, bytes, headings;
	enum fmt fmt;
	bool no_iomem; /* iomem needed and unreadable: DEVICE/HOLES are "?" */
};

static int column_id(const char *name)
{
	for (int c = 0; c < C_NR; c++)
		if (!strcasecmp(name, cols[c].name))
			return c;
	return -1;
}

/* "A,B" replaces the list, "+A,B" appends to it (lsmem's string_add_to_idarray()). */
static int parse_columns(const char *arg, int *out, int *n, int max)
{
	_mp_free_ char *copy = strdup(arg);
	char *save = NULL;
	bool append = arg[0] == '+';

	if (!copy)
		return -ENOMEM;
	if (!append)
		*n = 0;
	for (char *tok = strtok_r(copy + append, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int c = column_id(tok);

		if (c < 0) {
			fprintf(stderr, "memplugctl list: unknown column: %s\n", tok);
			return -EINVAL;
		}
		if (*n == max) {
			fprintf(stderr, "memplugctl list: too many columns, the limit is %d\n",
				max);
			return -E2BIG;
		}
		out[(*n)++] = c;
	}
	if (!*n) {
		fprintf(stderr, "memplugctl list: no columns in '%s'\n", arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_split(const char *arg, bool *split)
{
	int c[MAX_COLS], n = 0;

	memset(split, 0, C_NR * sizeof(*split));
	if (!strcasecmp(arg, "none"))
		return 0;
	if (parse_columns(arg, c, &n, MAX_COLS))
		return -EINVAL;
	for (int i = 0; i < n; i++)
		split[c[i]] = true;
	return 0;
}

static bool shown(const struct list_opts *o, int col)
{
	for (int i = 0; i < o->n; i++)
		if (o->c[i] == col)
			return true;
	return false;
}

/* Two blocks merge when they are adjacent and agree on every split column. */
static bool mergeable(const struct mp_block *a, const struct mp_block *b, const struct list_opts *o)
{
	if (b->id != a->id + 1)
		return false;
	if (o->split[C_STATE] && a->state != b->state)
		return false;
	if (o->split[C_REMOVABLE] && a->removable != b->removable)
		return false;
	if (o->split[C_NODE] && !mp_block_same_nodes(a, b))
		return false;
	if (o->split[C_ZONES] && strcmp(a->zones, b->zones))
		return false;
	if (o->split[C_DEVICE] && (a->dev.kind != b->dev.kind || strcmp(a->dev.name, b->dev.name)))
		return false;
	/* A block with holes always stands alone, so the hole is visible. */
	if (o->split[C_HOLES] && !o->no_iomem &&
	    (a->sysram_bytes != a->size || b->sysram_bytes != b->size))
		return false;
	if (o->split[C_MEMMAP] && a->memmap_on_memory != b->memmap_on_memory)
		return false;
	return true;
}

static const char *yes_no(int v)
{
	return v < 0 ? "-" : v ? "yes" : "no";
}

static void cell(const struct mp_memory *mem, const struct range *r, int col,
		 const struct list_opts *o, char *buf, size_t len)
{
	const struct mp_block *a = &mem->blocks[r->first], *z = &mem->blocks[r->last];
	uint64_t size = (z->id - a->id + 1) * mem->geo.block_size;

	switch (col) {
	case C_RANGE:
		snprintf(buf, len, "0x%016llx-0x%016llx", (unsigned long long)a->start,
			 (unsigned long long)(z->start + z->size - 1));
		break;
	case C_SIZE:
		if (o->bytes)
			snprintf(buf, len, "%llu", (unsigned long long)size);
		else
			mp_format_size(size, buf, len);
		break;
	case C_STATE:
		snprintf(buf, len, "%s", mp_block_state_name(a->state));
		break;
	case C_REMOVABLE:
		/* lsmem shows it for online blocks only: empty otherwise. */
		snprintf(buf, len, "%s",
			 a->state == MP_BLOCK_ONLINE && a->removable >= 0 ? yes_no(a->removable) :
									    "");
		break;
	case C_BLOCK:
		if (a == z)
			snprintf(buf, len, "%llu", (unsigned long long)a->id);
		else
			snprintf(buf, len, "%llu-%llu", (unsigned long long)a->id,
				 (unsigned long long)z->id);
		break;
	case C_NODE:
		/* lsmem prints the first nodeN its readdir meets; we print them all. */
		mp_block_format_nodes(a, buf, len);
		break;
	case C_ZONES:
		/* Like lsmem: "Normal/Movable", so the column stays one word. */
		snprintf(buf, len, "%s", a->zones[0] ? a->zones : "-");
		for (char *p = buf; *p; p++)
			if (*p == ' ')
				*p = '/';
		break;
	case C_DEVICE:
		/* A DIMM is known from firmware_node; boot, kmem, virtio-mem need iomem. */
		if (o->no_iomem && a->dev.kind == MP_DEV_UNKNOWN)
			snprintf(buf, len, "?");
		else
			mp_devref_format(&a->dev, buf, len);
		break;
	case C_HOLES:
		if (o->no_iomem)
			snprintf(buf, len, "?");
		else if (!r->missing)
			snprintf(buf, len, "-");
		else if (o->bytes)
			snprintf(buf, len, "%llu", (unsigned long long)r->missing);
		else
			mp_format_size(r->missing, buf, len);
		break;
	case C_MEMMAP:
		snprintf(buf, len, "%s", yes_no(a->memmap_on_memory));
		break;
	}
}

static struct json_object *json_cell(const struct mp_memory *mem, const struct range *r, int col,
				     const struct list_opts *o)
{
	const struct mp_block *a = &mem->blocks[r->first];
	uint64_t size = (mem->blocks[r->last].id - a->id + 1) * mem->geo.block_size;
	char buf[128];

	switch (col) {
	case C_NODE:
		/* One node: its number; none or several: null, "nodes" has them all. */
		return a->nr_nodes == 1 ? json_object_new_int(a->node) : NULL;
	case C_SIZE:
		if (o->bytes)
			return json_object_new_uint64(size);
		break;
	case C_HOLES:
		return o->no_iomem ? NULL : json_object_new_uint64(r->missing);
	case C_REMOVABLE:
		if (a->state != MP_BLOCK_ONLINE || a->removable < 0)
			return NULL;
		return json_object_new_boolean(a->removable);
	case C_MEMMAP:
		return a->memmap_on_memory < 0 ? NULL :
						 json_object_new_boolean(a->memmap_on_memory);
	case C_DEVICE:
		if (o->no_iomem && a->dev.kind == MP_DEV_UNKNOWN)
			return NULL;
		break;
	}
	cell(mem, r, col, o, buf, sizeof(buf));
	return json_object_new_string(buf);
}

static void print_json(const struct mp_memory *mem, const struct range *rs, size_t nr,
		       const struct list_opts *o, const char *source)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	uint64_t on = 0, off = 0;

	for (size_t i = 0; i < nr; i++) {
		const struct mp_block *a = &mem->blocks[rs[i].first];
		struct json_object *row = json_object_new_object();

		for (int k = 0; k < o->n; k++) {
			json_object_object_add(row, cols[o->c[k]].json,
					       json_cell(mem, &rs[i], o->c[k], o));
			if (o->c[k] == C_NODE) {
				struct json_object *ns = json_object_new_array();

				for (int j = 0; j < MP_MIN(a->nr_nodes, MP_BLOCK_MAX_NODES); j++)
					json_object_array_add(ns, json_object_new_int(a->nodes[j]));
				json_object_object_add(row, "nodes", ns);
			}
		}
		json_object_array_add(arr, row);
	}
	for (size_t i = 0; i < mem->nr; i++) {
		if (mem->blocks[i].state == MP_BLOCK_ONLINE)
			on += mem->blocks[i].size;
		else
			off += mem->blocks[i].size;
	}
	json_object_object_add(root, "memory", arr);
	json_object_object_add(root, "block_size", json_object_new_uint64(mem->geo.block_size));
	json_object_object_add(root, "online", json_object_new_uint64(on));
	json_object_object_add(root, "offline", json_object_new_uint64(off));
	json_object_object_add(root, "auto_online_blocks",
			       json_object_new_string(mem->auto_online));
	json_object_object_add(root, "source", json_object_new_string(source));
	if (o->no_iomem)
		json_object_object_add(root, "iomem_unavailable",
				       json_object_new_string(mem->iomem_why));
	printf("%s\n", json_object_to_json_string_ext(
			       root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/* libsmartcols' raw encoding: bytes that would break the line become \xHH. */
static void put_raw(const char *s)
{
	for (; *s; s++) {
		if (*s == ' ' || *s == '\\' || *s == '"' || (unsigned char)*s < 0x20)
			printf("\\x%02x", (unsigned char)*s);
		else
			putchar(*s);
	}
}

static void print_rows(const struct mp_memory *mem, const struct range *rs, size_t nr,
		       const struct list_opts *o)
{
	char line[1024], buf[128];

	if (o->headings) {
		size_t p = 0;

		for (int k = 0; k < o->n; k++) {
			const char *name = cols[o->c[k]].name;

			if (o->fmt == F_TABLE)
				p += (size_t)snprintf(line + p, sizeof(line) - p, "%s%*s",
						      k ? " " : "",
						      cols[o->c[k]].right ? cols[o->c[k]].width :
									    -cols[o->c[k]].width,
						      name);
			else if (o->fmt == F_RAW)
				p += (size_t)snprintf(line + p, sizeof(line) - p, "%s%s",
						      k ? " " : "", name);
			if (p >= sizeof(line))
				p = sizeof(line) - 1;
		}
		if (o->fmt != F_PAIRS) {
			while (p && line[p - 1] == ' ')
				line[--p] = '\0';
			puts(line);
		}
	}
	for (size_t i = 0; i < nr; i++) {
		size_t p = 0;

		for (int k = 0; k < o->n; k++) {
			cell(mem, &rs[i], o->c[k], o, buf, sizeof(buf));
			if (o->fmt == F_RAW) {
				if (k)
					putchar(' ');
				put_raw(buf);
				continue;
			}
			if (o->fmt == F_PAIRS) {
				printf("%s%s=\"", k ? " " : "", cols[o->c[k]].name);
				for (const char *s = buf; *s; s++) {
					if (*s == '"' || *s == '\\' || *s == '`' || *s == '$')
						putchar('\\');
					putchar(*s);
				}
				putchar('"');
				continue;
			}
			p += (size_t)snprintf(line + p, sizeof(line) - p, "%s%*s", k ? " " : "",
					      cols[o->c[k]].right ? cols[o->c[k]].width :
								    -cols[o->c[k]].width,
					      buf);
			if (p >= sizeof(line))
				p = sizeof(line) - 1;
		}
		if (o->fmt != F_TABLE) {
			putchar('\n');
			continue;
		}
		while (p && line[p - 1] == ' ')
			line[--p] = '\0';
		puts(line);
	}
}

static void print_summary(const struct mp_memory *mem, uint64_t on, uint64_t off,
			  const struct list_opts *o, const char *source, const char *sock)
{
	const char *names[] = { "Memory block size:", "Total online memory:",
				"Total offline memory:" };
	uint64_t vals[] = { mem->geo.block_size, on, off };
	char buf[32];

	/* lsmem's print_summary() layout, so scripts that cut it keep working. */
	for (int i = 0; i < 3; i++) {
		if (o->bytes)
			printf("%-23s %15llu\n", names[i], (unsigned long long)vals[i]);
		else
			printf("%-23s %5s\n", names[i], mp_format_size(vals[i], buf, sizeof(buf)));
	}
	if (mem->auto_online[0] && strcmp(mem->auto_online, "offline"))
		printf("%-23s %s\n", "Kernel auto-online:", mem->auto_online);
	if (strcmp(source, "sysfs"))
		printf("%-23s %s (%s)\n", "Source:", source, sock);
}

/* Do two sysroots ("" for the running system) name the same directory? */
static bool same_root(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (!a[0] || !b[0])
		return !a[0] && !b[0];
	return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/*
 * The daemon's model: the blocks of memplugd's latest scan, which it reads
 * safely (see mp_block_zones_readable()) after every event burst.
 * Return: 0, -ENOENT when no daemon answers or it reads another root,
 * -EPROTO for a bad answer (said on stderr), or -errno.
 */
static int load_from_daemon(const char *sock, const char *sysroot, struct mp_memory **out)
{
	struct json_object *root, *v;
	_mp_free_ char *answer = NULL;
	int err;

	/* The compact form: a handful of runs to parse, not an object per block. */
	err = mp_cli_ask_daemon(sock, "{\"command\":\"list\",\"form\":\"runs\"}\n", 2000, &answer);
	if (err == -ENOENT || err == -ECONNREFUSED)
		return -ENOENT;
	if (err) {
		fprintf(stderr, "memplugctl list: %s: %s; reading sysfs instead\n", sock,
			strerror(-err));
		return err;
	}
	root = json_tokener_parse(answer);
	if (!root) {
		fprintf(stderr, "memplugctl list: %s: answer is not JSON; reading sysfs instead\n",
			sock);
		return -EPROTO;
	}
	/*
	 * A daemon reading a fixture (tests) does not describe this machine;
	 * asked with --sysroot and --socket, one reading that same root does.
	 */
	if (json_object_object_get_ex(root, "sysroot", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    !same_root(json_object_get_string(v), sysroot)) {
		json_object_put(root);
		return -ENOENT;
	}
	err = mp_memory_from_json(root, sock, out);
	json_object_put(root);
	if (err == -EPROTO)
		fprintf(stderr, "memplugctl list: %s: bad answer; reading sysfs instead\n", sock);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memplugctl list [options]\n"
		"  -a, --all            one line per block\n"
		"  -b, --bytes          sizes in bytes\n"
		"  -J, --json           JSON output\n"
		"  -P, --pairs          key=\"value\" output\n"
		"  -r, --raw            raw output (space separated, no alignment)\n"
		"  -n, --noheadings     no header line\n"
		"  -o, --output LIST    columns; +LIST appends to the default\n"
		"      --output-all     every column\n"
		"  -S, --split LIST     merge ranges only across blocks equal in LIST (or none)\n"
		"  -s, --sysroot DIR    read DIR/sys and DIR/proc\n"
		"      --summary[=WHEN] never, always or only (no WHEN: only)\n"
		"      --direct         read sysfs even when memplugd runs\n"
		"      --socket PATH    memplugd's control socket (default " MP_DAEMON_SOCKET ");\n"
		"                       with --sysroot: ask it if it reads the same root\n"
		"Columns: RANGE SIZE STATE REMOVABLE BLOCK NODE ZONES DEVICE HOLES MEMMAP-ON-MEMORY\n"
		"  (default RANGE,SIZE,STATE,BLOCK,NODE,ZONES,DEVICE,HOLES)\n"
		"Without --sysroot, blocks come from memplugd's model when it runs: it reads\n"
		"valid_zones only where 6.1 can't oops the reader during an eject.\n");
}

enum { OPT_SUMMARY = 0x100, OPT_DIRECT, OPT_SOCKET, OPT_OUTPUT_ALL };

int mp_cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'J' },
		{ "pairs", no_argument, NULL, 'P' },
		{ "raw", no_argument, NULL, 'r' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "output-all", no_argument, NULL, OPT_OUTPUT_ALL },
		{ "split", required_argument, NULL, 'S' },
		{ "sysroot", required_argument, NULL, 's' },
		{ "summary", optional_argument, NULL, OPT_SUMMARY },
		{ "help", no_argument, NULL, 'h' },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ 0 },
	};
	struct list_opts o = { .headings = true, .fmt = F_TABLE };
	const char *sock = MP_DAEMON_SOCKET, *source = "sysfs", *split_arg = NULL, *sysroot;
	bool want_table = true, want_summary = true, direct = false, sock_given = false;
	char fmt_opt = 0;
	struct mp_memory *mem = NULL;
	struct mp_ctx *ctx = NULL;
	struct range *rs = NULL;
	unsigned int flags = 0;
	uint64_t on = 0, off = 0;
	size_t nr = 0;
	int opt, err;

	o.n = (int)MP_ARRAY_SIZE(default_cols);
	memcpy(o.c, default_cols, sizeof(default_cols));
	while ((opt = mp_cli_getopt(argc, argv, "abJPrno:S:s:h", opts, usage)) != -1) {
		switch (opt) {
		case 'a':
			o.all = true;
			break;
		case 'b':
			o.bytes = true;
			break;
		case 'J':
		case 'P':
		case 'r':
			/* lsmem: -J, -P and -r exclude each other and drop the summary. */
			if (fmt_opt && fmt_opt != opt) {
				fprintf(stderr,
					"memplugctl list: -%c and -%c are mutually exclusive\n",
					fmt_opt, opt);
				return MP_EXIT_USAGE;
			}
			fmt_opt = (char)opt;
			o.fmt = opt == 'J' ? F_JSON : opt == 'P' ? F_PAIRS : F_RAW;
			want_summary = false;
			break;
		case 'n':
			o.headings = false;
			break;
		case 'o':
			if (parse_columns(optarg, o.c, &o.n, MAX_COLS))
				return MP_EXIT_USAGE;
			break;
		case OPT_OUTPUT_ALL:
			for (o.n = 0; o.n < C_NR; o.n++)
				o.c[o.n] = o.n;
			break;
		case 'S':
			split_arg = optarg;
			break;
		case 's':
			mp_cli.sysroot = optarg;
			break;
		case OPT_SUMMARY:
			if (!optarg || !strcmp(optarg, "only")) {
				want_table = false;
				want_summary = true;
			} else if (!strcmp(optarg, "never")) {
				want_summary = false;
			} else if (!strcmp(optarg, "always")) {
				want_summary = true;
			} else {
				fprintf(stderr,
					"memplugctl list: --summary=%s: expected never, always or only\n",
					optarg);
				return MP_EXIT_USAGE;
			}
			break;
		case OPT_DIRECT:
			direct = true;
			break;
		case OPT_SOCKET:
			sock = optarg;
			sock_given = true;
			break;
		default:
			break; /* -h and bad options: mp_cli_getopt() */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "memplugctl list: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return MP_EXIT_USAGE;
	}
	if (split_arg && o.all) {
		fprintf(stderr, "memplugctl list: --split and --all are mutually exclusive\n");
		return MP_EXIT_USAGE;
	}
	if (split_arg) {
		if (parse_split(split_arg, o.split))
			return MP_EXIT_USAGE;
		o.split_given = true;
	} else {
		/* Like lsmem: ranges split by the columns shown. */
		for (int i = 0; i < o.n; i++)
			o.split[o.c[i]] = true;
	}
	for (int i = 0; i < o.n; i++)
		flags |= cols[o.c[i]].scan;
	for (int c = 0; c < C_NR; c++)
		if (o.split[c])
			flags |= cols[c].scan;
	/* A plain user or a dump without proc/: every other column stays exact. */
	flags |= MP_SCAN_IOMEM_OPTIONAL;
	err = mp_cli_ctx(&ctx);
	if (err)
		return MP_EXIT_FAIL;
	/*
	 * A sysroot is a snapshot or a test root: never mix in the live daemon,
	 * only a daemon named with --socket that reads the same root (bench).
	 * Its model has no REMOVABLE / MEMMAP-ON-MEMORY: read sysfs for those.
	 */
	sysroot = mp_cli.sysroot ? mp_cli.sysroot : getenv("MEMPLUG_SYSROOT");
	if (!direct && (!sysroot || sock_given) &&
	    !(flags & (MP_SCAN_REMOVABLE | MP_SCAN_MEMMAP)) &&
	    load_from_daemon(sock, sysroot ? sysroot : "", &mem) == 0)
		source = "memplugd";
	else
		mem = NULL;
	err = mem ? 0 : mp_memory_scan(ctx, flags, &mem);
	if (err) {
		fprintf(stderr, "memplugctl list: cannot read the memory blocks: %s\n",
			strerror(-err));
		goto out;
	}
	o.no_iomem = mem->iomem_why[0] && (flags & MP_SCAN_IOMEM);
	rs = calloc(mem->nr ? mem->nr : 1, sizeof(*rs));
	if (!rs) {
		err = -ENOMEM;
		fprintf(stderr, "memplugctl list: %s\n", strerror(-err));
		goto out;
	}
	for (size_t i = 0; i < mem->nr; i++) {
		const struct mp_block *b = &mem->blocks[i];
		uint64_t missing = (flags & MP_SCAN_IOMEM) && !o.no_iomem ?
					   b->size - MP_MIN(b->sysram_bytes, b->size) :
					   0;

		if (!o.all && nr && mergeable(&mem->blocks[rs[nr - 1].last], b, &o)) {
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
	if (o.fmt == F_JSON) {
		print_json(mem, rs, nr, &o, source);
		goto out;
	}
	if (o.no_iomem && (shown(&o, C_DEVICE) || shown(&o, C_HOLES)))
		fprintf(stderr, "memplugctl list: %s%s%s shown as '?': %s\n",
			shown(&o, C_DEVICE) ? "DEVICE (boot, kmem, virtio-mem)" : "",
			shown(&o, C_DEVICE) && shown(&o, C_HOLES) ? " and " : "",
			shown(&o, C_HOLES) ? "HOLES" : "", mem->iomem_why);
	if (want_table)
		print_rows(mem, rs, nr, &o);
	if (want_summary) {
		if (want_table)
			putchar('\n');
		print_summary(mem, on, off, &o, source, sock);
	}
out:
	free(rs);
	mp_memory_free(mem);
	mp_ctx_free(ctx);
	return err ? MP_EXIT_FAIL : MP_EXIT_OK;
}
