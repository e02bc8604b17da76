/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_CLI_COMMANDS_H
#define MP_CLI_COMMANDS_H

/*
 * Each command group gets argv with argv[0] = its own name and returns the
 * process exit code: 0 all done, 1 nothing done / error, 64 partial
 * (chmem's convention), 2 usage error.
 */
#define MP_EXIT_OK 0
#define MP_EXIT_FAIL 1
#define MP_EXIT_USAGE 2
#define MP_EXIT_PARTIAL 64

/* Global options parsed by the dispatcher, before the command name. */
struct mp_cli_globals {
	const char *sysroot; /* --sysroot DIR, else $MEMPLUG_SYSROOT */
	int verbose;
};
extern struct mp_cli_globals mp_cli;

int mp_cmd_list(int argc, char **argv);
int mp_cmd_explain(int argc, char **argv);
int mp_cmd_kernel(int argc, char **argv);
int mp_cmd_online(int argc, char **argv);
int mp_cmd_drain(int argc, char **argv);
int mp_cmd_snapshot(int argc, char **argv);
int mp_cmd_policy(int argc, char **argv);
int mp_cmd_host(int argc, char **argv);
int mp_cmd_host_serve(int argc, char **argv);
int mp_cmd_status(int argc, char **argv);
int mp_cmd_scenario(int argc, char **argv);

#endif
