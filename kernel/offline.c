// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Draining a device before an unplug: offline all of its blocks, or none.
 *
 * A refused eject leaves the guest with whatever the kernel's ACPI code
 * managed to offline before giving up; that code puts the blocks back itself
 * (acpi_scan_try_to_offline() -> acpi_bus_online()), but only into the zone
 * plain "online" picks, which need not be the one they were in.  Draining
 * first, under one deadline, with our own rollback into the zone each block
 * was in, lets the host ask for the eject only when it will succeed and
 * otherwise get the refusing block, the errno, the kernel's reason and the
 * page flags behind it.
 *
 * Order.  The ACPI eject offlines a DIMM's blocks in ascending address order
 * (acpi_bind_one() keeps physical nodes sorted by bind order, and the blocks
 * are bound by walk_memory_blocks()); virtio-mem's
 * offline_and_remove_memory() does the same.  The order does not change
 * whether a device can be drained in 6.1: migration sends pages to any free
 * memory, and a refusal undoes everything either way.  It changes what a
 * refusal costs: every block offlined before it had its pages migrated for
 * nothing, and has to be onlined again.  So by default the blocks that
 * predictably refuse (valid_zones "none"; a kernel-zone block holding slab,
 * page-table or reserved pages; reserved pages in a Movable block; poisoned
 * pages) go first, then the rest in ascending order like the eject.
 * MP_OFFLINE_ADDRESS_ORDER gives the eject's own order.
 *
 * Zones.  valid_zones of an online block is the one zone it is in, and
 * reading it is safe (the 6.1 oops in valid_zones_show() is only for offline
 * blocks in the eject window, see memblock.c).  Movable goes back with
 * "online_movable", DMA/DMA32/Normal with "online_kernel", which picks the
 * kernel zone that spans the range (KERNEL-RULES.md §11).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-json.h"
#include "mp-kernel.h"
#include "util.h"

const char *mp_offline_outcome_name(enum mp_offline_outcome o)
{
	switch (o) {
	case MP_OFFLINE_NOT_TRIED:
		return "not tried";
	case MP_OFFLINE_ALREADY:
		return "already offline";
	case MP_OFFLINE_OFFLINED:
		return "offlined";
	case MP_OFFLINE_REFUSED:
		return "refused";
	case MP_OFFLINE_ROLLED_BACK:
		return "rolled back";
	case MP_OFFLINE_ROLLBACK_FAILED:
		return "rollback failed";
	case MP_OFFLINE_ROLLBACK_ZONE:
		return "rolled back into another zone";
	}
	return "?";
}

/* Would offline_pages() refuse this block, judging by what we can see? */
static bool is_suspect(const struct mp_offline_block *b, const struct mp_kpf_counts *c)
{
	bool movable = !strcmp(b->zone_before, "Movable");

	if (!strcmp(b->zone_before, "none"))
		return true; /* spans zones: -EINVAL, always */
	if (!c)
		return false;
	/* memmap_on_memory's own vmemmap is outside the range offlined. */
	if (c->reserved_other || c->hwpoison)
		return true;
	/* has_unmovable_pages() skips everything but PG_reserved in ZONE_MOVABLE. */
	return !movable && (c->slab || c->pgtable);
}

/* Ascending, suspects first unless the caller wants the eject's order. */
static void plan_order(const struct mp_offline_result *r, unsigned int flags, size_t *order)
{
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++) {
		/* selection by id among the blocks of this pass: n is tiny */
		uint64_t last = 0;
		bool have_last = false;

		for (;;) {
			ssize_t best = -1;

			for (size_t i = 0; i < r->nr; i++) {
				const struct mp_offline_block *b = &r->blocks[i];
				bool in_pass = (flags & MP_OFFLINE_ADDRESS_ORDER) ?
						       pass == 0 :
						       (pass == 0) == b->suspect;

				if (!in_pass || (have_last && b->id <= last))
					continue;
				if (best < 0 || b->id < r->blocks[best].id)
					best = (ssize_t)i;
			}
			if (best < 0)
				break;
			order[n++] = (size_t)best;
			last = r->blocks[best].id;
			have_last = true;
		}
	}
}

static const char *zone_word(const char *zone)
{
	if (!strcmp(zone, "Movable"))
		return "online_movable";
	if (!strcmp(zone, "Normal") || !strcmp(zone, "DMA32") || !strcmp(zone, "DMA"))
		return "online_kernel";
	return NULL;
}

