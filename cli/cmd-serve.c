// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl host ... serve: answer one VM's growth requests, for as long
 * as it runs (docs/host.md, "serve").  One loop: wait for the guest's next
 * GROW_REQUEST on the channel (a second at a time, so SIGTERM is seen),
 * hand it to mp_host_grow_handle(), log the decision with its numbers.  The
 * VM or its channel going away is not an error: the loop reconnects with a
 * back-off (1 s doubling to 30 s) and keeps its rate limit and cooldown.
 * Argument parsing and printing only; the limits live in qmp/host-grow.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "host-conn.h"
#include "host.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

struct serve {
	struct mp_cli_host_conn conn;
	const char *config;
	bool json, once, check;
	struct mp_host_config *cfg;
	struct mp_host *h;
	struct mp_host_grow_limiter lim; /* kept across reconnects */
	bool have_lim;
	int backoff_ms;
	unsigned long connects, handled;
	char last_why[512]; /* the last reconnect failure, logged once */
	/* SIGTERM and SIGINT are blocked and picked up between requests, so a
	 * plug and its answer are never cut in half */
	sigset_t sigs;
	int stop;
};

/* Whether SIGTERM/SIGINT is pending: taken, and remembered in @s->stop. */
static bool stopping(struct serve *s)
{
	struct timespec zero = { 0 };
	int sig;

	if (!s->stop && (sig = sigtimedwait(&s->sigs, NULL, &zero)) > 0)
		s->stop = sig;
	return s->stop != 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memplugctl host (--qmp PATH --channel PATH | [--connect URI] --domain NAME)\n"
		"                       serve [--config FILE] [-J] [--once] [--check-config]\n"
		"\n"
		"Answer the guest's growth requests (GROW_REQUEST on the memplug channel)\n"
		"within the host's limits, until SIGTERM.  Every decision is logged with its\n"
		"numbers.\n"
		"  --config FILE    host limits (default " MEMPLUG_SYSCONFDIR
		"/memplug/host.d/DOMAIN.conf)\n"
		"  -J, --json       also print each decision as a JSON line on stdout\n"
		"  --once           exit after one request was handled\n"
		"  --check-config   read the config, say what is wrong or \"configuration OK\"\n");
}

/* Sleep @ms unless SIGTERM/SIGINT comes first. */
static void nap(struct serve *s, int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	int sig;

	if (stopping(s))
		return;
	sig = sigtimedwait(&s->sigs, NULL, &ts);
	if (sig > 0)
		s->stop = sig;
}

