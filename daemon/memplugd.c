// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugd: online hot-added memory by policy, and prove it.
 *
 * One poll() loop over: the kernel's uevent netlink socket (no udevd
 * needed), a signalfd (SIGHUP reload, SIGTERM/SIGINT stop), a settle timer
 * (a DIMM's blocks and links arrive over a few milliseconds), the systemd
 * watchdog timer, the control socket and the memplug channel to the host
 * (channel.c; SIGIO says when a host connects).  Idle, it sleeps in poll()
 * until the kernel, a client or the host says something; the watchdog is
 * the only timer.
 *
 * What to do is the engine's business (engine/mp-engine.h): memplugd only
 * tells it when to look; control.c answers memplugctl from its model.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "memplugd.h"
#include "mp-channel.h"
#include "util.h"

#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
static int sd_notify(int unset, const char *state)
{
	return 0;
}
static int sd_notifyf(int unset, const char *fmt, ...)
{
	return 0;
}
static int sd_watchdog_enabled(int unset, uint64_t *usec)
{
	return 0;
}
#endif

#define UEVENT_BUF 8192

static void usage(FILE *f)
{
	fputs("Usage: memplugd [OPTION...]\n"
	      "Online hot-added memory by policy and verify the result.\n\n"
	      "  -r, --sysroot DIR      read /sys and /proc under DIR (a fixture)\n"
	      "  -p, --policy-dir DIR   policy drop-in directory, highest priority first;\n"
	      "                         repeatable (default: memplugctl policy dirs)\n"
	      "  -s, --socket PATH      control socket (default " MEMPLUG_CONTROL_SOCKET ")\n"
	      "  -c, --channel NAME     virtio-serial port of the memplug channel to the host\n"
	      "                         (default " MP_CHAN_PORT_NAME "; '' = none)\n"
	      "      --state PATH       record of devices onlined by memplugd, kept across\n"
	      "                         restarts (default " MEMPLUG_STATE_FILE "; '' = none)\n"
	      "  -t, --check-config     load the policies, print every error or\n"
	      "                         'configuration OK', and exit\n"
	      "  -n, --foreground       do not detach (implied under systemd)\n"
	      "  -1, --once             scan, apply policies to what is there, exit\n"
	      "  --kernel-fast-path     let the kernel online at add time where the policies\n"
	      "                         fit its knobs (docs/performance.md); verify only\n"
	      "  -v, --verbose          log every block (twice: debug)\n"
	      "      --events PATH      read uevents from PATH (a FIFO; tests) instead of\n"
	      "                         the kernel's netlink socket\n"
	      "      --uevent-rcvbuf N  netlink receive buffer in bytes (default 4 MiB; tests\n"
	      "                         shrink it to make the kernel drop events: ENOBUFS)\n"
	      "  -h, --help             this text\n"
	      "  -V, --version          print the version\n",
	      f);
}

/* ---- uevents ------------------------------------------------------------------ */

/* @rcvbuf: receive buffer in bytes; 0 = 4 MiB (tests shrink it to provoke ENOBUFS). */
static int uevent_open(int rcvbuf)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 /* kernel */ };
	int fd, sz = rcvbuf > 0 ? rcvbuf : 4 << 20, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	/* A 4 GiB DIMM is 32 add + 32 online events at once: a big buffer, ENOBUFS -> rescan. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * One uevent: "ACTION@DEVPATH\0KEY=VALUE\0...".  Returns true when it may
 * change what memplugd should do.  "online" events of blocks memplugd just
 * onlined itself are expected and skipped: rescanning for them would only
 * cost time.
 */
static bool uevent_relevant(struct daemon *d, char *msg, size_t len)
{
	const char *action, *subsystem, *devpath;
	struct mp_uevent ev;
	char why[160];

	if (mp_uevent_parse(msg, len, &ev, why, sizeof(why)) < 0) {
		/* Not what the kernel writes: say so, and look for ourselves. */
		mp_warn("uevent refused: %s; rescanning", why);
		mp_engine_rescan_all(d->engine);
		return true;
	}
	action = ev.action;
	subsystem = ev.subsystem;
	devpath = ev.devpath;
	if (!strcmp(subsystem, "virtio-ports")) {
		/* The channel's port appeared, got its name, or went. */
		mpd_channel_poke(d);
		return false;
	}
	if (strcmp(subsystem, "memory") && strcmp(subsystem, "dax") && strcmp(subsystem, "nd") &&
	    strcmp(subsystem, "virtio"))
		return false;
	d->uevents++;
	mp_dbg("uevent %s %s %s", action, subsystem, devpath ? devpath : "?");
	if (!strcmp(subsystem, "memory")) {
		const char *base = devpath ? strrchr(devpath, '/') : NULL;
		uint64_t id;

		if (!base || mp_block_parse_name(base + 1, &id)) {
			/* Memory, but no block: which blocks changed is not known. */
			mp_engine_rescan_all(d->engine);
			return true;
		}
		/* First: even an expected block is read again at the next scan. */
		mp_engine_block_uevent(d->engine, action, id);
		if (!strcmp(action, "online") && mp_engine_uevent_expected(d->engine, id))
			return false;
	}
	return true;
}

