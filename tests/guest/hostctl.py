"""memplugctl host as the host-side tests run it (tests/qmp/test_host_guest.py
through a QMP socket, tests/libvirt/test_libvirt.py through libvirt), and the
guest-side steps they share."""
import json
import subprocess


class HostCtl:
    """memplugctl host with one connection's arguments (e.g. '--qmp', SOCK)."""

    def __init__(self, ctl, *conn):
        self.argv = [ctl, 'host'] + list(conn)

    def __call__(self, *args, rc=0, timeout=180):
        """Runs memplugctl host ARGS and prints what it said; raises
        AssertionError when it exits otherwise than rc (None: any status)."""
        r = subprocess.run(self.argv + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        print('$ memplugctl host %s -> %d\n%s%s' % (' '.join(args), r.returncode, r.stdout,
                                                     r.stderr), flush=True)
        if rc is not None and r.returncode != rc:
            raise AssertionError('exit %d, expected %d: %s' % (r.returncode, rc, r.stderr))
        return r

    def devices(self):
        """{id: device} from memplugctl host -J list."""
        return {d['id']: d for d in json.loads(self('-J', 'list').stdout)['devices']}

    def plug(self, g, size, id, *args):
        """Plugs a DIMM (ARGS: more plug options) that memplugctl lists as id;
        returns its memory block numbers once guest g has them all."""
        self('plug', size, *args)
        d = self.devices()[id]
        blocks = g.blocks_of(d['addr'], d['size'])
        g.wait_for_blocks(blocks)
        return blocks


def pin_in_kernel_zone(g, blocks):
    """Onlines blocks to the kernel zone and fills them with slab the guest
    cannot migrate, so that it refuses their eject.  ZONE_NORMAL above 4 GiB
    is preferred over DMA32 for kernel allocations: the inodes and dentries
    created now land in the new DIMM."""
    for b in blocks:
        g.set_block_state(b, 'online_kernel')
    g.check('mkdir -p /run/pin && i=0; while [ $i -lt 3000 ]; do mkdir /run/pin/d$i; '
            'i=$((i+1)); done; find /sys >/dev/null 2>&1; true', timeout=300)
