// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory blocks: /sys/devices/system/memory/memoryN and the device each one
 * belongs to.
 *
 * The scan is built to read only what the caller's output needs: one
 * getdents pass over the memory directory, one openat+read per attribute
 * per block, relative to a directory fd so the kernel walks one component,
 * and node membership from node/nodeN/ listings (one pass per node) rather
 * than a directory listing per block as lsmem does.  The two are the same
 * facts: do_register_memory_block_under_node() (drivers/base/node.c, 5.10+,
 * and register_mem_sect_under_node() before) creates node/nodeN/memoryM and
 * memoryM/nodeN together, and unregister_memory_block_under_nodes() removes
 * both; a boot block on a node boundary gets one pair per node it spans
 * (register_mem_block_under_node_early() walks its PFNs), and every one is
 * recorded.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "mp-kernel.h"
#include "util.h"

#define MEMORY_DIR "sys/devices/system/memory"
#define NODE_DIR "sys/devices/system/node"

int mp_geometry_read(const struct mp_ctx *ctx, struct mp_geometry *geo)
{
	char path[PATH_MAX], buf[64];
	uint64_t bs;
	int err;

	err = mp_ctx_path(ctx, path, sizeof(path), MEMORY_DIR "/block_size_bytes");
	if (err)
		return err;
	err = mp_read_attr(AT_FDCWD, path, buf, sizeof(buf));
	if (err < 0) {
		mp_ctx_err(ctx, "%s: %s", path, strerror(-err));
		return err;
	}
	/* The kernel prints it with "%lx": hex without 0x. */
	if (mp_parse_u64(buf, 16, &bs) || bs == 0) {
		mp_ctx_err(ctx, "%s: block size '%s' is not a hex number", path, buf);
		return -EINVAL;
	}
	if ((bs & (bs - 1)) || bs % MP_SECTION_SIZE) {
		mp_ctx_err(
			ctx,
			"%s: block size 0x%llx is not a power of two multiple of the 128 MiB section",
			path, (unsigned long long)bs);
		return -EINVAL;
	}
	geo->page_size = MP_PAGE_SIZE;
	geo->subsection_size = MP_SUBSECTION_SIZE;
	geo->section_size = MP_SECTION_SIZE;
	geo->block_size = bs;
	return 0;
}

/*
 * The words of the state file and of devrefs, one table each for both
 * directions: the list model's JSON goes through them and back.
 */
static const char *const state_names[] = {
	[MP_BLOCK_OFFLINE] = "offline",
	[MP_BLOCK_ONLINE] = "online",
	[MP_BLOCK_GOING_OFFLINE] = "going-offline",
};

static const char *const dev_kind_names[] = {
	[MP_DEV_BOOT] = "boot",
	[MP_DEV_DIMM] = "dimm",
	[MP_DEV_DAX] = "dax",
	[MP_DEV_VIRTIO_MEM] = "virtio-mem",
};

static const char *name_of(const char *const *names, size_t n, unsigned int v)
{
	return v < n && names[v] ? names[v] : "unknown";
}

/* The index of the @len bytes at @s in @names, -1 when none. */
static int value_of(const char *const *names, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strlen(names[i]) == len && !strncmp(s, names[i], len))
			return (int)i;
	return -1;
}

const char *mp_block_state_name(enum mp_block_state s)
{
	return name_of(state_names, MP_ARRAY_SIZE(state_names), s);
}

const char *mp_dev_kind_name(enum mp_dev_kind k)
{
	return name_of(dev_kind_names, MP_ARRAY_SIZE(dev_kind_names), k);
}

const char *mp_devref_format(const struct mp_devref *d, char *buf, size_t len)
{
	if (d->kind == MP_DEV_UNKNOWN)
		snprintf(buf, len, "-");
	else if (d->kind == MP_DEV_BOOT || !d->name[0])
		snprintf(buf, len, "%s", mp_dev_kind_name(d->kind));
	else
		snprintf(buf, len, "%s:%s", mp_dev_kind_name(d->kind), d->name);
	return buf;
}

