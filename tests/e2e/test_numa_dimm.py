#!/usr/bin/python3
"""A two-node guest with a DIMM on node 1: memplugctl lists it on node 1,
offline, with its slot, and explain agrees."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import main  # noqa: E402
from ctl import ctl_json  # noqa: E402


def test(g):
    dev = g.add_dimm('dimm0', '512M', node=1)
    first = dev['addr'] // (128 << 20)
    last = first + 3
    g.wait_until('[ -e /sys/devices/system/memory/memory%d/node1 ]' % last)
    rows = ctl_json(g, 'list -J -b')['memory']
    mine = [r for r in rows if r['device'] == 'dimm:slot0']
    assert len(mine) == 1, rows
    assert mine[0]['node'] == 1 and mine[0]['block'] == '%d-%d' % (first, last), mine
    assert mine[0]['state'] == 'offline', mine
    # Boot memory is split over both nodes.
    assert {r['node'] for r in rows if r['device'] == 'boot'} == {0, 1}, rows
    assert ctl_json(g, 'explain -J memory%d' % first)['block']['node'] == 1
    g.check('memplugctl online --zone movable memory%d-%d' % (first, last))
    assert g.read('/sys/devices/system/node/node1/memory%d/state' % first) == 'online'


if __name__ == '__main__':
    main(test, numa=['512M', '512M'])
