// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugd's PSI trigger for growth on pressure (docs/daemon.md "Growth").
 * The decisions are the engine's (engine/grow.c); this file owns the
 * trigger's file descriptor: armed when a [Grow] policy is in force,
 * re-armed when a reload changes it, closed when it goes.  The kernel wakes
 * the loop with POLLPRI at most once per window while the stall threshold
 * is exceeded (kernel/sched/psi.c, psi_trigger_poll()); nothing polls.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "memplugd.h"
#include "mp-channel.h"
#include "mp-grow.h"
#include "mp-json.h"
#include "util.h"

struct mpd_grow {
	struct mp_grow *g;
	int fd; /* the trigger, -1 */
	char text[160]; /* what it was armed with */
	char path[PATH_MAX];
};

static void disarm(struct mpd_grow *gr)
{
	if (gr->fd >= 0)
		close(gr->fd);
	gr->fd = -1;
	gr->text[0] = '\0';
}

/*
 * Arm @text on <root>/proc/pressure/memory.  The write is what creates the
 * trigger; the kernel refuses a window outside 500 ms..10 s (EINVAL), and
 * an unprivileged writer without CAP_SYS_RESOURCE needs 2 s multiples
 * (EPERM): memplugd runs as root.
 */
static int arm(struct daemon *d, struct mpd_grow *gr, const char *text)
{
	int fd, err;

	if (mp_ctx_path(d->ctx, gr->path, sizeof(gr->path), "proc/pressure/memory"))
		return -ENAMETOOLONG;
	fd = open(gr->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		mp_err("grow: %s: %s%s", gr->path, strerror(-err),
		       err == -ENOENT ?
			       " (a kernel without CONFIG_PSI, or psi=0 on its command line)" :
			       "");
		return err;
	}
	if (write(fd, text, strlen(text) + 1) < 0) {
		err = -errno;
		mp_err("grow: %s: writing trigger '%s': %s", gr->path, text, strerror(-err));
		close(fd);
		return err;
	}
	gr->fd = fd;
	snprintf(gr->text, sizeof(gr->text), "%s", text);
	return 0;
}

/**
 * mpd_grow_sync() - follow the [Grow] policy in force: arm, re-arm, disarm
 * @d: daemon
 *
 * Called after every accepted (re)load.
 */
void mpd_grow_sync(struct daemon *d)
{
	const struct mp_grow_policy *pol = mp_policyset_grow(mp_engine_policies(d->engine));
	struct mpd_grow *gr = d->grow;
	char text[160], why[200];
	int err;

	if (!gr) {
		if (!pol)
			return;
		gr = calloc(1, sizeof(*gr));
		if (!gr || mp_grow_new(&gr->g) < 0) {
			free(gr);
			mp_err("grow: %s", strerror(ENOMEM));
			return;
		}
		gr->fd = -1;
		d->grow = gr;
	}
	if (!pol) {
		if (gr->fd >= 0)
			mp_notice("grow: no [Grow] policy in force any more: trigger '%s' disarmed",
				  gr->text);
		disarm(gr);
		mp_grow_configure(gr->g, NULL);
		mp_grow_set_armed(gr->g, false, "");
		return;
	}
	mp_grow_configure(gr->g, pol);
	if (mp_grow_trigger_text(pol, text, sizeof(text)) < 0)
		return;
	if (gr->fd >= 0 && !strcmp(text, gr->text))
		return; /* same trigger: keep it (a new one would restart its window) */
	disarm(gr);
	err = arm(d, gr, text);
	if (err) {
		snprintf(why, sizeof(why), "%s (%s)", text, strerror(-err));
		mp_grow_set_armed(gr->g, false, why);
		return;
	}
	mp_grow_set_armed(gr->g, true, text);
	mp_notice("grow: PSI trigger armed on %s: '%s' (%s:%u; step %llu MiB, ceiling %llu MiB)",
		  gr->path, text, pol->path, pol->line, (unsigned long long)(pol->step >> 20),
		  (unsigned long long)(pol->ceiling >> 20));
}

/** mpd_grow_fd() - the trigger's fd for poll() (POLLPRI), -1 when not armed. */
int mpd_grow_fd(struct daemon *d)
{
	return d->grow ? d->grow->fd : -1;
}

