// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target: `memplugctl list --json` output read back (mp_memory_from_json). */
#include <json-c/json.h>

#include "fuzz.h"
#include "mp-kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	struct mp_memory *mem;

	fuzz_quiet();
	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	if (o && mp_memory_from_json(o, "fuzz", &mem) == 0) {
		struct json_object *back = mp_memory_to_json(mem, "fuzz");

		for (size_t i = 0; i < mem->nr; i++) {
			char buf[64];

			mp_memory_find(mem, mem->blocks[i].id);
			mp_memory_find_addr(mem, mem->blocks[i].start);
			mp_block_format_nodes(&mem->blocks[i], buf, sizeof(buf));
			mp_devref_format(&mem->blocks[i].dev, buf, sizeof(buf));
		}
		json_object_put(back);
		mp_memory_free(mem);
	}
	json_object_put(o);
	json_tokener_free(tok);
	return 0;
}
