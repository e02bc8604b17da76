"""Helpers for the growth tests and bench (tests/channel/test_grow.py,
bench/psi-grow.py): memory pressure in a busybox guest, and memplugctl host
serve as a child process whose -J decisions are read line by line.

What makes PSI memory stall in a no-swap initramfs guest (measured, 6.1,
TCG, 512 MiB): a global hog does not.  Everything the guest has is
unreclaimable (anonymous memory, rootfs/tmpfs pages, no swap), so a dd with
a 380 MiB buffer ran straight into the OOM killer with 32 ms of `some`
stall in total (avg10 0.18).  A hog in a memory cgroup over its
memory.high does: the kernel reclaims what it can (nothing) and then
throttles the task on every return to userspace
(mem_cgroup_handle_over_high(), inside psi_memstall_enter()), which
/proc/pressure/memory counts at the root: `some` stall of most of each
window, and no OOM kill.
"""
import json
import os
import select
import signal
import subprocess
import time

CG = '/sys/fs/cgroup'


def hog_start(g, high='64M', buf='160M'):
    """Starts a dd whose buffer (buf) is over its cgroup's memory.high;
    returns its pid."""
    g.check('grep -q " %s cgroup2" /proc/mounts || mount -t cgroup2 none %s; '
            'echo +memory > %s/cgroup.subtree_control; mkdir -p %s/hog; '
            'echo %s > %s/hog/memory.high' % (CG, CG, CG, CG, high, CG))
    return g.spawn("sh -c 'echo $$ > %s/hog/cgroup.procs; "
                   "exec dd if=/dev/zero of=/dev/null bs=%s count=100000'" % (CG, buf),
                   log='/tmp/hog.log')


def hog_stop(g, pid):
    g.run('kill -9 %d 2>/dev/null; sleep 0.2; true' % pid)


def psi(g):
    return g.check('cat /proc/pressure/memory')


class Serve:
    """memplugctl host --qmp QMP --channel CHAN serve --config FILE -J
    (conn: other connection arguments instead, e.g. --connect URI --domain D)."""

    def __init__(self, ctl, qmp, chan, config, log, conn=None):
        self.log_path = log
        self.err = open(log, 'w')
        conn = conn or ['--qmp', qmp, '--channel', chan]
        self.p = subprocess.Popen([ctl, 'host'] + conn + ['serve', '--config', config, '-J'],
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.buf = ''

    def decision(self, timeout):
        """The next decision (dict) within timeout seconds, or None."""
        deadline = time.monotonic() + timeout
        while '\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536).decode()
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split('\n', 1)
        d = json.loads(line)
        print('serve decision:', line, flush=True)
        return d

    def stop(self, timeout=120):
        """SIGTERM; returns the exit status."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.err.close()
        return rc

    def log(self):
        with open(self.log_path) as f:
            return f.read()
