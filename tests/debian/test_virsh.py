#!/usr/bin/python3
"""The Debian guest as a libvirt domain (type qemu, <maxMemory slots>, one
NUMA cell, direct kernel boot of Debian's kernel and initrd, the image as a
virtio disk, the memplug channel org.memplug.0), driven by virsh the way an
operator does it, memplugd installed from its package inside (under
systemd, it opens the channel's port by itself), the guest's proof read
from the host by memplugctl host --connect ... --domain ... proof:
- virsh attach-device --live of a DIMM: memplugd onlines it per policy (an
  operator's policy puts the 128 MiB one in the kernel zone, the default the
  256 MiB one in movable), and memplugctl host proof ID --wait -J shows the
  guest's proof (dimm:slotN for QEMU's slot, zone, node, every block
  verified, no violation, the policy), cross-checked with memplugctl
  status inside; the attach -> proof latency is logged;
- virsh update-memory-device --requested-size grows virtio-mem (proved the
  same way) and shrinks it to 0 again;
- memplugctl host unplug of a DIMM: the guest drains it over the channel,
  then libvirt detaches it (the coordinated unplug);
- a DIMM attached again in the freed slot is proved anew, drained in the
  guest (memplugctl drain), and virsh detach-device of it succeeds;
- a DIMM the guest cannot empty (kernel zone, then filled with slab):
  memplugctl host unplug refuses with the guest's reason (block, EBUSY, the
  kernel's reason) on the operator's terminal, nothing is detached, and
  virsh detach-device of it fails too; the DIMM stays.
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


def ctl(*args, rc=0, timeout=300):
    r = subprocess.run([CTL, 'host', '--connect', URI, '--domain', DOM] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    print('$ memplugctl host --connect %s --domain %s %s -> %d\n%s%s'
          % (URI, DOM, ' '.join(args), r.returncode, r.stdout, r.stderr), flush=True)
    assert rc is None or r.returncode == rc, r
    return r


def dev(st, key):
    for d in st['devices']:
        if d['device'] == key:
            return d
    raise AssertionError('no %s in %s' % (key, json.dumps(st, indent=1)))


def host_devices():
    return {x['id']: x for x in json.loads(ctl('-J', 'list').stdout)['devices']}


def proof(id, zone, policy):
    """memplugctl host proof ID --wait -J: the guest's proof, over the
    memplug channel, for a device the user attached; checked against QEMU's
    view (the slot, the block count) and the policy that should decide."""
    r = ctl('proof', id, '--wait', '--timeout', '180', '-J')
    done = time.monotonic()
    p, = json.loads(r.stdout)['proofs']
    d = host_devices()[id]
    assert p['id'] == id and p['outcome'] == 'online', p
    if d['kind'] == 'dimm':
        assert p['device'] == 'dimm:slot%d' % d['slot'] and p['slot'] == d['slot'], (p, d)
        assert p['expected_blocks'] == d['size'] // (128 << 20), (p, d)
    assert p['zone'] == zone and p['node'] == 0, p
    assert p['onlined'] == p['verified'] == p['expected_blocks'] > 0, p
    assert p['violations'] == 0 and p['violation_events'] == [], p
    assert p['policy'].startswith(policy), p
    text = ctl('proof', id).stdout
    assert 'proof: online and verified by the guest: %s' % p['device'] in text, text
    return p, done


def attach_proof(g, path, zone, policy):
    """virsh attach-device --live of PATH, then its proof from the host;
    returns (libvirt/QEMU id, proof, seconds from attach to proof)."""
    before = set(host_devices())
    t0 = time.monotonic()
    print('$ virsh attach-device %s %s --live' % (DOM, path))
    virsh('attach-device', DOM, path, '--live')
    new = set(host_devices()) - before
    assert len(new) == 1, new
    id = new.pop()
    p, done = proof(id, zone, policy)
    took = done - t0
    # took: virsh attach-device, one memplugctl host list (the alias
    # libvirt chose), then proof --wait until it returned
    log("%s (%s): virsh attach-device -> memplugctl host proof --wait returned: %.2f s "
        "(of it the proof's own wait %d ms; guest: first uevent to verified %.1f ms)"
        % (id, p['device'], took, p['wait_ms'], p['guest_timings']['latency_us'] / 1000.0))
    # the guest's own record says the same (its harness channel, not memplug's)
    d = dev(g.status(wait=p['device'], timeout=120), p['device'])
    assert d['outcome'] == 'online' and d['zone'] == zone and d['verified'] == p['verified'], d
    return id, p, took


def test(g, work):
    def dimm_file(mib, n=''):
        path = os.path.join(work, 'dimm%d%s.xml' % (mib, n))
        with open(path, 'w') as f:
            f.write(dimm_xml(mib))
        return path

    # The memplug channel: memplugd (under systemd, from its package)
    # greets the host on the domain's org.memplug.0.
    r = ctl('proof', '-J')
    assert 'proof_unavailable' not in json.loads(r.stdout), r.stdout
    sec = g.check('systemd-analyze security --no-pager memplugd | tail -1')
    log('with the channel and /dev/kmsg allowed: %s' % sec.strip())

    # A policy of the operator's: small DIMMs go to the kernel zone.
    g.write('/etc/memplug/policies.d/10-small-kernel.conf', KERNEL_POLICY)
    g.check('chmod 0644 /etc/memplug/policies.d/10-small-kernel.conf && '
            'systemctl reload memplugd')

    # 1. attach-device: the user's own DIMMs, onlined by memplugd per
    #    policy, proved to the host over the memplug channel.
    small = dimm_file(128)
    small_id, p0, lat0 = attach_proof(g, small, 'kernel',
                                      '/etc/memplug/policies.d/10-small-kernel.conf')
    big = dimm_file(256)
    big_id, p1, lat1 = attach_proof(g, big, 'movable', '/usr/lib/memplug/policies.d/')
    print(g.check('memplugctl status'))
    log('attach -> proof latency: %.2f s, %.2f s' % (lat0, lat1))

    # 2. update-memory-device: virtio-mem grows (memplugd onlines, the host
    #    gets the proof), shrinks.
    virsh('update-memory-device', DOM, '--alias', 'virtiomem0', '--requested-size', '256MiB',
          '--live')
    t0 = time.monotonic()
    v, done = proof('virtiomem0', 'movable', '/usr/lib/memplug/policies.d/')
    took = done - t0
    assert v['device'].startswith('virtio-mem:') and v['verified'] == 2, v
    log('virtio-mem grown: %s online in %s, %d blocks verified, proof %.2f s after the '
        'update' % (v['device'], v['zone'], v['verified'], took))
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

    # 3a. The coordinated unplug through libvirt and the channel: the guest
    #     drains the 256 MiB DIMM, then libvirt detaches it.
    r = ctl('unplug', big_id, '-J')
    u = json.loads(r.stdout)
    assert u['outcome'] == 'unplugged' and u['unplugged'], u
    assert u['device'] == p1['device'] and u['drain']['result'] == 'ok', u
    assert big_id not in host_devices()
    assert "<alias name='%s'/>" % big_id not in virsh('dumpxml', DOM)
    log('%s drained by the guest and detached through libvirt (drain %d ms)'
        % (big_id, u['drain'].get('elapsed_ms', -1)))
    g.wait_until("! memplugctl status -J | grep -q '\"%s\"'" % p1['device'], timeout=120)

    # 3b. virsh detach-device of a DIMM drained in the guest: attached anew
    #     (its slot reused: the proof must be the new device's), drained by
    #     memplugctl drain (through memplugd), then the user's detach.
    again = dimm_file(256, 'b')
    again_id, p2, lat2 = attach_proof(g, again, 'movable', '/usr/lib/memplug/policies.d/')
    print(g.check('memplugctl drain %s' % p2['device'], timeout=180))
    print('$ virsh detach-device %s %s --live' % (DOM, again))
    virsh('detach-device', DOM, again, '--live')
    deadline = time.monotonic() + 60
    while again_id in host_devices():
        assert time.monotonic() < deadline
        time.sleep(1)
    log('%s: drained in the guest, virsh detach-device done' % again_id)

    # 4. A DIMM the guest cannot empty (kernel zone, filled with slab):
    #    memplug's coordinated unplug refuses with the guest's reason, and
    #    never asks libvirt to detach; the DIMM stays, online.
    g.check('mkdir -p /dev/shm/pin && cd /dev/shm/pin && i=0; while [ $i -lt 20000 ]; do '
            ': > f$i; i=$((i+1)); done', timeout=600)
    r = ctl('unplug', small_id, '-J', rc=1, timeout=600)
    u = json.loads(r.stdout)
    assert u['outcome'] == 'refused' and not u['unplugged'], u
    assert u['device'] == p0['device'] and u['error_class'] == 'Refused', u
    f = u['refusal']
    assert f['errno'] == 'EBUSY' and f['block'] >= 0, f
    # the kernel's own reason (memplugd reads /dev/kmsg: CAP_SYSLOG in its unit)
    assert f['reason'] and f['reason_from_kernel'], f
    assert 'memory offlining' in f['message'], f
    r = ctl('unplug', small_id, rc=1, timeout=600)
    assert 'memory%d refused: EBUSY' % f['block'] in r.stderr, r.stderr
    assert 'kernel reason: %s' % f['reason'] in r.stderr, r.stderr
    log('refused: memory%d %s, kernel reason "%s" (from the kernel: %s)'
        % (f['block'], f['errno'], f['reason'], f['reason_from_kernel']))
    assert small_id in host_devices()
    assert "<alias name='%s'/>" % small_id in virsh('dumpxml', DOM)
    d = dev(g.status(), p0['device'])
    assert d['outcome'] == 'online' and d['zone'] == 'kernel', d
    # virsh detach-device of it fails as well: the guest's eject refusal
    r = subprocess.run(['virsh', '-c', URI, 'detach-device', DOM, small, '--live'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
    print('host: virsh detach-device -> %d\n%s%s' % (r.returncode, r.stdout, r.stderr))
    assert r.returncode != 0, r
    assert small_id in host_devices()
    print(g.check('memplugctl status'))


def main():
    if not os.access(CTL, os.X_OK):
        print('SKIP: %s not built' % CTL)
        sys.exit(77)
    work = tempfile.mkdtemp(prefix='memplug-virsh-')
    try:
        with Daemons():
            with VirtDebGuest(DOM, virtio_mem='1G', mem='1G', slots=8, maxmem='16G',
                              boot_timeout=300) as g:
                log('Debian guest booted through libvirt in %.1f s' % g.boot_time)
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
