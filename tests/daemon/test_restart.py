#!/usr/bin/python3
"""memplugd SIGKILLed between two DIMMs and restarted: the second DIMM (added
while no daemon ran) is onlined by the startup scan, the first is recognised
from /run/memplug/state.json as memplugd's own work (not a conflict), and no
block is written twice."""

import re

import mpd

POLICIES = {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'}


def test(g):
    pid = mpd.start(g, POLICIES)
    dev0 = g.add_dimm('dimm0', '512M')
    mpd.assert_clean(mpd.wait_device(g, 'dimm:slot0'), 4)
    g.check('kill -9 %d; while kill -0 %d 2>/dev/null; do sleep 0.05; done' % (pid, pid))

    dev1 = g.add_dimm('dimm1', '512M')
    b1 = g.blocks_of(dev1['addr'], dev1['size'])
    g.wait_until('[ -e %s/memory%d/firmware_node ]' % (mpd.MEM, b1[-1]))
    assert set(g.block_states(b1).values()) == {'offline'}

    pid2 = mpd.start(g)
    assert pid2 != pid
    d1 = mpd.wait_device(g, 'dimm:slot1')
    mpd.assert_clean(d1, 4)
    d0 = mpd.wait_device(g, 'dimm:slot0')
    assert d0['outcome'] == 'online' and d0['onlined'] == 0, d0
    assert 'earlier memplugd run' in d0['message'], d0
    st = mpd.status(g)
    assert not st['conflicts'], st['conflicts']

    log = mpd.log(g)
    writes = re.findall(r'memory(\d+): online_movable: ok', log)
    blocks = g.blocks_of(dev0['addr'], dev0['size']) + b1
    assert sorted(map(int, writes)) == blocks, (writes, blocks)
    assert 'conflict' not in log, log
    print(log)
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, mem='1G')