/* avg10 of the watched line, -1 when it cannot be read. */
static double read_avg10(struct mpd_grow *gr, enum mp_grow_pressure kind)
{
	char buf[512];
	double v;
	ssize_t n;
	int fd = open(gr->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return mp_psi_avg10(buf, kind, &v) ? -1 : v;
}

static uint64_t online_bytes(const struct mp_memory *mem)
{
	uint64_t sum = 0;

	for (size_t i = 0; mem && i < mem->nr; i++)
		if (mem->blocks[i].state == MP_BLOCK_ONLINE)
			sum += mem->blocks[i].size;
	return sum;
}

/**
 * mpd_grow_handle() - the trigger's fd woke the loop
 * @d: daemon
 * @revents: poll()'s revents for it
 */
void mpd_grow_handle(struct daemon *d, short revents)
{
	struct mpd_grow *gr = d->grow;
	const struct mp_grow_policy *pol;
	const struct mp_memory *mem = mp_engine_memory(d->engine);
	struct mp_grow_facts f = { 0 };
	struct json_object *data = NULL;
	char why[400];
	int err;

	if (!gr || gr->fd < 0)
		return;
	if (revents & (POLLERR | POLLNVAL)) {
		/* the trigger is gone (the file's owner destroyed it): arm it again */
		mp_warn("grow: trigger '%s' reported an error: re-arming", gr->text);
		disarm(gr);
		mpd_grow_sync(d);
		return;
	}
	if (!(revents & POLLPRI))
		return;
	pol = mp_grow_policy(gr->g);
	if (!pol)
		return;
	f.now_ms = mp_now_ms();
	f.host = mpd_channel_connected(d);
	f.total = online_bytes(mem);
	f.block_size = mem ? mem->geo.block_size : 0;
	f.avg10 = read_avg10(gr, pol->pressure);
	if (mp_grow_on_trigger(gr->g, &f, &data, why, sizeof(why)) <= 0) {
		mp_info("grow: pressure '%s' (avg10 %.2f): no request: %s", gr->text, f.avg10, why);
		return;
	}
	err = mpd_channel_event(d, "GROW_REQUEST", data);
	if (err)
		mp_warn("grow: %s: not sent: %s", why, strerror(-err));
	else
		mp_notice("grow: pressure '%s' (avg10 %.2f): %s", gr->text, f.avg10, why);
}

/**
 * mpd_grow_answer() - the host's grow-answer command
 * @d: daemon
 * @id: the request's id
 * @args: its arguments
 *
 * Return: the reply to queue ({} or an error).
 */
struct json_object *mpd_grow_answer(struct daemon *d, struct json_object *id,
				    struct json_object *args)
{
	char why[700];
	int err;

	if (!d->grow)
		return mp_chan_error_new(id, MP_CHAN_E_NOT_FOUND,
					 "no grow request was sent (no [Grow] policy in force)",
					 NULL);
	err = mp_grow_answer(d->grow->g, args, mp_now_ms(), why, sizeof(why));
	if (err == -EINVAL)
		return mp_chan_error_new(id, MP_CHAN_E_BAD_ARGUMENTS, why, NULL);
	if (err) {
		mp_info("grow: grow-answer refused: %s", why);
		return mp_chan_error_new(id, MP_CHAN_E_NOT_FOUND, why, NULL);
	}
	mp_notice("grow: host answered: %s", why);
	return mp_chan_return_new(id, NULL);
}

/** mpd_grow_status() - the "grow" member of the status document. */
void mpd_grow_status(struct daemon *d, struct json_object *o)
{
	struct json_object *g;

	if (d->grow) {
		g = mp_grow_status_json(d->grow->g, mp_now_ms());
	} else {
		g = json_object_new_object();
		mp_json_add_bool(g, "enabled", false);
	}
	json_object_object_add(o, "grow", g);
}

/** mpd_grow_free() - close the trigger, free the state. */
void mpd_grow_free(struct daemon *d)
{
	if (!d->grow)
		return;
	disarm(d->grow);
	mp_grow_free(d->grow->g);
	free(d->grow);
	d->grow = NULL;
}
