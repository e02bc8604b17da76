// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/kpageflags: one u64 per PFN (fs/proc/page.c kpageflags_read()).
 *
 * Offsets and lengths must be multiples of 8 (else EINVAL).  Reads stop at
 * max_dump_pfn, which hot-add raises but ZONE_DEVICE does not: a devdax range
 * above boot memory reads as EOF, which means "no online page here", not an
 * error (KERNEL-RULES.md §6).
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mp-json.h"
#include "mp-kernel.h"
#include "util.h"

#define CHUNK_PFNS 65536 /* 512 KiB per pread */

struct mp_kpageflags {
	const struct mp_ctx *ctx; /* for messages */
	struct mp_kernel_rules rules; /* of the root's release, read at open */
	/* memory_hotplug.memmap_on_memory, read at open ("" unknown) */
	char memmap_param[16];
	int fd;
	char path[PATH_MAX];
	uint64_t *buf;
};

int mp_kpageflags_open(const struct mp_ctx *ctx, struct mp_kpageflags **out)
{
	struct mp_kpageflags *kpf;
	int err;

	kpf = calloc(1, sizeof(*kpf));
	if (!kpf)
		return -ENOMEM;
	kpf->ctx = ctx;
	{
		int maj, min;

		/* No release (a dump without proc/sys): both memmap forms count. */
		mp_kernel_version(ctx, &maj, &min);
		mp_kernel_rules_for(maj, min, &kpf->rules);
	}
	/*
	 * Read once: the parameter is 0444, set on the command line only
	 * (mm/memory_hotplug.c, module_param_cb(memmap_on_memory, ..., 0444)).
	 */
	if (mp_ctx_path(ctx, kpf->path, sizeof(kpf->path),
			"sys/module/memory_hotplug/parameters/memmap_on_memory") ||
	    mp_read_attr(AT_FDCWD, kpf->path, kpf->memmap_param, sizeof(kpf->memmap_param)) < 0)
		kpf->memmap_param[0] = '\0';
	err = mp_ctx_path(ctx, kpf->path, sizeof(kpf->path), "proc/kpageflags");
	if (err)
		goto out_free;
	kpf->fd = open(kpf->path, O_RDONLY | O_CLOEXEC);
	if (kpf->fd < 0) {
		err = -errno;
		if (err == -EACCES || err == -EPERM)
			mp_ctx_err(ctx, "%s: %s (readable by root only)", kpf->path,
				   strerror(-err));
		else
			mp_ctx_err(ctx, "%s: %s", kpf->path, strerror(-err));
		goto out_free;
	}
	kpf->buf = malloc(CHUNK_PFNS * sizeof(uint64_t));
	if (!kpf->buf) {
		close(kpf->fd);
		err = -ENOMEM;
		goto out_free;
	}
	*out = kpf;
	return 0;

out_free:
	free(kpf);
	return err;
}

void mp_kpageflags_close(struct mp_kpageflags *kpf)
{
	if (!kpf)
		return;
	close(kpf->fd);
	free(kpf->buf);
	free(kpf);
}

/*
 * Is @f one of memmap_on_memory's self-hosted vmemmap pages?  The page is
 * SetPageVmemmapSelfHosted() (PG_owner_priv_1: KPF_OWNER_PRIVATE) in
 * mhp_init_memmap_on_memory() (mm/memory_hotplug.c) on every release; what
 * else it reads moved in 6.11 (features.c, mp_kernel_rules_for()):
 * - before 6.11 it keeps the PG_reserved that memmap_init_range() gave all
 *   hot-added pages: RESERVED|OWNER_PRIVATE (0x2100000000 in a 6.1 guest);
 * - from 6.11 memmap_init_range() sets PageOffline instead and
 *   mhp_init_memmap_on_memory() clears it: OWNER_PRIVATE alone
 *   (0x2000000000 in a 6.12 guest).  PG_owner_priv_1 has other owners
 *   (PG_checked of page-cache folios, Xen's PG_pinned), but those pages
 *   carry UAPI bits (LRU, UPTODATE, ...) too: only a page with no UAPI bit
 *   and no RESERVED is taken for memmap.
 */
static bool is_memmap_self(const struct mp_kernel_rules *r, uint64_t f)
{
	const uint64_t owner = 1ULL << MP_KPF_OWNER_PRIVATE, res = 1ULL << MP_KPF_RESERVED;
	bool old_form = (f & (owner | res)) == (owner | res);
	bool new_form = (f & owner) && !(f & res) && !(f & 0xffffffffULL);

	if (!r->known)
		return old_form || new_form;
	return r->memmap_owner_private_only ? new_form : old_form;
}

