// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The scenario parser: one step a line, "verb [object...] [key=value...]",
 * '#' comments, values in double quotes when they hold blanks, ${VAR}
 * from the environment.  Strict on purpose: an unknown key, a key twice, a
 * size the CLI would not take or a device the file never named is an
 * error naming file:line, and every error of the file is collected before
 * it is refused (as policies and ntpd's parse.y do), so one run of
 * `memplugctl scenario check` shows them all.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "mp-json.h"
#include "scenario-private.h"
#include "util.h"

#define MAX_TOKENS 24
#define MAX_LINE 4096
#define MAX_ERRORS 100
#define DEFAULT_WITHIN_MS 60000
#define DEFAULT_UNPLUG_MS 120000
#define DEFAULT_HOOK_MS 600000

struct tok {
	char key[32]; /* "" for a bare word */
	char val[PATH_MAX];
	bool used;
};

struct parser {
	const char *name;
	unsigned int line;
	char *errs;
	size_t errlen;
	unsigned int nerrs;
	struct mp_scenario *s;
	int last_dev; /* the device of the last plug or resize */
	int last_unplug; /* the last unplug step */
	bool line_bad;
	bool oom;
};

static const char *const op_names[] = {
	[MP_SCN_PLUG] = "plug",
	[MP_SCN_RESIZE] = "resize",
	[MP_SCN_UNPLUG] = "unplug",
	[MP_SCN_EXPECT_ONLINE] = "expect online",
	[MP_SCN_EXPECT_REMOVED] = "expect removed",
	[MP_SCN_EXPECT_REFUSED] = "expect refused",
	[MP_SCN_EXPECT_GROW] = "expect grow-request",
	[MP_SCN_SERVE] = "serve",
	[MP_SCN_SLEEP] = "sleep",
	[MP_SCN_HOOK] = "hook",
};

const char *mp_scn_op_name(enum mp_scn_op op)
{
	return op < MP_ARRAY_SIZE(op_names) ? op_names[op] : "?";
}

__attribute__((format(printf, 2, 3))) static void err(struct parser *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;
	char *e;

	p->line_bad = true;
	if (++p->nerrs > MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->nerrs == MAX_ERRORS)
		snprintf(msg, sizeof(msg), "too many errors; giving up");
	n = snprintf(NULL, 0, "%s:%u: %s\n", p->name, p->line, msg);
	e = realloc(p->errs, p->errlen + n + 1);
	if (!e) {
		p->oom = true;
		return;
	}
	p->errs = e;
	snprintf(p->errs + p->errlen, n + 1, "%s:%u: %s\n", p->name, p->line, msg);
	p->errlen += n;
}

/* ${VAR} from the environment into @out; an unset variable is an error. */
static int expand(struct parser *p, const char *in, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *add = NULL;
		char c[2] = { in[i], 0 };

		if (in[i] == '$' && i + 1 < n && in[i + 1] == '{') {
			char var[128];
			size_t j = i + 2, k = 0;

			while (j < n && in[j] != '}' && k + 1 < sizeof(var))
				var[k++] = in[j++];
			var[k] = 0;
			if (j >= n || in[j] != '}' || !k) {
				err(p, "'${' without a variable name and '}'");
				return -EINVAL;
			}
			add = getenv(var);
			if (!add) {
				err(p, "${%s} is not set in the environment", var);
				return -EINVAL;
			}
			i = j;
		} else {
			add = c;
		}
		if (o + strlen(add) >= outlen) {
			err(p, "value too long (at most %zu characters)", outlen - 1);
			return -EINVAL;
		}
		memcpy(out + o, add, strlen(add));
		o += strlen(add);
	}
	out[o] = 0;
	return 0;
}

