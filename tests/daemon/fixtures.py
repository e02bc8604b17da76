#!/usr/bin/python3
"""memplugd against recorded fixtures (tests/daemon/fixtures, recorded from
real guests by record.py): each case copies a fixture, expands its
kpageflags, runs memplugd --once (or the daemon with a FIFO as its uevent
source and a private control socket) and checks what it wrote to the
fixture's sysfs files and what it said.

A fixture is a plain directory: a state write leaves the word in the file
instead of changing the block, so verification after onlining reports the
block as not online (exit 3, "kernel-rule violation").  That is the
verifier catching a kernel that did not do what it said, and the cases
check it; what they check about decisions is the word written.

    fixtures.py BUILDDIR [CASE...]
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import cases
from ctlask import ask  # noqa: F401 (the cases use it)

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, 'fixtures')
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, '..', '..', 'build')
MEMPLUGD = os.path.join(BUILD, 'daemon', 'memplugd')
MEMPLUGCTL = os.path.join(BUILD, 'cli', 'memplugctl')
MEM = 'sys/devices/system/memory'


class Case:
    def __init__(self, fixture, policies):
        self.tmp = tempfile.mkdtemp(prefix='memplugd-test-')
        self.root = os.path.join(self.tmp, 'root')
        shutil.copytree(os.path.join(FIX, fixture), self.root, symlinks=True)
        subprocess.run([MEMPLUGCTL, 'snapshot', '--expand', self.root], check=True)
        self.pol = os.path.join(self.tmp, 'policies')
        os.makedirs(self.pol)
        for name, text in policies.items():
            path = os.path.join(self.pol, name)
            with open(path, 'w') as f:
                f.write(text)
            os.chmod(path, 0o644)

    def once(self, *args):
        r = subprocess.run([MEMPLUGD, '--sysroot', self.root, '-p', self.pol, '--once', '-v',
                            '--state', os.path.join(self.tmp, 'state.json')] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        return r.returncode, r.stdout

    def state(self, b):
        with open(os.path.join(self.root, MEM, 'memory%d' % b, 'state')) as f:
            return f.read().strip()

    def states(self, blocks):
        return [self.state(b) for b in blocks]

    def done(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


NODE_POLICIES = {
    '10-node0.conf': '[Match]\nKind=dimm\nNode=0\n\n[Online]\nZone=movable\n',
    '20-node1.conf': '[Match]\nKind=dimm\nNode=1\n\n[Online]\nZone=kernel\n',
}


def case_node_policies():
    c = Case('numa2-two-dimms', NODE_POLICIES)
    rc, out = c.once()
    assert c.states(range(32, 36)) == ['online_movable'] * 4, out
    assert c.states(range(36, 40)) == ['online_kernel'] * 4, out
    assert 'dimm:slot0: memory32-35: 4/4 blocks online in movable, node 0' in out, out
    assert 'dimm:slot1: memory36-39: 4/4 blocks online in kernel, node 1' in out, out
    assert '10-node0.conf:1' in out and '20-node1.conf:1' in out, out
    # The fixture did not change state: the verifier must say so (§2).
    assert rc == 3 and "kernel-rule violation: memory32 (dimm:slot0): state reads" in out, (rc, out)
    assert c.states(range(0, 8)) == ['online'] * 8   # boot memory untouched
    with open(os.path.join(c.tmp, 'state.json')) as f:
        st = json.load(f)
    assert {d['key']: d['zone'] for d in st['devices']} == {
        'dimm:slot0': 'movable', 'dimm:slot1': 'kernel'}, st
    c.done()


def case_ratio():
    # node 0 has ~512 MiB of boot kernel memory; a 512 MiB DIMM is ~100% of it.
    for ratio, want in ((150, 'online_movable'), (90, 'online_kernel')):
        c = Case('numa2-two-dimms', {'50-auto.conf': '[Match]\nKind=dimm\nNode=0\n\n[Online]\n'
                                     'Zone=auto\nMovableRatio=%d\n' % ratio})
        rc, out = c.once()
        assert c.states(range(32, 36)) == [want] * 4, (ratio, out)
        assert c.states(range(36, 40)) == ['offline'] * 4, out   # node 1: no policy
        assert 'dimm:slot1: no policy matches: memory36-39 left offline' in out, out
        c.done()


def case_online_no_and_verify_none():
    c = Case('numa2-two-dimms', {
        '10-no.conf': '[Match]\nNode=0\n\n[Online]\nOnline=no\n',
        '20-trust.conf': '[Match]\nNode=1\n\n[Online]\nZone=movable\nVerify=none\n'})
    rc, out = c.once()
    assert c.states(range(32, 36)) == ['offline'] * 4, out
    assert 'Online=no' in out and 'memory32-35 left offline' in out, out
    assert c.states(range(36, 40)) == ['online_movable'] * 4, out
    assert rc == 0 and 'violation:' not in out, (rc, out)   # Verify=none: nothing checked
    c.done()


def case_conflict():
    c = Case('auto-online-movable', {'50.conf': '[Match]\n\n[Online]\nZone=kernel\n'})
    rc, out = c.once()
    assert "conflict: auto_online_blocks is 'online_movable'" in out, out
    assert 'dimm:slot0: conflict: all 4 blocks (memory32-35) were online in Movable' in out, out
    assert c.states(range(32, 36)) == ['online'] * 4, out
    assert rc == 0, (rc, out)
    c.done()


def case_virtio_mem():
    c = Case('virtio-mem', {'30-vm.conf': '[Match]\nKind=virtio-mem\n\n[Online]\nZone=movable\n'})
    rc, out = c.once()
    assert 'virtio-mem:virtio0' in out, out
    assert c.states(range(32, 36)) == ['online_movable'] * 4, out
    c.done()


def case_dax_system_ram():
    c = Case('nvdimm-devdax', {'20-nv.conf': '[Match]\nKind=nvdimm\n\n[Dax]\nMode=system-ram\n'})
    drv = os.path.join(c.root, 'sys/bus/dax/drivers')
    # Write-only attributes are not recorded: create them to catch the writes.
    for f in ('device_dax/unbind', 'kmem/new_id'):
        open(os.path.join(drv, f), 'w').close()
    rc, out = c.once()
    # KERNEL-RULES §8, observed: 0x102200000-0x17fffffff keeps 15 blocks, strands 94 MiB.
    assert 'kmem keeps 0x108000000-0x17fffffff (15 blocks), strands 98566144 bytes at the start and 0 at the end' in out, out
    for f in ('device_dax/unbind', 'kmem/new_id'):
        with open(os.path.join(drv, f)) as fh:
            assert fh.read().strip() == 'dax0.0', f
    c.done()
    c = Case('nvdimm-devdax', {'20-nv.conf': '[Match]\nKind=nvdimm\n'})
    rc, out = c.once()
    assert 'dax:dax0.0: Mode=devdax: left as /dev/dax0.0' in out, out
    c.done()


def case_check_config():
    c = Case('numa2-two-dimms', NODE_POLICIES)
    r = subprocess.run([MEMPLUGD, '-p', c.pol, '--check-config'], stdout=subprocess.PIPE,
                       text=True)
    assert r.returncode == 0 and r.stdout.startswith('configuration OK'), r.stdout
    with open(os.path.join(c.pol, '30-bad.conf'), 'w') as f:
        f.write('[Match]\nKind=dimm\n\n[Online]\nZone=sideways\n')
    os.chmod(os.path.join(c.pol, '30-bad.conf'), 0o664)
    r = subprocess.run([MEMPLUGD, '-p', c.pol, '--check-config'], stdout=subprocess.PIPE,
                       text=True)
    assert r.returncode == 1, r.stdout
    assert 'writable by group' in r.stdout and 'configuration refused' in r.stdout, r.stdout
    # First start with a bad set fails.
    rc, out = c.once()
    assert rc == 1 and 'configuration refused' in out, out
    c.done()


def wait_for(p, cond, what):
    """Polls cond() until it holds.  No deadline (a loaded machine stretches
    any duration): a memplugd that never gets there is ended by meson's
    timeout (120 s); one that exits fails here at once."""
    while not cond():
        assert p.poll() is None, 'memplugd exited (%s) before %s' % (p.returncode, what)
        time.sleep(0.05)


def log_has(logf, text):
    logf.seek(0)
    return text in logf.read()


def case_daemon_events():
    """The loop: FIFO uevents, settling on an incomplete DIMM, wait, SIGHUP reload."""
    c = Case('numa2-two-dimms', NODE_POLICIES)
    hidden = os.path.join(c.tmp, 'memory39')
    os.rename(os.path.join(c.root, MEM, 'memory39'), hidden)
    fifo = os.path.join(c.tmp, 'uevents')
    os.mkfifo(fifo)
    sock = os.path.join(c.tmp, 'memplugd.sock')
    logf = open(os.path.join(c.tmp, 'log'), 'w+')
    p = subprocess.Popen([MEMPLUGD, '-n', '-v', '--sysroot', c.root, '-p', c.pol, '--events', fifo,
                          '--socket', sock, '--state', os.path.join(c.tmp, 'state.json')],
                         stderr=logf)
    w = os.open(fifo, os.O_WRONLY)
    try:
        wait_for(p, lambda: os.path.exists(sock), 'its control socket')
        st = ask(sock, {'command': 'status'})
        devs = {d['device']: d for d in st['devices']}
        assert devs['dimm:slot0']['outcome'] == 'online', devs
        assert devs['dimm:slot1']['outcome'] == 'settling', devs   # 3 of 4 blocks
        assert st['node_facts'] == 'block scan', st
        os.rename(hidden, os.path.join(c.root, MEM, 'memory39'))
        os.write(w, b'add@/devices/system/memory/memory39 ACTION=add SUBSYSTEM=memory '
                    b'DEVPATH=/devices/system/memory/memory39\n')
        st = ask(sock, {'command': 'wait', 'device': 'dimm:slot1'})
        d1 = [d for d in st['devices'] if d['device'] == 'dimm:slot1'][0]
        assert d1['blocks'] == 'memory36-39' and d1['onlined'] == 4, d1
        assert c.states(range(36, 40)) == ['online_kernel'] * 4
        assert len(ask(sock, {'command': 'list'})['blocks']) == 16
        assert 'error' in ask(sock, {'command': 'nonsense'})
        # A broken reload keeps the set in force.
        with open(os.path.join(c.pol, '05-bad.conf'), 'w') as f:
            f.write('[Match]\nKind=floppy\n')
        os.chmod(os.path.join(c.pol, '05-bad.conf'), 0o644)
        p.send_signal(signal.SIGHUP)
        wait_for(p, lambda: log_has(logf, 'reload refused'), 'the reload')
        st = ask(sock, {'command': 'status'})
        assert len(st['policies']) == 2 and '05-bad.conf:2' in st['refused_reload'], st
    finally:
        os.close(w)
        p.send_signal(signal.SIGTERM)
        rc = p.wait()
        logf.seek(0)
        log = logf.read()
    assert rc == 0, log
    assert 'reload refused' in log and not os.path.exists(sock), log
    c.done()


def case_explain():
    c = Case('numa2-two-dimms', {'50-auto.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=auto\nMovableRatio=90\n'})
    r = subprocess.run([MEMPLUGCTL, '--sysroot', c.root, 'policy', 'explain', 'memory37', c.pol],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    assert 'dimm:slot1: memory36-39, 4 of 4 offline' in r.stdout, r.stdout
    assert '50-auto.conf:1: match' in r.stdout, r.stdout
    assert 'memplugd would online 4 offline block(s) into kernel' in r.stdout, r.stdout
    r = subprocess.run([MEMPLUGCTL, '--sysroot', c.root, 'policy', 'explain', 'slot9', c.pol],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 1 and "no block or device 'slot9'" in r.stdout, r.stdout
    c.done()


def case_sd_notify():
    """The systemd protocol without systemd (PID 1 here is not systemd): READY=1
    after the first scan, STATUS=, WATCHDOG=1 pings, RELOADING=1 then READY=1 on
    SIGHUP, STOPPING=1 on SIGTERM, all on NOTIFY_SOCKET.  No wall-clock bounds
    (a loaded machine stretches any duration): each step waits for what it
    expects, and a memplugd that never sends it is ended by meson's timeout
    (120 s).  The ping interval (half of WATCHDOG_USEC) is printed, not
    asserted; that the pings follow WATCHDOG_USEC at all is checked with an
    interval this test cannot outlast: no ping then."""
    c = Case('numa2-two-dimms', NODE_POLICIES)
    ns = os.path.join(c.tmp, 'notify')
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(ns)
    rx.settimeout(0.1)
    fifo = os.path.join(c.tmp, 'uevents')
    os.mkfifo(fifo)
    logf = open(os.path.join(c.tmp, 'log'), 'w+')
    msgs = []

    def start(watchdog_usec):
        env = dict(os.environ, NOTIFY_SOCKET=ns, WATCHDOG_USEC=watchdog_usec)
        env.pop('WATCHDOG_PID', None)
        # No -n: under NOTIFY_SOCKET memplugd must not detach (Type=notify tracks the pid).
        return subprocess.Popen([MEMPLUGD, '--sysroot', c.root, '-p', c.pol, '--events', fifo,
                                 '--socket', os.path.join(c.tmp, 'sock'),
                                 '--state', os.path.join(c.tmp, 'state.json')],
                                stderr=logf, env=env)

    def collect_until(p, done):
        while not done():
            try:
                msgs.extend(rx.recv(4096).decode().split('\n'))
            except socket.timeout:
                # after an exit, what it sent is already queued here
                assert p.poll() is None, ('memplugd exited (detached?) with %s' % p.returncode,
                                          msgs)

    def after(first, then):
        return first in msgs and then in msgs[msgs.index(first):]

    # Pings every 100 ms
    p = start('200000')
    w = os.open(fifo, os.O_WRONLY)
    try:
        t0 = time.monotonic()
        collect_until(p, lambda: msgs.count('WATCHDOG=1') >= 4)
        print('  4 watchdog pings in %.2f s' % (time.monotonic() - t0))
        assert msgs[0] == 'READY=1', msgs
        assert any(m.startswith('STATUS=') for m in msgs), msgs
        msgs.clear()
        p.send_signal(signal.SIGHUP)
        collect_until(p, lambda: after('RELOADING=1', 'READY=1'))
        msgs.clear()
        p.send_signal(signal.SIGTERM)
        assert p.wait() == 0
        collect_until(p, lambda: 'STOPPING=1' in msgs)
    finally:
        os.close(w)
        if p.poll() is None:
            p.kill()
            p.wait()

    # WATCHDOG_USEC of two hours: no ping from start to stop
    msgs.clear()
    p = start('7200000000')
    w = os.open(fifo, os.O_WRONLY)
    try:
        collect_until(p, lambda: 'READY=1' in msgs)
        p.send_signal(signal.SIGHUP)
        collect_until(p, lambda: after('RELOADING=1', 'READY=1'))
        p.send_signal(signal.SIGTERM)
        assert p.wait() == 0
        collect_until(p, lambda: 'STOPPING=1' in msgs)
        assert 'WATCHDOG=1' not in msgs, msgs
        logf.seek(0)
        assert logf.read().count('watchdog on') == 2, 'watchdog not armed in both runs'
    finally:
        os.close(w)
        if p.poll() is None:
            p.kill()
            p.wait()
        rx.close()
    c.done()


def case_enobufs_rescan():
    """Lost uevents: with a tiny netlink buffer and memplugd stopped, a burst of
    real kernel uevents (synthetic "change" events on this host's memory0, which
    change nothing) overflows the socket; on SIGCONT memplugd reads ENOBUFS,
    says so, reads every block again (a block offlined meanwhile, named by no
    uevent it kept, is offline in its model), and keeps serving."""
    c = Case('numa2-two-dimms', NODE_POLICIES)
    sock = os.path.join(c.tmp, 'sock')
    logf = open(os.path.join(c.tmp, 'log'), 'w+')
    p = subprocess.Popen([MEMPLUGD, '-n', '-v', '--sysroot', c.root, '-p', c.pol,
                          '--uevent-rcvbuf', '2048', '--socket', sock,
                          '--state', os.path.join(c.tmp, 'state.json')], stderr=logf)
    trigger = '/sys/devices/system/memory/memory0/uevent'
    try:
        wait_for(p, lambda: os.path.exists(sock), 'its control socket')
        st0 = ask(sock, {'command': 'status'})
        p.send_signal(signal.SIGSTOP)
        # A change no uevent in the socket names: only a scan of every block sees it.
        with open(os.path.join(c.root, MEM, 'memory1', 'state'), 'w') as f:
            f.write('offline\n')
        for _ in range(200):
            with open(trigger, 'w') as f:
                f.write('change')
        p.send_signal(signal.SIGCONT)
        wait_for(p, lambda: log_has(logf, 'ENOBUFS'), 'ENOBUFS')
        # Bounded: a memplugd that rescans only the named blocks never gets there.
        for _ in range(100):
            st = ask(sock, {'command': 'status'})
            if st['full_scans'] > st0['full_scans']:
                break
            time.sleep(0.1)
        assert st['full_scans'] > st0['full_scans'], ('no full scan after ENOBUFS', st)
        assert st['scans'] > st0['scans'], (st0['scans'], st['scans'])
        b1 = [b for b in ask(sock, {'command': 'list'})['blocks'] if b['id'] == 1]
        assert b1 and b1[0]['state'] == 'offline', b1
    finally:
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
        rc = p.wait()
        logf.seek(0)
        log = logf.read()
    assert rc == 0, log
    assert 'uevent socket overflowed (ENOBUFS): events lost, rescanning' in log, log
    c.done()


if __name__ == '__main__':
    cases.run(globals(), 'policy files must be root-owned (memplugd never accepts others)')
