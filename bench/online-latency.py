#!/usr/bin/python3
"""device_add -> all blocks of a 1 GiB pc-dimm online and verified, as the
host learns it, in one guest, interleaved (rotating order) so that a guest
filling up or a busy host slows every mode alike:

  kernel    another onliner: auto_online_blocks=online_movable written by
            the bench (what memhp_default_state=online_movable sets at
            boot), a policy memplugd cannot hand to the kernel (Kind=dimm
            only: virtio-mem would be left offline), so memplugd reports the
            DIMM as another onliner's and writes nothing.  The peer.
  fastpath  memplugd's kernel fast path: policy Kind=dimm virtio-mem,
            Zone=movable; memplugd itself set auto_online_blocks=
            online_movable, the kernel onlines at add time, memplugd
            verifies (state, valid_zones, sampled kpageflags, iomem) and
            reports.  Target <= 1.03x kernel.
  memplugd  the fallback, block by block: Kind=dimm, Zone=movable,
            auto_online_blocks=offline; memplugd gets the add uevents,
            waits for the DIMM's links, onlines the 8 blocks, verifies.

Every mode is timed the same two ways:
  host   from device_add to the answer of `memplugctl status --wait
         dimm:slot0`, started in the guest before device_add (so the same
         observer and serial-line delay are in all numbers): what an
         operator waits for;
  guest  on the guest's clock, from the DIMM's first block add uevent to
         memplugd's report (benchlib.guest_span()): the kernel's hot-add
         from its first block on, plus what memplugd adds.  Without the
         QMP, ACPI and serial delays it has a fraction of the host
         number's noise, and with a smaller denominator its ratio is the
         stricter of the two.
The DIMM is removed again (device_del) after each round.  Prints medians,
the ratio of the medians, and the median of the per-round ratios (each
fastpath round against the kernel round next to it).

Usage: MEMPLUG_BUILD_DIR=build bench/online-latency.py [-n ROUNDS] [--size 1G]
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'guest'))
from guest import parse_size  # noqa: E402
from benchlib import (MODES, add_modes_arg, guest_span, log_clear, modes_of,  # noqa: E402
                      ratio_of_medians, ratio_summary, rotated, run_async, run_with_memplugd,
                      set_mode, wait_gone)


def round_(g, mode, n, size):
    set_mode(g, mode)
    key = 'dimm:slot0'
    wait_gone(g, [key])
    # The waiter must be listening before device_add: start it, let it connect.
    log_clear(g)
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
    check_outcome(mode, d)
    span = guest_span(g, mode, [key]) * 1000
    g.del_dimm('b%d' % n, timeout=60)
    return (t1 - t0) * 1000, span, d


def check_outcome(mode, d):
    want = 'other-onliner' if mode == 'kernel' else 'online'
    if d['outcome'] != want or d['violations'] or d.get('by_kernel', False) != (mode == 'fastpath'):
        raise RuntimeError('%s round: unexpected outcome %s' % (mode, d))
    if mode != 'kernel' and d['verified'] != d['onlined']:
        raise RuntimeError('%s round: not all verified: %s' % (mode, d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-n', type=int, default=10, help='rounds per mode (default 10)')
    ap.add_argument('--size', default='1G')
    add_modes_arg(ap)
    a = ap.parse_args()
    a.modes = modes_of(a)
    size = parse_size(a.size)
    res = {m: [] for m in MODES}
    span = {m: [] for m in MODES}
    detail = {'fastpath': [], 'memplugd': []}
    run_with_memplugd(dict(name='bench-online-latency', mem='1G', verbose=False),
                      lambda g: rounds(g, a, size, res, span, detail))
    report(a, res, span, detail)


def rounds(g, a, size, res, span, detail):
    # One warm-up round each: the first hot-add of a boot is slower.
    for j, mode in enumerate(a.modes):
        round_(g, mode, 1000 + j, size)
    for i in range(a.n):
        for mode in rotated(i, a.modes):
            ms, sp, d = round_(g, mode, i * 3 + MODES.index(mode), size)
            res[mode].append(ms)
            span[mode].append(sp)
            if mode != 'kernel':
                detail[mode].append((d['online_us'] / 1000, d['verify_us'] / 1000,
                                     d['latency_us'] / 1000))
            print('%-9s host %7.1f ms  guest %6.1f ms' % (mode, ms, sp), file=sys.stderr,
                  flush=True)


def report(a, res, span, detail):
    names = {'kernel': 'kernel auto-online (another onliner)',
             'fastpath': 'memplugd kernel fast path, verified',
             'memplugd': 'memplugd block by block, verified'}
    med = statistics.median
    for what, r in (('host: device_add -> status --wait answered', res),
                    ('guest: first block add uevent -> memplugd\'s report', span)):
        print('%s, %s DIMM (%d rounds each, medians)' % (what, a.size, a.n))
        for m in a.modes:
            v = r[m]
            print('  %-40s %7.1f ms  (min %.1f, max %.1f)' % (names[m] + ':', med(v),
                                                            min(v), max(v)))
        for m, name in (('fastpath', 'fast path'), ('memplugd', 'block by block')):
            if m not in a.modes:
                continue
            print('  ' + ratio_of_medians('ratio of medians, %s / kernel' % name, r[m],
                                          r['kernel']) +
                  ('  (target <= 1.03x)' if m == 'fastpath' else ''))
            print('  ' + ratio_summary('per round, %s / kernel' % name, r[m], r['kernel']))
    for m in ('fastpath', 'memplugd'):
        if m not in a.modes:
            continue
        print('  inside memplugd, %s (medians): writes %.1f ms, verification %.1f ms, '
              'device whole -> reported %.1f ms'
              % ((m,) + tuple(statistics.median(x[i] for x in detail[m]) for i in range(3))))


if __name__ == '__main__':
    main()
