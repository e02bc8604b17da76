#!/usr/bin/python3
"""The memplug channel end to end (docs/channel.md): a TCG guest with the
virtio-serial port org.memplug.0, memplugd in it, and this test on the
host end of the port's socket as the host would be.

1. No host connected: memplugd does not wake up (the port reports POLLHUP
   without a host; memplugd waits for SIGIO instead of polling it); idle
   wakeups counted from /proc/PID/status, also with a silent host and after
   a host left.
2. The host connects: the greeting (protocol, kernel, block size, nodes with
   kernel_free, memmap_on_memory, policies, capabilities); hello; status.
3. A DIMM plugged over QMP: DEVICE_ONLINE with its proof (blocks, zone,
   node, verified, violations, timings).
4. prepare-unplug of a range that is not one device's, of a device that
   does not exist, of boot memory: NotFound / NotPermitted; of the DIMM's
   exact range: drained (DEVICE_DRAINED), then QMP device_del succeeds and
   DEVICE_GONE follows.
5. A second DIMM drained then cancel-unplug: online again (DEVICE_ONLINE),
   in its zone; a second cancel-unplug: NotDrained.
6. Garbage, a NUL byte, an oversized line, unknown commands, wrong
   arguments, a flood past the rate limit: errors, and memplugd answers the
   next good request; a half line left alone is dropped after 30 s.
7. A kernel-zone DIMM full of slab: prepare-unplug is Refused with the
   kernel's reason, every block back online.
8. The host disconnects and reconnects: a new greeting; a memplugd
   restarted under a connected host greets it.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'daemon'))
import mpd  # noqa: E402
from chan import Host  # noqa: E402

POLICIES = {
    '10-kernel.conf': '[Match]\nKind=dimm\nSize=768M\n\n[Online]\nZone=kernel\n',
    '50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n',
}
MEM = mpd.MEM


def ctxt(g, pid):
    out = g.check('cat /proc/%d/status' % pid)
    kv = dict(l.split(':', 1) for l in out.splitlines() if ':' in l)
    return int(kv['voluntary_ctxt_switches']) + int(kv['nonvoluntary_ctxt_switches'])


def wakeups(g, pid, seconds=10):
    a = ctxt(g, pid)
    time.sleep(seconds)
    return ctxt(g, pid) - a


def err_class(m):
    assert 'error' in m, m
    return m['error']['class']


def states(g, blocks):
    return {b: s for b, (s, *_) in mpd.zones(g, blocks).items()}


def test(g):
    pid = mpd.start(g, POLICIES)
    time.sleep(1)

    # 1. No host: no wakeup at all (no watchdog in this run).
    w_nohost = wakeups(g, pid)
    print('idle wakeups in 10 s, no host connected: %d' % w_nohost)
    assert w_nohost == 0, w_nohost

    # 2. A host connects: the greeting.
    h = Host(g.channel_path, timeout=60)
    gr = h.greeting()
    print('greeting:', json.dumps(gr))
    assert gr['protocol'] == 1 and gr['version'], gr
    assert gr['kernel'] == g.check('uname -r').strip(), gr
    assert gr['block_size'] == g.block_size(), gr
    assert gr['memmap_on_memory'] is False, gr
    assert gr['auto_online_blocks'] == 'offline', gr
    assert set(gr['capabilities']) == {'status', 'prepare-unplug', 'cancel-unplug',
                                   'grow-answer'}, gr
    assert sorted(os.path.basename(p) for p in gr['policies']) == sorted(POLICIES), gr
    assert [n['node'] for n in gr['nodes']] == [0], gr
    n0 = gr['nodes'][0]
    assert 0 < n0['kernel_free'] <= n0['total'] and n0['free'] > 0, n0
    # kernel_free is the kernel zones' "pages free" in zoneinfo, at about the same time.
    zi = g.check("awk '/^Node 0, zone/ {z=$4} /pages free/ && (z==\"DMA\"||z==\"DMA32\"||"
                 "z==\"Normal\") {s+=$3} END {print s*4096}' /proc/zoneinfo")
    assert abs(int(zi) - n0['kernel_free']) < 64 << 20, (zi, n0)

    w_host = wakeups(g, pid)
    print('idle wakeups in 10 s, a silent host connected: %d' % w_host)
    assert w_host == 0, w_host

    r = h.request('hello')
    assert r['return']['protocol'] == 1 and r['id'] == 1, r
    r = h.request('status', id='st-1')
    st = r['return']
    assert r['id'] == 'st-1' and st['pid'] == pid, r
    assert st['channel']['connected'] and st['channel']['connections'] == 1, st['channel']
    assert [d['device'] for d in st['devices']] == ['boot'], st['devices']

    # 3. Plug: DEVICE_ONLINE with the proof.
    dev = g.add_dimm('d0', '1G')
    blocks = g.blocks_of(dev['addr'], dev['size'])
    ev = h.wait_event('DEVICE_ONLINE', lambda d: d['device'] == 'dimm:slot0')
    print('DEVICE_ONLINE:', json.dumps(ev))
    assert ev['blocks'] == 'memory%d-%d' % (blocks[0], blocks[-1]), ev
    assert ev['zone'] == 'movable' and ev['node'] == 0, ev
    assert ev['onlined'] == 8 and ev['verified'] == 8 and ev['violations'] == 0, ev
    assert ev['start'] == dev['addr'] and ev['size'] == dev['size'], ev
    assert ev['policy'].endswith('50-movable.conf:1'), ev
    assert ev['online_us'] > 0 and ev['verify_us'] > 0 and ev['latency_us'] >= ev['online_us'], ev
    assert set(states(g, blocks).values()) == {'online'}, states(g, blocks)

    # 4. prepare-unplug: not one device's range, no such device, boot memory.
    for args, cls in (({'start': dev['addr'], 'size': dev['size'] // 2}, 'NotFound'),
                      ({'start': dev['addr'] - (128 << 20), 'size': dev['size']}, 'NotFound'),
                      ({'start': 0, 'size': dev['addr'] + dev['size']}, 'NotFound'),
                      ({'device': 'dimm:slot7'}, 'NotFound'),
                      ({'device': 'memory32'}, 'NotFound'),
                      ({'device': 'boot'}, 'NotPermitted'),
                      ({'start': 0, 'size': 1 << 30}, 'NotPermitted')):
        r = h.request('prepare-unplug', args)
        print('prepare-unplug %s: %s' % (args, r))
        assert err_class(r) == cls, (args, r)
    assert set(states(g, blocks).values()) == {'online'}, states(g, blocks)

    # ... of the DIMM's exact range: drained, then device_del.
    r = h.request('prepare-unplug', {'start': dev['addr'], 'size': dev['size'],
                                     'timeout_ms': 60000}, timeout=180)
    print('prepare-unplug d0:', json.dumps(r)[:400])
    assert 'return' in r, r
    assert r['return']['device'] == 'dimm:slot0', r
    assert r['return']['drain']['result'] == 'ok', r
    assert set(states(g, blocks).values()) == {'offline'}, states(g, blocks)
    ev = h.wait_event('DEVICE_DRAINED', lambda d: d['device'] == 'dimm:slot0')
    assert ev['blocks'] == 'memory%d-%d' % (blocks[0], blocks[-1]), ev
    g.del_dimm('d0')
    h.wait_event('DEVICE_GONE', lambda d: d['device'] == 'dimm:slot0')

    # 5. Drain and cancel: online again in its zone.
    dev1 = g.add_dimm('d1', '512M')
    b1 = g.blocks_of(dev1['addr'], dev1['size'])
    key1 = 'dimm:slot%d' % dev1['slot']
    h.wait_event('DEVICE_ONLINE', lambda d: d['device'] == key1)
    r = h.request('prepare-unplug', {'device': key1}, timeout=180)
    assert 'return' in r and r['return']['drain']['result'] == 'ok', r
    h.wait_event('DEVICE_DRAINED', lambda d: d['device'] == key1)
    r = h.request('cancel-unplug', {'device': key1}, timeout=120)
    print('cancel-unplug:', r)
    assert r['return']['device'] == key1 and r['return']['outcome'] == 'online', r
    ev = h.wait_event('DEVICE_ONLINE', lambda d: d['device'] == key1)
    assert ev['zone'] == 'movable' and ev['violations'] == 0 and ev['verified'] >= 4, ev
    assert set(mpd.zones(g, b1).values()) == {('online', 'Movable')}, mpd.zones(g, b1)
    r = h.request('cancel-unplug', {'device': key1})
    assert err_class(r) == 'NotDrained' and r['error']['data']['outcome'] == 'online', r
    r = h.request('cancel-unplug', {'device': 'dimm:slot9'})
    assert err_class(r) == 'NotFound', r

    # 6. Garbage from the host: an error each, and the next request still answered.
    h.send_raw(b'hello world\n')
    m = h.line()
    assert err_class(m) == 'BadMessage' and 'id' not in m, m
    h.send_raw(b'{"execute":"status"\x00,"id":5}\n')
    m = h.line()
    assert err_class(m) == 'BadMessage' and 'NUL' in m['error']['desc'], m
    h.send_raw(b'{"execute":"' + b'x' * 100000 + b'"}\n')
    m = h.line()
    assert err_class(m) == 'LineTooLong' and '100014 bytes' in m['error']['desc'], m
    h.send_raw(b'[1,2,3]\n{"return":{},"id":1}\n\n')
    assert err_class(h.line()) == 'BadMessage'
    assert err_class(h.line()) == 'BadMessage'
    r = h.request('reboot')
    assert err_class(r) == 'CommandNotFound', r
    r = h.request('prepare-unplug', {'device': key1, 'start': 0})
    assert err_class(r) == 'BadArguments', r
    r = h.request('prepare-unplug', {'device': key1, 'timeout_ms': 0})
    assert err_class(r) == 'BadArguments' and 'timeout_ms' in r['error']['desc'], r
    r = h.request('prepare-unplug', {'start': '0x100000000', 'size': 1})
    assert err_class(r) == 'BadArguments', r
    r = h.request('status', {'unknown': [1, {'x': None}]}, id='with-unknown-args')
    assert 'return' in r, r
    time.sleep(2.5)  # a full bucket again
    # A flood: 60 requests in one write; the bucket holds 40 (+ what refills meanwhile).
    h.send_raw(b''.join(b'{"execute":"hello","id":%d}\n' % (1000 + i) for i in range(60)))
    got = {}
    while len(got) < 60:
        m = h.line()
        if 'id' in m:
            got[m['id']] = m
    limited = [i for i, m in got.items() if 'error' in m]
    assert all(err_class(got[i]) == 'RateLimited' for i in limited), got
    print('flood of 60: %d answered, %d RateLimited' % (60 - len(limited), len(limited)))
    assert 40 <= 60 - len(limited) < 60, len(limited)
    time.sleep(2.5)  # the bucket refills (20/s)
    assert 'return' in h.request('hello')
    assert int(g.check('pidof memplugd').split()[0]) == pid
    # A half line, then nothing: dropped after 30 s (meanwhile the slab fill below runs).
    h.send_raw(b'{"execute":"sta')
    t_half = time.monotonic()

    # 7. A kernel-zone DIMM full of slab: Refused, with the kernel's reason.
    dev2 = g.add_dimm('d2', '768M')
    b2 = g.blocks_of(dev2['addr'], dev2['size'])
    key2 = 'dimm:slot%d' % dev2['slot']
    ev = h.wait_event('DEVICE_ONLINE', lambda d: d['device'] == key2)
    assert ev['zone'] == 'kernel' and ev['policy'].endswith('10-kernel.conf:1'), ev
    g.check('mkdir -p /tmp/f && cd /tmp/f && i=0; while [ $i -lt 20000 ]; do : > f$i; '
            'i=$((i+1)); done', timeout=300)
    left = 35 - (time.monotonic() - t_half)
    if left > 0:
        time.sleep(left)
    h.drain_events(1)
    stall = [m for m in h.unsolicited if 'partial line' in m['error'].get('desc', '')]
    assert stall and err_class(stall[0]) == 'BadMessage', h.unsolicited
    print('stalled half line:', stall[0])
    assert set(mpd.zones(g, b2).values()) == {('online', 'Normal')}, mpd.zones(g, b2)
    r = h.request('prepare-unplug', {'device': key2, 'timeout_ms': 120000}, timeout=300)
    print('prepare-unplug of a kernel-zone DIMM with slab:', json.dumps(r)[:1500])
    assert err_class(r) == 'Refused', r
    data = r['error']['data']
    assert data['device'] == key2, data
    f = data['drain']['failed']
    assert data['drain']['result'] == 'EBUSY' and not data['drain']['rollback_failed'], data
    assert f['reason'] == 'failure to isolate range' and f['reason_from_kernel'], f
    assert f['kpageflags']['slab'] + f['kpageflags']['pgtable'] > 0, f
    assert 'memory%d refused: EBUSY (failure to isolate range)' % f['block'] in \
        r['error']['desc'], r
    assert set(mpd.zones(g, b2).values()) == {('online', 'Normal')}, mpd.zones(g, b2)
    st = h.request('status')['return']
    d2 = [d for d in st['devices'] if d['device'] == key2][0]
    assert d2['outcome'] == 'online', d2

    # 8. The host goes away and comes back: a new greeting; nothing spins meanwhile.
    h.close()
    time.sleep(1)
    g.wait_until('grep -q "host disconnected" %s' % mpd.LOG, timeout=30)
    w_gone = wakeups(g, pid)
    print('idle wakeups in 10 s after the host left: %d' % w_gone)
    h = Host(g.channel_path, timeout=60)
    gr2 = h.greeting()
    assert gr2['protocol'] == 1, gr2
    st = h.request('status')['return']
    assert st['channel']['connections'] == 2 and st['channel']['events_dropped'] == 0, st
    assert st['channel']['bad_lines'] >= 5 and st['channel']['rate_limited'] >= 1, st['channel']
    # A memplugd started while a host is connected greets it at once.
    mpd.stop(g)
    pid = mpd.start(g)
    gr3 = h.greeting()
    assert gr3['protocol'] == 1 and gr3['nodes'], gr3
    st = h.request('status')['return']
    assert st['pid'] == pid and st['channel']['connections'] == 1, st['channel']
    assert {d['device'] for d in st['devices']} == {'boot', key1, key2}, st['devices']
    h.close()
    assert w_gone == 0, w_gone
    log = mpd.log(g)
    assert 'violation' not in log.replace('0 violation(s)', ''), log
    print('wakeups: no host %d, silent host %d, after the host left %d'
          % (w_nohost, w_host, w_gone))
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, mem='1G', slots=8, maxmem='16G', channel=True)
