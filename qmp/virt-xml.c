// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvirt device XML, built and read: the <memory> element for a plug
 * (every user string escaped), the live virtio-mem element with a new
 * <requested>, and the host node a domain's <numatune> binds a guest cell
 * to.  Pure string work, built with or without libvirt, so the unit tests
 * run everywhere.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-private.h"
#include "util.h"

/* Text or attribute value (either quote) as XML: the five predefined
 * entities, so no user string can end an attribute or open an element. */
static void xml_escape(FILE *f, const char *s)
{
	static const char special[] = "&<>'\"";
	static const char *const entity[] = { "&amp;", "&lt;", "&gt;", "&apos;", "&quot;" };
	const char *p;

	for (; *s; s++) {
		p = strchr(special, *s);
		if (p)
			fputs(entity[p - special], f);
		else
			fputc(*s, f);
	}
}

/**
 * mp_virt_memory_xml() - the <memory> device XML libvirt attaches for a plug
 * @rq: the checked plug
 *
 * The id becomes libvirt's user alias "ua-ID" (libvirt accepts user aliases
 * only with that prefix).  A host node goes into <source><nodemask> for a
 * DIMM or virtio-mem; libvirt's schema has no nodemask for model nvdimm
 * (its <source> is path, alignsize, pmem) and libvirt drops one silently,
 * so an NVDIMM's binding comes from the domain's <numatune> instead (see
 * mp_virt_numatune_node(), checked before this is built).
 *
 * Return: malloc'ed XML, or NULL with errno set.
 */
