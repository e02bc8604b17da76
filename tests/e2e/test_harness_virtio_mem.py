#!/usr/bin/python3
"""A virtio-mem device (Guest.virtio_mem_args) grown through qom-set
requested-size (Guest.resize_virtio_mem): its memory shows up as
'System RAM (virtio_mem)' under virtioN in /proc/iomem, in offline blocks;
shrinking it back to 0 removes them."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
from guest import Guest, main  # noqa: E402

GiB = 1 << 30
MiB = 1 << 20
MEM = '/sys/devices/system/memory'


def test(g):
    assert g.resize_virtio_mem('vm0', '512M') == 512 * MiB
    io = g.iomem()
    parent = [r for r in io if r[3].startswith('virtio') and r[0] == 0]
    assert parent and parent[0][1] == 4 * GiB, io
    ram = [r for r in io if r[3] == 'System RAM (virtio_mem)']
    assert ram == [(1, 4 * GiB, 4 * GiB + 512 * MiB - 1, 'System RAM (virtio_mem)')], ram
    blocks = g.blocks_of(4 * GiB, 512 * MiB)
    g.wait_for_blocks(blocks)
    # virtio-mem does not online its memory (KERNEL-RULES 10).
    assert set(g.block_states(blocks).values()) == {'offline'}
    g.set_block_state(blocks[0], 'online_movable')

    # The device's size reaches 0 as the guest unplugs sub-blocks; the
    # blocks and the resource go a little later.
    assert g.resize_virtio_mem('vm0', 0) == 0
    g.wait_until('! grep -q "System RAM (virtio_mem)" /proc/iomem', 10)
    g.wait_until(' && '.join('[ ! -e %s/memory%d ]' % (MEM, b) for b in blocks), 10)


if __name__ == '__main__':
    main(test, mem='1G', maxmem='16G', qemu_args=Guest.virtio_mem_args('vm0', '2G'))
