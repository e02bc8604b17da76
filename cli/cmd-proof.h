/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_CLI_CMD_PROOF_H
#define MP_CLI_CMD_PROOF_H

#include <stdbool.h>

struct mp_host;

/*
 * memplugctl host ... proof [ID]: prints the guest's proof for device ID
 * (every memory device without one), as text or with @json as JSON.
 * @no_proof says why @h has no channel.  Return: the exit status, 0 proof
 * (online, verified, no violation), 1 no proof, 2 usage.
 */
int mp_cli_host_proof(struct mp_host *h, const char *no_proof, bool json, bool wait, int timeout_ms,
		      int argc, char **argv);

#endif
