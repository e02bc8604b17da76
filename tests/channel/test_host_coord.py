#!/usr/bin/python3
"""Both halves of the memplug channel together (docs/channel.md, docs/host.md
"With the guest: the memplug channel"): a TCG guest with the port
org.memplug.0, memplugd in it (DIMMs of 768 MiB to the kernel zone, every
other DIMM movable), and memplugctl host on the port's socket and on a
second QMP monitor (QEMU serves several -qmp sockets and sends events to all
of them, so the harness keeps its own connection).

Steps 1-3 are the scenario host-coord.scn, run by `memplugctl scenario
run` (docs/scenarios.md); the test checks its JSON report against the guest:
1. plug 512M + expect online: the guest's proof (dimm:slotN, its blocks,
   zone movable, verified = blocks, 0 violations).
2. unplug + expect removed: the guest drains it (prepare-unplug), the host
   device_del's, the DIMM is gone from QEMU and its blocks from the guest.
3. A 768 MiB DIMM memplugd onlines to the kernel zone, filled with slab by
   the hook: the unplug is refused naming the block, EBUSY and the kernel's
   reason (expect refused); the DIMM stays in QEMU with every block online.
4. memplugd stopped: plug --wait-online says "no proof available" and still
   plugs.
Usage: test_host_coord.py MEMPLUGCTL
"""
import json
import os
import sys
import re
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'daemon'))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
import mpd  # noqa: E402
from hostctl import HostCtl  # noqa: E402
import scnrun  # noqa: E402

CTL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ''
SOCKDIR = tempfile.mkdtemp(prefix='mp-hc-')
QMP = os.path.join(SOCKDIR, 'host.sock')
SCENARIO = os.path.join(HERE, 'host-coord.scn')
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
    mpd.start(g, POLICIES)
    seen = {}

    def removed_in_guest(devices):
        # right after expect removed: m's blocks are gone from the guest too
        # (the next plug takes the same slot and address)
        blocks = seen['m_blocks']
        g.wait_until('[ ! -e %s/memory%d ] && [ ! -e %s/memory%d ]'
                     % (mpd.MEM, blocks[0], mpd.MEM, blocks[-1]), timeout=60)
        assert present(g, blocks) == [], present(g, blocks)
        assert 'dimm:slot0' not in g.check('memplugctl status -J'), 'memplugd remembers it'
        assert devices['m'] not in g.memory_devices(), g.memory_devices()
        seen['removed_checked'] = True

    def fill_slab(devices):
        g.check('mkdir -p /tmp/f && cd /tmp/f && i=0; while [ $i -lt 20000 ]; do : > f$i; '
                'i=$((i+1)); done', timeout=300)

    # m's blocks, known before the scenario plugs it: the first DIMM's
    # address is the start of the hotplug area, 4 GiB for a 1 GiB guest
    seen['m_blocks'] = list(range(32, 36))
    # 1.-3. the scenario: plug with proof, coordinated unplug, refused drain
    rc, rep, out = scnrun.run(CTL, SCENARIO, ['--qmp', QMP, '--channel', g.channel_path],
                              hooks={'fill-slab': fill_slab,
                                     'removed-in-guest': removed_in_guest})
    assert rc == 0, (rc, rep and [(s['line'], s['result'], s.get('reason')) for s in rep['steps']])
    assert rep['failed'] == 0 and rep['skipped'] == 0, rep
    assert all(s['result'] == 'pass' for s in rep['steps']), rep
    assert seen.get('removed_checked'), seen
    st = {}
    for s in rep['steps']:
        st.setdefault(s['op'], []).append(s)
    assert rep['devices'] == {'m': 'mp-dimm0', 'k': 'mp-dimm0'}, rep['devices']

    # 1. the guest's proof: dimm:slotN, its blocks, movable, every block verified
    p = st['expect online'][0]['proof']
    print('proof:', json.dumps(p))
    assert p['id'] == 'mp-dimm0' and p['device'] == 'dimm:slot0', p
    assert p['outcome'] == 'online' and p['zone'] == 'movable' and p['node'] == 0, p
    assert p['expected_blocks'] == 4 and p['onlined'] == 4 and p['verified'] == 4, p
    assert p['blocks'] == block_range(seen['m_blocks']), p
    assert p['violations'] == 0 and p['violation_events'] == [], p
    assert p['policy'].endswith('50-movable.conf:1'), p
    print('plug -> proof: host_ms %d (guest: online %d us, verify %d us, '
          'first uevent to verified %d us)' % (
              p['host_ms'], p['guest_timings']['online_us'],
              p['guest_timings']['verify_us'], p['guest_timings']['latency_us']))

    # 2. coordinated unplug: drained by the guest, then device_del
    u = st['unplug'][0]['unplug']
    assert u['id'] == 'mp-dimm0' and u['device'] == p['device'], u
    assert u['outcome'] == 'unplugged' and u['unplugged'], u
    assert u['drain']['result'] == 'ok', u
    assert st['expect removed'][0]['result'] == 'pass', st['expect removed']

    # 3. the refused drain: kernel zone, full of slab
    p2 = st['expect online'][1]['proof']
    dev2 = g.memory_devices()[p2['id']]
    b2 = g.blocks_of(dev2['addr'], dev2['size'])
    assert p2['outcome'] == 'online' and p2['zone'] == 'kernel', p2
    assert p2['verified'] == len(b2) and p2['violations'] == 0, p2
    assert p2['policy'].endswith('10-kernel.conf:1'), p2
    u2 = st['unplug'][1]['unplug']
    print('refused unplug:', json.dumps(u2)[:1500])
    assert u2['outcome'] == 'refused' and not u2['unplugged'], u2
    assert u2['error_class'] == 'Refused' and u2['device'] == p2['device'], u2
    assert u2['drain']['result'] == 'EBUSY' and not u2['drain']['rollback_failed'], u2
    f = st['expect refused'][0]['refusal']
    assert f['block'] in b2 and f['errno'] == 'EBUSY', f
    assert f['reason'] == 'failure to isolate range' and f['reason_from_kernel'], f
    assert 'refused: memory%d EBUSY' % f['block'] in out, out
    assert 'kernel reason: failure to isolate range' in out, out
    assert p2['id'] in g.memory_devices(), g.memory_devices()
    assert set(mpd.zones(g, b2).values()) == {('online', 'Normal')}, mpd.zones(g, b2)

    # a failed step stops the run: the unplug after it is skipped, k stays
    stop = os.path.join(SOCKDIR, 'stop.scn')
    with open(stop, 'w') as f:
        f.write('expect removed device=%s within=1\nunplug %s\n' % (p2['id'], p2['id']))
    rc, rep, out = scnrun.run(CTL, stop, ['--qmp', QMP, '--channel', g.channel_path])
    assert rc == 1 and [s['result'] for s in rep['steps']] == ['fail', 'skipped'], rep
    assert 'still among the VM' in rep['steps'][0]['reason'], rep
    assert 'SKIPPED' in out and '0 passed, 1 failed, 1 skipped' in out, out
    assert p2['id'] in g.memory_devices(), g.memory_devices()

    ctl = HostCtl(CTL, '--qmp', QMP, '--channel', g.channel_path)

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
    mpd.main_with_host_qmp(test, CTL, SOCKDIR, QMP, mem='1G', slots=8, maxmem='16G',
                           channel=True, name='host-coord')
