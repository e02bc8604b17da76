"""Real test guests for memplug's e2e tests: QEMU under TCG, Debian's kernel,
a busybox initramfs with memplug's binaries, a command channel on a serial
port and QMP on a unix socket.  Python stdlib only.  See README.md.

    from guest import Guest, main

    def test(g):
        g.add_dimm('dimm0', '1G')
        print(g.check('cat /sys/devices/system/memory/memory32/state'))

    if __name__ == '__main__':
        main(test, mem='1G')
"""

import atexit
import base64
import ctypes
import fcntl
import io
import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

#: Binaries from the build directory that go into the initramfs (if built).
BINARIES = ('cli/memplugctl', 'daemon/memplugd')

SYSMEM = '/sys/devices/system/memory'


class GuestError(Exception):
    """Anything that went wrong with the guest or QEMU."""


class GuestSkip(GuestError):
    """The host can't run guests (no QEMU, no kernel): the test exits 77."""


class GuestTimeout(GuestError):
    """A command, boot or event wait took too long."""


class CommandError(GuestError):
    """A guest command exited non-zero."""

    def __init__(self, cmd, rc, output):
        self.cmd, self.rc, self.output = cmd, rc, output
        super().__init__('guest command failed (rc %d): %s\n--- output ---\n%s'
                         % (rc, cmd, output.rstrip()))


class EjectRefused(GuestError):
    """The guest refused a DIMM's eject (ACPI _OST, source 3, with a failure
    status such as 0x82 'device busy'); .info is the ACPI_DEVICE_OST info."""

    def __init__(self, id, info):
        self.id, self.info = id, info
        super().__init__('guest refused to eject %s: _OST status %#x (%s)'
                         % (id, info.get('status', -1), info))


class QMPError(GuestError):
    """QMP answered with an error; .cls and .desc are QMP's class and desc."""

    def __init__(self, cmd, cls, desc):
        self.cmd, self.cls, self.desc = cmd, cls, desc
        super().__init__('QMP %s failed: %s: %s' % (cmd, cls, desc))


def parse_size(s):
    """'1G', '512M', '128K', '4096' or an int -> bytes (binary units)."""
    if isinstance(s, int):
        return s
    m = re.fullmatch(r'\s*(\d+)\s*([KMGT]?)(i?B)?\s*', str(s), re.I)
    if not m:
        raise ValueError('bad size %r' % (s,))
    return int(m.group(1)) << {'': 0, 'K': 10, 'M': 20, 'G': 30, 'T': 40}[m.group(2).upper()]


def _qsize(n):
    """Bytes -> the shortest exact QEMU size string."""
    for suf, sh in (('T', 40), ('G', 30), ('M', 20), ('K', 10)):
        if n and n % (1 << sh) == 0:
            return '%d%s' % (n >> sh, suf)
    return str(n)


def build_dir():
    d = os.environ.get('MEMPLUG_BUILD_DIR')
    if d:
        return os.path.abspath(d)
    return os.path.join(os.path.dirname(os.path.dirname(HERE)), 'build')


def _log(msg):
    print('guest: ' + msg, file=sys.stderr, flush=True)


def _set_pdeathsig():
    # QEMU dies with the test process, even if that is SIGKILLed.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


def _newer(path, than):
    return os.path.exists(path) and all(
        os.path.getmtime(path) >= os.path.getmtime(t) for t in than if os.path.exists(t))


def require_built(ctl, qemu=None):
    """Exits SKIP, saying why, unless memplugctl @ctl is built and (when named)
    the QEMU binary @qemu is installed: a test that cannot run is a skip for
    meson, not a failure."""
    if not os.access(ctl, os.X_OK):
        print('SKIP: memplugctl not built')
        sys.exit(SKIP)
    if qemu and not shutil.which(qemu):
        print('SKIP: %s not installed' % qemu)
        sys.exit(SKIP)


def check_host():
    """Raises GuestSkip with the reason when this host can't boot guests."""
    if not shutil.which('qemu-system-x86_64'):
        raise GuestSkip('qemu-system-x86_64 not found: install qemu-system-x86')
    kernels = [f for f in os.listdir('/boot') if f.startswith('vmlinuz-')
               and os.path.isdir('/lib/modules/' + f[len('vmlinuz-'):])] \
        if os.path.isdir('/boot') else []
    if not kernels:
        raise GuestSkip('no kernel in /boot with modules: install linux-image-amd64')
    if not any(os.path.exists(b) for b in ('/bin/busybox', '/usr/bin/busybox')):
        raise GuestSkip('busybox not found: install busybox-static')
    if not shutil.which('cpio'):
        raise GuestSkip('cpio not found: install cpio')


