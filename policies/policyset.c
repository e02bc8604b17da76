// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The set of policies in force: drop-in directories merged by file name the
 * way systemd merges unit drop-ins (an earlier directory hides a same-named
 * file in a later one; an empty file or a symlink to /dev/null hides without
 * adding), every file checked for ownership and mode before it is read, and
 * the whole set refused when any file has a problem.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config.h"
#include "policy-internal.h"
#include "util.h"

struct mp_policyset {
	int refcount;
	size_t nr;
	struct mp_policy **v;
};

/* ---- errors ---------------------------------------------------------------- */

void mp_policy_errors_add(struct mp_policy_errors *errs, const char *file, unsigned int line,
			  const char *fmt, ...)
{
	struct mp_policy_diag *d;
	char *f, *m;
	va_list ap;
	int r;

	if (errs->nr == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 16;

		d = realloc(errs->v, cap * sizeof(*d));
		if (!d) {
			errs->oom = true;
			return;
		}
		errs->v = d;
		errs->cap = cap;
	}
	va_start(ap, fmt);
	r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0) {
		errs->oom = true;
		return;
	}
	f = strdup(file);
	if (!f) {
		free(m);
		errs->oom = true;
		return;
	}
	d = &errs->v[errs->nr++];
	d->file = f;
	d->line = line;
	d->msg = m;
}

size_t mp_policy_errors_count(const struct mp_policy_errors *errs)
{
	return errs ? errs->nr : 0;
}

const struct mp_policy_diag *mp_policy_errors_get(const struct mp_policy_errors *errs, size_t i)
{
	if (!errs || i >= errs->nr)
		return NULL;
	return &errs->v[i];
}

size_t mp_policy_errors_print(const struct mp_policy_errors *errs, FILE *f)
{
	size_t i;

	for (i = 0; i < mp_policy_errors_count(errs); i++) {
		const struct mp_policy_diag *d = &errs->v[i];

		if (d->line)
			fprintf(f, "%s:%u: %s\n", d->file, d->line, d->msg);
		else
			fprintf(f, "%s: %s\n", d->file, d->msg);
	}
	return i;
}

void mp_policy_errors_free(struct mp_policy_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->nr; i++) {
		free((char *)errs->v[i].file);
		free((char *)errs->v[i].msg);
	}
	free(errs->v);
	free(errs);
}

/* ---- directories ----------------------------------------------------------- */

const char *const *mp_policyset_default_dirs(void)
{
	static const char *const dirs[] = {
		MEMPLUG_SYSCONFDIR "/memplug/policies.d",
		"/run/memplug/policies.d",
		MEMPLUG_LIBDIR_POLICIES,
		NULL,
	};

	return dirs;
}

struct entry {
	char *name;
	const char *dir;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static bool is_conf_name(const char *name)
{
	size_t len = strlen(name);

	/* Hidden files are editors' and package managers' temporaries. */
	return name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".conf");
}

static int add_entry(struct entry **v, size_t *nr, const char *name, const char *dir)
{
	struct entry *nv;

	/* Linear: a policy directory holds a handful of files, not thousands. */
	for (size_t i = 0; i < *nr; i++)
		if (!strcmp((*v)[i].name, name))
			return 0;
	nv = realloc(*v, (*nr + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*nr].name = strdup(name);
	if (!nv[*nr].name)
		return -ENOMEM;
	nv[*nr].dir = dir;
	(*nr)++;
	return 0;
}

static int list_dir(const char *dir, struct entry **v, size_t *nr, struct mp_policy_errors *errs)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		mp_policy_errors_add(errs, dir, 0, "cannot open directory: %s", strerror(errno));
		return 0;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!is_conf_name(de->d_name))
			continue;
		r = add_entry(v, nr, de->d_name, dir);
		if (r < 0)
			break;
	}
	if (!de && errno)
		mp_policy_errors_add(errs, dir, 0, "cannot read directory: %s", strerror(errno));
	closedir(d);
	return r;
}

static char *join_path(const char *dir, const char *name)
{
	size_t len = strlen(dir);
	char *path;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (asprintf(&path, "%.*s/%s", (int)len, dir, name) < 0)
		return NULL;
	return path;
}

/*
 * Open, check and parse one file.  *@out stays NULL for a masking file or
 * one with problems (which are recorded).
 */
