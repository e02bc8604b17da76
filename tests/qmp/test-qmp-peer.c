// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The QMP client against a scripted peer: the one place a fake QMP server is
 * right, because real QEMU never sends malformed or unexpected replies.
 * Each scenario is a list of steps run by a child process on the other end
 * of a socketpair: send text, read one request line, sleep, close, or hang
 * until killed.
 *
 * No wall-clock bounds (a loaded machine stretches any duration): a peer
 * that hangs can only be left by the client's own timeout, and a wait that
 * only the peer's close may end is longer than meson's timeout for this
 * test; the error returned says which ended it, and a client that hangs is
 * ended by meson.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "qmp.h"
#include "tq.h"

#define GREETING \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n"
#define CAPS_OK "{\"return\": {}, \"id\": \"mp-0\"}\r\n"

enum step_kind { SEND, READ, SLEEP, CLOSE, SEND_BIG, HANG };
struct step {
	enum step_kind kind;
	const char *text;
	int ms;
};

static void peer_run(int fd, const struct step *steps)
{
	char buf[4096];

	for (; steps->kind != CLOSE; steps++) {
		switch (steps->kind) {
		case SEND:
			if (write(fd, steps->text, strlen(steps->text)) < 0)
				_exit(1);
			break;
		case SEND_BIG: {
			/* an endless string: the client must give up at its
			 * message size bound */
			static char chunk[65536];
			int i;

			memset(chunk, 'a', sizeof(chunk));
			if (write(fd, "{\"return\": \"", 12) < 0)
				_exit(1);
			for (i = 0; i < 400; i++)
				if (write(fd, chunk, sizeof(chunk)) < 0)
					_exit(0);
			break;
		}
		case READ: {
			/* one request: up to the newline */
			size_t n = 0;

			while (n < sizeof(buf) - 1) {
				if (read(fd, buf + n, 1) != 1)
					_exit(0);
				if (buf[n++] == '\n')
					break;
			}
			break;
		}
		case SLEEP:
			usleep(steps->ms * 1000);
			break;
		case HANG: /* until peer_end() */
			for (;;)
				pause();
		case CLOSE:
			break;
		}
	}
	close(fd);
	_exit(0);
}

