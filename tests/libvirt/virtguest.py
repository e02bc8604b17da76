"""A tests/guest/guest.py Guest booted through libvirt instead of a QEMU
child process: same kernel, initramfs and command channel (a unix-socket
serial port libvirt's QEMU listens on), so the guest-side helpers (check,
set_block_state, wait_for_blocks...) work unchanged.  QMP belongs to libvirt
here: qmp() goes through `virsh qemu-monitor-command`.

Also starts virtlogd and libvirtd when none is running (as the recipe in
GUEST-RECIPE.md says) and stops, by pid, only what it started.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import guest
from guest import Guest, GuestError, GuestSkip

URI = 'qemu:///system'


def virsh(*args, check=True, timeout=60):
    r = subprocess.run(['virsh', '-c', URI] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and r.returncode:
        raise GuestError('virsh %s: %s' % (' '.join(args), r.stderr.strip()))
    return r.stdout


def _answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def live_channel_path(domain, name='org.memplug.0'):
    """The socket libvirt made for the domain's channel NAME (live XML)."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(virsh('dumpxml', domain))
    for ch in root.iter('channel'):
        t, src = ch.find('target'), ch.find('source')
        if t is not None and t.get('name') == name and src is not None:
            return src.get('path')
    raise GuestError('%s: no %s channel in the live XML' % (domain, name))


