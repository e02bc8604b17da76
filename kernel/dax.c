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
#include <stdbool.h>
#include <stddef.h>
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

/* The last component of @path into @out. */
static void copy_base(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');

	snprintf(out, len, "%s", slash ? slash + 1 : path);
}

/* readlinkat() into @target, NUL-terminated; false when @name is no link. */
static bool read_link(int dfd, const char *name, char *target, size_t len)
{
	ssize_t n = readlinkat(dfd, name, target, len - 1);

	if (n <= 0)
		return false;
	target[n] = '\0';
	return true;
}

static void link_base(int dfd, const char *name, char *out, size_t len)
{
	char target[PATH_MAX];

	out[0] = '\0';
	if (read_link(dfd, name, target, sizeof(target)))
		copy_base(target, out, len);
}

/*
 * Parent device name: the second-to-last component of the device's real
 * path.  @nvdimm: whether the path runs through an nvdimm bus (dax_pmem),
 * as opposed to e.g. hmem or CXL.
 */
static void parent_of(int busfd, const char *name, char *out, size_t len, bool *nvdimm)
{
	char target[PATH_MAX], *slash;

	out[0] = '\0';
	*nvdimm = false;
	if (!read_link(busfd, name, target, sizeof(target)))
		return;
	*nvdimm = strstr(target, "/ndbus") != NULL;
	slash = strrchr(target, '/');
	if (!slash)
		return;
	*slash = '\0';
	copy_base(target, out, len);
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

/* The devices of both buses start with their name, char name[BUS_NAME_LEN]. */
#define BUS_NAME_LEN 32
_Static_assert(offsetof(struct mp_dax_dev, name) == 0 &&
		       sizeof(((struct mp_dax_dev *)0)->name) == BUS_NAME_LEN,
	       "struct mp_dax_dev starts with its name");
_Static_assert(offsetof(struct mp_namespace, name) == 0 &&
		       sizeof(((struct mp_namespace *)0)->name) == BUS_NAME_LEN,
	       "struct mp_namespace starts with its name");

/*
 * Every device of the bus directory @rel that @fill keeps, as an array of
 * @size-byte elements sorted by name the way the kernel numbers them
 * (dax0.10 after dax0.9).  @fill gets a zeroed element with its name set
 * and the bus directory's fd, and returns false for an entry that is not a
 * device of interest.  A bus that is not there has no devices.
 */
static int scan_bus(const struct mp_ctx *ctx, const char *rel, size_t size,
		    bool (*fill)(const struct mp_ctx *ctx, int busfd, const char *path, void *dev),
		    void **out, size_t *nr)
{
	char path[PATH_MAX], *devs = NULL, *nd;
	struct dirent *de;
	size_t n = 0;
	DIR *dir;
	int err;

	*out = NULL;
	*nr = 0;
	err = mp_ctx_opendir(ctx, rel, path, sizeof(path), &dir);
	if (err == -ENOENT)
		return 0;
	if (err) {
		mp_ctx_err(ctx, "%s: %s", path, strerror(-err));
		return err;
	}
	while ((de = readdir(dir))) {
		nd = realloc(devs, (n + 1) * size);
		if (!nd) {
			free(devs);
			closedir(dir);
			return -ENOMEM;
		}
		devs = nd;
		memset(devs + n * size, 0, size);
		snprintf(devs + n * size, BUS_NAME_LEN, "%s", de->d_name);
		if (fill(ctx, dirfd(dir), path, devs + n * size))
			n++;
	}
	closedir(dir);
	if (!n) {
		free(devs);
		devs = NULL;
	}
	if (n > 1)
		qsort(devs, n, size, cmp_name);
	*out = devs;
	*nr = n;
	return 0;
}

static bool fill_dax(const struct mp_ctx *ctx, int busfd, const char *path, void *dev)
{
	struct mp_dax_dev *d = dev;

	/* daxX.Y only; the bus also lists dax_region-less seeds the same way. */
	if (strncmp(d->name, "dax", 3) || !strchr(d->name, '.'))
		return false;
	read_dax(ctx, busfd, path, d);
	return true;
}

int mp_dax_scan(const struct mp_ctx *ctx, struct mp_dax_dev **out, size_t *nr)
{
	void *devs;
	int err = scan_bus(ctx, "sys/bus/dax/devices", sizeof(**out), fill_dax, &devs, nr);

	*out = devs;
	return err;
}

static bool fill_namespace(const struct mp_ctx *ctx, int busfd, const char *path, void *dev)
{
	struct mp_namespace *ns = dev;
	_mp_close_ int dfd = -1;
	uint64_t v;

	if (strncmp(ns->name, "namespace", 9))
		return false;
	dfd = openat(busfd, ns->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return false;
	mp_read_attr(dfd, "mode", ns->mode, sizeof(ns->mode));
	mp_read_attr(dfd, "devtype", ns->devtype, sizeof(ns->devtype));
	ns->start = read_u64(dfd, "resource", 16, &v) ? UINT64_MAX : v;
	if (!read_u64(dfd, "size", 0, &v))
		ns->size = v;
	ns->numa_node = -1;
	read_int(dfd, "numa_node", &ns->numa_node);
	return true;
}

int mp_namespace_scan(const struct mp_ctx *ctx, struct mp_namespace **out, size_t *nr)
{
	void *nss;
	int err = scan_bus(ctx, "sys/bus/nd/devices", sizeof(**out), fill_namespace, &nss, nr);

	*out = nss;
	return err;
}
