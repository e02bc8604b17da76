#!/usr/bin/python3
"""A DIMM hot-added with memhp_default_state=offline: memplugctl lists it
offline with its slot, every PFN reads NOPAGE, `online --zone movable`
onlines it, and state, valid_zones (Movable) and kpageflags (no NOPAGE
left) say so.  A snapshot taken in the guest reads the same on the host."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import main  # noqa: E402
from ctl import ctl_json, kpf, snapshot_matches_live  # noqa: E402

GiB = 1 << 30
BLOCKS = range(32, 40)


def test(g):
    g.add_dimm('dimm0', '1G')
    g.add_dimm('dimm1', '256M')
    g.wait_for_blocks(list(BLOCKS) + [40, 41])
    g.wait_until('[ -e /sys/devices/system/memory/memory41/firmware_node ]')

    rows = ctl_json(g, 'list -J -b')['memory']
    dimm = [r for r in rows if r['block'] == '32-39']
    assert dimm == [{'range': '0x0000000100000000-0x000000013fffffff', 'size': GiB,
                     'state': 'offline', 'block': '32-39', 'node': 0, 'nodes': [0],
                     'zones': 'Normal/Movable', 'device': 'dimm:slot0', 'holes': 0}], rows
    assert [r['device'] for r in rows if r['block'] == '40-41'] == ['dimm:slot1'], rows
    for b in BLOCKS:
        k = kpf(g, b)
        assert k['nopage'] == 32768 and k['past_eof'] == 0, (b, k)

    # The prediction before acting, then the act.
    pred = ctl_json(g, 'explain -J memory32')['predictions']['online_movable']
    assert pred['result'] == 'ok' and pred['zone'] == 'Movable' and pred['certain'], pred
    out = g.check('memplugctl online --zone movable memory32-39')
    assert out.count(': ok; state online, zones Movable') == 8, out

    for b in BLOCKS:
        assert g.read('/sys/devices/system/memory/memory%d/state' % b) == 'online'
        assert g.read('/sys/devices/system/memory/memory%d/valid_zones' % b) == 'Movable'
        k = kpf(g, b)
        assert k['nopage'] == 0 and k['reserved'] == k['memmap_on_memory'], (b, k)
    rows = ctl_json(g, 'list -J -b')['memory']
    assert [r for r in rows if r['block'] == '32-39'][0]['zones'] == 'Movable', rows

    # Asking again: the kernel says EINVAL, memplugctl reports "already".
    rc, out = g.run('memplugctl online --zone movable memory32')
    assert rc == 0 and 'already online' in out, (rc, out)
    # Partial: one good, one missing block -> exit 64 like chmem.
    rc, out = g.run('memplugctl online memory40 memory99')
    assert rc == 64 and 'memory99: online: no such block' in out, (rc, out)
    # memory40 went to a kernel zone (plain online picks Normal first) and
    # soon holds slab/page tables: offline may fail with EBUSY, and when it
    # does the rules must have said EBUSY.  memory41 was never onlined:
    # "already offline" counts as done.
    rc, out = g.run('memplugctl offline memory40 memory41')
    assert 'memory41: offline: already offline' in out, out
    assert 'RULE MISMATCH' not in out, out
    if 'memory40: offline: failed' in out:
        assert rc == 64 and 'predicted EBUSY' in out, (rc, out)
    else:
        assert rc == 0 and 'memory40: offline: ok' in out, (rc, out)

    # Offline the DIMM again: movable pages migrate, every PFN NOPAGE again.
    out = g.check('memplugctl offline memory32-39')
    assert out.count(': ok; state offline') == 8, out
    assert kpf(g, 35)['nopage'] == 32768

    snapshot_matches_live(g, ['list', 'list -a -J', 'explain memory33',
                              'kernel'], 'dimm-online')


if __name__ == '__main__':
    main(test, mem='1G', slots=8, maxmem='16G')
