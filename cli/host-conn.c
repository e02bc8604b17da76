// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The VM connection options the host commands share (host-conn.h): parsed
 * once, opened once, so that host, host serve and scenario cannot drift
 * apart in what --qmp, --domain or $MEMPLUG_CHANNEL mean.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "host-conn.h"
#include "host.h"
#include "util.h"

/**
 * mp_cli_host_conn_init() - connection options from the environment
 * @c: options to fill
 *
 * $MEMPLUG_QMP and $MEMPLUG_CHANNEL are the defaults the options override:
 * the test harnesses and a wrapper script set them once for every command.
 */
void mp_cli_host_conn_init(struct mp_cli_host_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->qmp = getenv("MEMPLUG_QMP");
	c->channel = getenv("MEMPLUG_CHANNEL");
}

/**
 * mp_cli_host_conn_option() - take one getopt result if it is a connection option
 * @c: options
 * @opt: getopt_long()'s return
 * @arg: its optarg
 *
 * Return: true when @opt was one of MP_CLI_HOST_CONN_OPTIONS (taken).
 */
bool mp_cli_host_conn_option(struct mp_cli_host_conn *c, int opt, const char *arg)
{
	/* in the order of the MP_CLI_HOST_OPT_* values */
	const char **field[] = { &c->qmp, &c->uri, &c->domain, &c->channel };

	_Static_assert(MP_ARRAY_SIZE(field) == MP_CLI_HOST_OPT_END - MP_CLI_HOST_OPT_QMP,
		       "one field per connection option");
	if (opt < MP_CLI_HOST_OPT_QMP || opt >= MP_CLI_HOST_OPT_END)
		return false;
	*field[opt - MP_CLI_HOST_OPT_QMP] = arg;
	return true;
}

/**
 * mp_cli_host_conn_getopt() - getopt_long() for a host command
 * @c: connection options, filled as they come
 * @argc: argument count
 * @argv: arguments
 * @shortopts: as getopt_long()
 * @opts: the command's options, with MP_CLI_HOST_CONN_OPTIONS
 * @usage_fn: -h and refused options as mp_cli_getopt() does them; NULL for
 *            a command that answers them itself (scenario has exit codes
 *            of its own)
 *
 * Return: the next option that is not a connection option, -1 at the end.
 */
int mp_cli_host_conn_getopt(struct mp_cli_host_conn *c, int argc, char **argv,
			    const char *shortopts, const struct option *opts,
			    void (*usage_fn)(FILE *f))
{
	int opt;

	do {
		opt = usage_fn ? mp_cli_getopt(argc, argv, shortopts, opts, usage_fn) :
				 getopt_long(argc, argv, shortopts, opts, NULL);
	} while (opt != -1 && mp_cli_host_conn_option(c, opt, optarg));
	return opt;
}

/**
 * mp_cli_host_conn_given() - whether @c names a VM
 * @c: options
 *
 * --connect without --domain is refused rather than ignored: with --qmp it
 * would silently talk to another VM than the one the URI's host runs.
 *
 * Return: true for --domain (with or without --connect), or --qmp alone.
 */
bool mp_cli_host_conn_given(const struct mp_cli_host_conn *c)
{
	return c->domain || (c->qmp && !c->uri);
}

/**
 * mp_cli_host_conn_name() - the VM's name for messages
 * @c: options naming a VM (mp_cli_host_conn_given())
 *
 * Return: the libvirt domain, else the QMP socket's path.
 */
const char *mp_cli_host_conn_name(const struct mp_cli_host_conn *c)
{
	return c->domain ? c->domain : c->qmp;
}

/**
 * mp_cli_host_conn_open() - reach the VM @c names
 * @c: options naming a VM (mp_cli_host_conn_given())
 * @timeout_ms: deadline for each operation (0: the library's default)
 * @h: receives the handle
 * @why: on failure, "cannot reach the VM (NAME): ERROR" for the caller to
 *       print or log under its own name
 * @len: size of @why
 *
 * Return: 0 or -errno.
 */
int mp_cli_host_conn_open(const struct mp_cli_host_conn *c, int timeout_ms, struct mp_host **h,
			  char *why, size_t len)
{
	int r;

	/*
	 * libvirt's client writes its socket with plain write()
	 * (virNetSocketWriteWire() in libvirt's src/rpc/virnetsocket.c): a
	 * connection libvirtd dropped (keepalive, restart, virt-admin
	 * client-disconnect) would kill us with SIGPIPE at the next RPC, or at
	 * virConnectClose(), with no message and nothing rolled back.  Ignored,
	 * it is EPIPE, which libvirt reports and we handle.  The front-end's
	 * call, not the library's: a library does not change signal
	 * dispositions.  (The QMP and channel sockets use MSG_NOSIGNAL.)
	 */
	if (c->domain)
		signal(SIGPIPE, SIG_IGN);
	r = c->domain ? mp_host_open_libvirt(c->uri, c->domain, timeout_ms, h) :
			mp_host_open_qmp(c->qmp, timeout_ms, h);
	if (r < 0)
		snprintf(why, len, "cannot reach the VM (%s): %s", mp_cli_host_conn_name(c),
			 strerror(-r));
	return r;
}

/**
 * mp_cli_host_conn_attach() - attach the channel to the guest's memplugd
 * @h: open handle
 * @c: options: --channel PATH, else a libvirt domain's own channel (a QMP
 *     socket alone has none: the library says "no --channel given")
 * @why: on failure, why there is no channel (so no proof); "" on success
 * @len: size of @why
 *
 * Return: 0 or -errno (-ENOENT: no channel given and no domain to ask).
 */
int mp_cli_host_conn_attach(struct mp_host *h, const struct mp_cli_host_conn *c, char *why,
			    size_t len)
{
	int r = mp_host_channel_attach(h, c->channel, 0, why, len);

	if (r == 0 && len)
		why[0] = '\0';
	return r;
}
