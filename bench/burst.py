#!/usr/bin/python3
"""Bursts and big devices (issue 11, item 2), in one guest, interleaved like
online-latency.py (same three modes, same peer):

  burst  8 pc-dimms of 1 GiB added back to back (device_add in a row, no
         wait in between): from the first device_add until all 8 are
         online and verified as the host learns it (`memplugctl status
         --wait` on each, started before the first add);
  big    one pc-dimm of 32 GiB (256 blocks of 128 MiB).

Modes: kernel (another onliner's auto_online_blocks=online_movable, memplugd
only reports), fastpath (memplugd's own knobs, the kernel onlines, memplugd
verifies), memplugd (block by block).  Every round checks that nothing was
missed: every DIMM has its outcome, every block is online in Movable, every
block memplugd reports is verified.  Prints medians, the ratios to the
kernel (target fastpath <= 1.05x) and verification as a share of the
round (target <= 5 %: the state/zone/sampled-kpageflags/iomem checks, on the
fast path including the samples taken while the kernel adds the DIMM; the
every-PFN pass runs after, idle).

The guest boots with 2 GiB: a 32 GiB DIMM's memmap (512 MiB) comes out of
boot memory.  memory-backend-ram is allocated lazily on the host, and
without reserving swap (reserve=false): 32 GiB is more than this host has.

Usage: MEMPLUG_BUILD_DIR=build bench/burst.py [-n ROUNDS] [--only burst|big]
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'guest'))
from benchlib import (MEM, MODES, add_modes_arg, guest_span, log_clear,  # noqa: E402
                      modes_of, ratio_of_medians, ratio_summary, rotated, run_async,
                      run_with_memplugd, set_mode, wait_gone)

CASES = {'burst': (8, 1 << 30), 'big': (1, 32 << 30)}


def round_(g, case, mode, n):
    count, size = CASES[case]
    set_mode(g, mode)
    keys = ['dimm:slot%d' % i for i in range(count)]
    wait_gone(g, keys, tries=400)
    log_clear(g)
    waits = ' && '.join('memplugctl status -J --wait %s --timeout 300 >/dev/null' % k for k in keys)
    wait = run_async(g, waits + ' && memplugctl status -J', 320)
    time.sleep(0.3)
    ids = ['r%d_%d' % (n, i) for i in range(count)]
    for i in ids:
        # reserve=false (MAP_NORESERVE): a 32 GiB backend is more than this
        # host's RAM, which the kernel's overcommit heuristic refuses otherwise
        g.qmp('object-add', **{'qom-type': 'memory-backend-ram', 'id': 'mem-' + i, 'size': size,
                               'reserve': False})
    t0 = time.monotonic()
    for i in ids:
        g.qmp('device_add', driver='pc-dimm', id=i, memdev='mem-' + i)
    rc, out = wait()
    t1 = time.monotonic()
    if rc:
        raise RuntimeError('waiter failed: %s' % out)
    devs = {d['device']: d for d in json.loads(out)['devices']}
    nblocks = size // (128 << 20)
    want = 'other-onliner' if mode == 'kernel' else 'online'
    verify_us = 0
    for k in keys:
        d = devs.get(k)
        if not d or d['outcome'] != want or d['violations'] or \
                d.get('by_kernel', False) != (mode == 'fastpath'):
            raise RuntimeError('%s/%s: %s: unexpected %s' % (case, mode, k, d))
        if mode != 'kernel' and not (d['onlined'] == d['verified'] == nblocks):
            raise RuntimeError('%s/%s: %s: missed blocks: %s' % (case, mode, k, d))
        # At the report, plus the fast path's samples taken while the kernel
        # added the DIMM: all the verification's time, not only the part
        # the host waits for.
        verify_us += d.get('verify_us', 0) + d.get('sample_us', 0)
    # Every block of every DIMM online in Movable: nothing missed, nothing in the wrong zone.
    bad = g.check("cd %s; for b in memory*; do s=$(cat $b/state); [ $s = online ] || echo $b $s; "
                  "done | head -3" % MEM)
    if bad.strip():
        raise RuntimeError('%s/%s: blocks not online: %s' % (case, mode, bad))
    movable = int(g.check("grep -l Movable %s/memory*/valid_zones | wc -l" % MEM).strip())
    if movable != count * nblocks:
        raise RuntimeError('%s/%s: %d blocks Movable, want %d' % (case, mode, movable,
                                                                  count * nblocks))
    span = guest_span(g, mode, keys) * 1000
    for i in ids:
        g.del_dimm(i, timeout=600)
    return (t1 - t0) * 1000, span, verify_us / 1000


def rounds(g, a, cases, res, span, ver):
    n = 0
    for c in cases:
        for mode in a.modes:  # warm-up
            n += 1
            round_(g, c, mode, n)
        for i in range(a.n):
            for mode in rotated(i, a.modes):
                n += 1
                ms, sp, v = round_(g, c, mode, n)
                res[(c, mode)].append(ms)
                span[(c, mode)].append(sp)
                ver[(c, mode)].append(v)
                print('%-5s %-9s host %8.1f ms  guest %8.1f ms (verification %.1f ms)'
                      % (c, mode, ms, sp, v), file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-n', type=int, default=3, help='rounds per mode and case (default 3)')
    ap.add_argument('--only', choices=sorted(CASES))
    add_modes_arg(ap)
    a = ap.parse_args()
    a.modes = modes_of(a)
    cases = [a.only] if a.only else ['burst', 'big']
    res = {(c, m): [] for c in cases for m in MODES}
    ver = {(c, m): [] for c in cases for m in MODES}
    span = {(c, m): [] for c in cases for m in MODES}
    run_with_memplugd(dict(name='bench-burst', mem='2G', slots=9, maxmem='42G', verbose=False,
                           boot_timeout=120),
                      lambda g: rounds(g, a, cases, res, span, ver))
    med = statistics.median
    for c in cases:
        count, size = CASES[c]
        print('%s: %d x %d GiB DIMM, device_add -> all online and verified (%d rounds, medians)'
              % (c, count, size >> 30, a.n))
        for m in a.modes:
            print('  %-9s %9.1f ms  (min %.1f, max %.1f)  verification %.1f ms = %.1f %%'
                  % (m, med(res[(c, m)]), min(res[(c, m)]), max(res[(c, m)]),
                     med(ver[(c, m)]), 100 * med(ver[(c, m)]) / med(res[(c, m)])))
        ks = med(span[(c, 'kernel')])
        print('  guest (first block add uevent -> last report): %s'
              % ', '.join('%s %.1f ms' % (m, med(span[(c, m)])) for m in a.modes))
        for m in a.modes[1:]:
            print('  ' + ratio_of_medians('host, ratio of medians, %s / kernel' % m,
                                          res[(c, m)], res[(c, 'kernel')]) +
                  (' (target <= 1.05x)' if m == 'fastpath' else ''))
            print('  ' + ratio_of_medians('guest, ratio of medians, %s / kernel' % m,
                                          span[(c, m)], span[(c, 'kernel')]))
            print('  ' + ratio_summary('host, per round, %s / kernel' % m, res[(c, m)],
                                       res[(c, 'kernel')]))
            print('  ' + ratio_summary('guest, per round, %s / kernel' % m, span[(c, m)],
                                       span[(c, 'kernel')]))


if __name__ == '__main__':
    main()
