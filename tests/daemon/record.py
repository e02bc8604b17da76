#!/usr/bin/python3
"""Records the daemon tests' fixtures from real guests (TCG): builds each
situation through QMP and sysfs, runs `memplugctl snapshot` in the guest and
copies the result to tests/daemon/fixtures/<scenario>/.

    MEMPLUG_BUILD_DIR=build-daemon tests/daemon/record.py [SCENARIO...]

The fixtures are the state memplugd finds when a device has just arrived:
blocks present and offline (firmware_node and node links in place), or, for
the conflict case, already onlined by the kernel's own auto-online.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
sys.path.insert(0, os.path.join(HERE, '..', 'fixture'))
import record  # noqa: E402  (tests/fixture/record.py: boot, set up, snapshot, copy)

FIXTURES = os.path.join(HERE, 'fixtures')
MEM = '/sys/devices/system/memory'


def numa2_two_dimms(g):
    # 512 MiB DIMM on node 0 (memory32-35), 512 MiB on node 1 (memory36-39).
    g.add_dimm('dimm0', '512M', node=0)
    g.add_dimm('dimm1', '512M', node=1)
    g.wait_until('[ -e %s/memory35/firmware_node ] && [ -e %s/memory39/firmware_node ]'
                 % (MEM, MEM))
    g.wait_until('[ -e %s/memory35/node0 ] && [ -e %s/memory39/node1 ]' % (MEM, MEM))


def nvdimm_devdax(g):
    g.make_devdax('namespace0.0')


def virtio_mem(g):
    g.qmp('qom-set', path='vm0', property='requested-size', value=512 << 20)
    g.wait_until('[ -e %s/memory35/state ]' % MEM, 30)


def auto_online_movable(g):
    g.add_dimm('dimm0', '512M')
    g.wait_until('[ -e %s/memory35/firmware_node ]' % MEM)
    g.wait_until('grep -q online %s/memory35/state' % MEM)


SCENARIOS = {
    'numa2-two-dimms': (numa2_two_dimms, dict(numa=['512M', '512M'])),
    'nvdimm-devdax': (nvdimm_devdax, dict(mem='1G', nvdimms=['2G'])),
    'virtio-mem': (virtio_mem, dict(mem='1G', qemu_args=[
        '-object', 'memory-backend-ram,id=vmem0,size=2G',
        '-device', 'virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0'])),
    'auto-online-movable': (auto_online_movable, dict(mem='1G', online='online_movable')),
}



if __name__ == '__main__':
    record.main(SCENARIOS, FIXTURES, sys.argv[1:])
