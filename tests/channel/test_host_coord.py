#!/usr/bin/python3
"""Both halves of the memplug channel together (docs/channel.md, docs/host.md
"With the guest: the memplug channel"): a TCG guest with the port
org.memplug.0, memplugd in it (DIMMs of 768 MiB to the kernel zone, every
other DIMM movable), and memplugctl host on the port's socket and on a
second QMP monitor (QEMU serves several -qmp sockets and sends events to all
of them, so the harness keeps its own connection).

1. plug 512M --wait-online -J: the guest's proof (dimm:slotN, its blocks,
   zone movable, verified = blocks, 0 violations), exit 0.
2. unplug -J: the guest drains it (prepare-unplug), the host device_del's,
   the DIMM is gone from QEMU and its blocks from the guest.
3. A 768 MiB DIMM memplugd onlines to the kernel zone, filled with slab:
   unplug exits 1 naming the refusing block, EBUSY and the kernel's reason;
   the DIMM stays in QEMU with every block online.
4. memplugd stopped: plug --wait-online says "no proof available" and still
   plugs.
Usage: test_host_coord.py MEMPLUGCTL
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'daemon'))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
import mpd  # noqa: E402
from hostctl import HostCtl  # noqa: E402

CTL = sys.argv[1] if len(sys.argv) > 1 else ''
SOCKDIR = tempfile.mkdtemp(prefix='mp-hc-')
QMP = os.path.join(SOCKDIR, 'host.sock')
POLICIES = {
    '10-kernel.conf': '[Match]\nKind=dimm\nSize=768M\n\n[Online]\nZone=kernel\n',
    '50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n',
}


def block_range(blocks):
    return 'memory%d' % blocks[0] if len(blocks) == 1 else \
        'memory%d-%d' % (blocks[0], blocks[-1])


def present(g, blocks):
    out = g.check('for b in %s; do [ -e %s/memory$b ] && echo $b; done; true'
                  % (' '.join(map(str, blocks)), mpd.MEM))
    return [int(x) for x in out.split()]


def test(g):
    ctl = HostCtl(CTL, '--qmp', QMP, '--channel', g.channel_path)
    mpd.start(g, POLICIES)

    # 1. plug with the guest's proof
    r = ctl('plug', '512M', '--wait-online', '-J')
    out = json.loads(r.stdout)
    assert out['plugged'] == ['mp-dimm0'], out
    p, = out['proof']
    dev = g.memory_devices()['mp-dimm0']
    blocks = g.blocks_of(dev['addr'], dev['size'])
    print('proof:', json.dumps(p))
    assert p['id'] == 'mp-dimm0' and p['device'] == 'dimm:slot%d' % dev['slot'], p
    assert p['outcome'] == 'online', p
    assert p['blocks'] == block_range(blocks) and p['expected_blocks'] == len(blocks), p
    assert p['zone'] == 'movable' and p['node'] == 0, p
    assert p['onlined'] == len(blocks) and p['verified'] == len(blocks), p
    assert p['violations'] == 0 and p['violation_events'] == [], p
    assert p['policy'].endswith('50-movable.conf:1'), p
    assert set(mpd.zones(g, blocks).values()) == {('online', 'Movable')}, mpd.zones(g, blocks)
    print('plug -> proof: host_ms %d (guest: online %d us, verify %d us, '
          'first uevent to verified %d us)' % (
              p['host_ms'], p['guest_timings']['online_us'],
              p['guest_timings']['verify_us'], p['guest_timings']['latency_us']))
    r = ctl('unplug', 'mp-dimm0', '-J')
    u = json.loads(r.stdout)
    print('unplug:', json.dumps(u)[:600])

    # 2. coordinated unplug: drained by the guest, then device_del
    assert u['id'] == 'mp-dimm0' and u['device'] == p['device'], u
    assert u['outcome'] == 'unplugged' and u['unplugged'], u
    assert u['drain']['result'] == 'ok', u
    assert 'mp-dimm0' not in g.memory_devices(), g.memory_devices()
    g.wait_until('[ ! -e %s/memory%d ] && [ ! -e %s/memory%d ]'
                 % (mpd.MEM, blocks[0], mpd.MEM, blocks[-1]), timeout=60)
    assert present(g, blocks) == [], present(g, blocks)
    # memplugd forgets it (DEVICE_GONE) once the kernel removed it
    g.wait_until("! memplugctl status -J | grep -q '\"%s\"'" % p['device'], timeout=60)

    # 3. a DIMM the guest cannot empty: kernel zone, full of slab
    r = ctl('plug', '768M', '--wait-online', '-J')
    out = json.loads(r.stdout)
    p2, = out['proof']
    dev2 = g.memory_devices()[p2['id']]
    b2 = g.blocks_of(dev2['addr'], dev2['size'])
    assert p2['outcome'] == 'online' and p2['zone'] == 'kernel', p2
    assert p2['verified'] == len(b2) and p2['violations'] == 0, p2
    assert p2['policy'].endswith('10-kernel.conf:1'), p2
    g.check('mkdir -p /tmp/f && cd /tmp/f && i=0; while [ $i -lt 20000 ]; do : > f$i; '
            'i=$((i+1)); done', timeout=300)
    r = ctl('unplug', p2['id'], '-J', rc=1, timeout=400)
    u2 = json.loads(r.stdout)
    print('refused unplug:', json.dumps(u2)[:1500])
    assert u2['outcome'] == 'refused' and not u2['unplugged'], u2
    assert u2['error_class'] == 'Refused' and u2['device'] == p2['device'], u2
    assert u2['drain']['result'] == 'EBUSY' and not u2['drain']['rollback_failed'], u2
    f = u2['refusal']
    assert f['block'] in b2 and f['errno'] == 'EBUSY', f
    assert f['reason'] == 'failure to isolate range' and f['reason_from_kernel'], f
    r = ctl('unplug', p2['id'], rc=1, timeout=400)
    assert 'memory%d refused: EBUSY' % f['block'] in r.stderr, r.stderr
    assert 'kernel reason: failure to isolate range' in r.stderr, r.stderr
    assert p2['id'] in g.memory_devices(), g.memory_devices()
    assert set(mpd.zones(g, b2).values()) == {('online', 'Normal')}, mpd.zones(g, b2)

    # 4. no memplugd: no proof, but the plug still goes in
    mpd.stop(g)
    r = ctl('plug', '256M', '--wait-online', '--timeout', '20')
    assert 'no proof available' in r.stderr, r.stderr
    assert 'plugged' in r.stdout, r.stdout
    devs = g.memory_devices()
    assert len(devs) == 2, devs
    new = [i for i in devs if i != p2['id']][0]
    g.wait_for_blocks(g.blocks_of(devs[new]['addr'], devs[new]['size']), timeout=60)
    log = mpd.log(g)
    assert 'violation' not in log.replace('0 violation(s)', ''), log


if __name__ == '__main__':
    if not os.access(CTL, os.X_OK):
        print('SKIP: memplugctl not built')
        sys.exit(77)
    try:
        mpd.main(test, mem='1G', slots=8, maxmem='16G', channel=True, name='host-coord',
                 qemu_args=['-qmp', 'unix:%s,server=on,wait=off' % QMP])
    finally:
        subprocess.run(['rm', '-rf', SOCKDIR])
