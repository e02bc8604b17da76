#!/usr/bin/python3
"""memplugd under valgrind's memcheck in a real guest: no invalid access,
no definite leak, over a life that walks the daemon's main paths.

The guest boots the normal test initramfs with a valgrind overlay
(tests/guest/build-initramfs.sh --valgrind-overlay: the kernel unpacks the
concatenated archives in order), so the normal initramfs stays small.
memplugd runs in the foreground under

  valgrind --leak-check=full --errors-for-leak-kinds=definite
           --error-exitcode=99 --log-file=/tmp/vg.%p.log

(one log per process: the drain runs in a forked child) and lives through:
a hot-added DIMM onlined by policy and verified, a reload (SIGHUP), a drain
of that DIMM (memplugctl drain: every block offline), and SIGTERM.  Then
every process's log must say "ERROR SUMMARY: 0 errors" and the daemon must
have exited 0 (99 would be valgrind's verdict).  Skipped (77) when the host
has no valgrind.
"""
import os
import re
import shutil
import subprocess
import sys
import time

import mpd
from guest import Guest, GuestSkip, SKIP, build_dir  # noqa: E402

POLICIES = {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'}
VALGRIND = ('valgrind --leak-check=full --errors-for-leak-kinds=definite '
            '--error-exitcode=99 --log-file=/tmp/vg.%p.log')
# memcheck is some 50x slower than native, on top of TCG: generous waits.
# Measured on a 2-core machine: the first status 11-29 s after the start
# (valgrind's own start and the first scan), every later step under 5 s.
SLOW = 300


class ValgrindGuest(Guest):
    """A Guest whose initrd is the normal one followed by the valgrind overlay."""

    def _qemu_argv(self, vmlinux, initrd):
        overlay = os.path.join(self.workdir, 'valgrind-overlay.cpio.gz')
        both = os.path.join(self.workdir, 'initramfs-valgrind.cpio.gz')
        if not os.path.exists(both):
            here = os.path.dirname(os.path.abspath(__file__))
            subprocess.run([os.path.join(here, '..', 'guest', 'build-initramfs.sh'),
                            '--valgrind-overlay', overlay], check=True)
            with open(both, 'wb') as out:
                for part in (initrd, overlay):
                    with open(part, 'rb') as f:
                        shutil.copyfileobj(f, out)
        return super()._qemu_argv(vmlinux, both)


def test(g):
    mpd.put_policies(g, POLICIES)
    assert g.run('valgrind --version')[0] == 0, 'the valgrind overlay is not in the guest'
    # A script, not one spawn() line: spawn() execs its command, so a
    # trailing "; echo exit=$?" there would never run and nothing would
    # notice valgrind exiting.  The inner sh's pid becomes valgrind's.
    g.put_file(("sh -c 'echo $$ >/tmp/vg.pid; exec %s memplugd -n -v -p %s'\n"
                "echo exit=$? >/tmp/vg.rc\n" % (VALGRIND, mpd.POLICY_DIR)).encode(),
               '/tmp/vg-run.sh', mode=0o755)
    g.spawn('sh /tmp/vg-run.sh', log=mpd.LOG)
    # Stop waiting as soon as valgrind has exited (a fatal error at startup
    # ends it within seconds), not after SLOW.
    t0 = time.monotonic()
    g.wait_until('memplugctl status -J >/dev/null 2>&1 || [ -s /tmp/vg.rc ]',
                 timeout=SLOW, interval=0.5)
    assert g.run('[ -s /tmp/vg.rc ]')[0] != 0, (
        'valgrind exited before memplugd answered: %s\n%s' % (
            g.check('cat /tmp/vg.rc').strip(),
            g.run('cat /tmp/vg.*.log %s 2>&1' % mpd.LOG)[1][-4000:]))
    pid = int(g.check('cat /tmp/vg.pid'))
    print('first status answered after %.1f s' % (time.monotonic() - t0), flush=True)

    # A hot-added DIMM, onlined movable by policy and verified.
    dev = g.add_dimm('dimm0', '256M')
    blocks = g.blocks_of(dev['addr'], dev['size'])
    mpd.assert_clean(mpd.wait_device(g, 'dimm:slot0', timeout=SLOW), len(blocks))
    print('dimm0 online and verified at %.1f s' % (time.monotonic() - t0), flush=True)

    # A reload: the policies read again, the daemon answers after it.
    g.check('kill -HUP %d' % pid)
    g.wait_until("grep -q 'SIGHUP: reloading policies' %s" % mpd.LOG, timeout=SLOW, interval=0.5)
    g.wait_until('memplugctl status -J >/dev/null 2>&1', timeout=SLOW, interval=0.5)
    print('reload answered at %.1f s' % (time.monotonic() - t0), flush=True)

    # A drain: every block of the DIMM offline (the drain runs in a child).
    out = g.check('memplugctl drain --timeout 300 dimm:slot0', timeout=SLOW)
    print(out)
    print('drain done at %.1f s' % (time.monotonic() - t0), flush=True)
    assert 'all-or-nothing: all %d block(s) offline' % len(blocks) in out, out

    # SIGTERM: the daemon stops; valgrind's verdict is in the exit status and the logs.
    g.check('kill -TERM %d' % pid)
    g.wait_until('[ -s /tmp/vg.rc ]', timeout=SLOW, interval=0.5)
    rc = g.check('cat /tmp/vg.rc').strip()
    print('valgrind exited at %.1f s' % (time.monotonic() - t0), flush=True)
    logs = g.check('for f in /tmp/vg.*.log; do echo "== $f"; cat "$f"; done')
    print(logs[-6000:])
    assert rc == 'exit=0', (rc, mpd.log(g)[-2000:])
    summaries = re.findall(r'ERROR SUMMARY: (\d+) errors', logs)
    assert summaries and all(s == '0' for s in summaries), summaries
    assert re.search(r'==%d== ERROR SUMMARY: 0 errors' % pid, logs), 'no verdict for the daemon'
    for m in re.finditer(r'definitely lost: ([\d,]+) bytes', logs):
        assert m.group(1) == '0', m.group(0)
    assert 'Invalid read' not in logs and 'Invalid write' not in logs, logs


def main():
    if not shutil.which('valgrind'):
        print('SKIP: valgrind not installed (tests/install-deps.sh installs it)')
        sys.exit(SKIP)
    t0 = time.monotonic()
    try:
        with ValgrindGuest(name='memplugd-valgrind') as g:
            test(g)
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(SKIP)
    print('total %.1f s' % (time.monotonic() - t0))
    sys.exit(0)


if __name__ == '__main__':
    main()
