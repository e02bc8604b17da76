#!/usr/bin/python3
"""An NVDIMM namespace in devdax mode becomes system RAM per policy
([Dax] Mode=system-ram): memplugd predicts kmem's trim to block boundaries
(KERNEL-RULES §8), unbinds device_dax, binds kmem, onlines the blocks as one
device into the zone asked and checks the predicted kept and stranded
ranges against /proc/iomem "System RAM (kmem)".  The namespace is made
devdax while memplugd runs, as an operator (or the README demo) does: the
dax device's add uevent comes before device_dax probes it, the race
mp_dax_bind_kmem() must win; the host on the channel gets DEVICE_ONLINE
with kmem's trim in it, the proof the host's scenario step checks."""
import os
import sys

import mpd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'channel'))
from chan import Host  # noqa: E402

POLICIES = {'20-nvdimm.conf': '[Match]\nKind=nvdimm\n\n[Online]\nZone=movable\n\n'
                              '[Dax]\nMode=system-ram\n'}


def test(g):
    mpd.start(g, POLICIES)
    h = Host(g.channel_path, timeout=60)
    h.greeting()
    dax = g.make_devdax('namespace0.0')
    assert dax == 'dax0.0', dax
    ev = h.wait_event('DEVICE_ONLINE', lambda d: d['device'] == 'dax:dax0.0')
    print('DEVICE_ONLINE:', ev)
    t = ev.get('kmem_trim')
    assert t and t['checked'] and t['as_predicted'], ev
    assert (t['keep_start'], t['keep_end']) == (0x108000000, 0x17fffffff), t
    d = mpd.wait_device(g, 'dax:dax0.0')
    mpd.assert_clean(d, 15)
    assert d['kind'] == 'nvdimm' and d['zone'] == 'movable', d
    # One policy match for the dax device: it names the file and line that decided both
    # Mode= and the zone of kmem's blocks.
    assert d['policy'].endswith('20-nvdimm.conf:1'), d
    assert 'policy (earlier run)' not in mpd.log(g), mpd.log(g)
    t = d['kmem_trim']
    assert t['checked'] and t['as_predicted'], t
    assert (t['keep_start'], t['keep_end']) == (0x108000000, 0x17fffffff), t
    assert t['stranded_head'] == 98566144 and t['stranded_tail'] == 0, t
    blocks = g.kmem_blocks('dax0.0')
    assert blocks == list(range(33, 48)), blocks
    assert set(mpd.zones(g, blocks).values()) == {('online', 'Movable')}
    drv = g.check('readlink /sys/bus/dax/devices/dax0.0/driver').strip()
    assert drv.endswith('/kmem'), drv
    log = mpd.log(g)
    assert 'kmem trim as predicted' in log, log
    mpd.assert_model_true(g)
    print(log)
    mpd.stop(g)


if __name__ == '__main__':
    mpd.main(test, mem='1G', nvdimms=['2G'], channel=True)
