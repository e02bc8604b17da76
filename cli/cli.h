/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <errno.h>
#include <stdio.h>

#include "mp-kernel.h"

/* Context for the root given by --sysroot or $MEMPLUG_SYSROOT; prints why on failure. */
int mp_cli_ctx(struct mp_ctx **ctx);
/* "EINVAL", "EBUSY", ... for a negative errno. */
const char *mp_cli_errname(int err);

/* memplugd's control socket, unless --socket says otherwise (meson.build names it). */
#include "config.h"
#define MP_DAEMON_SOCKET MEMPLUG_CONTROL_SOCKET

/*
 * Send one JSON request line to memplugd and read its answer (malloc'ed).
 * Return: 0 or -errno (-ENOENT/-ECONNREFUSED: no daemon, -ETIMEDOUT).
 */
int mp_cli_ask_daemon(const char *path, const char *request, int timeout_ms, char **answer);

struct option;

/*
 * getopt_long() for a command that answers -h/--help and unknown options
 * the same way everywhere: -h prints @usage_fn to stdout and exits 0; an
 * option getopt refused (it has said why) prints @usage_fn to stderr and
 * exits 2.  Return: the next option, -1 at the end.
 */
int mp_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
		  void (*usage_fn)(FILE *f));

/*
 * --sysroot DIR after a command's name means what it means before it (the
 * dispatcher's): a command lists MP_CLI_SYSROOT_OPTION in its options and
 * mp_cli_getopt() sets mp_cli.sysroot, so no command handles it itself.
 */
#define MP_CLI_OPT_SYSROOT 0x7f00
#define MP_CLI_SYSROOT_OPTION                                          \
	{                                                              \
		"sysroot", required_argument, NULL, MP_CLI_OPT_SYSROOT \
	}

#endif
