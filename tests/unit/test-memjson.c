// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The list model's JSON (kernel/memjson.c): a scan of recorded fixtures
 * survives mp_memory_to_json() -> text -> mp_memory_from_json() field for
 * field, and damaged answers give -EPROTO without touching the output.
 * argv[1]: tests/fixtures; the scans read numa-split-block (a block on two
 * nodes) and dimm-offline (a DIMM, offline blocks) in place.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "mp-kernel.h"
#include "same-model.h"

/*
 * @o (consumed) through text, as over the socket, and back into a model that
 * must be @mem's; returns the parsed JSON for the caller to look at (put it).
 */
static struct json_object *through_text(const struct mp_memory *mem, struct json_object *o,
					const char *name)
{
	struct mp_memory *back = NULL;
	struct json_object *parsed;

	CHECK(o != NULL);
	parsed = json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	CHECK(parsed != NULL);
	CHECK(mp_memory_from_json(parsed, name, &back) == 0);
	if (back)
		same_model(mem, back);
	mp_memory_free(back);
	return parsed;
}

static void round_trip(const char *fixtures, const char *name, int want_multi)
{
	char root[512];
	struct mp_memory *mem = NULL;
	struct json_object *parsed, *runs;
	struct mp_ctx *ctx;
	int multi = 0;

	snprintf(root, sizeof(root), "%s/%s", fixtures, name);
	CHECK(mp_ctx_new(root, &ctx) == 0);
	CHECK(mp_memory_scan(ctx, MP_SCAN_ALL | MP_SCAN_REMOVABLE, &mem) == 0);
	if (!mem) {
		mp_ctx_free(ctx);
		return;
	}
	for (size_t i = 0; i < mem->nr; i++)
		multi += mem->blocks[i].nr_nodes > 1;
	CHECK(multi == want_multi);
	json_object_put(through_text(mem, mp_memory_to_json(mem, root), name));
	/* The compact form (memplugctl list's request) rebuilds the same model, in fewer entries. */
	parsed = through_text(mem, mp_memory_to_json_runs(mem, root), name);
	CHECK(json_object_object_get_ex(parsed, "runs", &runs));
	CHECK(json_object_array_length(runs) >= 1 && json_object_array_length(runs) <= mem->nr);
	if (mem->nr > 8)
		CHECK(json_object_array_length(runs) < mem->nr);
	json_object_put(parsed);
	mp_memory_free(mem);
	mp_ctx_free(ctx);
}

#define BLK(body)                                                                                         \
	"{\"sysroot\":\"\",\"block_size\":134217728,\"auto_online_blocks\":\"offline\",\"blocks\":[" body \
	"]}"
#define GOOD                                                                           \
	"{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"DMA32\","      \
	"\"nodes\":[0,1],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\"," \
	"\"system_ram_bytes\":134217728}"
#define RUNS(body)                                                                                      \
	"{\"sysroot\":\"\",\"block_size\":134217728,\"auto_online_blocks\":\"offline\",\"runs\":[" body \
	"]}"
/* GOOD without its opening brace, to put a "count" in front. */
#define GOOD_BODY                                                                      \
	"\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"DMA32\","       \
	"\"nodes\":[0,1],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\"," \
	"\"system_ram_bytes\":134217728}"

static const char *const garbage[] = {
	"[]", "{}", "{\"block_size\":\"128M\",\"blocks\":[]}",
	"{\"block_size\":100,\"auto_online_blocks\":\"\",\"blocks\":[]}",
	"{\"block_size\":134217728,\"auto_online_blocks\":\"\",\"blocks\":{}}",
	"{\"block_size\":134217728,\"blocks\":[]}", BLK("1"), BLK("{}"),
	BLK(GOOD "," GOOD), /* id not ascending */
	BLK("{\"id\":1,\"start\":0,\"state\":\"online\",\"zones\":\"\",\"nodes\":[],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"sleepy\",\"zones\":\"\",\"nodes\":[],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"\",\"nodes\":[1,0],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"\",\"nodes\":[-3],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"\",\"nodes\":[\"0\"],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"\",\"nodes\":[],\"removable\":7,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"\",\"nodes\":[],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"floppy:0\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"\",\"nodes\":[],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":999999999999}"),
	BLK("{\"id\":-1,\"start\":0,\"state\":\"online\",\"zones\":\"\",\"nodes\":[],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK("{\"id\":1,\"start\":134217728,\"state\":\"online\",\"zones\":\"DMA32 DMA32 DMA32 DMA32 DMA32 DMA32 DMA32 DMA32 DMA32 DMA32\",\"nodes\":[],\"removable\":1,\"memmap_on_memory\":-1,\"device\":\"boot\",\"system_ram_bytes\":0}"),
	BLK(GOOD ",{\"id\":2}"), /* one good block, then a bad one: nothing half filled */
	/* The compact form: a count is checked before anything is allocated. */
	RUNS("{\"count\":0," GOOD_BODY), RUNS("{\"count\":16777217," GOOD_BODY),
	RUNS("{\"count\":-1," GOOD_BODY),
	RUNS("{\"count\":2," GOOD_BODY ",{\"count\":1," GOOD_BODY), /* overlap: id 1 again */
	RUNS(GOOD), /* no count */
};

int main(int argc, char **argv)
{
	struct mp_memory *sentinel = (struct mp_memory *)&argc, *out;

	if (argc < 2) {
		fprintf(stderr, "usage: test-memjson FIXTURES_DIR\n");
		return 2;
	}
	round_trip(argv[1], "numa-split-block", 1);
	round_trip(argv[1], "dimm-offline", 0);

	/* A good run of three blocks expands to ids 1, 2, 3 with their starts. */
	{
		struct json_object *o = json_tokener_parse(RUNS("{\"count\":3," GOOD_BODY));

		out = NULL;
		CHECK(mp_memory_from_json(o, "good-run", &out) == 0);
		CHECK(out && out->nr == 3 && out->blocks[2].id == 3 &&
		      out->blocks[2].start == 3ull * 134217728 && out->blocks[2].nr_nodes == 2);
		mp_memory_free(out);
		json_object_put(o);
	}
	/* The good block alone parses, so the garbage below fails for its own reason. */
	{
		struct json_object *o = json_tokener_parse(BLK(GOOD));

		out = NULL;
		CHECK(mp_memory_from_json(o, "good", &out) == 0);
		CHECK(out && out->nr == 1 && out->blocks[0].nr_nodes == 2 &&
		      out->blocks[0].node == 0);
		mp_memory_free(out);
		json_object_put(o);
	}
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		struct json_object *o = json_tokener_parse(garbage[i]);

		out = sentinel;
		if (!o) {
			fprintf(stderr, "garbage[%zu] is not JSON\n", i);
			check_failures++;
			continue;
		}
		if (mp_memory_from_json(o, "garbage", &out) != -EPROTO) {
			fprintf(stderr, "garbage[%zu] accepted: %s\n", i, garbage[i]);
			check_failures++;
		}
		CHECK(out == sentinel);
		json_object_put(o);
	}
	CHECK_DONE();
}