int mp_devref_parse(const char *s, struct mp_devref *d)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	uint64_t slot;
	int kind;

	memset(d, 0, sizeof(*d));
	d->slot = -1;
	if (!strcmp(s, "-"))
		return 0;
	kind = value_of(dev_kind_names, MP_ARRAY_SIZE(dev_kind_names), s, n);
	if (kind < 0)
		return -EINVAL;
	d->kind = (enum mp_dev_kind)kind;
	if (colon)
		snprintf(d->name, sizeof(d->name), "%s", colon + 1);
	if (d->kind == MP_DEV_DIMM && !strncmp(d->name, "slot", 4) &&
	    !mp_parse_u64(d->name + 4, 10, &slot))
		d->slot = (int)slot;
	return 0;
}

int mp_block_parse_name(const char *s, uint64_t *id)
{
	char back[24];

	if (!strncmp(s, "memory", 6))
		s += 6;
	if (mp_parse_u64(s, 10, id))
		return -EINVAL;
	/*
	 * Only the kernel's own spelling (drivers/base/memory.c names a block
	 * by its subsystem, "memory", and its id in decimal): "memory05" or
	 * "memory+5" would name memory5 a second time, and two entries for
	 * one id would leave the scan with a block it never filled in
	 * (fuzz-sysfs found it).
	 */
	snprintf(back, sizeof(back), "%llu", (unsigned long long)*id);
	return strcmp(back, s) ? -EINVAL : 0;
}

enum mp_block_state mp_block_state_parse(const char *s)
{
	int v = value_of(state_names, MP_ARRAY_SIZE(state_names), s, strlen(s));

	return v < 0 ? MP_BLOCK_UNKNOWN : (enum mp_block_state)v;
}

bool mp_block_zones_readable(const struct mp_block *b)
{
	return b->nr_nodes > 0 || b->state == MP_BLOCK_ONLINE;
}

const char *mp_block_format_nodes(const struct mp_block *b, char *buf, size_t len)
{
	size_t p = 0;
	int n = MP_MIN(b->nr_nodes, MP_BLOCK_MAX_NODES);

	if (!len)
		return buf;
	if (!n) {
		snprintf(buf, len, "-");
		return buf;
	}
	buf[0] = '\0';
	for (int i = 0; i < n && p < len; i++)
		p += (size_t)snprintf(buf + p, len - p, "%s%d", i ? "," : "", b->nodes[i]);
	if (b->nr_nodes > n && p < len)
		snprintf(buf + p, len - p, ",...");
	return buf;
}

bool mp_block_same_nodes(const struct mp_block *a, const struct mp_block *b)
{
	if (a->nr_nodes != b->nr_nodes)
		return false;
	for (int i = 0; i < MP_MIN(a->nr_nodes, MP_BLOCK_MAX_NODES); i++)
		if (a->nodes[i] != b->nodes[i])
			return false;
	return true;
}

/* Insert @node keeping nodes[] ascending; node = the lowest. */
static void block_add_node(struct mp_block *b, int node)
{
	int n = MP_MIN(b->nr_nodes, MP_BLOCK_MAX_NODES), i;

	for (i = 0; i < n; i++)
		if (b->nodes[i] == node)
			return;
	if (n < MP_BLOCK_MAX_NODES) {
		for (i = n; i > 0 && b->nodes[i - 1] > node; i--)
			b->nodes[i] = b->nodes[i - 1];
		b->nodes[i] = node;
	}
	b->nr_nodes++;
	b->node = b->nodes[0];
}

