#!/usr/bin/python3
"""An NVDIMM made devdax, then bound to kmem: the kept range and stranded
bytes memplugctl predicts before binding equal what /proc/iomem shows as
System RAM (kmem) afterwards; devdax PFNs are never reported online (on
6.1 kpageflags reads there return EOF: 'no online page here')."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'guest'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import main  # noqa: E402
from ctl import ctl_json, snapshot_matches_live  # noqa: E402


def test(g):
    dax = g.make_devdax('namespace0.0')
    pred = ctl_json(g, 'explain -J %s' % dax)['dax']
    assert pred['driver'] == 'device_dax' and pred['kmem_actual'] == [], pred
    rng = pred['ranges'][0]
    assert rng['aligned_2m'], rng
    start = int(rng['range'].split('-')[0], 16)
    keep = rng['kmem_keeps']
    # A devdax PFN: no block, no online page.
    ex = ctl_json(g, 'explain -J %#x' % (start + (64 << 20)))
    assert ex['block'].startswith('none'), ex
    assert 'no online page here' in ex['page'], ex
    assert ex['dax']['name'] == dax, ex

    blocks = g.bind_kmem(dax)
    kmem = [r for r in g.iomem() if r[3] == 'System RAM (kmem)']
    actual = ['%#x-%#x' % (r[1], r[2]) for r in kmem]
    assert actual == [keep], (actual, keep)
    after = ctl_json(g, 'explain -J %s' % dax)['dax']
    assert after['driver'] == 'kmem' and after['kmem_actual'] == [keep], after
    stranded = int(keep.split('-')[0], 16) - start
    assert rng['stranded'] == stranded == pred['kmem_strands_bytes'], (rng, stranded)
    g.wait_for_blocks(blocks)
    rows = ctl_json(g, 'list -J -b')['memory']
    dev = [r for r in rows if r['device'] == 'dax:' + dax]
    assert len(dev) == 1 and dev[0]['block'] == '%d-%d' % (blocks[0], blocks[-1]), rows
    assert dev[0]['size'] == pred['kmem_keeps_bytes'], (dev, pred)
    # The stranded head stays device memory: still no online page there.
    ex = ctl_json(g, 'explain -J %#x' % start)
    assert 'page' not in ex or 'no online page' in ex['page'], ex
    print('%s: predicted %s, %d bytes stranded; iomem %s' % (dax, keep, stranded, actual))
    snapshot_matches_live(g, ['list', 'explain %s' % dax], 'nvdimm-kmem')


if __name__ == '__main__':
    main(test, mem='1G', nvdimms=['2G'])