/* Drain the socket: a DIMM's add events come as one burst; one rescan serves them all. */
static void uevent_read(struct daemon *d, int fd, bool fifo)
{
	char buf[UEVENT_BUF + 1];

	for (;;) {
		ssize_t n;

		if (fifo) {
			n = read(fd, buf, UEVENT_BUF);
		} else {
			struct sockaddr_nl sa;
			struct iovec iov = { buf, UEVENT_BUF };
			struct msghdr mh = { .msg_name = &sa,
					     .msg_namelen = sizeof(sa),
					     .msg_iov = &iov,
					     .msg_iovlen = 1 };

			n = recvmsg(fd, &mh, MSG_DONTWAIT);
			/* Only the kernel (port 0) speaks here; a process could multicast too. */
			if (n > 0 && sa.nl_pid != 0)
				continue;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				mp_warn("uevent socket overflowed (ENOBUFS): events lost, rescanning");
				mp_engine_rescan_all(d->engine);
				d->dirty = true;
				continue;
			}
			mp_err("uevent socket: %s", strerror(errno));
			return;
		}
		if (n == 0)
			return; /* FIFO writer gone */
		buf[n] = '\0';
		if (fifo) {
			/* Test source: one event per line, fields separated by blanks. */
			char *line = buf, *nl;

			while ((nl = strchr(line, '\n'))) {
				*nl = '\0';
				for (char *p = line; *p; p++)
					if (*p == ' ')
						*p = '\0';
				if (uevent_relevant(d, line, (size_t)(nl - line)))
					d->dirty = true;
				line = nl + 1;
			}
			continue;
		}
		if (uevent_relevant(d, buf, (size_t)n))
			d->dirty = true;
	}
}

/* ---- main loop ---------------------------------------------------------------- */

/* STATUS= only when it says something new: every send wakes systemd. */
static void notify_status(struct daemon *d)
{
	char buf[sizeof(d->status)];

	mp_engine_summary(d->engine, buf, sizeof(buf));
	if (!strcmp(buf, d->status))
		return;
	snprintf(d->status, sizeof(d->status), "%s", buf);
	sd_notifyf(0, "STATUS=%s", buf);
}

static void arm(int tfd, uint64_t ns, uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_value = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) },
		.it_interval = { (time_t)(interval_ns / 1000000000u),
				 (long)(interval_ns % 1000000000u) },
	};

	timerfd_settime(tfd, 0, &its, NULL);
}

/* Arm @tfd to fire once at the mp_now_us() time @at (0 disarms). */
static void arm_at(int tfd, uint64_t at)
{
	uint64_t now = mp_now_us(), ns = at > now ? (at - now) * 1000u : 1;

	arm(tfd, at ? ns : 0, 0);
}

static int run_once(struct daemon *d)
{
	uint64_t at;
	int err;

	err = mp_engine_reconcile(d->engine);
	/* A failed scan the engine tries again on its timer is not the end yet. */
	if (err && !mp_engine_next_wake_us(d->engine))
		return err;
	/* Let a settling device finish, as the loop would. */
	while ((at = mp_engine_next_wake_us(d->engine))) {
		uint64_t now = mp_now_us();

		if (at > now)
			usleep((useconds_t)(at - now));
		err = mp_engine_settle(d->engine);
		if (err < 0)
			return err;
	}
	while (mp_engine_deferred_pending(d->engine))
		mp_engine_run_deferred(d->engine);
	return 0;
}

