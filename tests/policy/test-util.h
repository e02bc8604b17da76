/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers for the policy tests: fixture copies, golden files (assertions: check.h). */
#ifndef MP_TEST_UTIL_H
#define MP_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "check.h"

/* A fresh private directory ("$TMPDIR/mp-policy-XXXXXX"). */
char *t_mkdtemp(void);
/* Copy @src into a fresh directory (files 0644, directories 0755, symlinks kept). */
char *t_copy_tree(const char *src);
/* Copy @src into @dst (created if missing), the same way. */
void t_copy_tree_into(const char *src, const char *dst);
void t_remove_tree(const char *dir);
/* Write @content to @dir/@name with @mode; returns the path (malloc'ed). */
char *t_write_file(const char *dir, const char *name, const char *content, unsigned int mode);
/* Compare @actual with the file @path (or rewrite it under MP_UPDATE_GOLDEN=1): exit code. */
int t_golden(const char *path, const char *actual);

#endif
