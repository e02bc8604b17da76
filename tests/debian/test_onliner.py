#!/usr/bin/python3
"""What a distribution guest brings with it: other onliners.

Boot with the distribution kernel's own default (no memhp_default_state on
the command line) and a 512 MiB DIMM present at boot.  Debian's 6.12
kernels are built with CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y: the kernel
onlines the boot DIMM and every hot-added DIMM before memplugd looks, and
memplugd says so at start (auto_online_blocks) and reports each such device
as another onliner's, without touching it.  (A kernel whose default is
offline, like Debian's 6.1, gets auto-online switched on at run time, so the
hot-add part is the same; its boot DIMM is then memplugd's.)

Then the kernel's auto-online is switched off at run time and a udev rule
of the kind distributions ship (RHEL's 40-redhat.rules: ATTR{state}="online"
on every memory add) does the onlining: memplugd and udev race for the
blocks.  Whoever wins a block, the outcome is reported truthfully: every
block is online once, and the blocks udev took are counted as another
onliner's (by_other) with a conflict named in memplugctl status."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import debguest  # noqa: E402
from debguest import log  # noqa: E402

MEM = '/sys/devices/system/memory'
RULE = ('SUBSYSTEM=="memory", ACTION=="add", PROGRAM="/bin/uname -p", RESULT!="s390*", '
        'ATTR{state}=="offline", ATTR{state}="online"\n')


def dev(st, key):
    for d in st['devices']:
        if d['device'] == key:
            return d
    raise AssertionError('no %s in %s' % (key, st))


def test(g):
    default = g.read(MEM + '/auto_online_blocks')
    kver = g.check('uname -r').strip()
    log('kernel %s: auto_online_blocks defaults to %s' % (kver, default))
    b = dev(g.status(wait='dimm:slot0'), 'dimm:slot0')
    print('boot DIMM: %s' % b)
    if default == 'offline':
        assert b['outcome'] == 'online' and b['onlined'], b
        g.write(MEM + '/auto_online_blocks', 'online')
    else:
        st = g.status()
        print('conflicts at start: %s' % st['conflicts'])
        assert any("auto_online_blocks" in c for c in st['conflicts']), st
        j = g.journal('-u memplugd')
        assert "conflict: auto_online_blocks is '%s'" % default in j, j
        assert b['outcome'] == 'other-onliner' and b['onlined'] == 0, b

    g.add_dimm('dimm1', '256M')
    d = dev(g.status(wait='dimm:slot1'), 'dimm:slot1')
    print('hot-added, kernel auto-online: %s' % d)
    assert d['outcome'] == 'other-onliner' and d['onlined'] == 0, d
    assert 'before memplugd acted' in d['message'], d

    # A udev rule instead of the kernel.
    g.write(MEM + '/auto_online_blocks', 'offline')
    g.write('/etc/udev/rules.d/40-memory-online.rules', RULE)
    g.check('udevadm control --reload')
    dimm = g.add_dimm('dimm2', '1G')
    blocks = g.blocks_of(dimm['addr'], dimm['size'])
    d = dev(g.status(wait='dimm:slot2'), 'dimm:slot2')
    print('hot-added, udev rule: %s' % d)
    states = g.block_states(blocks)
    assert set(states.values()) == {'online'}, states
    assert d['onlined'] + d['by_other'] == len(blocks), d
    st = g.status()
    if d['by_other']:
        assert any(c.startswith('dimm:slot2:') for c in st['conflicts']), st['conflicts']
    log('udev rule vs memplugd, 8 blocks: memplugd onlined %d, udev %d (outcome %s)'
        % (d['onlined'], d['by_other'], d['outcome']))
    print(g.journal('-u memplugd'))
    print(g.journal('-u systemd-udevd'))


if __name__ == '__main__':
    debguest.main(test, mem='1G', slots=8, maxmem='16G', online=None,
                  qemu_args=['-object', 'memory-backend-ram,id=mem-bootdimm,size=512M',
                             '-device', 'pc-dimm,id=bootdimm,memdev=mem-bootdimm'])
