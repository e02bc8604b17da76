#!/usr/bin/python3
"""memplug's main job, end to end in a real guest: boot Debian's kernel
under TCG (memhp_default_state=offline).  First by hand: hot-add a 1 GiB
DIMM through QMP, show what memplugctl sees and predicts, online it to
ZONE_MOVABLE, show the verified result (state, valid_zones, kpageflags).
Then as in production: start memplugd with the shipped default policy,
hot-add a second DIMM, and show memplugd's decision and verification."""
import os
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, 'tests', 'guest'))
from guest import Guest  # noqa: E402


def show(g, cmd):
    print('\n[guest]# ' + cmd, flush=True)
    print(g.run(cmd + ' 2>&1')[1].rstrip(), flush=True)


def main():
    with Guest(name='demo', mem='1G', slots=8, maxmem='16G', verbose=False) as g:
        print('guest booted in %.1f s (kernel %s)' % (g.boot_time, g.read('/proc/sys/kernel/osrelease')))
        show(g, 'memplugctl list')
        print('\n[host] QMP: object-add memory-backend-ram size=1G; device_add pc-dimm id=dimm0')
        dev = g.add_dimm('dimm0', '1G')
        print('[host] DIMM in slot %d at %#x' % (dev['slot'], dev['addr']))
        first = dev['addr'] // g.block_size()
        last = first + (1 << 30) // g.block_size() - 1
        g.wait_for_blocks(list(range(first, last + 1)))
        g.wait_until('[ -e /sys/devices/system/memory/memory%d/firmware_node ]' % last)
        show(g, 'memplugctl list')
        show(g, 'memplugctl explain memory%d' % first)
        show(g, 'memplugctl online --zone movable memory%d-%d' % (first, last))
        show(g, 'memplugctl list')
        show(g, 'memplugctl explain memory%d' % first)
        # Verification, the kernel's own view: every block online in Movable,
        # no PFN without an online page.
        bad = []
        for b in range(first, last + 1):
            st = g.read('/sys/devices/system/memory/memory%d/state' % b)
            zo = g.read('/sys/devices/system/memory/memory%d/valid_zones' % b)
            if (st, zo) != ('online', 'Movable'):
                bad.append('memory%d %s %s' % (b, st, zo))
        nopage = g.check("memplugctl explain -J memory%d | grep '\"nopage\"'" % first).strip()
        print('\nverified: %d blocks online in ZONE_MOVABLE%s; memory%d kpageflags %s'
              % (last - first + 1, (' except ' + ', '.join(bad)) if bad else '', first, nopage))
        if bad or not nopage.endswith(':0,'):
            return 1

        print('\n=== memplugd: policy-driven onlining with proof ===')
        with open(os.path.join(top, 'policies', 'default', '50-default.conf'), 'rb') as f:
            g.check('mkdir -p /etc/memplug/policies.d')
            g.put_file(f.read(), '/etc/memplug/policies.d/50-default.conf')
        show(g, 'memplugctl policy check /etc/memplug/policies.d')
        g.check('memplugd -p /etc/memplug/policies.d 2>>/tmp/memplugd.log', timeout=60)
        print('\n[host] QMP: object-add memory-backend-ram size=1G; device_add pc-dimm id=dimm1')
        dev = g.add_dimm('dimm1', '1G')
        key = 'dimm:slot%d' % dev['slot']
        rc, out = g.run('memplugctl status --wait %s --timeout 60 2>&1' % key, timeout=70)
        print('\n[guest]# memplugctl status --wait %s\n%s' % (key, out.rstrip()))
        show(g, 'memplugctl list')
        show(g, 'cat /tmp/memplugd.log')
        st = g.check('memplugctl status -J')
        import json
        d = [x for x in json.loads(st)['devices'] if x['device'] == key][0]
        ok = d['outcome'] == 'online' and d['verified'] == d['onlined'] > 0 and not d['violations']
        print('\n%s: %s, %d blocks onlined, %d verified, %d violations'
              % (key, d['outcome'], d['onlined'], d['verified'], d['violations']))
        return 0 if rc == 0 and ok else 1


if __name__ == '__main__':
    sys.exit(main())