/* Split a line into tokens: words, key=value, key="value with blanks". */
static int tokenize(struct parser *p, const char *line, struct tok *t, unsigned int *nt)
{
	const char *c = line;

	*nt = 0;
	for (;;) {
		const char *start, *eq = NULL, *vs;
		size_t vn;
		char raw[PATH_MAX];

		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c || *c == '#')
			return 0;
		if (*nt == MAX_TOKENS) {
			err(p, "too many words (at most %d)", MAX_TOKENS);
			return -EINVAL;
		}
		start = c;
		while (*c && *c != ' ' && *c != '\t' && *c != '"') {
			if (*c == '=' && !eq)
				eq = c;
			c++;
		}
		memset(&t[*nt], 0, sizeof(t[*nt]));
		if (*c == '"') {
			size_t k = 0;

			if (!eq || c != eq + 1) {
				err(p, "a quote may only open a value (key=\"...\")");
				return -EINVAL;
			}
			c++;
			while (*c && *c != '"' && k + 1 < sizeof(raw)) {
				if (*c == '\\' && (c[1] == '"' || c[1] == '\\'))
					c++;
				raw[k++] = *c++;
			}
			if (*c != '"') {
				err(p, "unterminated quote");
				return -EINVAL;
			}
			c++;
			if (*c && *c != ' ' && *c != '\t' && *c != '#') {
				err(p, "blank expected after the closing quote");
				return -EINVAL;
			}
			vs = raw;
			vn = k;
		} else {
			vs = eq ? eq + 1 : start;
			vn = (size_t)(c - vs);
		}
		if (eq) {
			if (eq == start || (size_t)(eq - start) >= sizeof(t->key)) {
				err(p, "'%.*s': a key is expected before '='", (int)(c - start),
				    start);
				return -EINVAL;
			}
			memcpy(t[*nt].key, start, (size_t)(eq - start));
			if (!vn) {
				err(p, "%s=: a value is expected after '='", t[*nt].key);
				return -EINVAL;
			}
		}
		if (expand(p, vs, vn, t[*nt].val, sizeof(t[*nt].val)) < 0)
			return -EINVAL;
		(*nt)++;
	}
}

static struct tok *kv(struct tok *t, unsigned int nt, const char *key)
{
	for (unsigned int i = 0; i < nt; i++)
		if (!strcmp(t[i].key, key)) {
			t[i].used = true;
			return &t[i];
		}
	return NULL;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= MP_SCN_NAME_MAX || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-._", s[i]))
			return false;
	return true;
}

/* "30", "0.5": seconds into ms, 0 < x <= 86400 (0 allowed with @zero). */
static int seconds(struct parser *p, const char *what, const char *v, bool zero, int *ms)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isdigit((unsigned char)v[0]) ||
	    strspn(v, "0123456789.") != strlen(v) || d > 86400 || (!zero && d <= 0) || d < 0) {
		err(p, "%s%s%s: seconds expected (a number %s 86400, e.g. 30 or 0.5)", what,
		    zero ? " " : "=", v, zero ? "from 0 to" : "above 0, at most");
		return -EINVAL;
	}
	*ms = (int)(d * 1000 + 0.5);
	return 0;
}

static int size(struct parser *p, const char *what, const char *v, uint64_t *out)
{
	if (mp_parse_size(v, out) < 0) {
		err(p, "%s '%s': a size is expected (bytes or with K, M, G, T: 512M, 1G)", what, v);
		return -EINVAL;
	}
	return 0;
}

static int number(struct parser *p, const char *what, const char *v, long max, long *out)
{
	uint64_t u;

	if (mp_parse_u64(v, 10, &u) < 0 || u > (uint64_t)max) {
		err(p, "%s=%s: a number from 0 to %ld is expected", what, v, max);
		return -EINVAL;
	}
	*out = (long)u;
	return 0;
}

static int yesno(struct parser *p, const char *what, const char *v, bool *out)
{
	if (!strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "no"))
		*out = false;
	else {
		err(p, "%s=%s: yes or no expected", what, v);
		return -EINVAL;
	}
	return 0;
}