static int cmp_block(const void *a, const void *b)
{
	const struct mp_block *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct mp_block *mp_memory_find(const struct mp_memory *mem, uint64_t id)
{
	struct mp_block key = { .id = id };

	if (!mem->nr)
		return NULL;
	if (mem->index) {
		if (id >= mem->index_len || mem->index[id] < 0)
			return NULL;
		return &mem->blocks[mem->index[id]];
	}
	return bsearch(&key, mem->blocks, mem->nr, sizeof(key), cmp_block);
}

struct mp_block *mp_memory_find_addr(const struct mp_memory *mem, uint64_t addr)
{
	return mp_memory_find(mem, mp_addr_to_block(&mem->geo, addr));
}

void mp_memory_free(struct mp_memory *mem)
{
	if (!mem)
		return;
	mp_iomem_free(mem->iomem);
	free(mem->blocks);
	free(mem->index);
	free(mem);
}

/*
 * Block numbers are dense in practice (gaps only where no section is
 * present), so place blocks by number and keep the id -> position index for
 * mp_memory_find(): both qsort() and a bsearch() per node link showed in
 * profiles of a 65,536-block scan.  Sparse numbers fall back to qsort().
 */
static int sort_blocks(struct mp_memory *mem)
{
	struct mp_block *sorted;
	uint64_t max = 0;
	size_t k = 0;

	for (size_t i = 0; i < mem->nr; i++)
		max = MP_MAX(max, mem->blocks[i].id);
	if (!mem->nr || max >= 4 * (uint64_t)mem->nr + 4096 || max >= INT32_MAX) {
		if (mem->nr > 1)
			qsort(mem->blocks, mem->nr, sizeof(*mem->blocks), cmp_block);
		return 0;
	}
	mem->index_len = max + 1;
	mem->index = malloc(mem->index_len * sizeof(*mem->index));
	sorted = malloc(mem->nr * sizeof(*sorted));
	if (!mem->index || !sorted) {
		free(sorted);
		return -ENOMEM;
	}
	for (uint64_t id = 0; id <= max; id++)
		mem->index[id] = -1;
	for (size_t i = 0; i < mem->nr; i++)
		mem->index[mem->blocks[i].id] = (int32_t)i;
	for (uint64_t id = 0; id <= max; id++) {
		if (mem->index[id] < 0)
			continue;
		sorted[k] = mem->blocks[mem->index[id]];
		mem->index[id] = (int32_t)k++;
	}
	free(mem->blocks);
	mem->blocks = sorted;
	return 0;
}

/* List memoryN entries; the directory can have gaps (absent sections). */
static int list_blocks(const struct mp_ctx *ctx, DIR *dir, const char *path, struct mp_memory *mem)
{
	size_t cap = 256;
	struct dirent *de;

	mem->blocks = malloc(cap * sizeof(*mem->blocks));
	if (!mem->blocks)
		return -ENOMEM;
	errno = 0;
	while ((de = readdir(dir))) {
		struct mp_block *b;
		uint64_t id;

		/* memoryN only: the directory also holds the knobs (auto_online_blocks, ...). */
		if (strncmp(de->d_name, "memory", 6) || !isdigit((unsigned char)de->d_name[6]))
			continue;
		if (mp_block_parse_name(de->d_name, &id)) {
			mp_ctx_err(
				ctx,
				"%s/%s: not a block name the kernel writes (memoryN, N in decimal without leading zeros)",
				path, de->d_name);
			return -EINVAL;
		}
		if (mem->nr == cap) {
			struct mp_block *nb;

			cap *= 2;
			nb = realloc(mem->blocks, cap * sizeof(*nb));
			if (!nb)
				return -ENOMEM;
			mem->blocks = nb;
		}
		b = &mem->blocks[mem->nr++];
		memset(b, 0, sizeof(*b));
		b->id = id;
		b->start = mp_block_to_addr(&mem->geo, id);
		b->size = mem->geo.block_size;
		b->node = -1;
		b->removable = -1;
		b->memmap_on_memory = -1;
		b->dev.slot = -1;
	}
	if (errno) {
		int err = -errno;

		mp_ctx_err(ctx, "%s: readdir: %s", path, strerror(-err));
		return err;
	}
	return sort_blocks(mem);
}

/*
 * Node membership from node/nodeN/memoryM links: one listing per node.  The
 * kernel creates these links after the block's "add" uevent, so a block
 * without one is reported with node -1, not guessed.  A block listed under
 * several nodes keeps them all.
 */
static int scan_nodes(const struct mp_ctx *ctx, struct mp_memory *mem)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *top;
	int err;

	err = mp_ctx_opendir(ctx, NODE_DIR, path, sizeof(path), &top);
	if (err) {
		/* !CONFIG_NUMA has no node directory: every block is node 0. */
		if (err == -ENOENT) {
			for (size_t i = 0; i < mem->nr; i++)
				block_add_node(&mem->blocks[i], 0);
			return 0;
		}
		mp_ctx_err(ctx, "%s: %s", path, strerror(-err));
		return err;
	}
	while ((de = readdir(top))) {
		uint64_t node;
		struct dirent *me;
		DIR *nd;
		int fd;

		if (strncmp(de->d_name, "node", 4) || mp_parse_u64(de->d_name + 4, 10, &node))
			continue;
		fd = openat(dirfd(top), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || !(nd = fdopendir(fd))) {
			err = -errno;
			if (fd >= 0)
				close(fd);
			mp_ctx_err(ctx, "%s/%s: %s", path, de->d_name, strerror(-err));
			closedir(top);
			return err;
		}
		while ((me = readdir(nd))) {
			struct mp_block *b;
			uint64_t id;

			if (strncmp(me->d_name, "memory", 6) ||
			    mp_block_parse_name(me->d_name, &id))
				continue;
			b = mp_memory_find(mem, id);
			if (b && node <= INT_MAX)
				block_add_node(b, (int)node);
		}
		closedir(nd);
	}
	closedir(top);
	return 0;
}

