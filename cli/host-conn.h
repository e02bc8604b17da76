/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_CLI_HOST_CONN_H
#define MP_CLI_HOST_CONN_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct mp_host;

/*
 * How the host commands (host, host serve, scenario) reach one VM: --qmp
 * PATH, or [--connect URI] --domain NAME; and the channel to the guest's
 * memplugd (--channel PATH, else the libvirt domain's own).  One parser so
 * that the three commands take the same words and the same environment.
 */
struct mp_cli_host_conn {
	const char *qmp, *uri, *domain, *channel;
};

/* getopt values of the connection options; a command's own start at _END. */
enum {
	MP_CLI_HOST_OPT_QMP = 256,
	MP_CLI_HOST_OPT_CONNECT,
	MP_CLI_HOST_OPT_DOMAIN,
	MP_CLI_HOST_OPT_CHANNEL,
	MP_CLI_HOST_OPT_END,
};

/* The connection options' entries, for a command's struct option table. */
/* clang-format off */
#define MP_CLI_HOST_CONN_OPTIONS					\
	{ "qmp", required_argument, NULL, MP_CLI_HOST_OPT_QMP },	\
	{ "connect", required_argument, NULL, MP_CLI_HOST_OPT_CONNECT },\
	{ "domain", required_argument, NULL, MP_CLI_HOST_OPT_DOMAIN },	\
	{ "channel", required_argument, NULL, MP_CLI_HOST_OPT_CHANNEL }
/* clang-format on */

void mp_cli_host_conn_init(struct mp_cli_host_conn *c);
bool mp_cli_host_conn_option(struct mp_cli_host_conn *c, int opt, const char *arg);
int mp_cli_host_conn_getopt(struct mp_cli_host_conn *c, int argc, char **argv,
			    const char *shortopts, const struct option *opts,
			    void (*usage_fn)(FILE *f));
bool mp_cli_host_conn_given(const struct mp_cli_host_conn *c);
const char *mp_cli_host_conn_name(const struct mp_cli_host_conn *c);
int mp_cli_host_conn_open(const struct mp_cli_host_conn *c, int timeout_ms, struct mp_host **h,
			  char *why, size_t len);
int mp_cli_host_conn_attach(struct mp_host *h, const struct mp_cli_host_conn *c, char *why,
			    size_t len);

#endif
