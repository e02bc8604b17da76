// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugd's drain of a device for an unplug (the control socket's "drain").
 *
 * Offlining migrates pages: seconds per block, up to the deadline.  The
 * poll() loop must keep answering uevents, clients and the watchdog
 * meanwhile, so the engine's drain runs in halves: mp_engine_drain_prepare()
 * here, mp_blocks_offline() in a child process, which sends its result back
 * through a pipe, and mp_engine_drain_finish() here once the pipe closes.
 * The result is a flat struct (its only pointer, rollback_word, points into
 * the program's constant strings, the same in parent and child after
 * fork()), so it crosses the pipe as bytes.  One drain runs at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "memplugd.h"
#include "mp-json.h"
#include "util.h"

/* What the child writes: its return, then the result (length-prefixed). */
struct drain_msg {
	int err;
	size_t len; /* bytes of struct mp_offline_result that follow; 0: none */
};

static void child(struct daemon *d, int fd, int timeout_ms, pid_t parent)
{
	struct mp_offline_result *res = NULL;
	struct drain_msg m;
	size_t off = 0;

	/*
	 * Die with memplugd.  A drain that outlived a SIGKILLed memplugd would
	 * go on offlining behind the back of the restarted one, which onlines
	 * the blocks of a device it finds half offline (its state file says
	 * the device is its own); and a drain that then succeeded would leave
	 * the whole device offline with no host told.  Killed, the write in
	 * progress is interrupted (the block stays online), and the restarted
	 * memplugd onlines what was offlined: the unplug did not happen.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);

	/*
	 * The whole struct goes down the pipe, padding after .err included:
	 * zero it all, or the child writes uninitialised stack bytes
	 * (memcheck: "write(buf) points to uninitialised byte(s)").
	 */
	memset(&m, 0, sizeof(m));
	/* The parent's signals stay blocked here: a SIGTERM to memplugd lets the drain finish. */
	m.err = mp_blocks_offline(d->ctx, d->drain.plan.ids, d->drain.plan.nr, timeout_ms, 0, &res);
	m.len = res ? sizeof(*res) + res->nr * sizeof(res->blocks[0]) : 0;
	if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(1);
	while (off < m.len) {
		ssize_t n = write(fd, (const char *)res + off, m.len - off);

		if (n <= 0)
			_exit(1);
		off += (size_t)n;
	}
	_exit(0);
}

int mpd_drain_start(struct daemon *d, const char *device, int timeout_ms)
{
	int p[2], err;
	pid_t pid, parent;

	if (d->drain.pid > 0) {
		mp_warn("drain %s: refused, the drain of %s is still running", device,
			d->drain.plan.key);
		return -EBUSY;
	}
	err = mp_engine_drain_prepare(d->engine, device, &d->drain.plan);
	if (err)
		return err; /* 1: nothing to offline, recorded drained */
	if (pipe2(p, O_CLOEXEC) < 0) {
		err = -errno;
		goto undo;
	}
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		goto undo;
	}
	if (pid == 0) {
		close(p[0]);
		child(d, p[1], timeout_ms, parent);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	d->drain.pid = pid;
	d->drain.fd = p[0];
	d->drain.len = 0;
	mp_notice("%s: draining %zu block(s) in process %d, deadline %d ms", d->drain.plan.key,
		  d->drain.plan.nr, (int)pid, timeout_ms);
	return 0;
undo:
	mp_err("drain %s: cannot start: %s", device, strerror(-err));
	mp_engine_drain_finish(d->engine, &d->drain.plan, err, NULL);
	mp_drain_plan_free(&d->drain.plan);
	return err;
}

/* The child is done (EOF on the pipe): record, answer, forget. */
static void drain_end(struct daemon *d)
{
	const struct drain_msg *m = (const struct drain_msg *)d->drain.buf;
	const struct mp_offline_result *res = NULL;
	struct json_object *o = json_object_new_object();
	int status = 0, err;

	close(d->drain.fd);
	d->drain.fd = -1;
	while (waitpid(d->drain.pid, &status, 0) < 0 && errno == EINTR)
		;
	if (d->drain.len >= sizeof(*m) && d->drain.len == sizeof(*m) + m->len &&
	    (!m->len || m->len >= sizeof(*res))) {
		err = m->err;
		res = m->len ? (const void *)(m + 1) : NULL;
		if (res && m->len != sizeof(*res) + res->nr * sizeof(res->blocks[0]))
			res = NULL;
	} else {
		/* The child died before it said anything: the kernel state decides. */
		err = -EIO;
		mp_err("%s: the drain process %d ended without a result (status 0x%x): rescanning",
		       d->drain.plan.key, (int)d->drain.pid, status);
	}
	mp_engine_drain_finish(d->engine, &d->drain.plan, err, res);
	mp_json_add_str(o, "device", d->drain.plan.key);
	mp_json_add_int(o, "err", err);
	if (res)
		json_object_object_add(o, "drain", mp_offline_result_to_json(res));
	else
		mp_json_add_str(o, "error", strerror(-err));
	/* The requester answers: the channel's prepare-unplug or the control socket's drain. */
	if (d->drain.for_channel)
		mpd_channel_drain_done(d, o);
	else
		mpd_control_drain_done(d, o);
	d->drain.for_channel = false;
	mp_drain_plan_free(&d->drain.plan);
	free(d->drain.buf);
	d->drain.buf = NULL;
	d->drain.len = d->drain.cap = 0;
	d->drain.pid = 0;
	/* Whatever happened, look again: rolled-back blocks, a device gone. */
	d->dirty = true;
}

void mpd_drain_read(struct daemon *d)
{
	for (;;) {
		ssize_t n;

		if (d->drain.len == d->drain.cap) {
			size_t cap = d->drain.cap ? d->drain.cap * 2 : 4096;
			char *b = realloc(d->drain.buf, cap);

			if (!b) {
				mp_err("drain: out of memory reading the result");
				kill(d->drain.pid,
				     SIGKILL); /* its rollback is lost: the scan tells */
				drain_end(d);
				return;
			}
			d->drain.buf = b;
			d->drain.cap = cap;
		}
		n = read(d->drain.fd, d->drain.buf + d->drain.len, d->drain.cap - d->drain.len);
		if (n > 0) {
			d->drain.len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		drain_end(d);
		return;
	}
}

void mpd_drain_wait(struct daemon *d)
{
	if (d->drain.pid <= 0)
		return;
	mp_notice("%s: waiting for the running drain to finish before stopping", d->drain.plan.key);
	fcntl(d->drain.fd, F_SETFL, 0);
	while (d->drain.pid > 0)
		mpd_drain_read(d);
}
