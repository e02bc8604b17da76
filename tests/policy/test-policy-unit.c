// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Policy engine pieces that golden files cannot show well: the MovableRatio
 * rule against the kernel's own arithmetic, ownership and mode refusal
 * (files made at run time: git cannot store a group-writable file or an
 * owner), and the API's return values.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "util.h"
#include "test-util.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define PAGE 4096ULL

static const char good_policy[] = "[Match]\nKind=dimm\n[Online]\nZone=auto\n";

static void test_ratio_examples(void)
{
	static const struct {
		unsigned int ratio;
		int node;
		uint64_t kernel, movable, add;
		enum mp_policy_zone zone;
		const char *why;
	} cases[] = {
		/* docs/policies.md's worked example */
		{ 301, 0, 896 * MiB, 1024 * MiB, 1024 * MiB, MP_POLICY_ZONE_MOVABLE,
		  "node 0: movable 1024 MiB + 1024 MiB new = 2048 MiB <= 301% of kernel 896 MiB (2696.96 MiB) -> movable" },
		{ 301, 0, 896 * MiB, 2048 * MiB, 1024 * MiB, MP_POLICY_ZONE_KERNEL,
		  "node 0: movable 2048 MiB + 1024 MiB new = 3072 MiB > 301% of kernel 896 MiB (2696.96 MiB) -> kernel" },
		/*
		 * exactly at the cap is still movable (the kernel's "<="); one
		 * page over rounds to the same MiB, so the bytes are shown
		 */
		{ 300, 1, 1 * GiB, 2 * GiB, 1 * GiB, MP_POLICY_ZONE_MOVABLE,
		  "node 1: movable 2048 MiB + 1024 MiB new = 3072 MiB <= 300% of kernel 1024 MiB (3072 MiB) -> movable" },
		{ 300, 1, 1 * GiB, 2 * GiB, 1 * GiB + PAGE, MP_POLICY_ZONE_KERNEL,
		  "node 1: movable 2048 MiB + 1024 MiB new = 3072 MiB (3221229568 B) > 300% of kernel 1024 MiB (3072 MiB = 3221225472 B) -> kernel" },
		/* a whole DIMM goes to one zone: half of it would fit, all of it does not */
		{ 301, 0, 1 * GiB, 2 * GiB, 2 * GiB, MP_POLICY_ZONE_KERNEL,
		  "node 0: movable 2048 MiB + 2048 MiB new = 4096 MiB > 301% of kernel 1024 MiB (3082.24 MiB) -> kernel" },
		/* the kernel refuses movable when there is no boot-time kernel memory */
		{ 301, 2, 0, 0, 128 * MiB, MP_POLICY_ZONE_KERNEL,
		  "node 2: no boot-time kernel memory -> kernel" },
		/* 0%: nothing movable */
		{ 0, 0, 1 * GiB, 0, 128 * MiB, MP_POLICY_ZONE_KERNEL,
		  "node 0: MovableRatio=0% allows no movable memory -> kernel" },
		{ 0, 0, 1 * GiB, 0, 0, MP_POLICY_ZONE_KERNEL,
		  "node 0: MovableRatio=0% allows no movable memory -> kernel" },
		/* no node (the kernel's global check) */
		{ 400, -1, 512 * MiB, 1536 * MiB, 512 * MiB, MP_POLICY_ZONE_MOVABLE,
		  "all nodes: movable 1536 MiB + 512 MiB new = 2048 MiB <= 400% of kernel 512 MiB (2048 MiB) -> movable" },
		/* sub-MiB numbers keep two decimals, rounded down */
		{ 301, 0, 100 * MiB, 300 * MiB + 512 * 1024, 256 * 1024, MP_POLICY_ZONE_MOVABLE,
		  "node 0: movable 300.5 MiB + 0.25 MiB new = 300.75 MiB <= 301% of kernel 100 MiB (301 MiB) -> movable" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mp_zone_facts f = { cases[i].node, cases[i].kernel, cases[i].movable };
		char why[MP_POLICY_WHY_LEN];
		enum mp_policy_zone z;

		z = mp_policy_auto_movable(cases[i].ratio, &f, cases[i].add, why, sizeof(why));
		if (z != cases[i].zone)
			FAIL("case %zu: zone %s, expected %s (%s)", i, mp_policy_zone_name(z),
			     mp_policy_zone_name(cases[i].zone), why);
		REQUIRE_STR(why, cases[i].why);
		/* why is optional */
		REQUIRE(mp_policy_auto_movable(cases[i].ratio, &f, cases[i].add, NULL, 0) == z);
	}
}

/*
 * auto_movable_can_online_movable() in pages:
 *	movable_pages += nr_pages;
 *	return movable_pages <= (auto_movable_ratio * kernel_early_pages) / 100;
 * after returning false when kernel_early_pages is 0.
 */
static void test_ratio_kernel_arithmetic(void)
{
	static const unsigned int ratios[] = { 0, 1, 99, 100, 150, 301, 400, 6300 };
	unsigned long n = 0;

	for (size_t r = 0; r < sizeof(ratios) / sizeof(ratios[0]); r++)
		for (uint64_t k = 0; k < 40; k++)
			for (uint64_t m = 0; m < 130; m += 3)
				for (uint64_t a = 1; a < 70; a += 2) {
					struct mp_zone_facts f = { 0, k * PAGE, m * PAGE };
					bool kernel_says = k && m + a <= ratios[r] * k / 100;
					enum mp_policy_zone z;

					z = mp_policy_auto_movable(ratios[r], &f, a * PAGE, NULL,
								   0);
					if ((z == MP_POLICY_ZONE_MOVABLE) != kernel_says)
						FAIL("ratio %u kernel %llu movable %llu new %llu pages: %s",
						     ratios[r], (unsigned long long)k,
						     (unsigned long long)m, (unsigned long long)a,
						     mp_policy_zone_name(z));
					n++;
				}
	REQUIRE(n > 100000);
}

static void test_ratio_no_overflow(void)
{
	/* 6300% of 2^62 bytes overflows 64 bits; the rule must not wrap. */
	struct mp_zone_facts f = { 0, 1ULL << 62, 1ULL << 63 };
	char why[MP_POLICY_WHY_LEN];

	REQUIRE(mp_policy_auto_movable(6300, &f, 1ULL << 62, why, sizeof(why)) ==
		MP_POLICY_ZONE_MOVABLE);
	f.movable = UINT64_MAX;
	REQUIRE(mp_policy_auto_movable(100, &f, UINT64_MAX, why, sizeof(why)) ==
		MP_POLICY_ZONE_KERNEL);
}

static struct mp_policyset *load_one(const char *content, struct mp_policy_errors **errs)
{
	const char *dirs[2] = { NULL, NULL };
	struct mp_policyset *set;
	char *tmp = t_mkdtemp(), *path;
	int r;

	path = t_write_file(tmp, "10-a.conf", content, 0644);
	dirs[0] = tmp;
	r = mp_policyset_load(dirs, MP_POLICY_LOAD_ANY_OWNER, &set, errs);
	REQUIRE(r == 0 || r == -EINVAL);
	unlink(path);
	rmdir(tmp);
	free(path);
	free(tmp);
	return set;
}

static void test_decide_zone(void)
{
	struct mp_policy_subject s = { .kind = MP_POLICY_KIND_DIMM, .node = 0, .size = GiB };
	struct mp_zone_facts f = { 0, GiB, 0 };
	struct mp_policy_decision d;
	struct mp_policyset *set;

	set = load_one("[Match]\n[Online]\nZone=kernel\n", NULL);
	REQUIRE(set && mp_policyset_match(set, &s, &d) == 0);
	REQUIRE(d.zone == MP_POLICY_ZONE_KERNEL);
	REQUIRE(mp_policy_decide_zone(&d, &s, NULL) == 0);
	REQUIRE(d.zone == MP_POLICY_ZONE_KERNEL);
	REQUIRE_STR(d.zone_why, "Zone=kernel");
	mp_policyset_unref(set);

	set = load_one(good_policy, NULL);
	REQUIRE(mp_policyset_match(set, &s, &d) == 0);
	REQUIRE(d.zone == MP_POLICY_ZONE_AUTO && d.movable_ratio == 301);
	REQUIRE(d.online && d.verify == MP_VERIFY_FULL && d.dax_mode == MP_POLICY_DAX_DEVDAX);
	REQUIRE(mp_policy_decide_zone(&d, &s, NULL) == -EINVAL);
	REQUIRE(d.zone == MP_POLICY_ZONE_AUTO);
	REQUIRE(mp_policy_decide_zone(&d, &s, &f) == 0);
	REQUIRE(d.zone == MP_POLICY_ZONE_MOVABLE);
	REQUIRE_STR(
		d.zone_why,
		"node 0: movable 0 MiB + 1024 MiB new = 1024 MiB <= 301% of kernel 1024 MiB (3082.24 MiB) -> movable");
	REQUIRE_STR(mp_policy_name(d.policy), "10-a.conf");
	REQUIRE(mp_policy_match_line(d.policy) == 1);
	/* a subject no policy takes */
	s.kind = MP_POLICY_KIND_DAX;
	REQUIRE(mp_policyset_match(set, &s, &d) == -ENOENT);
	/* the set outlives an extra reference */
	REQUIRE(mp_policyset_ref(set) == set);
	mp_policyset_unref(set);
	REQUIRE(mp_policyset_count(set) == 1);
	REQUIRE(mp_policyset_get(set, 1) == NULL);
	mp_policyset_unref(set);

	set = load_one("[Match]\n[Online]\nOnline=no\n", NULL);
	s.kind = MP_POLICY_KIND_DIMM;
	REQUIRE(mp_policyset_match(set, &s, &d) == 0);
	REQUIRE(mp_policy_decide_zone(&d, &s, &f) == -ENODATA);
	mp_policyset_unref(set);
}

/* Load @dir and return the single error message, or NULL when it loaded. */
static char *load_error(const char *dir, unsigned int flags)
{
	const char *dirs[] = { dir, NULL };
	struct mp_policy_errors *errs;
	struct mp_policyset *set;
	char *msg = NULL;
	int r;

	r = mp_policyset_load(dirs, flags, &set, &errs);
	if (r == 0) {
		REQUIRE(set && !errs);
		mp_policyset_unref(set);
		return NULL;
	}
	REQUIRE(r == -EINVAL && !set);
	REQUIRE(mp_policy_errors_count(errs) == 1);
	REQUIRE(mp_policy_errors_get(errs, 0)->line == 0);
	REQUIRE(mp_policy_errors_get(errs, 1) == NULL);
	REQUIRE(asprintf(&msg, "%s: %s", mp_policy_errors_get(errs, 0)->file,
			 mp_policy_errors_get(errs, 0)->msg) > 0);
	mp_policy_errors_free(errs);
	return msg;
}

static void expect_error(const char *dir, unsigned int flags, const char *file, const char *msg)
{
	char *got = load_error(dir, flags), *want;

	REQUIRE(asprintf(&want, "%s/%s: %s", dir, file, msg) > 0);
	REQUIRE_STR(got, want);
	free(got);
	free(want);
}

static void test_permissions(void)
{
	char *dir = t_mkdtemp(), *path;

	path = t_write_file(dir, "10-a.conf", good_policy, 0644);
	REQUIRE(load_error(dir, MP_POLICY_LOAD_ANY_OWNER) == NULL);

	REQUIRE(chmod(path, 0664) == 0);
	expect_error(dir, MP_POLICY_LOAD_ANY_OWNER, "10-a.conf",
		     "writable by group (mode 0664): refused");
	REQUIRE(chmod(path, 0646) == 0);
	expect_error(dir, MP_POLICY_LOAD_ANY_OWNER, "10-a.conf",
		     "writable by others (mode 0646): refused");
	REQUIRE(chmod(path, 0666) == 0);
	expect_error(dir, MP_POLICY_LOAD_ANY_OWNER, "10-a.conf",
		     "writable by group and others (mode 0666): refused");
	/* a masking (empty) file changes the policy too */
	free(t_write_file(dir, "10-a.conf", "", 0620));
	expect_error(dir, MP_POLICY_LOAD_ANY_OWNER, "10-a.conf",
		     "writable by group (mode 0620): refused");
	free(t_write_file(dir, "10-a.conf", good_policy, 0600));

	if (geteuid() == 0) {
		/* root: a file handed to nobody is refused unless the caller relaxes it */
		REQUIRE(chown(path, 65534, 65534) == 0);
		expect_error(dir, 0, "10-a.conf", "owned by uid 65534, not root: refused");
		REQUIRE(load_error(dir, MP_POLICY_LOAD_ANY_OWNER) == NULL);
		/* both faults in one message */
		REQUIRE(chmod(path, 0664) == 0);
		expect_error(
			dir, 0, "10-a.conf",
			"owned by uid 65534, not root and writable by group (mode 0664): refused");
		REQUIRE(chmod(path, 0600) == 0);
		REQUIRE(chown(path, 0, 0) == 0);
		REQUIRE(load_error(dir, 0) == NULL);
	} else {
		char msg[64];

		snprintf(msg, sizeof(msg), "owned by uid %u, not root: refused",
			 (unsigned int)geteuid());
		expect_error(dir, 0, "10-a.conf", msg);
		REQUIRE(load_error(dir, MP_POLICY_LOAD_ANY_OWNER) == NULL);
	}
	unlink(path);
	free(path);

	/* a FIFO is refused, and opening it does not block */
	REQUIRE(asprintf(&path, "%s/20-fifo.conf", dir) > 0);
	REQUIRE(mkfifo(path, 0600) == 0);
	expect_error(dir, MP_POLICY_LOAD_ANY_OWNER, "20-fifo.conf", "not a regular file: refused");
	unlink(path);
	free(path);
	t_remove_tree(dir);
	free(dir);
}

/* The check itself (util/), as the host's configuration loader will call it. */
static void test_conf_file_check(void)
{
	char *dir = t_mkdtemp(), *path, why[128];
	int fd;

	path = t_write_file(dir, "host.conf", "x\n", 0644);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	REQUIRE(fd >= 0);
	REQUIRE(mp_conf_file_check(path, fd, geteuid() ? MP_CONF_ANY_OWNER : 0, why, sizeof(why)) ==
		0);
	REQUIRE_STR(why, "");
	REQUIRE(fchmod(fd, 0602) == 0);
	REQUIRE(mp_conf_file_check(path, fd, MP_CONF_ANY_OWNER, why, sizeof(why)) == -EPERM);
	REQUIRE_STR(why, "writable by others (mode 0602): refused");
	/* a short buffer is cut, never overrun */
	REQUIRE(mp_conf_file_check(path, fd, MP_CONF_ANY_OWNER, why, 8) == -EPERM);
	REQUIRE_STR(why, "writabl");
	close(fd);
	/* /dev/null is a mask only where the caller accepts masks */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	REQUIRE(fd >= 0);
	REQUIRE(mp_conf_file_check("/dev/null", fd, MP_CONF_ALLOW_MASK, why, sizeof(why)) == 1);
	REQUIRE(mp_conf_file_check("/dev/null", fd, 0, why, sizeof(why)) == -EINVAL);
	REQUIRE_STR(why, "not a regular file: refused");
	close(fd);
	unlink(path);
	free(path);
	t_remove_tree(dir);
	free(dir);
}

static void test_dirs(void)
{
	const char *const *def = mp_policyset_default_dirs();
	const char *missing[] = { "/nonexistent/memplug/policies.d", NULL };
	struct mp_policy_subject s = { .kind = MP_POLICY_KIND_DIMM, .node = 0, .size = GiB };
	struct mp_policy_decision d;
	struct mp_policy_errors *errs = (void *)1;
	struct mp_policyset *set;
	char *dir, *file, *msg, *want;

	/* three directories, /etc first, /usr/lib last */
	REQUIRE(def[0] && def[1] && def[2] && !def[3]);
	REQUIRE(strstr(def[0], "etc/memplug/policies.d"));
	REQUIRE_STR(def[1], "/run/memplug/policies.d");
	REQUIRE(strstr(def[2], "lib/memplug/policies.d"));

	/* missing directories are an empty set, not an error */
	REQUIRE(mp_policyset_load(missing, 0, &set, &errs) == 0);
	REQUIRE(set && errs == NULL && mp_policyset_count(set) == 0);
	REQUIRE(mp_policyset_match(set, &s, &d) == -ENOENT);
	mp_policyset_unref(set);

	/* a file where a directory should be is */
	dir = t_mkdtemp();
	file = t_write_file(dir, "not-a-dir", "", 0644);
	msg = load_error(file, 0);
	REQUIRE(asprintf(&want, "%s: cannot open directory: %s", file, strerror(ENOTDIR)) > 0);
	REQUIRE_STR(msg, want);
	free(msg);
	free(want);

	/* errs may be NULL */
	{
		const char *d2[] = { file, NULL };

		REQUIRE(mp_policyset_load(d2, 0, &set, NULL) == -EINVAL && !set);
	}
	unlink(file);
	free(file);
	t_remove_tree(dir);
	free(dir);
	REQUIRE(mp_policy_errors_count(NULL) == 0);
	REQUIRE(mp_policy_errors_get(NULL, 0) == NULL);
	REQUIRE(mp_policy_errors_print(NULL, stderr) == 0);
	mp_policy_errors_free(NULL);
	mp_policyset_unref(NULL);
}

int main(void)
{
	test_ratio_examples();
	test_ratio_kernel_arithmetic();
	test_ratio_no_overflow();
	test_decide_zone();
	test_permissions();
	test_conf_file_check();
	test_dirs();
	printf("ok\n");
	return 0;
}
