#!/usr/bin/python3
"""A guest booted with memhp_default_state=online_movable: the kernel
onlines hot-added memory itself.  memplugd reports auto_online_blocks as a
conflict at start, reports the DIMM the kernel onlined once (not as its own
work, not fought), and writes nothing."""

import mpd

POLICIES = {'50-kernel.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=kernel\n'}


def test(g):
    assert g.read(mpd.MEM + '/auto_online_blocks') == 'online_movable'
    mpd.start(g, POLICIES)
    log = mpd.log(g)
    assert "conflict: auto_online_blocks is 'online_movable'" in log, log

    dev = g.add_dimm('dimm0', '512M')
    d = mpd.wait_device(g, 'dimm:slot0')
    assert d['outcome'] == 'other-onliner', d
    assert d['onlined'] == 0, d
    assert 'before memplugd acted' in d['message'], d
    z = mpd.zones(g, g.blocks_of(dev['addr'], dev['size']))
    assert set(z.values()) == {('online', 'Movable')}, z   # the kernel's choice stands
    st = mpd.status(g)
    assert len(st['conflicts']) == 2, st['conflicts']
    # Reported once, even after more events for the device.
    g.check('memplugctl status >/dev/null')
    log = mpd.log(g)
    assert log.count('dimm:slot0: conflict') == 1, log
    assert 'online_kernel' not in log, log
    print(log)
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, mem='1G', online='online_movable')
