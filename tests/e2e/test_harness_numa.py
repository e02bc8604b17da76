#!/usr/bin/python3
"""Two NUMA nodes of 512 MiB (memory-backend-ram + -numa node,memdev); a
1 GiB DIMM hot-added on node 1 gets blocks linked to node1, and onlining one
puts it into node 1's Movable zone."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
from guest import main  # noqa: E402

GiB = 1 << 30
MEM = '/sys/devices/system/memory'
NODE = '/sys/devices/system/node'


def test(g):
    assert g.read(NODE + '/online') == '0-1'
    for n in (0, 1):
        total = g.check("awk '/MemTotal/ {print $4}' %s/node%d/meminfo" % (NODE, n))
        assert 300000 < int(total) <= 524288, (n, total)
    assert g.read(NODE + '/node0/cpulist') == '0'
    assert g.read(NODE + '/node1/cpulist') == '1'

    dev = g.add_dimm('dimm1', '1G', node=1)
    assert dev['node'] == 1 and dev['addr'] == 4 * GiB, dev
    blocks = g.blocks_of(dev['addr'], dev['size'])
    g.wait_for_blocks(blocks)
    # Node links are created after the add uevent (KERNEL-RULES 2): wait.
    g.wait_until(' && '.join('[ -e %s/memory%d/node1 ]' % (MEM, b) for b in blocks))
    for b in blocks:
        assert g.run('[ -e %s/memory%d/node0 ]' % (MEM, b))[0] != 0, b
        assert g.run('[ -e %s/node1/memory%d ]' % (NODE, b))[0] == 0, b
    assert set(g.block_states(blocks).values()) == {'offline'}

    before = int(g.check("awk '/MemTotal/ {print $4}' %s/node1/meminfo" % NODE))
    g.set_block_state(blocks[0], 'online_movable')
    after = int(g.check("awk '/MemTotal/ {print $4}' %s/node1/meminfo" % NODE))
    assert after - before == 128 * 1024, (before, after)
    zoneinfo = g.check('cat /proc/zoneinfo')
    assert 'Node 1, zone  Movable' in zoneinfo


if __name__ == '__main__':
    main(test, numa=['512M', '512M'], slots=8, maxmem='16G')