/* Detach unless under systemd or -n: the parent exits once the first scan is done. */
static int detach(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

static int main_loop(struct daemon *d, int ufd, bool fifo, int sfd)
{
	enum { P_UEVENT, P_SIGNAL, P_SETTLE, P_WATCHDOG, P_DRAIN, P_GROW, P_CHANNEL };
	enum { P_CONTROL = P_CHANNEL + MPD_CHANNEL_MAX_FDS };
	struct pollfd pfd[P_CONTROL + MPD_CONTROL_MAX_FDS];
	int settle_fd, wd_fd = -1, ready_fd = -1;
	uint64_t wd_usec = 0, settle_at = 0;

	settle_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (settle_fd < 0)
		return -errno;
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec) {
		wd_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (wd_fd >= 0)
			arm(wd_fd, wd_usec * 500, wd_usec * 500); /* half of WATCHDOG_USEC, in ns */
	}
	if (d->socket_path && d->socket_path[0]) {
		int err = mpd_control_new(d->socket_path, &d->control);

		if (err)
			return err;
	}
	if (!d->foreground && !getenv("NOTIFY_SOCKET")) {
		int err = detach(&ready_fd);

		if (err)
			return err;
	}

	/* Boot-time DIMMs' uevents were sent before anyone listened: scan first. */
	mp_engine_reconcile(d->engine);
	/*
	 * After detach() (the port's SIGIO goes to the pid that opened it,
	 * F_SETOWN) and after the first scan (a host already connected gets a
	 * greeting with the node facts in it).
	 */
	if (d->channel_name && d->channel_name[0]) {
		int err = mpd_channel_new(d, d->channel_name);

		if (err)
			return err;
	}
	sd_notify(0, "READY=1");
	notify_status(d);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "1", 1);
		close(ready_fd);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			close(null);
		}
	}
	mp_notice("ready: %zu device(s) known, watching uevents%s",
		  mp_engine_device_count(d->engine), wd_fd >= 0 ? ", watchdog on" : "");

	for (;;) {
		int n, nc, nch;

		uint64_t at;

		if (d->dirty) {
			d->dirty = false;
			mp_engine_reconcile(d->engine);
			notify_status(d);
			mpd_control_wake(d);
		}
		/* A settling device is looked at on a one-shot timer, backing off. */
		at = mp_engine_next_wake_us(d->engine);
		if (at != settle_at) {
			arm_at(settle_fd, at);
			settle_at = at;
		}
		pfd[P_UEVENT] = (struct pollfd){ .fd = ufd, .events = POLLIN };
		pfd[P_SIGNAL] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[P_SETTLE] = (struct pollfd){ .fd = settle_fd, .events = POLLIN };
		pfd[P_WATCHDOG] = (struct pollfd){ .fd = wd_fd, .events = POLLIN };
		pfd[P_DRAIN] = (struct pollfd){ .fd = d->drain.pid > 0 ? d->drain.fd : -1,
						.events = POLLIN };
		pfd[P_GROW] = (struct pollfd){ .fd = mpd_grow_fd(d), .events = POLLPRI };
		/* New outcomes become events; a gap in P_CHANNEL's entries is polled as fd -1. */
		mpd_channel_sync(d);
		pfd[P_CHANNEL] = pfd[P_CHANNEL + 1] = (struct pollfd){ .fd = -1 };
		nch = mpd_channel_fds(d->channel, pfd + P_CHANNEL);
		nc = mpd_control_fds(d->control, pfd + P_CONTROL, MPD_CONTROL_MAX_FDS);
		/* Deferred page-flag checks run only when nothing else is waiting. */
		n = poll(pfd, P_CONTROL + nc, mp_engine_deferred_pending(d->engine) ? 0 : -1);
		if (n == 0) {
			mp_engine_run_deferred(d->engine);
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			mp_err("poll: %s", strerror(errno));
			return -errno;
		}
		if (pfd[P_SIGNAL].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGIO) {
					mpd_channel_poke(d);
				} else if (si.ssi_signo == SIGHUP) {
					sd_notify(0, "RELOADING=1");
					mp_notice("SIGHUP: reloading policies");
					mpd_reload(d, false);
					sd_notify(0, "READY=1");
					/* Undecided devices (no match before) are not re-decided: only new ones. */
					notify_status(d);
				} else {
					mp_notice("%s: stopping", strsignal((int)si.ssi_signo));
					sd_notify(0, "STOPPING=1");
					goto out;
				}
			}
		}
		if (pfd[P_UEVENT].revents & POLLIN)
			uevent_read(d, ufd, fifo);
		if (fifo && (pfd[P_UEVENT].revents & POLLHUP)) {
			/* Test source closed: stop like SIGTERM once the work is done. */
			if (!d->dirty && !mp_engine_next_wake_us(d->engine))
				goto out;
			d->dirty = true;
		}
		if (pfd[P_SETTLE].revents) {
			uint64_t x;

			(void)!read(settle_fd, &x, sizeof(x));
			settle_at = 0;
			if (mp_engine_settle(d->engine) > 0) {
				notify_status(d);
				mpd_control_wake(d);
			}
		}
		if (wd_fd >= 0 && pfd[P_WATCHDOG].revents) {
			uint64_t x;

			(void)!read(wd_fd, &x, sizeof(x));
			sd_notify(0, "WATCHDOG=1");
		}
		if (pfd[P_DRAIN].revents)
			mpd_drain_read(d);
		if (pfd[P_GROW].revents)
			mpd_grow_handle(d, pfd[P_GROW].revents);
		if (nch)
			mpd_channel_handle(d, pfd + P_CHANNEL, nch);
		if (nc)
			mpd_control_handle(d, pfd + P_CONTROL, nc);
	}
