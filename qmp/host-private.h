/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MP_HOST_PRIVATE_H
#define MP_HOST_PRIVATE_H

/* Shared between host.c (QMP and common code) and virt.c (libvirt). */
#include "host.h"
#include "qmp.h"

struct mp_virt;

struct mp_host {
	struct mp_qmp *q; /* direct QMP, or NULL */
	struct mp_virt *virt; /* libvirt, or NULL */
	int timeout_ms;
	mp_host_progress_fn progress;
	void *progress_ud;
};

struct mp_host_memdev {
	char kind[16];
	char id[128];
	char backend[128]; /* object id, without "/objects/" */
	uint64_t addr, size;
	int slot, node;
	bool hotplugged;
	uint64_t requested_size, max_size, block_size;
};

struct mp_host_state {
	uint64_t base, plugged, maxmem;
	unsigned int slots, slots_used;
	uint64_t space_left;
	bool nvdimm;
	unsigned int ndevs;
	struct mp_host_memdev *devs;
	unsigned int norphans;
	char **orphans;
	/* every object under /objects and device under /machine/peripheral,
	 * for picking ids that are free */
	unsigned int nnames;
	char **names;
};

long long mp_host_now_ms(void);
int mp_host_wait_size(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size,
		      int timeout_ms);
void mp_host_progress(struct mp_host *h, const char *what, long long start);
int mp_host_next_id(const struct mp_host_state *st, const char *kind, char *id, size_t idlen);
int mp_host_make_id(const struct mp_host_state *st, const char *want, const char *kind, char *id,
		    size_t idlen);

#if HAVE_LIBVIRT
int mp_virt_open(const char *uri, const char *domain, struct mp_virt **out);
void mp_virt_close(struct mp_virt *v);
int mp_virt_qmp(struct mp_virt *v, const char *cmd, struct json_object *args,
		struct json_object **ret, char *err, size_t errlen);
int mp_virt_plug(struct mp_host *h, const char *kind, const struct mp_host_plug_spec *spec,
		 int host_node, const char *id);
int mp_virt_unplug(struct mp_host *h, const struct mp_host_memdev *d, int timeout_ms);
int mp_virt_resize(struct mp_host *h, const struct mp_host_memdev *d, uint64_t size,
		   int timeout_ms);
int mp_virt_numa_free(struct mp_virt *v, int node, uint64_t *free_bytes, int *nnodes);
#endif

#endif
