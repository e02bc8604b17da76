// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: memplugd's status answer as `memplugctl status` reads
 * and prints it (mp_status_print()).
 */
#include <stdio.h>
#include <json-c/json.h>

#include "fuzz.h"
#include "mp-engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	fuzz_quiet();
	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	if (o) {
		FILE *f = fopen("/dev/null", "w");

		if (f) {
			mp_status_print(o, f);
			fclose(f);
		}
	}
	json_object_put(o);
	json_tokener_free(tok);
	return 0;
}
