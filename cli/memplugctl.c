// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl: git-style dispatcher.  Global options come before the command;
 * each command group parses the rest.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"

struct mp_cli_globals mp_cli;

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "list", mp_cmd_list, "list memory blocks, merged like lsmem" },
	{ "explain", mp_cmd_explain,
	  "everything the rules know about a block, address, pfn or dax device" },
	{ "kernel", mp_cmd_kernel, "which hotplug behaviours the running kernel offers" },
	{ "online", mp_cmd_online, "online memory blocks" },
	{ "offline", mp_cmd_online, "offline memory blocks (under a timeout)" },
	{ "drain", mp_cmd_drain, "offline a whole device for an unplug, or none of it" },
	{ "undrain", mp_cmd_drain, "online a drained device again (the unplug was cancelled)" },
	{ "snapshot", mp_cmd_snapshot, "record sysfs/procfs hotplug state into a directory" },
#ifdef MP_HAVE_CMD_POLICY
	{ "policy", mp_cmd_policy, "check and show onlining policies" },
#endif
#ifdef MP_HAVE_CMD_STATUS
	{ "status", mp_cmd_status, "what memplugd did: policies, devices, outcomes, conflicts" },
#endif
#ifdef MP_HAVE_CMD_HOST
	{ "host", mp_cmd_host, "hot-add and remove memory of a VM (QMP or libvirt)" },
#endif
#ifdef MP_HAVE_CMD_SCENARIO
	{ "scenario", mp_cmd_scenario, "check or run a scenario file against a VM" },
#endif
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: memplugctl [--sysroot DIR] [-v] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nEnvironment: MEMPLUG_SYSROOT (like --sysroot).\n"
		   "Run 'memplugctl COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		MP_CLI_SYSROOT_OPTION,
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	mp_log_set_ident("memplugctl");
	/* '+': stop at the command name so its own options reach it. */
	while ((c = mp_cli_getopt(argc, argv, "+vhV", opts, usage)) != -1) {
		switch (c) {
		case 'v':
			mp_cli.verbose++;
			mp_log_set_level(mp_cli.verbose > 1 ? LOG_DEBUG : LOG_INFO);
			break;
		case 'V':
			printf("memplugctl %s\n", MEMPLUG_VERSION);
			return MP_EXIT_OK;
		default:
			break; /* -h and bad options: mp_cli_getopt() */
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return MP_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0; /* reset getopt for the command */
			return commands[i].fn(sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "memplugctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return MP_EXIT_USAGE;
}

int mp_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
		  void (*usage_fn)(FILE *f))
{
	int c;

	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) == MP_CLI_OPT_SYSROOT)
		mp_cli.sysroot = optarg;
	if (c == 'h') {
		usage_fn(stdout);
		exit(MP_EXIT_OK);
	}
	if (c == '?') {
		usage_fn(stderr);
		exit(MP_EXIT_USAGE);
	}
	return c;
}

int mp_cli_ctx(struct mp_ctx **ctx)
{
	int err = mp_ctx_new(mp_cli.sysroot, ctx);

	if (err)
		fprintf(stderr, "memplugctl: sysroot '%s': %s\n",
			mp_cli.sysroot ? mp_cli.sysroot : "", strerror(-err));
	return err;
}

const char *mp_cli_errname(int err)
{
	/* strerrorname_np() is glibc 2.32+; keep the few we print by name. */
	switch (-err) {
	case 0:
		return "ok";
	case EINVAL:
		return "EINVAL";
	case EBUSY:
		return "EBUSY";
	case EINTR:
		return "EINTR";
	case ENOMEM:
		return "ENOMEM";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ENOENT:
		return "ENOENT";
	case EIO:
		return "EIO";
	case EHWPOISON:
		return "EHWPOISON";
	case ENXIO:
		return "ENXIO";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	default:
		return "E?";
	}
}
