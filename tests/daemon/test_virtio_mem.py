#!/usr/bin/python3
"""virtio-mem grown to 2 GiB with memplugd onlining blocks as they appear.
The guest driver stops plugging once more than 1 GiB sits offline
(KERNEL-RULES §10), so reaching 2 GiB shows memplugd kept up."""

import time

import mpd

POLICIES = {'30-virtio-mem.conf': '[Match]\nKind=virtio-mem\n\n[Online]\nZone=movable\n'}
GiB = 1 << 30


def test(g):
    mpd.start(g, POLICIES)
    g.qmp('qom-set', path='vm0', property='requested-size', value=2 * GiB)
    # No deadline (a loaded machine stretches any duration): a driver that
    # stalls is ended by meson's timeout (300 s), and the last size printed
    # here says where it stopped.
    seen = None
    while seen != 2 * GiB:
        size = g.qmp('qom-get', path='vm0', property='size')
        if size == seen:
            time.sleep(0.5)
            continue
        print('virtio-mem size %d MiB' % (size >> 20), flush=True)
        seen = size
    blocks = list(range(32, 48))
    g.wait_until(' && '.join('grep -q "^online" %s/memory%d/state' % (mpd.MEM, b)
                             for b in blocks), 60)
    st = mpd.status(g)
    d = [x for x in st['devices'] if x['device'] == 'virtio-mem:virtio0'][0]
    assert d['onlined'] == 16 and d['violations'] == 0 and d['failed'] == 0, d
    assert d['kind'] == 'virtio-mem' and d['zone'] == 'movable', d
    assert set(mpd.zones(g, blocks).values()) == {('online', 'Movable')}
    mpd.assert_model_true(g)
    print(mpd.log(g))
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, mem='1G', qemu_args=[
        '-object', 'memory-backend-ram,id=vmem0,size=4G',
        '-device', 'virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0'])
