// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl status: ask the running memplugd (its control socket) what it
 * knows: policy files in force, every device and its outcome, the last
 * verification, conflicts.  A thin client: the engine writes the document
 * (in memplugd) and reads it back (mp_status_print()).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "commands.h"
#include "mp-engine.h"
#include "mp-json.h"
#include "util.h"

static void status_usage(FILE *f)
{
	fputs("Usage: memplugctl status [-J] [--socket PATH] [--wait DEVICE [--timeout SEC]]\n"
	      "  -J, --json       print memplugd's answer as JSON\n"
	      "  --socket PATH    memplugd's control socket (default " MP_DAEMON_SOCKET ")\n"
	      "  --wait DEVICE    answer once DEVICE (e.g. dimm:slot1, dax:dax0.0) has a\n"
	      "                   final outcome; exit 1 on timeout\n"
	      "  --timeout SEC    for --wait (default 30)\n",
	      f);
}

int mp_cli_ask_daemon(const char *path, const char *request, int timeout_ms, char **answer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* MSG_NOSIGNAL: a memplugd that closed on us (stopping, or refusing a
	 * client over its limit) is EPIPE, not a SIGPIPE death */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request)) {
		err = -errno;
		close(fd);
		return err;
	}
	/* memplugd answers and closes: the answer is everything up to EOF */
	err = mp_read_fd_alloc(fd, timeout_ms, answer, NULL);
	close(fd);
	return err;
}

int mp_cmd_status(int argc, char **argv)
{
	enum { OPT_SOCKET = 0x100, OPT_WAIT, OPT_TIMEOUT };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *path = getenv("MEMPLUGD_SOCKET"), *wait = NULL;
	char request[160], *answer = NULL;
	struct json_object *o;
	bool json = false;
	int timeout_ms = 30000, c, err;

	if (!path)
		path = MP_DAEMON_SOCKET;
	optind = 0;
	while ((c = mp_cli_getopt(argc, argv, "+Jh", opts, status_usage)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case OPT_SOCKET:
			path = optarg;
			break;
		case OPT_WAIT:
			wait = optarg;
			break;
		case OPT_TIMEOUT:
			timeout_ms = atoi(optarg) * 1000;
			break;
		default:
			break; /* -h and bad options: mp_cli_getopt() */
		}
	}
	if (wait && (strlen(wait) > 64 || strpbrk(wait, "\"\\"))) {
		fprintf(stderr, "memplugctl status: bad device name '%s'\n", wait);
		return MP_EXIT_USAGE;
	}
	if (wait)
		snprintf(request, sizeof(request), "{\"command\":\"wait\",\"device\":\"%s\"}\n",
			 wait);
	else
		snprintf(request, sizeof(request), "{\"command\":\"status\"}\n");
	err = mp_cli_ask_daemon(path, request, timeout_ms, &answer);
	if (err) {
		if (err == -ENOENT || err == -ECONNREFUSED)
			fprintf(stderr, "memplugctl status: memplugd is not running (%s: %s)\n",
				path, strerror(-err));
		else
			fprintf(stderr, "memplugctl status: %s: %s\n", path, strerror(-err));
		return MP_EXIT_FAIL;
	}
	o = json_tokener_parse(answer);
	if (!o) {
		fprintf(stderr, "memplugctl status: memplugd's answer is not JSON\n");
		free(answer);
		return MP_EXIT_FAIL;
	}
	if (mp_json_get_str(o, "error", NULL)) {
		fprintf(stderr, "memplugctl status: memplugd says: %s\n",
			mp_json_get_str(o, "error", ""));
		json_object_put(o);
		free(answer);
		return MP_EXIT_FAIL;
	}
	if (json)
		printf("%s\n",
		       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		mp_status_print(o, stdout);
	json_object_put(o);
	free(answer);
	return MP_EXIT_OK;
}
