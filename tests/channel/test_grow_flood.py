#!/usr/bin/python3
"""A hostile guest floods memplugctl host serve with growth requests
(docs/host.md "serve", issue 10: the host caps and rate-limits the guest).
The guest is a scripted peer (tests/qmp/fake_guest.py's, extended here with
GROW_REQUEST and grow-answer); QEMU is real (TCG, -S), so the plug is.

1. 300 GROW_REQUESTs for 1 TiB each, and malformed ones, as fast as the
   socket takes them, then 50 a second for 5 s: one grant of Step (256M, clipped), one DIMM in QEMU,
   the VM never past MaxMemory; the channel's event limit and the host's
   MaxRequestsPerMinute refuse the rest; requests answered at most as many
   as the rate limit lets through; the log stays bounded.
2. The guest drops the channel: serve says so, reconnects, and the limits
   survive (the next request is refused, not granted).
3. SIGTERM: exit 0, with the summary.
Usage: test_grow_flood.py MEMPLUGCTL
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'qmp'))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
import fake_guest  # noqa: E402
import grow  # noqa: E402
from guest import require_built  # noqa: E402

CTL = sys.argv[1] if len(sys.argv) > 1 else ''
QEMU = os.environ.get('MEMPLUG_QEMU', 'qemu-system-x86_64')
M = 1 << 20
fails = 0


def check(cond, what, detail=''):
    global fails
    print(('ok: ' if cond else 'FAIL: ') + what + ('' if cond or not detail else '\n' + str(detail)),
          flush=True)
    if not cond:
        fails += 1


class GrowGuest(fake_guest.Guest):
    """The fake memplugd, plus GROW_REQUEST floods and grow-answer."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.answers = []
        self.connects = 0

    def answer(self, req):
        if req.get('execute') == 'grow-answer':
            self.answers.append(req.get('arguments', {}))
            return {'return': {}, 'id': req.get('id')}
        return super().answer(req)

    def greeting(self):
        g = super().greeting()
        g['capabilities'].append('grow-answer')
        return g

    def request(self, n, size=1 << 40):
        self.event('GROW_REQUEST', {
            'request': n, 'size': size, 'node': 0, 'total': 1 << 30, 'ceiling': 1 << 50,
            'pressure': {'kind': 'some', 'stall_us': 50000, 'window_us': 1000000, 'avg10': 99.0}})

    def drop(self):
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def wait_for(cond, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return cond()


def qmp_devices(path):
    return fake_guest.Guest.qmp_devices(type('x', (), {'qmp_path': path})())


def main():
    d = tempfile.mkdtemp(prefix='mp-flood-')
    q = subprocess.Popen(
        [QEMU, '-accel', 'tcg', '-M', 'pc', '-m', '1G,slots=8,maxmem=16G', '-nographic',
         '-nodefaults', '-S', '-qmp', 'unix:%s/q.sock,server=on,wait=off' % d,
         '-qmp', 'unix:%s/q2.sock,server=on,wait=off' % d],
        stdin=subprocess.DEVNULL, stdout=open(d + '/qemu.log', 'w'), stderr=subprocess.STDOUT)
    serve = None
    try:
        wait_for(lambda: os.path.exists(d + '/q.sock') and os.path.exists(d + '/q2.sock'), 10)
        g = GrowGuest(d + '/chan.sock', d + '/q2.sock', 'online', d + '/guest.log')
        threading.Thread(target=g.serve, daemon=True).start()
        wait_for(lambda: os.path.exists(d + '/chan.sock'), 10)
        with open(d + '/vm.conf', 'w') as f:
            f.write('[Grow]\nMaxMemory=1280M\nStep=256M\nCooldown=60s\nHostFreeFloor=64M\n'
                    'MaxRequestsPerMinute=10\nProofTimeout=20s\n')
        serve = grow.Serve(CTL, d + '/q.sock', d + '/chan.sock', d + '/vm.conf',
                           d + '/serve.log')
        check(wait_for(lambda: g.conn is not None, 20), 'serve connected to the channel')
        time.sleep(0.5)

        # 1. the flood
        for n in range(1, 301):
            g.request(n)
            if n % 50 == 0:
                g.send(b'{"event": "GROW_REQUEST", "data": {"request": "x", "size": -1}}\n')
                g.send({'event': 'GROW_REQUEST', 'data': {'request': 1000 + n, 'size': 'lots'}})
                g.send(b'{"event": "GROW_REQUEST", "data": ' + b'"' + b'x' * 70000 + b'"}\n')
        # the first is granted; what queued while it was plugged is dropped
        # (a real memplugd waits for its answer); then a steady flood
        decisions = [serve.decision(60)]
        for n in range(301, 551):
            g.request(n)
            if n % 50 == 0:
                g.send(b'{"event": "GROW_REQUEST", "data": {"request": "x", "size": -1}}\n')
                g.send({'event': 'GROW_REQUEST', 'data': {'request': 1000 + n, 'size': 'lots'}})
            time.sleep(0.02)
        while True:
            x = serve.decision(8)
            if not x:
                break
            decisions.append(x)
        granted = [x for x in decisions if x['granted']]
        limited = [x for x in decisions if x['rate_limited']]
        answered = [x for x in decisions if x['answered']]
        print('%d decisions: %d granted, %d rate-limited, %d answered; the guest got %d answers'
              % (len(decisions), len(granted), len(limited), len(answered), len(g.answers)))
        check(len(granted) == 1, 'one grant', decisions[:3])
        check(granted and granted[0]['size'] == 256 * M and granted[0]['asked'] == 1 << 40,
              '1 TiB asked, Step (256M) granted', granted)
        check(granted and granted[0]['proof'] == 'online', "the guest's proof", granted)
        devs = qmp_devices(d + '/q2.sock')
        check(len(devs) == 1 and devs[0]['data']['size'] == 256 * M, 'one 256M DIMM in QEMU',
              devs)
        check(all(x['vm_memory'] <= 1280 * M for x in decisions), 'the VM never past MaxMemory')
        check(len(limited) > 0, 'the host rate-limited requests')
        check(not any(x['answered'] for x in limited), 'rate-limited requests are not answered')
        # the bucket holds 10 and refills 10 a minute
        check(len(answered) <= 12, 'at most the rate limit answered (%d)' % len(answered))
        check(len(g.answers) == len(answered), 'the guest got one answer per answered decision',
              g.answers)
        ref = [a for a in g.answers if not a.get('granted')]
        check(all(a.get('reason', '').startswith(('cooldown', 'bad request')) for a in ref),
              'refusals say cooldown or bad request', ref)
        check(any('bad request' in x['reason'] for x in decisions) or len(limited) > 0,
              'malformed requests refused or rate-limited')
        log = serve.log()
        check(log.count('\n') < 80, 'the log stays bounded (%d lines)' % log.count('\n'),
              log[-2000:])
        check('exceeds 20 events/s' in log, "the channel's event limit dropped some", log[-2000:])
        check(serve.p.poll() is None, 'serve survived the flood')

        # 2. the guest drops the channel; serve comes back with its limits
        g.drop()
        check(wait_for(lambda: 'went away' in serve.log(), 20), 'serve saw the channel go',
              serve.log()[-1500:])
        check(wait_for(lambda: open(d + '/guest.log').read().count('connect\n') >= 2
                       and g.conn is not None, 30), 'serve reconnected')
        time.sleep(7)  # one token back (10 a minute)
        n0 = len(g.answers)
        g.request(5000, 128 * M)
        x = serve.decision(30)
        check(x and x['request'] == 5000 and not x['granted'],
              'after the reconnect: refused (the cooldown survived)', x)
        check(x and x['reason'].startswith('cooldown') and x['answered'],
              'answered with the cooldown left', x)
        check(wait_for(lambda: len(g.answers) > n0, 10), 'the guest got the answer')
        check(len(qmp_devices(d + '/q2.sock')) == 1, 'still one DIMM')
    finally:
        rc = serve.stop() if serve else None
        q.terminate()
        q.wait(10)
    log = serve.log() if serve else ''
    print(log[-2500:])
    check(rc == 0, 'SIGTERM: exit 0 (%s)' % rc)
    check('serve: Terminated: ' in log and '1 granted' in log, 'the summary', log[-600:])
    shutil.rmtree(d, ignore_errors=True)
    return 1 if fails else 0


if __name__ == '__main__':
    require_built(CTL, QEMU)
    sys.exit(main())
