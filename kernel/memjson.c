// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The list model as JSON: one writer (memplugd's "list" answer) and one
 * reader (memplugctl list), so the two can't drift apart.
 *
 * The reader trusts nothing: the answer crosses a socket, and a model that
 * is half right would be printed as fact.  Every field is checked and the
 * first bad one rejects the whole answer with -EPROTO.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-json.h"
#include "mp-kernel.h"
#include "util.h"

/* Would @b print exactly as @a in a run (everything but id and start)? */
static bool same_run(const struct mp_block *a, const struct mp_block *b)
{
	return b->id == a->id + 1 && a->state == b->state && a->nr_nodes == b->nr_nodes &&
	       !memcmp(a->nodes, b->nodes,
		       sizeof(a->nodes[0]) * (size_t)MP_MIN(a->nr_nodes, MP_BLOCK_MAX_NODES)) &&
	       a->removable == b->removable && a->memmap_on_memory == b->memmap_on_memory &&
	       a->sysram_bytes == b->sysram_bytes && !strcmp(a->zones, b->zones) &&
	       !memcmp(&a->dev, &b->dev, sizeof(a->dev));
}

static struct json_object *memory_json(const struct mp_memory *mem, const char *sysroot, bool runs)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	mp_json_add_str(o, "sysroot", sysroot ? sysroot : "");
	mp_json_add_u64(o, "block_size", mem->geo.block_size);
	mp_json_add_str(o, "auto_online_blocks", mem->auto_online);
	if (mem->iomem_why[0])
		mp_json_add_str(o, "iomem_unavailable", mem->iomem_why);
	for (size_t i = 0, n; i < mem->nr; i += n) {
		const struct mp_block *b = &mem->blocks[i];
		struct json_object *x = json_object_new_object(), *ns = json_object_new_array();
		char dev[48];

		/* The devref is compared as bytes: scans zero it before filling it in. */
		for (n = 1; runs && i + n < mem->nr &&
			    same_run(&mem->blocks[i + n - 1], &mem->blocks[i + n]);)
			n++;
		if (runs)
			mp_json_add_u64(x, "count", n);
		mp_json_add_u64(x, "id", b->id);
		mp_json_add_u64(x, "start", b->start);
		mp_json_add_str(x, "state", mp_block_state_name(b->state));
		mp_json_add_str(x, "zones", b->zones);
		for (int k = 0; k < MP_MIN(b->nr_nodes, MP_BLOCK_MAX_NODES); k++)
			json_object_array_add(ns, json_object_new_int(b->nodes[k]));
		json_object_object_add(x, "nodes", ns);
		mp_json_add_int(x, "removable", b->removable);
		mp_json_add_int(x, "memmap_on_memory", b->memmap_on_memory);
		mp_json_add_str(x, "device", mp_devref_format(&b->dev, dev, sizeof(dev)));
		mp_json_add_u64(x, "system_ram_bytes", b->sysram_bytes);
		json_object_array_add(a, x);
	}
	json_object_object_add(o, runs ? "runs" : "blocks", a);
	return o;
}

struct json_object *mp_memory_to_json(const struct mp_memory *mem, const char *sysroot)
{
	return memory_json(mem, sysroot, false);
}

struct json_object *mp_memory_to_json_runs(const struct mp_memory *mem, const char *sysroot)
{
	return memory_json(mem, sysroot, true);
}

/* Member @k of @o with type @t, or NULL after saying what is wrong. */
static struct json_object *field(struct json_object *o, const char *k, enum json_type t,
				 const char *origin, long idx)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, t)) {
		if (idx < 0)
			mp_err("%s: list model: \"%s\" missing or not a %s", origin, k,
			       json_type_to_name(t));
		else
			mp_err("%s: list model: blocks[%ld]: \"%s\" missing or not a %s", origin,
			       idx, k, json_type_to_name(t));
		return NULL;
	}
	return v;
}

/* An integer member in [@lo, @hi]. */
static int int_field(struct json_object *o, const char *k, int64_t lo, int64_t hi,
		     const char *origin, long idx, int64_t *out)
{
	struct json_object *v = field(o, k, json_type_int, origin, idx);
	int64_t x;

	if (!v)
		return -EPROTO;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < lo || x > hi) {
		mp_err("%s: list model: blocks[%ld]: \"%s\" = %lld out of range [%lld, %lld]",
		       origin, idx, k, (long long)x, (long long)lo, (long long)hi);
		return -EPROTO;
	}
	*out = x;
	return 0;
}

/* A string member that fits in @len bytes (with its NUL). */
static int str_field(struct json_object *o, const char *k, size_t len, const char *origin, long idx,
		     const char **out)
{
	struct json_object *v = field(o, k, json_type_string, origin, idx);

	if (!v)
		return -EPROTO;
	if ((size_t)json_object_get_string_len(v) >= len ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		mp_err("%s: list model: blocks[%ld]: \"%s\" too long or has a NUL", origin, idx, k);
		return -EPROTO;
	}
	*out = json_object_get_string(v);
	return 0;
}

