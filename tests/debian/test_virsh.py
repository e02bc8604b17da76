#!/usr/bin/python3
"""The Debian guest as a libvirt domain (type qemu, <maxMemory slots>, one
NUMA cell, direct kernel boot of Debian's kernel and initrd, the image as a
virtio disk), driven by virsh the way an operator does it, memplugd
installed from its package inside:
- virsh attach-device --live of a DIMM: memplugd onlines it per policy
  (shown from inside the guest: memplugctl status), and
  memplugctl host --connect ... --domain ... list shows it from the host;
- virsh update-memory-device --requested-size grows virtio-mem (memplugd
  onlines it) and shrinks it to 0 again;
- virsh detach-device of a DIMM memplugctl drain has emptied succeeds;
- virsh detach-device of a DIMM the guest cannot empty (onlined to the
  kernel zone by a policy, then filled with slab) fails: memplugctl drain's
  refusal (block, errno, the kernel's reason) next to libvirt's error.
Not here yet: the memplug host/guest channel (its own issue), so the guest's
proof is read through the harness's command channel, not by memplugctl host.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'libvirt'))
import debguest  # noqa: E402
from debguest import DebGuest, GuestError, GuestSkip, log  # noqa: E402
import guest  # noqa: E402
from virtguest import URI, Daemons, VirtGuest, virsh  # noqa: E402

DOM = 'memplug-test-debian'
CTL = os.path.join(os.environ.get('MEMPLUG_BUILD_DIR', ''), 'cli', 'memplugctl')
KERNEL_POLICY = '[Match]\nKind=dimm\nSize=<=128M\n\n[Online]\nZone=kernel\n'


def dimm_xml(mib):
    return ("<memory model='dimm'><target><size unit='MiB'>%d</size><node>0</node>"
            "</target></memory>" % mib)


class VirtDebGuest(VirtGuest):
    """VirtGuest booting the Debian image: a copy of it as the domain's disk
    (libvirt's QEMU runs as another user and relabels what it opens)."""

    def _domain_xml(self, vmlinux, initrd):
        x = super()._domain_xml(vmlinux, initrd)
        x = x.replace('<cmdline>', '<cmdline>root=/dev/vda rw ', 1)
        disk = ("<disk type='file' device='disk'><driver name='qemu' type='raw' "
                "cache='unsafe'/><source file='%s'/><target dev='vda' bus='virtio'/></disk>"
                % self._diskpath)
        return x.replace('</emulator>', '</emulator>\n    ' + disk, 1)

    def _boot_files(self):
        vmlinux, initrd, image = debguest.prepare(self.builddir)
        self._diskpath = os.path.join(self._sockdir, 'root.img')
        subprocess.run(['cp', '--sparse=always', image, self._diskpath], check=True)
        return self._copy_in(((vmlinux, 'vmlinux'), (initrd, 'initrd.img')))

    def _booted(self):
        rc, out = self.run('systemctl is-system-running --wait', timeout=self.boot_timeout)
        return 'systemd "%s"' % out.strip()

    status = DebGuest.status


def ctl(*args, rc=0):
    r = subprocess.run([CTL, 'host', '--connect', URI, '--domain', DOM] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
    print('$ memplugctl host --connect %s --domain %s %s -> %d\n%s%s'
          % (URI, DOM, ' '.join(args), r.returncode, r.stdout, r.stderr), flush=True)
    assert rc is None or r.returncode == rc, r
    return r


def dev(st, key):
    for d in st['devices']:
        if d['device'] == key:
            return d
    raise AssertionError('no %s in %s' % (key, json.dumps(st, indent=1)))


def test(g, work):
    def attach(mib):
        path = os.path.join(work, 'dimm%d.xml' % mib)
        with open(path, 'w') as f:
            f.write(dimm_xml(mib))
        print('$ virsh attach-device %s %s --live' % (DOM, path))
        virsh('attach-device', DOM, path, '--live')
        return path

    # A policy of the operator's: small DIMMs go to the kernel zone.
    g.write('/etc/memplug/policies.d/10-small-kernel.conf', KERNEL_POLICY)
    g.check('chmod 0644 /etc/memplug/policies.d/10-small-kernel.conf && '
            'systemctl reload memplugd')

    # 1. attach-device: the user's own DIMMs, onlined by memplugd per policy.
    small = attach(128)
    st = g.status(wait='dimm:slot0', timeout=120)
    d0 = dev(st, 'dimm:slot0')
    assert d0['outcome'] == 'online' and d0['zone'] == 'kernel' and d0['verified'], d0
    assert d0['policy'].startswith('/etc/memplug/policies.d/10-small-kernel.conf'), d0
    big = attach(256)
    st = g.status(wait='dimm:slot1', timeout=120)
    d1 = dev(st, 'dimm:slot1')
    assert d1['outcome'] == 'online' and d1['zone'] == 'movable' and d1['verified'], d1
    print(g.check('memplugctl status'))
    host = json.loads(ctl('-J', 'list').stdout)
    print(json.dumps(host, indent=1))
    ids = [x.get('id') for x in host['devices']]
    assert len([i for i in ids if i and 'dimm' in i]) >= 2, ids

    # 2. update-memory-device: virtio-mem grows (memplugd onlines), shrinks.
    virsh('update-memory-device', DOM, '--alias', 'virtiomem0', '--requested-size', '256MiB',
          '--live')
    vm = None
    deadline = time.monotonic() + 120
    while not vm:
        vm = [x['device'] for x in g.status()['devices'] if x['device'].startswith('virtio-mem:')]
        assert time.monotonic() < deadline, g.status()
        time.sleep(1)
    st = g.status(wait=vm[0], timeout=120)
    v = dev(st, vm[0])
    assert v['outcome'] == 'online' and v['verified'], v
    log('virtio-mem grown: %s online in %s, %d blocks verified' % (vm[0], v['zone'], v['verified']))
    virsh('update-memory-device', DOM, '--alias', 'virtiomem0', '--requested-size', '0',
          '--live')
    deadline = time.monotonic() + 300
    while True:
        size = json.loads(virsh('qemu-monitor-command', DOM, json.dumps(
            {'execute': 'qom-get', 'arguments': {'path': '/machine/peripheral/virtiomem0',
                                                 'property': 'size'}})))['return']
        if size == 0:
            break
        assert time.monotonic() < deadline, size
        time.sleep(2)
    log('virtio-mem shrunk to 0 (qom size %d)' % size)

    # 3. detach-device of a drained DIMM succeeds.
    has_drain = 'drain' in g.run('memplugctl --help')[1]
    blocks = d1['blocks']
    if has_drain:
        print(g.check('memplugctl drain dimm:slot1', timeout=180))
    else:
        log('this memplugctl has no drain command: offlining the blocks all-or-nothing')
        print(g.check('memplugctl offline --all-or-nothing %s' % blocks, timeout=180))
    print('$ virsh detach-device %s %s --live' % (DOM, big))
    virsh('detach-device', DOM, big, '--live')
    deadline = time.monotonic() + 60
    while any(x.get('id') and 'dimm1' in x['id'] for x in json.loads(ctl('-J', 'list').stdout)['devices']):
        assert time.monotonic() < deadline
        time.sleep(1)
    log('drained dimm:slot1 detached')

    # 4. detach-device of a DIMM the guest cannot empty fails, with reasons.
    g.check('mkdir -p /dev/shm/pin && cd /dev/shm/pin && i=0; while [ $i -lt 20000 ]; do '
            ': > f$i; i=$((i+1)); done', timeout=600)
    if has_drain:
        rc, out = g.run('memplugctl drain dimm:slot0', timeout=180)
        rcj, outj = g.run('memplugctl drain -J dimm:slot0', timeout=180)
    else:
        rc, out = g.run('memplugctl offline --all-or-nothing %s' % d0['blocks'], timeout=180)
        rcj, outj = g.run('memplugctl offline --all-or-nothing -J %s' % d0['blocks'],
                          timeout=180)
    print('guest: %s dimm:slot0 -> %d\n%s' % ('memplugctl drain' if has_drain else
                                               'memplugctl offline --all-or-nothing', rc, out))
    assert rc == 1, (rc, out)
    res = json.loads(outj)
    f = res['failed']
    assert f['errno'] if 'errno' in f else res['result'], res
    print('guest: refused by %s: %s, kernel reason: "%s"'
          % (f['block'], res['result'], f['reason']))
    r = subprocess.run(['virsh', '-c', URI, 'detach-device', DOM, small, '--live'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
    print('host: virsh detach-device -> %d\n%s%s' % (r.returncode, r.stdout, r.stderr))
    assert r.returncode != 0, r
    assert 'rejected by the guest' in r.stderr or 'unplug' in r.stderr, r.stderr
    st = g.status()
    print(g.check('memplugctl status'))
    assert any(x.get('id') and 'dimm0' in x['id'] for x in json.loads(ctl('-J', 'list').stdout)['devices'])
    print(g.check("dmesg | grep -i 'offlining\\|offline' | tail -5"))


def main():
    if not os.access(CTL, os.X_OK):
        print('SKIP: %s not built' % CTL)
        sys.exit(77)
    work = tempfile.mkdtemp(prefix='memplug-virsh-')
    try:
        with Daemons():
            with VirtDebGuest(DOM, virtio_mem='1G', mem='1G', slots=8, maxmem='16G',
                              boot_timeout=300) as g:
                t = time.monotonic()
                test(g, work)
                log('test body %.1f s' % (time.monotonic() - t))
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(77)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
