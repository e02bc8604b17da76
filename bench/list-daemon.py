#!/usr/bin/python3
"""bench/list-daemon: `memplugctl list` answered from memplugd's model against
util-linux `lsmem --sysroot`, on the same generated tree (issue 11, item 3;
target >= 20x).

memplugd runs on a generated sysroot (gen-blocks.py, all blocks online over
two nodes, System RAM in iomem: the engine's scan needs iomem, and an
offline block with no device would be a device of its own), with no
policies (it writes nothing), its own socket, uevents from a FIFO.
`memplugctl --sysroot ROOT list --socket SOCK` asks that daemon (it reads
the same root) and prints what its model says; lsmem reads the tree.  Same
columns, outputs compared first, alternating, medians of wall and CPU time
(user+sys from wait4), and memplugd's RSS (VmHWM) after all the answers.

Usage: bench/list-daemon.py BUILDDIR [BLOCKS] [REPS]
"""
import os
import subprocess
import sys

from benchlib import DaemonOnRoot, gen_root, list_rows, same_rows_or_exit, time_alternating

build = sys.argv[1]
blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 65536
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 9
root = gen_root(build, 'bench-root-%d-online' % blocks, blocks, '--online', 'all', '--iomem')
ctl = os.path.join(build, 'cli', 'memplugctl')


with DaemonOnRoot(build, root) as d:
    rss0 = d.vm('VmRSS')
    for cols in ('RANGE,SIZE,STATE,BLOCK,NODE', 'RANGE,SIZE,STATE,BLOCK,NODE,ZONES'):
        mp_cmd = [ctl, '--sysroot', root, 'list', '--socket', d.sock, '-o', cols]
        ls_cmd = ['lsmem', '--sysroot', root, '-o', cols]
        out = subprocess.run(mp_cmd + ['--summary=always'], capture_output=True, text=True,
                             check=True).stdout
        if 'memplugd' not in [l.split(':', 1)[1].split()[0] for l in out.splitlines()
                              if l.startswith('Source:')]:
            sys.exit('list did not answer from memplugd:\n%s' % out)
        a = list_rows(out)
        b = list_rows(subprocess.run(ls_cmd, capture_output=True, text=True, check=True).stdout)
        same_rows_or_exit('list-daemon', cols, a, b)
        mp_w, mp_c, ls_w, ls_c = time_alternating(mp_cmd, ls_cmd, reps)
        print('blocks=%d reps=%d columns=%s rows=%d' % (blocks, reps, cols, len(a)))
        print('  memplugctl list (memplugd model): median wall %.1f ms, cpu %.1f ms'
              % (mp_w * 1e3, mp_c * 1e3))
        print('  lsmem --sysroot:                  median wall %.1f ms, cpu %.1f ms'
              % (ls_w * 1e3, ls_c * 1e3))
        print('  ratio lsmem/memplugctl: wall %.1fx, cpu %.1fx (target >= 20x)'
              % (ls_w / mp_w, ls_c / max(mp_c, 1e-4)))
    print('memplugd on %d blocks: VmRSS %s after its scan, %s after %d list answers (VmHWM %s)'
          % (blocks, rss0, d.vm('VmRSS'), 2 * (reps + 1), d.vm('VmHWM')))