char *mp_virt_memory_xml(const struct mp_host_plug_req *rq)
{
	const struct mp_host_plug_spec *spec = rq->spec;
	bool nv = !strcmp(rq->kind, "nvdimm");
	uint64_t kib = spec->size >> 10;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fputs("<memory model='", f);
	xml_escape(f, rq->kind);
	fputs("'>", f);
	if (nv) {
		fputs("<source><path>", f);
		xml_escape(f, spec->mem_path ? spec->mem_path : "");
		fputs("</path></source>", f);
		kib += spec->label_size >> 10;
	} else if (rq->host_node >= 0) {
		fprintf(f, "<source><nodemask>%d</nodemask></source>", rq->host_node);
	}
	fprintf(f, "<target><size unit='KiB'>%" PRIu64 "</size><node>%d</node>", kib,
		spec->node >= 0 ? spec->node : 0);
	if (nv && spec->label_size)
		fprintf(f, "<label><size unit='KiB'>%" PRIu64 "</size></label>",
			spec->label_size >> 10);
	if (!strcmp(rq->kind, "virtio-mem"))
		fprintf(f,
			"<block unit='KiB'>2048</block><requested unit='KiB'>%" PRIu64
			"</requested>",
			spec->requested_size >> 10);
	fputs("</target><alias name='ua-", f);
	xml_escape(f, rq->id);
	fputs("'/></memory>", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/**
 * mp_virt_virtio_mem_xml() - a virtio-mem device's live XML with a new size
 * @dom_xml: the live domain XML
 * @alias: the device's alias
 * @size: new requested size
 *
 * virDomainUpdateDeviceFlags() wants the live XML of the device, with its
 * alias and PCI address, as virsh update-memory-device builds it: cut the
 * <memory> element holding the alias out of the live domain XML and
 * replace its <requested>.  libvirt formats its own XML deterministically
 * (single quotes, one element per line), which is what this relies on.
 *
 * Return: malloc'ed XML, or NULL when there is no such element.
 */
char *mp_virt_virtio_mem_xml(const char *dom_xml, const char *alias, uint64_t size)
{
	static const char head[] = "<memory model='virtio-mem'";
	char needle[200], *res;
	const char *a, *start, *end, *rq, *rq_end;

	if (!mp_host_id_wellformed(alias))
		return NULL;
	snprintf(needle, sizeof(needle), "<alias name='%s'/>", alias);
	a = strstr(dom_xml, needle);
	if (!a)
		return NULL;
	for (start = a; start > dom_xml && strncmp(start, head, strlen(head)); start--)
		;
	end = strstr(a, "</memory>");
	if (start == dom_xml || !end)
		return NULL;
	end += strlen("</memory>");
	rq = strstr(start, "<requested");
	if (!rq || rq > end)
		return NULL;
	rq_end = strstr(rq, "</requested>");
	if (!rq_end || rq_end > end)
		return NULL;
	rq_end += strlen("</requested>");
	if (asprintf(&res, "%.*s<requested unit='KiB'>%" PRIu64 "</requested>%.*s",
		     (int)(rq - start), start, size >> 10, (int)(end - rq_end), rq_end) < 0)
		return NULL;
	return res;
}

/* The value of attribute @name in the element starting at @el (up to its '>'). */
static int attr(const char *el, const char *name, char *val, size_t len)
{
	const char *gt = strchr(el, '>'), *p, *q;
	char key[64];

	snprintf(key, sizeof(key), " %s='", name);
	p = strstr(el, key);
	if (!p || (gt && p > gt))
		return -ENOENT;
	p += strlen(key);
	q = strchr(p, '\'');
	if (!q || (size_t)(q - p) >= len)
		return -EINVAL;
	memcpy(val, p, (size_t)(q - p));
	val[q - p] = '\0';
	return 0;
}

/* A nodeset naming exactly one node ("1"), as its number; else -1. */
static int single_node(const char *nodeset)
{
	uint64_t v;

	return mp_parse_u64(nodeset, 10, &v) == 0 && v < 1024 ? (int)v : -1;
}

/**
 * mp_virt_numatune_node() - host node a domain binds guest cell @cell to
 * @dom_xml: live domain XML
 * @cell: guest NUMA node
 *
 * libvirt computes the backend of a memory device without <nodemask> from
 * <numatune>: the <memnode cellid='@cell'> nodeset, else the <memory>
 * nodeset (qemuBuildMemoryBackendProps()), unless that one's mode is
 * restrictive (cgroups only).  Only a nodeset of exactly one node counts.
 *
 * Return: the host node, or -1 when nothing binds @cell to one node.
 */
int mp_virt_numatune_node(const char *dom_xml, int cell)
{
	const char *nt = strstr(dom_xml, "<numatune>"), *end, *p;
	char val[256], want[16];

	if (!nt)
		return -1;
	end = strstr(nt, "</numatune>");
	snprintf(want, sizeof(want), "%d", cell);
	for (p = strstr(nt, "<memnode "); p && (!end || p < end); p = strstr(p + 1, "<memnode ")) {
		if (attr(p, "cellid", val, sizeof(val)) == 0 && !strcmp(val, want))
			return attr(p, "nodeset", val, sizeof(val)) == 0 ? single_node(val) : -1;
	}
	p = strstr(nt, "<memory ");
	if (!p || (end && p > end))
		return -1;
	if (attr(p, "mode", val, sizeof(val)) == 0 && !strcmp(val, "restrictive"))
		return -1;
	return attr(p, "nodeset", val, sizeof(val)) == 0 ? single_node(val) : -1;
}

/* XML's five predefined entities back to their characters, in place. */
static void xml_unescape(char *s)
{
	static const char *const entity[] = { "&amp;", "&lt;", "&gt;", "&apos;", "&quot;" };
	static const char chars[] = "&<>'\"";
	char *w = s;

	while (*s) {
		size_t i;

		for (i = 0; i < MP_ARRAY_SIZE(entity); i++)
			if (!strncmp(s, entity[i], strlen(entity[i])))
				break;
		if (*s == '&' && i < MP_ARRAY_SIZE(entity)) {
			*w++ = chars[i];
			s += strlen(entity[i]);
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/**
 * mp_virt_channel_path() - the unix socket of a domain's virtio channel
 * @dom_xml: live domain XML
 * @name: the channel's target name ("org.memplug.0")
 * @path: receives the socket path
 * @len: size of @path
 *
 * libvirt generates the path of <source mode='bind'/> when the domain
 * starts (under /var/lib/libvirt/qemu/channel/target/) and shows it in the
 * live XML:
 * <channel type='unix'><source mode='bind' path='...'/><target
 * type='virtio' name='org.memplug.0' .../></channel>.
 *
 * Return: 0; -ENOENT when there is no such unix channel with a path;
 * -ENAMETOOLONG.
 */
int mp_virt_channel_path(const char *dom_xml, const char *name, char *path, size_t len)
{
	const char *p = dom_xml, *end, *t, *src;
	char val[512];

	while ((p = strstr(p, "<channel type='unix'"))) {
		end = strstr(p, "</channel>");
		if (!end)
			break;
		t = strstr(p, "<target ");
		src = strstr(p, "<source ");
		if (t && t < end && src && src < end && attr(t, "type", val, sizeof(val)) == 0 &&
		    !strcmp(val, "virtio") && attr(t, "name", val, sizeof(val)) == 0 &&
		    (xml_unescape(val), !strcmp(val, name)) &&
		    attr(src, "path", val, sizeof(val)) == 0) {
			xml_unescape(val);
			if (strlen(val) >= len)
				return -ENAMETOOLONG;
			strcpy(path, val);
			return 0;
		}
		p = end;
	}
	return -ENOENT;
}