def guest_kernel():
    """The version the guests boot: $MEMPLUG_GUEST_KERNEL (a full version or a
    series such as 6.12) resolved by fetch-kernel.sh, else the newest
    installed kernel.  Raises GuestError when no installed kernel matches."""
    r = subprocess.run([os.path.join(HERE, 'fetch-kernel.sh'), '--kver'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise GuestError('fetch-kernel.sh --kver failed: ' + r.stderr.strip())
    return r.stdout.strip()


def kernel_version(kver):
    """'6.12.95+deb12-amd64' -> (6, 12, 95); '6.1.0-57-amd64' -> (6, 1, 0).
    Debian's 6.1 package names carry the ABI, not the upstream patch level:
    compare majors and minors only."""
    m = re.match(r'(\d+)\.(\d+)(?:\.(\d+))?', kver)
    if not m:
        raise ValueError('bad kernel version %r' % (kver,))
    return tuple(int(x or 0) for x in m.groups())


def prepare(builddir=None, force=False, kver=None):
    """Builds (or reuses) BUILDDIR/guest/KVER/{vmlinux,kver,initramfs.cpio.gz}
    for kernel KVER (default: guest_kernel()).  vmlinux is the uncompressed
    kernel, or the bzImage itself when its payload can't be extracted
    (KVER/format says which).

    The initramfs is rebuilt when it is older than one of memplug's binaries,
    the kernel or the scripts that make it, or when the set of binaries
    changed.  Returns (vmlinux, initramfs)."""
    check_host()
    builddir = builddir or build_dir()
    kver = kver or guest_kernel()
    top = os.path.join(builddir, 'guest')
    gdir = os.path.join(top, kver)
    os.makedirs(gdir, exist_ok=True)
    with open(os.path.join(top, '.lock'), 'w') as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        # The layout before one directory per kernel: 60 MB nobody reads.
        for old in ('vmlinux', 'kver', 'initramfs.cpio.gz', 'initramfs.inputs'):
            if os.path.isfile(os.path.join(top, old)):
                os.unlink(os.path.join(top, old))
        env = dict(os.environ, MEMPLUG_GUEST_KERNEL=kver)
        r = subprocess.run([os.path.join(HERE, 'fetch-kernel.sh'), gdir], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            raise GuestError('fetch-kernel.sh failed:\n' + r.stdout)
        vmlinux = os.path.join(gdir, 'vmlinux')
        initrd = os.path.join(gdir, 'initramfs.cpio.gz')
        stamp = os.path.join(gdir, 'initramfs.inputs')
        bins = [os.path.join(builddir, b) for b in BINARIES
                if os.access(os.path.join(builddir, b), os.X_OK)]
        inputs = bins + [vmlinux, os.path.join(HERE, 'init.sh'),
                         os.path.join(HERE, 'build-initramfs.sh'), '/usr/bin/ndctl']
        want = '\n'.join(bins) + '\n'
        try:
            have = open(stamp).read()
        except OSError:
            have = None
        if force or have != want or not _newer(initrd, inputs):
            t0 = time.monotonic()
            r = subprocess.run([os.path.join(HERE, 'build-initramfs.sh'), builddir, initrd],
                               env=dict(env, KVER=kver),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode:
                raise GuestError('build-initramfs.sh failed:\n' + r.stdout)
            with open(stamp, 'w') as f:
                f.write(want)
            _log('initramfs for %s rebuilt in %.1f s (%s)'
                 % (kver, time.monotonic() - t0, ', '.join(os.path.basename(b) for b in bins) or
                    'no memplug binaries built yet'))
        return vmlinux, initrd


class Guest:
    """One QEMU guest.  Use as a context manager: QEMU is stopped on exit,
    also on exceptions (and killed with the test process: PR_SET_PDEATHSIG).

    mem        boot RAM ('1G', '1000M', bytes); ignored when numa is given
    slots, maxmem   DIMM slots and the hotplug ceiling (-m mem,slots=,maxmem=)
    numa       list of node sizes, e.g. ['512M', '512M']: one memory-backend-ram
               per node; a size of 0 makes a memory-less node.  CPUs are spread
               round-robin over the nodes that have memory.
    nvdimm     -M pc,nvdimm=on (implied by nvdimms)
    nvdimms    NVDIMMs present at boot: sizes, or (size, node) tuples; backing
               files <workdir>/nvdimmN.img, devices nvdimmN
    cmdline    extra kernel command line (str or list)
    online     memhp_default_state (default 'offline'; None leaves it out)
    qemu_args  extra QEMU arguments (list), e.g. a virtio-mem device
    channel    the memplug channel: a virtio-serial port org.memplug.0 whose
               host end is a unix socket (server, no wait) at .channel_path;
               the test connects to it as the host would
    name       work dir name (default: the test script's name)
    workdir    explicit work dir (default BUILDDIR/e2e-work/<name>, with
               -$MEMPLUG_GUEST_KERNEL appended when that is set), wiped at start
    """

    def __init__(self, mem='1G', slots=8, maxmem='16G', numa=None, nvdimm=False,
                 nvdimms=(), cmdline='', online='offline', qemu_args=(), smp=2,
                 channel=False, name=None, workdir=None, builddir=None, boot_timeout=40,
                 boot_retries=1, verbose=True):
        self.builddir = builddir or build_dir()
        self.name = name or os.path.splitext(os.path.basename(sys.argv[0] or 'guest'))[0]
        # One work dir per kernel asked for, so a run on each kernel
        # (tests/run-all.sh) keeps both sets of console logs.
        kern = os.environ.get('MEMPLUG_GUEST_KERNEL')
        self.workdir = workdir or os.path.join(
            self.builddir, 'e2e-work', self.name + ('-' + kern if kern else ''))
        self.numa = [parse_size(s) for s in numa] if numa else None
        self.mem = sum(self.numa) if self.numa else parse_size(mem)
        self.slots, self.maxmem = slots, parse_size(maxmem)
        self.nvdimms = [n if isinstance(n, tuple) else (n, None) for n in nvdimms]
        self.nvdimm = nvdimm or bool(self.nvdimms)
        self.cmdline = ' '.join(cmdline) if isinstance(cmdline, (list, tuple)) else cmdline
        self.online = online
        self.qemu_args = list(qemu_args)
        self.smp = smp
        self.channel = channel
        self.channel_path = None   # the memplug channel's socket, with channel=True
        self.boot_timeout, self.boot_retries = boot_timeout, boot_retries
        self.verbose = verbose
        self.proc = None
        self.boot_time = None
        self.kver = None          # the kernel booted, set by start()
        self.kernel = None        # its (major, minor, patch), for version rules
        self.events = []
        self._sockdir = None
        self._chan = self._qmp = None
        self._chbuf, self._qbuf = bytearray(), b''
        self._qmp_id = 0
        self._files = []          # backing files removed at stop()

    # ---- lifecycle -------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def console_log(self):
        """Path of the guest's serial console log (kernel messages, /init)."""
        return os.path.join(self.workdir, 'console.log')

    def console_tail(self, n=40):
        try:
            with open(self.console_log(), errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return '(no console log)'

    def _qemu_argv(self, vmlinux, initrd):
        append = ['console=ttyS0', 'panic=-1']
        if self.online is not None:
            append.append('memhp_default_state=' + self.online)
        if self.cmdline:
            append.append(self.cmdline)
        machine = 'pc,nvdimm=on' if self.nvdimm else 'pc'
        a = ['qemu-system-x86_64', '-accel', 'tcg,thread=multi', '-cpu', 'max',
             '-smp', str(self.smp), '-nographic', '-nodefaults', '-no-reboot',
             '-M', machine,
             '-m', '%s,slots=%d,maxmem=%s' % (_qsize(self.mem), self.slots, _qsize(self.maxmem)),
             '-kernel', vmlinux, '-initrd', initrd, '-append', ' '.join(append),
             '-chardev', 'file,id=con,path=' + self.console_log(), '-serial', 'chardev:con',
             '-chardev', 'socket,id=chan,path=%s,server=on,wait=off' % self._chan_path,
             '-serial', 'chardev:chan',
             '-qmp', 'unix:%s,server=on,wait=off' % self._qmp_path]
        if self.channel_path:
            a += ['-device', 'virtio-serial',
                  '-chardev', 'socket,id=mpch,path=%s,server=on,wait=off' % self.channel_path,
                  '-device', 'virtserialport,chardev=mpch,name=org.memplug.0']
        if self.numa:
            withmem = [i for i, s in enumerate(self.numa) if s]
            cpus = {i: [] for i in range(len(self.numa))}
            for c in range(self.smp):
                cpus[withmem[c % len(withmem)]].append(c)
            for i, size in enumerate(self.numa):
                n = 'node,nodeid=%d' % i
                for c in cpus[i]:
                    n += ',cpus=%d' % c
                if size:
                    a += ['-object', 'memory-backend-ram,id=ram-node%d,size=%s' % (i, _qsize(size))]
                    n += ',memdev=ram-node%d' % i
                a += ['-numa', n]
        for i, (size, node) in enumerate(self.nvdimms):
            path = os.path.join(self.workdir, 'nvdimm%d.img' % i)
            self._files.append(path)
            a += ['-object', 'memory-backend-file,id=mem-nvdimm%d,share=on,mem-path=%s,size=%s'
                  % (i, path, _qsize(parse_size(size))),
                  '-device', 'nvdimm,id=nvdimm%d,memdev=mem-nvdimm%d%s'
                  % (i, i, '' if node is None else ',node=%d' % node)]
        return a + self.qemu_args

    def start(self):
        """Boots the guest; returns when its command channel is ready.  A boot
        that doesn't reach /init's ready marker in boot_timeout seconds is
        retried (about 1 TCG boot in 170 hangs after 'Booting from ROM'), and
        so is one where the kernel panicked before /init was ready: 6.12
        under multi-threaded TCG now and then oopses on an int3 in
        sched_clock_cpu() while it patches a static key early in boot
        (text_poke_bp(); seen once in ~30 6.12 boots, never on 6.1)."""
        check_host()
        self.kver = guest_kernel()
        self.kernel = kernel_version(self.kver)
        vmlinux, initrd = prepare(self.builddir, kver=self.kver)
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.makedirs(self.workdir)
        # Unix socket paths are limited to 107 bytes: keep them short.
        self._sockdir = tempfile.mkdtemp(prefix='memplug-guest-')
        self._chan_path = os.path.join(self._sockdir, 'chan.sock')
        self._qmp_path = os.path.join(self._sockdir, 'qmp.sock')
        if self.channel:
            self.channel_path = os.path.join(self._sockdir, 'mpch.sock')
        self._install_sigterm()
        atexit.register(self.stop)   # for callers that don't use "with"
        self._boot_retrying(vmlinux, initrd)
        return self

    def _boot_retrying(self, vmlinux, initrd):
        """Boot; a boot that hung or whose kernel died early is retried
        (boot_retries times); anything else fails at once."""
        for attempt in range(self.boot_retries + 1):
            try:
                self._boot(vmlinux, initrd)
                return
            except GuestTimeout as e:
                log = self.console_tail()
                self._kill()
                if attempt == self.boot_retries:
                    self.stop()
                    raise GuestTimeout('%s\n--- console ---\n%s' % (e, log))
                _log('boot hung (%s), retrying' % e)
                os.replace(self.console_log(), self.console_log() + '.hung%d' % attempt)
            except GuestError as e:
                # Only a kernel that died before /init was ready is retried:
                # anything else (bad QEMU arguments, ...) fails at once.
                log = self._boot_panicked()
                if log is None:
                    self.stop()
                    raise
                if attempt == self.boot_retries:
                    self.stop()
                    raise GuestError('%s: the kernel died during boot\n--- console ---\n%s'
                                     % (e, log)) from e
                self._kill()
                panic = [ln for ln in log.splitlines() if 'Oops' in ln or 'Kernel panic' in ln]
                _log('kernel died during boot (%s), retrying' % (panic[0].strip() if panic else e))
                os.replace(self.console_log(), self.console_log() + '.panic%d' % attempt)
            except BaseException:
                self.stop()
                raise

    def _boot_panicked(self):
        """After a boot failed with the channel closed: the console's tail if
        QEMU exited because the kernel panicked (6.12's int3 oops under MTTCG,
        docs/kernel.md), else None.  QEMU closes the channel a moment before
        it exits."""
        if self.proc is None or not hasattr(self.proc, 'wait'):
            return None
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return None
        log = self.console_tail()
        return log if 'Kernel panic' in log else None

    def _install_sigterm(self):
        # meson test ends a test that overruns with SIGTERM: turn it into an
        # exception so that context managers stop QEMU.
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            def handler(signum, frame):
                raise SystemExit('guest: SIGTERM')
            try:
                signal.signal(signal.SIGTERM, handler)
            except ValueError:
                pass   # not the main thread

    def _boot(self, vmlinux, initrd):
        for p in (self._chan_path, self._qmp_path, self.channel_path):
            if p and os.path.exists(p):
                os.unlink(p)
        argv = self._qemu_argv(vmlinux, initrd)
        with open(os.path.join(self.workdir, 'qemu.cmdline'), 'w') as f:
            f.write(' '.join(shlex.quote(x) for x in argv) + '\n')
        t0 = time.monotonic()
        qlog = open(os.path.join(self.workdir, 'qemu.log'), 'ab')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog,
                                     stderr=subprocess.STDOUT, preexec_fn=_set_pdeathsig)
        qlog.close()
        self._chbuf, self._qbuf = bytearray(), b''
        self.events = []
        # QEMU creates its listening sockets before the guest runs; connect to
        # the channel at once, since what the guest writes before a client is
        # connected is lost (the ready marker included).
        self._chan = self._connect(self._chan_path, t0 + 10)
        self._qmp = self._connect(self._qmp_path, t0 + 10)
        greeting = self._qmp_read(t0 + 10)
        if 'QMP' not in greeting:
            raise GuestError('unexpected QMP greeting: %r' % greeting)
        self.qmp('qmp_capabilities')
        self._chan_until(b'@@MP-READY@@\n', t0 + self.boot_timeout, 'boot')
        self.boot_time = time.monotonic() - t0
        if self.verbose:
            _log('%s booted %s in %.2f s (pid %d, work dir %s)'
                 % (self.name, self.kver, self.boot_time, self.proc.pid, self.workdir))

    def _connect(self, path, deadline):
        while True:
            self._check_alive()
            if os.path.exists(path):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(path)
                    return s
                except (ConnectionRefusedError, FileNotFoundError):
                    s.close()
            if time.monotonic() > deadline:
                raise GuestError('QEMU did not create %s' % path)
            time.sleep(0.01)

    def _check_alive(self):
        if self.proc is None:
            raise GuestError('guest not started')
        rc = self.proc.poll()
        if rc is not None:
            try:
                qlog = open(os.path.join(self.workdir, 'qemu.log'), errors='replace').read()
            except OSError:
                qlog = ''
            raise GuestError('QEMU exited with status %d\n--- qemu.log ---\n%s\n'
                             '--- console ---\n%s' % (rc, qlog.strip(), self.console_tail()))

    def _kill(self):
        for s in (self._chan, self._qmp):
            if s:
                s.close()
        self._chan = self._qmp = None
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait()

    def stop(self, timeout=5):
        """Quits QEMU (QMP quit, then SIGKILL by pid) and removes the sockets
        and NVDIMM backing files.  Safe to call twice."""
        if self.proc and self.proc.poll() is None and self._qmp:
            try:
                self.qmp('quit', timeout=2)
            except (GuestError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None
        for f in self._files:
            try:
                os.unlink(f)
            except OSError:
                pass

    # ---- command channel -------------------------------------------------

    def _recv(self, sock, deadline, what, name):
        """The next bytes from sock (the connection called name), waiting
        until deadline for them; checks on QEMU while it waits."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestTimeout('timed out waiting for %s' % what)
            r, _, _ = select.select([sock], [], [], min(left, 0.5))
            if r:
                data = sock.recv(1 << 16)
                if not data:
                    self._check_alive()
                    raise GuestError('%s closed' % name)
                return data
            self._check_alive()

    def _chan_fill(self, deadline, what):
        """Reads what the channel has (waiting until deadline) into the buffer."""
        self._check_alive()
        self._chbuf += self._recv(self._chan, deadline, what, 'command channel')

    def _chan_until(self, marker, deadline, what):
        """Reads the channel until marker is in the buffer; returns the index
        of its end."""
        while True:
            i = self._chbuf.find(marker)
            if i >= 0:
                return i + len(marker)
            self._chan_fill(deadline, what)

    def run(self, cmd, timeout=30):
        """Runs a shell script (busybox sh, stdin /dev/null, stderr merged into
        stdout) in the guest.  Returns (rc, output).  The guest kills the
        command with SIGKILL after timeout seconds (rc 137); the host gives up
        a few seconds later with GuestTimeout."""
        self._check_alive()
        tag = '%x' % random.getrandbits(48)
        line = '__mp %s %d %s\n' % (tag, int(timeout + 0.999) if timeout else 0,
                                    base64.b64encode(cmd.encode()).decode())
        self._chan.sendall(line.encode())
        return self._answer(tag, line, timeout, cmd, resend=line)

    def _answer(self, tag, line, timeout, cmd, resend):
        """Reads the framed answer to command tag: (rc, output)."""
        short = cmd if len(cmd) < 200 else cmd[:200] + '...'
        deadline = time.monotonic() + (timeout + 5 if timeout else 1e9)
        begin = ('@@MP-BEGIN %s@@\n' % tag).encode()
        beginre = re.compile(re.escape(begin) + rb'|@@MP-BADLINE \d+@@\n')
        endre = re.compile(rb'\n@@MP-END ' + tag.encode() + rb' (-?\d+)@@\n')
        try:
            while True:
                m = beginre.search(self._chbuf)
                if not m:
                    self._chan_fill(deadline, 'command start: ' + short)
                    continue
                # Anything before our begin marker is a late answer to a
                # command that timed out on the host: drop it.
                b, bad = m.end(), m.group(0) != begin
                del self._chbuf[:b]
                if not bad:
                    break
                # The guest got a line it could not parse (bytes lost on the
                # serial line) and ran nothing: send ours again, once.
                if not resend:
                    raise GuestError('guest received a garbled command line: ' + short)
                _log('command line garbled in transit, resending')
                self._chan.sendall(resend.encode())
                resend = None
            pos = 0
            while True:
                m = endre.search(self._chbuf, pos)
                if m:
                    break
                pos = max(0, len(self._chbuf) - 64)
                self._chan_fill(deadline, 'command: ' + short)
        except GuestTimeout as e:
            raise GuestTimeout('%s (after %s s)\n--- output so far ---\n%s' % (
                e, timeout, self._chbuf.decode(errors='replace')[-4000:])) from None
        rc, out = int(m.group(1)), bytes(self._chbuf[:m.start()])
        del self._chbuf[:m.end()]   # m refers to the buffer: read it first
        return rc, out.decode(errors='replace')

    def check(self, cmd, timeout=30):
        """Like run(), but raises CommandError (with the output) on rc != 0;
        returns the output."""
        rc, out = self.run(cmd, timeout)
        if rc:
            raise CommandError(cmd, rc, out)
        return out

    def read(self, path):
        """Contents of a guest file as str (stripped)."""
        return self.check('cat %s' % shlex.quote(path)).strip()

    def write(self, path, value):
        """Writes value to a guest (sysfs) file; raises CommandError on failure."""
        return self.check('echo %s > %s' % (shlex.quote(str(value)), shlex.quote(path)))

    def wait_until(self, shell_cond, timeout=10, interval=0.05):
        """Polls shell_cond inside the guest (one round trip) until it
        succeeds; raises GuestTimeout with the last output otherwise."""
        script = ('i=0; while ! { %s ; } >/tmp/.mp-wait 2>&1; do i=$((i+1)); '
                  '[ $i -ge %d ] && { cat /tmp/.mp-wait; exit 1; }; sleep %s; done'
                  % (shell_cond, max(1, int(timeout / interval)), interval))
        rc, out = self.run(script, timeout=timeout * 2 + 5)
        if rc:
            raise GuestTimeout('guest condition not met in %s s: %s\n%s'
                               % (timeout, shell_cond, out))

    def get_file(self, path, timeout=60):
        """Contents of a guest file as bytes (base64 over the channel)."""
        out = self.check('base64 %s' % shlex.quote(path), timeout)
        return base64.b64decode(out)

    def put_file(self, data, path, mode=0o644, timeout=120):
        """Writes bytes (or a host file, if data is a path str) to a guest
        path.  The base64 goes raw over the channel after the command line
        (~150 KB/s)."""
        if isinstance(data, str):
            with open(data, 'rb') as f:
                data = f.read()
        b64 = base64.b64encode(data)
        tag = '%x' % random.getrandbits(48)
        self._check_alive()
        self._chan.settimeout(timeout)
        try:
            self._chan.sendall(('__mpput %s %d %s\n' % (tag, len(b64), shlex.quote(path))).encode())
            self._chan.sendall(b64)
        except socket.timeout:
            raise GuestTimeout('upload to %s stalled' % path) from None
        finally:
            self._chan.settimeout(None)
        rc, out = self._answer(tag, '', timeout, 'upload to ' + path, resend=None)
        if rc:
            raise CommandError('upload to ' + path, rc, out)
        self.check('chmod %o %s' % (mode, shlex.quote(path)))

    def fetch_dir(self, guest_dir, host_dir, timeout=120):
        """Copies a guest directory tree to host_dir (tar | gzip | base64 over
        the channel).  Copy /sys or /proc files into /tmp first: tar sees
        their sizes as 4096/0."""
        out = self.check('tar -C %s -cf - . | gzip -1 | base64' % shlex.quote(guest_dir),
                         timeout)
        data = base64.b64decode(out)
        os.makedirs(host_dir, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as t:
            if hasattr(tarfile, 'fully_trusted_filter'):
                t.extractall(host_dir, filter='fully_trusted')
            else:
                t.extractall(host_dir)
        return len(data)

    def dmesg(self):
        return self.check('dmesg')

    def spawn(self, cmd, log=None):
        """Starts cmd in the background in the guest (its own session, stdin
        /dev/null, output to log, default /tmp/spawn-<pid>.log).  Returns its
        pid.  Never background a process from run() without redirecting its
        output: it inherits the command channel and would write into the
        answers of later commands."""
        log = log or '/tmp/spawn-$$.log'
        out = self.check('setsid sh -c %s </dev/null >%s 2>&1 & echo $!'
                         % (shlex.quote('exec ' + cmd), log))
        return int(out.split()[-1])

    # ---- QMP -------------------------------------------------------------

    def _qmp_read(self, deadline):
        """Next QMP message (dict); events are returned like any message."""
        while True:
            i = self._qbuf.find(b'\n')
            if i >= 0:
                line, self._qbuf = self._qbuf[:i], self._qbuf[i + 1:]
                if line.strip():
                    return json.loads(line)
                continue
            self._qbuf += self._recv(self._qmp, deadline, 'QMP', 'QMP connection')

    def qmp(self, cmd, timeout=30, **args):
        """Executes a QMP command; returns its 'return' value or raises
        QMPError(cls, desc).  Events that arrive meanwhile are queued for
        wait_event().  Hyphenated arguments: g.qmp('object-add', **{'qom-type': ...})."""
        self._qmp_id += 1
        msg = {'execute': cmd, 'id': self._qmp_id}
        if args:
            msg['arguments'] = args
        self._qmp.sendall(json.dumps(msg).encode() + b'\n')
        deadline = time.monotonic() + timeout
        while True:
            r = self._qmp_read(deadline)
            if 'event' in r:
                self.events.append(r)
            elif r.get('id') == self._qmp_id:
                if 'error' in r:
                    raise QMPError(cmd, r['error'].get('class'), r['error'].get('desc'))
                return r.get('return')

    def wait_event(self, name, timeout=10, pred=None):
        """Returns (and dequeues) the first event called name for which
        pred(event) is true, waiting up to timeout seconds.  Earlier events
        are kept in self.events."""
        deadline = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.events):
                e = self.events[i]
                if e.get('event') == name and (pred is None or pred(e)):
                    return self.events.pop(i)
                i += 1
            try:
                r = self._qmp_read(deadline)
            except GuestTimeout:
                raise GuestTimeout('no QMP event %s in %s s (seen: %s)' % (
                    name, timeout, [e.get('event') for e in self.events])) from None
            if 'event' in r:
                self.events.append(r)

    def memory_devices(self):
        """query-memory-devices as {id: data} (data has addr, size, node, slot...)."""
        return {d['data'].get('id'): dict(d['data'], type=d['type'])
                for d in self.qmp('query-memory-devices')}

    def add_dimm(self, id, size, node=None, wait=True, timeout=30):
        """Hot-adds a pc-dimm (memory-backend-ram 'mem-<id>').  With wait,
        returns after the guest's ACPI_DEVICE_OST for it.  Returns the device's
        query-memory-devices data (addr, size, node, slot)."""
        self.qmp('object-add', **{'qom-type': 'memory-backend-ram', 'id': 'mem-' + id,
                                  'size': parse_size(size)})
        dev = {'driver': 'pc-dimm', 'id': id, 'memdev': 'mem-' + id}
        if node is not None:
            dev['node'] = node
        self.qmp('device_add', **dev)
        if wait:
            self.wait_event('ACPI_DEVICE_OST', timeout,
                            lambda e: e['data']['info'].get('device') == id)
        return self.memory_devices()[id]

    def del_dimm(self, id, timeout=30):
        """device_del of a pc-dimm; waits for DEVICE_DELETED, then deletes its
        backend; returns the DEVICE_DELETED event.  Raises EjectRefused if
        the guest refused the eject (it could not offline the blocks): QEMU
        reports that only as ACPI_DEVICE_OST source 3 with a status other
        than 0 (done) or 0x84 (in progress); the DIMM stays, and so do
        the blocks, in their state."""
        self.qmp('device_del', id=id)
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e['event'] == 'DEVICE_DELETED' and e['data'].get('device') == id:
                    self.events.pop(i)
                    self.qmp('object-del', id='mem-' + id)
                    return e
                info = e.get('data', {}).get('info', {})
                if (e['event'] == 'ACPI_DEVICE_OST' and info.get('device') == id and
                        info.get('source') == 3 and info.get('status') not in (0, 0x84)):
                    self.events.pop(i)
                    raise EjectRefused(id, info)
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestTimeout('no DEVICE_DELETED for %s in %s s' % (id, timeout))
            r = self._qmp_read(time.monotonic() + left)
            if 'event' in r:
                self.events.append(r)

    def add_nvdimm(self, id, size, node=None, label_size=None, timeout=10):
        """Hot-adds an NVDIMM backed by <workdir>/<id>.img (share=on).  Needs
        nvdimm=True.  Returns its query-memory-devices data."""
        path = os.path.join(self.workdir, id + '.img')
        self._files.append(path)
        size = parse_size(size)
        if label_size:
            size += parse_size(label_size)
        self.qmp('object-add', **{'qom-type': 'memory-backend-file', 'id': 'mem-' + id,
                                  'mem-path': path, 'share': True, 'size': size})
        dev = {'driver': 'nvdimm', 'id': id, 'memdev': 'mem-' + id}
        if node is not None:
            dev['node'] = node
        if label_size:
            dev['label-size'] = parse_size(label_size)
        self.qmp('device_add', **dev)
        return self.memory_devices()[id]

    @staticmethod
    def virtio_mem_args(id, size, node=0, requested=0, block_size=None):
        """QEMU arguments for a virtio-mem device 'id' with a
        memory-backend-ram 'mem-<id>' of size (the most it can plug); pass
        them as qemu_args.  Its memory counts against maxmem."""
        dev = 'virtio-mem-pci,id=%s,memdev=mem-%s,node=%d,requested-size=%s' % (
            id, id, node, _qsize(parse_size(requested)))
        if block_size:
            dev += ',block-size=' + _qsize(parse_size(block_size))
        return ['-object', 'memory-backend-ram,id=mem-%s,size=%s' % (id, _qsize(parse_size(size))),
                '-device', dev]

    def resize_virtio_mem(self, id, size, timeout=30, wait=True):
        """Sets requested-size of virtio-mem device id and, with wait, polls
        its 'size' until the guest has plugged/unplugged that much (the
        MEMORY_DEVICE_SIZE_CHANGE event comes at most about once a second).
        Note: the guest driver stops plugging while more than 1 GiB of its
        memory sits offline: online the blocks (or boot with online=...)
        when growing by more.  'size' counts what the device has plugged:
        on a shrink it reaches the target before the guest has removed the
        memory blocks and the 'System RAM (virtio_mem)' resource, so wait
        for those in the guest.  Returns the final size."""
        size = parse_size(size)
        path = '/machine/peripheral/' + id
        self.qmp('qom-set', path=path, property='requested-size', value=size)
        if not wait:
            return None
        deadline = time.monotonic() + timeout
        while True:
            cur = self.qmp('qom-get', path=path, property='size')
            if cur == size:
                return cur
            if time.monotonic() > deadline:
                raise GuestTimeout('virtio-mem %s at %d bytes, not %d, after %s s'
                                   % (id, cur, size, timeout))
            time.sleep(0.05)

    # ---- memory blocks ---------------------------------------------------

    def block_size(self):
        """Memory block size in bytes."""
        return int(self.read(SYSMEM + '/block_size_bytes'), 16)

    def blocks_of(self, addr, size):
        """The memory block numbers covering [addr, addr+size)."""
        bs = self.block_size()
        return list(range(addr // bs, (addr + size + bs - 1) // bs))

    def wait_for_blocks(self, blocks, timeout=10):
        """Waits until memoryN exists in the guest for every N in blocks."""
        blocks = list(blocks)
        cond = ' && '.join('[ -e %s/memory%d/state ]' % (SYSMEM, b) for b in blocks)
        self.wait_until(cond or 'true', timeout)

    def block_states(self, blocks):
        """{N: state} for the given block numbers (one round trip)."""
        blocks = list(blocks)
        out = self.check('for b in %s; do echo "$b $(cat %s/memory$b/state)"; done'
                         % (' '.join(map(str, blocks)), SYSMEM))
        return {int(a): b for a, b in (l.split(None, 1) for l in out.splitlines() if l.strip())}

    def set_block_state(self, block, state):
        """Writes state ('online_movable', 'offline', ...) to memoryN/state."""
        self.write('%s/memory%d/state' % (SYSMEM, block), state)

    # ---- NVDIMM -> devdax -> kmem ----------------------------------------

    def make_devdax(self, namespace='namespace0.0', align=None, map='dev', timeout=20):
        """Turns a raw (label-less) NVDIMM namespace into device-dax through
        sysfs alone, as 'ndctl create-namespace -f -e NS --mode=devdax' does.
        Returns the device-dax name (e.g. 'dax0.0', on the dax bus, bound to
        device_dax, /dev/dax0.0).  map='dev' keeps the struct pages on the
        device (~1/64 of it, like ndctl's default), 'mem' puts them in RAM.
        See README.md for the steps."""
        script = r'''
set -e
ns=%(ns)s
nd=/sys/bus/nd
[ -e $nd/devices/$ns ] || { echo "no $ns"; ls $nd/devices; exit 1; }
region=$(basename "$(readlink -f $nd/devices/$ns/..)")
# Let go of the namespace (raw mode: bound to nd_pmem as /dev/pmemN).
if [ -e $nd/devices/$ns/driver ]; then
	echo $ns > $nd/devices/$ns/driver/unbind
fi
seed=$(cat $nd/devices/$region/dax_seed)
[ -n "$seed" ] || { echo "$region has no dax seed"; exit 1; }
d=$nd/devices/$seed
cat /proc/sys/kernel/random/uuid > $d/uuid
echo %(map)s > $d/mode
%(align)s
echo $ns > $d/namespace
echo $seed > $nd/drivers/dax_pmem/bind
# dax_pmem registers the device-dax instance on the dax bus.
i=0
while [ -z "$(ls $d/ 2>/dev/null | grep '^dax[0-9]*\.[0-9]*$')" ]; do
	i=$((i+1)); [ $i -lt 100 ] || { echo "no dax device under $seed"; ls $d; exit 1; }
	sleep 0.05
done
ls $d | grep '^dax[0-9]*\.[0-9]*$'
''' % {'ns': shlex.quote(namespace), 'map': 'pmem' if map == 'dev' else 'ram',
            'align': 'echo %d > $d/align' % parse_size(align) if align else ''}
        out = self.check(script, timeout)
        name = out.split()[-1]
        self.wait_until('[ -e /sys/bus/dax/devices/%s/driver ]' % name, 5)
        return name

    def bind_kmem(self, dax, timeout=30):
        """Hands a device-dax instance to kmem (unbind from device_dax,
        new_id to kmem).  Its memory blocks appear offline (with
        memhp_default_state=offline).  Returns the block numbers, read from
        the 'System RAM (kmem)' ranges under it in /proc/iomem."""
        b = '/sys/bus/dax'
        self.check('''
set -e
if [ -e {b}/devices/{d}/driver ]; then
	echo {d} > {b}/devices/{d}/driver/unbind
fi
echo {d} > {b}/drivers/kmem/new_id
[ -e {b}/drivers/kmem/{d} ] || {{ echo "{d} is not bound to kmem"; exit 1; }}
'''.format(b=b, d=shlex.quote(dax)), timeout)
        return self.kmem_blocks(dax)

    def iomem(self):
        """/proc/iomem as [(depth, start, end, name)]."""
        res = []
        for l in self.check('cat /proc/iomem').splitlines():
            m = re.match(r'^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$', l)
            if m:
                res.append((len(m.group(1)) // 2, int(m.group(2), 16),
                            int(m.group(3), 16), m.group(4)))
        return res

    def kmem_blocks(self, dax):
        """Block numbers of the 'System RAM (kmem)' ranges under daxX.Y."""
        bs = self.block_size()
        io = self.iomem()
        blocks = []
        for i, (depth, start, end, name) in enumerate(io):
            if name != dax:
                continue
            for d2, s2, e2, n2 in io[i + 1:]:
                if d2 <= depth:
                    break
                if n2 == 'System RAM (kmem)':
                    blocks += range(s2 // bs, (e2 + 1) // bs)
        return sorted(set(blocks))


def main(test, cls=None, **guest_args):
    """Runs test(guest) in a fresh Guest(**guest_args) (or another class of
    guest: cls) and exits: 0 on success, 77 (with the reason) when the host
    can't run guests, 1 on failure.  Prints timings."""
    t0 = time.monotonic()
    try:
        with (cls or Guest)(**guest_args) as g:
            t1 = time.monotonic()
            test(g)
            _log('test body %.2f s' % (time.monotonic() - t1))
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(SKIP)
    _log('total %.2f s' % (time.monotonic() - t0))
    sys.exit(0)
