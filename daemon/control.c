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

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

struct json_object *mpd_status_json(struct daemon *d)
{
	struct json_object *o = json_object_new_object(), *a;

	add_str(o, "version", MEMPLUG_VERSION);
	add_int(o, "pid", getpid());
	add_str(o, "sysroot", mp_ctx_root(d->ctx));
	add_str(o, "auto_online_blocks", d->auto_online);
	add_str(o, "node_facts", d->nodes ? d->nodes->name : "");
	add_int(o, "scans", (int64_t)d->scans);
	add_int(o, "uevents", (int64_t)d->uevents);
	add_int(o, "violations", (int64_t)d->violations);
	if (d->last_error[0])
		add_str(o, "last_error", d->last_error);
	a = json_object_new_array();
	for (size_t i = 0; d->set && i < mp_policyset_count(d->set); i++)
		json_object_array_add(
			a, json_object_new_string(mp_policy_path(mp_policyset_get(d->set, i))));
	json_object_object_add(o, "policies", a);
	if (d->policy_errors)
		add_str(o, "refused_reload", d->policy_errors);

	a = json_object_new_array();
	if (d->auto_online[0] && strcmp(d->auto_online, "offline")) {
		char buf[160];

		snprintf(buf, sizeof(buf),
			 "auto_online_blocks=%s: the kernel onlines new memory itself",
			 d->auto_online);
		json_object_array_add(a, json_object_new_string(buf));
	}
	for (size_t i = 0; i < d->nr_recs; i++) {
		struct rec *r = &d->recs[i];
		char buf[480];

		if (r->state != REC_OTHER && r->state != REC_OFFLINED && !r->by_other)
			continue;
		snprintf(buf, sizeof(buf), "%s: %s", r->key, r->message);
		json_object_array_add(a, json_object_new_string(buf));
	}
	json_object_object_add(o, "conflicts", a);

	a = json_object_new_array();
	for (size_t i = 0; i < d->nr_recs; i++) {
		struct rec *r = &d->recs[i];
		struct json_object *x = json_object_new_object();

		add_str(x, "device", r->key);
		add_str(x, "kind", r->kind ? mp_policy_kind_name(r->kind) : "unknown");
		add_int(x, "node", r->node);
		add_int(x, "start", (int64_t)r->start);
		add_int(x, "size", (int64_t)r->size);
		add_str(x, "blocks", r->blocks);
		add_str(x, "outcome", mpd_rec_state_name(r->state));
		add_str(x, "policy", r->policy);
		add_str(x, "zone", r->zone);
		add_str(x, "zone_why", r->zone_why);
		add_str(x, "message", r->message);
		add_int(x, "onlined", (int64_t)r->onlined);
		add_int(x, "verified", (int64_t)r->verified);
		add_int(x, "pages_verified", (int64_t)r->pages_verified);
		add_int(x, "failed", (int64_t)r->failed);
		add_int(x, "by_other", (int64_t)r->by_other);
		add_int(x, "violations", (int64_t)r->violations);
		if (r->done_us) {
			add_int(x, "online_us", (int64_t)r->online_us);
			add_int(x, "verify_us", (int64_t)r->verify_us);
			add_int(x, "latency_us", (int64_t)(r->done_us - r->first_seen_us));
			add_int(x, "verified_at", (int64_t)r->verified_at);
		}
		if (r->trim_known) {
			struct json_object *t = json_object_new_object();

			add_int(t, "keep_start", (int64_t)r->trim.keep_start);
			add_int(t, "keep_end", (int64_t)r->trim.keep_end);
			add_int(t, "stranded_head", (int64_t)r->trim.stranded_head);
			add_int(t, "stranded_tail", (int64_t)r->trim.stranded_tail);
			json_object_object_add(t, "checked",
					       json_object_new_boolean(r->trim_checked));
			json_object_object_add(t, "as_predicted",
					       json_object_new_boolean(r->trim_ok));
			add_str(t, "text", r->trim_text);
			json_object_object_add(x, "kmem_trim", t);
		}
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "devices", a);

	a = json_object_new_array();
	if (d->mem) {
		/* Node facts from the provider in force (libnuma live, the scan on a fixture). */
		int seen[64] = { 0 };

		for (size_t i = 0; i < d->mem->nr; i++) {
			int n = d->mem->blocks[i].node;
			struct mp_node_mem nm;
			struct mp_zone_facts zf;
			struct json_object *x;

			if (n < 0 || n >= 64 || seen[n])
				continue;
			seen[n] = 1;
			x = json_object_new_object();
			add_int(x, "node", n);
			if (d->nodes && !d->nodes->read(d->nodes->priv, d->mem, n, &nm)) {
				add_int(x, "total", (int64_t)nm.total);
				if (nm.free_known)
					add_int(x, "free", (int64_t)nm.free);
			}
			mp_zone_facts_scan(d->mem, n, &zf);
			add_int(x, "kernel_early", (int64_t)zf.kernel_early);
			add_int(x, "movable", (int64_t)zf.movable);
			json_object_array_add(a, x);
		}
	}
	json_object_object_add(o, "nodes", a);
	return o;
}

struct json_object *mpd_list_json(struct daemon *d)
{
	struct mp_memory none = { 0 };

	/* One definition of the list model: kernel/memjson.c. */
	return mp_memory_to_json(d->mem ? d->mem : &none, mp_ctx_root(d->ctx));
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

	add_str(o, "error", msg);
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
		struct rec *r;

		if (!c->wait_key[0]) {
			i++;
			continue;
		}
		r = mpd_rec_find(d, c->wait_key);
		if (!r || !mpd_rec_final(r) || r->state == REC_KMEM) {
			i++;
			continue;
		}
		reply(c->fd, mpd_status_json(d));
		client_close(i);
	}
}
