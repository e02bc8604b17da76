// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The host handle: opening a VM through one of the two backends (QMP in
 * host-qmp.c, libvirt in virt.c), raw QMP passthrough and progress
 * reporting.  The VM's state is always read back through QMP (directly, or
 * passed through libvirt), so checks, ids and orphan detection are the same
 * for both; only the mutating steps differ (see struct mp_host_backend_ops).
 */
#include <errno.h>
#include <stdlib.h>

#include "host-private.h"
#include "log.h"
#include "mp-json.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS 30000

int mp_host_new(const struct mp_host_backend_ops *ops, void *be, int timeout_ms,
		struct mp_host **out)
{
	struct mp_host *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h) {
		if (ops->close)
			ops->close(be);
		return -ENOMEM;
	}
	h->ops = ops;
	h->be = be;
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	*out = h;
	return 0;
}

/* Called from wait loops: reports once a second after the first second. */
void mp_host_progress(struct mp_host *h, const char *what, uint64_t start)
{
	uint64_t now = mp_now_ms();

	if (!h->progress || now - start < 1000 || now - h->progress_last < 1000)
		return;
	h->progress_last = now;
	h->progress(what, (long)(now - start), h->progress_ud);
}

int mp_host_open_qmp(const char *path, int timeout_ms, struct mp_host **out)
{
	struct mp_qmp *q;
	int r;

	*out = NULL;
	r = mp_qmp_connect(path, timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS, &q);
	if (r < 0)
		return r;
	return mp_host_new(&mp_host_qmp_ops, q, timeout_ms, out);
}

int mp_host_open_libvirt(const char *uri, const char *domain, int timeout_ms, struct mp_host **out)
{
	*out = NULL;
#if HAVE_LIBVIRT
	void *v;
	int r = mp_virt_open(uri, domain, &v);

	if (r < 0)
		return r;
	return mp_host_new(&mp_virt_ops, v, timeout_ms, out);
#else
	mp_err("%s: memplug was built without libvirt", domain);
	return -EOPNOTSUPP;
#endif
}

void mp_host_close(struct mp_host *h)
{
	if (!h)
		return;
	mp_qmp_close(h->chan);
	json_object_put(h->stale);
	if (h->ops->close)
		h->ops->close(h->be);
	free(h);
}

int mp_host_revive(struct mp_host *h, int timeout_ms)
{
	return h->ops->revive ? h->ops->revive(h, timeout_ms) : 0;
}

void mp_host_set_progress(struct mp_host *h, mp_host_progress_fn fn, void *ud)
{
	h->progress = fn;
	h->progress_ud = ud;
}

int mp_host_qmp(struct mp_host *h, const char *cmd, struct json_object *args,
		struct json_object **ret, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	return h->ops->qmp(h, cmd, args, ret, err, errlen);
}

/* A QMP command whose failure is logged as "OBJ: CMD failed: reason". */
int mp_host_cmd(struct mp_host *h, const char *obj, const char *cmd, struct json_object *args,
		struct json_object **ret)
{
	char err[600];
	int r;

	r = mp_host_qmp(h, cmd, args, ret, err, sizeof(err));
	if (r < 0)
		mp_err("%s: %s failed: %s", obj, cmd, err);
	return r;
}

int mp_host_object_del(struct mp_host *h, const char *id)
{
	struct json_object *args = json_object_new_object();

	mp_json_add_str(args, "id", id);
	return mp_host_cmd(h, id, "object-del", args, NULL);
}
