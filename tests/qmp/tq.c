// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "tq.h"

static const char *qemu_bin(void)
{
	const char *b = getenv("MEMPLUG_QEMU");

	return b ? b : "qemu-system-x86_64";
}

int tq_qemu_start(struct tq_qemu *qm, const char *machine_args)
{
	char cmd[2048];
	long long deadline;
	int fd;

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", qemu_bin());
	if (system(cmd) != 0) {
		printf("SKIP: %s not installed\n", qemu_bin());
		exit(77);
	}
	snprintf(qm->dir, sizeof(qm->dir), "/tmp/mp-tq-XXXXXX");
	if (!mkdtemp(qm->dir))
		return -errno;
	snprintf(qm->sock, sizeof(qm->sock), "%s/qmp.sock", qm->dir);
	/* -S: no guest code needs to run for object-add/device_add/query;
	 * TCG always (KVM is unusable on these machines). */
	snprintf(cmd, sizeof(cmd),
		 "exec %s -accel tcg %s -nographic -nodefaults -S "
		 "-qmp unix:%s,server=on,wait=off </dev/null >%s/qemu.log 2>&1",
		 qemu_bin(),
		 machine_args ? machine_args : "-M pc,nvdimm=on -m 1G,slots=8,maxmem=16G", qm->sock,
		 qm->dir);
	qm->pid = fork();
	if (qm->pid < 0)
		return -errno;
	if (qm->pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	deadline = (long long)mp_now_ms() + 20000;
	while ((long long)mp_now_ms() < deadline) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int st;

		if (waitpid(qm->pid, &st, WNOHANG) == qm->pid) {
			fprintf(stderr, "qemu exited early; log in %s/qemu.log\n", qm->dir);
			snprintf(cmd, sizeof(cmd), "cat %s/qemu.log >&2", qm->dir);
			if (system(cmd)) {
				/* best effort */
			}
			qm->pid = 0;
			return -ECHILD;
		}
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sa.sun_path, qm->sock);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			/* QEMU takes one client: leave, so the test can connect */
			close(fd);
			return 0;
		}
		close(fd);
		usleep(20000);
	}
	tq_qemu_kill(qm);
	return -ETIMEDOUT;
}

void tq_qemu_kill(struct tq_qemu *qm)
{
	char cmd[128];

	if (qm->pid > 0) {
		kill(qm->pid, SIGKILL);
		waitpid(qm->pid, NULL, 0);
		qm->pid = 0;
	}
	if (qm->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", qm->dir);
		if (system(cmd)) {
			/* best effort */
		}
		qm->dir[0] = '\0';
	}
}

char *tq_qmp_raw(struct tq_qemu *qm, const char *cmd_json)
{
	struct json_object *req = json_tokener_parse(cmd_json), *cmd, *args = NULL, *ret = NULL;
	struct mp_qmp *q;
	char *s = NULL;

	if (!req)
		return NULL;
	if (mp_qmp_connect(qm->sock, 5000, &q) == 0) {
		json_object_object_get_ex(req, "execute", &cmd);
		if (json_object_object_get_ex(req, "arguments", &args))
			json_object_get(args);
		if (mp_qmp_execute(q, json_object_get_string(cmd), args, &ret) == 0)
			s = strdup(
				ret ? json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN) :
				      "null");
		json_object_put(ret);
		mp_qmp_close(q);
	}
	json_object_put(req);
	return s;
}