static void count_one(const struct mp_kernel_rules *r, uint64_t f, struct mp_kpf_counts *c)
{
	bool self = is_memmap_self(r, f);

	if (f & (1ULL << MP_KPF_NOPAGE))
		c->nopage++;
	if (self)
		c->memmap_self++;
	if (f & (1ULL << MP_KPF_RESERVED)) {
		c->reserved++;
		if (!self)
			c->reserved_other++;
	}
	if (f & (1ULL << MP_KPF_BUDDY))
		c->buddy++;
	if (f & (1ULL << MP_KPF_SLAB))
		c->slab++;
	if (f & (1ULL << MP_KPF_PGTABLE))
		c->pgtable++;
	if (f & (1ULL << MP_KPF_OFFLINE))
		c->offline++;
	if (f & (1ULL << MP_KPF_HWPOISON))
		c->hwpoison++;
	if (f & (1ULL << MP_KPF_LRU))
		c->lru++;
	/*
	 * THP tail pages carry no LRU bit of their own (only the head's
	 * state shows as KPF_THP), so huge pages are left out of
	 * "unmovable" rather than counted as kernel allocations.
	 */
	if (!(f & ((1ULL << MP_KPF_NOPAGE) | (1ULL << MP_KPF_BUDDY) | (1ULL << MP_KPF_LRU) |
		   (1ULL << MP_KPF_THP) | (1ULL << MP_KPF_HUGE))) &&
	    !self)
		c->unmovable++;
}

int mp_kpageflags_count(struct mp_kpageflags *kpf, uint64_t pfn, uint64_t nr,
			struct mp_kpf_counts *c)
{
	uint64_t done = 0;

	memset(c, 0, sizeof(*c));
	c->pfns = nr;
	while (done < nr) {
		uint64_t want = MP_MIN(nr - done, (uint64_t)CHUNK_PFNS);
		ssize_t n;

		n = pread(kpf->fd, kpf->buf, want * 8, (off_t)((pfn + done) * 8));
		if (n < 0) {
			int err = -errno;

			if (err == -EINTR)
				continue;
			mp_ctx_err(kpf->ctx, "%s: read at pfn 0x%llx: %s", kpf->path,
				   (unsigned long long)(pfn + done), strerror(-err));
			return err;
		}
		if (n == 0) {
			c->eof += nr - done;
			break;
		}
		if (n % 8) {
			mp_ctx_err(kpf->ctx, "%s: short read of %zd bytes at pfn 0x%llx", kpf->path,
				   n, (unsigned long long)(pfn + done));
			return -EIO;
		}
		for (ssize_t i = 0; i < n / 8; i++)
			count_one(&kpf->rules, kpf->buf[i], c);
		done += (uint64_t)n / 8;
	}
	return 0;
}

struct json_object *mp_kpf_counts_to_json(const struct mp_kpf_counts *k)
{
	/* One name per count, for explain -J and the drain's evidence alike. */
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "pfns", offsetof(struct mp_kpf_counts, pfns) },
		{ "nopage", offsetof(struct mp_kpf_counts, nopage) },
		{ "past_eof", offsetof(struct mp_kpf_counts, eof) },
		{ "reserved", offsetof(struct mp_kpf_counts, reserved) },
		{ "memmap_on_memory", offsetof(struct mp_kpf_counts, memmap_self) },
		{ "buddy", offsetof(struct mp_kpf_counts, buddy) },
		{ "slab", offsetof(struct mp_kpf_counts, slab) },
		{ "pgtable", offsetof(struct mp_kpf_counts, pgtable) },
		{ "offline", offsetof(struct mp_kpf_counts, offline) },
		{ "hwpoison", offsetof(struct mp_kpf_counts, hwpoison) },
		{ "lru", offsetof(struct mp_kpf_counts, lru) },
		{ "unmovable", offsetof(struct mp_kpf_counts, unmovable) },
	};
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; o && i < MP_ARRAY_SIZE(fields); i++)
		mp_json_add_u64(o, fields[i].name,
				*(const uint64_t *)((const char *)k + fields[i].off));
	return o;
}

int mp_kpageflags_memmap_expected(const struct mp_kpageflags *kpf, uint64_t range_bytes,
				  uint64_t block_size, const char **param, const char **release)
{
	*param = kpf->memmap_param;
	*release = kpf->rules.name;
	if (!kpf->memmap_param[0])
		return -1;
	return mp_kernel_memmap_expected(&kpf->rules, kpf->memmap_param, range_bytes, block_size);
}
