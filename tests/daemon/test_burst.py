#!/usr/bin/python3
"""A burst: 8 DIMMs added back to back (no wait between the device_adds),
first on the kernel fast path (the kernel onlines them at add time under
memplugd's auto_online_blocks=online_movable), then, after a reload with a
policy the knobs can't say, block by block.  Nothing may be missed: every
DIMM gets its own record with all its blocks online, in the policy's zone,
and verified; no device is left settling, none is taken for another
onliner's.  Afterwards memplugd's model (kept by rescans of the named
blocks only) is what sysfs says."""

import time

import mpd

FAST = {'50-movable.conf': '[Match]\nKind=dimm virtio-mem\n\n[Online]\nZone=movable\n'}
SLOW = {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'}


def burst(g, first, by_kernel):
    ids = ['b%d' % i for i in range(first, first + 8)]
    for i in ids:
        g.qmp('object-add', **{'qom-type': 'memory-backend-ram', 'id': 'mem-' + i,
                               'size': 256 << 20})
    for i in ids:
        g.qmp('device_add', driver='pc-dimm', id=i, memdev='mem-' + i)
    for k in range(first, first + 8):
        d = mpd.wait_device(g, 'dimm:slot%d' % k, timeout=120)
        mpd.assert_clean(d, 2)
        assert d['by_kernel'] == by_kernel and d['zone'] == 'movable', d
    st = mpd.status(g)
    assert not st['conflicts'], st['conflicts']
    assert not [d for d in st['devices'] if d['outcome'] == 'settling'], st['devices']
    z = g.check("cd %s; for b in memory*; do echo $b $(cat $b/state) $(cat $b/valid_zones); done"
                % mpd.MEM)
    rows = [l.split() for l in z.splitlines() if l.strip()]
    hot = [r for r in rows if int(r[0][6:]) >= 32]
    assert len(hot) == 2 * (first + 8), hot
    assert all(r[1:] == ['online', 'Movable'] for r in hot), hot


def test(g):
    mpd.start(g, FAST, args="--kernel-fast-path")
    for _ in range(100):
        if mpd.status(g)['kernel_fast_path']:
            break
        time.sleep(0.1)
    assert g.read(mpd.MEM + '/auto_online_blocks') == 'online_movable'
    burst(g, 0, True)
    mpd.put_policies(g, SLOW)
    g.check('kill -HUP $(pidof memplugd)')
    for _ in range(100):
        if not mpd.status(g)['kernel_fast_path']:
            break
        time.sleep(0.1)
    assert g.read(mpd.MEM + '/auto_online_blocks') == 'offline'
    burst(g, 8, False)
    # 16 DIMMs later, every scan but the first read only the named blocks: still the truth.
    mpd.assert_model_true(g, min_scans=4)
    log = mpd.log(g)
    assert 'violation(s)' in log and 'KERNEL-RULE' not in log, log
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, mem='1G', slots=16, maxmem='16G')