/*
 * A DIMM's blocks link to their ACPI memory device (PNP0C80); QEMU numbers
 * the device's _UID with the DIMM slot (hw/acpi/memory_hotplug.c builds one
 * MEMn device per slot with _UID = slot).  The link appears after the blocks
 * are added (acpi_bind_memory_blocks()), so a fresh block may lack it.
 */
static void read_firmware_node(int memfd, struct mp_block *b, struct mp_devref *last)
{
	char rel[64], target[PATH_MAX], buf[32];
	const char *base;
	uint64_t uid;
	ssize_t n;

	snprintf(rel, sizeof(rel), "memory%llu/firmware_node", (unsigned long long)b->id);
	n = readlinkat(memfd, rel, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strncmp(base, "PNP0C80", 7))
		return;
	b->dev.kind = MP_DEV_DIMM;
	/* Blocks of one DIMM share the device: reuse the uid read for the previous block. */
	if (last->kind == MP_DEV_DIMM && !strcmp(last->acpi, base)) {
		b->dev = *last;
		return;
	}
	snprintf(b->dev.acpi, sizeof(b->dev.acpi), "%s", base);
	snprintf(rel, sizeof(rel), "memory%llu/firmware_node/uid", (unsigned long long)b->id);
	if (mp_read_attr(memfd, rel, buf, sizeof(buf)) >= 0 && !mp_parse_u64(buf, 0, &uid)) {
		b->dev.slot = (int)uid;
		snprintf(b->dev.name, sizeof(b->dev.name), "slot%llu", (unsigned long long)uid);
	}
	*last = b->dev;
}

/* Driver-managed RAM names its owner through the iomem parent (§7). */
static void device_from_iomem(const struct mp_iomem *io, struct mp_block *b)
{
	const struct mp_iomem_res *r = mp_iomem_find_sysram(io, b->start, b->start + b->size - 1);
	const char *pname;

	if (!r)
		return;
	pname = r->parent ? r->parent->name : NULL;
	if (!strcmp(r->name, "System RAM (kmem)") && pname && !strncmp(pname, "dax", 3)) {
		b->dev.kind = MP_DEV_DAX;
		snprintf(b->dev.name, sizeof(b->dev.name), "%s", pname);
	} else if (!strcmp(r->name, "System RAM (virtio_mem)") && pname &&
		   !strncmp(pname, "virtio", 6)) {
		b->dev.kind = MP_DEV_VIRTIO_MEM;
		snprintf(b->dev.name, sizeof(b->dev.name), "%s", pname);
	} else if (!strcmp(r->name, "System RAM") && b->dev.kind == MP_DEV_UNKNOWN) {
		/* Plain System RAM without an ACPI memory device: boot memory. */
		b->dev.kind = MP_DEV_BOOT;
	}
}

/*
 * Attribute reads for the per-block loop, closing descriptors in batches
 * with close_range(2): a large guest has tens of thousands of blocks and the
 * close per file was a third of the scan's syscalls.  The batch is a few
 * runs of consecutive fds we opened ourselves (an inherited fd can sit in
 * the middle of the free range), so close_range() never takes a stranger's
 * fd; nothing else opens files during the loop (the library is
 * single-threaded).
 */
#define BATCH_RUNS 8
#define BATCH_FDS 256

struct attr_batch {
	int nr_runs, nr_fds;
	struct {
		int lo, hi;
	} run[BATCH_RUNS];
};

