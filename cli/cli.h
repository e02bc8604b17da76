/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <errno.h>

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

#endif
