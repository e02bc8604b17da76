// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dax devices (/sys/bus/dax/devices/daxX.Y) and nvdimm namespaces
 * (/sys/bus/nd/devices/namespaceX.Y) as sysfs shows them.
 *
 * Attributes come from drivers/dax/bus.c (resource, size, align,
 * target_node, numa_node, mappingN/{start,end}) and drivers/nvdimm/
 * namespace_devs.c (mode, size, resource, numa_node).  "resource" is root
 * only; without it we fall back to mapping0, and report what is missing
 * instead of inventing an address.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mp-kernel.h"
#include "util.h"

static int read_u64(int dfd, const char *name, int base, uint64_t *v)
{
	char buf[64];
	int err = mp_read_attr(dfd, name, buf, sizeof(buf));

	if (err < 0)
		return err;
	return mp_parse_u64(buf, base, v);
}

static int read_int(int dfd, const char *name, int *v)
{
	char buf[32], *end;
	long l;

	if (mp_read_attr(dfd, name, buf, sizeof(buf)) < 0)
		return -ENOENT;
	l = strtol(buf, &end, 10);
	if (*end || end == buf)
		return -EINVAL;
	*v = (int)l;
	return 0;
}

static void link_base(int dfd, const char *name, char *out, size_t len)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

	out[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(out, len, "%s", base ? base + 1 : target);
}

/*
 * Parent device name: the second-to-last component of the device's real
 * path.  @nvdimm: whether the path runs through an nvdimm bus (dax_pmem),
 * as opposed to e.g. hmem or CXL.
 */
static void parent_of(int busfd, const char *name, char *out, size_t len, bool *nvdimm)
{
	char target[PATH_MAX], *slash;
	ssize_t n = readlinkat(busfd, name, target, sizeof(target) - 1);

	out[0] = '\0';
	*nvdimm = false;
	if (n <= 0)
		return;
	target[n] = '\0';
	*nvdimm = strstr(target, "/ndbus") != NULL;
	slash = strrchr(target, '/');
	if (!slash)
		return;
	*slash = '\0';
	slash = strrchr(target, '/');
	snprintf(out, len, "%s", slash ? slash + 1 : target);
}

static int scan_dir(const struct mp_ctx *ctx, const char *rel, const char *prefix, DIR **dirp,
		    char *path, size_t pathlen)
{
	int err = mp_ctx_path(ctx, path, pathlen, "%s", rel);

	if (err)
		return err;
	*dirp = opendir(path);
	if (!*dirp) {
		err = -errno;
		if (err == -ENOENT)
			return 1; /* bus not present: no devices */
		mp_ctx_err(ctx, "%s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

static void read_dax(const struct mp_ctx *ctx, int busfd, const char *path, struct mp_dax_dev *d)
{
	_mp_close_ int dfd = -1;
	uint64_t v;

	dfd = openat(busfd, d->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d->target_node = -1;
	d->numa_node = -1;
	if (dfd < 0) {
		mp_ctx_warn(ctx, "%s/%s: %s", path, d->name, strerror(errno));
		return;
	}
	if (read_u64(dfd, "resource", 16, &d->start))
		d->start = UINT64_MAX; /* unknown: root only, or absent */
	if (!read_u64(dfd, "size", 0, &v))
		d->size = v;
	if (!read_u64(dfd, "align", 0, &v))
		d->align = v;
	read_int(dfd, "target_node", &d->target_node);
	read_int(dfd, "numa_node", &d->numa_node);
	link_base(dfd, "driver", d->driver, sizeof(d->driver));
	parent_of(busfd, d->name, d->parent, sizeof(d->parent), &d->from_nvdimm);
	for (int i = 0; i < MP_DAX_MAX_RANGES; i++) {
		char name[32];
		uint64_t s, e;

		snprintf(name, sizeof(name), "mapping%d/start", i);
		if (read_u64(dfd, name, 16, &s))
			break;
		snprintf(name, sizeof(name), "mapping%d/end", i);
		if (read_u64(dfd, name, 16, &e))
			break;
		d->ranges[i].start = s;
		d->ranges[i].end = e;
		d->nr_ranges = i + 1;
	}
	if (!d->nr_ranges && d->start != UINT64_MAX && d->size) {
		d->ranges[0].start = d->start;
		d->ranges[0].end = d->start + d->size - 1;
		d->nr_ranges = 1;
	}
	if (d->start == UINT64_MAX && d->nr_ranges)
		d->start = d->ranges[0].start;
}

static int cmp_name(const void *a, const void *b)
{
	return strverscmp((const char *)a, (const char *)b);
}

int mp_dax_scan(const struct mp_ctx *ctx, struct mp_dax_dev **out, size_t *nr)
{
	char path[PATH_MAX];
	struct mp_dax_dev *devs = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *dir;
	int err;

	*out = NULL;
	*nr = 0;
	err = scan_dir(ctx, "sys/bus/dax/devices", "dax", &dir, path, sizeof(path));
	if (err)
		return err > 0 ? 0 : err;
	while ((de = readdir(dir))) {
		struct mp_dax_dev *nd;

		/* daxX.Y only; the bus also lists dax_region-less seeds the same way. */
		if (strncmp(de->d_name, "dax", 3) || !strchr(de->d_name, '.'))
			continue;
		nd = realloc(devs, (n + 1) * sizeof(*devs));
		if (!nd) {
			free(devs);
			closedir(dir);
			return -ENOMEM;
		}
		devs = nd;
		memset(&devs[n], 0, sizeof(devs[n]));
		snprintf(devs[n].name, sizeof(devs[n].name), "%s", de->d_name);
		read_dax(ctx, dirfd(dir), path, &devs[n]);
		n++;
	}
	closedir(dir);
	if (n > 1)
		qsort(devs, n, sizeof(*devs), cmp_name);
	*out = devs;
	*nr = n;
	return 0;
}

int mp_namespace_scan(const struct mp_ctx *ctx, struct mp_namespace **out, size_t *nr)
{
	char path[PATH_MAX];
	struct mp_namespace *nss = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *dir;
	int err;

	*out = NULL;
	*nr = 0;
	err = scan_dir(ctx, "sys/bus/nd/devices", "namespace", &dir, path, sizeof(path));
	if (err)
		return err > 0 ? 0 : err;
	while ((de = readdir(dir))) {
		_mp_close_ int dfd = -1;
		struct mp_namespace *nn, *ns;
		uint64_t v;

		if (strncmp(de->d_name, "namespace", 9))
			continue;
		dfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		nn = realloc(nss, (n + 1) * sizeof(*nss));
		if (!nn) {
			free(nss);
			closedir(dir);
			return -ENOMEM;
		}
		nss = nn;
		ns = &nss[n++];
		memset(ns, 0, sizeof(*ns));
		snprintf(ns->name, sizeof(ns->name), "%s", de->d_name);
		mp_read_attr(dfd, "mode", ns->mode, sizeof(ns->mode));
		mp_read_attr(dfd, "devtype", ns->devtype, sizeof(ns->devtype));
		ns->start = read_u64(dfd, "resource", 16, &v) ? UINT64_MAX : v;
		if (!read_u64(dfd, "size", 0, &v))
			ns->size = v;
		ns->numa_node = -1;
		read_int(dfd, "numa_node", &ns->numa_node);
	}
	closedir(dir);
	if (n > 1)
		qsort(nss, n, sizeof(*nss), cmp_name);
	*out = nss;
	*nr = n;
	return 0;
}
