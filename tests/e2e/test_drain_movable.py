#!/usr/bin/python3
"""Drain, the easy case: a 1 GiB DIMM onlined movable, with page cache and
anonymous memory in it, goes offline as a whole under
`memplugctl offline --all-or-nothing`: every block offlined, every PFN
NOPAGE afterwards, and the dynamic-debug setting it borrowed is back as it
was.  Exit 0."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import main  # noqa: E402
from ctl import kpf  # noqa: E402
from drain import MEM, by_block, drain, dyndbg_sites  # noqa: E402

BLOCKS = list(range(32, 40))


def test(g):
    g.add_dimm('dimm0', '1G')
    g.wait_for_blocks(BLOCKS)
    out = g.check('memplugctl online --zone movable memory32-39')
    assert out.count(': ok; state online, zones Movable') == 8, out
    # Something to migrate: user allocations prefer ZONE_MOVABLE, so the
    # DIMM takes a tmpfs file and the page cache of reading it.
    g.check('dd if=/dev/zero of=/dev/shm/fill bs=1M count=200 2>&1', timeout=120)
    used = sum(kpf(g, b)['pfns'] - kpf(g, b)['buddy'] for b in BLOCKS)
    print('pages in use in the DIMM before the drain: %d' % used)
    assert used > 0, 'nothing landed in the DIMM: the test would not migrate anything'

    before = dyndbg_sites(g)
    assert '=_' in before, before  # off by default: the drain must turn it on and off again
    rc, res = drain(g, BLOCKS)
    print(res)
    assert rc == 0 and res['result'] == 'ok', (rc, res)
    assert not res['timed_out'] and not res['rollback_failed'] and 'failed' not in res, res
    bb = by_block(res)
    assert sorted(bb) == BLOCKS, bb
    for b in BLOCKS:
        assert bb[b]['outcome'] == 'offlined' and bb[b]['zone_before'] == 'Movable', bb[b]
        assert bb[b]['tried'] == b - 31, bb[b]  # nothing suspect: ascending, like the eject
        assert g.read('%s/memory%d/state' % (MEM, b)) == 'offline'
        k = kpf(g, b)
        assert k['nopage'] == k['pfns'] == 32768, (b, k)
    assert dyndbg_sites(g) == before, (before, dyndbg_sites(g))
    # The file survived the migration.
    assert g.check('wc -c < /dev/shm/fill').strip() == str(200 << 20)

    # Draining again: every block "already offline", still exit 0.
    rc, res = drain(g, BLOCKS)
    assert rc == 0 and all(b['outcome'] == 'already offline' for b in res['blocks']), res

    # A block that doesn't exist: nothing is written, exit 1.
    rc, out = g.run('memplugctl offline --all-or-nothing memory39-41')
    assert rc == 1 and 'No such file' in out, (rc, out)

    # The DIMM can go now.
    g.del_dimm('dimm0')


if __name__ == '__main__':
    main(test, mem='1G', slots=8, maxmem='16G')
