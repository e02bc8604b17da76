// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The libvirt XML memplug builds and reads (qmp/virt-xml.c), and QEMU's id
 * rule: pure functions, no libvirt or QEMU needed, so this runs in every
 * build.  The <numatune> snippets are what libvirt 9.0's dumpxml printed for
 * the domains of tests/libvirt.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-private.h"
#include "log.h"
#include "tq.h"

#define M (1ull << 20)

static struct mp_host_plug_spec spec(uint64_t size, int node)
{
	struct mp_host_plug_spec s = { .size = size, .node = node, .host_node = MP_HOST_NODE_NONE };

	return s;
}

static void check_xml(const struct mp_host_plug_req *rq, const char *want)
{
	char *x = mp_virt_memory_xml(rq);

	CHECK(x != NULL);
	if (!x)
		return;
	if (strcmp(x, want)) {
		fprintf(stderr, "got  %s\nwant %s\n", x, want);
		check_failures++;
	}
	free(x);
}

/* Every user string is escaped: quotes cannot end the attribute, '<' cannot
 * open an element, '&' cannot start an entity.  Compared exactly, so any
 * change of structure shows. */
static void test_escaping(void)
{
	struct mp_host_plug_spec s = spec(256 * M, 0);
	struct mp_host_plug_req rq = { .kind = "nvdimm", .driver = "nvdimm", .spec = &s };

	s.mem_path = "/tmp/a'b\"c<d>e&f/nv.img";
	s.label_size = 128 << 10;
	rq.host_node = MP_HOST_NODE_NONE;
	rq.id = "mp-x'/><evil a='&\"";
	check_xml(&rq, "<memory model='nvdimm'><source><path>/tmp/a&apos;b&quot;c&lt;d&gt;e&amp;f/"
		       "nv.img</path></source><target><size unit='KiB'>262272</size>"
		       "<node>0</node><label><size unit='KiB'>128</size></label></target>"
		       "<alias name='ua-mp-x&apos;/&gt;&lt;evil a=&apos;&amp;&quot;'/></memory>");
}

/* Host node: <nodemask> for a DIMM and virtio-mem; never for an NVDIMM
 * (libvirt's schema has none there, its binding is the domain's numatune). */
static void test_host_node(void)
{
	struct mp_host_plug_spec s = spec(128 * M, 1);
	struct mp_host_plug_req rq = {
		.kind = "dimm", .spec = &s, .host_node = 1, .id = "mp-dimm0"
	};

	check_xml(&rq, "<memory model='dimm'><source><nodemask>1</nodemask></source><target>"
		       "<size unit='KiB'>131072</size><node>1</node></target>"
		       "<alias name='ua-mp-dimm0'/></memory>");
	rq.host_node = MP_HOST_NODE_NONE;
	check_xml(&rq, "<memory model='dimm'><target><size unit='KiB'>131072</size><node>1</node>"
		       "</target><alias name='ua-mp-dimm0'/></memory>");
	rq.kind = "virtio-mem";
	rq.host_node = 0;
	rq.id = "mp-vmem0";
	s.size = 1024 * M;
	s.requested_size = 256 * M;
	check_xml(&rq, "<memory model='virtio-mem'><source><nodemask>0</nodemask></source>"
		       "<target><size unit='KiB'>1048576</size><node>1</node>"
		       "<block unit='KiB'>2048</block><requested unit='KiB'>262144</requested>"
		       "</target><alias name='ua-mp-vmem0'/></memory>");
	rq.kind = "nvdimm";
	rq.id = "mp-nvdimm0";
	s.mem_path = "/var/lib/nv0";
	s.size = 256 * M;
	check_xml(&rq, "<memory model='nvdimm'><source><path>/var/lib/nv0</path></source>"
		       "<target><size unit='KiB'>262144</size><node>1</node></target>"
		       "<alias name='ua-mp-nvdimm0'/></memory>");
}

static void test_numatune(void)
{
	static const char memnode[] = "<domain type='qemu' id='3'>\n"
				      "  <name>memplug-test-nv-numa</name>\n"
				      "  <numatune>\n"
				      "    <memnode cellid='0' mode='strict' nodeset='0'/>\n"
				      "  </numatune>\n"
				      "  <resource>\n";
	static const char memory[] = "  <numatune>\n"
				     "    <memory mode='strict' nodeset='0'/>\n"
				     "  </numatune>\n";
	static const char both[] = "  <numatune>\n"
				   "    <memory mode='strict' nodeset='0-1'/>\n"
				   "    <memnode cellid='0' mode='strict' nodeset='1'/>\n"
				   "    <memnode cellid='12' mode='strict' nodeset='0'/>\n"
				   "  </numatune>\n";
	static const char restrictive[] = "  <numatune>\n"
					  "    <memory mode='restrictive' nodeset='0'/>\n"
					  "  </numatune>\n";

	CHECK_EQ(mp_virt_numatune_node(memnode, 0), 0);
	CHECK_EQ(mp_virt_numatune_node(memnode, 1), -1);
	CHECK_EQ(mp_virt_numatune_node(memory, 0), 0);
	CHECK_EQ(mp_virt_numatune_node(memory, 3), 0);
	CHECK_EQ(mp_virt_numatune_node(both, 0), 1);
	CHECK_EQ(mp_virt_numatune_node(both, 12), 0);
	CHECK_EQ(mp_virt_numatune_node(both, 1), -1); /* 0-1 is not one node */
	CHECK_EQ(mp_virt_numatune_node(both, 2), -1);
	CHECK_EQ(mp_virt_numatune_node(restrictive, 0), -1);
	CHECK_EQ(mp_virt_numatune_node("<domain><devices/></domain>", 0), -1);
}