static int load_file(const char *path, const char *name, unsigned int flags, struct mp_policy **out,
		     struct mp_policy_errors *errs)
{
	struct stat st;
	char why[128];
	FILE *f;
	int fd, r;

	*out = NULL;
	/* O_NONBLOCK: a FIFO named *.conf must not hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		mp_policy_errors_add(errs, path, 0, "cannot open: %s", strerror(errno));
		return 0;
	}
	/*
	 * Whoever can write a policy decides where memory goes: the same trust
	 * as root (mp_conf_file_check()).  Checked on empty (masking) files too,
	 * since masking is a policy change.
	 */
	r = mp_conf_file_check(path, fd,
			       MP_CONF_ALLOW_MASK |
				       (flags & MP_POLICY_LOAD_ANY_OWNER ? MP_CONF_ANY_OWNER : 0),
			       why, sizeof(why));
	if (r == 1 || (r == 0 && fstat(fd, &st) == 0 && st.st_size == 0)) {
		close(fd); /* masked: /dev/null or an empty file */
		return 0;
	}
	if (r < 0) {
		mp_policy_errors_add(errs, path, 0, "%s", why[0] ? why : strerror(-r));
		close(fd);
		return 0;
	}
	if (fcntl(fd, F_SETFL, 0) < 0 || !(f = fdopen(fd, "r"))) {
		mp_policy_errors_add(errs, path, 0, "cannot read: %s", strerror(errno));
		close(fd);
		return 0;
	}
	r = mp_policy_parse(f, path, name, out, errs);
	fclose(f);
	return r;
}

static void policyset_free(struct mp_policyset *set)
{
	for (size_t i = 0; i < set->nr; i++)
		mp_policy_free(set->v[i]);
	free(set->v);
	free(set);
}

int mp_policyset_load(const char *const *dirs, unsigned int flags, struct mp_policyset **out,
		      struct mp_policy_errors **errsp)
{
	struct mp_policy_errors *errs;
	struct mp_policyset *set;
	struct entry *ents = NULL;
	size_t nents = 0, i;
	int r = 0;

	*out = NULL;
	if (errsp)
		*errsp = NULL;
	if (!dirs)
		dirs = mp_policyset_default_dirs();
	errs = calloc(1, sizeof(*errs));
	set = calloc(1, sizeof(*set));
	if (!errs || !set) {
		free(errs);
		free(set);
		return -ENOMEM;
	}
	set->refcount = 1;

	for (i = 0; dirs[i]; i++) {
		r = list_dir(dirs[i], &ents, &nents, errs);
		if (r < 0)
			goto out;
	}
	if (nents)
		qsort(ents, nents, sizeof(*ents), entry_cmp);
	set->v = calloc(nents ? nents : 1, sizeof(*set->v));
	if (!set->v) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nents; i++) {
		_mp_free_ char *path = join_path(ents[i].dir, ents[i].name);
		struct mp_policy *p;

		if (!path) {
			r = -ENOMEM;
			goto out;
		}
		r = load_file(path, ents[i].name, flags, &p, errs);
		if (r < 0)
			goto out;
		if (p)
			set->v[set->nr++] = p;
	}
	/* one growth policy per guest: two would fight over one trigger */
	for (i = 1; i < set->nr; i++) {
		const struct mp_grow_policy *first = mp_policyset_grow(set);

		if (set->v[i]->has_grow && first && &set->v[i]->grow != first)
			mp_policy_errors_add(
				errs, set->v[i]->path, set->v[i]->grow.line,
				"a second [Grow] section (the first is %s:%u): only one file in force may have one",
				first->path, first->line);
	}
	if (errs->oom)
		r = -ENOMEM;
	else if (errs->nr)
		r = -EINVAL;
out:
	for (i = 0; i < nents; i++)
		free(ents[i].name);
	free(ents);
	if (r < 0) {
		policyset_free(set);
		set = NULL;
	}
	if (errsp && errs->nr) {
		*errsp = errs;
		errs = NULL;
	}
	mp_policy_errors_free(errs);
	*out = set;
	return r;
}

struct mp_policyset *mp_policyset_ref(struct mp_policyset *set)
{
	if (set)
		set->refcount++;
	return set;
}

void mp_policyset_unref(struct mp_policyset *set)
{
	if (set && --set->refcount == 0)
		policyset_free(set);
}

size_t mp_policyset_count(const struct mp_policyset *set)
{
	return set ? set->nr : 0;
}