/* Put one block back where it was; the kernel has no limit on onlining. */
static void roll_back(const struct mp_ctx *ctx, struct mp_offline_block *b)
{
	enum mp_block_state st = MP_BLOCK_UNKNOWN;
	int err;

	if (!b->rollback_word) {
		/* valid_zones named no zone we can ask for ("none"): nowhere to go back to. */
		b->outcome = MP_OFFLINE_ROLLBACK_FAILED;
		b->rollback_err = -EINVAL;
		mp_ctx_err(
			ctx,
			"memory%llu: ROLLBACK FAILED: zone '%s' before offlining has no online word; the block stays offline",
			(unsigned long long)b->id, b->zone_before);
		return;
	}
	err = mp_block_write_state(ctx, b->id, b->rollback_word, 0);
	/* Onlining can fail on a transient -ENOMEM (memmap, notifiers): once more. */
	if (err && err != -EINVAL)
		err = mp_block_write_state(ctx, b->id, b->rollback_word, 0);
	/* EINVAL can mean another onliner was faster: judge by the state. */
	if (err == -EINVAL && !mp_block_read_state(ctx, b->id, &st) && st == MP_BLOCK_ONLINE)
		err = 0;
	if (err) {
		b->outcome = MP_OFFLINE_ROLLBACK_FAILED;
		b->rollback_err = err;
		mp_ctx_err(ctx, "memory%llu: ROLLBACK FAILED: %s: %s; the block stays offline",
			   (unsigned long long)b->id, b->rollback_word, strerror(-err));
		return;
	}
	if (mp_block_read_zones(ctx, b->id, b->zone_after, sizeof(b->zone_after)))
		snprintf(b->zone_after, sizeof(b->zone_after), "?");
	if (strcmp(b->zone_after, b->zone_before)) {
		b->outcome = MP_OFFLINE_ROLLBACK_ZONE;
		mp_ctx_err(ctx, "memory%llu: rolled back into %s, was %s",
			   (unsigned long long)b->id, b->zone_after, b->zone_before);
		return;
	}
	b->outcome = MP_OFFLINE_ROLLED_BACK;
}

/* Read every block's state and zone before touching any. */
static int prepare(const struct mp_ctx *ctx, struct mp_offline_result *r, struct mp_kpageflags *kpf,
		   unsigned int flags)
{
	struct mp_geometry geo;
	int err;

	err = mp_geometry_read(ctx, &geo);
	if (err)
		return err;
	for (size_t i = 0; i < r->nr; i++) {
		struct mp_offline_block *b = &r->blocks[i];
		struct mp_kpf_counts c, *kc = NULL;
		enum mp_block_state st;

		b->start = mp_block_to_addr(&geo, b->id);
		b->size = geo.block_size;
		err = mp_block_read_state(ctx, b->id, &st);
		if (err) {
			mp_ctx_err(ctx, "memory%llu: state: %s", (unsigned long long)b->id,
				   strerror(-err));
			goto out_err;
		}
		if (st == MP_BLOCK_OFFLINE) {
			b->outcome = MP_OFFLINE_ALREADY;
			continue;
		}
		err = mp_block_read_zones(ctx, b->id, b->zone_before, sizeof(b->zone_before));
		if (err) {
			mp_ctx_err(ctx, "memory%llu: valid_zones: %s", (unsigned long long)b->id,
				   strerror(-err));
			goto out_err;
		}
		/* "none" (spans zones) gets no word: offline refuses it before any change. */
		b->rollback_word = zone_word(b->zone_before);
		if (flags & MP_OFFLINE_ADDRESS_ORDER)
			continue;
		if (kpf && !mp_kpageflags_count(kpf, mp_addr_to_pfn(b->start),
						b->size >> MP_PAGE_SHIFT, &c))
			kc = &c;
		b->suspect = is_suspect(b, kc);
		continue;
out_err:
		/* Nothing was written: say which block stopped us. */
		r->failed = (ssize_t)i;
		b->err = err;
		snprintf(r->why.reason, sizeof(r->why.reason),
			 "not written: reading its state or zone failed: %s", strerror(-err));
		return err;
	}
	return 0;
}

