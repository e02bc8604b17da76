#!/usr/bin/python3
"""bench/list-vs-lsmem: `memplugctl list` against util-linux `lsmem --sysroot`.

Same generated sysroot (65,536 blocks by default: half online, half offline,
two nodes), same columns, same run, alternating, many repetitions.  Prints
medians of wall time and of CPU time (user+sys from wait4: less disturbed
by other load on a shared machine) and the ratios; target >= 3x.  The two
outputs are compared first: a speed-up of a wrong answer means nothing.

With --online all every block is online, as on a running machine whose
memory is all in use (an online block's one-word valid_zones implies its
state on 4.14+, so ZONES costs memplugctl no second file there; an offline
block needs `state` too).

Usage: bench/list-vs-lsmem.py BUILDDIR [BLOCKS] [REPS] [--online half|all]
"""
import os
import subprocess
import sys

from benchlib import gen_root, list_rows, same_rows_or_exit, time_alternating

args = sys.argv[1:]
online = 'half'
if '--online' in args:
    i = args.index('--online')
    online = args[i + 1]
    del args[i:i + 2]
build = args[0]
blocks = int(args[1]) if len(args) > 1 else 65536
reps = int(args[2]) if len(args) > 2 else 9
if online == 'all':
    root = gen_root(build, 'bench-root-%d-online' % blocks, blocks, '--online', 'all')
else:
    root = gen_root(build, 'bench-root-%d' % blocks, blocks)
ctl = os.path.join(build, 'cli', 'memplugctl')

# lsmem's default columns plus NODE, then with ZONES (one more file per block for both).
for cols in ('RANGE,SIZE,STATE,BLOCK,NODE', 'RANGE,SIZE,STATE,BLOCK,NODE,ZONES'):
    mp_cmd = [ctl, '--sysroot', root, 'list', '-o', cols]
    ls_cmd = ['lsmem', '--sysroot', root, '-o', cols]
    a = list_rows(subprocess.run(mp_cmd, capture_output=True, text=True, check=True).stdout)
    b = list_rows(subprocess.run(ls_cmd, capture_output=True, text=True, check=True).stdout)
    same_rows_or_exit('list-vs-lsmem', cols, a, b)
    mp_w, mp_c, ls_w, ls_c = time_alternating(mp_cmd, ls_cmd, reps)
    print('blocks=%d (%s online) reps=%d columns=%s rows=%d' % (blocks, online, reps, cols, len(a)))
    print('  memplugctl list: median wall %.1f ms, cpu %.1f ms' % (mp_w * 1e3, mp_c * 1e3))
    print('  lsmem:           median wall %.1f ms, cpu %.1f ms' % (ls_w * 1e3, ls_c * 1e3))
    print('  ratio lsmem/memplugctl: wall %.2fx, cpu %.2fx (target >= 3x)' %
          (ls_w / mp_w, ls_c / mp_c))