static int dev_find(const struct mp_scenario *s, const char *name)
{
	for (unsigned int i = 0; i < s->ndevs; i++)
		if (!strcmp(s->devs[i].name, name))
			return (int)i;
	return -1;
}

static int dev_add(struct parser *p, const char *name, int plugged_by, const char *kind)
{
	struct mp_scenario *s = p->s;
	struct mp_scn_dev *d = realloc(s->devs, (s->ndevs + 1) * sizeof(*d));

	if (!d) {
		p->oom = true;
		return -ENOMEM;
	}
	s->devs = d;
	d = &s->devs[s->ndevs];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->plugged_by = plugged_by;
	snprintf(d->kind, sizeof(d->kind), "%s", kind);
	if (plugged_by < 0)
		snprintf(d->id, sizeof(d->id), "%s", name);
	return (int)s->ndevs++;
}

/*
 * A device reference: an alias an earlier plug defined (as=NAME), or the
 * host id of a device this scenario did not plug (observed only).
 */
static int dev_ref(struct parser *p, const char *what, const char *v)
{
	int i = dev_find(p->s, v);

	if (i >= 0)
		return i;
	if (!mp_host_id_wellformed(v) || strlen(v) >= MP_SCN_NAME_MAX) {
		err(p,
		    "%s '%s': a device is expected: a name from an earlier plug's as=, or a "
		    "host device id (a letter, then letters, digits, '-', '.', '_')",
		    what, v);
		return -EINVAL;
	}
	return dev_add(p, v, -1, "");
}

static void plug(struct parser *p, struct mp_scn_step *st, struct tok *t, unsigned int nt)
{
	struct tok *k;
	long n;

	if (nt < 3 || t[1].key[0] || t[2].key[0]) {
		err(p, "plug: a kind and a size are expected: plug dimm|nvdimm|virtio-mem SIZE "
		       "[key=value...]");
		return;
	}
	t[1].used = t[2].used = true;
	if (strcmp(t[1].val, "dimm") && strcmp(t[1].val, "nvdimm") &&
	    strcmp(t[1].val, "virtio-mem")) {
		err(p, "plug: kind '%s': dimm, nvdimm or virtio-mem expected", t[1].val);
		return;
	}
	snprintf(st->kind, sizeof(st->kind), "%s", t[1].val);
	size(p, "plug: size", t[2].val, &st->size);
	if ((k = kv(t, nt, "node")) && number(p, "node", k->val, 1023, &n) == 0)
		st->node = (int)n;
	st->host_node = MP_HOST_NODE_NONE;
	if ((k = kv(t, nt, "host-node"))) {
		if (!strcmp(k->val, "auto"))
			st->host_node = MP_HOST_NODE_AUTO;
		else if (number(p, "host-node", k->val, 1023, &n) == 0)
			st->host_node = (int)n;
	}
	if ((k = kv(t, nt, "mem-path")))
		snprintf(st->mem_path, sizeof(st->mem_path), "%s", k->val);
	if ((k = kv(t, nt, "share")))
		yesno(p, "share", k->val, &st->share);
	if ((k = kv(t, nt, "prealloc")))
		yesno(p, "prealloc", k->val, &st->prealloc);
	if ((k = kv(t, nt, "force")))
		yesno(p, "force", k->val, &st->force);
	if ((k = kv(t, nt, "label-size"))) {
		if (strcmp(st->kind, "nvdimm"))
			err(p, "label-size= is for an nvdimm only");
		else
			size(p, "label-size", k->val, &st->label_size);
	}
	if ((k = kv(t, nt, "requested"))) {
		if (strcmp(st->kind, "virtio-mem"))
			err(p, "requested= is for virtio-mem only");
		else
			size(p, "requested", k->val, &st->requested);
	}
	if (!strcmp(st->kind, "nvdimm") && !st->mem_path[0])
		err(p, "plug nvdimm: mem-path=FILE is expected (an NVDIMM needs a file backend)");
	if (!strcmp(st->kind, "virtio-mem") && st->requested > st->size)
		err(p, "requested= is larger than the device's size");
	if ((k = kv(t, nt, "id"))) {
		if (!mp_host_id_wellformed(k->val) || strlen(k->val) > 100)
			err(p,
			    "id=%s: QEMU would refuse it (a letter, then letters, digits, '-', "
			    "'.', '_'; at most 100)",
			    k->val);
		else
			snprintf(st->id, sizeof(st->id), "%s", k->val);
	}
	if ((k = kv(t, nt, "as"))) {
		int d = dev_find(p->s, k->val);

		if (!name_ok(k->val))
			err(p,
			    "as=%s: a name is expected (a letter, then letters, digits, '-', "
			    "'.', '_')",
			    k->val);
		else if (d >= 0 && p->s->devs[d].plugged_by >= 0)
			err(p, "as=%s: the name is taken by the plug at line %u", k->val,
			    p->s->steps[p->s->devs[d].plugged_by].line);
		else if (d >= 0)
			err(p,
			    "as=%s: the name was used before this line as a device this scenario "
			    "did not plug",
			    k->val);
		else
			st->dev = dev_add(p, k->val, (int)p->s->nsteps, st->kind);
	}
	if (st->dev < 0 && !p->line_bad) {
		char anon[MP_SCN_NAME_MAX];

		/* unnamed: still "the last device" of the next expect */
		snprintf(anon, sizeof(anon), "#line%u", p->line);
		st->dev = dev_add(p, anon, (int)p->s->nsteps, st->kind);
	}
	p->last_dev = st->dev;
}

