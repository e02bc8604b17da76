// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: a libvirt live domain XML as memplug reads it
 * (qmp/virt-xml.c): the org.memplug.0 channel's socket, a cell's
 * numatune binding, a virtio-mem device's element for a resize.  (The
 * libvirt events memplug takes carry only a device alias, checked by
 * string compare: there is nothing more to parse.)
 */
#include "fuzz.h"
#include "host-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256], *xml, *dev;

	fuzz_quiet();
	xml = fuzz_text(data, size);
	if (!xml)
		return 0;
	mp_virt_channel_path(xml, "org.memplug.0", path, sizeof(path));
	mp_virt_channel_path(xml, "org.qemu.guest_agent.0", path, 8);
	for (int cell = 0; cell < 3; cell++)
		mp_virt_numatune_node(xml, cell);
	dev = mp_virt_virtio_mem_xml(xml, "ua-mp-vmem0", 1ull << 30);
	free(dev);
	dev = mp_virt_virtio_mem_xml(xml, "virtiomem0", 0);
	free(dev);
	free(xml);
	return 0;
}