static void failed(struct serve *s, const char *why)
{
	/* the same failure every back-off would flood the journal: once, until it changes */
	if (strcmp(why, s->last_why))
		mp_warn("serve: %s; retrying (back-off up to %d s)", why, BACKOFF_MAX_MS / 1000);
	snprintf(s->last_why, sizeof(s->last_why), "%s", why);
	nap(s, s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static void drop(struct serve *s)
{
	if (!s->h)
		return;
	s->lim = *mp_host_grow_limiter_get(s->h);
	s->have_lim = true;
	mp_host_close(s->h);
	s->h = NULL;
}

/* Reach the VM and its memplugd; 0 when both answer. */
static int connect_vm(struct serve *s)
{
	char why[400], msg[480];
	int r;

	if (!s->h) {
		r = mp_cli_host_conn_open(&s->conn, 0, &s->h, msg, sizeof(msg));
		if (r < 0) {
			failed(s, msg);
			return r;
		}
		if (s->have_lim)
			*mp_host_grow_limiter_get(s->h) = s->lim;
	}
	r = mp_cli_host_conn_attach(s->h, &s->conn, why, sizeof(why));
	if (r < 0) {
		snprintf(msg, sizeof(msg), "no channel to memplugd: %s", why);
		failed(s, msg);
		/* a QMP socket that outlived its VM is reopened too */
		drop(s);
		return r;
	}
	s->connects++;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->last_why[0] = '\0';
	{
		const struct mp_host_hello *hello = mp_host_get_hello(s->h);

		mp_notice("serve: connected to memplugd %s in %s (kernel %s, block %" PRIu64
			  " MiB); limits from %s: MaxMemory %" PRIu64 " MiB, Step %" PRIu64
			  " MiB, Cooldown %" PRIu64 " s, HostFreeFloor %" PRIu64
			  " MiB, %u requests/min, %s",
			  hello->version, mp_cli_host_conn_name(&s->conn), hello->kernel,
			  hello->block_size >> 20, s->cfg->path, s->cfg->max_memory >> 20,
			  s->cfg->step >> 20, s->cfg->cooldown_ms / 1000, s->cfg->host_floor >> 20,
			  s->cfg->max_rpm, s->cfg->kind);
	}
	return 0;
}

static void report(struct serve *s, const struct mp_host_grow_decision *d, int r)
{
	char line[1400];
	const struct mp_host_grow_limiter *lim = mp_host_grow_limiter_get(s->h);

	mp_host_grow_decision_format(d, line, sizeof(line));
	/* a flood is logged boundedly: the first ten refusals by the rate limit, then powers of ten */
	if (d->rate_limited) {
		uint64_t n = lim->limited, p = 10;

		while (p < n && p < 1000000000000ull)
			p *= 10;
		if (n > 10 && n != p)
			goto json;
	}
	if (r < 0)
		mp_err("serve: %s", line);
	else
		mp_notice("serve: %s", line);
json:
	if (s->json) {
		struct json_object *o = mp_host_grow_decision_json(d);

		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		json_object_put(o);
	}
}

static int serve_loop(struct serve *s)
{
	s->backoff_ms = BACKOFF_MIN_MS;
	while (!stopping(s)) {
		struct mp_host_grow_decision d;
		struct json_object *data = NULL;
		char err[200];
		int r;

		if ((!s->h || !mp_host_has_channel(s->h)) && connect_vm(s) < 0)
			continue;
		r = mp_host_grow_wait(s->h, 1000, &data);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0) {
			snprintf(err, sizeof(err), "%s", strerror(-r));
			mp_warn("serve: the channel went away (%s): reconnecting", err);
			drop(s);
			continue;
		}
		r = mp_host_grow_handle(s->h, s->cfg, data, &d);
		json_object_put(data);
		s->handled++;
		report(s, &d, r);
		if (s->once)
			break;
	}
	if (s->h) {
		const struct mp_host_grow_limiter *lim = mp_host_grow_limiter_get(s->h);

		s->lim = *lim;
	}
	mp_notice("serve: %s: %" PRIu64 " request(s), %" PRIu64 " granted, %" PRIu64
		  " rate-limited, %lu connection(s)",
		  s->stop ? strsignal(s->stop) : "done", s->lim.requests, s->lim.granted,
		  s->lim.limited, s->connects);
	drop(s);
	return MP_EXIT_OK;
}

/**
 * mp_cmd_host_serve() - memplugctl host ... serve (argv as mp_cmd_host() got it)
 * @argc: argument count
 * @argv: arguments, argv[0] "host"
 *
 * Return: exit status.
 */
int mp_cmd_host_serve(int argc, char **argv)
{
	enum { O_CONFIG = MP_CLI_HOST_OPT_END, O_ONCE, O_CHECK };
	static const struct option opts[] = {
		MP_CLI_HOST_CONN_OPTIONS,
		{ "config", required_argument, NULL, O_CONFIG },
		{ "json", no_argument, NULL, 'J' },
		{ "once", no_argument, NULL, O_ONCE },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct serve s = { 0 };
	char path[512], why[4096];
	bool seen = false;
	int c, r;

	mp_cli_host_conn_init(&s.conn);
	while ((c = mp_cli_host_conn_getopt(&s.conn, argc, argv, "Jh", opts, usage)) != -1) {
		switch (c) {
		case O_CONFIG:
			s.config = optarg;
			break;
		case 'J':
			s.json = true;
			break;
		case O_ONCE:
			s.once = true;
			break;
		case O_CHECK:
			s.check = true;
			break;
		}
	}
	for (; optind < argc; optind++) {
		if (!strcmp(argv[optind], "serve") && !seen) {
			seen = true;
			continue;
		}
		fprintf(stderr, "memplugctl host serve: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return MP_EXIT_USAGE;
	}
	if (!s.config && s.conn.domain) {
		snprintf(path, sizeof(path), "%s/memplug/host.d/%s.conf", MEMPLUG_SYSCONFDIR,
			 s.conn.domain);
		s.config = path;
	}
	if (!s.config) {
		fprintf(stderr, "memplugctl host serve: give --config FILE (or --domain NAME for "
				"the default)\n");
		return MP_EXIT_USAGE;
	}
	r = mp_host_config_load(s.config, &s.cfg, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "%s\n", why);
		fprintf(stderr, "memplugctl host serve: %s refused\n", s.config);
		return MP_EXIT_FAIL;
	}
	if (s.check) {
		printf("%s: configuration OK\n", s.config);
		free(s.cfg);
		return MP_EXIT_OK;
	}
	/* serve lives on the channel: a QMP socket alone has none */
	if (!mp_cli_host_conn_given(&s.conn) || (!s.conn.domain && !s.conn.channel)) {
		fprintf(stderr, "memplugctl host serve: give --qmp PATH with --channel PATH, or "
				"--domain NAME (with --connect URI)\n");
		free(s.cfg);
		return MP_EXIT_USAGE;
	}
	/* every decision is a notice: the journal keeps them without -v */
	if (!mp_cli.verbose)
		mp_log_set_level(LOG_NOTICE);
	sigemptyset(&s.sigs);
	sigaddset(&s.sigs, SIGTERM);
	sigaddset(&s.sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &s.sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = serve_loop(&s);
	free(s.cfg);
	return r;
}