static void expect(struct parser *p, struct mp_scn_step *st, struct tok *t, unsigned int nt)
{
	struct tok *k;
	const char *what;
	long n;

	if (nt < 2 || t[1].key[0]) {
		err(p, "expect: what is expected: online, removed, refused or grow-request");
		return;
	}
	t[1].used = true;
	what = t[1].val;
	if (!strcmp(what, "online")) {
		st->op = MP_SCN_EXPECT_ONLINE;
	} else if (!strcmp(what, "removed")) {
		st->op = MP_SCN_EXPECT_REMOVED;
	} else if (!strcmp(what, "refused")) {
		st->op = MP_SCN_EXPECT_REFUSED;
	} else if (!strcmp(what, "grow-request")) {
		st->op = MP_SCN_EXPECT_GROW;
	} else {
		err(p, "expect %s: online, removed, refused or grow-request expected", what);
		return;
	}
	if (st->op == MP_SCN_EXPECT_ONLINE || st->op == MP_SCN_EXPECT_REMOVED) {
		if ((k = kv(t, nt, "device")))
			st->dev = dev_ref(p, "device", k->val);
		else if (st->op == MP_SCN_EXPECT_ONLINE)
			st->dev = p->last_dev;
		else if (p->last_unplug >= 0)
			st->dev = p->s->steps[p->last_unplug].dev;
		if (st->dev < 0 && !p->line_bad)
			err(p, "expect %s: which device? give device=NAME, or put a %s before it",
			    what, st->op == MP_SCN_EXPECT_ONLINE ? "plug or resize" : "unplug");
	}
	if (st->op == MP_SCN_EXPECT_REMOVED && p->last_unplug >= 0 &&
	    p->s->steps[p->last_unplug].dev == st->dev)
		st->unplug_step = p->last_unplug;
	if (st->op == MP_SCN_EXPECT_ONLINE) {
		st->node = MP_SCN_ANY;
		if ((k = kv(t, nt, "zone"))) {
			if (strcmp(k->val, "movable") && strcmp(k->val, "kernel"))
				err(p, "zone=%s: movable or kernel expected", k->val);
			snprintf(st->zone, sizeof(st->zone), "%s", k->val);
		}
		if ((k = kv(t, nt, "node")) && number(p, "node", k->val, 1023, &n) == 0)
			st->node = (int)n;
		if ((k = kv(t, nt, "blocks")) && number(p, "blocks", k->val, 1 << 20, &n) == 0)
			st->blocks = n;
		if ((k = kv(t, nt, "verified")))
			yesno(p, "verified", k->val, &st->verified);
		if ((k = kv(t, nt, "trim")))
			yesno(p, "trim", k->val, &st->trim);
	}
	if (st->op == MP_SCN_EXPECT_REFUSED) {
		struct mp_scn_step *prev = p->s->nsteps ? &p->s->steps[p->s->nsteps - 1] : NULL;

		if (!prev || prev->op != MP_SCN_UNPLUG) {
			err(p, "expect refused: it judges the unplug on the line before it; put "
			       "an unplug there");
		} else {
			st->unplug_step = (int)p->s->nsteps - 1;
			st->dev = prev->dev;
			prev->judged = true;
		}
		if ((k = kv(t, nt, "reason")))
			snprintf(st->reason, sizeof(st->reason), "%s", k->val);
		if ((k = kv(t, nt, "errno"))) {
			if (strncmp(k->val, "E", 1) || strlen(k->val) >= sizeof(st->errname))
				err(p, "errno=%s: an errno name expected (EBUSY, ETIMEDOUT...)",
				    k->val);
			snprintf(st->errname, sizeof(st->errname), "%s", k->val);
		}
	}
	if (st->op != MP_SCN_EXPECT_REFUSED && (k = kv(t, nt, "within")))
		seconds(p, "within", k->val, false, &st->within_ms);
}

