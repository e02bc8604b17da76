#!/usr/bin/python3
"""Host-side faults with a real QEMU (TCG, stopped with -S: QMP, object-add
and device_add need no guest OS) and the real memplugctl, through a QMP
proxy that can hold one command (qmphold.py) so that each fault lands at the
same place every run.  docs/faults.md lists what each one showed.

1. memplugctl SIGKILLed between object-add and device_add (the proxy holds
   device_add): the backend is left; `host list` names the orphan,
   `host cleanup` removes it, a new plug works.
2. QEMU SIGKILLed during `host plug` (device_add held, then QEMU killed):
   memplugctl exits non-zero at once, naming the lost QMP connection.
3. No user string reaches QMP unescaped: a --mem-path with a quote, a
   backslash and a brace reaches QEMU as data (qom-get gives it back, QEMU
   made that very file); an --id with a quote is refused before anything is
   sent.
Usage: test_host_faults.py MEMPLUGCTL
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
from guest import require_built  # noqa: E402
from qmphold import QMPHold  # noqa: E402

CTL = sys.argv[1] if len(sys.argv) > 1 else ''
QEMU = os.environ.get('MEMPLUG_QEMU', 'qemu-system-x86_64')
HANG = 120   # seconds: only against a hang, never a pass/fail threshold


class Qemu:
    """QEMU -S with two QMP sockets: q.sock for memplugctl (behind the
    proxy), t.sock for the test's own questions."""

    def __init__(self, d):
        self.d = d
        self.p = subprocess.Popen(
            [QEMU, '-accel', 'tcg', '-M', 'pc', '-m', '1G,slots=8,maxmem=16G',
             '-nographic', '-nodefaults', '-S',
             '-qmp', 'unix:%s/q.sock,server=on,wait=off' % d,
             '-qmp', 'unix:%s/t.sock,server=on,wait=off' % d],
            stdin=subprocess.DEVNULL, stdout=open(d + '/qemu.log', 'w'),
            stderr=subprocess.STDOUT)
        for _ in range(HANG * 20):
            if os.path.exists(d + '/q.sock') and os.path.exists(d + '/t.sock'):
                break
            assert self.p.poll() is None, open(d + '/qemu.log').read()
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(HANG)
        self.s.connect(d + '/t.sock')
        self.f = self.s.makefile('rwb')
        self.f.readline()   # greeting
        self.qmp('qmp_capabilities')

    def qmp(self, cmd, **args):
        self.f.write(json.dumps({'execute': cmd, 'arguments': args}).encode() + b'\n')
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if 'event' not in r:
                return r

    def objects(self):
        return [o['name'] for o in self.qmp('qom-list', path='/objects')['return']]

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def ctl(sock, *args, rc=0):
    r = subprocess.run([CTL, 'host', '--qmp', sock] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=HANG)
    print('$ memplugctl host %s -> %d\n%s%s' % (' '.join(args), r.returncode, r.stdout, r.stderr))
    if rc is not None:
        assert r.returncode == rc, (r.returncode, rc, r.stderr)
    return r


def plug_held(d, q, *args):
    """memplugctl host plug ARGS through a proxy that holds device_add;
    returns (process, proxy) once device_add has arrived at the proxy."""
    px = QMPHold(d + '/q.sock', d + '/p.sock', hold='device_add')
    p = subprocess.Popen([CTL, 'host', '--qmp', d + '/p.sock', 'plug'] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert px.held.wait(HANG), (px.commands, p.poll())
    return p, px


def fault_killed_between(d, q):
    p, px = plug_held(d, q, '256M')
    # object-add went through: the backend exists, the DIMM does not
    assert 'object-add' in px.commands, px.commands
    assert 'mp-dimm0-mem' in q.objects(), q.objects()
    p.send_signal(signal.SIGKILL)
    assert p.wait(HANG) == -signal.SIGKILL
    px.let_go(False)   # the killed run's device_add never reaches QEMU
    px.close()
    devs = q.qmp('query-memory-devices')['return']
    assert devs == [], devs
    print('memplugctl SIGKILLed between object-add and device_add: backend mp-dimm0-mem left')
    r = ctl(d + '/q.sock', 'list')
    assert 'orphan backend mp-dimm0-mem' in r.stdout, r.stdout
    r = ctl(d + '/q.sock', 'cleanup')
    assert '1 orphan backend(s)' in r.stdout, r.stdout
    assert 'mp-dimm0-mem' not in q.objects(), q.objects()
    r = ctl(d + '/q.sock', 'list')
    assert 'orphan' not in r.stdout, r.stdout
    r = ctl(d + '/q.sock', 'plug', '256M')
    assert [x['data']['id'] for x in q.qmp('query-memory-devices')['return']] == ['mp-dimm0']


def fault_escaping(d, q):
    odd = os.path.join(d, 'a"b\\c}{\'')
    r = ctl(d + '/q.sock', '-J', 'plug', '128M', '--mem-path', odd, '--share')
    pid = json.loads(r.stdout)['plugged'][0]
    got = q.qmp('qom-get', path='/objects/%s-mem' % pid, property='mem-path')
    assert got.get('return') == odd, (got, odd)
    assert os.path.exists(odd), os.listdir(d)
    print('mem-path %r reached QEMU as data' % odd)
    px = QMPHold(d + '/q.sock', d + '/p2.sock')
    r = ctl(d + '/p2.sock', 'plug', '128M', '--id', 'x"y', rc=None)
    px.close()
    assert r.returncode != 0 and 'not a valid device id' in r.stderr, r.stderr
    assert 'object-add' not in px.commands and 'device_add' not in px.commands, px.commands


def fault_qemu_killed(d):
    q = Qemu(d)
    try:
        p, px = plug_held(d, q, '256M')
        q.kill()   # QEMU dies with device_add in flight
        t0 = time.monotonic()
        out, err = p.communicate(timeout=HANG)
        px.close()
        print('QEMU killed during plug: exit %d after %.1f s\n%s%s'
              % (p.returncode, time.monotonic() - t0, out, err))
        assert p.returncode not in (0, None) and p.returncode > 0, p.returncode
        assert 'QMP' in err or 'qmp' in err, err
        assert any(w in err for w in ('closed', 'reset', 'Broken pipe', 'EOF')), err
    finally:
        q.kill()


def main():
    require_built(CTL, QEMU)
    failed = 0
    for name in ('killed_between', 'escaping', 'qemu_killed'):
        d = tempfile.mkdtemp(prefix='mp-faults-')
        t0 = time.monotonic()
        q = None
        try:
            if name == 'qemu_killed':
                fault_qemu_killed(d)
            else:
                q = Qemu(d)
                globals()['fault_' + name](d, q)
            print('ok   %s (%.1f s)' % (name, time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001 (report every fault)
            failed += 1
            print('FAIL %s: %r' % (name, e))
        finally:
            if q:
                q.kill()
            shutil.rmtree(d, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
