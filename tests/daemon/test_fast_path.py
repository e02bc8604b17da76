#!/usr/bin/python3
"""The kernel fast path in a real guest (docs/performance.md).

1. Policy Kind=dimm virtio-mem, Zone=auto, MovableRatio=150: it fits the
   kernel's knobs; memplugd sets auto_online_blocks=online, online_policy=
   auto-movable, auto_movable_ratio=150, numa-aware.  The kernel onlines two
   1 GiB DIMMs at add time (the first movable, the second, over the ratio,
   in the kernel zone: the policy's outcome), memplugd verifies and reports
   them as its own (by_kernel), writing no state file of any block, with
   every block's pages sampled while the kernel was still adding the DIMM.
2. Reload with a Node= policy (a zone per node: the knobs can't say it):
   the knobs are put back as they were; the next DIMM is onlined by
   memplugd block by block, into the policy's zone.
3. Zone=movable: auto_online_blocks=online_movable.  Another onliner then
   writes online_kernel: memplugd lets go (the next DIMM is another
   onliner's), and at stop leaves that value alone.
4. A fresh memplugd with the fast-path policy puts the knobs back at stop.
"""

import time

import mpd

PARAMS = '/sys/module/memory_hotplug/parameters'
AUTO = {'50-auto.conf': '[Match]\nKind=dimm virtio-mem\n\n[Online]\nZone=auto\nMovableRatio=150\n'}
PER_NODE = {'50-node.conf': '[Match]\nKind=dimm virtio-mem\nNode=0\n\n[Online]\nZone=movable\n'}
MOVABLE = {'50-movable.conf': '[Match]\nKind=dimm virtio-mem\n\n[Online]\nZone=movable\n'}


def knobs(g):
    return (g.read(mpd.MEM + '/auto_online_blocks'), g.read(PARAMS + '/online_policy'),
            g.read(PARAMS + '/auto_movable_ratio'), g.read(PARAMS + '/auto_movable_numa_aware'))


def wait_fast(g, on, timeout=30):
    t = time.monotonic() + timeout
    while True:
        st = mpd.status(g)
        if st['kernel_fast_path'] == on:
            return st
        if time.monotonic() > t:
            raise AssertionError('kernel fast path never %s: %s' % (on, st['kernel_fast_path_why']))
        time.sleep(0.2)


def reload(g, policies):
    mpd.put_policies(g, policies)
    g.check('kill -HUP $(pidof memplugd)')


def state_writes(g):
    return g.run("grep -c 'online_movable: ok\\|online_kernel: ok' %s" % mpd.LOG)[1].strip()


def test(g):
    before = knobs(g)
    assert before[0] == 'offline', before
    # 1. Fast path, Zone=auto with a ratio.
    mpd.start(g, AUTO, args="--kernel-fast-path")
    st = wait_fast(g, True)
    assert knobs(g) == ('online', 'auto-movable', '150', 'Y'), (knobs(g), st)
    assert not st['conflicts'], st['conflicts']
    dev0 = g.add_dimm('dimm0', '1G')
    d0 = mpd.wait_device(g, 'dimm:slot0')
    mpd.assert_clean(d0, 8)
    assert d0['by_kernel'] and d0['zone'] == 'movable', d0
    dev1 = g.add_dimm('dimm1', '1G')
    d1 = mpd.wait_device(g, 'dimm:slot1')
    mpd.assert_clean(d1, 8)
    assert d1['by_kernel'] and d1['zone'] == 'kernel', d1
    # Every block's pages were sampled as the kernel onlined it, before the
    # ACPI link made the device whole (a block first seen online is sampled
    # in that very scan): only state and zone were left for the report.
    assert d0['sampled_early'] == 8 and d1['sampled_early'] == 8, (d0, d1)
    assert set(mpd.zones(g, g.blocks_of(dev0['addr'], dev0['size'])).values()) == {('online', 'Movable')}
    assert set(mpd.zones(g, g.blocks_of(dev1['addr'], dev1['size'])).values()) == {('online', 'Normal')}
    assert state_writes(g) == '0', mpd.log(g)  # the kernel onlined them, not memplugd
    assert 'conflict' not in mpd.log(g), mpd.log(g)

    # 2. A zone per node: fallback, knobs put back.
    reload(g, PER_NODE)
    wait_fast(g, False)
    assert knobs(g) == before, (knobs(g), before)
    dev2 = g.add_dimm('dimm2', '512M')
    d2 = mpd.wait_device(g, 'dimm:slot2')
    mpd.assert_clean(d2, 4)
    assert not d2['by_kernel'] and d2['zone'] == 'movable', d2
    assert set(mpd.zones(g, g.blocks_of(dev2['addr'], dev2['size'])).values()) == {('online', 'Movable')}
    assert state_writes(g) == '4', mpd.log(g)

    # 3. Fast path again; another onliner changes the knob: memplugd lets go.
    reload(g, MOVABLE)
    wait_fast(g, True)
    assert knobs(g)[0] == 'online_movable', knobs(g)
    g.write(mpd.MEM + '/auto_online_blocks', 'online_kernel')
    dev3 = g.add_dimm('dimm3', '512M')
    d3 = mpd.wait_device(g, 'dimm:slot3')
    assert d3['outcome'] == 'other-onliner' and not d3['by_kernel'], d3
    assert set(mpd.zones(g, g.blocks_of(dev3['addr'], dev3['size'])).values()) == {('online', 'Normal')}
    st = wait_fast(g, False)
    assert 'another onliner' in st['kernel_fast_path_why'], st
    mpd.stop(g)
    assert knobs(g)[0] == 'online_kernel', knobs(g)  # not clobbered
    log = mpd.log(g)
    assert 'another onliner changed them' in log, log

    # 4. Knobs put back when memplugd stops.
    g.write(mpd.MEM + '/auto_online_blocks', 'offline')
    mpd.start(g, AUTO, args="--kernel-fast-path")
    wait_fast(g, True)
    assert knobs(g) == ('online', 'auto-movable', '150', 'Y'), knobs(g)
    mpd.stop(g)
    assert knobs(g) == before, (knobs(g), before)
    print(mpd.log(g))


if __name__ == '__main__':
    mpd.main(test, mem='1G', slots=8, maxmem='16G')
