#!/usr/bin/python3
"""memplugd drains a device for an unplug (the engine's drain, run in a
child process so that the daemon's loop keeps answering):

1. a 1 GiB DIMM memplugd onlined movable, with pages pinned in it by a
   helper (vmsplice: migration can never finish): `memplugctl drain` with a
   deadline times out, every block comes back Movable, and while it runs
   memplugd answers `status` with the device "draining";
2. with the helper gone the drain succeeds: all blocks offline, the device
   "drained", memplugd does not online it again (not even after a restart,
   from its state file), and QEMU's device_del then removes the DIMM;
3. a second DIMM drained and undrained: back online in its zone, verified.
"""
import json
import os
import re

import mpd

POLICIES = {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'}
MEM = mpd.MEM


def states(g, blocks):
    return {b: s for b, (s, *_) in mpd.zones(g, blocks).items()}


def device(g, key):
    for d in mpd.status(g)['devices']:
        if d['device'] == key:
            return d
    raise AssertionError('no %s in status' % key)


def test(g):
    mpd.start(g, POLICIES)
    dev = g.add_dimm('dimm0', '1G')
    blocks = g.blocks_of(dev['addr'], dev['size'])
    mpd.assert_clean(mpd.wait_device(g, 'dimm:slot0'), 8)

    # 1. Pinned pages: the drain runs into its deadline and rolls back.
    helper = os.path.join(os.environ['MEMPLUG_BUILD_DIR'], 'tests', 'e2e', 'pin-pages')
    g.put_file(helper, '/tmp/pin-pages', 0o755)
    g.spawn('/tmp/pin-pages %#x %#x 400' % (blocks[0] << 15, ((blocks[-1] + 1) << 15) - 1),
            log='/tmp/pin.log')
    g.wait_until('grep -q pinned /tmp/pin.log', timeout=120)
    m = re.search(r'pinned (\d+)', g.check('cat /tmp/pin.log'))
    assert m and int(m.group(1)) > 0, g.check('cat /tmp/pin.log')
    print(g.check('cat /tmp/pin.log'))
    g.spawn('memplugctl drain -J --timeout 8 dimm:slot0', log='/tmp/drain1.json')
    # While the child migrates, the loop answers: the device reads "draining".
    try:
        g.wait_until("memplugctl status -J | grep -q '\"outcome\": *\"draining\"'",
                     timeout=60)
    except Exception:
        print(g.run('cat /tmp/drain1.json; tail -20 %s' % mpd.LOG)[1])
        raise
    g.wait_until('grep -q elapsed_ms /tmp/drain1.json', timeout=180)
    res = json.loads(g.check('cat /tmp/drain1.json'))
    print('drain with pinned pages:', json.dumps(res)[:600])
    assert res['result'] in ('ETIMEDOUT', 'EINTR', 'EBUSY'), res
    assert not res['rollback_failed'], res
    f = res['failed']
    assert f['reason'], f
    for b in res['blocks']:
        assert b['outcome'] in ('rolled back', 'refused', 'not tried'), b
        if b['outcome'] == 'rolled back':
            assert b['zone_after'] == 'Movable', b
    assert set(states(g, blocks).values()) == {'online'}, states(g, blocks)
    d = device(g, 'dimm:slot0')
    assert d['outcome'] == 'online', d
    assert 'rolled back' in d['message'], d
    g.run('kill $(pidof pin-pages)')
    g.wait_until('! pidof pin-pages', timeout=30)
    # Offlined and rolled back: the model follows the uevents.
    mpd.assert_model_true(g)

    # 2. Nothing pinned: drained, kept offline, then unplugged.
    out = g.check('memplugctl drain --timeout 60 dimm:slot0', timeout=120)
    print(out)
    assert 'all-or-nothing: all 8 block(s) offline' in out, out
    assert set(states(g, blocks).values()) == {'offline'}, states(g, blocks)
    d = device(g, 'dimm:slot0')
    assert d['outcome'] == 'drained', d
    # The offline uevents made memplugd rescan: it left the device alone.
    g.check('memplugctl list >/dev/null')
    assert set(states(g, blocks).values()) == {'offline'}, states(g, blocks)
    rows = json.loads(g.check('memplugctl list -J 2>/dev/null'))['memory']
    assert {r['state'] for r in rows if r['device'] == 'dimm:slot0'} == {'offline'}, rows
    # A restarted memplugd reads its state file: still drained, still offline.
    mpd.stop(g)
    mpd.start(g)
    assert device(g, 'dimm:slot0')['outcome'] == 'drained', mpd.status(g)
    assert set(states(g, blocks).values()) == {'offline'}, states(g, blocks)
    g.del_dimm('dimm0')
    g.wait_until("! memplugctl status -J | grep -q 'dimm:slot0'", timeout=60)

    # 3. Drain and undrain: online again in the zone it had, verified.
    dev = g.add_dimm('dimm1', '512M')
    blocks = g.blocks_of(dev['addr'], dev['size'])
    key = mpd.wait_device(g, 'dimm:slot%d' % dev['slot'])['device']  # slot 0 is free again
    g.check('memplugctl drain %s' % key, timeout=120)
    assert set(states(g, blocks).values()) == {'offline'}, states(g, blocks)
    out = g.check('memplugctl undrain %s' % key, timeout=60)
    print(out)
    assert 'online' in out, out
    assert set(mpd.zones(g, blocks).values()) == {('online', 'Movable')}, mpd.zones(g, blocks)
    d = device(g, key)
    assert d['outcome'] == 'online' and d['violations'] == 0 and d['verified'] >= 4, d
    rc, out = g.run('memplugctl undrain %s' % key)
    assert rc == 1 and 'not drained' in out, (rc, out)
    rc, out = g.run('memplugctl drain boot')
    assert rc == 1 and 'boot memory' in (out + mpd.log(g)), (rc, out)
    log = mpd.log(g)
    assert 'violation' not in log.replace('0 violation(s)', ''), log
    # An eject, a new DIMM, a drain and an undrain since the restart's one full scan.
    mpd.assert_model_true(g)
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test)
