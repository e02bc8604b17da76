#!/usr/bin/python3
"""Drain deadline: a 1 GiB DIMM onlined movable, and a process that pins
anonymous pages in memory33-39 by vmsplice()ing them into pipes
(tests/e2e/pin-pages.c): migration can never move them, and offline_pages()
retries until a signal comes.  That makes the deadline deterministic:

- --order address --timeout 20: memory32 offlines (its pages migrate), the
  first block with a pinned page is interrupted at the deadline (EINTR,
  "signal backoff" in the kernel's words), memory32 is onlined again as
  Movable; the result is ETIMEDOUT.
- --timeout 1 on memory33-39: the pinned block is the first written and is
  interrupted after a second; --timeout 0.05 in text form: whatever it
  reached, nothing changes.
- the pinning process killed, the same drain succeeds: the pin was the cause.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import main  # noqa: E402
from drain import MEM, by_block, drain, zones  # noqa: E402

BLOCKS = list(range(32, 40))


def check_timed_out(g, res, rc, pinned_block):
    assert rc == 1, (rc, res)
    assert res['result'] == 'ETIMEDOUT' and res['timed_out'], res
    assert not res['rollback_failed'], res
    f = res['failed']
    bb = by_block(res)
    stuck = f['block']
    assert stuck <= pinned_block, (stuck, pinned_block)
    if bb[stuck]['outcome'] == 'not tried':
        # The deadline passed between two writes: nothing to interrupt.
        print('deadline fell between writes, before memory%d' % stuck)
    else:
        assert bb[stuck]['outcome'] == 'refused' and bb[stuck]['errno'] == 'EINTR', res
        assert f['reason_from_kernel'] and f['reason'] == 'signal backoff', f
        assert f['message'] in g.check('dmesg'), f
    for b in res['blocks']:
        if b['tried'] and b['block'] != stuck:
            assert b['outcome'] == 'rolled back' and b['zone_after'] == 'Movable', b
        elif not b['tried']:
            assert b['outcome'] == 'not tried', b
    assert zones(g, BLOCKS) == {b: 'Movable' for b in BLOCKS}, zones(g, BLOCKS)
    assert all(g.read('%s/memory%d/state' % (MEM, b)) == 'online' for b in BLOCKS)
    return stuck, res['rolled_back']


def test(g):
    g.add_dimm('dimm0', '1G')
    g.wait_for_blocks(BLOCKS)
    out = g.check('memplugctl online --zone movable memory32-39')
    assert out.count(': ok; state online, zones Movable') == 8, out

    helper = os.path.join(os.environ['MEMPLUG_BUILD_DIR'], 'tests', 'e2e', 'pin-pages')
    g.put_file(helper, '/tmp/pin-pages', 0o755)
    pid = g.spawn('/tmp/pin-pages %#x %#x 400' % (33 << 15, (40 << 15) - 1), log='/tmp/pin.log')
    g.wait_until('grep -q pinned /tmp/pin.log', timeout=120)
    log = g.check('cat /tmp/pin.log')
    m = re.search(r'pinned (\d+) first (0x[0-9a-f]+)', log)
    assert m and int(m.group(1)) > 0, 'no page of the helper landed in memory33-39: %r' % log
    pinned_block = int(m.group(2), 16) >> 15
    print('pinned %s pages, the first in memory%d' % (m.group(1), pinned_block))

    g.check('dmesg -c > /dev/null')
    rc, res = drain(g, BLOCKS, timeout='20', order='address')
    print(res)
    stuck, rolled = check_timed_out(g, res, rc, pinned_block)
    print('20 s deadline: stopped at memory%d, rolled back %d' % (stuck, rolled))
    f = res['failed']
    if stuck == pinned_block:
        assert rolled == stuck - 32, res
        assert res['elapsed_ms'] >= 20000, res
        # Migration failures on the pinned pages are in the log, rate-limited.
        assert f['migrate_failures'] >= 1, f
        print('migration failures seen: %d, first: %s' % (f['migrate_failures'],
                                                           f['migrate_line']))

    # A short deadline on the busy block itself: memory33-39 only, so the
    # first write is the pinned block's.  The deadline covers the whole call,
    # reading state and zones included, so on a very loaded host it may pass
    # before the first write ("not tried"); either way nothing changes.
    rc, res = drain(g, list(range(33, 40)), timeout='1', order='address')
    stuck, rolled = check_timed_out(g, res, rc, pinned_block)
    print('1 s deadline: stopped at memory%d after %d ms (%s), rolled back %d' % (
        stuck, res['elapsed_ms'], by_block(res)[stuck]['outcome'], rolled))
    assert rolled == 0, res

    rc, out = g.run('memplugctl offline --all-or-nothing --timeout 0.05 memory32-39',
                    timeout=120)
    print(out)
    assert rc == 1 and 'the device is as it was' in out, (rc, out)
    assert ('interrupted the kernel' in out and 'kernel reason: signal backoff' in out) or \
        'deadline of 50 ms passed before' in out, out

    g.check('kill %d; while kill -0 %d 2>/dev/null; do sleep 0.1; done' % (pid, pid))
    rc, res = drain(g, BLOCKS)
    assert rc == 0 and all(b['outcome'] == 'offlined' for b in res['blocks']), res


if __name__ == '__main__':
    main(test, mem='1G', slots=8, maxmem='16G')