static void record_evidence(struct mp_offline_result *r, struct mp_kpageflags *kpf,
			    const char *kpf_error, const struct mp_offline_block *b)
{
	int err;

	if (!kpf) {
		snprintf(r->kpf_error, sizeof(r->kpf_error), "%s", kpf_error);
		return;
	}
	err = mp_kpageflags_count(kpf, mp_addr_to_pfn(b->start), b->size >> MP_PAGE_SHIFT, &r->kpf);
	if (err) {
		snprintf(r->kpf_error, sizeof(r->kpf_error), "proc/kpageflags: %s", strerror(-err));
		return;
	}
	r->kpf_valid = true;
}

int mp_blocks_offline(const struct mp_ctx *ctx, const uint64_t *ids, size_t nr, int timeout_ms,
		      unsigned int flags, struct mp_offline_result **out)
{
	const uint64_t t0 = mp_now_ms();
	const uint64_t deadline = timeout_ms > 0 ? t0 + (uint64_t)timeout_ms : 0;
	struct mp_kpageflags *kpf = NULL;
	struct mp_offline_result *r;
	struct mp_kmsg *kmsg = NULL;
	char kpf_error[96] = "";
	size_t *order = NULL, nr_offlined = 0;
	size_t *offlined = NULL;
	int err;

	*out = NULL;
	if (!nr || timeout_ms < 0)
		return -EINVAL;
	for (size_t i = 0; i < nr; i++)
		for (size_t j = i + 1; j < nr; j++)
			if (ids[i] == ids[j])
				return -EINVAL;
	r = calloc(1, sizeof(*r) + nr * sizeof(r->blocks[0]));
	order = calloc(nr, sizeof(*order));
	offlined = calloc(nr, sizeof(*offlined));
	if (!r || !order || !offlined) {
		err = -ENOMEM;
		goto out_free;
	}
	r->nr = nr;
	r->failed = -1;
	r->deadline_ms = (uint64_t)timeout_ms;
	for (size_t i = 0; i < nr; i++)
		r->blocks[i].id = ids[i];

	/* Evidence is best effort: a drain without it still drains. */
	err = mp_kpageflags_open(ctx, &kpf);
	if (err) {
		kpf = NULL;
		snprintf(kpf_error, sizeof(kpf_error), "proc/kpageflags: %s", strerror(-err));
	}
	err = prepare(ctx, r, kpf, flags);
	if (err)
		goto out_result;
	err = mp_kmsg_open(ctx, &kmsg);
	if (err)
		goto out_result;
	plan_order(r, flags, order);

	for (size_t k = 0; k < nr; k++) {
		struct mp_offline_block *b = &r->blocks[order[k]];
		enum mp_block_state st = MP_BLOCK_UNKNOWN;
		uint64_t now = mp_now_ms(), w0;
		int left = 0;

		if (b->outcome == MP_OFFLINE_ALREADY)
			continue;
		if (deadline) {
			if (now >= deadline) {
				r->timed_out = true;
				r->failed = (ssize_t)order[k];
				snprintf(r->why.reason, sizeof(r->why.reason),
					 "not written: the deadline of %d ms passed before it",
					 timeout_ms);
				err = -ETIMEDOUT;
				break;
			}
			left = (int)(deadline - now);
		}
		b->tried = (unsigned int)k + 1;
		mp_kmsg_mark(kmsg);
		w0 = mp_now_ms();
		err = mp_block_write_state(ctx, b->id, "offline", left);
		b->write_ms = mp_now_ms() - w0;
		if (!err) {
			b->outcome = MP_OFFLINE_OFFLINED;
			offlined[nr_offlined++] = order[k];
			continue;
		}
		/* Asking for the state it is in: someone offlined it meanwhile. */
		if (err == -EINVAL && !mp_block_read_state(ctx, b->id, &st) &&
		    st == MP_BLOCK_OFFLINE) {
			b->outcome = MP_OFFLINE_ALREADY;
			err = 0;
			continue;
		}
		b->outcome = MP_OFFLINE_REFUSED;
		b->err = err;
		r->failed = (ssize_t)order[k];
		mp_kmsg_offline_why(kmsg, b->start, b->start + b->size - 1, &r->why);
		record_evidence(r, kpf, kpf_error, b);
		if (err == -EINTR && deadline && mp_now_ms() >= deadline) {
			r->timed_out = true;
			err = -ETIMEDOUT;
		}
		break;
	}
	r->err = err;
	if (err) {
		const struct mp_offline_block *f = r->failed >= 0 ? &r->blocks[r->failed] : NULL;

		if (f && f->outcome == MP_OFFLINE_REFUSED)
			mp_ctx_info(
				ctx,
				"memory%llu: offline refused: %s (%s); rolling back %zu block(s)",
				(unsigned long long)f->id, strerror(-f->err), r->why.reason,
				nr_offlined);
		else
			mp_ctx_info(ctx, "deadline of %d ms passed; rolling back %zu block(s)",
				    timeout_ms, nr_offlined);
		/* Newest first: undo in the reverse order of doing. */
		while (nr_offlined) {
			struct mp_offline_block *b = &r->blocks[offlined[--nr_offlined]];

			roll_back(ctx, b);
			if (b->outcome == MP_OFFLINE_ROLLED_BACK)
				r->rolled_back++;
			else
				r->rollback_failed = true;
		}
		if (r->rollback_failed)
			err = -ENOTRECOVERABLE;
	}

out_result:
	r->elapsed_ms = mp_now_ms() - t0;
	if (err && !r->err)
		r->err = err;
	*out = r;
	r = NULL;
out_free:
	mp_kmsg_close(kmsg);
	mp_kpageflags_close(kpf);
	free(order);
	free(offlined);
	free(r);
	return err;
}
/* "EBUSY" for -EBUSY: the names operators grep for. */
static const char *err_name(int err)
{
	const char *n = strerrorname_np(-err);

	return n ? n : "E?";
}

