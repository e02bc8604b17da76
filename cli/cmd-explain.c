// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memplugctl explain: everything the rules know about a block, an address,
 * a PFN or a dax device.  memplugctl kernel: which behaviours the kernel has.
 *
 * The output is built once as a JSON object; text mode prints that object's
 * fields in order, so -J and text can never disagree.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "mp-kernel.h"
#include "util.h"

static struct json_object *jstr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct json_object *jstr(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_object_new_string(buf);
}

static struct json_object *jhex(uint64_t v)
{
	return jstr("0x%llx", (unsigned long long)v);
}

static struct json_object *jrange(uint64_t start, uint64_t end)
{
	return jstr("0x%llx-0x%llx", (unsigned long long)start, (unsigned long long)end);
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static struct json_object *prediction_json(const struct mp_prediction *p)
{
	struct json_object *o = json_object_new_object();

	add(o, "result", json_object_new_string(p->err ? mp_cli_errname(p->err) : "ok"));
	if (p->zone[0])
		add(o, "zone", json_object_new_string(p->zone));
	add(o, "certain", json_object_new_boolean(p->certain));
	add(o, "rule", json_object_new_string(p->rule));
	return o;
}

static struct json_object *trim_json(const struct mp_dax_trim *t)
{
	struct json_object *o = json_object_new_object();

	add(o, "range", jrange(t->start, t->end));
	add(o, "aligned_2m", json_object_new_boolean(t->aligned_2m));
	add(o, "sections",
	    jstr("%llu-%llu", (unsigned long long)t->first_section,
		 (unsigned long long)t->last_section));
	add(o, "partial_first_section", json_object_new_boolean(t->partial_first_section));
	add(o, "partial_last_section", json_object_new_boolean(t->partial_last_section));
	if (t->keeps_nothing)
		add(o, "kmem_keeps", NULL);
	else
		add(o, "kmem_keeps", jrange(t->keep_start, t->keep_end));
	add(o, "stranded_head", json_object_new_uint64(t->stranded_head));
	add(o, "stranded_tail", json_object_new_uint64(t->stranded_tail));
	add(o, "stranded", json_object_new_uint64(t->stranded_head + t->stranded_tail));
	return o;
}

static struct json_object *iomem_chain_json(const struct mp_iomem *io, uint64_t addr)
{
	const struct mp_iomem_res *chain[32], *r = mp_iomem_find(io, addr);
	struct json_object *arr = json_object_new_array();
	int n = 0;

