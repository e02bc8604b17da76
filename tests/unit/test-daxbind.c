// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mp_dax_bind_kmem() against a hand-made sysfs: the races a real guest
 * shows only sometimes (device_dax probing the new device while new_id
 * runs, KERNEL-RULES §8) made to happen every time.  The driver files are
 * plain files, or FIFOs whose reader plays the driver core (driver_core()),
 * in an order that needs no timing.
 * The real route (device_dax bound, unbind, new_id) runs in the guest
 * tests (tests/e2e nvdimm_kmem, the README demo).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mp-kernel.h"
#include "mp-verify.h"

static char root[64];
static char logged[4096];

static void capture(void *data, int priority, const char *fmt, va_list ap)
{
	size_t n = strlen(logged);

	(void)data;
	(void)priority;
	vsnprintf(logged + n, sizeof(logged) - n, fmt, ap);
	n = strlen(logged);
	if (n < sizeof(logged) - 1)
		strcat(logged, "\n");
}

static void path_of(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/sys/bus/dax/%s", root, rel);
}

/*
 * The driver files as plain files; with @fifos, device_dax/unbind and
 * kmem/bind are FIFOs, served by driver_core() below.
 */
static void make_tree(const char *bound_to, bool fifos)
{
	static const char *const files[] = { "drivers/kmem/new_id", "drivers/kmem/unbind",
					     "drivers/device_dax/new_id",
					     "drivers/device_dax/bind" };
	char p[512], cmd[600];

	snprintf(root, sizeof(root), "/tmp/mp-daxbind-XXXXXX");
	REQUIRE(mkdtemp(root));
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/sys/bus/dax/devices/dax0.0 %s/sys/bus/dax/drivers/kmem "
		 "%s/sys/bus/dax/drivers/device_dax",
		 root, root, root);
	REQUIRE(system(cmd) == 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_of(p, sizeof(p), files[i]);
		REQUIRE(close(open(p, O_CREAT | O_WRONLY, 0644)) == 0);
	}
	for (int i = 0; i < 2; i++) {
		path_of(p, sizeof(p), i ? "drivers/kmem/bind" : "drivers/device_dax/unbind");
		if (fifos)
			REQUIRE(mkfifo(p, 0644) == 0);
		else
			REQUIRE(close(open(p, O_CREAT | O_WRONLY, 0644)) == 0);
	}
	if (bound_to) {
		char target[128];

		snprintf(target, sizeof(target), "../../../bus/dax/drivers/%s", bound_to);
		path_of(p, sizeof(p), "devices/dax0.0/driver");
		REQUIRE(symlink(target, p) == 0);
	}
}

static void remove_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	REQUIRE(system(cmd) == 0);
}

static void read_file(const char *rel, char *buf, size_t len)
{
	char p[512];
	FILE *f;

	path_of(p, sizeof(p), rel);
	buf[0] = '\0';
	f = fopen(p, "r");
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
}

