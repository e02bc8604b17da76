#!/usr/bin/python3
"""Growth on pressure end to end (docs/daemon.md "Growth", docs/host.md
"serve"): a TCG guest with 512 MiB and the memplug channel, memplugd with a
[Grow] policy, memplugctl host serve on the host with MaxMemory 768M,
Step 256M, Cooldown 20s; a memory hog over its cgroup's memory.high makes
PSI memory `some` stall (tests/channel/grow.py says why a global hog does
not).

1. memplugd arms the trigger ("some 50000 1000000"): status says so.
2. The hog: GROW_REQUEST -> serve grants 256M (the VM's 512M + 256M is
   within MaxMemory) -> a DIMM mp-dimm0 of 256M in QEMU -> the guest's proof
   (online, every block verified) -> grow-answer; the guest's status has
   the answer; serve's log has the decision with its numbers.
3. The next request (the guest's own Cooldown is 1s) is inside the host's
   cooldown: refused with the seconds left, answered.
4. After the host's cooldown: refused at MaxMemory, with the numbers; still
   one DIMM in QEMU.
5. A reload without [Grow] disarms the trigger; SIGTERM ends serve (exit 0)
   with its summary.
Usage: test_grow.py MEMPLUGCTL
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'daemon'))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
import mpd  # noqa: E402
import grow  # noqa: E402

CTL = sys.argv[1] if len(sys.argv) > 1 else ''
SOCKDIR = tempfile.mkdtemp(prefix='mp-grow-')
QMP = os.path.join(SOCKDIR, 'host.sock')
CONFIG = os.path.join(SOCKDIR, 'vm.conf')
GROW = '[Grow]\nPressure=some\nStall=50ms\nWindow=1s\nStep=256M\nCeiling=2G\nCooldown=1s\n'
POLICIES = {
    '50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n',
    '60-grow.conf': GROW,
}
M = 1 << 20


def wait_answer(g, n, granted, timeout=60):
    """The guest's record of the host's answer to request n."""
    deadline = time.monotonic() + timeout
    while True:
        a = mpd.status(g)['grow'].get('last_answer', {})
        if a.get('request', 0) >= n:
            assert a['request'] == n and a['granted'] == granted, a
            return a
        assert time.monotonic() < deadline, ('no answer to request %d' % n, a)
        time.sleep(0.5)


def test(g):
    with open(CONFIG, 'w') as f:
        f.write('[Grow]\nMaxMemory=768M\nStep=256M\nCooldown=20s\nHostFreeFloor=64M\n'
                'MaxRequestsPerMinute=30\nProofTimeout=120s\n')
    mpd.start(g, POLICIES)
    st = mpd.status(g)['grow']
    print('grow status:', st)
    assert st['enabled'] and st['armed'], st
    assert st['trigger'] == 'some 50000 1000000', st
    assert st['policy'].endswith('60-grow.conf:1'), st
    assert 'PSI trigger armed' in mpd.log(g), mpd.log(g)

    serve = grow.Serve(CTL, QMP, g.channel_path, CONFIG, os.path.join(SOCKDIR, 'serve.log'))
    try:
        hog = grow.hog_start(g)
        # 2. the first request is granted and plugged, with the guest's proof
        d = serve.decision(240)
        assert d, ('no decision', grow.psi(g), mpd.log(g)[-3000:], serve.log())
        assert d['granted'] and d['answered'] and d['request'] == 1, d
        assert d['size'] == 256 * M and d['asked'] == 256 * M, d
        assert d['vm_memory'] == 512 * M and d['max_memory'] == 768 * M, d
        assert d['device'] == 'mp-dimm0' and d['kind'] == 'dimm', d
        assert d['proof'] == 'online', d
        assert 'every block verified' in d['reason'], d
        devs = g.memory_devices()
        assert list(devs) == ['mp-dimm0'] and devs['mp-dimm0']['size'] == 256 * M, devs
        blocks = g.blocks_of(devs['mp-dimm0']['addr'], devs['mp-dimm0']['size'])
        rec = mpd.wait_device(g, 'dimm:slot%d' % devs['mp-dimm0']['slot'])
        mpd.assert_clean(rec, len(blocks))
        assert set(mpd.zones(g, blocks).values()) == {('online', 'Movable')}
        st = mpd.status(g)['grow']
        print('grow status after the grant:', st)
        a = st['last_answer']
        assert a['request'] == 1 and a['granted'] and a['size'] == 256 * M, st
        assert a['device'] == 'mp-dimm0', st
        print('trigger -> answer (guest clock): %d ms; host: decide %d us, plug %d ms, '
              'plug -> proof %d ms' % (a['after_ms'], d['decide_us'], d['plug_ms'],
                                       d['proof_ms']))
        log = serve.log()
        assert 'request 1: GRANTED: asked 256M on node 0' in log, log
        assert 'MaxMemory 768M' in log and 'host MemAvailable' in log, log

        # 3. inside the host's cooldown: refused with the time left, answered
        d = serve.decision(120)
        assert d and not d['granted'] and d['answered'] and d['request'] == 2, d
        assert d['reason'].startswith('cooldown: ') and 'Cooldown=20 s' in d['reason'], d
        assert 0 < d['cooldown_left_ms'] <= 20000, d
        wait_answer(g, 2, False)

        # 4. after it: refused at MaxMemory, with the numbers
        deadline = time.monotonic() + 180
        while True:
            d = serve.decision(max(1, deadline - time.monotonic()))
            assert d, ('no MaxMemory refusal', serve.log())
            assert not d['granted'], d
            if d['reason'].startswith('MaxMemory'):
                break
            assert d['reason'].startswith('cooldown'), d
        assert d['answered'] and d['vm_memory'] == 768 * M, d
        assert 'the VM has 768M of MaxMemory=768M' in d['reason'], d
        assert list(g.memory_devices()) == ['mp-dimm0'], g.memory_devices()
        st = mpd.status(g)['grow']
        assert not st['last_answer']['granted'], st
        assert 'MaxMemory' in st['last_answer']['reason'], st
        out = g.check('memplugctl status')
        print(out)
        assert 'Growth on pressure:' in out and 'trigger armed: some 50000 1000000' in out, out
        grow.hog_stop(g, hog)
    finally:
        rc = serve.stop()
    log = serve.log()
    print(log[-3000:])
    assert rc == 0, rc
    assert 'serve: Terminated: ' in log and '1 granted' in log, log
    assert 'REFUSED' in log and 'cooldown' in log, log

    # 5. reload without [Grow]: disarmed
    mpd.put_policies(g, {'50-movable.conf': POLICIES['50-movable.conf']})
    g.check('kill -HUP $(pidof memplugd)')
    g.wait_until('grep -q "trigger .* disarmed" %s' % mpd.LOG, timeout=30)
    st = mpd.status(g)['grow']
    assert not st['enabled'] and not st['armed'], st
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main_with_host_qmp(test, CTL, SOCKDIR, QMP, mem='512M', slots=4, maxmem='4G',
                           channel=True, name='grow')
