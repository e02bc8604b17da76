// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Golden test for one fixture case under tests/policy/data/<case>/:
 *
 *   etc/ run/ lib/   drop-in directories, highest priority first (any may be
 *                    missing); loaded as "etc", "run", "lib" so that the
 *                    messages' paths do not depend on the checkout
 *   subjects         optional: devices to explain, one per line, e.g.
 *                    kind=dimm node=0 start=0x100000000 size=1G id=slot1
 *                    kernel=896M movable=1G
 *   expected         the exact output
 *
 * The case is copied to a private directory first, with modes reset to
 * 0644/0755: a checkout made under umask 002 must not turn every fixture
 * into a "writable by group" error.  The set is loaded with
 * MP_POLICY_LOAD_ANY_OWNER because the checkout need not belong to root.
 *
 * MP_UPDATE_GOLDEN=1 rewrites "expected" instead of comparing.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "test-util.h"
#include "util.h"

static void run_subjects(const struct mp_policyset *set, FILE *in, FILE *out)
{
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, in) >= 0) {
		struct mp_policy_subject s = { .node = -1 };
		struct mp_zone_facts facts = { .node = -1 };
		struct mp_policy_decision d;
		bool has_facts = false;
		size_t nids = 0;
		char *save, *tok, *text;
		int r;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		fprintf(out, "> %s\n", line);
		for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
			char *val = strchr(tok, '=');
			uint64_t v = 0;

			if (!val)
				FAIL("subjects: '%s' is not key=value", tok);
			*val++ = '\0';
			if (!strcmp(tok, "kind")) {
				s.kind = 0;
				for (unsigned int b = 1; b <= MP_POLICY_KIND_BOOT; b <<= 1)
					if (!strcmp(val, mp_policy_kind_name(b)))
						s.kind = b;
				if (!s.kind)
					FAIL("subjects: bad kind %s", val);
				continue;
			}
			if (!strcmp(tok, "id")) {
				REQUIRE(nids < MP_POLICY_SUBJECT_IDS);
				s.ids[nids++] = strdup(val);
				continue;
			}
			if (!strcmp(tok, "node")) {
				s.node = facts.node = atoi(val);
				continue;
			}
			if (mp_parse_size(val, &v))
				FAIL("subjects: bad number %s=%s", tok, val);
			if (!strcmp(tok, "start"))
				s.start = v;
			else if (!strcmp(tok, "size"))
				s.size = v;
			else if (!strcmp(tok, "kernel"))
				facts.kernel_early = v, has_facts = true;
			else if (!strcmp(tok, "movable"))
				facts.movable = v, has_facts = true;
			else
				FAIL("subjects: unknown key %s", tok);
		}
		r = mp_policy_explain(set, &s, has_facts ? &facts : NULL, &d, &text);
		REQUIRE(r == 0 || r == -ENOENT);
		fputs(text, out);
		free(text);
		for (size_t i = 0; i < nids; i++)
			free((char *)s.ids[i]);
	}
	free(line);
}

int main(int argc, char **argv)
{
	static const char *const dirs[] = { "etc", "run", "lib", NULL };
	struct mp_policy_errors *errs = NULL;
	struct mp_policyset *set = NULL;
	char *actual = NULL, *expected_path;
	size_t actual_len = 0;
	FILE *out, *subjects;
	char *tmp;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CASE-DIR [NAME=DIR...]\n", argv[0]);
		return 2;
	}
	if (asprintf(&expected_path, "%s/expected", argv[1]) < 0)
		return 1;
	tmp = t_copy_tree(argv[1]);
	/* NAME=DIR: use DIR (e.g. the shipped policies) as the case's etc/, run/ or lib/. */
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '='), *dst;

		REQUIRE(eq);
		*eq = '\0';
		REQUIRE(asprintf(&dst, "%s/%s", tmp, argv[i]) > 0);
		t_copy_tree_into(eq + 1, dst);
		free(dst);
	}
	REQUIRE(chdir(tmp) == 0);

	out = open_memstream(&actual, &actual_len);
	REQUIRE(out);
	r = mp_policyset_load(dirs, MP_POLICY_LOAD_ANY_OWNER, &set, &errs);
	if (r < 0) {
		REQUIRE(r == -EINVAL);
		REQUIRE(!set);
		REQUIRE(mp_policy_errors_count(errs) > 0);
		mp_policy_errors_print(errs, out);
		fprintf(out, "refused: %zu problem(s)\n", mp_policy_errors_count(errs));
	} else {
		REQUIRE(!errs);
		fprintf(out, "loaded: %zu polic%s\n", mp_policyset_count(set),
			mp_policyset_count(set) == 1 ? "y" : "ies");
		REQUIRE(mp_policyset_print(set, out) == 0);
		subjects = fopen("subjects", "r");
		if (subjects) {
			fputs("--- explain\n", out);
			run_subjects(set, subjects, out);
			fclose(subjects);
		}
	}
	mp_policy_errors_free(errs);
	mp_policyset_unref(set);
	fclose(out);
	t_remove_tree(tmp);
	free(tmp);
	r = t_golden(expected_path, actual);
	free(actual);
	free(expected_path);
	return r;
}
