// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Snapshots: record the hotplug-relevant part of sysfs and procfs into a
 * directory that --sysroot can read, for test fixtures and bug reports.
 *
 * Symlinks are recreated with their original (relative) targets, and the
 * directories they point to that memplug reads (ACPI memory devices, dax
 * and nd devices) are copied to the same relative place, so the recorded
 * tree resolves like the real one.  /proc/kpageflags is stored as
 * run-length text (proc/kpageflags.rle) because the binary file is 8 bytes
 * per PFN of the whole address space; mp_snapshot_expand() rebuilds it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mp-kernel.h"
#include "util.h"

#define RLE_MAGIC "# memplug kpageflags rle v1"

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_file(const char *path, const char *data, size_t len)
{
	_mp_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Copy one attribute; unreadable ones (write-only, EIO) are skipped, not errors. */
static int copy_attr(const char *src, const char *dst)
{
	char buf[65536];
	_mp_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return 0;
	return write_file(dst, buf, (size_t)n);
}

static int copy_link(const char *src, const char *dst)
{
	char target[PATH_MAX];
	ssize_t n = readlink(src, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	unlink(dst);
	if (symlink(target, dst))
		return -errno;
	return 0;
}

static bool skip_dir(const char *name)
{
	/* Runtime-PM and hugepage subtrees are large and say nothing about hotplug. */
	return !strcmp(name, "power") || !strcmp(name, "hugepages") || !strcmp(name, "subsystem") ||
	       !strcmp(name, "firmware_node") || !strcmp(name, "driver");
}

/*
 * Copy @rel (a directory below both roots) without following symlinks,
 * descending @depth levels of real subdirectories.
 */
static int copy_tree(const char *sroot, const char *droot, const char *rel, int depth)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int err;

	snprintf(src, sizeof(src), "%s/%s", sroot, rel);
	snprintf(dst, sizeof(dst), "%s/%s", droot, rel);
	dir = opendir(src);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	err = mkdir_p(dst);
	while (!err && (de = readdir(dir))) {
		char s[PATH_MAX], d[PATH_MAX], r[PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(s, sizeof(s), "%s/%s", src, de->d_name) >= (int)sizeof(s) ||
		    snprintf(d, sizeof(d), "%s/%s", dst, de->d_name) >= (int)sizeof(d) ||
		    snprintf(r, sizeof(r), "%s/%s", rel, de->d_name) >= (int)sizeof(r))
			continue;
		if (lstat(s, &st))
			continue;
		if (S_ISLNK(st.st_mode))
			err = copy_link(s, d);
		else if (S_ISREG(st.st_mode))
			err = copy_attr(s, d);
		else if (S_ISDIR(st.st_mode) && depth > 0 && !skip_dir(de->d_name))
			err = copy_tree(sroot, droot, r, depth - 1);
	}
	closedir(dir);
	return err;
}

/* Resolve a relative symlink target against the link's directory, lexically. */
static int resolve_rel(const char *linkdir, const char *target, char *out, size_t len)
{
	char buf[PATH_MAX * 2];
	char *parts[256];
	int n = 0;

	if (target[0] == '/')
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s/%s", linkdir, target);
	for (char *tok = strtok(buf, "/"); tok; tok = strtok(NULL, "/")) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (n > 0)
				n--;
			continue;
		}
		if (n == (int)MP_ARRAY_SIZE(parts))
			return -ENAMETOOLONG;
		parts[n++] = tok;
	}
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t used = strlen(out);

		if (snprintf(out + used, len - used, "%s%s", i ? "/" : "", parts[i]) >=
		    (int)(len - used))
			return -ENAMETOOLONG;
	}
	return 0;
}

/* For every symlink named @linkname (or every link when NULL) in @rel/<entry>, copy its target. */
static int copy_link_targets(const char *sroot, const char *droot, const char *rel,
			     const char *linkname, int depth)
{
	char src[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int err = 0;

	snprintf(src, sizeof(src), "%s/%s", sroot, rel);
	dir = opendir(src);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while (!err && (de = readdir(dir))) {
		char lpath[PATH_MAX], ldir[PATH_MAX], target[PATH_MAX], resolved[PATH_MAX];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		if (linkname) {
			snprintf(lpath, sizeof(lpath), "%s/%s/%s", src, de->d_name, linkname);
			snprintf(ldir, sizeof(ldir), "%s/%s", rel, de->d_name);
		} else {
			snprintf(lpath, sizeof(lpath), "%s/%s", src, de->d_name);
			snprintf(ldir, sizeof(ldir), "%s", rel);
		}
		n = readlink(lpath, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (resolve_rel(ldir, target, resolved, sizeof(resolved)))
			continue;
		err = copy_tree(sroot, droot, resolved, depth);
	}
	closedir(dir);
	return err;
}

static int record_kpageflags(const struct mp_ctx *ctx, const char *dest)
{
	struct mp_kpageflags *kpf;
	char path[PATH_MAX], src[PATH_MAX];
	uint64_t buf[8192], pfn = 0, run_start = 0, run_val = 0;
	bool have_run = false;
	_mp_close_ int fd = -1;
	FILE *out;
	int err;

	err = mp_kpageflags_open(ctx, &kpf);
	if (err)
		return err;
	mp_kpageflags_close(kpf);
	/* Sequential reads until EOF: the file ends at max_dump_pfn. */
	mp_ctx_path(ctx, src, sizeof(src), "proc/kpageflags");
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/proc/kpageflags.rle", dest);
	out = fopen(path, "we");
	if (!out)
		return -errno;
	fprintf(out, "%s\n# pfn count flags (hex); 'end' gives the file length in pfns\n",
		RLE_MAGIC);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)(pfn * 8));

		if (n < 0) {
			err = -errno;
			mp_ctx_err(ctx, "%s: read at pfn 0x%llx: %s", src, (unsigned long long)pfn,
				   strerror(-err));
			fclose(out);
			return err;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n / 8; i++, pfn++) {
			if (have_run && buf[i] == run_val)
				continue;
			if (have_run)
				fprintf(out, "%llx %llx %llx\n", (unsigned long long)run_start,
					(unsigned long long)(pfn - run_start),
					(unsigned long long)run_val);
			run_start = pfn;
			run_val = buf[i];
			have_run = true;
		}
	}
	if (have_run)
		fprintf(out, "%llx %llx %llx\n", (unsigned long long)run_start,
			(unsigned long long)(pfn - run_start), (unsigned long long)run_val);
	fprintf(out, "end %llx\n", (unsigned long long)pfn);
	if (fclose(out))
		return -errno;
	return 0;
}

