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
import os
import subprocess
import sys
import tempfile

from guest import main, require_built, SYSMEM
from hostctl import HostCtl, pin_in_kernel_zone

CTL = sys.argv[1]
SOCKDIR = tempfile.mkdtemp(prefix='mp-hg-')
SOCK = os.path.join(SOCKDIR, 'host.sock')
ctl = HostCtl(CTL, '--qmp', SOCK)


def objects(g):
    return {o['name'] for o in g.qmp('qom-list', path='/objects')}


def test(g):
    # plug, the guest sees the blocks; unplug of offline memory
    blocks = ctl.plug(g, '256M', 'mp-dimm0')
    ctl('unplug', 'mp-dimm0', '--timeout', '30')
    assert 'mp-dimm0' not in ctl.devices()
    assert 'mp-dimm0-mem' not in objects(g), 'backend left after unplug'
    g.wait_until('! [ -e %s/memory%d ]' % (SYSMEM, blocks[0]))

    # online movable: the kernel's eject path offlines it and succeeds
    for b in ctl.plug(g, '256M', 'mp-dimm0'):
        g.set_block_state(b, 'online_movable')
    ctl('unplug', 'mp-dimm0', '--timeout', '60')
    assert 'mp-dimm0' not in ctl.devices()

    # online to the kernel zone and pinned by slab: the guest refuses
    pin_in_kernel_zone(g, ctl.plug(g, '128M', 'mp-dimm0'))
    r = ctl('unplug', 'mp-dimm0', '--timeout', '60', rc=1)
    assert 'refused' in r.stderr, r.stderr
    assert 'mp-dimm0' in ctl.devices(), 'DIMM gone after a refused unplug'
    assert 'mp-dimm0-mem' in objects(g)

    # virtio-mem present at boot: grow, then back to 0 (offline memory)
    ctl('resize', 'vm0', '256M', '--timeout', '120')
    assert ctl.devices()['vm0']['size'] == 256 << 20
    ctl('resize', 'vm0', '0', '--timeout', '120')
    assert ctl.devices()['vm0']['size'] == 0
    ctl('resize', 'vm0', '3M', rc=1)

    # a virtio-mem device hot-added (PCI hotplug), then grown
    ctl('plug', '512M', '--kind', 'virtio-mem')
    assert ctl.devices()['mp-vmem0']['max-size'] == 512 << 20
    ctl('resize', 'mp-vmem0', '128M', '--timeout', '120')
    assert ctl.devices()['mp-vmem0']['size'] == 128 << 20


if __name__ == '__main__':
    require_built(CTL)
    try:
        main(test, mem='1G', slots=8, maxmem='16G', name='host-guest',
             qemu_args=['-qmp', 'unix:%s,server=on,wait=off' % SOCK,
                        '-object', 'memory-backend-ram,id=vmem0,size=1G',
                        '-device', 'virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0'])
    finally:
        subprocess.run(['rm', '-rf', SOCKDIR])
