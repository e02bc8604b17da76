#!/usr/bin/python3
"""memplugd under a real systemd (PID 1) in the Debian guest, installed from
its package and enabled by it, nothing started by hand.

Boot 1 (memhp_default_state=offline; a 512 MiB DIMM present at boot (its
slot comes after the NVDIMM's), a 2 GiB label-less NVDIMM, a virtio-mem device):
- Type=notify: the boot DIMM, there before memplugd, is onlined and verified
  by the first scan, and journald has those messages before systemd's
  "Started" line for the unit (READY comes after the first scan).
- the hardened unit lets memplugd online a hot-added DIMM, grow virtio-mem,
  and turn a devdax NVDIMM into system RAM through kmem.
- systemctl reload with a good policy (the NVDIMM one) takes it; with a
  broken one systemctl reload fails (ExecReload= checks first), a SIGHUP
  sent otherwise is refused by memplugd, the last good set stays, it says so, and
  journalctl -u memplugd -p err shows the error at priority err; the other
  messages are at their own (lower) priorities.
- SIGSTOP: systemd's watchdog restarts memplugd (WatchdogSec=30s), which
  then owns its devices again (state.json kept in /run/memplug), without a
  conflict.
- systemd-analyze security memplugd, measured.
Boot 2 (same disk, same NVDIMM backing file): the NVDIMM comes up devdax
from its info block (a cold-plugged devdax NVDIMM); memplugd hands it to
kmem and onlines it, and the boot DIMM again, from its start."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import debguest  # noqa: E402
from debguest import DebGuest, log  # noqa: E402

NVDIMM_POLICY = ('[Match]\nKind=nvdimm\n\n[Online]\nZone=movable\n\n[Dax]\nMode=system-ram\n')
BROKEN_POLICY = '[Match]\nKind=dimm\nSize=>=lots\n\n[Online]\nZone=sideways\n'
POLDIR = '/etc/memplug/policies.d'


def dev(st, key):
    for d in st['devices']:
        if d['device'] == key:
            return d
    raise AssertionError('no %s in %s' % (key, json.dumps(st, indent=1)))


def verified(g, key, timeout=120):
    st = g.status(wait=key, timeout=timeout)
    d = dev(st, key)
    assert d['outcome'] == 'online' and d['verified'] and not d['violations'] \
        and not d['failed'] and not d['by_other'], d
    log('%s: online in %s, %d block(s) verified (policy %s)'
        % (key, d['zone'], d['verified'], d['policy']))
    return d


def new_device(g, prefix, known, timeout=120):
    """The key of a device named PREFIX... that is not in KNOWN, once memplugd
    has a record of it (slot numbers depend on the NVDIMM's slot)."""
    deadline = time.monotonic() + timeout
    while True:
        keys = [d['device'] for d in g.status()['devices']
                if d['device'].startswith(prefix) and d['device'] not in known]
        if keys:
            return keys[0]
        assert time.monotonic() < deadline, ('no new %s device' % prefix, g.status())
        time.sleep(0.5)


def main_pid(g):
    return int(g.show('memplugd', 'MainPID')['MainPID'])


def started_line(lines):
    for i, line in enumerate(lines):
        if re.search(r'systemd\[1\]: Started memplugd\.service|systemd\[1\]: Started '
                     r'Memory hotplug policy daemon', line):
            return i
    raise AssertionError('no "Started" line for memplugd:\n' + '\n'.join(lines))


def check_ready_after_scan(g, key):
    lines = g.journal('-u memplugd').splitlines()
    s = started_line(lines)
    mine = [i for i, line in enumerate(lines) if key in line and 'memplugd[' in line]
    assert mine and mine[0] < s, ('%s not reported before READY' % key, lines)
    log('READY after the first scan: %s reported on journal line %d, "Started" on line %d'
        % (key, mine[0], s))


def test(g):
    log('boot (to is-system-running) %.1f s, state %s' % (g.boot_time, g.system_state))
    sh = g.show('memplugd', 'Type', 'ActiveState', 'SubState', 'NRestarts', 'WatchdogUSec',
                'StatusText', 'UnitFileState', 'ExecMainStartTimestampMonotonic')
    print(sh)
    assert sh['Type'] == 'notify' and sh['ActiveState'] == 'active', sh
    assert sh['UnitFileState'] == 'enabled' and sh['NRestarts'] == '0', sh
    assert sh['WatchdogUSec'] == '30s', sh

    # A distribution guest's own onliners, as this image has them.
    print(g.check('cat /sys/devices/system/memory/auto_online_blocks; '
                  'grep -rl "SUBSYSTEM==\\"memory\\"" /lib/udev/rules.d /etc/udev/rules.d '
                  '2>/dev/null || echo "no udev rule for memory"'))

    print(g.check('memplugctl status'))
    bootkey = new_device(g, 'dimm:', ())
    boot = verified(g, bootkey)
    check_ready_after_scan(g, bootkey)

    # Hot-added memory of every kind, under the unit's hardening.
    g.add_dimm('dimm1', '256M')
    hotkey = new_device(g, 'dimm:', (bootkey,))
    verified(g, hotkey)
    g.resize_virtio_mem('vm0', '512M')
    vm = [new_device(g, 'virtio-mem:', ())]
    verified(g, vm[0])

    # Reload with a good policy: the NVDIMM one.
    g.check('test -d %s' % POLDIR)   # shipped by the package, empty
    # kmem: loaded at boot by the package's modules-load.d file
    g.check('test -d /sys/bus/dax/drivers/kmem')
    g.write(POLDIR + '/20-nvdimm.conf', NVDIMM_POLICY)
    g.check('chmod 0644 %s/20-nvdimm.conf && memplugctl policy check' % POLDIR)
    g.check('systemctl reload memplugd')
    st = g.status()
    assert POLDIR + '/20-nvdimm.conf' in st['policies'], st['policies']
    dax = g.make_devdax()
    d = verified(g, 'dax:' + dax, timeout=180)
    assert d['kind'] == 'nvdimm' and d['kmem_trim']['as_predicted'], d
    log('kmem trim: %s' % d['kmem_trim']['text'])

    # Reload with a broken policy: refused whole, last good set kept.
    g.write(POLDIR + '/30-broken.conf', BROKEN_POLICY)
    g.check('chmod 0644 %s/30-broken.conf' % POLDIR)
    rc, out = g.run('systemctl reload memplugd')
    print('systemctl reload (broken policy): rc %d %s' % (rc, out.strip()))
    assert rc != 0, (rc, out)    # ExecReload= checks the set before the SIGHUP
    err = g.journal('-u memplugd -p err')
    assert '30-broken.conf:3' in err and '30-broken.conf:6' in err, err
    # A SIGHUP from elsewhere reaches memplugd, which refuses the set itself.
    g.check('systemctl kill -s HUP --kill-who=main memplugd')
    g.wait_until("journalctl -b -u memplugd -p err | grep -q 'reload refused'", timeout=60)
    st = g.status()
    assert POLDIR + '/20-nvdimm.conf' in st['policies'], st
    assert POLDIR + '/30-broken.conf' not in st['policies'], st
    assert '30-broken.conf:' in st.get('refused_reload', ''), st
    assert g.show('memplugd', 'ActiveState')['ActiveState'] == 'active'
    err = g.journal('-u memplugd -p err')
    print('journalctl -u memplugd -p err:\n' + err)
    assert 'reload refused' in err and 'keeping the' in err, err
    assert 'ready:' not in err and 'verified' not in err, err
    prios = {}
    for e in g.journal('-u memplugd', json_out=True):
        if e.get('_COMM') == 'memplugd':
            m = e.get('MESSAGE', '')
            prios.setdefault(e.get('PRIORITY'), m if isinstance(m, str) else repr(m))
    print('priorities seen (one message each): %s' % json.dumps(prios, indent=1))
    assert prios.get('3') and (prios.get('5') or prios.get('6')), prios
    g.check('rm %s/30-broken.conf && systemctl reload memplugd' % POLDIR)

    # The watchdog: a stopped memplugd is killed and restarted by systemd.
    pid = main_pid(g)
    t0 = time.monotonic()
    g.check('kill -STOP %d' % pid)
    deadline = t0 + 240
    while True:
        s = g.show('memplugd', 'MainPID', 'ActiveState', 'NRestarts')
        if int(s['MainPID']) not in (0, pid) and s['ActiveState'] == 'active':
            break
        assert time.monotonic() < deadline, ('not restarted', s)
        time.sleep(1)
    took = time.monotonic() - t0
    j = g.journal('-u memplugd')
    print('\n'.join(line for line in j.splitlines()[-30:] if 'systemd[1]' in line))
    assert re.search(r'memplugd\.service: Watchdog timeout', j), j
    log('watchdog: SIGSTOP to a new active memplugd in %.1f s (WatchdogSec=30s), NRestarts=%s'
        % (took, s['NRestarts']))
    st = g.status()
    for key in (bootkey, hotkey, vm[0], 'dax:' + dax):
        d = dev(st, key)
        assert d['outcome'] == 'online' and not d['by_other'], d
    assert not [c for c in st['conflicts'] if 'conflict' in c], st['conflicts']

    sec = g.check('systemd-analyze security --no-pager memplugd')
    print(sec)
    m = re.search(r'Overall exposure level for memplugd\.service: ([0-9.]+) (\w+)', sec)
    assert m, sec
    log('systemd-analyze security memplugd (in the guest): %s %s' % (m.group(1), m.group(2)))

    # Boot 2: the same disk and NVDIMM, cold.
    g.restart()
    log('boot 2 %.1f s, state %s' % (g.boot_time, g.system_state))
    verified(g, bootkey)
    d = verified(g, 'dax:' + dax, timeout=180)
    assert d['kind'] == 'nvdimm', d
    j = g.journal('-u memplugd')
    s = started_line(j.splitlines())
    print('boot 2, memplugd journal:\n' + j)
    at_start = [i for i, line in enumerate(j.splitlines()) if 'dax:' + dax in line]
    log('cold-plugged %s: first reported on journal line %d, "Started" on line %d (%s)'
        % (dax, at_start[0], s, 'in the first scan' if at_start[0] < s
           else 'after READY: nd/dax modules were loaded by udev later'))
    assert boot['zone'] == dev(g.status(), bootkey)['zone']


if __name__ == '__main__':
    debguest.main(test, mem='1G', slots=8, maxmem='16G', nvdimms=['2G'],
                  qemu_args=['-object', 'memory-backend-ram,id=mem-bootdimm,size=512M',
                             '-device', 'pc-dimm,id=bootdimm,memdev=mem-bootdimm']
                  + DebGuest.virtio_mem_args('vm0', '1G'))
