#!/usr/bin/python3
"""An NVDIMM present at boot (2 GiB, no labels) turned into devdax through
sysfs alone (Guest.make_devdax), then given to kmem (Guest.bind_kmem): the
block-boundary trim of KERNEL-RULES 8 shows in /proc/iomem.  Also a
hot-added NVDIMM's region appearing."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
from guest import main  # noqa: E402

GiB = 1 << 30
MiB = 1 << 20
MEM = '/sys/devices/system/memory'
DAX = '/sys/bus/dax/devices'


def test(g):
    io = g.iomem()
    assert (0, 4 * GiB, 6 * GiB - 1, 'Persistent Memory') in io, io
    assert g.check('cat /sys/bus/nd/devices/namespace0.0/mode').strip() == 'raw'

    dax = g.make_devdax('namespace0.0')
    assert dax == 'dax0.0', dax
    assert g.run('[ -c /dev/dax0.0 ]')[0] == 0
    start = int(g.read(DAX + '/dax0.0/resource'), 16)
    size = int(g.read(DAX + '/dax0.0/size'))
    # The struct pages live on the device (map=dev): the data starts after
    # them, 2 MiB aligned (KERNEL-RULES 4).
    assert start > 4 * GiB and start % (2 * MiB) == 0, hex(start)
    assert start + size == 6 * GiB, (hex(start), size)
    assert (1, start, 6 * GiB - 1, 'dax0.0') in g.iomem()
    assert int(g.read(DAX + '/dax0.0/target_node')) == 0

    blocks = g.bind_kmem(dax)
    bs = g.block_size()
    first = (start + bs - 1) // bs
    assert blocks == list(range(first, 6 * GiB // bs)), blocks
    kmem = [r for r in g.iomem() if r[3] == 'System RAM (kmem)']
    assert kmem == [(2, first * bs, 6 * GiB - 1, 'System RAM (kmem)')], kmem
    stranded = first * bs - start
    assert 0 < stranded < bs, stranded
    # The device node stays in devtmpfs (the dax device keeps its devt), but
    # with kmem bound there is no cdev behind it: open fails with ENXIO.
    rc, out = g.run('exec 3</dev/dax0.0')
    assert rc != 0 and 'No such device or address' in out, (rc, out)
    g.wait_for_blocks(blocks)
    assert set(g.block_states(blocks).values()) == {'offline'}
    g.set_block_state(blocks[0], 'online_movable')
    assert g.read(MEM + '/memory%d/state' % blocks[0]) == 'online'
    print('dax0.0 at %#x, %d kmem blocks (memory%d-%d), %d MiB stranded'
          % (start, len(blocks), blocks[0], blocks[-1], stranded // MiB))

    # A hot-added NVDIMM: its region shows up shortly after device_add.
    dev = g.add_nvdimm('nv1', '1G')
    g.wait_until('[ -e /sys/bus/nd/devices/region1 ]', 10)
    assert dev['addr'] >= 6 * GiB, dev


if __name__ == '__main__':
    main(test, mem='1G', nvdimms=['2G'], slots=8, maxmem='16G')
