// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugd's control socket: one JSON request line per connection, one JSON
 * answer, then close.  Root only: the socket is 0600 and every peer's
 * credentials are checked with SO_PEERCRED, so a mode change by someone else
 * does not open it up.
 *
 *   {"command":"status"}                 policies, devices, outcomes, conflicts
 *   {"command":"list"}                   blocks from the latest scan
 *   {"command":"wait","device":"KEY"}    answered (with status) once the
 *                                        device has a final outcome
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "memplugd.h"
#include "mp-json.h"
#include "util.h"

#define MAX_CLIENTS 16
#define MAX_REQUEST 4096

struct client {
	int fd;
	size_t len;
	char buf[MAX_REQUEST];
	char wait_key[48]; /* "wait" pending */
};

static struct client clients[MAX_CLIENTS];
static int nr_clients;

int mpd_control_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], *slash;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			mp_err("%s: %s", dir, strerror(-err));
			return err;
		}
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket of a killed run would make bind() fail. */
	unlink(path);
	/* Created 0600 from the start: no window where others could connect. */
	mode_t old = umask(0177);

	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		err = -errno;
		umask(old);
		close(fd);
		mp_err("%s: %s", path, strerror(-err));
		return err;
	}
	umask(old);
	return fd;
}

static void client_close(int i)
{
	close(clients[i].fd);
	clients[i] = clients[--nr_clients];
}

void mpd_control_close_all(void)
{
	while (nr_clients)
		client_close(0);
}

void mpd_control_accept(struct daemon *d, int lfd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
			mp_warn("control: refused a connection from uid %d pid %d: root only",
				(int)cred.uid, (int)cred.pid);
			close(fd);
			continue;
		}
		if (nr_clients == MAX_CLIENTS) {
			mp_warn("control: too many clients, refusing pid %d", (int)cred.pid);
			close(fd);
			continue;
		}
		memset(&clients[nr_clients], 0, sizeof(clients[0]));
		clients[nr_clients++].fd = fd;
	}
}

int mpd_control_fds(struct daemon *d, struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; i < nr_clients && n < max; i++) {
		pfd[n].fd = clients[i].fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

struct json_object *mpd_status_json(struct daemon *d)
{
	struct json_object *o = mp_engine_status_json(d->engine);

	if (!o)
		return NULL;
	mp_json_add_str(o, "version", MEMPLUG_VERSION);
	mp_json_add_int(o, "pid", getpid());
	mp_json_add_u64(o, "uevents", d->uevents);
	if (d->policy_errors)
		mp_json_add_str(o, "refused_reload", d->policy_errors);
	return o;
}

struct json_object *mpd_list_json(struct daemon *d)
{
	const struct mp_memory *mem = mp_engine_memory(d->engine);
	struct mp_memory none = { 0 };

	/* One definition of the list model: kernel/memjson.c. */
	return mp_memory_to_json(mem ? mem : &none, mp_ctx_root(d->ctx));
}

static void reply(int fd, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s), off = 0;

	/* Blocking for the reply: answers are small and the peer is root's own tool. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	(void)!write(fd, "\n", 1);
	json_object_put(o);
}

static struct json_object *error_json(const char *msg)
{
	struct json_object *o = json_object_new_object();

	mp_json_add_str(o, "error", msg);
	return o;
}

/* Return: true when the client is done (answered or broken). */
static bool client_request(struct daemon *d, struct client *c)
{
	struct json_object *req, *cmd, *dev;
	const char *name;

	req = json_tokener_parse(c->buf);
	if (!req || !json_object_object_get_ex(req, "command", &cmd)) {
		reply(c->fd, error_json("bad request: expected {\"command\": ...}"));
		json_object_put(req);
		return true;
	}
	name = json_object_get_string(cmd);
	if (!strcmp(name, "status")) {
		reply(c->fd, mpd_status_json(d));
	} else if (!strcmp(name, "list")) {
		reply(c->fd, mpd_list_json(d));
	} else if (!strcmp(name, "wait") && json_object_object_get_ex(req, "device", &dev)) {
		snprintf(c->wait_key, sizeof(c->wait_key), "%s", json_object_get_string(dev));
		json_object_put(req);
		mpd_control_wake(d);
		return false;
	} else {
		reply(c->fd, error_json("unknown command"));
	}
	json_object_put(req);
	return true;
}

void mpd_control_handle(struct daemon *d, struct pollfd *pfd, int n)
{
	for (int k = 0; k < n; k++) {
		int i;

		if (!pfd[k].revents)
			continue;
		for (i = 0; i < nr_clients && clients[i].fd != pfd[k].fd; i++)
			;
		if (i == nr_clients)
			continue;
		struct client *c = &clients[i];
		ssize_t r;

		if (c->wait_key[0]) {
			/* A waiting client that hung up. */
			char tmp[64];

			if (read(c->fd, tmp, sizeof(tmp)) <= 0)
				client_close(i);
			continue;
		}
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (r <= 0) {
			if (r < 0 && errno == EAGAIN)
				continue;
			client_close(i);
			continue;
		}
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		if (!memchr(c->buf, '\n', c->len)) {
			if (c->len == sizeof(c->buf) - 1) {
				reply(c->fd, error_json("request too long"));
				client_close(i);
			}
			continue;
		}
		if (client_request(d, c))
			client_close(i);
	}
}

void mpd_control_wake(struct daemon *d)
{
	for (int i = 0; i < nr_clients;) {
		struct client *c = &clients[i];
		const struct mp_device *r;

		if (!c->wait_key[0]) {
			i++;
			continue;
		}
		r = mp_engine_device_find(d->engine, c->wait_key);
		if (!r || !mp_device_final(r)) {
			i++;
			continue;
		}
		reply(c->fd, mpd_status_json(d));
		client_close(i);
	}
}