static void parse_line(struct parser *p, char *line)
{
	struct tok t[MAX_TOKENS];
	struct mp_scn_step st = { .dev = -1,
				  .unplug_step = -1,
				  .within_ms = DEFAULT_WITHIN_MS,
				  .node = 0,
				  .blocks = MP_SCN_ANY,
				  .verified = true };
	struct mp_scn_step *steps;
	unsigned int nt;
	const char *verb;
	struct tok *k;
	size_t n;

	p->line_bad = false;
	if (tokenize(p, line, t, &nt) < 0 || !nt)
		return;
	verb = t[0].val;
	t[0].used = true;
	if (t[0].key[0]) {
		err(p,
		    "a step is expected first (plug, resize, unplug, expect, serve, sleep, hook), "
		    "not '%s=...'",
		    t[0].key);
		return;
	}
	n = strspn(line, " \t");
	snprintf(st.text, sizeof(st.text), "%s", line + n);
	for (char *c = st.text + strlen(st.text); c > st.text && isspace((unsigned char)c[-1]);)
		*--c = 0;
	if ((k = kv(t, nt, "on-fail"))) {
		if (!strcmp(k->val, "continue"))
			st.keep_going = true;
		else if (strcmp(k->val, "stop"))
			err(p, "on-fail=%s: stop or continue expected", k->val);
	}
	if (!strcmp(verb, "plug")) {
		st.op = MP_SCN_PLUG;
		plug(p, &st, t, nt);
	} else if (!strcmp(verb, "resize") || !strcmp(verb, "unplug")) {
		bool rs = !strcmp(verb, "resize");

		st.op = rs ? MP_SCN_RESIZE : MP_SCN_UNPLUG;
		st.within_ms = rs ? DEFAULT_WITHIN_MS : DEFAULT_UNPLUG_MS;
		if (nt < (rs ? 3u : 2u) || t[1].key[0] || (rs && t[2].key[0])) {
			err(p, rs ? "resize: a device and a size are expected: resize NAME SIZE" :
				    "unplug: a device is expected: unplug NAME");
			return;
		}
		t[1].used = true;
		st.dev = dev_ref(p, "device", t[1].val);
		if (rs) {
			t[2].used = true;
			size(p, "resize: size", t[2].val, &st.size);
			if (st.dev >= 0 && p->s->devs[st.dev].kind[0] &&
			    strcmp(p->s->devs[st.dev].kind, "virtio-mem"))
				err(p, "resize %s: only virtio-mem can be resized; %s is a %s",
				    t[1].val, t[1].val, p->s->devs[st.dev].kind);
			p->last_dev = st.dev;
		} else if (st.dev >= 0 && !strcmp(p->s->devs[st.dev].kind, "nvdimm")) {
			err(p, "unplug %s: QEMU cannot unplug an NVDIMM", t[1].val);
		}
		if ((k = kv(t, nt, "within")))
			seconds(p, "within", k->val, false, &st.within_ms);
	} else if (!strcmp(verb, "expect")) {
		expect(p, &st, t, nt);
	} else if (!strcmp(verb, "serve")) {
		st.op = MP_SCN_SERVE;
		if ((k = kv(t, nt, "config")))
			snprintf(st.config, sizeof(st.config), "%s", k->val);
		else
			err(p, "serve: config=FILE is required (the host's limits, docs/host.md)");
		if ((k = kv(t, nt, "within")))
			seconds(p, "within", k->val, false, &st.within_ms);
	} else if (!strcmp(verb, "sleep")) {
		st.op = MP_SCN_SLEEP;
		if (nt < 2 || t[1].key[0]) {
			err(p, "sleep: seconds expected: sleep 2");
			return;
		}
		t[1].used = true;
		seconds(p, "sleep", t[1].val, true, &st.within_ms);
	} else if (!strcmp(verb, "hook")) {
		st.op = MP_SCN_HOOK;
		st.within_ms = DEFAULT_HOOK_MS;
		if (nt < 2 || t[1].key[0] || !name_ok(t[1].val)) {
			err(p,
			    "hook: a name is expected: hook NAME (a letter, then letters, digits, "
			    "'-', '.', '_')");
			return;
		}
		t[1].used = true;
		snprintf(st.hook, sizeof(st.hook), "%s", t[1].val);
		if ((k = kv(t, nt, "within")))
			seconds(p, "within", k->val, false, &st.within_ms);
	} else {
		err(p,
		    "'%s': a step is expected: plug, resize, unplug, expect, serve, sleep or hook",
		    verb);
		return;
	}
	for (unsigned int i = 0; i < nt; i++) {
		if (t[i].used)
			continue;
		if (t[i].key[0])
			err(p, "%s: unknown key '%s'", mp_scn_op_name(st.op), t[i].key);
		else
			err(p, "%s: unexpected word '%s' (arguments are key=value)",
			    mp_scn_op_name(st.op), t[i].val);
		t[i].used = true;
	}
	for (unsigned int i = 0; i < nt; i++)
		for (unsigned int j = i + 1; j < nt; j++)
			if (t[i].key[0] && !strcmp(t[i].key, t[j].key))
				err(p, "%s= given twice", t[i].key);
	st.line = p->line;
	steps = realloc(p->s->steps, (p->s->nsteps + 1) * sizeof(*steps));
	if (!steps) {
		p->oom = true;
		return;
	}
	p->s->steps = steps;
	steps[p->s->nsteps] = st;
	if (st.op == MP_SCN_UNPLUG)
		p->last_unplug = (int)p->s->nsteps;
	p->s->nsteps++;
}