int mp_snapshot_record(const struct mp_ctx *ctx, const char *dest)
{
	static const struct {
		const char *rel;
		int depth;
	} trees[] = {
		{ "sys/devices/system/memory", 1 },
		{ "sys/devices/system/node", 1 },
		{ "sys/bus/dax", 3 },
		{ "sys/bus/nd", 2 },
		{ "sys/bus/virtio", 2 },
		{ "sys/module/memory_hotplug/parameters", 0 },
	};
	const char *sroot = mp_ctx_root(ctx);
	struct mp_iomem *io;
	_mp_free_ char *text = NULL;
	char path[PATH_MAX];
	size_t len;
	int err;

	/* Refuse early when iomem shows zeros: such a snapshot would lie. */
	err = mp_iomem_read(ctx, &io);
	if (err)
		return err;
	mp_iomem_free(io);

	err = mkdir_p(dest);
	if (err) {
		mp_ctx_err(ctx, "%s: %s", dest, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < MP_ARRAY_SIZE(trees); i++) {
		err = copy_tree(sroot, dest, trees[i].rel, trees[i].depth);
		if (err) {
			mp_ctx_err(ctx, "%s/%s: %s", dest, trees[i].rel, strerror(-err));
			return err;
		}
	}
	/* The devices behind the links memplug follows. */
	err = copy_link_targets(sroot, dest, "sys/devices/system/memory", "firmware_node", 0);
	if (!err)
		err = copy_link_targets(sroot, dest, "sys/bus/dax/devices", NULL, 1);
	if (!err)
		err = copy_link_targets(sroot, dest, "sys/bus/nd/devices", NULL, 0);
	if (!err)
		err = copy_link_targets(sroot, dest, "sys/bus/virtio/devices", NULL, 0);
	if (err) {
		mp_ctx_err(ctx, "%s: copying linked devices: %s", dest, strerror(-err));
		return err;
	}

	snprintf(path, sizeof(path), "%s/proc/sys/kernel", dest);
	err = mkdir_p(path);
	if (err)
		return err;
	mp_ctx_path(ctx, path, sizeof(path), "proc/sys/kernel/osrelease");
	{
		char d[PATH_MAX];

		snprintf(d, sizeof(d), "%s/proc/sys/kernel/osrelease", dest);
		copy_attr(path, d);
	}
	mp_ctx_path(ctx, path, sizeof(path), "proc/iomem");
	err = mp_read_file_alloc(path, &text, &len);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/proc/iomem", dest);
	err = write_file(path, text, len);
	if (err)
		return err;
	err = record_kpageflags(ctx, dest);
	if (err)
		mp_ctx_warn(ctx, "%s: kpageflags not recorded: %s", dest, strerror(-err));
	return 0;
}

int mp_snapshot_expand(const char *root)
{
	char path[PATH_MAX], line[256];
	_mp_close_ int fd = -1;
	unsigned int lineno = 0;
	bool ended = false;
	FILE *in;
	int err = 0;

	snprintf(path, sizeof(path), "%s/proc/kpageflags.rle", root);
	in = fopen(path, "re");
	if (!in)
		return -errno;
	snprintf(line, sizeof(line), "%s/proc/kpageflags", root);
	fd = open(line, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);
	if (fd < 0) {
		err = -errno;
		fclose(in);
		return err;
	}
	while (fgets(line, sizeof(line), in)) {
		unsigned long long a, b, c;

		lineno++;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "end %llx", &a) == 1) {
			if (ftruncate(fd, (off_t)(a * 8)))
				err = -errno;
			ended = true;
			break;
		}
		if (sscanf(line, "%llx %llx %llx", &a, &b, &c) != 3) {
			mp_err("%s:%u: malformed run", path, lineno);
			err = -EINVAL;
			break;
		}
		if (!c)
			continue; /* left as a hole: reads back as zeros */
		for (unsigned long long i = 0; i < b && !err;) {
			uint64_t buf[4096];
			unsigned long long k =
				MP_MIN(b - i, (unsigned long long)MP_ARRAY_SIZE(buf));

			for (unsigned long long j = 0; j < k; j++)
				buf[j] = c;
			if (pwrite(fd, buf, k * 8, (off_t)((a + i) * 8)) != (ssize_t)(k * 8))
				err = -EIO;
			i += k;
		}
	}
	fclose(in);
	if (!err && !ended) {
		mp_err("%s: no 'end' line: truncated", path);
		err = -EINVAL;
	}
	return err;
}