static int block_from_json(struct json_object *x, const struct mp_geometry *geo, long i,
			   const char *origin, struct mp_block *b)
{
	struct json_object *ns;
	const char *s;
	int64_t v;

	if (!json_object_is_type(x, json_type_object)) {
		mp_err("%s: list model: blocks[%ld] is not an object", origin, i);
		return -EPROTO;
	}
	memset(b, 0, sizeof(*b));
	b->size = geo->block_size;
	/* An id whose start overflows 64 bits is no block. */
	if (int_field(x, "id", 0, (int64_t)MP_MIN(UINT64_MAX / geo->block_size - 1, INT64_MAX),
		      origin, i, &v))
		return -EPROTO;
	b->id = (uint64_t)v;
	b->start = mp_block_to_addr(geo, b->id);
	if (int_field(x, "start", 0, INT64_MAX, origin, i, &v))
		return -EPROTO;
	if ((uint64_t)v != b->start) {
		mp_err("%s: list model: blocks[%ld]: start 0x%llx is not block %llu's 0x%llx",
		       origin, i, (unsigned long long)v, (unsigned long long)b->id,
		       (unsigned long long)b->start);
		return -EPROTO;
	}
	if (str_field(x, "state", 32, origin, i, &s))
		return -EPROTO;
	b->state = mp_block_state_parse(s);
	if (b->state == MP_BLOCK_UNKNOWN && strcmp(s, "unknown")) {
		mp_err("%s: list model: blocks[%ld]: unknown state '%s'", origin, i, s);
		return -EPROTO;
	}
	if (str_field(x, "zones", sizeof(b->zones), origin, i, &s))
		return -EPROTO;
	snprintf(b->zones, sizeof(b->zones), "%s", s);

	ns = field(x, "nodes", json_type_array, origin, i);
	if (!ns)
		return -EPROTO;
	b->node = -1;
	b->nr_nodes = (int)MP_MIN(json_object_array_length(ns), (size_t)INT_MAX);
	if (b->nr_nodes > MP_BLOCK_MAX_NODES) {
		mp_err("%s: list model: blocks[%ld]: %d nodes, at most %d", origin, i, b->nr_nodes,
		       MP_BLOCK_MAX_NODES);
		return -EPROTO;
	}
	for (int k = 0; k < b->nr_nodes; k++) {
		struct json_object *n = json_object_array_get_idx(ns, (size_t)k);
		int64_t id;

		if (!json_object_is_type(n, json_type_int) || (id = json_object_get_int64(n)) < 0 ||
		    id > INT_MAX || (k && id <= b->nodes[k - 1])) {
			mp_err("%s: list model: blocks[%ld]: nodes[%d] is not a node number above the previous",
			       origin, i, k);
			return -EPROTO;
		}
		b->nodes[k] = (int)id;
	}
	if (b->nr_nodes)
		b->node = b->nodes[0];

	if (int_field(x, "removable", -1, 1, origin, i, &v))
		return -EPROTO;
	b->removable = (signed char)v;
	if (int_field(x, "memmap_on_memory", -1, 1, origin, i, &v))
		return -EPROTO;
	b->memmap_on_memory = (signed char)v;
	if (str_field(x, "device", 48, origin, i, &s))
		return -EPROTO;
	if (mp_devref_parse(s, &b->dev)) {
		mp_err("%s: list model: blocks[%ld]: unknown device '%s'", origin, i, s);
		return -EPROTO;
	}
	if (int_field(x, "system_ram_bytes", 0, (int64_t)MP_MIN(geo->block_size, INT64_MAX), origin,
		      i, &v))
		return -EPROTO;
	b->sysram_bytes = (uint64_t)v;
	return 0;
}

/* More blocks than any machine has (2^24 x 128 MiB = 2 PiB): a run count above it is a lie. */
#define MAX_RUN_BLOCKS (1u << 24)

/* The header fields both forms share. */
static int header_from_json(struct json_object *o, const char *origin, struct mp_memory *mem)
{
	struct json_object *v;
	const char *s;

	if (str_field(o, "auto_online_blocks", sizeof(mem->auto_online), origin, -1, &s))
		return -EPROTO;
	snprintf(mem->auto_online, sizeof(mem->auto_online), "%s", s);
	if (json_object_object_get_ex(o, "iomem_unavailable", &v)) {
		if (str_field(o, "iomem_unavailable", sizeof(mem->iomem_why), origin, -1, &s))
			return -EPROTO;
		snprintf(mem->iomem_why, sizeof(mem->iomem_why), "%s", s);
	}
	return 0;
}

