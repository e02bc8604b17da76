#!/usr/bin/python3
"""device_add -> all blocks of a 1 GiB pc-dimm online, memplugd against the
kernel's own auto-online, in one guest, interleaved (kernel, memplugd,
kernel, ...) so that a guest filling up or a busy host slows both alike.

  kernel    auto_online_blocks=online_movable (what memhp_default_state=
            online_movable sets at boot): the kernel onlines each block
            inside add_memory(), before the ACPI add returns.
  memplugd  auto_online_blocks=offline, a policy Zone=movable: memplugd
            gets the add uevents, waits for the DIMM's links, onlines the
            8 blocks and verifies them (state, valid_zones, kpageflags of
            all 262144 PFNs, iomem).

Both are timed the same way, as the host learns it: from device_add to the
answer of `memplugctl status --wait dimm:slotN`, started in the guest before
device_add.  In kernel rounds memplugd answers it when it finds the DIMM
complete and all online by someone else (it writes nothing then), so the
same observer and the same serial-line delay are in both numbers.  The DIMM
is removed again (device_del) after each round.  Prints medians and the
ratio memplugd / kernel (target <= 1.10).

Usage: MEMPLUG_BUILD_DIR=build bench/online-latency.py [-n ROUNDS] [--size 1G]
"""
import argparse
import base64
import json
import os
import random
import shlex
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'guest'))
from guest import Guest, GuestSkip, parse_size  # noqa: E402

POLICY = '[Match]\nKind=dimm\n\n[Online]\nZone=movable\nVerify=%s\n'
MODES = ('kernel', 'memplugd', 'memplugd-state')
MEM = '/sys/devices/system/memory'


def run_async(g, cmd, timeout):
    """Starts a guest command without waiting; returns a function that waits
    for its answer (guest.py's framing, split in two)."""
    tag = '%x' % random.getrandbits(48)
    line = '__mp %s %d %s\n' % (tag, timeout, base64.b64encode(cmd.encode()).decode())
    g._chan.sendall(line.encode())
    return lambda: g._answer(tag, line, timeout, cmd, resend=None)


def gone(g, key):
    st = json.loads(g.check('memplugctl status -J'))
    return all(d['device'] != key for d in st['devices'])


def round_(g, mode, n, size):
    g.write(MEM + '/auto_online_blocks', 'online_movable' if mode == 'kernel' else 'offline')
    if mode != 'kernel':
        verify = 'state' if mode == 'memplugd-state' else 'full'
        g.check("printf '%%s' %s > /etc/memplug/policies.d/50-movable.conf && "
                "kill -HUP $(pidof memplugd)" % shlex.quote(POLICY % verify))
    key = 'dimm:slot0'
    for _ in range(100):
        if gone(g, key):
            break
        time.sleep(0.05)
    # The waiter must be listening before device_add: start it, let it connect.
    wait = run_async(g, 'memplugctl status -J --wait %s --timeout 60' % key, 70)
    time.sleep(0.3)
    g.qmp('object-add', **{'qom-type': 'memory-backend-ram', 'id': 'mem-b%d' % n, 'size': size})
    t0 = time.monotonic()
    g.qmp('device_add', driver='pc-dimm', id='b%d' % n, memdev='mem-b%d' % n)
    rc, out = wait()
    t1 = time.monotonic()
    if rc:
        raise RuntimeError('waiter failed: %s' % out)
    d = [x for x in json.loads(out)['devices'] if x['device'] == key][0]
    want = 'other-onliner' if mode == 'kernel' else 'online'
    if d['outcome'] != want or d['violations']:
        raise RuntimeError('%s round: unexpected outcome %s' % (mode, d))
    g.del_dimm('b%d' % n, timeout=60)
    return (t1 - t0) * 1000, d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-n', type=int, default=10, help='rounds per mode (default 10)')
    ap.add_argument('--size', default='1G')
    a = ap.parse_args()
    size = parse_size(a.size)
    res = {m: [] for m in MODES}
    detail = []
    try:
        with Guest(name='bench-online-latency', mem='1G', verbose=False) as g:
            g.check('mkdir -p /etc/memplug/policies.d')
            g.put_file((POLICY % 'full').encode(), '/etc/memplug/policies.d/50-movable.conf')
            g.check('memplugd -p /etc/memplug/policies.d 2>/tmp/memplugd.log')
            # One warm-up round each: the first hot-add of a boot is slower.
            try:
                rounds(g, a, size, res, detail)
            except Exception:
                print(g.run('tail -40 /tmp/memplugd.log')[1], file=sys.stderr)
                raise
            g.run('kill $(pidof memplugd)')
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(77)
    report(a, res, detail)


def rounds(g, a, size, res, detail):
    if True:
        if True:
            for j, mode in enumerate(MODES):
                round_(g, mode, 1000 + j, size)
            for i in range(a.n):
                # Rotate the order so that no mode always follows the same one.
                order = MODES[i % 3:] + MODES[:i % 3]
                for mode in order:
                    ms, d = round_(g, mode, i * 3 + MODES.index(mode), size)
                    res[mode].append(ms)
                    if mode == 'memplugd':  # Verify=full
                        detail.append((d['online_us'] / 1000, d['verify_us'] / 1000,
                                       d['latency_us'] / 1000))
                    print('%-9s %7.1f ms' % (mode, ms), file=sys.stderr, flush=True)


def report(a, res, detail):
    k, m = statistics.median(res['kernel']), statistics.median(res['memplugd'])
    ms = statistics.median(res['memplugd-state'])
    print('device_add -> %s DIMM online (%d rounds each, medians, as the host sees it)'
          % (a.size, a.n))
    print('  kernel auto-online (online_movable):   %7.1f ms  (min %.1f, max %.1f)'
          % (k, min(res['kernel']), max(res['kernel'])))
    print('  memplugd, online + verified:           %7.1f ms  (min %.1f, max %.1f)'
          % (m, min(res['memplugd']), max(res['memplugd'])))
    print('  memplugd, Verify=state (no kpageflags):%7.1f ms  (min %.1f, max %.1f)'
          % (ms, min(res['memplugd-state']), max(res['memplugd-state'])))
    print('  ratio memplugd / kernel:               %7.2fx  (target <= 1.10x)' % (m / k))
    print('  ratio memplugd Verify=state / kernel:  %7.2fx' % (ms / k))
    print('  inside memplugd (medians): writes %.1f ms, verification %.1f ms, '
          'first uevent -> verified %.1f ms'
          % tuple(statistics.median(x[i] for x in detail) for i in range(3)))


if __name__ == '__main__':
    main()
