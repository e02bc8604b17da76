// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the sysfs/procfs values memplug reads, as a tree.
 *
 * The input is a list of files ("@@ PATH\n" then the contents, up to the
 * next "\n@@ " or the end) and symlinks ("@> PATH TARGET\n"), written to a
 * scratch sysroot; then everything that reads a sysroot runs on it: the
 * block scan (block_size_bytes, state, valid_zones, phys_index, node links,
 * firmware_node uid, removable), the dax and nvdimm buses, the kernel
 * features (osrelease, module parameters), zoneinfo.  The seeds are the
 * recorded guests of tests/fixtures converted by seed-sysfs.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "mp-kernel.h"
#include "util.h"

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p);
}

/* A path the scratch tree may hold: relative, no "..", plain characters. */
static bool path_ok(const char *p, size_t n)
{
	if (!n || n > 200 || p[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!(c == '/' || c == '.' || c == '-' || c == '_' || c == ':' ||
		      (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
		if (c == '.' && i + 1 < n && p[i + 1] == '.')
			return false;
	}
	return true;
}

static void mkparents(const char *root, const char *rel)
{
	char p[PATH_MAX];
	size_t off = strlen(root) + 1;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + off; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
}

static void build_tree(const char *root, const char *in, size_t size)
{
	const char *p = in, *end = in + size;

	while (p < end) {
		const char *nl, *next, *name;
		char rel[256], path[PATH_MAX];
		bool link;
		size_t n;

		/* The length first: the input is not NUL-terminated (a 1-byte tail was read past). */
		if (end - p < 3 || p[0] != '@' || (p[1] != '@' && p[1] != '>') || p[2] != ' ')
			return;
		link = p[1] == '>';
		name = p + 3;
		nl = memchr(name, '\n', (size_t)(end - name));
		if (!nl)
			nl = end;
		if (link) {
			const char *sp = memchr(name, ' ', (size_t)(nl - name));

			if (sp && path_ok(name, (size_t)(sp - name)) && nl - sp > 1 &&
			    nl - sp < 200) {
				char target[256];

				snprintf(rel, sizeof(rel), "%.*s", (int)(sp - name), name);
				snprintf(target, sizeof(target), "%.*s", (int)(nl - sp - 1),
					 sp + 1);
				mkparents(root, rel);
				snprintf(path, sizeof(path), "%s/%s", root, rel);
				if (symlink(target, path)) {
					/* an existing one is fine */
				}
			}
			p = nl < end ? nl + 1 : end;
			continue;
		}
		n = (size_t)(nl - name);
		next = nl < end ? nl + 1 : end;
		/* contents: up to "\n@@ " / "\n@> " (the newline is the file's) */
		{
			const char *c = next, *stop = end;

			for (const char *q = next; q + 4 <= end; q++)
				if (q[0] == '\n' && q[1] == '@' && (q[2] == '@' || q[2] == '>') &&
				    q[3] == ' ') {
					stop = q + 1;
					break;
				}
			if (path_ok(name, n)) {
				int fd;

				snprintf(rel, sizeof(rel), "%.*s", (int)n, name);
				mkparents(root, rel);
				snprintf(path, sizeof(path), "%s/%s", root, rel);
				fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
				if (fd >= 0) {
					if (write(fd, c, (size_t)(stop - c)) < 0) {
						/* a short tree is still a tree */
					}
					close(fd);
				}
			}
			p = stop;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char root[64];
	struct mp_ctx *ctx = NULL;
	struct mp_memory *mem = NULL;

	fuzz_quiet();
	snprintf(root, sizeof(root), "%s/mp-fuzz-sysfs.%d",
		 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm", (int)getpid());
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(root, 0755))
		return 0;
	build_tree(root, (const char *)data, size);
	if (mp_ctx_new(root, &ctx) == 0) {
		struct mp_dax_dev *dax = NULL;
		struct mp_namespace *ns = NULL;
		struct mp_feature *feat = NULL;
		struct mp_zone_free *z = NULL;
		struct mp_geometry geo;
		size_t nr = 0;
		int maj, min;

		mp_geometry_read(ctx, &geo);
		if (mp_memory_scan(ctx, MP_SCAN_ALL | MP_SCAN_REMOVABLE | MP_SCAN_MEMMAP, &mem) ==
		    0) {
			uint64_t ids[2] = { 0, 32 };
			enum mp_block_state st;
			char buf[64];
			uint64_t idx;

			mp_memory_read_zones(ctx, mem, ids, 2);
			/* The engine's rescan against it, naming a block and one that is not there. */
			{
				struct mp_memory *re = NULL;
				uint64_t named[2] = { mem->nr ? mem->blocks[0].id : 0, 1ULL << 40 };

				if (mp_memory_rescan(
					    ctx, MP_SCAN_ALL | MP_SCAN_REMOVABLE | MP_SCAN_MEMMAP,
					    mem, named, 2, &re) == 0) {
					mp_memory_read_zones(ctx, re, NULL, 0);
					mp_memory_free(re);
				}
			}
			for (size_t i = 0; i < mem->nr && i < 64; i++) {
				struct mp_block_links l;

				mp_block_read_links(ctx, mem->blocks[i].id, &l);
				mp_block_read_state(ctx, mem->blocks[i].id, &st);
				mp_block_read_zones(ctx, mem->blocks[i].id, buf, sizeof(buf));
				mp_block_read_phys_index(ctx, mem->blocks[i].id, &idx);
			}
			mp_memory_free(mem);
		}
		if (mp_memory_scan(ctx, MP_SCAN_NODES | MP_SCAN_IOMEM_OPTIONAL | MP_SCAN_DEVICES,
				   &mem) == 0)
			mp_memory_free(mem);
		if (mp_dax_scan(ctx, &dax, &nr) == 0)
			free(dax);
		if (mp_namespace_scan(ctx, &ns, &nr) == 0)
			free(ns);
		if (mp_kernel_features(ctx, &feat, &nr) == 0)
			free(feat);
		if (mp_zoneinfo_read(ctx, &z, &nr) == 0)
			free(z);
		mp_kernel_version(ctx, &maj, &min);
		mp_ctx_free(ctx);
	}
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
