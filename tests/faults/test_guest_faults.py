#!/usr/bin/python3
"""Guest-side faults with real components: one TCG guest (Debian's kernel),
memplugd in it, memplugctl host on the memplug channel and on a second QMP
monitor.  One boot for every case; docs/faults.md lists what each showed.

drain_killed  memplugd SIGKILLed while it drains a 1 GiB DIMM (400 MiB of
              tmpfs in it) for `memplugctl host unplug`: the host's unplug
              exits non-zero with outcome guest-restarted (or timeout), no
              device_del; the restarted memplugd onlines what the killed
              drain offlined, in the zone it had; a second unplug works.
online_killed memplugd SIGKILLed as soon as the first block of a 2 GiB DIMM
              is online: the restarted memplugd finishes the device in the
              same zone, every block online once, none written twice, and
              verifies all of them (also those the killed run onlined).
enobufs       memplugd with --uevent-rcvbuf 2048 and a burst of 6 x 128 MiB
              DIMMs: it logs ENOBUFS, rescans, every DIMM ends online and
              verified.
state_full    memplugd's state file on a full tmpfs (ENOSPC), then on a
              read-only one (EROFS): each new DIMM is still onlined and
              verified, the log and `memplugctl status` name the path and the
              errno; once the disk has room again a save clears it.
qemu_killed_unplug  QEMU SIGKILLed while `memplugctl host unplug` waits for
              the guest's drain: exit 1, outcome connection-lost (not
              guest-restarted), no device_del.  Last: it ends the guest.
Each case prints `ok: ...` or `FAIL: ...`; the test fails on any FAIL.
Usage: test_guest_faults.py MEMPLUGCTL
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'daemon'))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
import mpd  # noqa: E402
from hostctl import HostCtl  # noqa: E402

CTL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ''
SOCKDIR = tempfile.mkdtemp(prefix='mp-gf-')
QMP = os.path.join(SOCKDIR, 'host.sock')
POLICIES = {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'}
GIB = 1 << 30
HOT = 4 * GIB   # the hotplug area of a 1 GiB guest starts at 4 GiB
M = mpd.MEM


def log_size(g):
    return int(g.check('wc -c < %s' % mpd.LOG).strip() or 0)


def log_since(g, off):
    return g.check('tail -c +%d %s' % (off + 1, mpd.LOG))


def add_dimm_at(g, id, size, addr=None):
    """object-add + device_add (at addr when given), waiting for the
    guest's ACPI_DEVICE_OST; returns the device's data."""
    g.qmp('object-add', **{'qom-type': 'memory-backend-ram', 'id': 'mem-' + id, 'size': size})
    dev = {'driver': 'pc-dimm', 'id': id, 'memdev': 'mem-' + id}
    if addr is not None:
        dev['addr'] = addr
    g.qmp('device_add', **dev)
    g.wait_event('ACPI_DEVICE_OST', 30, lambda e: e['data']['info'].get('device') == id)
    return g.memory_devices()[id]



def all_movable(g, blocks):
    z = mpd.zones(g, blocks)
    return all(v == ('online', 'Movable') for v in z.values()) and len(z) == len(blocks), z


def block_list(blocks):
    return ' '.join(map(str, blocks))


def watcher(g, blocks, want, name):
    """Spawns a guest loop that SIGKILLs memplugd the moment one of blocks
    reads `want` (shell builtins only: no fork between look and kill), then
    counts the blocks in that state after memplugd (and its drain child,
    PR_SET_PDEATHSIG) are gone.  Returns the path of its report."""
    out = '/tmp/%s.watch' % name
    pid = int(g.check('pidof memplugd').split()[0])
    script = (
        'p=%(pid)d; m=%(m)s; hit=\n'
        'while [ -z "$hit" ]; do for b in %(bl)s; do\n'
        '  [ -e $m/memory$b/state ] && read s < $m/memory$b/state && [ "$s" = %(want)s ] &&\n'
        '    { kill -9 $p; hit=$b; break; }\n'
        'done; done\n'
        'count() { n=0; l=; for b in %(bl)s; do read s < $m/memory$b/state; '
        '[ "$s" = %(want)s ] && { n=$((n+1)); l="$l,$b"; }; done; echo "$n $l"; }\n'
        'echo "hit $hit at_kill $(count)"\n'
        'while kill -0 $p 2>/dev/null || pidof memplugd >/dev/null; do sleep 0.05; done\n'
        'echo "after_death $(count)"\n'
        'echo done\n'
    ) % {'pid': pid, 'm': M, 'bl': block_list(blocks), 'want': want}
    g.put_file(script.encode(), out + '.sh', timeout=30)
    g.spawn('sh %s.sh' % out, log=out)
    return out


def watch_result(g, out, timeout=120):
    g.wait_until('grep -q ^done %s' % out, timeout=timeout)
    text = g.check('cat %s' % out)
    m = re.search(r'hit (\d+) at_kill (\d+) \S*\s+after_death (\d+) (\S*)', text)
    assert m, text
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)),
            [int(b) for b in m.group(4).split(',') if b])


def writes(log):
    """Blocks memplugd wrote online_* to, in order, from its log."""
    return [int(b) for b in re.findall(r'memory(\d+): online_(?:movable|kernel): ok', log)]


# ---- the cases -------------------------------------------------------------------

def case_drain_killed(g):
    """memplugd SIGKILLed while draining for a coordinated host unplug."""
    host = HostCtl(CTL, '--qmp', QMP, '--channel', g.channel_path, '--timeout', '60')
    dev = add_dimm_at(g, 'fb0', GIB, HOT)
    blocks = g.blocks_of(dev['addr'], dev['size'])
    key = 'dimm:slot%d' % dev['slot']
    mpd.assert_clean(mpd.wait_device(g, key), len(blocks))
    # Something to migrate, so that the drain takes long enough to be
    # interrupted: shmem pages are movable and land in ZONE_MOVABLE first.
    g.check('mkdir -p /tmp/fill && mount -t tmpfs -o size=600m fill /tmp/fill && '
            'dd if=/dev/zero of=/tmp/fill/f bs=1M count=400 2>/dev/null', timeout=120)
    off = log_size(g)
    w = watcher(g, blocks, 'offline', 'drain')
    t0 = time.monotonic()
    p = subprocess.Popen(host.argv + ['-J', 'unplug', 'fb0'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    hit, at_kill, after, drained = watch_result(g, w)
    t_kill = time.monotonic() - t0
    print('drain: memplugd SIGKILLed %.2f s after the host unplug started, when memory%d '
          'read offline (%d of %d offline at the kill, %d once memplugd and its drain '
          'child were gone)' % (t_kill, hit, at_kill, len(blocks), after))
    mpd.start(g)   # the restarted memplugd greets the host
    out, err = p.communicate(timeout=180)
    t_host = time.monotonic() - t0
    print('$ memplugctl host -J unplug fb0 -> %d after %.1f s\n%s%s'
          % (p.returncode, t_host, out, err))
    rep = json.loads(out) if out.strip().startswith('{') else {}
    outcome = rep.get('outcome', '')
    assert p.returncode != 0, 'the unplug succeeded though memplugd was killed mid-drain'
    assert outcome in ('guest-restarted', 'timeout'), (outcome, err)
    assert 'fb0' in g.memory_devices(), 'device_del was sent: %s' % g.memory_devices()
    assert not [e for e in g.events if e.get('event') == 'DEVICE_DELETED'], g.events
    d = mpd.wait_device(g, key)
    ok, z = all_movable(g, blocks)
    log = log_since(g, off)
    back = writes(log)
    print('restarted memplugd: %s outcome %s, onlined %d, verified %d, message %r; wrote '
          'online_movable to %s' % (key, d['outcome'], d['onlined'], d['verified'],
                                    d['message'], back))
    assert ok, z
    assert d['outcome'] == 'online' and d['violations'] == 0 and d['failed'] == 0, d
    assert sorted(back) == drained, (back, drained)   # those, each once
    print('ok: drain_killed: host unplug exit %d outcome %s in %.1f s, no device_del; '
          'memplugd killed with %d/%d blocks offline (%s), the restarted one onlined those '
          'back to movable (each once), all %d online'
          % (p.returncode, outcome, t_host, after, len(blocks), drained, len(blocks)))
    # The guest is whole again: the unplug now goes through.
    g.check('rm -f /tmp/fill/f && umount /tmp/fill')
    r = host('-J', 'unplug', 'fb0', rc=None)
    rep = json.loads(r.stdout) if r.stdout.strip().startswith('{') else {}
    assert r.returncode == 0 and rep.get('outcome') == 'unplugged', (r.returncode, r.stderr)
    g.wait_until('[ ! -e %s/memory%d ]' % (M, blocks[-1]), timeout=60)
    print('  then: unplug of fb0 -> %s' % rep.get('outcome'))


def case_online_killed(g):
    """memplugd SIGKILLed as soon as the first block of a 2 GiB DIMM is online."""
    addr = 8 * GIB
    blocks = g.blocks_of(addr, 2 * GIB)
    off = log_size(g)
    w = watcher(g, blocks, 'online', 'online')
    dev = add_dimm_at(g, 'fa0', 2 * GIB, addr)
    key = 'dimm:slot%d' % dev['slot']
    hit, at_kill, after, done = watch_result(g, w)
    print('online: memplugd SIGKILLed when memory%d read online (%d of %d online at the '
          'kill, %d once it was gone)' % (hit, at_kill, len(blocks), after))
    mid = log_since(g, off)
    g.check('echo "--- restart ---" >> %s' % mpd.LOG)
    mpd.start(g)
    d = mpd.wait_device(g, key)
    log = log_since(g, off)
    w1, w2 = writes(mid), writes(log[len(mid):])
    ok, z = all_movable(g, blocks)
    print('restarted memplugd: %s outcome %s, onlined %d, verified %d, zone %s (%s), '
          'message %r' % (key, d['outcome'], d['onlined'], d['verified'], d['zone'],
                          d['zone_why'], d['message']))
    print('writes: killed run %d %s, restarted run %d %s' % (len(w1), w1, len(w2), w2))
    assert ok, z
    assert d['outcome'] == 'online' and d['zone'] == 'movable', d
    assert d['violations'] == 0 and d['failed'] == 0, d
    # The killed run logs its per-block lines only after the whole device
    # (w1 is empty when it died mid-device): the blocks it had onlined are
    # the ones the watcher read online once it was gone.  The restarted run
    # writes exactly the others, each once.
    assert w1 == [] or sorted(w1) == done, (w1, done)
    assert sorted(done + w2) == blocks, (done, w2, blocks)
    assert d['onlined'] == len(w2), (d, w2)
    # the blocks the killed run onlined are verified too (it died before its checks)
    assert d['verified'] == len(blocks), d
    assert not mpd.status(g)['conflicts'], mpd.status(g)['conflicts']
    print('ok: online_killed: %d/%d blocks online when the killed memplugd was gone; the '
          'restarted memplugd onlined the other %d in movable (zone kept), verified %d, no '
          'block written twice, all %d online, no conflict'
          % (len(done), len(blocks), len(w2), d['verified'], len(blocks)))
    if at_kill == len(blocks):
        print('  note: the whole DIMM was online before the kill landed')


def case_enobufs(g):
    """A burst of 6 x 128 MiB DIMMs into a 2048-byte netlink receive buffer."""
    mpd.stop(g)
    off = log_size(g)
    mpd.start(g, args='--uevent-rcvbuf 2048')
    ids = ['fc%d' % i for i in range(6)]
    for i in ids:
        g.qmp('object-add', **{'qom-type': 'memory-backend-ram', 'id': 'mem-' + i,
                               'size': 128 << 20})
    for i in ids:
        g.qmp('device_add', driver='pc-dimm', id=i, memdev='mem-' + i)
    devs = g.memory_devices()
    bad = []
    for i in ids:
        d = mpd.wait_device(g, 'dimm:slot%d' % devs[i]['slot'], timeout=120)
        blocks = g.blocks_of(devs[i]['addr'], devs[i]['size'])
        ok, z = all_movable(g, blocks)
        if not (ok and d['outcome'] == 'online' and d['verified'] == len(blocks)
                and d['violations'] == 0):
            bad.append((i, d, z))
    log = log_since(g, off)
    n = log.count('ENOBUFS')
    print('\n'.join(l for l in log.splitlines() if 'ENOBUFS' in l or 'rescan' in l))
    assert not bad, bad
    assert n, 'no ENOBUFS in the log:\n' + log
    assert not mpd.status(g)['conflicts'], mpd.status(g)['conflicts']
    print('ok: enobufs: %d ENOBUFS line(s) in the log, each a rescan; all 6 DIMMs online '
          'movable and verified' % n)


def case_state_full(g):
    """The state file's disk full (ENOSPC), then read-only (EROFS)."""
    mpd.stop(g)
    st_dir = '/tmp/mpstate'
    path = st_dir + '/state.json'
    # The earlier runs' record comes along (this memplugd knows their DIMMs), then
    # the disk is filled.
    g.check('mkdir -p %s && mount -t tmpfs -o size=8k mpstate %s && '
            'cp /run/memplug/state.json %s/ && '
            '{ dd if=/dev/zero of=%s/fill bs=4k 2>/dev/null; true; } && df %s'
            % (st_dir, st_dir, st_dir, st_dir, st_dir))
    off = log_size(g)
    mpd.start(g, args='--state %s' % path)
    seen = {}
    for id, fault, errtext in (('fd0', 'full', 'No space left on device'),
                               ('fd1', 'read-only', 'Read-only file system')):
        if fault == 'read-only':
            g.check('mount -o remount,ro %s' % st_dir)
        dev = add_dimm_at(g, id, 128 << 20)
        key = 'dimm:slot%d' % dev['slot']
        d = mpd.wait_device(g, key)
        mpd.assert_clean(d, 1)
        st = mpd.status(g)
        human = g.check('memplugctl status')
        line = [l for l in human.splitlines() if 'STATE NOT SAVED' in l]
        print('%s disk: %s %s verified %d; status state_error %r; memplugctl status: %s'
              % (fault, key, d['outcome'], d['verified'], st.get('state_error'), line))
        assert st.get('state_file') == path, st.get('state_file')
        assert st.get('state_error') == '%s: cannot save state: %s' % (path, errtext), st
        assert line and path in line[0] and errtext in line[0], human
        seen[fault] = st['state_error']
    log = log_since(g, off)
    warn = [l for l in log.splitlines() if 'cannot save state' in l]
    print('\n'.join(warn))
    for errtext in ('No space left on device', 'Read-only file system'):
        # once per cause, though every device decision saves twice
        assert len([l for l in warn if path in l and errtext in l]) == 1, (errtext, warn)
    # Room again: the next save (a drain and undrain of fd0) succeeds and clears it.
    g.check('mount -o remount,rw %s && rm %s/fill' % (st_dir, st_dir))
    key0 = 'dimm:slot%d' % g.memory_devices()['fd0']['slot']
    g.check('memplugctl drain %s && memplugctl undrain %s' % (key0, key0), timeout=60)
    st = mpd.status(g)
    saved = json.loads(g.check('cat %s' % path))
    log = log_since(g, off)
    assert 'state_error' not in st, st
    assert 'state saved again' in log, log
    assert len(saved['devices']) >= 2, saved
    print('ok: state_full: ENOSPC and EROFS each logged once with path and errno, shown in '
          'status (state_error, "STATE NOT SAVED"); both DIMMs onlined and verified; after '
          'the disk had room the next save cleared it (%d devices in the file)'
          % len(saved['devices']))


