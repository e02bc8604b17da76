#!/usr/bin/python3
"""memplugd in a two-node guest: a DIMM on node 0 goes to ZONE_MOVABLE and a
DIMM on node 1 to the kernel zone, as the policies say, each decided as a
whole and verified (state, valid_zones, kpageflags, iomem)."""

import json
import re

import mpd

POLICIES = {
    '10-node0-movable.conf': '[Match]\nKind=dimm\nNode=0\n\n[Online]\nZone=movable\n',
    '20-node1-kernel.conf': '[Match]\nKind=dimm\nNode=1\n\n[Online]\nZone=kernel\n',
}


def test(g):
    mpd.start(g, POLICIES)
    st = mpd.status(g)
    assert [p.split('/')[-1] for p in st['policies']] == sorted(POLICIES), st['policies']
    assert st['node_facts'] == 'libnuma', st

    dev0 = g.add_dimm('dimm0', '512M', node=0)
    d0 = mpd.wait_device(g, 'dimm:slot0')
    mpd.assert_clean(d0, 4)
    assert d0['zone'] == 'movable' and d0['node'] == 0, d0
    assert d0['policy'].endswith('10-node0-movable.conf:1'), d0
    b0 = g.blocks_of(dev0['addr'], dev0['size'])
    assert set(mpd.zones(g, b0).values()) == {('online', 'Movable')}, mpd.zones(g, b0)

    # The every-PFN kpageflags pass follows the report (docs/daemon.md).
    g.wait_until("memplugctl status -J | grep -Eq '\"pages_verified\": ?4'", 20)

    dev1 = g.add_dimm('dimm1', '512M', node=1)
    d1 = mpd.wait_device(g, 'dimm:slot1')
    # memplugd's model is current the moment it reports (list answers from it).
    rows = json.loads(g.check('memplugctl list -J 2>/dev/null'))['memory']
    assert [r['state'] for r in rows if r['device'] == 'dimm:slot1'] == ['online'], rows
    mpd.assert_clean(d1, 4)
    assert d1['zone'] == 'kernel' and d1['node'] == 1, d1
    b1 = g.blocks_of(dev1['addr'], dev1['size'])
    assert set(mpd.zones(g, b1).values()) == {('online', 'Normal')}, mpd.zones(g, b1)

    # With memplugd running, list answers from its model: same rows as sysfs.
    via = json.loads(g.check('memplugctl list -J -b 2>/dev/null'))
    direct = json.loads(g.check('memplugctl list -J -b --direct 2>/dev/null'))
    assert via['source'] == 'memplugd' and direct['source'] == 'sysfs', (via, direct)
    assert via['memory'] == direct['memory'], (via['memory'], direct['memory'])
    assert re.search(r'^Source: +memplugd ', g.check('memplugctl list'), re.M)

    human = g.check('memplugctl status')
    assert 'dimm:slot0' in human and 'movable' in human, human
    log = mpd.log(g)
    assert 'violation' not in log.replace('0 violation(s)', ''), log
    print(log)
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, numa=['512M', '512M'])
