#!/usr/bin/python3
"""The harness itself: boot with memhp_default_state=offline and
-m 1G,slots=8,maxmem=16G, hot-add a 1 GiB DIMM through QMP, see its blocks
(memory32..39) offline with System RAM at 4 GiB in /proc/iomem, online one
of them through sysfs; also the command channel's framing and errors."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
from guest import EjectRefused, QMPError, main  # noqa: E402

GiB = 1 << 30
MEM = '/sys/devices/system/memory'


def test(g):
    # Channel framing: exit codes, stderr, output without a final newline.
    assert g.run('echo out; echo err >&2; exit 3') == (3, 'out\nerr\n')
    assert g.run('printf x') == (0, 'x')
    assert g.check('cat /proc/cmdline').find('memhp_default_state=offline') >= 0
    assert g.read(MEM + '/block_size_bytes') == '8000000'
    assert g.read(MEM + '/auto_online_blocks') == 'offline'

    # QMP errors carry class and desc.
    try:
        g.qmp('device_add', driver='pc-dimm', id='bad', memdev='no-such-backend')
        raise AssertionError('device_add with a missing backend succeeded')
    except QMPError as e:
        assert e.cls == 'DeviceNotFound', e

    t0 = time.monotonic()
    dev = g.add_dimm('dimm0', '1G')
    t_ost = time.monotonic() - t0
    assert dev['addr'] == 4 * GiB and dev['size'] == GiB, dev
    blocks = g.blocks_of(dev['addr'], dev['size'])
    assert blocks == list(range(32, 40)), blocks
    g.wait_for_blocks(blocks)
    t_blocks = time.monotonic() - t0
    states = g.block_states(blocks)
    assert set(states.values()) == {'offline'}, states
    for b in blocks:
        assert g.run('[ -e %s/memory%d/node0 ]' % (MEM, b))[0] == 0, b
    zones = g.read(MEM + '/memory32/valid_zones')
    assert zones == 'Normal Movable', zones

    iomem = g.iomem()
    assert (0, 4 * GiB, 5 * GiB - 1, 'System RAM') in iomem, \
        [r for r in iomem if r[1] >= 4 * GiB]

    t1 = time.monotonic()
    g.set_block_state(32, 'online_movable')
    t_online = time.monotonic() - t1
    assert g.read(MEM + '/memory32/state') == 'online'
    assert g.read(MEM + '/memory32/valid_zones') == 'Movable'
    # Asking for the state a block is already in is EINVAL (KERNEL-RULES 2).
    rc, out = g.run('echo online_movable > %s/memory32/state' % MEM)
    assert rc != 0 and 'Invalid argument' in out, (rc, out)
    assert g.block_states(blocks)[33] == 'offline'

    # Offline it again and unplug the whole DIMM.
    g.set_block_state(32, 'offline')
    t2 = time.monotonic()
    g.del_dimm('dimm0')
    t_del = time.monotonic() - t2
    g.wait_until('[ ! -e %s/memory32 ]' % MEM, 5)
    # A DIMM onlined to a kernel zone fills with slab (the only Normal zone
    # here, so the first choice for kernel allocations): the guest can't
    # offline it and refuses the eject (_OST status 0x82, device busy).
    g.add_dimm('dimm1', '256M')
    g.wait_for_blocks([32, 33])
    for b in (32, 33):
        g.set_block_state(b, 'online_kernel')
    g.check('mkdir /tmp/x && cd /tmp/x && seq 1 20000 | xargs touch', timeout=60)
    try:
        g.del_dimm('dimm1')
        raise AssertionError('eject of a DIMM full of slab succeeded')
    except EjectRefused as e:
        assert e.info['status'] == 0x82, e
    assert g.block_states([32, 33]) == {32: 'online', 33: 'online'}

    print('add->OST %.2f s, add->8 blocks %.2f s, online 1 block %.3f s, '
          'device_del %.2f s' % (t_ost, t_blocks, t_online, t_del))


if __name__ == '__main__':
    main(test, mem='1G', slots=8, maxmem='16G', online='offline')
