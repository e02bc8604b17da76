/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_SCENARIO_PRIVATE_H
#define MP_SCENARIO_PRIVATE_H

/*
 * Internals of scenario/: parse.c turns lines into steps (every reference
 * resolved, every value checked), run.c runs them over a struct mp_host.
 */
#include <limits.h>

#include "mp-scenario.h"

enum mp_scn_op {
	MP_SCN_PLUG,
	MP_SCN_RESIZE,
	MP_SCN_UNPLUG,
	MP_SCN_EXPECT_ONLINE,
	MP_SCN_EXPECT_REMOVED,
	MP_SCN_EXPECT_REFUSED,
	MP_SCN_EXPECT_GROW,
	MP_SCN_SERVE,
	MP_SCN_SLEEP,
	MP_SCN_HOOK,
};

#define MP_SCN_NAME_MAX 64
#define MP_SCN_ANY (-1)

/*
 * struct mp_scn_step - one line of the file, checked
 * @dev: index into the scenario's device table (what the step acts on or
 *       looks at), -1 none
 * @unplug_step: expect refused/removed: the unplug step it judges, -1 none
 * @within_ms: deadline of the step
 * @node: plug: guest node; expect online: the node wanted (MP_SCN_ANY)
 * @blocks: expect online: onlined blocks wanted (MP_SCN_ANY)
 * @verified: expect online: every block verified (default)
 * @trim: expect online: the guest's kmem trim was checked and as predicted
 * @judged: unplug: the next step is `expect refused`, which judges a refusal
 */
struct mp_scn_step {
	enum mp_scn_op op;
	unsigned int line;
	char text[256];
	int dev;
	int unplug_step;
	int within_ms;
	bool keep_going;
	/* plug */
	char kind[16];
	uint64_t size, label_size, requested;
	int node, host_node;
	char mem_path[PATH_MAX];
	bool share, prealloc, force;
	char id[128];
	/* expect online */
	char zone[16];
	long blocks;
	bool verified, trim;
	/* expect refused */
	char reason[256];
	char errname[32];
	bool judged;
	/* serve */
	char config[PATH_MAX];
	/* hook */
	char hook[MP_SCN_NAME_MAX];
};

/*
 * struct mp_scn_dev - a device the file names: an alias a plug defined
 * (as=NAME) or a device someone else plugged, named by its host id
 * @name: what the file calls it
 * @id: host id (filled by the plug at run time for an alias)
 * @plugged_by: the plug step that makes it, -1 for an outside device
 * @kind: plug kind ("" for an outside device)
 */
struct mp_scn_dev {
	char name[MP_SCN_NAME_MAX];
	char id[160];
	int plugged_by;
	char kind[16];
	/* run time */
	bool plugged, unplugged;
	uint64_t since_ms; /* when its plug or resize was sent */
};

struct mp_scenario {
	char *file;
	unsigned int nsteps;
	struct mp_scn_step *steps;
	unsigned int ndevs;
	struct mp_scn_dev *devs;
};

const char *mp_scn_op_name(enum mp_scn_op op);

#endif
