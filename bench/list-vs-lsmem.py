#!/usr/bin/python3
"""bench/list-vs-lsmem: `memplugctl list` against util-linux `lsmem --sysroot`.

Same generated sysroot (65,536 blocks by default: half online, half offline,
two nodes), same columns, same run, alternating, many repetitions.  Prints
medians of wall time and of CPU time (user+sys from wait4: less disturbed
by other load on a shared machine) and the ratios; target >= 3x.  The two
outputs are compared first: a speed-up of a wrong answer means nothing.

Usage: bench/list-vs-lsmem.py BUILDDIR [BLOCKS] [REPS]
"""
import os
import statistics
import subprocess
import sys
import time

build = sys.argv[1]
blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 65536
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 9
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(build, 'bench-root-%d' % blocks)
if not os.path.exists(os.path.join(root, '.done')):
    subprocess.run(['rm', '-rf', root], check=True)
    subprocess.run(['/usr/bin/python3', os.path.join(here, 'gen-blocks.py'), root, str(blocks)],
                   check=True)
    open(os.path.join(root, '.done'), 'w').close()

# A guest has /proc: with its release known, list may take the one-word
# valid_zones as online (mp_kernel_zones_imply_state(), 4.14+).  Without it,
# list reads state for every block too (2 files per block with ZONES).
rel = os.path.join(root, 'proc', 'sys', 'kernel', 'osrelease')
if os.environ.get('BENCH_NO_RELEASE'):
    if os.path.exists(rel):
        os.unlink(rel)
elif not os.path.exists(rel):
    os.makedirs(os.path.dirname(rel), exist_ok=True)
    with open(rel, 'w') as f:
        f.write('6.1.0-bench\n')

ctl = os.path.join(build, 'cli', 'memplugctl')


def norm(out):
    rows = []
    for line in out.splitlines():
        f = line.split()
        if not f or f[0] == 'RANGE' or ':' in line:
            continue
        rows.append(' '.join(f).replace('None', 'none'))
    return rows


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status:
        sys.exit('%s failed' % cmd[0])
    return wall, ru.ru_utime + ru.ru_stime


m = statistics.median
fail = False
# lsmem's default columns plus NODE, then with ZONES (one more file per block for both).
for cols in ('RANGE,SIZE,STATE,BLOCK,NODE', 'RANGE,SIZE,STATE,BLOCK,NODE,ZONES'):
    mp_cmd = [ctl, '--sysroot', root, 'list', '-o', cols]
    ls_cmd = ['lsmem', '--sysroot', root, '-o', cols]
    a = norm(subprocess.run(mp_cmd, capture_output=True, text=True, check=True).stdout)
    b = norm(subprocess.run(ls_cmd, capture_output=True, text=True, check=True).stdout)
    if a != b:
        print('list-vs-lsmem: outputs differ for %s:\n%s\n---\n%s' %
              (cols, '\n'.join(a[:10]), '\n'.join(b[:10])))
        sys.exit(1)
    mp_w, mp_c, ls_w, ls_c = [], [], [], []
    for _ in range(reps):
        w, c = run(mp_cmd)
        mp_w.append(w)
        mp_c.append(c)
        w, c = run(ls_cmd)
        ls_w.append(w)
        ls_c.append(c)
    print('blocks=%d reps=%d columns=%s rows=%d' % (blocks, reps, cols, len(a)))
    print('  memplugctl list: median wall %.1f ms, cpu %.1f ms' % (m(mp_w) * 1e3, m(mp_c) * 1e3))
    print('  lsmem:           median wall %.1f ms, cpu %.1f ms' % (m(ls_w) * 1e3, m(ls_c) * 1e3))
    print('  ratio lsmem/memplugctl: wall %.2fx, cpu %.2fx (target >= 3x)' %
          (m(ls_w) / m(mp_w), m(ls_c) / m(mp_c)))
