// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl host ... proof [ID] [--wait]: the guest's proof for memory
 * devices memplug did not plug (virsh attach-device, update-memory-device,
 * what the VM booted with), asked over the memplug channel.  Printing only;
 * the matching and the waiting are mp_host_proof_get()'s (qmp/host-proof.c).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cmd-proof.h"
#include "commands.h"
#include "host.h"
#include "mp-json.h"

/* Strings here are the guest's, validated by the library as printable. */
static const char *gs(struct json_object *o, const char *k)
{
	return mp_json_get_str(o, k, "");
}

static void print_one(struct json_object *p)
{
	const char *oc = gs(p, "outcome");
	struct json_object *t = NULL;
	bool ok = !strcmp(oc, "online") && !mp_json_get_u64(p, "violations", 0);

	if (!strcmp(oc, "empty")) {
		printf("%s: %s: no proof needed\n", gs(p, "id"), gs(p, "message"));
		return;
	}
	if (!strcmp(oc, "unknown") || !strcmp(oc, "timeout") || !strcmp(oc, "pending")) {
		struct json_object *last = NULL;
		const char *word;

		json_object_object_get_ex(p, "last_word", &last);
		/* a status record's outcome, or an event's name */
		word = gs(last, "outcome")[0] ? gs(last, "outcome") : gs(last, "event");
		printf("%s: no proof%s: ", gs(p, "id"),
		       !strcmp(oc, "timeout") ? " in time" :
		       !strcmp(oc, "pending") ? " yet" :
						"");
		if (last)
			printf("the guest's last word on %s: %s%s%s\n", gs(p, "device"), word,
			       gs(p, "message")[0] ? ": " : "", gs(p, "message"));
		else
			printf("%s\n", gs(p, "message")[0] ? gs(p, "message") :
							     "the guest said nothing about it");
		return;
	}
	if (ok)
		printf("%s: proof: online and verified by the guest: %s %s\n", gs(p, "id"),
		       gs(p, "device"), gs(p, "blocks"));
	else
		printf("%s: NO PROOF: %s (the guest's word): %s %s\n", gs(p, "id"),
		       !strcmp(oc, "online") ? "online WITH VIOLATIONS" : oc, gs(p, "device"),
		       gs(p, "blocks"));
	printf("  zone %s, node %lld, %llu", gs(p, "zone")[0] ? gs(p, "zone") : "?",
	       (long long)mp_json_get_int(p, "node", -1),
	       (unsigned long long)mp_json_get_u64(p, "onlined", 0));
	if (mp_json_get_u64(p, "expected_blocks", 0))
		printf("/%llu", (unsigned long long)mp_json_get_u64(p, "expected_blocks", 0));
	printf(" block(s) onlined, %llu verified, %llu violation(s)\n",
	       (unsigned long long)mp_json_get_u64(p, "verified", 0),
	       (unsigned long long)mp_json_get_u64(p, "violations", 0));
	if (gs(p, "policy")[0])
		printf("  policy %s\n", gs(p, "policy"));
	if (gs(p, "message")[0])
		printf("  the guest: %s\n", gs(p, "message"));
	json_object_object_get_ex(p, "guest_timings", &t);
	if (mp_json_get_int(t, "latency_us", -1) >= 0 || mp_json_get_int(t, "online_us", -1) >= 0)
		printf("  guest timings: online %.1f ms, verify %.1f ms, first uevent to verified "
		       "%.1f ms\n",
		       mp_json_get_int(t, "online_us", 0) / 1000.0,
		       mp_json_get_int(t, "verify_us", 0) / 1000.0,
		       mp_json_get_int(t, "latency_us", 0) / 1000.0);
}

int mp_cli_host_proof(struct mp_host *h, const char *no_proof, bool json, bool wait, int timeout_ms,
		      int argc, char **argv)
{
	struct json_object *out = NULL, *arr = NULL;
	const char *id = argc ? argv[0] : NULL;
	int r;

	if (argc > 1) {
		fprintf(stderr, "memplugctl host proof: one device id at most\n");
		return MP_EXIT_USAGE;
	}
	if (!mp_host_has_channel(h)) {
		fprintf(stderr, "memplugctl host: no proof available: %s\n",
			no_proof && no_proof[0] ? no_proof : "no channel to memplugd");
		if (json) {
			out = json_object_new_object();
			mp_json_add_str(out, "proof_unavailable",
					no_proof && no_proof[0] ? no_proof : "no channel");
			json_object_object_add(out, "proofs", json_object_new_array());
			printf("%s\n",
			       json_object_to_json_string_ext(
				       out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
			json_object_put(out);
		}
		return MP_EXIT_FAIL;
	}
	r = mp_host_proof_get(h, id, wait, timeout_ms, &out);
	if (!out) {
		fprintf(stderr, "memplugctl host proof: %s: %s\n", id ? id : "memory devices",
			strerror(-r));
		return MP_EXIT_FAIL;
	}
	json_object_object_get_ex(out, "proofs", &arr);
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(
				       out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	} else {
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			print_one(json_object_array_get_idx(arr, i));
		if (!json_object_array_length(arr) && !id)
			printf("no memory devices\n");
	}
	json_object_put(out);
	return r == MP_HOST_PROOF_OK ? MP_EXIT_OK : MP_EXIT_FAIL;
}