const struct mp_policy *mp_policyset_get(const struct mp_policyset *set, size_t i)
{
	if (!set || i >= set->nr)
		return NULL;
	return set->v[i];
}

const char *mp_policy_name(const struct mp_policy *p)
{
	return p->name;
}

const char *mp_policy_path(const struct mp_policy *p)
{
	return p->path;
}

unsigned int mp_policy_match_line(const struct mp_policy *p)
{
	return p->match_line;
}

/* ---- printing -------------------------------------------------------------- */

static void grow_print(const struct mp_grow_policy *g, FILE *f)
{
	char buf[32];

	fprintf(f, "[Grow]\nPressure=%s\nStall=%llums\nWindow=%llums\n",
		mp_grow_pressure_name(g->pressure), (unsigned long long)(g->stall_us / 1000),
		(unsigned long long)(g->window_us / 1000));
	fprintf(f, "Step=%s\n", mp_policy_fmt_size(g->step, buf, sizeof(buf)));
	fprintf(f, "Ceiling=%s\n", mp_policy_fmt_size(g->ceiling, buf, sizeof(buf)));
	fprintf(f, "Cooldown=%llus\n", (unsigned long long)(g->cooldown_ms / 1000));
	if (g->node >= 0)
		fprintf(f, "Node=%d\n", g->node);
}

int mp_policy_print(const struct mp_policy *p, FILE *f)
{
	char buf[MP_POLICY_MAX_NODES * 5];
	size_t i;

	if (!p->match_line) {
		fprintf(f, "# %s\n", p->path);
		grow_print(&p->grow, f);
		return ferror(f) ? -EIO : 0;
	}
	fprintf(f, "# %s\n[Match]\n", p->path);
	if (p->has_kind)
		fprintf(f, "Kind=%s\n", mp_policy_fmt_kinds(p->kinds, buf, sizeof(buf)));
	if (p->has_node)
		fprintf(f, "Node=%s\n", mp_policy_fmt_nodes(p->nodes, buf, sizeof(buf)));
	for (i = 0; i < p->nr_sizes; i++)
		fprintf(f, "Size=%s%s\n",
			p->sizes[i].op == MP_SIZE_EQ ? "" : mp_size_op_name(p->sizes[i].op),
			mp_policy_fmt_size(p->sizes[i].bytes, buf, sizeof(buf)));
	if (p->nr_addrs) {
		fputs("Address=", f);
		for (i = 0; i < p->nr_addrs; i++)
			fprintf(f, "%s0x%llx-0x%llx", i ? " " : "",
				(unsigned long long)p->addrs[i].start,
				(unsigned long long)p->addrs[i].end);
		fputc('\n', f);
	}
	if (p->nr_devices) {
		fputs("Device=", f);
		for (i = 0; i < p->nr_devices; i++)
			fprintf(f, "%s%s", i ? " " : "", p->devices[i]);
		fputc('\n', f);
	}
	fprintf(f, "\n[Online]\nOnline=%s\n", p->online ? "yes" : "no");
	if (p->online) {
		fprintf(f, "Zone=%s\n", mp_policy_zone_name(p->zone));
		if (p->zone == MP_POLICY_ZONE_AUTO)
			fprintf(f, "MovableRatio=%u%%\n", p->movable_ratio);
	}
	fprintf(f, "Verify=%s\n", mp_policy_verify_name(p->verify));
	if (p->has_dax || !p->has_kind || p->kinds & (MP_POLICY_KIND_DAX | MP_POLICY_KIND_NVDIMM))
		fprintf(f, "\n[Dax]\nMode=%s\n", mp_policy_dax_mode_name(p->dax_mode));
	if (p->has_grow) {
		fputc('\n', f);
		grow_print(&p->grow, f);
	}
	return ferror(f) ? -EIO : 0;
}

const struct mp_grow_policy *mp_policyset_grow(const struct mp_policyset *set)
{
	for (size_t i = 0; set && i < set->nr; i++)
		if (set->v[i]->has_grow)
			return &set->v[i]->grow;
	return NULL;
}

int mp_policyset_print(const struct mp_policyset *set, FILE *f)
{
	for (size_t i = 0; i < mp_policyset_count(set); i++) {
		int r;

		if (i)
			fputc('\n', f);
		r = mp_policy_print(set->v[i], f);
		if (r < 0)
			return r;
	}
	return ferror(f) ? -EIO : 0;
}
