#!/usr/bin/python3
"""Boot memory that is not a multiple of the block size (-m 1000M): list and
explain report the hole in the last boot block, and offlining it fails with
EINVAL as predicted.  memory0's zones read 'none' (ZONE_DMA ends inside
it) and it refuses offline too.  A middle boot block offlines and comes
back."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import main  # noqa: E402
from ctl import ctl_json  # noqa: E402

MiB = 1 << 20


def test(g):
    rows = ctl_json(g, 'list -J -b')['memory']
    last = [r for r in rows if r['block'] == '7']
    assert len(last) == 1 and last[0]['holes'] > 0, rows
    # 1000 MiB of RAM: the block ends at 1024 MiB, so at least 24 MiB is a hole.
    assert last[0]['holes'] >= 24 * MiB, last
    ex = ctl_json(g, 'explain -J memory7')
    assert ex['block']['holes_bytes'] == last[0]['holes'], ex
    assert ex['predictions']['offline']['result'] == 'EINVAL', ex
    assert 'memory holes' in ex['predictions']['offline']['rule'], ex
    assert ex['kpageflags']['nopage'] > 0, ex

    rc, out = g.run('memplugctl offline memory7')
    assert rc == 1, (rc, out)
    assert 'memory7: offline: failed: Invalid argument (EINVAL); state online' in out, out
    assert 'RULE MISMATCH' not in out, out
    assert g.read('/sys/devices/system/memory/memory7/state') == 'online'

    m0 = [r for r in rows if r['block'] == '0'][0]
    assert m0['zones'] == 'none', m0
    assert g.read('/sys/devices/system/memory/memory0/valid_zones') == 'none'
    rc, out = g.run('memplugctl offline memory0')
    assert rc == 1 and '(EINVAL)' in out and 'RULE MISMATCH' not in out, (rc, out)

    # A middle block has no hole: whatever the kernel answers (a kernel
    # zone may hold unmovable pages), it must not contradict a certain rule.
    rc, out = g.run('memplugctl offline memory4')
    assert 'RULE MISMATCH' not in out, out
    if rc == 0:
        g.check('memplugctl online memory4')
        assert g.read('/sys/devices/system/memory/memory4/state') == 'online'
    print('memory7 hole %d bytes; memory4 offline rc %d' % (last[0]['holes'], rc))


if __name__ == '__main__':
    main(test, mem='1000M')
