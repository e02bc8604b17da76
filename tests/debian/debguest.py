"""tests/debian/debguest.py: a Debian guest under real systemd, for the
`debian` suite.  Built from memplug's own .debs (build-debs.sh) by mmdebstrap
(build-image.sh), booted with the host's Debian kernel and initrd under TCG,
driven through the same command channel as tests/guest/guest.py (served in
the image by the mp-chan service, which does not depend on memplug) and QMP.

DebGuest is a tests/guest Guest: check(), run(), qmp(), add_dimm(),
make_devdax() ... work unchanged.  What differs: the root is an ext4 disk
(a qcow2 overlay per test over the cached image, so the image stays
pristine), systemd is PID 1, and boot takes ~40 s, not ~5.

Caching, in $MEMPLUG_BUILD_DIR/debian/: debs/ (rebuilt when a tracked or
untracked-but-not-ignored source file changes), image/
root.img (rebuilt when the .debs, the recipe or the kernel change).
MEMPLUG_DEBIAN_KVER picks another installed kernel.
"""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
import guest  # noqa: E402
from guest import Guest, GuestError, GuestSkip, GuestTimeout  # noqa: E402,F401

SRC = os.environ.get('MEMPLUG_SOURCE_DIR') or os.path.dirname(os.path.dirname(HERE))


def log(msg):
    print('debian: ' + msg, file=sys.stderr, flush=True)


def _run(argv, what):
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode == 77:
        raise GuestSkip('%s: %s' % (what, r.stdout.strip()))
    if r.returncode:
        raise GuestError('%s failed (%d):\n%s' % (what, r.returncode, r.stdout))
    if r.stdout.strip() and what:
        log('%s (%.1f s): %s' % (what, time.monotonic() - t0, r.stdout.strip().replace('\n', '; ')))
    return r.stdout


def debs_dir(builddir=None):
    return os.path.join(builddir or guest.build_dir(), 'debian', 'debs')


def prepare_debs(builddir=None):
    """Builds (or reuses) the packages; returns their directory."""
    for t in ('dpkg-buildpackage', 'lintian'):
        if not shutil.which(t):
            raise GuestSkip('%s not found: run tests/install-deps.sh' % t)
    d = debs_dir(builddir)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(os.path.dirname(d), '.debs.lock'), 'w') as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        _run([os.path.join(HERE, 'build-debs.sh'), SRC, d], 'build-debs.sh')
    return d


def prepare(builddir=None):
    """Returns (vmlinux, initrd, root.img), building what is out of date."""
    guest.check_host()
    if not shutil.which('mmdebstrap'):
        raise GuestSkip('mmdebstrap not found: run tests/install-deps.sh')
    if not shutil.which('qemu-img'):
        raise GuestSkip('qemu-img not found: install qemu-utils')
    builddir = builddir or guest.build_dir()
    ddir = os.path.join(builddir, 'debian')
    debs = prepare_debs(builddir)
    os.makedirs(ddir, exist_ok=True)
    with open(os.path.join(ddir, '.image.lock'), 'w') as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        # The kernel tests/guest boots (the newest with modules), as Debian
        # ships it: the bzImage itself (its decompression costs a few seconds
        # of a ~40 s systemd boot) and Debian's initrd, which mounts the root.
        kver = os.environ.get('MEMPLUG_DEBIAN_KVER') or _run(
            [os.path.join(HERE, '..', 'guest', 'fetch-kernel.sh'), '--kver'], '').strip()
        vmlinuz = '/boot/vmlinuz-' + kver
        initrd = '/boot/initrd.img-' + kver
        if not os.path.exists(initrd):
            raise GuestSkip('%s missing: the Debian guest boots Debian\'s own initrd' % initrd)
        idir = os.path.join(ddir, 'image')
        _run([os.path.join(HERE, 'build-image.sh'), os.path.join(debs, 'debs'), kver, idir],
             'build-image.sh')
        return vmlinuz, initrd, os.path.join(idir, 'root.img')


