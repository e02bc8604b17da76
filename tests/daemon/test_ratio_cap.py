#!/usr/bin/python3
"""Zone=auto with MovableRatio=150: the first 1 GiB DIMM fits under 150% of
the ~1 GiB of boot-time kernel memory and goes movable; the second would
bring movable memory to ~200% and goes to the kernel zone, as a whole."""

import mpd

POLICIES = {'50-auto.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=auto\nMovableRatio=150\n'}


def test(g):
    mpd.start(g, POLICIES)
    dev0 = g.add_dimm('dimm0', '1G')
    d0 = mpd.wait_device(g, 'dimm:slot0')
    mpd.assert_clean(d0, 8)
    assert d0['zone'] == 'movable', d0
    assert '-> movable' in d0['zone_why'], d0

    dev1 = g.add_dimm('dimm1', '1G')
    d1 = mpd.wait_device(g, 'dimm:slot1')
    mpd.assert_clean(d1, 8)
    assert d1['zone'] == 'kernel', d1
    assert 'kernel' in d1['zone_why'], d1
    z = mpd.zones(g, g.blocks_of(dev1['addr'], dev1['size']))
    assert set(z.values()) == {('online', 'Normal')}, z
    z = mpd.zones(g, g.blocks_of(dev0['addr'], dev0['size']))
    assert set(z.values()) == {('online', 'Movable')}, z
    print(d0['zone_why'])
    print(d1['zone_why'])
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, mem='1G')