def case_qemu_killed_unplug(g):
    """QEMU SIGKILLed while memplugctl host unplug waits for the guest's drain.
    Last: the guest is gone afterwards.  The drain is held with SIGSTOP as
    soon as its first block is offline, so that QEMU dies with the
    prepare-unplug unanswered every run."""
    host = HostCtl(CTL, '--qmp', QMP, '--channel', g.channel_path, '--timeout', '60')
    dev = add_dimm_at(g, 'fe0', GIB)
    blocks = g.blocks_of(dev['addr'], dev['size'])
    mpd.assert_clean(mpd.wait_device(g, 'dimm:slot%d' % dev['slot']), len(blocks))
    out = '/tmp/qemu.watch'
    script = (
        'm=%(m)s; hit=\n'
        'while [ -z "$hit" ]; do for b in %(bl)s; do\n'
        '  read s < $m/memory$b/state && [ "$s" = offline ] && { hit=$b; break; }\n'
        'done; done\n'
        'kill -STOP $(pidof memplugd)\n'
        'echo "hit $hit"; echo done\n') % {'m': M, 'bl': block_list(blocks)}
    g.put_file(script.encode(), out + '.sh', timeout=30)
    g.spawn('sh %s.sh' % out, log=out)
    t0 = time.monotonic()
    p = subprocess.Popen(host.argv + ['-J', 'unplug', 'fe0'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    g.wait_until('grep -q ^done %s' % out, timeout=120)
    hit = g.check('cat %s' % out).split()[1]
    t_kill = time.monotonic()
    os.kill(g.proc.pid, 9)
    g.proc.wait()
    o, e = p.communicate(timeout=180)
    t_exit = time.monotonic() - t_kill
    print('$ memplugctl host -J unplug fe0 -> %d, %.2f s after QEMU was SIGKILLed (drain '
          'held at memory%s offline, %.1f s after the unplug began)\n%s%s'
          % (p.returncode, t_exit, hit, t_kill - t0, o, e))
    rep = json.loads(o) if o.strip().startswith('{') else {}
    assert p.returncode not in (0, None), p.returncode
    assert rep.get('outcome') == 'connection-lost', rep
    assert 'channel closed' in e, e
    assert not rep.get('unplugged'), rep
    print('ok: qemu_killed_unplug: exit %d, outcome %s, %.2f s after the kill, no device_del'
          % (p.returncode, rep.get('outcome'), t_exit))


CASES = [case_drain_killed, case_online_killed, case_enobufs, case_state_full,
         case_qemu_killed_unplug]


def test(g):
    failed = []
    mpd.start(g, POLICIES)
    for c in CASES:
        name = c.__name__[5:]
        t0 = time.monotonic()
        try:
            c(g)
            print('   (%s: %.1f s)' % (name, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 (report every case)
            failed.append(name)
            traceback.print_exc()
            print('FAIL: %s: %r (%.1f s)' % (name, e, time.monotonic() - t0), flush=True)
            if g.proc.poll() is not None:
                break
            try:
                print(g.check('tail -n 40 %s' % mpd.LOG))
                # the next case needs a memplugd
                if not g.run('pidof memplugd')[1].strip():
                    mpd.start(g)
            except Exception as e2:  # noqa: BLE001
                print('cannot look at or restart memplugd: %r' % e2)
    if failed:
        raise AssertionError('failed: %s' % ', '.join(failed))


if __name__ == '__main__':
    if not os.access(CTL, os.X_OK):
        print('SKIP: memplugctl not built')
        sys.exit(77)
    try:
        mpd.main(test, mem='1G', slots=12, maxmem='16G', channel=True, name='faults-guest',
                 qemu_args=['-qmp', 'unix:%s,server=on,wait=off' % QMP])
    finally:
        subprocess.run(['rm', '-rf', SOCKDIR])
