#!/usr/bin/python3
"""memplugctl host against a real guest (tests/guest/guest.py boots it under
TCG): DIMM plug seen by the guest, unplug of offline and of online-movable
memory, an unplug refused by the guest (memory onlined to the kernel zone and
pinned by slab allocations) reported as such with the DIMM left in place, and
a virtio-mem resize up and back to 0.

memplugctl talks to a second QMP monitor (QEMU serves several -qmp sockets;
events go to all of them), so the harness keeps its own connection.
Usage: test_host_guest.py MEMPLUGCTL
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from guest import Guest, main, SYSMEM

CTL = sys.argv[1]
SOCKDIR = tempfile.mkdtemp(prefix='mp-hg-')
SOCK = os.path.join(SOCKDIR, 'host.sock')


def ctl(*args, rc=0, timeout=120):
    r = subprocess.run([CTL, 'host', '--qmp', SOCK] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    print('$ memplugctl host %s -> %d\n%s%s' % (' '.join(args), r.returncode, r.stdout,
                                                 r.stderr), flush=True)
    if rc is not None and r.returncode != rc:
        raise AssertionError('exit %d, expected %d: %s' % (r.returncode, rc, r.stderr))
    return r


def devices():
    return {d['id']: d for d in json.loads(ctl('-J', 'list').stdout)['devices']}


def objects(g):
    return {o['name'] for o in g.qmp('qom-list', path='/objects')}


def test(g):
    bs = g.block_size()

    # plug, the guest sees the blocks; unplug of offline memory
    ctl('plug', '256M')
    d = devices()['mp-dimm0']
    blocks = g.blocks_of(d['addr'], d['size'])
    g.wait_for_blocks(blocks)
    ctl('unplug', 'mp-dimm0', '--timeout', '30')
    assert 'mp-dimm0' not in devices()
    assert 'mp-dimm0-mem' not in objects(g), 'backend left after unplug'
    g.wait_until('! [ -e %s/memory%d ]' % (SYSMEM, blocks[0]))

    # online movable: the kernel's eject path offlines it and succeeds
    ctl('plug', '256M')
    d = devices()['mp-dimm0']
    blocks = g.blocks_of(d['addr'], d['size'])
    g.wait_for_blocks(blocks)
    for b in blocks:
        g.set_block_state(b, 'online_movable')
    ctl('unplug', 'mp-dimm0', '--timeout', '60')
    assert 'mp-dimm0' not in devices()

    # online to the kernel zone and pinned by slab: the guest refuses
    ctl('plug', '128M')
    d = devices()['mp-dimm0']
    blocks = g.blocks_of(d['addr'], d['size'])
    g.wait_for_blocks(blocks)
    for b in blocks:
        g.set_block_state(b, 'online_kernel')
    # ZONE_NORMAL above 4 GiB is preferred over DMA32 for kernel allocations:
    # inodes and dentries created now land in the new DIMM
    g.check('mkdir -p /run/pin && i=0; while [ $i -lt 3000 ]; do mkdir /run/pin/d$i; '
            'i=$((i+1)); done; find /sys >/dev/null 2>&1; true', timeout=300)
    r = ctl('unplug', 'mp-dimm0', '--timeout', '60', rc=1)
    assert 'refused' in r.stderr, r.stderr
    assert 'mp-dimm0' in devices(), 'DIMM gone after a refused unplug'
    assert 'mp-dimm0-mem' in objects(g)

    # virtio-mem present at boot: grow, then back to 0 (offline memory)
    ctl('resize', 'vm0', '256M', '--timeout', '120')
    assert devices()['vm0']['size'] == 256 << 20
    ctl('resize', 'vm0', '0', '--timeout', '120')
    assert devices()['vm0']['size'] == 0
    ctl('resize', 'vm0', '3M', rc=1)

    # a virtio-mem device hot-added (PCI hotplug), then grown
    ctl('plug', '512M', '--kind', 'virtio-mem')
    assert devices()['mp-vmem0']['max-size'] == 512 << 20
    ctl('resize', 'mp-vmem0', '128M', '--timeout', '120')
    assert devices()['mp-vmem0']['size'] == 128 << 20


if __name__ == '__main__':
    if not os.access(CTL, os.X_OK):
        print('SKIP: memplugctl not built')
        sys.exit(77)
    try:
        main(test, mem='1G', slots=8, maxmem='16G', name='host-guest',
             qemu_args=['-qmp', 'unix:%s,server=on,wait=off' % SOCK,
                        '-object', 'memory-backend-ram,id=vmem0,size=1G',
                        '-device', 'virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0'])
    finally:
        subprocess.run(['rm', '-rf', SOCKDIR])
