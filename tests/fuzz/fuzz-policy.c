// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target: one policy file through the parser, errors collected. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "policy-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_policy_errors *errs = calloc(1, sizeof(*errs));
	struct mp_policy *p = NULL;
	FILE *f;

	if (!errs || !size) {
		free(errs);
		return 0;
	}
	mp_log_set_level(-1);
	f = fmemopen((void *)data, size, "r");
	if (f) {
		if (mp_policy_parse(f, "fuzz.conf", "fuzz", &p, errs) == 0 && p)
			mp_policy_free(p);
		fclose(f);
	}
	mp_policy_errors_free(errs);
	return 0;
}