class Daemons:
    """virtlogd + libvirtd, started only when libvirt does not answer."""

    def __init__(self):
        self.started = []

    def __enter__(self):
        if not shutil.which('libvirtd') or not shutil.which('virsh'):
            raise GuestSkip('libvirtd/virsh not installed: install libvirt-daemon-system')
        if os.geteuid() != 0:
            raise GuestSkip('libvirt tests start libvirtd as root: run as root')
        if subprocess.run(['virsh', '-c', URI, 'version'], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=60).returncode == 0:
            return self
        for name, pidfile, sock in (('virtlogd', '/run/virtlogd.pid', '/run/libvirt/virtlogd-sock'),
                                    ('libvirtd', '/run/libvirtd.pid', '/run/libvirt/libvirt-sock')):
            # a daemon counts as running when its socket answers (a process
            # list would also show exited, unreaped ones)
            if _answers(sock):
                continue
            subprocess.run([name, '-d'], check=True)
            for _ in range(100):
                if os.path.exists(pidfile):
                    break
                time.sleep(0.05)
            self.started.append(int(open(pidfile).read().split()[0]))
        # the first start probes QEMU's capabilities (~9 s)
        self._wait_answer('libvirtd')
        return self

    @staticmethod
    def _wait_answer(who, timeout=60):
        deadline = time.monotonic() + timeout
        while subprocess.run(['virsh', '-c', URI, 'version'], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode:
            if time.monotonic() > deadline:
                raise GuestError('%s did not answer within %d s' % (who, timeout))
            time.sleep(0.2)

    @staticmethod
    def _wait_gone(pid, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def restart_libvirtd(self):
        """Stops the libvirtd this object started (SIGTERM) and starts a new
        one, which reconnects to the running domains; returns the old pid."""
        old = int(open('/run/libvirtd.pid').read().split()[0])
        assert old in self.started, 'only a libvirtd started here is restarted'
        os.kill(old, 15)
        self._wait_gone(old)
        subprocess.run(['libvirtd', '-d'], check=True)
        self._wait_answer('the restarted libvirtd')
        self.started[self.started.index(old)] = int(open('/run/libvirtd.pid').read().split()[0])
        return old

    def __exit__(self, *exc):
        for pid in reversed(self.started):
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                continue
            self._wait_gone(pid, timeout=5)
        return False


# The memplug channel as an operator adds it: libvirt picks the socket's
# path (under /var/lib/libvirt/qemu/channel/target/) and shows it in the
# live XML, where memplugctl host --connect finds it.  The virtio-serial
# controller is spelled out although libvirt would add one.
CHANNEL_XML = ("<controller type='virtio-serial' index='0'/>\n"
               "    <channel type='unix'><source mode='bind'/>"
               "<target type='virtio' name='org.memplug.0'/></channel>")


class VirtGuest(Guest):
    """Guest(**kw) plus: domain name, virtio_mem (max size, or 0 for none).
    channel (default True here): the domain has the memplug channel
    (CHANNEL_XML); .channel_path is its socket as libvirt reports it."""

    def __init__(self, domain, virtio_mem='1G', **kw):
        kw.setdefault('channel', True)
        super().__init__(**kw)
        self.domain = domain
        self.virtio_mem = guest.parse_size(virtio_mem)
        self.running = False

    def _domain_xml(self, vmlinux, initrd):
        append = 'console=ttyS0 panic=-1'
        if self.online is not None:
            append += ' memhp_default_state=' + self.online
        vmem = ''
        if self.virtio_mem:
            vmem = ("<memory model='virtio-mem'><target><size unit='KiB'>%d</size>"
                    "<node>0</node><block unit='KiB'>2048</block>"
                    "<requested unit='KiB'>0</requested></target></memory>"
                    % (self.virtio_mem >> 10))
        chan = CHANNEL_XML if self.channel else ''
        return """<domain type='qemu'>
  <name>{name}</name>
  <maxMemory slots='{slots}' unit='KiB'>{maxmem}</maxMemory>
  <memory unit='KiB'>{mem}</memory>
  <vcpu>{smp}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{vmlinux}</kernel><initrd>{initrd}</initrd><cmdline>{append}</cmdline></os>
  <features><acpi/></features>
  <cpu mode='maximum'><numa><cell id='0' cpus='0-{lastcpu}' memory='{mem}' unit='KiB'/></numa></cpu>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='{console}'/><target port='0'/></serial>
    <serial type='unix'><source mode='bind' path='{chan}'/><target port='1'/></serial>
    {vmem}
    {mpchan}
    <memballoon model='none'/>
  </devices>
</domain>""".format(name=self.domain, slots=self.slots, maxmem=self.maxmem >> 10,
                    mem=self.mem >> 10, smp=self.smp, lastcpu=self.smp - 1,
                    vmlinux=vmlinux, initrd=initrd, append=append,
                    console=self.console_log(), chan=self._chan_path, vmem=vmem,
                    mpchan=chan)

    def _boot_files(self):
        """The kernel and initrd to boot, copied into self._sockdir: libvirt's
        QEMU runs as another user and relabels what it uses.  Subclasses boot
        other images (tests/debian)."""
        vmlinux, initrd = guest.prepare(self.builddir)
        return self._copy_in(((vmlinux, 'vmlinux'), (initrd, 'initramfs.cpio.gz')))

    def _copy_in(self, files):
        out = []
        for src, name in files:
            dst = os.path.join(self._sockdir, name)
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
            out.append(dst)
        return out

    def _booted(self):
        """After /init's ready marker: what a subclass waits for besides."""
        return 'ready'

    def start(self):
        self._install_sigterm()
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.makedirs(self.workdir)
        self._sockdir = tempfile.mkdtemp(prefix='memplug-virt-')
        os.chmod(self._sockdir, 0o755)
        vmlinux, initrd = self._boot_files()
        self._chan_path = os.path.join(self._sockdir, 'chan.sock')
        xml = os.path.join(self._sockdir, 'domain.xml')
        with open(xml, 'w') as f:
            f.write(self._domain_xml(vmlinux, initrd))
        virsh('destroy', self.domain, check=False)
        t0 = time.monotonic()
        # paused, so the channel is connected before /init prints its marker
        virsh('create', xml, '--paused')
        self.running = True
        self.proc = True
        if self.channel:
            self.channel_path = live_channel_path(self.domain)
        self._chbuf = bytearray()
        try:
            deadline = t0 + 30
            while True:
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(self._chan_path)
                    self._chan = s
                    break
                except OSError:
                    s.close()
                    if time.monotonic() > deadline:
                        raise GuestError('no channel socket from libvirt')
                    time.sleep(0.05)
            virsh('resume', self.domain)
            self._chan_until(b'@@MP-READY@@\n', t0 + self.boot_timeout, 'boot')
            state = self._booted()
        except BaseException:
            self.stop()
            raise
        self.boot_time = time.monotonic() - t0
        guest._log('%s booted through libvirt (%s) in %.2f s' % (self.domain, state, self.boot_time))
        return self

    def _check_alive(self):
        if not self.running:
            raise GuestError('guest not started')

    def qmp(self, cmd, timeout=30, **args):
        out = virsh('qemu-monitor-command', self.domain,
                    json.dumps({'execute': cmd, 'arguments': args}), timeout=timeout)
        r = json.loads(out)
        if 'error' in r:
            raise guest.QMPError(cmd, r['error'].get('class'), r['error'].get('desc'))
        return r.get('return')

    def stop(self, timeout=5):
        if self._chan:
            self._chan.close()
            self._chan = None
        if self.running:
            virsh('destroy', self.domain, check=False)
            self.running = False
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None
