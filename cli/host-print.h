/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_CLI_HOST_PRINT_H
#define MP_CLI_HOST_PRINT_H

struct json_object;

void mp_cli_print_proof_timings(const char *lead, struct json_object *proof);

#endif