/*
 * The compact form: "runs" of consecutive blocks alike in everything but
 * id, each checked as one block and then repeated "count" times.
 */
static int memory_from_runs(struct json_object *o, const char *origin, uint64_t bs,
			    struct mp_memory **out)
{
	struct json_object *runs = field(o, "runs", json_type_array, origin, -1);
	size_t nr_runs, total = 0, k = 0;
	struct mp_memory *mem;
	int err = -EPROTO;

	if (!runs)
		return -EPROTO;
	nr_runs = json_object_array_length(runs);
	for (size_t i = 0; i < nr_runs; i++) {
		struct json_object *x = json_object_array_get_idx(runs, i);
		int64_t c;

		if (!json_object_is_type(x, json_type_object) ||
		    int_field(x, "count", 1, MAX_RUN_BLOCKS, origin, (long)i, &c))
			return -EPROTO;
		total += (size_t)c;
		if (total > MAX_RUN_BLOCKS) {
			mp_err("%s: list model: more than %u blocks", origin, MAX_RUN_BLOCKS);
			return -EPROTO;
		}
	}
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->geo = (struct mp_geometry){ MP_PAGE_SIZE, MP_SUBSECTION_SIZE, MP_SECTION_SIZE, bs };
	if (header_from_json(o, origin, mem))
		goto out_free;
	mem->blocks = malloc((total ? total : 1) * sizeof(*mem->blocks));
	if (!mem->blocks) {
		err = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < nr_runs; i++) {
		struct json_object *x = json_object_array_get_idx(runs, i);
		int64_t c = mp_json_get_int(x, "count", 0);
		struct mp_block first;

		if (block_from_json(x, &mem->geo, (long)i, origin, &first))
			goto out_free;
		if (first.id > UINT64_MAX / bs - (uint64_t)c) {
			mp_err("%s: list model: runs[%zu]: blocks past the end of the address space",
			       origin, i);
			goto out_free;
		}
		if (k && first.id <= mem->blocks[k - 1].id) {
			mp_err("%s: list model: runs[%zu]: id %llu not above the previous %llu",
			       origin, i, (unsigned long long)first.id,
			       (unsigned long long)mem->blocks[k - 1].id);
			goto out_free;
		}
		for (int64_t j = 0; j < c; j++) {
			struct mp_block *b = &mem->blocks[k++];

			*b = first;
			b->id = first.id + (uint64_t)j;
			b->start = mp_block_to_addr(&mem->geo, b->id);
		}
	}
	mem->nr = total;
	*out = mem;
	return 0;

out_free:
	mp_memory_free(mem);
	return err;
}

int mp_memory_from_json(struct json_object *o, const char *origin, struct mp_memory **out)
{
	struct json_object *blocks, *v;
	struct mp_memory *mem;
	int64_t bs;
	int err = -EPROTO;

	if (!json_object_is_type(o, json_type_object)) {
		mp_err("%s: list model: not a JSON object", origin);
		return -EPROTO;
	}
	if (int_field(o, "block_size", 1, INT64_MAX, origin, -1, &bs))
		return -EPROTO;
	if ((bs & (bs - 1)) || (uint64_t)bs % MP_SECTION_SIZE) {
		mp_err("%s: list model: block_size 0x%llx is not a power of two multiple of the section",
		       origin, (unsigned long long)bs);
		return -EPROTO;
	}
	if (json_object_object_get_ex(o, "runs", &v))
		return memory_from_runs(o, origin, (uint64_t)bs, out);
	blocks = field(o, "blocks", json_type_array, origin, -1);
	if (!blocks)
		return -EPROTO;
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->geo = (struct mp_geometry){ MP_PAGE_SIZE, MP_SUBSECTION_SIZE, MP_SECTION_SIZE,
					 (uint64_t)bs };
	if (header_from_json(o, origin, mem))
		goto out_free;
	mem->nr = json_object_array_length(blocks);
	mem->blocks = calloc(mem->nr ? mem->nr : 1, sizeof(*mem->blocks));
	if (!mem->blocks) {
		err = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < mem->nr; i++) {
		struct mp_block *b = &mem->blocks[i];

		if (block_from_json(json_object_array_get_idx(blocks, i), &mem->geo, (long)i,
				    origin, b))
			goto out_free;
		/* mp_memory_find() bsearches: ids must ascend, each once. */
		if (i && b->id <= mem->blocks[i - 1].id) {
			mp_err("%s: list model: blocks[%zu]: id %llu not above the previous %llu",
			       origin, i, (unsigned long long)b->id,
			       (unsigned long long)mem->blocks[i - 1].id);
			goto out_free;
		}
	}
	*out = mem;
	return 0;

out_free:
	mp_memory_free(mem);
	return err;
}