/* What one FIFO was sent; "" if it could not be read. */
static void take(const char *rel, char *buf, size_t len)
{
	char p[512];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	path_of(p, sizeof(p), rel);
	fd = open(p, O_RDONLY); /* returns once the writer has opened it */
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static char unbound[32], bound[32];

/*
 * The driver core's side, in order: take the unbind, point the driver link
 * at kmem, and only then open kmem/bind.  The writer cannot get past its
 * open of kmem/bind before that, so the link says kmem when it looks,
 * as after a real bind whose probe succeeded: no timing in it.
 */
static void *driver_core(void *arg)
{
	char link[512];

	(void)arg;
	take("drivers/device_dax/unbind", unbound, sizeof(unbound));
	path_of(link, sizeof(link), "devices/dax0.0/driver");
	if (unlink(link) || symlink("../../../bus/dax/drivers/kmem", link))
		return NULL;
	take("drivers/kmem/bind", bound, sizeof(bound));
	return NULL;
}

static struct mp_ctx *ctx_new(void)
{
	struct mp_ctx *ctx;

	REQUIRE(!mp_ctx_new(root, &ctx));
	logged[0] = '\0';
	mp_ctx_set_log_fn(ctx, capture, NULL);
	return ctx;
}

/*
 * The driver core's side of a bind back, in order: take kmem/remove_id
 * (mp_dax_release_kmem() has looked at the driver link by then), point the
 * link at device_dax, and only then open device_dax/bind: the writer
 * cannot get past that open before the link says device_dax.
 */
static void *device_dax_bind(void *arg)
{
	char link[512], removed[32];

	(void)arg;
	take("drivers/kmem/remove_id", removed, sizeof(removed));
	path_of(link, sizeof(link), "devices/dax0.0/driver");
	unlink(link);
	if (strcmp(removed, "dax0.0") || symlink("../../../bus/dax/drivers/device_dax", link))
		return NULL;
	take("drivers/device_dax/bind", bound, sizeof(bound));
	return NULL;
}

/* mp_dax_release_kmem() on a tree bound to @bound_to: its return, and who holds it. */
static int release(const char *bound_to, bool fifo, char *back, size_t len)
{
	char p[512];
	struct mp_ctx *ctx;
	pthread_t t;
	int err;

	make_tree(bound_to, false);
	path_of(p, sizeof(p), "drivers/kmem/remove_id");
	if (fifo)
		REQUIRE(mkfifo(p, 0644) == 0);
	else
		REQUIRE(close(open(p, O_CREAT | O_WRONLY, 0644)) == 0);
	if (fifo) {
		path_of(p, sizeof(p), "drivers/device_dax/bind");
		REQUIRE(unlink(p) == 0 && mkfifo(p, 0644) == 0);
		REQUIRE(pthread_create(&t, NULL, device_dax_bind, NULL) == 0);
	}
	ctx = ctx_new();
	bound[0] = '\0';
	err = mp_dax_release_kmem(ctx, "dax0.0", back, len);
	if (fifo)
		pthread_join(t, NULL);
	mp_ctx_free(ctx);
	return err;
}

/*
 * On a fresh plain-file tree bound to @bound_to, without @absent: does
 * mp_dax_bind_kmem() return @want and log @msg?
 */
static bool bind_once(const char *bound_to, const char *absent, int want, const char *msg)
{
	struct mp_ctx *ctx;
	bool ok;

	make_tree(bound_to, false);
	if (absent) {
		char p[512];

		path_of(p, sizeof(p), absent);
		REQUIRE(unlink(p) == 0);
	}
	ctx = ctx_new();
	ok = mp_dax_bind_kmem(ctx, "dax0.0") == want && strstr(logged, msg);
	if (!ok)
		fprintf(stderr, "log:\n%s", logged);
	mp_ctx_free(ctx);
	remove_tree();
	return ok;
}

int main(void)
{
	struct mp_ctx *ctx;
	char buf[64];
	pthread_t t;

	/* Already kmem's: nothing is written. */
	make_tree("kmem", false);
	ctx = ctx_new();
	CHECK(mp_dax_bind_kmem(ctx, "dax0.0") == 0);
	read_file("drivers/kmem/new_id", buf, sizeof(buf));
	CHECK(buf[0] == '\0');
	CHECK(mp_dax_bind_kmem(ctx, "../dax0.0") == -EINVAL);
	CHECK(mp_dax_bind_kmem(ctx, "namespace0.0") == -EINVAL);
	mp_ctx_free(ctx);
	remove_tree();
	printf("ok   already bound to kmem: no write; only daxX.Y names\n");

	/*
	 * device_dax holds it after new_id (it probed the device while new_id
	 * ran): unbound from device_dax, bound to kmem through kmem/bind.
	 */
	make_tree("device_dax", true);
	ctx = ctx_new();
	REQUIRE(pthread_create(&t, NULL, driver_core, NULL) == 0);
	CHECK(mp_dax_bind_kmem(ctx, "dax0.0") == 0);
	pthread_join(t, NULL);
	read_file("drivers/kmem/new_id", buf, sizeof(buf));
	CHECK(!strcmp(buf, "dax0.0"));
	CHECK(!strcmp(unbound, "dax0.0") && !strcmp(bound, "dax0.0"));
	mp_ctx_free(ctx);
	remove_tree();
	printf("ok   device_dax took it while new_id ran: unbind, then kmem/bind\n");

	/* Never kmem's (the "kernel" ignores every write): -EBUSY, not a false success. */
	CHECK(bind_once("device_dax", NULL, -EBUSY,
			"dax0.0: bound to device_dax, not kmem, after 3 tries"));
	CHECK(bind_once(NULL, NULL, -EBUSY, "dax0.0: bound to nothing, not kmem"));
	printf("ok   a device that never reaches kmem is -EBUSY, not bound\n");

	/* No kmem driver (module not loaded): the write's errno. */
	CHECK(bind_once(NULL, "drivers/kmem/new_id", -ENOENT,
			"dax0.0: kmem/new_id: No such file or directory"));
	printf("ok   no kmem driver: -ENOENT from new_id\n");

	/*
	 * A bind given up on (kmem/bind deferred every time): kmem's id goes,
	 * and the device our unbind left without a driver goes back to
	 * device_dax; one bound meanwhile stays with its driver.
	 */
	CHECK(release(NULL, true, buf, sizeof(buf)) == 0);
	CHECK(!strcmp(buf, "device_dax") && !strcmp(bound, "dax0.0"));
	remove_tree();
	CHECK(release("kmem", false, buf, sizeof(buf)) == 0 && !strcmp(buf, "kmem"));
	read_file("drivers/kmem/remove_id", buf, sizeof(buf));
	CHECK(!strcmp(buf, "dax0.0"));
	read_file("drivers/device_dax/bind", buf, sizeof(buf));
	CHECK(buf[0] == '\0');
	remove_tree();
	/* device_dax ignored the bind: said, not taken for done. */
	CHECK(release(NULL, false, buf, sizeof(buf)) == -EIO && buf[0] == '\0');
	remove_tree();
	printf("ok   release: kmem's id removed, an unbound device back to device_dax, a bound one left\n");
	CHECK_DONE();
}
