#!/usr/bin/python3
"""memplugctl host through libvirt, against a real libvirtd (started here
when none runs) and a real TCG guest booted by it: DIMM attach and detach,
host node placement in the device XML, a detach refused by the guest
(memory onlined to the kernel zone and pinned by slab allocations) surfaced
with the DIMM still in the domain, virtio-mem resize through the live
device XML.

Usage: test_libvirt.py MEMPLUGCTL
"""
import json
import os
import subprocess
import sys

from guest import SYSMEM, GuestSkip
from virtguest import URI, Daemons, VirtGuest, virsh

CTL = sys.argv[1]
DOM = 'memplug-test-libvirt'


def ctl(*args, rc=0, timeout=180):
    r = subprocess.run([CTL, 'host', '--connect', URI, '--domain', DOM] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    print('$ memplugctl host %s -> %d\n%s%s' % (' '.join(args), r.returncode, r.stdout,
                                                 r.stderr), flush=True)
    if rc is not None and r.returncode != rc:
        raise AssertionError('exit %d, expected %d: %s' % (r.returncode, rc, r.stderr))
    return r


def devices():
    return {d['id']: d for d in json.loads(ctl('-J', 'list').stdout)['devices']}


def live_xml():
    return virsh('dumpxml', DOM)


def test(g):
    # attach: libvirt's own device XML, alias ua-mp-dimm0
    ctl('plug', '256M')
    d = devices()['ua-mp-dimm0']
    assert "<alias name='ua-mp-dimm0'/>" in live_xml()
    blocks = g.blocks_of(d['addr'], d['size'])
    g.wait_for_blocks(blocks)
    # detach, waiting for DEVICE_REMOVED (either spelling of the id works)
    ctl('unplug', 'mp-dimm0', '--timeout', '60')
    assert 'ua-mp-dimm0' not in devices()
    assert 'ua-mp-dimm0' not in live_xml()
    g.wait_until('! [ -e %s/memory%d ]' % (SYSMEM, blocks[0]))

    # host placement: the backend bound to the host node libvirt reports
    ctl('plug', '128M', '--host-node', 'auto')
    x = live_xml()
    assert '<nodemask>0</nodemask>' in x, x
    ctl('unplug', 'ua-mp-dimm0', '--timeout', '60')

    # refused: online_kernel + dentries/inodes in the DIMM
    ctl('plug', '128M')
    d = devices()['ua-mp-dimm0']
    blocks = g.blocks_of(d['addr'], d['size'])
    g.wait_for_blocks(blocks)
    for b in blocks:
        g.set_block_state(b, 'online_kernel')
    g.check('mkdir -p /run/pin && i=0; while [ $i -lt 3000 ]; do mkdir /run/pin/d$i; '
            'i=$((i+1)); done; find /sys >/dev/null 2>&1; true', timeout=300)
    r = ctl('unplug', 'mp-dimm0', '--timeout', '60', rc=1)
    assert 'refused' in r.stderr and 'DEVICE_REMOVAL_FAILED' in r.stderr, r.stderr
    assert 'ua-mp-dimm0' in devices()
    assert "<alias name='ua-mp-dimm0'/>" in live_xml()

    # virtio-mem: requested size through the live device XML; up and back
    ctl('resize', 'virtiomem0', '256M', '--timeout', '120')
    assert devices()['virtiomem0']['size'] == 256 << 20
    assert "<requested unit='KiB'>262144</requested>" in live_xml()
    ctl('resize', 'virtiomem0', '0', '--timeout', '120')
    assert devices()['virtiomem0']['size'] == 0
    ctl('resize', 'virtiomem0', '2G', rc=1)

    # errors name the object
    r = ctl('unplug', 'mp-nope', rc=1)
    assert 'mp-nope' in r.stderr
    r = subprocess.run([CTL, 'host', '--connect', URI, '--domain', 'no-such-domain', 'list'],
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 1 and 'no-such-domain' in r.stderr, r.stderr


def main():
    if not os.access(CTL, os.X_OK):
        print('SKIP: memplugctl not built')
        sys.exit(77)
    try:
        with Daemons():
            with VirtGuest(DOM, mem='1G', slots=8, maxmem='16G', name='host-libvirt') as g:
                test(g)
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(77)


if __name__ == '__main__':
    main()
