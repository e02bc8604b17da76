// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel uevents as memplugd reads them from the netlink socket.
 *
 * lib/kobject_uevent.c builds "ACTION@DEVPATH" followed by the
 * environment ("ACTION=add", "DEVPATH=/devices/...", "SUBSYSTEM=memory",
 * "SEQNUM=1234", ...), every piece ending with a NUL.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mp-kernel.h"
#include "util.h"

/* The kernel's keys (add_uevent_var() callers): upper case, digits, '_'. */
static bool key_ok(const char *kv, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((kv[i] >= 'A' && kv[i] <= 'Z') || (kv[i] >= '0' && kv[i] <= '9') ||
		      kv[i] == '_'))
			return false;
	return true;
}

int mp_uevent_parse(const char *msg, size_t len, struct mp_uevent *ev, char *why, size_t whylen)
{
	size_t off, n;

	memset(ev, 0, sizeof(*ev));
	n = strnlen(msg, len);
	if (!n || !memchr(msg, '@', n)) {
		snprintf(why, whylen, "header '%.*s' is not ACTION@DEVPATH", (int)MP_MIN(n, 64),
			 msg);
		return -EBADMSG;
	}
	for (off = n + 1; off < len; off += n + 1) {
		const char *kv = msg + off;
		const char *eq;

		n = strnlen(kv, len - off);
		eq = memchr(kv, '=', n);
		if (!eq || !key_ok(kv, (size_t)(eq - kv))) {
			snprintf(why, whylen, "field %zu '%.*s' is not KEY=VALUE", off,
				 (int)MP_MIN(n, 64), kv);
			return -EBADMSG;
		}
		/* Only a field that ends with its NUL (or the message) is used. */
		if (!strncmp(kv, "ACTION=", 7))
			ev->action = kv + 7;
		else if (!strncmp(kv, "SUBSYSTEM=", 10))
			ev->subsystem = kv + 10;
		else if (!strncmp(kv, "DEVPATH=", 8))
			ev->devpath = kv + 8;
	}
	if (!ev->action || !ev->subsystem) {
		snprintf(why, whylen, "no %s field", !ev->action ? "ACTION" : "SUBSYSTEM");
		return -EBADMSG;
	}
	return 0;
}
