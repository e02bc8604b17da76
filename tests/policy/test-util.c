// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"
#include "util.h"

char *t_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (asprintf(&dir, "%s/mp-policy-XXXXXX", base && *base ? base : "/tmp") < 0)
		FAIL("asprintf");
	if (!mkdtemp(dir))
		FAIL("mkdtemp %s: %s", dir, strerror(errno));
	return dir;
}

static const char *copy_src;
static const char *copy_dst;

static int copy_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char dst[PATH_MAX], target[PATH_MAX];
	const char *rel = path + strlen(copy_src);
	char *content = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(dst, sizeof(dst), "%s%s", copy_dst, rel);
	switch (type) {
	case FTW_D:
		if (*rel && mkdir(dst, 0755) < 0)
			FAIL("mkdir %s: %s", dst, strerror(errno));
		REQUIRE(chmod(dst, 0755) == 0);
		return 0;
	case FTW_SL:
		n = readlink(path, target, sizeof(target) - 1);
		REQUIRE(n >= 0);
		target[n] = '\0';
		if (symlink(target, dst) < 0)
			FAIL("symlink %s: %s", dst, strerror(errno));
		return 0;
	case FTW_F:
		if (mp_read_file_alloc(path, &content, &len) < 0)
			FAIL("read %s", path);
		fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			FAIL("create %s: %s", dst, strerror(errno));
		REQUIRE(write(fd, content, len) == (ssize_t)len);
		REQUIRE(fchmod(fd, 0644) == 0);
		close(fd);
		free(content);
		return 0;
	default:
		FAIL("cannot copy %s (type %d)", path, type);
	}
	(void)st;
	(void)ftw;
	return 0;
}

void t_copy_tree_into(const char *src, const char *dst)
{
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		FAIL("mkdir %s: %s", dst, strerror(errno));
	copy_src = src;
	copy_dst = dst;
	if (nftw(src, copy_one, 16, FTW_PHYS) < 0)
		FAIL("copy %s: %s", src, strerror(errno));
}

char *t_copy_tree(const char *src)
{
	char *dst = t_mkdtemp();

	t_copy_tree_into(src, dst);
	return dst;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

void t_remove_tree(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *t_write_file(const char *dir, const char *name, const char *content, unsigned int mode)
{
	char *path;
	int fd;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		FAIL("asprintf");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		FAIL("create %s: %s", path, strerror(errno));
	REQUIRE(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	/* fchmod, not the open mode: the umask must not decide what is tested. */
	REQUIRE(fchmod(fd, mode) == 0);
	close(fd);
	return path;
}

int t_golden(const char *path, const char *actual)
{
	char *expected = NULL, *tmp, cmd[PATH_MAX * 2 + 32];
	FILE *f;

	if (getenv("MP_UPDATE_GOLDEN")) {
		f = fopen(path, "w");
		if (!f)
			FAIL("write %s: %s", path, strerror(errno));
		fputs(actual, f);
		fclose(f);
		fprintf(stderr, "updated %s\n", path);
		return 0;
	}
	if (mp_read_file_alloc(path, &expected, NULL) < 0)
		FAIL("read %s", path);
	if (!strcmp(expected, actual)) {
		free(expected);
		return 0;
	}
	tmp = t_mkdtemp();
	free(t_write_file(tmp, "actual", actual, 0644));
	fprintf(stderr, "FAIL: output differs from %s (MP_UPDATE_GOLDEN=1 rewrites it):\n", path);
	fflush(stderr);
	snprintf(cmd, sizeof(cmd), "diff -u '%s' '%s/actual' >&2", path, tmp);
	if (system(cmd) < 0)
		fprintf(stderr, "%s\n---\n%s", expected, actual);
	t_remove_tree(tmp);
	free(expected);
	return 1;
}
