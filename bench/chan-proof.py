#!/usr/bin/python3
"""The memplug channel against the QEMU guest agent, in one TCG guest, same run,
interleaved (issue 8, item 6).

Two ratios, each a median over ROUNDS rounds whose order alternates:

1. plug -> proof.  memplug: `memplugctl host plug SIZE --wait-online` (QMP plug,
   then the guest's DEVICE_ONLINE event with its verification).  Peer: the same
   plug without the channel (`memplugctl host plug SIZE`), then the host polls
   the guest agent's `guest-get-memory-blocks` every POLL_MS until every block
   of the new DIMM reads online.  memplugd onlines in both; what differs is how
   the host learns it, and what it learns (the agent: online or not per block;
   the channel: zone, node, verified count, violations).
2. unplug.  memplug: `memplugctl host unplug ID` (prepare-unplug: memplugd
   drains the device all or nothing, then device_del).  Peer, by hand: the
   agent's `guest-set-memory-blocks` offlines every block of the DIMM, then
   QMP device_del, DEVICE_DELETED and object-del of the backend (what an
   operator does without memplug, on connections already open).

qemu-ga comes from the host's qemu-guest-agent package: the bench appends it
and its libraries to the harness initramfs as a second cpio archive.  Usage: bench/chan-proof.py [BUILDDIR] [ROUNDS] [SIZE]
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))
sys.path.insert(0, os.path.join(TOP, 'tests', 'daemon'))
import guest  # noqa: E402
import mpd  # noqa: E402

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(TOP, 'build')
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SIZE = sys.argv[3] if len(sys.argv) > 3 else '512M'
CTL = os.path.join(BUILD, 'cli', 'memplugctl')
POLL_MS = 50
PARTS = []   # coordinated unplugs: (prepare_ms, eject_ms, guest drain elapsed_ms)
SOCKDIR = tempfile.mkdtemp(prefix='mp-bp-')
QMP = os.path.join(SOCKDIR, 'host.sock')
QGA = os.path.join(SOCKDIR, 'qga.sock')
POLICY = {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'}


class Agent:
    """A minimal qemu-ga client: guest-sync-delimited, then one JSON line each way."""

    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.s.settimeout(timeout)
        self.buf = b''
        self.n = 0
        self.sync()

    def _line(self):
        while b'\n' not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise RuntimeError('guest agent closed the socket')
            self.buf += d
        line, self.buf = self.buf.split(b'\n', 1)
        return line.lstrip(b'\xff')

    def sync(self):
        # The agent may have half a reply from an earlier client: 0xff resets
        # its parser, guest-sync-delimited's id marks where our replies start.
        self.n += 1
        self.s.sendall(b'\xff' + json.dumps({'execute': 'guest-sync-delimited',
                                             'arguments': {'id': self.n}}).encode() + b'\n')
        while True:
            line = self._line()
            if line.strip() and json.loads(line).get('return') == self.n:
                return

    def __call__(self, cmd, **args):
        msg = {'execute': cmd}
        if args:
            msg['arguments'] = args
        self.s.sendall(json.dumps(msg).encode() + b'\n')
        r = json.loads(self._line())
        if 'error' in r:
            raise RuntimeError('%s: %s' % (cmd, r['error']))
        return r['return']


def agent_cpio(workdir):
    """A cpio.gz with qemu-ga and its libraries, appended to the harness's
    initramfs (the kernel unpacks concatenated archives in order)."""
    qga = shutil.which('qemu-ga') or '/usr/sbin/qemu-ga'
    if not os.access(qga, os.X_OK):
        raise guest.GuestSkip('qemu-ga missing: apt-get install qemu-guest-agent')
    root = tempfile.mkdtemp(prefix='mp-qga-')
    libs = [ln.split('=>')[1].split()[0] for ln in
            subprocess.check_output(['ldd', qga], text=True).splitlines() if '=> /' in ln]
    for f in libs + [qga]:
        dst = os.path.join(root, f.lstrip('/'))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.realpath(f), dst)
    out = os.path.join(workdir, 'qga.cpio.gz')
    subprocess.run('cd %s && find . | cpio -o -H newc --quiet | gzip -1 > %s' % (root, out),
                   shell=True, check=True)
    shutil.rmtree(root)
    return out


class AgentGuest(guest.Guest):
    """The harness guest with qemu-ga in its initramfs."""

    def _boot(self, vmlinux, initrd):
        both = os.path.join(self.workdir, 'initramfs+qga.cpio.gz')
        with open(both, 'wb') as out:
            for part in (initrd, agent_cpio(self.workdir)):
                with open(part, 'rb') as f:
                    shutil.copyfileobj(f, out)
        return super()._boot(vmlinux, both)


def start_agent(g):
    port = g.check('for p in /sys/class/virtio-ports/*; do '
                   '[ "$(cat $p/name)" = org.qemu.guest_agent.0 ] && basename $p; done; true').strip()
    if not port:
        raise guest.GuestError('no virtio port org.qemu.guest_agent.0 in the guest')
    g.check('mkdir -p /var/run; qemu-ga -d -m virtio-serial -p /dev/%s -f /var/run/qga.pid '
            '-l /tmp/qga.log' % port, timeout=60)


def ctl(*args):
    t = time.monotonic()
    r = subprocess.run([CTL, 'host', '--qmp', QMP] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    if r.returncode:
        raise RuntimeError('memplugctl host %s: exit %d: %s' % (' '.join(args), r.returncode,
                                                                r.stderr))
    return (time.monotonic() - t) * 1000, r.stdout


def dimm_blocks(g, id):
    d = g.memory_devices()[id]
    return g.blocks_of(d['addr'], d['size'])


def plug_channel(g, chan):
    ms, out = ctl('--channel', chan, 'plug', SIZE, '--wait-online', '-J')
    j = json.loads(out)
    p, = j['proof']
    assert p['outcome'] == 'online' and p['verified'] == p['expected_blocks'], p
    return ms, j['plugged'][0]


def plug_agent(g, agent):
    t = time.monotonic()
    _, out = ctl('plug', SIZE, '-J')
    id = json.loads(out)['plugged'][0]
    want = set(dimm_blocks(g, id))
    while True:
        online = {b['phys-index'] for b in agent('guest-get-memory-blocks') if b['online']}
        if want <= online:
            return (time.monotonic() - t) * 1000, id
        time.sleep(POLL_MS / 1000)


def unplug_channel(g, chan, id):
    ms, out = ctl('--channel', chan, 'unplug', id, '-J')
    j = json.loads(out)
    rep = j[0] if isinstance(j, list) else j
    rep = rep.get('unplugged', [rep])[0] if isinstance(rep.get('unplugged'), list) else rep
    PARTS.append((rep.get('prepare_ms'), rep.get('eject_ms'),
                  (rep.get('drain') or {}).get('elapsed_ms')))
    return ms


def unplug_agent(g, agent, id):
    t = time.monotonic()
    dev = g.memory_devices()[id]
    blocks = g.blocks_of(dev['addr'], dev['size'])
    res = agent('guest-set-memory-blocks',
                **{'mem-blks': [{'phys-index': b, 'online': False} for b in blocks]})
    bad = [r for r in res if r['response'] != 'success']
    assert not bad, bad
    # events queued on this monitor since the last unplug of an id
    # like this one (memplugctl's own unplugs are broadcast here too): a
    # stale DEVICE_DELETED would end the wait before this one's
    g.qmp('query-status')
    g.events = [e for e in g.events if e.get('event') != 'DEVICE_DELETED']
    g.qmp('device_del', id=id)
    g.wait_event('DEVICE_DELETED', timeout=120,
                 pred=lambda e: e.get('data', {}).get('device') == id)
    # the backend goes too, as memplugctl host unplug deletes it with the
    # device: an operator's unplug is both
    g.qmp('object-del', id=dev['memdev'].rsplit('/', 1)[-1])
    return (time.monotonic() - t) * 1000


def main():
    qga_args = ['-chardev', 'socket,id=qga,path=%s,server=on,wait=off' % QGA,
                '-device', 'virtserialport,chardev=qga,name=org.qemu.guest_agent.0',
                '-qmp', 'unix:%s,server=on,wait=off' % QMP]
    res = {'plug_chan': [], 'plug_agent': [], 'unplug_chan': [], 'unplug_agent': []}
    with AgentGuest(mem='1G', slots=8, maxmem='16G', channel=True, name='bench-chan-proof',
                     qemu_args=qga_args, builddir=BUILD) as g:
        start_agent(g)
        agent = Agent(QGA)
        mpd.start(g, POLICY)
        chan = g.channel_path
        for r in range(ROUNDS):
            order = ['chan', 'agent'] if r % 2 == 0 else ['agent', 'chan']
            for way in order:
                if way == 'chan':
                    ms, id = plug_channel(g, chan)
                    res['plug_chan'].append(ms)
                    res['unplug_chan'].append(unplug_channel(g, chan, id))
                else:
                    ms, id = plug_agent(g, agent)
                    res['plug_agent'].append(ms)
                    res['unplug_agent'].append(unplug_agent(g, agent, id))
            print('round %d: %s' % (r, {k: round(v[-1]) for k, v in res.items()}), flush=True)
        mpd.stop(g)
    med = {k: statistics.median(v) for k, v in res.items()}
    print('\n%s DIMM, %d rounds, medians (ms):' % (SIZE, ROUNDS))
    for k, v in med.items():
        print('  %-13s %8.0f  (min %.0f, max %.0f)' % (k, v, min(res[k]), max(res[k])))
    print('plug -> proof: channel / agent (poll %d ms) = %.2fx' %
          (POLL_MS, med['plug_chan'] / med['plug_agent']))
    print('coordinated unplug parts (prepare-unplug round trip, eject, guest drain): %s'
          % PARTS)
    print('unplug: coordinated / raw offline + device_del = %.2fx (target <= 1.2x)' %
          (med['unplug_chan'] / med['unplug_agent']))


if __name__ == '__main__':
    main()
