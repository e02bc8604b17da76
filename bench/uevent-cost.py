#!/usr/bin/python3
"""bench/uevent-cost: what one block's uevent costs memplugd on a guest of N
blocks, against what reading every block costs, in the same run.

memplugd runs on a generated sysroot (gen-blocks.py: all blocks online over
two nodes, System RAM in iomem), uevents from a FIFO.  Alternating, REPS
times each:
  named  "online" of one block (a random one): the reconcile reads that
         block again and takes the other online blocks over from its model
         (mp_memory_rescan());
  full   a uevent of subsystem memory that names no block: the engine
         cannot know what changed and reads every block
         (mp_engine_rescan_all()), which is what every uevent cost before;
  lsmem  `lsmem --sysroot` with ZONES on the same tree, once: what a tool
         that looks at everything per event pays (the peer of the list
         benches).
memplugd's CPU per event is its schedstat run time (ns) from the write to
the moment it sleeps again with its CPU time unchanged; lsmem's is
user+sys from wait4.  The scan count is checked after each event (not
timed): every event made exactly one scan.

Usage: bench/uevent-cost.py BUILDDIR [BLOCKS] [REPS]
"""
import os
import random
import statistics
import sys
import time

from benchlib import DaemonOnRoot, gen_root, timed_run


def state(pid):
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()[0]


def one_event(d, line):
    """memplugd's CPU (ns) for one uevent, and the scans it made."""
    scans = d.ask({'command': 'status'})['scans']
    c0 = d.cpu_ns()
    os.write(d.fifo, line.encode())
    prev = None
    while True:
        time.sleep(0.002)
        c = d.cpu_ns()
        if c == prev and state(d.pid) == 'S':
            break
        prev = c
    made = d.ask({'command': 'status'})['scans'] - scans
    return c - c0, made


def main():
    build = sys.argv[1]
    blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 8192
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    root = gen_root(build, 'bench-root-%d-online' % blocks, blocks, '--online', 'all',
                    '--iomem')
    rnd = random.Random(1)
    res = {'named': [], 'full': [], 'lsmem': []}
    with DaemonOnRoot(build, root) as d:
        seq = 0
        for _ in range(reps):
            seq += 1
            k = rnd.randrange(blocks)
            dev = '/devices/system/memory/memory%d' % k
            ns, made = one_event(d, 'online@%s ACTION=online DEVPATH=%s SUBSYSTEM=memory '
                                 'SEQNUM=%d\n' % (dev, dev, seq))
            if made != 1:
                sys.exit('a named uevent made %d scans' % made)
            res['named'].append(ns / 1e6)
            seq += 1
            dev = '/devices/system/memory'
            ns, made = one_event(d, 'change@%s ACTION=change DEVPATH=%s SUBSYSTEM=memory '
                                 'SEQNUM=%d\n' % (dev, dev, seq))
            if made != 1:
                sys.exit('a blockless uevent made %d scans' % made)
            res['full'].append(ns / 1e6)
            _, cpu = timed_run(['lsmem', '--sysroot', root, '-o',
                                'RANGE,SIZE,STATE,BLOCK,NODE,ZONES'])
            res['lsmem'].append(cpu * 1e3)
        st = d.ask({'command': 'status'})
        rss = d.vm('VmRSS')
    med = {k: statistics.median(v) for k, v in res.items()}
    print('blocks=%d reps=%d (memplugd: %d scans, %d full)'
          % (blocks, reps, st['scans'], st['full_scans']))
    print('  memplugd, a named block\'s uevent:   median cpu %8.2f ms (min %.2f, max %.2f)'
          % (med['named'], min(res['named']), max(res['named'])))
    print('  memplugd, every block read:         median cpu %8.2f ms (min %.2f, max %.2f)'
          % (med['full'], min(res['full']), max(res['full'])))
    print('  lsmem --sysroot with ZONES, once:   median cpu %8.2f ms'
          % med['lsmem'])
    print('  ratio every block / named: %.1fx;  lsmem / named: %.1fx;  memplugd VmRSS %s'
          % (med['full'] / med['named'], med['lsmem'] / med['named'], rss))


if __name__ == '__main__':
    main()