static void batch_flush(struct attr_batch *ab)
{
	for (int i = 0; i < ab->nr_runs; i++)
		if (close_range((unsigned int)ab->run[i].lo, (unsigned int)ab->run[i].hi, 0))
			for (int fd = ab->run[i].lo; fd <= ab->run[i].hi; fd++)
				close(fd);
	ab->nr_runs = ab->nr_fds = 0;
}

static void batch_add(struct attr_batch *ab, int fd)
{
	if (ab->nr_runs && fd == ab->run[ab->nr_runs - 1].hi + 1) {
		ab->run[ab->nr_runs - 1].hi = fd;
	} else if (ab->nr_runs < BATCH_RUNS) {
		ab->run[ab->nr_runs].lo = ab->run[ab->nr_runs].hi = fd;
		ab->nr_runs++;
	} else {
		close(fd);
		return;
	}
	ab->nr_fds++;
}

static int batch_read(struct attr_batch *ab, int dirfd, const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	/* Flush before opening, so the next fd is the batch's lowest again. */
	if (ab->nr_fds >= BATCH_FDS)
		batch_flush(ab);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	batch_add(ab, fd);
	return mp_attr_terminate(buf, (size_t)n, len);
}

/* memoryN/<name> during a scan; the message names the path. */
static int scan_attr(const struct mp_ctx *ctx, struct attr_batch *ab, int memfd, const char *dir,
		     uint64_t id, const char *name, char *buf, size_t len)
{
	char rel[64];
	int err;

	snprintf(rel, sizeof(rel), "memory%llu/%s", (unsigned long long)id, name);
	err = batch_read(ab, memfd, rel, buf, len);
	if (err < 0)
		mp_ctx_err(ctx, "%s/%s: %s", dir, rel, strerror(-err));
	return err < 0 ? err : 0;
}

/*
 * /proc/iomem for a scan.  Without MP_SCAN_IOMEM_OPTIONAL every failure is
 * the caller's error (the daemon must not guess).  With it, the reasons a
 * plain user or a dump without procfs gives (absent, unreadable, all-zero
 * addresses) leave mem->iomem NULL and one sentence in mem->iomem_why, and
 * nothing is logged: the caller says it once.  A damaged file (malformed
 * line) stays an error, with its file:line message.
 */
static int scan_iomem(const struct mp_ctx *ctx, unsigned int flags, struct mp_memory *mem)
{
	char path[PATH_MAX];
	int err;

	if (!(flags & MP_SCAN_IOMEM_OPTIONAL))
		return mp_iomem_read(ctx, &mem->iomem);
	err = mp_ctx_path(ctx, path, sizeof(path), "proc/iomem");
	if (err)
		return err;
	err = mp_iomem_read_flags(ctx, MP_IOMEM_QUIET_ACCESS, &mem->iomem);
	if (err == -EPERM) {
		snprintf(mem->iomem_why, sizeof(mem->iomem_why),
			 "%s: all addresses read as zero (opened without CAP_SYS_ADMIN)", path);
	} else if (err == -ENOENT || err == -EACCES) {
		snprintf(mem->iomem_why, sizeof(mem->iomem_why), "%s: %s", path, strerror(-err));
	} else if (err) {
		/* A damaged file is an error for everyone (said with its file:line). */
		return err;
	}
	if (!err)
		return 0;
	mem->iomem = NULL;
	return 0;
}

/* s390's sys/firmware/memory/memoryN/memmap_on_memory, as lsmem reads it. */
static void read_memmap_on_memory(int fwfd, struct mp_block *b)
{
	char rel[64], buf[16];
	uint64_t v;

	snprintf(rel, sizeof(rel), "memory%llu/memmap_on_memory", (unsigned long long)b->id);
	if (mp_read_attr(fwfd, rel, buf, sizeof(buf)) >= 0 && !mp_parse_u64(buf, 10, &v))
		b->memmap_on_memory = v == 1;
}