class DebGuest(Guest):
    """Guest(**kw) booting the Debian image.  Extra: restart() reboots the
    same disk (and NVDIMM backing files) in a new QEMU."""

    def __init__(self, boot_timeout=300, cmdline='', **kw):
        cmdline = ' '.join(cmdline) if isinstance(cmdline, (list, tuple)) else cmdline
        super().__init__(boot_timeout=boot_timeout,
                         cmdline=('root=/dev/vda rw ' + cmdline).strip(), **kw)

    def start(self):
        self._kernel = prepare(self.builddir)
        vmlinux, initrd, image = self._kernel
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.makedirs(self.workdir)
        self._disk = os.path.join(self.workdir, 'root.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image,
                        self._disk], check=True)
        self._files.append(self._disk)
        self._sockdir = tempfile.mkdtemp(prefix='memplug-deb-')
        self._chan_path = os.path.join(self._sockdir, 'chan.sock')
        self._qmp_path = os.path.join(self._sockdir, 'qmp.sock')
        self._install_sigterm()
        import atexit
        atexit.register(self.stop)
        self._boot_retrying()
        return self

    def _boot_retrying(self):
        vmlinux, initrd, _ = self._kernel
        Guest._boot_retrying(self, vmlinux, initrd)
        # The channel comes up after basic.target; wait for the whole boot.
        t = time.monotonic()
        rc, out = self.run('systemctl is-system-running --wait', timeout=self.boot_timeout)
        self.system_state = out.strip()
        self.boot_time += time.monotonic() - t
        log('%s: systemd says "%s" %.1f s after QEMU started' % (self.name, self.system_state,
                                                                   self.boot_time))
        if self.system_state != 'running':
            log('failed units:\n' + self.run('systemctl --failed --no-pager')[1])

    def restart(self):
        """Quits QEMU and boots the same disk again (a cold reboot: the
        overlay and the NVDIMM backing files stay)."""
        try:
            self.qmp('quit', timeout=5)
            self.proc.wait(10)
        except (GuestError, OSError, subprocess.TimeoutExpired):
            pass
        self._kill()
        os.replace(self.console_log(), self.console_log() + '.boot1')
        self._boot_retrying()

    def _qemu_argv(self, vmlinux, initrd):
        return super()._qemu_argv(vmlinux, initrd) + [
            '-drive', 'file=%s,if=virtio,format=qcow2,cache=unsafe' % self._disk]

    # ---- systemd helpers -------------------------------------------------

    def show(self, unit, *props):
        """systemctl show UNIT -p PROPS as a dict."""
        out = self.check('systemctl show %s %s' % (unit, ' '.join('-p ' + p for p in props)))
        return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)

    def journal(self, args='-u memplugd', json_out=False, timeout=60):
        """journalctl -b ARGS; with json_out, a list of entries."""
        if json_out:
            out = self.check('journalctl -b --no-pager -o json %s' % args, timeout=timeout)
            return [json.loads(line) for line in out.splitlines() if line.startswith('{')]
        return self.check('journalctl -b --no-pager -o short-monotonic %s' % args,
                          timeout=timeout)

    def status(self, wait=None, timeout=60):
        """memplugctl status -J (optionally --wait DEVICE) as a dict."""
        cmd = 'memplugctl status -J'
        if wait:
            cmd += ' --wait %s --timeout %d' % (wait, timeout)
        rc, out = self.run(cmd, timeout=timeout + 30)
        try:
            return json.loads(out)
        except ValueError:
            raise GuestError('memplugctl status: rc %d: %s' % (rc, out))


def main(test, **kw):
    """Runs test(guest) in a fresh DebGuest(**kw) and exits: 0 on success,
    77 (with the reason) when this host can't build or boot the guest, 1 on
    failure (the traceback)."""
    guest.main(test, cls=DebGuest, **kw)
