// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Printing of the guest's proof that more than one host command shows
 * (host plug, scenario run), so that the same numbers read the same.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "host-print.h"
#include "mp-json.h"

/* One of the guest's timings, where it sent one: an older memplugd, or an
 * outcome reached without onlining, has none, and a 0 would read as "instant". */
static void print_guest_ms(struct json_object *timings, const char *key, const char *what)
{
	int64_t us = mp_json_get_int(timings, key, -1);

	if (us >= 0)
		printf(" %s %.1f ms,", what, us / 1000.0);
}

/**
 * mp_cli_print_proof_timings() - the timings of one proof, ending the line
 * @lead: printed first (the caller's separator and label)
 * @proof: a proof as mp_host_wait_online() hands it back
 *
 * The host's plug-to-proof time is always known; the guest's only where it
 * sent them.
 */
void mp_cli_print_proof_timings(const char *lead, struct json_object *proof)
{
	struct json_object *t = NULL;

	json_object_object_get_ex(proof, "guest_timings", &t);
	printf("%s", lead);
	print_guest_ms(t, "online_us", "online");
	print_guest_ms(t, "verify_us", "verify");
	print_guest_ms(t, "latency_us", "first uevent to verified");
	printf(" host: plug to proof %lld ms\n", (long long)mp_json_get_int(proof, "host_ms", 0));
}