/* memoryN/<name> that a kernel may lack: no message. */
static int scan_attr_quiet(struct attr_batch *ab, int memfd, uint64_t id, const char *name,
			   char *buf, size_t len)
{
	char rel[64];
	int err;

	snprintf(rel, sizeof(rel), "memory%llu/%s", (unsigned long long)id, name);
	err = batch_read(ab, memfd, rel, buf, len);
	return err < 0 ? err : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The block @prev says @b (same id) was, if that can be trusted without
 * reading: online there with its zone read (an online block's zone is
 * fixed until it goes offline, valid_zones_show()), and not in @changed
 * (sorted).  Any state change of a block comes with a uevent naming it
 * (device_online() and device_offline() in drivers/base/core.c send
 * KOBJ_ONLINE/KOBJ_OFFLINE, whoever wrote memoryN/state, the kernel's own
 * auto-online included), so the caller's list of named blocks is what
 * can have changed.  Offline blocks are always read: their valid_zones
 * move with their neighbours, and a DIMM's link may still come.
 */
static const struct mp_block *unchanged_in(const struct mp_memory *prev, const uint64_t *changed,
					   size_t nr_changed, const struct mp_block *b)
{
	const struct mp_block *p;

	if (!prev)
		return NULL;
	p = mp_memory_find(prev, b->id);
	if (!p || p->state != MP_BLOCK_ONLINE || !p->zones[0])
		return NULL;
	if (nr_changed && bsearch(&b->id, changed, nr_changed, sizeof(*changed), cmp_u64))
		return NULL;
	return p;
}

/* What the per-block reads gave for @p, taken over into @b (nodes and iomem are read anew). */
static void take_over(struct mp_block *b, const struct mp_block *p)
{
	b->state = p->state;
	b->removable = p->removable;
	b->memmap_on_memory = p->memmap_on_memory;
	memcpy(b->zones, p->zones, sizeof(b->zones));
	/* Only what the firmware_node link said; iomem's part is looked up again. */
	if (p->dev.kind == MP_DEV_DIMM)
		b->dev = p->dev;
}

static int scan(const struct mp_ctx *ctx, unsigned int flags, const struct mp_memory *prev,
		const uint64_t *changed_in, size_t nr_changed, struct mp_memory **out)
{
	char path[PATH_MAX], buf[64];
	uint64_t *changed = NULL;
	struct mp_devref last = { .kind = MP_DEV_UNKNOWN };
	struct attr_batch ab = { 0 };
	struct mp_memory *mem;
	bool imply_state;
	DIR *dir = NULL;
	int memfd, fwfd = -1, maj, min, err;

	if (flags & MP_SCAN_DEVICES)
		flags |= MP_SCAN_IOMEM;
	/* Zones are read only where mp_block_zones_readable(): node links first. */
	if (flags & MP_SCAN_ZONES)
		flags |= MP_SCAN_NODES;
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	err = mp_geometry_read(ctx, &mem->geo);
	if (err)
		goto out_free;
	if (prev && prev->geo.block_size != mem->geo.block_size)
		prev = NULL;
	if (prev && nr_changed) {
		changed = malloc(nr_changed * sizeof(*changed));
		if (!changed) {
			err = -ENOMEM;
			goto out_free;
		}
		memcpy(changed, changed_in, nr_changed * sizeof(*changed));
		qsort(changed, nr_changed, sizeof(*changed), cmp_u64);
	}
	err = mp_ctx_opendir(ctx, MEMORY_DIR, path, sizeof(path), &dir);
	if (err) {
		mp_ctx_err(ctx, "%s: %s", path, strerror(-err));
		goto out_free;
	}
	memfd = dirfd(dir);
	if (mp_read_attr(memfd, "auto_online_blocks", mem->auto_online, sizeof(mem->auto_online)) <
	    0)
		mem->auto_online[0] = '\0';
	err = list_blocks(ctx, dir, path, mem);
	if (err)
		goto out_free;

	if (flags & MP_SCAN_IOMEM) {
		err = scan_iomem(ctx, flags, mem);
		if (err)
			goto out_free;
	}
	if (flags & MP_SCAN_NODES) {
		err = scan_nodes(ctx, mem);
		if (err)
			goto out_free;
	}
	if (flags & MP_SCAN_MEMMAP) {
		char fw[PATH_MAX];

		if (!mp_ctx_path(ctx, fw, sizeof(fw), "sys/firmware/memory"))
			fwfd = open(fw, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	/* Without a release (a dump without proc/) nothing says what one word means. */
	mp_kernel_version(ctx, &maj, &min);
	imply_state = mp_kernel_zones_imply_state(maj, min);

	for (size_t i = 0; i < mem->nr; i++) {
		struct mp_block *b = &mem->blocks[i];
		const struct mp_block *p = unchanged_in(prev, changed, nr_changed, b);

		if (p) {
			take_over(b, p);
			goto iomem;
		}
		/* Node link known, state not yet: see mp_block_zones_readable(). */
		if ((flags & MP_SCAN_ZONES) && mp_block_zones_readable(b)) {
			err = scan_attr(ctx, &ab, memfd, path, b->id, "valid_zones", b->zones,
					sizeof(b->zones));
			if (err)
				goto out_free;
			/*
			 * From 4.14 valid_zones_show() prints one word (the
			 * zone, or "none") only for an online block (see
			 * mp_kernel_zones_imply_state()), so "state" need not
			 * be read; two words can also be going-offline.
			 */
			if (imply_state && b->zones[0] && !strchr(b->zones, ' ')) {
				b->state = MP_BLOCK_ONLINE;
				goto state_known;
			}
		}
		err = scan_attr(ctx, &ab, memfd, path, b->id, "state", buf, sizeof(buf));
		if (err)
			goto out_free;
		b->state = mp_block_state_parse(buf);
		if (b->state == MP_BLOCK_UNKNOWN)
			mp_ctx_warn(ctx, "%s/memory%llu/state: unknown state '%s'", path,
				    (unsigned long long)b->id, buf);
		/* Online without a node link is not the eject window: read the zone. */
		if ((flags & MP_SCAN_ZONES) && !b->zones[0] && mp_block_zones_readable(b)) {
			err = scan_attr(ctx, &ab, memfd, path, b->id, "valid_zones", b->zones,
					sizeof(b->zones));
			if (err)
				goto out_free;
		}
state_known:
		if (flags & MP_SCAN_REMOVABLE) {
			uint64_t v;

			/* lsmem shows it for online blocks; a kernel without the file: -1 */
			if (!scan_attr_quiet(&ab, memfd, b->id, "removable", buf, sizeof(buf)) &&
			    !mp_parse_u64(buf, 10, &v))
				b->removable = v == 1;
		}
		if (fwfd >= 0)
			read_memmap_on_memory(fwfd, b);
		if (flags & MP_SCAN_DEVICES) {
			batch_flush(&ab); /* the helpers below open and close on their own */
			read_firmware_node(memfd, b, &last);
		}
iomem:
		if ((flags & MP_SCAN_DEVICES) && mem->iomem)
			device_from_iomem(mem->iomem, b);
		if ((flags & MP_SCAN_IOMEM) && mem->iomem)
			b->sysram_bytes =
				mp_iomem_sysram_bytes(mem->iomem, b->start, b->start + b->size - 1);
	}
	batch_flush(&ab);
	if (fwfd >= 0)
		close(fwfd);
	closedir(dir);
	free(changed);
	*out = mem;
	return 0;

out_free:
	free(changed);
	batch_flush(&ab);
	if (fwfd >= 0)
		close(fwfd);
	if (dir)
		closedir(dir);
	mp_memory_free(mem);
	return err;
}

int mp_memory_scan(const struct mp_ctx *ctx, unsigned int flags, struct mp_memory **out)
{
	return scan(ctx, flags, NULL, NULL, 0, out);
}

int mp_memory_rescan(const struct mp_ctx *ctx, unsigned int flags, const struct mp_memory *prev,
		     const uint64_t *changed, size_t nr_changed, struct mp_memory **out)
{
	return scan(ctx, flags, prev, changed, nr_changed, out);
}

void mp_memory_read_zones(const struct mp_ctx *ctx, struct mp_memory *mem, const uint64_t *ids,
			  size_t nr_ids)
{
	for (size_t i = 0; i < mem->nr; i++) {
		struct mp_block *b = &mem->blocks[i];

		/* An online block's zone read once (or taken over by mp_memory_rescan()) stays. */
		if (b->state != MP_BLOCK_ONLINE || b->zones[0])
			continue;
		if (mp_block_read_zones(ctx, b->id, b->zones, sizeof(b->zones)))
			b->zones[0] = '\0';
	}
	for (size_t i = 0; i < nr_ids; i++) {
		struct mp_block *b = mp_memory_find(mem, ids[i]);

		if (!b || b->state == MP_BLOCK_ONLINE || !mp_block_zones_readable(b))
			continue;
		if (mp_block_read_zones(ctx, b->id, b->zones, sizeof(b->zones)))
			b->zones[0] = '\0';
	}
}

int mp_block_read_links(const struct mp_ctx *ctx, uint64_t id, struct mp_block_links *l)
{
	char path[PATH_MAX];
	struct dirent *de;
	uint64_t node;
	DIR *dir;
	int err;

	l->node = -1;
	l->firmware_node = false;
	err = mp_ctx_path(ctx, path, sizeof(path), MEMORY_DIR "/memory%llu",
			  (unsigned long long)id);
	if (err)
		return err;
	dir = opendir(path);
	if (!dir)
		return -errno;
	/* One getdents of ~20 entries: the links are entries of the block's directory. */
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, "firmware_node"))
			l->firmware_node = true;
		else if (l->node < 0 && !strncmp(de->d_name, "node", 4) &&
			 !mp_parse_u64(de->d_name + 4, 10, &node))
			l->node = (int)node;
	}
	closedir(dir);
	return 0;
}