	for (; r && n < 32; r = r->parent)
		chain[n++] = r;
	while (n--) {
		struct json_object *o = json_object_new_object();

		add(o, "range", jrange(chain[n]->start, chain[n]->end));
		add(o, "name", json_object_new_string(chain[n]->name));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* Actual System RAM (kmem) children of a dax device in iomem, for comparison. */
static struct json_object *kmem_actual_json(const struct mp_iomem *io, const char *dax)
{
	struct json_object *arr = json_object_new_array();
	const struct mp_iomem_res *k[MP_DAX_MAX_RANGES];
	size_t n = mp_iomem_kmem(io, dax, NULL, k, MP_ARRAY_SIZE(k));

	for (size_t i = 0; i < n && i < MP_ARRAY_SIZE(k); i++)
		json_object_array_add(arr, jrange(k[i]->start, k[i]->end));
	return arr;
}

static const struct mp_dax_dev *dax_for_addr(const struct mp_dax_dev *d, size_t nr, uint64_t addr)
{
	for (size_t i = 0; i < nr; i++)
		for (int r = 0; r < d[i].nr_ranges; r++)
			if (d[i].ranges[r].start <= addr && addr <= d[i].ranges[r].end)
				return &d[i];
	return NULL;
}

static const struct mp_namespace *ns_for_addr(const struct mp_namespace *ns, size_t nr,
					      uint64_t addr)
{
	for (size_t i = 0; i < nr; i++)
		if (ns[i].start != UINT64_MAX && ns[i].start <= addr &&
		    addr - ns[i].start < ns[i].size)
			return &ns[i];
	return NULL;
}

static struct json_object *ns_json(const struct mp_namespace *ns)
{
	struct json_object *o = json_object_new_object();

	add(o, "name", json_object_new_string(ns->name));
	add(o, "mode", json_object_new_string(ns->mode));
	add(o, "range", jrange(ns->start, ns->start + ns->size - 1));
	add(o, "numa_node", json_object_new_int(ns->numa_node));
	return o;
}

static struct json_object *dax_json(const struct mp_memory *mem, const struct mp_dax_dev *d)
{
	struct json_object *o = json_object_new_object(), *tr = json_object_new_array();
	uint64_t kept = 0, stranded = 0;

	add(o, "name", json_object_new_string(d->name));
	add(o, "driver", json_object_new_string(d->driver[0] ? d->driver : "none"));
	add(o, "size", json_object_new_uint64(d->size));
	add(o, "align", json_object_new_uint64(d->align));
	add(o, "target_node", json_object_new_int(d->target_node));
	add(o, "from_nvdimm", json_object_new_boolean(d->from_nvdimm));
	for (int r = 0; r < d->nr_ranges; r++) {
		struct mp_dax_trim t;

		mp_rules_dax_trim(&mem->geo, d->ranges[r].start, d->ranges[r].end, &t);
		json_object_array_add(tr, trim_json(&t));
		if (!t.keeps_nothing)
			kept += t.keep_end - t.keep_start + 1;
		stranded += t.stranded_head + t.stranded_tail;
	}
	add(o, "ranges", tr);
	add(o, "kmem_keeps_bytes", json_object_new_uint64(kept));
	add(o, "kmem_strands_bytes", json_object_new_uint64(stranded));
	if (mem->iomem)
		add(o, "kmem_actual", kmem_actual_json(mem->iomem, d->name));
	return o;
}

/* ---- text rendering of the JSON model ---------------------------------- */

static void print_text(struct json_object *o, int indent)
{
	json_object_object_foreach(o, key, val)
	{
		enum json_type t = json_object_get_type(val);

		if (t == json_type_object) {
			printf("%*s%s:\n", indent, "", key);
			print_text(val, indent + 2);
		} else if (t == json_type_array) {
			size_t n = json_object_array_length(val);

			printf("%*s%s:%s\n", indent, "", key, n ? "" : " none");
			for (size_t i = 0; i < n; i++) {
				struct json_object *e = json_object_array_get_idx(val, i);

				if (json_object_get_type(e) == json_type_object) {
					struct json_object *rg, *nm;

					if (json_object_object_get_ex(e, "name", &nm) &&
					    json_object_object_get_ex(e, "range", &rg) &&
					    json_object_object_length(e) == 2) {
						printf("%*s%s %s\n", indent + 2, "",
						       json_object_get_string(rg),
						       json_object_get_string(nm));
						continue;
					}
					printf("%*s-\n", indent + 2, "");
					print_text(e, indent + 4);
				} else {
					printf("%*s%s\n", indent + 2, "",
					       json_object_get_string(e));
				}
			}
		} else {
			printf("%*s%s: %s\n", indent, "", key,
			       val ? json_object_get_string(val) : "none");
		}
	}
}

static int parse_target(const char *s, const struct mp_geometry *geo, uint64_t *addr,
			const char **dax)
{
	uint64_t v;

	*dax = NULL;
	if (!strncmp(s, "memory", 6)) {
		if (mp_block_parse_name(s, &v))
			return -EINVAL;
		*addr = mp_block_to_addr(geo, v);
		return 0;
	}
	if (!strncmp(s, "pfn:", 4)) {
		if (mp_parse_u64(s + 4, 0, &v) || v > (UINT64_MAX >> MP_PAGE_SHIFT))
			return -EINVAL;
		*addr = mp_pfn_to_addr(v);
		return 0;
	}
	if (!strncmp(s, "dax", 3)) {
		*dax = s;
		return 0;
	}
	if (!strncmp(s, "0x", 2) && !mp_parse_u64(s, 16, &v)) {
		*addr = v;
		return 0;
	}
	return -EINVAL;
}

static void explain_usage(FILE *f)
{
	fputs("Usage: memplugctl explain [-J] memoryN | 0xADDR | pfn:N | daxX.Y\n", f);
}

int mp_cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		MP_CLI_SYSROOT_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mp_memory *mem = NULL;
	struct mp_kpageflags *kpf = NULL;
	struct mp_dax_dev *daxs = NULL;
	struct mp_namespace *nss = NULL;
	const struct mp_namespace *ns;
	struct mp_ctx *ctx = NULL;
	struct json_object *root = NULL;
	const struct mp_dax_dev *dax = NULL;
	const char *daxname;
	size_t ndax = 0, nns = 0;
	bool json = false;
	uint64_t addr = 0;
	int opt, err, rc = MP_EXIT_FAIL;

	while ((opt = mp_cli_getopt(argc, argv, "Jh", opts, explain_usage)) != -1) {
		if (opt == 'J')
			json = true;
	}
	if (optind + 1 != argc) {
		explain_usage(stderr);
		return MP_EXIT_USAGE;
	}
	if (mp_cli_ctx(&ctx))
		return MP_EXIT_FAIL;
	err = mp_memory_scan(ctx, MP_SCAN_ALL, &mem);
	if (err)
		goto out;
	if (parse_target(argv[optind], &mem->geo, &addr, &daxname)) {
		fprintf(stderr,
			"memplugctl explain: '%s' is not memoryN, 0xADDR, pfn:N or daxX.Y\n",
			argv[optind]);
		rc = MP_EXIT_USAGE;
		goto out;
	}
	err = mp_dax_scan(ctx, &daxs, &ndax);
	if (!err)
		err = mp_namespace_scan(ctx, &nss, &nns);
	if (err)
		goto out;
	root = json_object_new_object();
	if (daxname) {
		for (size_t i = 0; i < ndax; i++)
			if (!strcmp(daxs[i].name, daxname))
				dax = &daxs[i];
		if (!dax) {
			fprintf(stderr,
				"memplugctl explain: %s: no such dax device under %s/sys/bus/dax/devices\n",
				daxname, mp_ctx_root(ctx));
			goto out;
		}
		add(root, "dax", dax_json(mem, dax));
		if (dax->nr_ranges && (ns = ns_for_addr(nss, nns, dax->ranges[0].start)))
			add(root, "namespace", ns_json(ns));
	} else {
		const struct mp_block *b = mp_memory_find_addr(mem, addr);
		uint64_t sec = mp_addr_to_section(addr) << MP_SECTION_SHIFT;
		uint64_t sub = addr & ~(MP_SUBSECTION_SIZE - 1);
		struct json_object *o = json_object_new_object();

		if (!strncmp(argv[optind], "memory", 6) && !b) {
			fprintf(stderr,
				"memplugctl explain: %s: no such memory block under %s/sys/devices/system/memory\n",
				argv[optind], mp_ctx_root(ctx));
			json_object_put(o);
			goto out;
		}
		add(o, "address", jhex(addr));
		add(o, "pfn", jhex(mp_addr_to_pfn(addr)));
		add(o, "section",
		    jstr("%llu (0x%llx-0x%llx)", (unsigned long long)mp_addr_to_section(addr),
			 (unsigned long long)sec, (unsigned long long)(sec + MP_SECTION_SIZE - 1)));
		add(o, "subsection",
		    jstr("%u (0x%llx-0x%llx)", mp_addr_to_subsection(addr), (unsigned long long)sub,
			 (unsigned long long)(sub + MP_SUBSECTION_SIZE - 1)));
		add(root, "location", o);
		add(root, "iomem", iomem_chain_json(mem->iomem, addr));
		if (b) {
			struct mp_kpf_counts counts, *kc = NULL;
			struct mp_block_verdict v;
			char buf[64];

			o = json_object_new_object();
			add(o, "name", jstr("memory%llu", (unsigned long long)b->id));
			add(o, "range", jrange(b->start, b->start + b->size - 1));
			add(o, "state", json_object_new_string(mp_block_state_name(b->state)));
			if (b->nr_nodes > 1) {
				char nodes[64];

				add(o, "nodes",
				    jstr("%s (a node boundary inside the block)",
					 mp_block_format_nodes(b, nodes, sizeof(nodes))));
			} else {
				add(o, "node", b->node < 0 ? NULL : json_object_new_int(b->node));
			}
			add(o, "valid_zones", json_object_new_string(b->zones));
			add(o, "device",
			    json_object_new_string(mp_devref_format(&b->dev, buf, sizeof(buf))));
			if (b->dev.acpi[0])
				add(o, "acpi_device", json_object_new_string(b->dev.acpi));
			{
				uint64_t pi;

				/* §1: phys_index is the first section; check it against the name. */
				if (mp_block_read_phys_index(ctx, b->id, &pi) == 0)
					add(o, "phys_index",
					    jstr("0x%llx (%s)", (unsigned long long)pi,
						 pi == mp_addr_to_section(b->start) ?
							 "first section, as expected" :
							 "RULE MISMATCH: not the block's first section"));
			}
			add(o, "system_ram_bytes", json_object_new_uint64(b->sysram_bytes));
			add(o, "holes_bytes", json_object_new_uint64(b->size - b->sysram_bytes));
			add(root, "block", o);
			if (mp_kpageflags_open(ctx, &kpf) == 0 &&
			    mp_kpageflags_count(kpf, mp_addr_to_pfn(b->start),
						b->size >> MP_PAGE_SHIFT, &counts) == 0) {
				kc = &counts;
				add(root, "kpageflags", mp_kpf_counts_to_json(kc));
			} else {
				add(root, "kpageflags",
				    json_object_new_string(
					    "not readable (see error above); page-level rules not applied"));
			}
			mp_rules_block(mem, b, kc, &v);
			o = json_object_new_object();
			if (b->state == MP_BLOCK_OFFLINE) {
				add(o, "online", prediction_json(&v.online));
				add(o, "online_movable", prediction_json(&v.online_movable));
				add(o, "online_kernel", prediction_json(&v.online_kernel));
			}
			add(o, "offline", prediction_json(&v.offline));
			if (b->state != MP_BLOCK_OFFLINE)
				add(o, "online", prediction_json(&v.online));
			add(root, "predictions", o);
		} else {
			struct mp_kpf_counts counts;

			add(root, "block",
			    json_object_new_string("none: no memory block covers this address"));
			if (mp_kpageflags_open(ctx, &kpf) == 0 &&
			    mp_kpageflags_count(kpf, mp_addr_to_pfn(addr), 1, &counts) == 0)
				add(root, "page",
				    json_object_new_string(
					    counts.eof ?
						    "past the end of kpageflags (above max_dump_pfn): no online page here" :
					    counts.nopage ? "NOPAGE: no online page here" :
							    "online page"));
		}
		dax = dax_for_addr(daxs, ndax, addr);
		if (dax)
			add(root, "dax", dax_json(mem, dax));
		ns = ns_for_addr(nss, nns, addr);
		if (ns)
			add(root, "namespace", ns_json(ns));
	}
	if (json)
		printf("%s\n",
		       json_object_to_json_string_ext(
			       root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_text(root, 0);
	rc = MP_EXIT_OK;
out:
	json_object_put(root);
	mp_kpageflags_close(kpf);
	free(daxs);
	free(nss);
	mp_memory_free(mem);
	mp_ctx_free(ctx);
	return rc;
}

static void kernel_usage(FILE *f)
{
	fputs("Usage: memplugctl kernel [-J]: the hotplug behaviours the kernel offers, with evidence\n",
	      f);
}

int mp_cmd_kernel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		MP_CLI_SYSROOT_OPTION,
		{ 0 },
	};
	static const char *names[] = { "no", "yes", "unknown" };
	struct mp_feature *f = NULL;
	struct mp_ctx *ctx;
	char rel[64] = "unknown";
	struct mp_kernel_rules kr;
	bool json = false;
	int opt, maj, min;
	size_t n;

	while ((opt = mp_cli_getopt(argc, argv, "Jh", opts, kernel_usage)) != -1) {
		if (opt == 'J')
			json = true;
	}
	if (mp_cli_ctx(&ctx))
		return MP_EXIT_FAIL;
	if (mp_kernel_release(ctx, rel, sizeof(rel)) < 0)
		snprintf(rel, sizeof(rel), "unknown"); /* absent, or not a release */
	mp_kernel_version(ctx, &maj, &min);
	mp_kernel_rules_for(maj, min, &kr);
	if (mp_kernel_features(ctx, &f, &n)) {
		mp_ctx_free(ctx);
		return MP_EXIT_FAIL;
	}
	if (json) {
		struct json_object *root = json_object_new_object(), *arr = json_object_new_array();

		struct json_object *jr = json_object_new_object();

		add(root, "release", json_object_new_string(rel));
		/* The version rules kpageflags counting and verification apply. */
		add(jr, "name", json_object_new_string(kr.name));
		add(jr, "known", json_object_new_boolean(kr.known));
		add(jr, "memmap_owner_private_only",
		    json_object_new_boolean(kr.memmap_owner_private_only));
		add(jr, "hotplug_memmap_offline",
		    json_object_new_boolean(kr.hotplug_memmap_offline));
		add(jr, "memmap_per_block", json_object_new_boolean(kr.memmap_per_block));
		add(jr, "memmap_force", json_object_new_boolean(kr.memmap_force));
		add(jr, "dax_memmap_on_memory", json_object_new_boolean(kr.dax_memmap_on_memory));
		add(root, "rules", jr);
		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_object_new_object();

			add(o, "key", json_object_new_string(f[i].key));
			add(o, "what", json_object_new_string(f[i].what));
			add(o, "present", json_object_new_string(names[f[i].state]));
			add(o, "evidence", json_object_new_string(f[i].evidence));
			json_object_array_add(arr, o);
		}
		add(root, "features", arr);
		printf("%s\n",
		       json_object_to_json_string_ext(
			       root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else {
		printf("kernel release: %s\n", rel);
		printf("version rules: %s: self-hosted memmap reads %s; memmap_on_memory %s; hot-added memmap starts %s\n",
		       kr.name,
		       !kr.known		    ? "either form" :
		       kr.memmap_owner_private_only ? "OWNER_PRIVATE alone" :
						      "RESERVED|OWNER_PRIVATE",
		       !kr.known	   ? "per block or one-block adds only" :
		       kr.memmap_per_block ? "in every block of an add" :
					     "for one-block adds only",
		       !kr.known		 ? "either way" :
		       kr.hotplug_memmap_offline ? "PageOffline" :
						   "PG_reserved");
		for (size_t i = 0; i < n; i++)
			printf("%-22s %-7s %s [%s]\n", f[i].key, names[f[i].state], f[i].what,
			       f[i].evidence);
	}
	free(f);
	mp_ctx_free(ctx);
	return MP_EXIT_OK;
}
