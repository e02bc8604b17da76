// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * One policy file: systemd-style INI with the sections [Match], [Online],
 * [Dax] and [Grow] (guest-wide growth on memory pressure, not matched
 * against devices).  The parser never stops at the first problem: every line is looked
 * at and every problem recorded, so one `memplugctl policy check` run shows
 * all of them (OpenBSD ntpd's habit).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy-internal.h"
#include "util.h"

enum section {
	SEC_NONE = 0, /* before the first header */
	SEC_MATCH,
	SEC_ONLINE,
	SEC_DAX,
	SEC_GROW,
	SEC_UNKNOWN, /* keys below an unknown header are not reported again */
	SEC_COUNT,
};

static const char *const section_names[SEC_COUNT] = {
	[SEC_MATCH] = "Match",
	[SEC_ONLINE] = "Online",
	[SEC_DAX] = "Dax",
	[SEC_GROW] = "Grow",
};

enum key {
	KEY_KIND,
	KEY_NODE,
	KEY_SIZE,
	KEY_ADDRESS,
	KEY_DEVICE,
	KEY_ONLINE,
	KEY_ZONE,
	KEY_MOVABLE_RATIO,
	KEY_VERIFY,
	KEY_MODE,
	KEY_PRESSURE,
	KEY_STALL,
	KEY_WINDOW,
	KEY_STEP,
	KEY_CEILING,
	KEY_COOLDOWN,
	KEY_GROW_NODE,
	KEY_COUNT,
};

#define REASON_LEN 200

typedef int (*parse_fn)(struct mp_policy *p, char *val, char *reason);

struct key_def {
	const char *name;
	enum section sec;
	bool multi; /* may be repeated; the values add up */
	parse_fn parse;
};

struct parser {
	const char *path;
	struct mp_policy_errors *errs;
	struct mp_policy *p;
	unsigned int nerr; /* problems in this file */
	unsigned int sec_line[SEC_COUNT];
	unsigned int key_line[KEY_COUNT];
	bool bad_header; /* an unknown or malformed [header] was reported */
};

static void perr(struct parser *ps, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parser *ps, unsigned int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mp_policy_errors_add(ps->errs, ps->path, line, "%s", msg);
	ps->nerr++;
}

/* Split @s in place at any character of @sep; empty tokens are skipped. */
static char *next_token(char **s, const char *sep)
{
	char *tok;

	*s += strspn(*s, sep);
	if (!**s)
		return NULL;
	tok = *s;
	*s += strcspn(*s, sep);
	if (**s)
		*(*s)++ = '\0';
	return tok;
}

/*
 * A size or address: decimal with an optional K/M/G/T unit, or hex with 0x.
 * mp_parse_size() would read "010" as octal 8; nobody means that in a
 * policy, so it is refused instead of silently misread.
 */
static int parse_bytes(const char *s, uint64_t *out)
{
	if (s[0] == '0' && isdigit((unsigned char)s[1]))
		return -EINVAL;
	return mp_parse_size(s, out);
}

static int parse_kind(struct mp_policy *p, char *val, char *reason)
{
	unsigned int mask = 0;
	char *tok;

	while ((tok = next_token(&val, ", \t"))) {
		int bit = strcmp(tok, "any") ?
				  mp_policy_word_parse(MP_WORDS_KIND, tok, reason, REASON_LEN) :
				  (int)MP_POLICY_KIND_ANY;

		if (bit < 0) {
			snprintf(reason, REASON_LEN,
				 "'%s' is not one of dimm, nvdimm, dax, virtio-mem, boot, any",
				 tok);
			return -EINVAL;
		}
		mask |= (unsigned int)bit;
	}
	p->has_kind = true;
	p->kinds = mask;
	return 0;
}

static int parse_node(struct mp_policy *p, char *val, char *reason)
{
	uint64_t nodes[MP_NODE_WORDS] = { 0 };
	char *tok;

	while ((tok = next_token(&val, ", \t"))) {
		char *dash = strchr(tok, '-');
		uint64_t lo, hi;

		if (dash)
			*dash = '\0';
		if (mp_parse_u64(tok, 10, &lo) || (dash && mp_parse_u64(dash + 1, 10, &hi))) {
			if (dash)
				*dash = '-';
			snprintf(reason, REASON_LEN,
				 "'%s' is not a node number or range (like 0,2-3)", tok);
			return -EINVAL;
		}
		if (!dash)
			hi = lo;
		if (hi < lo) {
			snprintf(reason, REASON_LEN, "range %llu-%llu ends before it starts",
				 (unsigned long long)lo, (unsigned long long)hi);
			return -EINVAL;
		}
		if (hi >= MP_POLICY_MAX_NODES) {
			snprintf(reason, REASON_LEN, "node %llu is above the kernel's limit of %d",
				 (unsigned long long)hi, MP_POLICY_MAX_NODES - 1);
			return -EINVAL;
		}
		for (uint64_t n = lo; n <= hi; n++)
			mp_node_set(nodes, (unsigned int)n);
	}
	p->has_node = true;
	memcpy(p->nodes, nodes, sizeof(nodes));
	return 0;
}

static int parse_size(struct mp_policy *p, char *val, char *reason)
{
	static const struct {
		const char *text;
		enum mp_size_op op;
	} ops[] = {
		/* Two-character operators first, so that ">=" is not read as ">". */
		{ ">=", MP_SIZE_GE }, { "<=", MP_SIZE_LE }, { "==", MP_SIZE_EQ },
		{ "!=", MP_SIZE_NE }, { ">", MP_SIZE_GT },  { "<", MP_SIZE_LT },
		{ "=", MP_SIZE_EQ },
	};
	char *tok;

	while ((tok = next_token(&val, ", \t"))) {
		enum mp_size_op op = MP_SIZE_EQ;
		const char *num = tok;
		uint64_t bytes;
		size_t i;
		int r;

		for (i = 0; i < MP_ARRAY_SIZE(ops); i++) {
			size_t n = strlen(ops[i].text);

			if (!strncmp(tok, ops[i].text, n)) {
				op = ops[i].op;
				num = tok + n;
				break;
			}
		}
		/* ">= 1G": the operator stands alone, the number is the next token. */
		if (!*num && i < MP_ARRAY_SIZE(ops)) {
			num = next_token(&val, ", \t");
			if (!num) {
				snprintf(reason, REASON_LEN, "'%s' is not followed by a size", tok);
				return -EINVAL;
			}
		}
		r = parse_bytes(num, &bytes);
		if (r == -ERANGE) {
			snprintf(reason, REASON_LEN, "'%s' is too large for 64 bits", num);
			return -EINVAL;
		}
		if (r < 0) {
			snprintf(reason, REASON_LEN,
				 "'%s' is not a size (like 512M, 2G, 0x40000000; units K, M, G, T)",
				 num);
			return -EINVAL;
		}
		if (MP_ARRAY_PUSH(p->sizes, p->nr_sizes,
				  ((struct mp_size_cmp){ .op = op, .bytes = bytes })))
			return -ENOMEM;
	}
	return 0;
}

static int parse_address(struct mp_policy *p, char *val, char *reason)
{
	char *tok;

	while ((tok = next_token(&val, ", \t"))) {
		char *dash = strchr(tok, '-');
		uint64_t start, end;

		if (dash)
			*dash = '\0';
		if (!dash || parse_bytes(tok, &start) || parse_bytes(dash + 1, &end)) {
			if (dash)
				*dash = '-'; /* the message quotes the range as written */
			snprintf(reason, REASON_LEN,
				 "'%s' is not a range START-END (like 0x100000000-0x1ffffffff)",
				 tok);
			return -EINVAL;
		}
		if (end < start) {
			snprintf(reason, REASON_LEN, "range 0x%llx-0x%llx ends before it starts",
				 (unsigned long long)start, (unsigned long long)end);
			return -EINVAL;
		}
		if (MP_ARRAY_PUSH(p->addrs, p->nr_addrs,
				  ((struct mp_addr_range){ .start = start, .end = end })))
			return -ENOMEM;
	}
	return 0;
}

static int parse_device(struct mp_policy *p, char *val, char *reason)
{
	char *tok;

	while ((tok = next_token(&val, " \t"))) {
		char *glob = strdup(tok);

		if (!glob || MP_ARRAY_PUSH(p->devices, p->nr_devices, glob)) {
			free(glob);
			return -ENOMEM;
		}
	}
	return 0;
}

static int parse_bool(const char *val, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < MP_ARRAY_SIZE(yes); i++) {
		if (!strcmp(val, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(val, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_online(struct mp_policy *p, char *val, char *reason)
{
	if (parse_bool(val, &p->online)) {
		snprintf(reason, REASON_LEN, "expected yes or no");
		return -EINVAL;
	}
	return 0;
}

/* The keys whose value is one word of a set (mp_policy_word_parse()). */
#define WORD_PARSER(fn, set, field)                                         \
	static int fn(struct mp_policy *p, char *val, char *reason)         \
	{                                                                   \
		int v = mp_policy_word_parse(set, val, reason, REASON_LEN); \
                                                                            \
		if (v < 0)                                                  \
			return v;                                           \
		field = v;                                                  \
		return 0;                                                   \
	}
WORD_PARSER(parse_zone, MP_WORDS_ZONE, p->zone)
WORD_PARSER(parse_verify, MP_WORDS_VERIFY, p->verify)
WORD_PARSER(parse_mode, MP_WORDS_DAX_MODE, p->dax_mode)
WORD_PARSER(parse_pressure, MP_WORDS_PRESSURE, p->grow.pressure)

static int parse_ratio(struct mp_policy *p, char *val, char *reason)
{
	size_t len = strlen(val);
	uint64_t r;

	if (len > 1 && val[len - 1] == '%')
		val[len - 1] = '\0';
	if (mp_parse_u64(val, 10, &r)) {
		snprintf(reason, REASON_LEN, "expected a percentage like 301 or 300%%");
		return -EINVAL;
	}
	if (r > MP_POLICY_MAX_MOVABLE_RATIO) {
		snprintf(
			reason, REASON_LEN,
			"above %u%%: the memmap of that much movable memory (1/64 of it) would not fit in kernel memory",
			MP_POLICY_MAX_MOVABLE_RATIO);
		return -EINVAL;
	}
	p->movable_ratio = (unsigned int)r;
	return 0;
}

/* A time with its unit (mp_parse_duration_us()), below 2^64 ns. */
static int parse_duration_us(const char *val, uint64_t *out, char *reason)
{
	uint64_t v;

	if (mp_parse_duration_us(val, &v) || v > UINT64_MAX / 1000) {
		snprintf(reason, REASON_LEN,
			 "expected a time like 150ms, 2s or 1min (units us, ms, s, min, h)");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_stall(struct mp_policy *p, char *val, char *reason)
{
	if (parse_duration_us(val, &p->grow.stall_us, reason))
		return -EINVAL;
	if (!p->grow.stall_us) {
		snprintf(reason, REASON_LEN, "a stall of 0 would fire on any pressure at all");
		return -EINVAL;
	}
	return 0;
}

static int parse_window(struct mp_policy *p, char *val, char *reason)
{
	if (parse_duration_us(val, &p->grow.window_us, reason))
		return -EINVAL;
	if (p->grow.window_us < MP_GROW_WINDOW_MIN_US ||
	    p->grow.window_us > MP_GROW_WINDOW_MAX_US) {
		snprintf(reason, REASON_LEN, "the kernel takes PSI windows from 500ms to 10s only");
		return -EINVAL;
	}
	return 0;
}

static int parse_grow_size(const char *val, uint64_t *out, char *reason)
{
	int r = parse_bytes(val, out);

	if (r == -ERANGE) {
		snprintf(reason, REASON_LEN, "'%s' is too large for 64 bits", val);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(reason, REASON_LEN, "'%s' is not a size (like 512M, 2G; units K, M, G, T)",
			 val);
		return -EINVAL;
	}
	return 0;
}

static int parse_step(struct mp_policy *p, char *val, char *reason)
{
	if (parse_grow_size(val, &p->grow.step, reason))
		return -EINVAL;
	if (p->grow.step < (1ull << 20) || p->grow.step % (1ull << 20)) {
		snprintf(
			reason, REASON_LEN,
			"a step is whole MiB, at least 1M (it is rounded up to the guest's block size)");
		return -EINVAL;
	}
	return 0;
}

static int parse_ceiling(struct mp_policy *p, char *val, char *reason)
{
	if (parse_grow_size(val, &p->grow.ceiling, reason))
		return -EINVAL;
	if (!p->grow.ceiling) {
		snprintf(reason, REASON_LEN,
			 "a ceiling of 0 allows no growth (remove [Grow] instead)");
		return -EINVAL;
	}
	return 0;
}

static int parse_cooldown(struct mp_policy *p, char *val, char *reason)
{
	uint64_t us;

	if (parse_duration_us(val, &us, reason))
		return -EINVAL;
	if (us > 86400ull * 1000000) {
		snprintf(reason, REASON_LEN, "at most a day (24h = 1440min)");
		return -EINVAL;
	}
	p->grow.cooldown_ms = us / 1000;
	return 0;
}

static int parse_grow_node(struct mp_policy *p, char *val, char *reason)
{
	uint64_t n;

	if (mp_parse_u64(val, 10, &n) || n >= MP_POLICY_MAX_NODES) {
		snprintf(reason, REASON_LEN, "expected one node number 0..%d",
			 MP_POLICY_MAX_NODES - 1);
		return -EINVAL;
	}
	p->grow.node = (int)n;
	return 0;
}

static const struct key_def keys[KEY_COUNT] = {
	[KEY_KIND] = { "Kind", SEC_MATCH, false, parse_kind },
	[KEY_NODE] = { "Node", SEC_MATCH, false, parse_node },
	[KEY_SIZE] = { "Size", SEC_MATCH, true, parse_size },
	[KEY_ADDRESS] = { "Address", SEC_MATCH, false, parse_address },
	[KEY_DEVICE] = { "Device", SEC_MATCH, false, parse_device },
	[KEY_ONLINE] = { "Online", SEC_ONLINE, false, parse_online },
	[KEY_ZONE] = { "Zone", SEC_ONLINE, false, parse_zone },
	[KEY_MOVABLE_RATIO] = { "MovableRatio", SEC_ONLINE, false, parse_ratio },
	[KEY_VERIFY] = { "Verify", SEC_ONLINE, false, parse_verify },
	[KEY_MODE] = { "Mode", SEC_DAX, false, parse_mode },
	[KEY_PRESSURE] = { "Pressure", SEC_GROW, false, parse_pressure },
	[KEY_STALL] = { "Stall", SEC_GROW, false, parse_stall },
	[KEY_WINDOW] = { "Window", SEC_GROW, false, parse_window },
	[KEY_STEP] = { "Step", SEC_GROW, false, parse_step },
	[KEY_CEILING] = { "Ceiling", SEC_GROW, false, parse_ceiling },
	[KEY_COOLDOWN] = { "Cooldown", SEC_GROW, false, parse_cooldown },
	[KEY_GROW_NODE] = { "Node", SEC_GROW, false, parse_grow_node },
};

static int parse_header(struct parser *ps, unsigned int line, char *s, enum section *cur)
{
	size_t len = strlen(s);
	int sec;

	if (len < 2 || s[len - 1] != ']') {
		perr(ps, line,
		     "malformed section header '%s': expected [Match], [Online], [Dax] or [Grow]%s",
		     s, strpbrk(s, "#;") ? " (comments go on a line of their own)" : "");
		ps->bad_header = true;
		*cur = SEC_UNKNOWN;
		return 0;
	}
	s[len - 1] = '\0';
	s++;
	for (sec = SEC_MATCH; sec < SEC_UNKNOWN; sec++)
		if (!strcmp(s, section_names[sec]))
			break;
	if (sec == SEC_UNKNOWN) {
		for (sec = SEC_MATCH; sec < SEC_UNKNOWN; sec++)
			if (!strcasecmp(s, section_names[sec]))
				break;
		if (sec < SEC_UNKNOWN)
			perr(ps, line,
			     "unknown section [%s]: did you mean [%s]? (names are case-sensitive)",
			     s, section_names[sec]);
		else
			perr(ps, line,
			     "unknown section [%s]: expected [Match], [Online], [Dax] or [Grow]",
			     s);
		ps->bad_header = true;
		*cur = SEC_UNKNOWN;
		return 0;
	}
	/*
	 * systemd merges repeated sections; here one policy is one file, and a
	 * second [Match] is much more likely a pasted second policy whose
	 * keys would silently combine with the first's.
	 */
	if (ps->sec_line[sec]) {
		perr(ps, line, "duplicate section [%s] (first at line %u; one policy per file)", s,
		     ps->sec_line[sec]);
		*cur = SEC_UNKNOWN;
		return 0;
	}
	ps->sec_line[sec] = line;
	*cur = (enum section)sec;
	return 0;
}

static int parse_assignment(struct parser *ps, unsigned int line, char *s, enum section cur)
{
	char reason[REASON_LEN] = "";
	char *eq = strchr(s, '=');
	char *key, *val, *copy;
	int k, r;

	if (!eq) {
		perr(ps, line, "expected Key=Value or [Section], got '%s'", s);
		return 0;
	}
	*eq = '\0';
	key = mp_strip(s);
	val = mp_strip(eq + 1);
	if (!*key) {
		perr(ps, line, "missing key before '='");
		return 0;
	}
	if (cur == SEC_UNKNOWN)
		return 0;
	/* Node= is a key of [Match] and of [Grow]: the current section's first */
	for (k = 0; k < KEY_COUNT; k++)
		if (!strcmp(key, keys[k].name) && keys[k].sec == cur)
			break;
	if (k == KEY_COUNT)
		for (k = 0; k < KEY_COUNT; k++)
			if (!strcmp(key, keys[k].name))
				break;
	if (cur == SEC_NONE) {
		perr(ps, line,
		     "%s= outside any section (keys go below [Match], [Online], [Dax] or [Grow])",
		     key);
		return 0;
	}
	if (k == KEY_COUNT) {
		for (k = 0; k < KEY_COUNT; k++)
			if (!strcasecmp(key, keys[k].name))
				break;
		if (k < KEY_COUNT)
			perr(ps, line,
			     "unknown key %s= in [%s]: did you mean %s=? (keys are case-sensitive)",
			     key, section_names[cur], keys[k].name);
		else
			perr(ps, line, "unknown key %s= in [%s]", key, section_names[cur]);
		return 0;
	}
	if (keys[k].sec != cur) {
		perr(ps, line, "unknown key %s= in [%s] (it belongs in [%s])", key,
		     section_names[cur], section_names[keys[k].sec]);
		return 0;
	}
	if (ps->key_line[k] && !keys[k].multi) {
		perr(ps, line, "duplicate key %s= (first at line %u)", key, ps->key_line[k]);
		return 0;
	}
	if (!ps->key_line[k])
		ps->key_line[k] = line;
	if (!*val) {
		perr(ps, line, "%s= has an empty value", key);
		return 0;
	}
	copy = strdup(val);
	if (!copy)
		return -ENOMEM;
	r = keys[k].parse(ps->p, copy, reason);
	free(copy);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		perr(ps, line, "bad %s= value '%s': %s%s", key, val, reason,
		     strpbrk(val, "#;") ? " (comments go on a line of their own)" : "");
	return 0;
}

/* Checks across keys, once the whole file is read. */
static void check_policy(struct parser *ps)
{
	struct mp_policy *p = ps->p;
	unsigned int *kl = ps->key_line;

	/*
	 * No line to point at: the section is missing, not wrong.  Not
	 * repeated when a misspelt or malformed header already explains it.
	 */
	if (!ps->sec_line[SEC_MATCH] && !ps->bad_header && !ps->sec_line[SEC_GROW])
		perr(ps, 0, "no [Match] section (an empty [Match] matches every device)");
	/* a [Grow]-only file decides no device; device settings need [Match] */
	if (!ps->sec_line[SEC_MATCH] && ps->sec_line[SEC_GROW] && !ps->bad_header) {
		if (ps->sec_line[SEC_ONLINE])
			perr(ps, ps->sec_line[SEC_ONLINE],
			     "[Online] without a [Match] section decides no device (an empty [Match] matches every device)");
		if (ps->sec_line[SEC_DAX])
			perr(ps, ps->sec_line[SEC_DAX],
			     "[Dax] without a [Match] section decides no device (an empty [Match] matches every device)");
	}
	if (ps->sec_line[SEC_GROW]) {
		struct mp_grow_policy *g = &p->grow;
		char a[32], b[32];

		if (!kl[KEY_CEILING])
			perr(ps, ps->sec_line[SEC_GROW],
			     "[Grow] needs Ceiling= (the most memory the guest may grow to)");
		if (g->stall_us > g->window_us && kl[KEY_STALL] && !ps->nerr)
			perr(ps, kl[KEY_STALL],
			     "Stall=%llums is longer than the window of %llums%s: it could never fire",
			     (unsigned long long)(g->stall_us / 1000),
			     (unsigned long long)(g->window_us / 1000),
			     kl[KEY_WINDOW] ? "" : " (the default Window=)");
		if (kl[KEY_CEILING] && kl[KEY_STEP] && g->step > g->ceiling && !ps->nerr)
			perr(ps, kl[KEY_STEP], "Step=%s is above Ceiling=%s (line %u)",
			     mp_policy_fmt_size(g->step, a, sizeof(a)),
			     mp_policy_fmt_size(g->ceiling, b, sizeof(b)), kl[KEY_CEILING]);
		p->has_grow = true;
		g->line = ps->sec_line[SEC_GROW];
	}
	if (kl[KEY_ONLINE] && !p->online) {
		if (kl[KEY_ZONE])
			perr(ps, kl[KEY_ZONE], "Zone= has no effect with Online=no (line %u)",
			     kl[KEY_ONLINE]);
		if (kl[KEY_MOVABLE_RATIO])
			perr(ps, kl[KEY_MOVABLE_RATIO],
			     "MovableRatio= has no effect with Online=no (line %u)",
			     kl[KEY_ONLINE]);
	} else if (kl[KEY_MOVABLE_RATIO] && kl[KEY_ZONE] && p->zone != MP_POLICY_ZONE_AUTO) {
		perr(ps, kl[KEY_MOVABLE_RATIO],
		     "MovableRatio= applies only to Zone=auto, not Zone=%s (line %u)",
		     mp_policy_zone_name(p->zone), kl[KEY_ZONE]);
	}
	if (ps->sec_line[SEC_DAX] && kl[KEY_KIND] &&
	    !(p->kinds & (MP_POLICY_KIND_DAX | MP_POLICY_KIND_NVDIMM))) {
		char kinds[128];

		perr(ps, ps->sec_line[SEC_DAX],
		     "[Dax] applies only to dax and nvdimm devices, and Kind=%s (line %u) matches neither",
		     mp_policy_fmt_kinds(p->kinds, kinds, sizeof(kinds)), kl[KEY_KIND]);
	}
	p->match_line = ps->sec_line[SEC_MATCH];
	p->has_dax = ps->sec_line[SEC_DAX] != 0;
}

void mp_policy_free(struct mp_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nr_devices; i++)
		free(p->devices[i]);
	free(p->devices);
	free(p->sizes);
	free(p->addrs);
	free(p->name);
	free(p->path);
	free(p);
}

int mp_policy_parse(FILE *f, const char *path, const char *name, struct mp_policy **out,
		    struct mp_policy_errors *errs)
{
	struct parser ps = { .path = path, .errs = errs };
	enum section cur = SEC_NONE;
	unsigned int line = 0;
	char *buf = NULL, *s;
	size_t cap = 0;
	int got, r = 0;

	*out = NULL;
	ps.p = calloc(1, sizeof(*ps.p));
	if (!ps.p)
		return -ENOMEM;
	ps.p->online = true;
	ps.p->zone = MP_POLICY_ZONE_AUTO;
	ps.p->movable_ratio = MP_POLICY_DEFAULT_MOVABLE_RATIO;
	ps.p->verify = MP_VERIFY_FULL;
	ps.p->dax_mode = MP_POLICY_DAX_DEVDAX;
	ps.p->grow.pressure = MP_GROW_PRESSURE_SOME;
	ps.p->grow.stall_us = MP_GROW_DEFAULT_STALL_US;
	ps.p->grow.window_us = MP_GROW_DEFAULT_WINDOW_US;
	ps.p->grow.step = MP_GROW_DEFAULT_STEP;
	ps.p->grow.cooldown_ms = MP_GROW_DEFAULT_COOLDOWN_MS;
	ps.p->grow.node = -1;

	while ((got = mp_conf_next_line(f, &buf, &cap, &line, &s))) {
		if (got < 0) {
			perr(&ps, line, "NUL byte in line");
			continue;
		}
		if (*s == '[')
			r = parse_header(&ps, line, s, &cur);
		else
			r = parse_assignment(&ps, line, s, cur);
		if (r < 0)
			goto out;
	}
	if (ferror(f)) {
		perr(&ps, 0, "read error after line %u", line);
		goto out;
	}
	check_policy(&ps);
	if (ps.nerr)
		goto out;
	ps.p->path = strdup(path);
	ps.p->name = strdup(name);
	if (!ps.p->path || !ps.p->name) {
		r = -ENOMEM;
		goto out;
	}
	ps.p->grow.path = ps.p->path;
	*out = ps.p;
	ps.p = NULL;
out:
	free(buf);
	mp_policy_free(ps.p);
	return r;
}