/* memoryN/<name> of one block, outside a scan. */
static int read_block_attr(const struct mp_ctx *ctx, uint64_t id, const char *name, char *buf,
			   size_t len)
{
	char path[PATH_MAX];
	int err;

	err = mp_ctx_path(ctx, path, sizeof(path), MEMORY_DIR "/memory%llu/%s",
			  (unsigned long long)id, name);
	if (err)
		return err;
	err = mp_read_attr(AT_FDCWD, path, buf, len);
	return err < 0 ? err : 0;
}

int mp_block_read_state(const struct mp_ctx *ctx, uint64_t id, enum mp_block_state *state)
{
	char buf[32];
	int err = read_block_attr(ctx, id, "state", buf, sizeof(buf));

	if (err)
		return err;
	*state = mp_block_state_parse(buf);
	return 0;
}

int mp_block_read_zones(const struct mp_ctx *ctx, uint64_t id, char *buf, size_t len)
{
	return read_block_attr(ctx, id, "valid_zones", buf, len);
}

int mp_block_read_phys_index(const struct mp_ctx *ctx, uint64_t id, uint64_t *index)
{
	char buf[32];
	int err = read_block_attr(ctx, id, "phys_index", buf, sizeof(buf));

	if (err)
		return err;
	/* "%08lx" of the first section number (drivers/base/memory.c phys_index_show()) */
	return mp_parse_u64(buf, 16, index) ? -EINVAL : 0;
}