int mp_scenario_parse(const char *name, const char *text, struct mp_scenario **out, char **errors)
{
	struct parser p = { .name = name, .last_dev = -1, .last_unplug = -1 };
	const char *c = text;
	int r = 0;

	*out = NULL;
	if (errors)
		*errors = NULL;
	p.s = calloc(1, sizeof(*p.s));
	if (!p.s || !(p.s->file = strdup(name))) {
		free(p.s);
		return -ENOMEM;
	}
	while (*c) {
		const char *nl = strchr(c, '\n');
		size_t n = nl ? (size_t)(nl - c) : strlen(c);
		char line[MAX_LINE];

		p.line++;
		if (n >= sizeof(line)) {
			err(&p, "line too long (at most %d characters)", MAX_LINE - 1);
		} else {
			memcpy(line, c, n);
			line[n] = 0;
			if (n && line[n - 1] == '\r')
				line[n - 1] = 0;
			if (strlen(line) != n && !(n && strlen(line) == n - 1 && c[n - 1] == '\r'))
				err(&p, "a NUL byte in the line");
			else
				parse_line(&p, line);
		}
		c += n + (nl ? 1 : 0);
	}
	if (!p.nerrs && !p.s->nsteps) {
		p.line = p.line ? p.line : 1;
		err(&p, "no steps: a scenario needs at least one");
	}
	if (p.oom)
		r = -ENOMEM;
	else if (p.nerrs)
		r = -EINVAL;
	if (r < 0)
		mp_scenario_free(p.s);
	else
		*out = p.s;
	if (errors)
		*errors = p.errs ? p.errs : strdup("");
	else
		free(p.errs);
	return r;
}

