// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Placement: whether a device fits the VM's free slots and maxmem, which
 * host NUMA node its backend goes to (libnuma on this host, or the remote
 * host's cells through libvirt), and plans that split a size into DIMMs
 * over guest nodes, evenly or on Proxmox's grid.
 */
#include <errno.h>
#include <stdlib.h>

#include "host-private.h"
#include "log.h"
#include "util.h"

#if HAVE_LIBNUMA
#include <numa.h>
#endif

int mp_host_check_fit(const struct mp_host_state *st, const char *id, uint64_t size,
		      bool needs_slot)
{
	char a[32], b[32];

	if (needs_slot && st->slots_used >= st->slots) {
		mp_err("%s: no free memory slot (%u of %u used; the VM's slots= "
		       "is fixed at boot)",
		       id, st->slots_used, st->slots);
		return -ENOSPC;
	}
	if (size > st->space_left) {
		mp_err("%s: %s does not fit: %s left under maxmem", id,
		       mp_format_size(size, a, sizeof(a)),
		       mp_format_size(st->space_left, b, sizeof(b)));
		return -ENOSPC;
	}
	return 0;
}

/* The QMP backend's QEMU runs on this host: ask libnuma. */
int mp_host_local_numa_free(struct mp_host *h, int node, uint64_t *free_bytes, int *nnodes)
{
#if HAVE_LIBNUMA
	long long f = 0;

	if (numa_available() < 0) {
		mp_err("host: NUMA is not available on this host");
		return -EOPNOTSUPP;
	}
	if (nnodes)
		*nnodes = numa_max_node() + 1;
	if (node < 0)
		return 0;
	/* memory-less or offline node: counts as nothing free */
	*free_bytes = numa_node_size64(node, &f) < 0 ? 0 : (uint64_t)f;
	return 0;
#else
	mp_err("host: memplug was built without libnuma: no host node placement");
	return -EOPNOTSUPP;
#endif
}

int mp_host_numa_pick(struct mp_host *h, int want, uint64_t size, int *node)
{
	char a[32], b[32];
	uint64_t best_free = 0, fr = 0;
	int best = -1, nnodes = 0, i, r;

	if (!h->ops->numa_free) {
		mp_err("host: the %s backend cannot place memory on host nodes", h->ops->name);
		return -EOPNOTSUPP;
	}
	r = h->ops->numa_free(h, -1, NULL, &nnodes);
	if (r < 0)
		return r;
	if (want >= 0 && want >= nnodes) {
		mp_err("host node %d: no such node (host has %d)", want, nnodes);
		return -ENOENT;
	}
	for (i = 0; i < nnodes; i++) {
		if (want >= 0 && i != want)
			continue;
		r = h->ops->numa_free(h, i, &fr, NULL);
		if (r < 0)
			return r;
		if (best < 0 || fr > best_free) {
			best = i;
			best_free = fr;
		}
	}
	if (best < 0) {
		mp_err("host: no usable NUMA node");
		return -ENOENT;
	}
	if (best_free < size) {
		mp_err("host node %d: %s free, the backend needs %s", best,
		       mp_format_size(best_free, a, sizeof(a)), mp_format_size(size, b, sizeof(b)));
		return -ENOMEM;
	}
	*node = best;
	return 0;
}

struct mp_host_plan {
	unsigned int n;
	uint64_t *size;
	int *node;
};

void mp_host_plan_free(struct mp_host_plan *plan)
{
	if (!plan)
		return;
	free(plan->size);
	free(plan->node);
	free(plan);
}

unsigned int mp_host_plan_get_count(const struct mp_host_plan *plan)
{
	return plan->n;
}

uint64_t mp_host_plan_get_size(const struct mp_host_plan *plan, unsigned int i)
{
	return i < plan->n ? plan->size[i] : 0;
}

int mp_host_plan_get_node(const struct mp_host_plan *plan, unsigned int i)
{
	return i < plan->n ? plan->node[i] : -1;
}

static int plan_alloc(unsigned int n, struct mp_host_plan **out)
{
	struct mp_host_plan *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->size = calloc(n ? n : 1, sizeof(*p->size));
	p->node = calloc(n ? n : 1, sizeof(*p->node));
	if (!p->size || !p->node) {
		mp_host_plan_free(p);
		return -ENOMEM;
	}
	p->n = n;
	*out = p;
	return 0;
}

int mp_host_plan_new(uint64_t total, uint64_t dimm_size, const int *nodes, unsigned int nnodes,
		     struct mp_host_plan **out)
{
	struct mp_host_plan *p;
	uint64_t blocks, per, extra, left;
	unsigned int n, i;
	int r;

	*out = NULL;
	if (!nnodes || !total || total % MP_HOST_BLOCK_SIZE || dimm_size % MP_HOST_BLOCK_SIZE) {
		mp_err("plan: sizes must be non-zero multiples of 128 MiB and at "
		       "least one node given");
		return -EINVAL;
	}
	if (dimm_size)
		n = (unsigned int)((total + dimm_size - 1) / dimm_size);
	else
		n = nnodes;
	blocks = total / MP_HOST_BLOCK_SIZE;
	if (!dimm_size && blocks < nnodes)
		n = (unsigned int)blocks; /* fewer blocks than nodes */
	if (n > 4096)
		return -E2BIG;
	r = plan_alloc(n, &p);
	if (r < 0)
		return r;
	per = blocks / n;
	extra = blocks % n;
	left = total;
	for (i = 0; i < n; i++) {
		/* Proxmox spreads DIMMs round robin over the nodes
		 * (dimm i -> node i % sockets); same here */
		p->node[i] = nodes[i % nnodes];
		if (dimm_size)
			p->size[i] = MP_MIN(dimm_size, left);
		else
			p->size[i] = (per + (i < extra)) * MP_HOST_BLOCK_SIZE;
		left -= p->size[i];
	}
	*out = p;
	return 0;
}

/*
 * Proxmox's grid (PVE::QemuServer::Memory, foreach_dimm): DIMMs of 512 MiB,
 * 32 of them, then 32 of 1 GiB, doubling every 32; DIMM i of a size class
 * goes to node i % nodes.  Following it means a VM grown by memplug and one
 * grown by Proxmox end up with the same DIMMs.
 */
#define PVE_FIRST_DIMM (512ull << 20)
#define PVE_PER_CLASS 32

static uint64_t pve_dimm_size(unsigned int idx)
{
	return PVE_FIRST_DIMM << (idx / PVE_PER_CLASS);
}

int mp_host_plan_new_proxmox(uint64_t total, unsigned int first, const int *nodes,
			     unsigned int nnodes, struct mp_host_plan **out)
{
	char a[32], b[32];
	uint64_t sum = 0;
	unsigned int n = 0, i;
	int r;

	*out = NULL;
	if (!nnodes || !total || first >= 8 * PVE_PER_CLASS) {
		mp_err("plan: proxmox layout needs a size, nodes and fewer than %u "
		       "DIMMs already plugged",
		       8 * PVE_PER_CLASS);
		return -EINVAL;
	}
	while (sum < total && first + n < 8 * PVE_PER_CLASS)
		sum += pve_dimm_size(first + n++);
	if (sum != total) {
		mp_err("plan: %s is not on Proxmox's DIMM grid from DIMM %u on "
		       "(nearest: %s or %s)",
		       mp_format_size(total, a, sizeof(a)), first,
		       mp_format_size(sum - pve_dimm_size(first + n - 1), b, sizeof(b)),
		       mp_format_size(sum, a, sizeof(a)));
		return -EINVAL;
	}
	r = plan_alloc(n, out);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		(*out)->size[i] = pve_dimm_size(first + i);
		(*out)->node[i] = nodes[((first + i) % PVE_PER_CLASS) % nnodes];
	}
	return 0;
}

int mp_host_plan_check(const struct mp_host_plan *plan, const struct mp_host_state *st)
{
	uint64_t total = 0;
	unsigned int i, free_slots;
	char a[32], b[32];

	for (i = 0; i < plan->n; i++)
		total += plan->size[i];
	free_slots = st->slots > st->slots_used ? st->slots - st->slots_used : 0;
	if (plan->n > free_slots) {
		mp_err("plan: %u DIMMs needed, %u slots free (of %u)", plan->n, free_slots,
		       st->slots);
		return -ENOSPC;
	}
	if (total > st->space_left) {
		mp_err("plan: %s needed, %s left under maxmem", mp_format_size(total, a, sizeof(a)),
		       mp_format_size(st->space_left, b, sizeof(b)));
		return -ENOSPC;
	}
	return 0;
}