/* Only here to make the signal pending: offline_pages() checks signal_pending(). */
static void on_alarm(int sig)
{
	(void)sig;
}

int mp_block_write_state(const struct mp_ctx *ctx, uint64_t id, const char *word, int timeout_ms)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old_sa;
	struct itimerval it = { 0 }, old_it;
	sigset_t alrm, old_mask;
	char path[PATH_MAX];
	bool timed = timeout_ms > 0 && !strcmp(word, "offline");
	int err;

	err = mp_ctx_path(ctx, path, sizeof(path), MEMORY_DIR "/memory%llu/state",
			  (unsigned long long)id);
	if (err)
		return err;
	if (timed) {
		/*
		 * No SA_RESTART: the migration loop in offline_pages() retries
		 * forever unless a signal is pending; the alarm makes the write
		 * return -EINTR instead of hanging the caller.
		 */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, &old_sa);
		/*
		 * A daemon that reads its signals through signalfd keeps them
		 * blocked, and a blocked signal never interrupts the kernel:
		 * unblock SIGALRM for the duration of the write.
		 */
		sigemptyset(&alrm);
		sigaddset(&alrm, SIGALRM);
		sigprocmask(SIG_UNBLOCK, &alrm, &old_mask);
		it.it_value.tv_sec = timeout_ms / 1000;
		it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
		/*
		 * Keep firing: an alarm that lands before write(2) enters the
		 * kernel is handled and gone, and the write would then retry
		 * migration unbounded (short deadlines, a loaded machine).
		 */
		it.it_interval.tv_usec = 20 * 1000;
		setitimer(ITIMER_REAL, &it, &old_it);
	}
	err = mp_write_attr(AT_FDCWD, path, word);
	if (timed) {
		struct itimerval zero = { 0 };

		setitimer(ITIMER_REAL, &zero, NULL);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		sigaction(SIGALRM, &old_sa, NULL);
	}
	return err;
}