out:
	/* A drain half done would leave a device half offline: let it finish or roll back. */
	mpd_drain_wait(d);
	mpd_control_free(d->control); /* removes the socket */
	d->control = NULL;
	mpd_channel_free(d);
	close(settle_fd);
	if (wd_fd >= 0)
		close(wd_fd);
	return 0;
}

/* Everything the daemon holds, released on every exit path (LeakSanitizer runs the tests). */
static void daemon_release(struct daemon *d)
{
	mpd_control_free(d->control); /* NULL unless main_loop() failed early */
	mpd_channel_free(d);
	mpd_grow_free(d);
	mp_drain_plan_free(&d->drain.plan);
	mp_engine_free(d->engine);
	mp_ctx_free(d->ctx);
	free(d->policy_errors);
}

/* The library's messages (through the context) go where memplugd's own go. */
static void daemon_log(void *data, int priority, const char *fmt, va_list ap)
{
	mp_vlog(priority, fmt, ap);
}

int mpd_reload(struct daemon *d, bool first)
{
	const struct mp_policyset *old = d->engine ? mp_engine_policies(d->engine) : NULL;
	struct mp_policy_errors *errs = NULL;
	struct mp_policyset *set = NULL;
	size_t n;
	int err;

	err = mp_policyset_load(d->policy_dirs, 0, &set, &errs);
	n = mp_policy_errors_count(errs);
	if (err) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		for (size_t i = 0; i < n; i++) {
			const struct mp_policy_diag *e = mp_policy_errors_get(errs, i);

			mp_err("%s:%u: %s", e->file, e->line, e->msg);
		}
		if (f) {
			mp_policy_errors_print(errs, f);
			fclose(f);
			free(d->policy_errors);
			d->policy_errors = buf;
		}
		mp_policy_errors_free(errs);
		if (first)
			mp_err("%zu problem%s: configuration refused", n, n == 1 ? "" : "s");
		else
			mp_err("reload refused (%zu problem%s): keeping the %zu policies in force",
			       n, n == 1 ? "" : "s", old ? mp_policyset_count(old) : (size_t)0);
		return err;
	}
	mp_policy_errors_free(errs);
	free(d->policy_errors);
	d->policy_errors = NULL;
	mp_engine_set_policies(d->engine, set);
	mp_policyset_unref(set);
	mpd_grow_sync(d);
	mp_notice("%zu polic%s in force", mp_policyset_count(set),
		  mp_policyset_count(set) == 1 ? "y" : "ies");
	for (size_t i = 0; i < mp_policyset_count(set); i++)
		mp_info("  %s", mp_policy_path(mp_policyset_get(set, i)));
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_STATE = 0x100, OPT_EVENTS, OPT_RCVBUF };
	static const struct option opts[] = {
		{ "sysroot", required_argument, NULL, 'r' },
		{ "policy-dir", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "channel", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "kernel-fast-path", no_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "uevent-rcvbuf", required_argument, NULL, OPT_RCVBUF },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct daemon d = { .drain.fd = -1,
			    .socket_path = MEMPLUG_CONTROL_SOCKET,
			    .channel_name = MP_CHAN_PORT_NAME,
			    .state_path = MEMPLUG_STATE_FILE };
	/* On the stack: every early return below would otherwise leak it. */
	const char *dirs[argc + 1];
	bool check = false;
	int verbose = 0, ndirs = 0, c, err, ufd, sfd, rc, rcvbuf = 0;
	sigset_t mask;

	mp_log_set_ident("memplugd");
	mp_log_set_level(LOG_NOTICE);
	memset(dirs, 0, sizeof(dirs));
	while ((c = getopt_long(argc, argv, "r:p:s:c:tn1vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			d.sysroot = optarg;
			break;
		case 'p':
			dirs[ndirs++] = optarg;
			break;
		case 's':
			d.socket_path = optarg;
			break;
		case OPT_STATE:
			d.state_path = optarg;
			break;
		case 'c':
			d.channel_name = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'n':
			d.foreground = true;
			break;
		case 'K':
			/* opt-in until the whole guest suite has run with it */
			d.fast_path = true;
			break;
		case '1':
			d.once = true;
			break;
		case 'v':
			verbose++;
			break;
		case OPT_EVENTS:
			d.events_path = optarg;
			break;
		case OPT_RCVBUF:
			rcvbuf = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("memplugd %s\n", MEMPLUG_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "memplugd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (verbose)
		mp_log_set_level(verbose > 1 ? LOG_DEBUG : LOG_INFO);
	d.policy_dirs = ndirs ? dirs : NULL;

	if (check) {
		/* Print like memplugctl policy check: every problem, then the verdict. */
		struct mp_policy_errors *errs = NULL;
		struct mp_policyset *set = NULL;

		err = mp_policyset_load(d.policy_dirs, 0, &set, &errs);
		/*
		 * Under systemd (ExecStartPre=, ExecReload=) plain stdout reaches
		 * the journal at priority info: the problems go through the log,
		 * at err, so that journalctl -p err shows why a start or a reload
		 * failed.
		 */
		if (err && getenv("JOURNAL_STREAM")) {
			size_t n = mp_policy_errors_count(errs);

			for (size_t i = 0; i < n; i++) {
				const struct mp_policy_diag *e = mp_policy_errors_get(errs, i);

				mp_err("%s:%u: %s", e->file, e->line, e->msg);
			}
			mp_err("%zu problem%s: configuration refused", n, n == 1 ? "" : "s");
			mp_policy_errors_free(errs);
			return 1;
		}
		mp_policy_errors_print(errs, stdout);
		mp_policy_errors_free(errs);
		if (err) {
			printf("configuration refused\n");
			return 1;
		}
		printf("configuration OK (%zu polic%s)\n", mp_policyset_count(set),
		       mp_policyset_count(set) == 1 ? "y" : "ies");
		mp_policyset_unref(set);
		return 0;
	}

	err = mp_ctx_new(d.sysroot, &d.ctx);
	if (err) {
		mp_err("--sysroot: %s", strerror(-err));
		return 1;
	}
	mp_ctx_set_log_fn(d.ctx, daemon_log, &d);
	rc = 1;
	err = mp_engine_new(
		d.ctx,
		&(struct mp_engine_config){ .state_path = d.state_path,
					    .kernel_knobs = d.fast_path && !d.once && !d.sysroot },
		&d.engine);
	if (err) {
		mp_err("engine: %s", strerror(-err));
		goto out;
	}
	mp_info("node facts from %s%s", mp_node_provider_default(d.ctx)->name,
		mp_ctx_root(d.ctx)[0] ? " (sysroot set: the host's own nodes are not read)" : "");
	if (mpd_reload(&d, true))
		goto out;

	if (d.once) {
		err = run_once(&d);
		if (!err) {
			struct mp_engine_counters cnt;

			mp_engine_counters(d.engine, &cnt);
			rc = cnt.violations ? 3 : 0;
		} else {
			rc = 1;
		}
		goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGIO); /* the channel's port: a host connected or left */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		mp_err("signalfd: %s", strerror(errno));
		goto out;
	}
	if (d.events_path) {
		/* O_RDWR on a FIFO: never EOF while the test re-opens it between writes. */
		ufd = open(d.events_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (ufd < 0) {
			mp_err("%s: %s", d.events_path, strerror(errno));
			close(sfd);
			goto out;
		}
	} else {
		ufd = uevent_open(rcvbuf);
		if (ufd < 0) {
			mp_err("uevent netlink socket: %s", strerror(-ufd));
			close(sfd);
			goto out;
		}
	}
	err = main_loop(&d, ufd, d.events_path != NULL, sfd);
	close(ufd);
	close(sfd);
	rc = err ? 1 : 0;
out:
	daemon_release(&d);
	return rc;
}
