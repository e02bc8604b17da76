#!/usr/bin/python3
"""Plug latency of one 128 MiB pc-dimm, the same DIMM by four routes, in one
run, interleaved (a, b, c, d, a, b, ...) so that a VM filling up or a busy
host slows every route alike:

  memplugctl-qmp   memplugctl host --qmp SOCK plug 128M
  socat-qmp        socat + hand-written QMP (qmp_capabilities, object-add,
                   device_add), waiting for device_add's reply
  memplugctl-virt  memplugctl host --connect URI --domain D plug 128M
  virsh            virsh attach-device D dimm.xml --live

Each sample is a whole command, process start included: what a script
calling it pays.  QEMU runs under TCG, stopped (-S / virsh create --paused):
device_add needs no guest, and a guest's ACPI work would only add the same
time to every route.  Prints medians and ratios; no thresholds.

Usage: bench/host-plug.py [--build DIR] [-n REPS]
Needs root for the libvirt routes (libvirtd started here if none runs);
without libvirt only the QMP routes are measured.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, '..', 'tests', 'libvirt'), os.path.join(HERE, '..', 'tests', 'guest')]

SIZE = 128 << 20
URI = 'qemu:///system'
DOM = 'memplug-bench-host-plug'


def start_qemu(d, slots):
    sock = os.path.join(d, 'qmp.sock')
    p = subprocess.Popen(['qemu-system-x86_64', '-accel', 'tcg', '-M', 'pc', '-S',
                          '-m', '1G,slots=%d,maxmem=64G' % slots, '-nographic', '-nodefaults',
                          '-qmp', 'unix:%s,server=on,wait=off' % sock],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(400):
        if os.path.exists(sock):
            break
        time.sleep(0.025)
    return p, sock


def timed(argv):
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode:
        raise RuntimeError('%s: exit %d: %s' % (' '.join(argv), r.returncode, r.stderr))
    return dt


def socat_plug(sock, n):
    """socat carrying hand-written QMP; the cost of a shell script doing it."""
    t0 = time.perf_counter()
    p = subprocess.Popen(['socat', '-', 'UNIX-CONNECT:' + sock], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)
    f = p.stdout
    f.readline()  # greeting
    cmds = [{'execute': 'qmp_capabilities', 'id': 1},
            {'execute': 'object-add', 'id': 2,
             'arguments': {'qom-type': 'memory-backend-ram', 'id': 'raw%d-mem' % n,
                           'size': SIZE}},
            {'execute': 'device_add', 'id': 3,
             'arguments': {'driver': 'pc-dimm', 'id': 'raw%d' % n,
                           'memdev': 'raw%d-mem' % n, 'node': 0}}]
    p.stdin.write(''.join(json.dumps(c) + '\n' for c in cmds).encode())
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError('socat: QEMU closed the connection')
        r = json.loads(line)
        if 'error' in r:
            raise RuntimeError('socat route: %s' % r['error'])
        if r.get('id') == 3:
            break
    p.stdin.close()
    p.wait()
    return time.perf_counter() - t0


def med(xs):
    return statistics.median(xs) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.environ.get('MEMPLUG_BUILD_DIR',
                                                 os.path.join(HERE, '..', 'build')))
    ap.add_argument('-n', type=int, default=25)
    a = ap.parse_args()
    ctl = os.path.join(a.build, 'cli', 'memplugctl')
    if not os.access(ctl, os.X_OK):
        sys.exit('build memplugctl first (%s)' % ctl)
    slots = min(255, 2 * a.n + 2)
    d = tempfile.mkdtemp(prefix='mp-bench-')
    q, sock = start_qemu(d, slots)
    samples = {k: [] for k in ('memplugctl-qmp', 'socat-qmp', 'memplugctl-virt', 'virsh')}
    virt = None
    daemons = None
    try:
        if os.geteuid() == 0 and shutil.which('virsh') and shutil.which('libvirtd'):
            from virtguest import Daemons, virsh
            daemons = Daemons().__enter__()
            xml = os.path.join(d, 'dom.xml')
            with open(xml, 'w') as f:
                f.write("""<domain type='qemu'><name>%s</name>
<maxMemory slots='%d' unit='GiB'>64</maxMemory><memory unit='GiB'>1</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='1' unit='GiB'/></numa></cpu>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices>
</domain>""" % (DOM, slots))
            virsh('destroy', DOM, check=False)
            virsh('create', xml, '--paused')
            virt = os.path.join(d, 'dimm.xml')
            with open(virt, 'w') as f:
                f.write("<memory model='dimm'><target><size unit='KiB'>%d</size>"
                        "<node>0</node></target></memory>" % (SIZE >> 10))
        else:
            print('libvirt routes skipped (need root and libvirt)', file=sys.stderr)
        for i in range(a.n):
            samples['memplugctl-qmp'].append(
                timed([ctl, 'host', '--qmp', sock, 'plug', '128M']))
            samples['socat-qmp'].append(socat_plug(sock, i))
            if virt:
                samples['memplugctl-virt'].append(
                    timed([ctl, 'host', '--connect', URI, '--domain', DOM, 'plug', '128M']))
                samples['virsh'].append(
                    timed(['virsh', '-c', URI, 'attach-device', DOM, virt, '--live']))
    finally:
        q.kill()
        q.wait()
        if virt:
            virsh('destroy', DOM, check=False)
        if daemons:
            daemons.__exit__(None, None, None)
        shutil.rmtree(d, ignore_errors=True)

    print('plug of one 128 MiB pc-dimm, %d runs each, interleaved (ms)' % a.n)
    print('%-16s %8s %8s %8s' % ('route', 'median', 'min', 'max'))
    for k, xs in samples.items():
        if xs:
            print('%-16s %8.1f %8.1f %8.1f' % (k, med(xs), min(xs) * 1000, max(xs) * 1000))
    m = {k: med(xs) for k, xs in samples.items() if xs}
    print('ratios (medians):')
    print('  memplugctl-qmp / socat-qmp      = %.2f' % (m['memplugctl-qmp'] / m['socat-qmp']))
    if 'virsh' in m:
        print('  memplugctl-virt / virsh         = %.2f' % (m['memplugctl-virt'] / m['virsh']))
        print('  memplugctl-qmp / virsh          = %.2f' % (m['memplugctl-qmp'] / m['virsh']))


if __name__ == '__main__':
    main()