struct json_object *mp_offline_result_to_json(const struct mp_offline_result *r)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	const struct mp_offline_why *w = &r->why;

	mp_json_add_str(root, "result", r->err ? err_name(r->err) : "ok");
	mp_json_add_bool(root, "timed_out", r->timed_out);
	mp_json_add_bool(root, "rollback_failed", r->rollback_failed);
	mp_json_add_u64(root, "rolled_back", r->rolled_back);
	mp_json_add_u64(root, "deadline_ms", r->deadline_ms);
	mp_json_add_u64(root, "elapsed_ms", r->elapsed_ms);
	for (size_t i = 0; i < r->nr; i++) {
		const struct mp_offline_block *b = &r->blocks[i];
		struct json_object *o = json_object_new_object();

		mp_json_add_u64(o, "block", b->id);
		mp_json_add_str(o, "outcome", mp_offline_outcome_name(b->outcome));
		mp_json_add_u64(o, "tried", b->tried);
		mp_json_add_bool(o, "suspect", b->suspect);
		mp_json_add_str(o, "zone_before", b->zone_before);
		mp_json_add_str(o, "zone_after", b->zone_after);
		mp_json_add_str(o, "rollback_word", b->rollback_word);
		mp_json_add_str(o, "errno", b->err ? err_name(b->err) : "");
		mp_json_add_str(o, "rollback_errno",
				b->rollback_err ? err_name(b->rollback_err) : "");
		mp_json_add_u64(o, "write_ms", b->write_ms);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "blocks", arr);
	if (r->failed >= 0) {
		const struct mp_offline_block *f = &r->blocks[r->failed];
		struct json_object *o = json_object_new_object();

		mp_json_add_u64(o, "block", f->id);
		mp_json_add_str(o, "outcome", mp_offline_outcome_name(f->outcome));
		mp_json_add_u64(o, "tried", f->tried);
		mp_json_add_str(o, "errno", f->err ? err_name(f->err) : "");
		mp_json_add_str(o, "error", f->err ? strerror(-f->err) : "");
		mp_json_add_bool(o, "reason_from_kernel", w->from_kernel);
		mp_json_add_str(o, "reason", w->reason);
		mp_json_add_str(o, "message", w->message);
		mp_json_add_u64(o, "page_dumps", w->nr_dumps);
		mp_json_add_str(o, "dump_because", w->dump_because);
		mp_json_add_u64(o, "dump_pfn", w->dump_pfn);
		mp_json_add_str(o, "dump", w->dump);
		mp_json_add_u64(o, "migrate_failures", w->nr_migrate_failures);
		mp_json_add_str(o, "migrate_line", w->migrate_line);
		if (r->kpf_valid)
			json_object_object_add(o, "kpageflags", mp_kpf_counts_to_json(&r->kpf));
		else if (f->tried)
			mp_json_add_str(o, "kpageflags_error", r->kpf_error);
		json_object_object_add(root, "failed", o);
	}
	return root;
}
