// SPDX-License-Identifier: LGPL-2.1-or-later
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fake-kernel.h"

char *fk_fixture_copy(const char *fixture, const char *memplugctl)
{
	char *dir = strdup("/tmp/mp-fake-kernel-XXXXXX");
	char cmd[8192];

	REQUIRE(dir && mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/' && '%s' snapshot --expand '%s'", fixture,
		 dir, memplugctl, dir);
	REQUIRE(system(cmd) == 0);
	return dir;
}

void fk_fixture_remove(char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	free(dir);
}

int fk_run(const char *fmt, ...)
{
	char cmd[8800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

void fk_put(const char *root, uint64_t id, const char *attr, const char *val)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/devices/system/memory/memory%llu/%s", root,
		 (unsigned long long)id, attr);
	f = fopen(path, "w");
	REQUIRE(f);
	fprintf(f, "%s\n", val);
	fclose(f);
}

void fk_kpf_fill(const char *root, uint64_t pfn, uint64_t n, uint64_t flags)
{
	char path[4096];
	uint64_t *buf = malloc(n * 8);
	int fd;

	snprintf(path, sizeof(path), "%s/proc/kpageflags", root);
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0 && buf);
	for (uint64_t i = 0; i < n; i++)
		buf[i] = flags;
	REQUIRE(pwrite(fd, buf, n * 8, (off_t)(pfn * 8)) == (ssize_t)(n * 8));
	close(fd);
	free(buf);
}

void fk_online(const char *root, uint64_t id, const char *zone, uint64_t flags)
{
	fk_put(root, id, "state", "online");
	fk_put(root, id, "valid_zones", zone);
	fk_kpf_fill(root, id * FK_BLOCK_PAGES, FK_BLOCK_PAGES, flags);
}