static pid_t peer_start(const struct step *steps, int *fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		peer_run(sv[1], steps);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

static void peer_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Handshake only: returns mp_qmp_new_fd()'s result. */
static int handshake(const struct step *steps, int timeout_ms)
{
	struct mp_qmp *q = NULL;
	int fd, r;
	pid_t pid = peer_start(steps, &fd);

	r = mp_qmp_new_fd(fd, timeout_ms, &q);
	mp_qmp_close(q);
	peer_end(pid);
	return r;
}

static void test_handshakes(void)
{
	const struct step ok[] = {
		{ SEND, GREETING }, { READ }, { SEND, CAPS_OK }, { SLEEP, .ms = 500 }, { CLOSE }
	};
	const struct step garbage[] = { { SEND, "HTTP/1.1 200 OK\r\n" },
					{ SLEEP, .ms = 500 },
					{ CLOSE } };
	const struct step scalar[] = { { SEND, "42\r\n" }, { SLEEP, .ms = 500 }, { CLOSE } };
	const struct step silent[] = { { HANG } };
	const struct step closes[] = { { CLOSE } };
	const struct step half[] = { { SEND, "{\"QMP\": {\"vers" }, { CLOSE } };
	const struct step caps_err[] = {
		{ SEND, GREETING },
		{ READ },
		{ SEND,
		  "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no\"}, \"id\": \"mp-0\"}\n" },
		{ SLEEP, .ms = 500 },
		{ CLOSE }
	};
	const struct step unknown[] = { { SEND, "{\"hello\": 1}\n" },
					{ SLEEP, .ms = 500 },
					{ CLOSE } };
	/* split across writes and without \r\n: still parsed */
	const struct step split[] = { { SEND, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0," },
				      { SLEEP, .ms = 50 },
				      { SEND,
					" \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}" },
				      { READ },
				      { SEND, "{\"return\"" },
				      { SLEEP, .ms = 50 },
				      { SEND, ": {}, \"id\": \"mp-0\"}" },
				      { SLEEP, .ms = 500 },
				      { CLOSE } };

	CHECK_EQ(handshake(ok, 2000), 0);
	CHECK_EQ(handshake(split, 2000), 0);
	CHECK_EQ(handshake(garbage, 2000), -EPROTO);
	CHECK_EQ(handshake(scalar, 2000), -EPROTO);
	CHECK_EQ(handshake(silent, 300), -ETIMEDOUT);
	CHECK_EQ(handshake(closes, 2000), -ECONNRESET);
	CHECK_EQ(handshake(half, 2000), -ECONNRESET);
	CHECK_EQ(handshake(caps_err, 2000), -EOPNOTSUPP);
	CHECK_EQ(handshake(unknown, 2000), -EPROTO);
}

static bool match_name(const char *name, struct json_object *data, void *ud)
{
	return !strcmp(name, ud);
}

static void test_commands(void)
{
	const struct step s[] = {
		{ SEND, GREETING },
		{ READ },
		{ SEND, CAPS_OK },
		/* cmd 1: an event, a stale reply, then the answer */
		{ READ },
		{ SEND,
		  "{\"event\": \"ACPI_DEVICE_OST\", \"data\": {\"info\": {}}, \"timestamp\": {}}\r\n"
		  "{\"return\": 7, \"id\": \"mp-77\"}\r\n"
		  "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"x\"}}\r\n"
		  "{\"return\": {\"a\": 1}, \"id\": \"mp-1\"}\r\n" },
		/* cmd 2: a QMP error */
		{ READ },
		{ SEND,
		  "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no free slots available\"}, \"id\": \"mp-2\"}\r\n" },
		/* cmd 3: DeviceNotFound */
		{ READ },
		{ SEND,
		  "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'x' not found\"}, \"id\": \"mp-3\"}\r\n" },
		/* cmd 4: an error without class or desc */
		{ READ },
		{ SEND, "{\"error\": {}, \"id\": \"mp-4\"}\r\n" },
		/* cmd 5: the answer to a request QEMU could not parse has no id */
		{ READ },
		{ SEND, "{\"return\": []}\r\n" },
		/* cmd 6: garbage in the middle of a reply */
		{ READ },
		{ SEND, "{\"return\": {]}\r\n" },
		{ SLEEP, .ms = 1000 },
		{ CLOSE }
	};
	struct json_object *ret = NULL, *ev = NULL, *v;
	struct mp_qmp *q = NULL;
	char buf[256];
	int fd, r;
	pid_t pid = peer_start(s, &fd);

	CHECK_EQ(mp_qmp_new_fd(fd, 2000, &q), 0);
	if (!q)
		goto out;
	CHECK(!strcmp(mp_qmp_get_version(q), "7.2.0"));
	CHECK_EQ(mp_qmp_execute(q, "one", NULL, &ret), 0);
	CHECK(ret && json_object_object_get_ex(ret, "a", &v) && json_object_get_int(v) == 1);
	json_object_put(ret);
	/* the events were queued, in order, and can be picked out of order */
	CHECK_EQ(mp_qmp_event_wait(q, match_name, "DEVICE_DELETED", 0, &ev), 0);
	json_object_put(ev);
	CHECK_EQ(mp_qmp_event_wait(q, match_name, "DEVICE_DELETED", 0, NULL), -ETIMEDOUT);
	CHECK_EQ(mp_qmp_event_wait(q, match_name, "ACPI_DEVICE_OST", 0, NULL), 0);

	CHECK_EQ(mp_qmp_execute(q, "two", json_object_new_object(), NULL), -EREMOTEIO);
	CHECK(!strcmp(mp_qmp_get_error_class(q), "GenericError"));
	CHECK(!strcmp(mp_qmp_get_error_desc(q), "no free slots available"));
	mp_qmp_strerror(q, -EREMOTEIO, buf, sizeof(buf));
	CHECK(!strcmp(buf, "GenericError: no free slots available"));
	CHECK_EQ(mp_qmp_execute(q, "three", NULL, NULL), -ENODEV);
	CHECK_EQ(mp_qmp_execute(q, "four", NULL, NULL), -EREMOTEIO);
	CHECK(!strcmp(mp_qmp_get_error_class(q), "(no class)"));
	CHECK_EQ(mp_qmp_execute(q, "five", NULL, &ret), 0);
	CHECK(ret && json_object_is_type(ret, json_type_array));
	json_object_put(ret);
	r = mp_qmp_execute(q, "six", NULL, NULL);
	CHECK_EQ(r, -EPROTO);
	/* after a protocol error the connection refuses at once */
	CHECK_EQ(mp_qmp_execute(q, "seven", NULL, NULL), -ENOTCONN);
	mp_qmp_strerror(q, -ENOTCONN, buf, sizeof(buf));
	CHECK(strstr(buf, "earlier error") != NULL);
out:
	mp_qmp_close(q);
	peer_end(pid);
}

static void test_timeouts_and_close(void)
{
	const struct step silent[] = {
		{ SEND, GREETING }, { READ }, { SEND, CAPS_OK }, { READ }, { HANG }
	};
	const struct step dies[] = { { SEND, GREETING },	 { READ },
				     { SEND, CAPS_OK },		 { READ },
				     { SEND, "{\"return\": {" }, { CLOSE } };
	const struct step big[] = { { SEND, GREETING }, { READ },     { SEND, CAPS_OK },
				    { READ },		{ SEND_BIG }, { CLOSE } };
	const struct step late[] = { { SEND, GREETING },
				     { READ },
				     { SEND, CAPS_OK },
				     { SLEEP, .ms = 200 },
				     { SEND, "{\"event\": \"X\"}\n" },
				     { SLEEP, .ms = 200 },
				     { CLOSE } };
	struct mp_qmp *q = NULL;
	int fd;
	pid_t pid;

	pid = peer_start(silent, &fd);
	CHECK_EQ(mp_qmp_new_fd(fd, 2000, &q), 0);
	mp_qmp_set_timeout(q, 300);
	CHECK_EQ(mp_qmp_execute(q, "slow", NULL, NULL), -ETIMEDOUT);
	/* a reply may still come for the timed-out command: no reuse */
	CHECK_EQ(mp_qmp_execute(q, "next", NULL, NULL), -ENOTCONN);
	mp_qmp_close(q);
	peer_end(pid);

	pid = peer_start(dies, &fd);
	CHECK_EQ(mp_qmp_new_fd(fd, 2000, &q), 0);
	CHECK_EQ(mp_qmp_execute(q, "x", NULL, NULL), -ECONNRESET);
	mp_qmp_close(q);
	peer_end(pid);

	pid = peer_start(big, &fd);
	CHECK_EQ(mp_qmp_new_fd(fd, 2000, &q), 0);
	CHECK_EQ(mp_qmp_execute(q, "x", NULL, NULL), -EMSGSIZE);
	mp_qmp_close(q);
	peer_end(pid);

	/* an event wait sees the event, then the close (in a wait that would
	 * outlast meson's timeout) */
	pid = peer_start(late, &fd);
	CHECK_EQ(mp_qmp_new_fd(fd, 2000, &q), 0);
	CHECK_EQ(mp_qmp_event_wait(q, match_name, "X", 2000, NULL), 0);
	CHECK_EQ(mp_qmp_event_wait(q, match_name, "X", 3600 * 1000, NULL), -ECONNRESET);
	mp_qmp_close(q);
	peer_end(pid);
}

/* A QEMU busy with another client: the connection sits in the listen
 * queue (no greeting), or the queue is full (connect would block). */
static void test_busy_listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/mp-tq-busy-XXXXXX";
	struct mp_qmp *q = NULL;
	int lfd, fds[64], n = 0, i;

	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 1) == 0);

	CHECK_EQ(mp_qmp_connect(sa.sun_path, 300, &q), -ETIMEDOUT);

	/* fill the queue */
	for (n = 0; n < 64; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fds[n]);
			break;
		}
	}
	CHECK(n < 64);
	CHECK_EQ(mp_qmp_connect(sa.sun_path, 300, &q), -ETIMEDOUT);
	for (i = 0; i < n; i++)
		close(fds[i]);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mp_log_set_level(getenv("MP_TEST_DEBUG") ? LOG_DEBUG : LOG_CRIT);
	test_handshakes();
	test_commands();
	test_timeouts_and_close();
	test_busy_listener();
	return tq_finish("test-qmp-peer");
}
