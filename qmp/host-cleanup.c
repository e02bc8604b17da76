// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Orphan backends: objects named mp-... that no memory device uses, left
 * by a run killed between object-add and device_add or between
 * DEVICE_DELETED and object-del.  The snapshot finds them (host-state.c);
 * this removes them.
 */
#include <errno.h>

#include "host-private.h"
#include "log.h"

int mp_host_cleanup(struct mp_host *h, bool dry_run, unsigned int *found)
{
	struct mp_host_state *st = NULL;
	unsigned int i;
	int r, removed = 0, err = 0;

	if (found)
		*found = 0;
	r = mp_host_state_read(h, MP_ST_DEVICES | MP_ST_OBJECTS, &st);
	if (r < 0)
		return r;
	if (found)
		*found = st->norphans;
	for (i = 0; i < st->norphans; i++) {
		if (dry_run) {
			mp_notice("%s: orphan backend (no device uses it)", st->orphans[i]);
			continue;
		}
		r = mp_host_object_del(h, st->orphans[i]);
		if (r < 0) {
			err = r;
			continue;
		}
		mp_info("%s: orphan backend removed", st->orphans[i]);
		removed++;
	}
	mp_host_state_free(st);
	return err && !removed ? err : removed;
}