/* Hand-written in libvirt's dumpxml format (tests/libvirt does it for real). */
static void test_virtio_mem_update(void)
{
	static const char dom[] =
		"    <memory model='dimm'>\n"
		"      <alias name='ua-mp-dimm0'/>\n"
		"    </memory>\n"
		"    <memory model='virtio-mem'>\n"
		"      <target>\n"
		"        <size unit='KiB'>1048576</size>\n"
		"        <node>0</node>\n"
		"        <block unit='KiB'>2048</block>\n"
		"        <requested unit='KiB'>0</requested>\n"
		"        <current unit='KiB'>0</current>\n"
		"      </target>\n"
		"      <alias name='virtiomem0'/>\n"
		"      <address type='pci' domain='0x0000' bus='0x00' slot='0x03'/>\n"
		"    </memory>\n";
	char *x = mp_virt_virtio_mem_xml(dom, "virtiomem0", 256 * M);

	CHECK(x && !strncmp(x, "<memory model='virtio-mem'>", 27));
	CHECK(x && strstr(x, "<requested unit='KiB'>262144</requested>\n"
			     "        <current unit='KiB'>0</current>"));
	CHECK(x && strstr(x, "<alias name='virtiomem0'/>"));
	CHECK(x && !strstr(x, "dimm"));
	CHECK(x && !strcmp(x + strlen(x) - 9, "</memory>"));
	free(x);
	CHECK(mp_virt_virtio_mem_xml(dom, "ua-mp-dimm0", 256 * M) == NULL);
	CHECK(mp_virt_virtio_mem_xml(dom, "nope", 256 * M) == NULL);
	CHECK(mp_virt_virtio_mem_xml(dom, "virtiomem0'/>", 256 * M) == NULL);
}

/* QEMU's id_wellformed(), and the check plug makes before sending anything. */
static void test_ids(void)
{
	CHECK(mp_host_id_wellformed("mp-dimm0"));
	CHECK(mp_host_id_wellformed("a.b_c-9"));
	CHECK(!mp_host_id_wellformed(""));
	CHECK(!mp_host_id_wellformed("0abc"));
	CHECK(!mp_host_id_wellformed("-abc"));
	CHECK(!mp_host_id_wellformed("a b"));
	CHECK(!mp_host_id_wellformed("a'b"));
	CHECK(!mp_host_id_wellformed("a<b"));
	CHECK(!mp_host_id_wellformed("a&b"));
	CHECK(!mp_host_id_wellformed("a\"b"));
	CHECK(!mp_host_id_wellformed("a/b"));
	CHECK(!mp_host_id_wellformed("caf\xc3\xa9"));
	CHECK_EQ(mp_host_id_check(NULL), 0);
	CHECK_EQ(mp_host_id_check("extra"), 0);
	CHECK_EQ(mp_host_id_check("9lives"), 0); /* becomes mp-9lives */
	CHECK_EQ(mp_host_id_check("x'/><a"), -EINVAL);
	CHECK_EQ(mp_host_id_check("a&b"), -EINVAL);
	CHECK_EQ(mp_host_id_check("a\"b"), -EINVAL);
	CHECK_EQ(mp_host_id_check("a<b"), -EINVAL);
	CHECK_EQ(
		mp_host_id_check(
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		-ENAMETOOLONG);
}

/* The live <channel> elements as libvirt formats them (written by hand in
 * that format: the libvirt test domain has no memplug channel yet): the
 * guest agent's first, ours with a generated path holding an escaped '&'. */
static void test_channel_path(void)
{
	static const char xml[] =
		"    <channel type='unix'>\n"
		"      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/"
		"domain-3-vm/org.qemu.guest_agent.0'/>\n"
		"      <target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>\n"
		"    </channel>\n"
		"    <channel type='pty'>\n"
		"      <target type='virtio' name='org.memplug.0'/>\n"
		"    </channel>\n"
		"    <channel type='unix'>\n"
		"      <source mode='bind' path='/run/vm/a&amp;b/org.memplug.0'/>\n"
		"      <target type='virtio' name='org.memplug.0' state='connected'/>\n"
		"      <alias name='channel1'/>\n"
		"    </channel>\n";
	char path[256];

	CHECK_EQ(mp_virt_channel_path(xml, "org.memplug.0", path, sizeof(path)), 0);
	CHECK(!strcmp(path, "/run/vm/a&b/org.memplug.0"));
	CHECK_EQ(mp_virt_channel_path(xml, "org.qemu.guest_agent.0", path, sizeof(path)), 0);
	CHECK_EQ(mp_virt_channel_path(xml, "org.other.0", path, sizeof(path)), -ENOENT);
	CHECK_EQ(mp_virt_channel_path(xml, "org.memplug.0", path, 10), -ENAMETOOLONG);
	CHECK_EQ(mp_virt_channel_path("<domain/>", "org.memplug.0", path, sizeof(path)), -ENOENT);
}

int main(void)
{
	mp_log_set_level(getenv("MP_TEST_DEBUG") ? LOG_DEBUG : LOG_NOTICE);
	test_escaping();
	test_host_node();
	test_numatune();
	test_channel_path();
	test_virtio_mem_update();
	test_ids();
	return tq_finish("test-virt-xml");
}
