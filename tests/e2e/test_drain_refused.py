#!/usr/bin/python3
"""Drain refused: a 1 GiB DIMM, memory32-33 onlined movable and memory34-39
into the kernel zone, with memory39 onlined first so that the kernel's next
allocations land there (onlined pages go to the tail of the free lists, so
the first block onlined is the first handed out).  20000 tmpfs files then
fill it with slab.

In the eject's order (--order address) memory32-38 offline, memory39 refuses
with EBUSY, and every block offlined comes back in its zone (Movable for
32-33, Normal for 34-38).  The report names memory39, EBUSY, the kernel's
reason exactly as it printed it ("failed due to ..." in the log), its page
dump and kpageflags with slab pages.  Repeated three times to see how
reliably it refuses.  Then the default order tries the suspect block first:
it refuses before anything else is touched."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import main  # noqa: E402
from drain import MEM, by_block, drain, dyndbg_sites, zones  # noqa: E402

BLOCKS = list(range(32, 40))
MOVABLE = [32, 33]


def check_refused(g, res, rc, order_address):
    assert rc == 1, (rc, res)
    assert res['result'] == 'EBUSY' and not res['timed_out'], res
    assert not res['rollback_failed'], res
    f = res['failed']
    bb = by_block(res)
    refuser = f['block']
    assert bb[refuser]['outcome'] == 'refused' and bb[refuser]['errno'] == 'EBUSY', res
    # The refusing block holds kernel allocations: slab or page tables.
    k = f['kpageflags']
    assert k['slab'] + k['pgtable'] > 0 and k['unmovable'] > 0, f
    # The reason is the kernel's, word for word: find its line in the log.
    assert f['reason_from_kernel'], f
    start = refuser << 27
    line = 'memory offlining [mem %#010x-%#010x] failed due to %s' % (
        start, start + (1 << 27) - 1, f['reason'])
    assert f['message'] == line, (f['message'], line)
    log = g.check('dmesg')
    assert line in log, (line, log[-2000:])
    assert f['reason'] == 'failure to isolate range', f  # what 6.1 says for slab
    assert f['page_dumps'] >= 1 and f['dump_because'] == 'unmovable page', f
    assert 'page dumped because: unmovable page' in f['dump'], f
    pfn = int(re.search(r'pfn:(0x[0-9a-f]+)', f['dump']).group(1), 16)
    assert pfn >> 15 == refuser, (pfn, refuser)

    # Every block this call offlined is back, in its old zone.
    tried = sorted((b for b in res['blocks'] if b['tried']), key=lambda b: b['tried'])
    assert tried[-1]['block'] == refuser, tried
    for b in tried[:-1]:
        assert b['outcome'] == 'rolled back', b
        assert b['zone_after'] == b['zone_before'], b
    if order_address:
        assert [b['block'] for b in tried] == list(range(32, refuser + 1)), tried
    for b in res['blocks']:
        if not b['tried']:
            assert b['outcome'] == 'not tried', b
    assert res['rolled_back'] == len(tried) - 1, res
    return refuser, len(tried) - 1


def test(g):
    g.add_dimm('dimm0', '1G')
    g.wait_for_blocks(BLOCKS)
    g.set_block_state(39, 'online_kernel')
    for b in MOVABLE:
        g.set_block_state(b, 'online_movable')
    for b in range(34, 39):
        g.set_block_state(b, 'online_kernel')
    want = {b: 'Movable' if b in MOVABLE else 'Normal' for b in BLOCKS}
    assert zones(g, BLOCKS) == want, zones(g, BLOCKS)
    g.check('mkdir -p /tmp/f && cd /tmp/f && i=0; while [ $i -lt 20000 ]; do : > f$i; '
            'i=$((i+1)); done', timeout=300)
    before = dyndbg_sites(g)

    refusals = []
    for attempt in range(3):
        g.check('dmesg -c > /dev/null')
        rc, res = drain(g, BLOCKS, order='address')
        print('attempt %d: rc %d, failed %s' % (attempt, rc, res.get('failed', {}).get('block')))
        if rc == 0:
            refusals.append(None)
            break  # drained after all: nothing left to test on this guest
        refuser, rolled = check_refused(g, res, rc, True)
        refusals.append((refuser, rolled))
        assert zones(g, BLOCKS) == want, zones(g, BLOCKS)
        assert all(g.read('%s/memory%d/state' % (MEM, b)) == 'online' for b in BLOCKS)
    print('refusals (block, rolled back): %s' % refusals)
    assert None not in refusals, 'a kernel-zone block full of slab drained: %s' % refusals

    # The text output says the same for a person.
    rc, out = g.run('memplugctl offline --all-or-nothing --order address memory32-39',
                    timeout=300)
    print(out)
    assert rc == 1, (rc, out)
    assert re.search(r'all-or-nothing: refused by memory3\d: EBUSY', out), out
    assert 'all-or-nothing: kernel reason: failure to isolate range' in out, out
    assert 'page dumped because: unmovable page' in out, out
    assert 'the device is as it was' in out, out

    # Default order: the block with slab goes first, nothing else is touched.
    rc, res = drain(g, BLOCKS)
    refuser, rolled = check_refused(g, res, rc, False)
    bb = by_block(res)
    assert bb[refuser]['suspect'] and bb[refuser]['tried'] == 1, res
    assert rolled == 0, res
    assert zones(g, BLOCKS) == want, zones(g, BLOCKS)

    assert dyndbg_sites(g) == before, (before, dyndbg_sites(g))


if __name__ == '__main__':
    main(test, mem='1G', slots=8, maxmem='16G')
