// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The context carries the root every /sys and /proc path is built from, so
 * the same code reads a live guest ("" root) or a recorded fixture.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp-kernel.h"
#include "util.h"

struct mp_ctx {
	char root[PATH_MAX];
	mp_log_fn log_fn; /* NULL: the process-wide logger (util/log.c, stderr) */
	void *log_data;
};

int mp_ctx_new(const char *sysroot, struct mp_ctx **out)
{
	struct mp_ctx *ctx;
	size_t len;

	if (!sysroot)
		sysroot = getenv("MEMPLUG_SYSROOT");
	if (!sysroot)
		sysroot = "";
	len = strlen(sysroot);
	/* "/" and "" both mean the running system; drop trailing slashes. */
	while (len > 0 && sysroot[len - 1] == '/')
		len--;
	if (len >= PATH_MAX - 256)
		return -ENAMETOOLONG;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	memcpy(ctx->root, sysroot, len);
	ctx->root[len] = '\0';
	*out = ctx;
	return 0;
}

void mp_ctx_free(struct mp_ctx *ctx)
{
	free(ctx);
}

const char *mp_ctx_root(const struct mp_ctx *ctx)
{
	return ctx->root;
}

int mp_ctx_path(const struct mp_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n, m;

	n = snprintf(buf, len, "%s/", ctx->root);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

int mp_ctx_opendir(const struct mp_ctx *ctx, const char *rel, char *path, size_t plen, DIR **dir)
{
	int err = mp_ctx_path(ctx, path, plen, "%s", rel);

	*dir = NULL;
	if (err)
		return err;
	*dir = opendir(path);
	return *dir ? 0 : -errno;
}

int mp_ctx_read_text(const struct mp_ctx *ctx, const char *rel, char *path, size_t plen,
		     char **text, size_t *len)
{
	int err = mp_ctx_path(ctx, path, plen, "%s", rel);
	size_t n;

	*text = NULL;
	if (err)
		return err;
	err = mp_read_file_alloc(path, text, &n);
	if (err)
		return err;
	err = mp_text_check(*text, n, path);
	if (err) {
		free(*text);
		*text = NULL;
		return err;
	}
	if (len)
		*len = n;
	return 0;
}

void mp_ctx_set_log_fn(struct mp_ctx *ctx, mp_log_fn fn, void *data)
{
	ctx->log_fn = fn;
	ctx->log_data = data;
}

void mp_ctx_vlog(const struct mp_ctx *ctx, int priority, const char *fmt, va_list ap)
{
	if (ctx && ctx->log_fn)
		ctx->log_fn(ctx->log_data, priority, fmt, ap);
	else
		mp_vlog(priority, fmt, ap);
}

void mp_ctx_log(const struct mp_ctx *ctx, int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mp_ctx_vlog(ctx, priority, fmt, ap);
	va_end(ap);
}
