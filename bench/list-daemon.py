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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 65536
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 9
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(build, 'bench-root-%d-online' % blocks)
if not os.path.exists(os.path.join(root, '.done')):
    subprocess.run(['rm', '-rf', root], check=True)
    subprocess.run(['/usr/bin/python3', os.path.join(here, 'gen-blocks.py'), root, str(blocks),
                    '--online', 'all', '--iomem'], check=True)
    open(os.path.join(root, '.done'), 'w').close()
rel = os.path.join(root, 'proc', 'sys', 'kernel', 'osrelease')
if not os.path.exists(rel):
    os.makedirs(os.path.dirname(rel), exist_ok=True)
    with open(rel, 'w') as f:
        f.write('6.1.0-bench\n')
root = os.path.abspath(root)
ctl = os.path.join(build, 'cli', 'memplugctl')
mpd = os.path.join(build, 'daemon', 'memplugd')


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


def vm(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return line.split(':')[1].strip()
    return '?'


tmp = tempfile.mkdtemp(prefix='bench-list-daemon-')
pol = os.path.join(tmp, 'policies')
os.makedirs(pol)
fifo = os.path.join(tmp, 'uevents')
os.mkfifo(fifo)
sock = os.path.join(tmp, 'sock')
logf = open(os.path.join(tmp, 'log'), 'w+')
d = subprocess.Popen([mpd, '-n', '--sysroot', root, '-p', pol, '--events', fifo,
                      '--socket', sock, '--state', '', '--channel', ''], stderr=logf)
w = None
try:
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        if d.poll() is not None:
            logf.seek(0)
            sys.exit('memplugd exited: %s' % logf.read())
        try:
            if w is None:
                w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            pass
        logf.seek(0)
        # The socket exists before the first scan is done: "ready" comes after it.
        if w is not None and os.path.exists(sock) and 'ready:' in logf.read():
            break
        time.sleep(0.05)
    else:
        sys.exit('memplugd did not start')
    rss0 = vm(d.pid, 'VmRSS')
    m = statistics.median
    for cols in ('RANGE,SIZE,STATE,BLOCK,NODE', 'RANGE,SIZE,STATE,BLOCK,NODE,ZONES'):
        mp_cmd = [ctl, '--sysroot', root, 'list', '--socket', sock, '-o', cols]
        ls_cmd = ['lsmem', '--sysroot', root, '-o', cols]
        out = subprocess.run(mp_cmd + ['--summary=always'], capture_output=True, text=True,
                             check=True).stdout
        if 'memplugd' not in [l.split(':', 1)[1].split()[0] for l in out.splitlines()
                              if l.startswith('Source:')]:
            sys.exit('list did not answer from memplugd:\n%s' % out)
        a = norm(out)
        b = norm(subprocess.run(ls_cmd, capture_output=True, text=True, check=True).stdout)
        if a != b:
            print('list-daemon: outputs differ for %s:\n%s\n---\n%s' %
                  (cols, '\n'.join(a[:10]), '\n'.join(b[:10])))
            sys.exit(1)
        mp_w, mp_c, ls_w, ls_c = [], [], [], []
        for _ in range(reps):
            x, c = run(mp_cmd)
            mp_w.append(x)
            mp_c.append(c)
            x, c = run(ls_cmd)
            ls_w.append(x)
            ls_c.append(c)
        print('blocks=%d reps=%d columns=%s rows=%d' % (blocks, reps, cols, len(a)))
        print('  memplugctl list (memplugd model): median wall %.1f ms, cpu %.1f ms'
              % (m(mp_w) * 1e3, m(mp_c) * 1e3))
        print('  lsmem --sysroot:                  median wall %.1f ms, cpu %.1f ms'
              % (m(ls_w) * 1e3, m(ls_c) * 1e3))
        print('  ratio lsmem/memplugctl: wall %.1fx, cpu %.1fx (target >= 20x)'
              % (m(ls_w) / m(mp_w), m(ls_c) / max(m(mp_c), 1e-4)))
    print('memplugd on %d blocks: VmRSS %s after its scan, %s after %d list answers (VmHWM %s)'
          % (blocks, rss0, vm(d.pid, 'VmRSS'), 2 * (reps + 1), vm(d.pid, 'VmHWM')))
finally:
    d.terminate()
    d.wait()
    if w is not None:
        os.close(w)
    shutil.rmtree(tmp, ignore_errors=True)