int mp_scenario_load(const char *path, struct mp_scenario **out, char **errors)
{
	_mp_free_ char *text = NULL;
	char *e;
	int r;

	*out = NULL;
	if (errors)
		*errors = NULL;
	r = mp_read_file_alloc(path, &text, NULL);
	if (r < 0) {
		if (errors && asprintf(&e, "%s: %s\n", path, strerror(-r)) >= 0)
			*errors = e;
		return r;
	}
	return mp_scenario_parse(path, text, out, errors);
}

void mp_scenario_free(struct mp_scenario *s)
{
	if (!s)
		return;
	free(s->file);
	free(s->steps);
	free(s->devs);
	free(s);
}

unsigned int mp_scenario_get_nsteps(const struct mp_scenario *s)
{
	return s->nsteps;
}

struct json_object *mp_scenario_step_json(const struct mp_scenario *s, unsigned int i)
{
	const struct mp_scn_step *st;
	struct json_object *o;

	if (i >= s->nsteps)
		return NULL;
	st = &s->steps[i];
	o = json_object_new_object();
	mp_json_add_int(o, "step", i + 1);
	mp_json_add_int(o, "line", st->line);
	mp_json_add_str(o, "op", mp_scn_op_name(st->op));
	mp_json_add_str(o, "text", st->text);
	if (st->dev >= 0 && s->devs[st->dev].name[0] != '#')
		mp_json_add_str(o, "device", s->devs[st->dev].name);
	if (st->dev >= 0)
		mp_json_add_bool(o, "observed", s->devs[st->dev].plugged_by < 0);
	if (st->op == MP_SCN_PLUG) {
		mp_json_add_str(o, "kind", st->kind);
		mp_json_add_u64(o, "size", st->size);
		mp_json_add_int(o, "node", st->node);
	}
	if (st->op == MP_SCN_RESIZE)
		mp_json_add_u64(o, "size", st->size);
	if (st->op == MP_SCN_EXPECT_ONLINE) {
		if (st->zone[0])
			mp_json_add_str(o, "zone", st->zone);
		if (st->node != MP_SCN_ANY)
			mp_json_add_int(o, "node", st->node);
		if (st->blocks != MP_SCN_ANY)
			mp_json_add_int(o, "blocks", st->blocks);
		mp_json_add_bool(o, "verified", st->verified);
	}
	if (st->op == MP_SCN_EXPECT_REFUSED) {
		if (st->reason[0])
			mp_json_add_str(o, "reason", st->reason);
		if (st->errname[0])
			mp_json_add_str(o, "errno", st->errname);
	}
	if (st->unplug_step >= 0)
		mp_json_add_int(o, "judges_line", s->steps[st->unplug_step].line);
	if (st->op != MP_SCN_EXPECT_REFUSED)
		mp_json_add_int(o, "within_ms", st->within_ms);
	mp_json_add_bool(o, "on_fail_continue", st->keep_going);
	return o;
}
