"""Helpers for memplugd's real-guest tests: start memplugd inside a
tests/guest Guest with given policies, wait for its decisions through its
control socket (memplugctl status --wait), read its log."""

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'guest'))
from guest import main, require_built, GuestError  # noqa: E402,F401

POLICY_DIR = '/etc/memplug/policies.d'
LOG = '/tmp/memplugd.log'
MEM = '/sys/devices/system/memory'


def put_policies(g, policies):
    """policies: {'10-x.conf': 'text', ...} into POLICY_DIR (root-owned, 0644)."""
    g.check('mkdir -p %s && rm -f %s/*.conf' % (POLICY_DIR, POLICY_DIR))
    for name, text in policies.items():
        g.put_file(text.encode(), '%s/%s' % (POLICY_DIR, name), timeout=30)
        g.check('chmod 0644 %s/%s' % (POLICY_DIR, name))


def start(g, policies=None, args=''):
    """Starts memplugd (it detaches once its first scan is done); returns its pid."""
    if policies is not None:
        put_policies(g, policies)
    g.check('memplugd -v -p %s %s 2>>%s' % (POLICY_DIR, args, LOG), timeout=60)
    return int(g.check('pidof memplugd').split()[0])


def status(g):
    return json.loads(g.check('memplugctl status -J'))


def wait_device(g, key, timeout=60):
    """memplugd's record of device key once it has a final outcome."""
    out = g.check('memplugctl status -J --wait %s --timeout %d' % (key, timeout),
                  timeout=timeout + 10)
    st = json.loads(out)
    for d in st['devices']:
        if d['device'] == key:
            return d
    raise AssertionError('no device %s in %s' % (key, out))


def log(g):
    return g.check('cat %s' % LOG)


def zones(g, blocks):
    out = g.check('for b in %s; do echo "$b $(cat %s/memory$b/state) $(cat %s/memory$b/valid_zones)"; done'
                  % (' '.join(map(str, blocks)), MEM, MEM))
    return {int(l.split()[0]): tuple(l.split()[1:]) for l in out.splitlines() if l.strip()}


def assert_model_true(g, min_scans=1):
    """memplugd's model, which its rescans keep by reading only the blocks
    uevents named (mp_memory_rescan()), says what sysfs says now, block by
    block (`list` from the daemon against `list --direct`); and the scans
    since the first were not full ones.  Zones are compared for online
    blocks: an offline block's valid_zones moves with its neighbours and
    the model reads it only for a device it is about to online."""
    cols = '-J -a -o RANGE,SIZE,STATE,BLOCK,NODE,ZONES,DEVICE'
    model = json.loads(g.check('memplugctl list %s' % cols))['memory']
    direct = json.loads(g.check('memplugctl list --direct %s' % cols))['memory']
    for row in model + direct:
        if row['state'] != 'online':
            row.pop('zones', None)
    assert model == direct, [(a, b) for a, b in zip(model, direct) if a != b] or (
        len(model), len(direct))
    st = status(g)
    assert st['scans'] >= min_scans and st['full_scans'] == 1, (st['scans'], st['full_scans'])
    print('model: %d blocks as sysfs says; %d scans, %d full' % (len(model), st['scans'],
                                                                st['full_scans']))


def stop(g):
    g.run('kill $(pidof memplugd) 2>/dev/null; i=0; while pidof memplugd >/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done')


def assert_clean(d, nblocks):
    assert d['outcome'] == 'online', d
    assert d['onlined'] == nblocks and d['verified'] == nblocks, d
    assert d['violations'] == 0 and d['failed'] == 0, d


def main_with_host_qmp(test, ctl, sockdir, qmp, **kw):
    """main() for a test that drives the VM as a host tool does (memplugctl
    host, scenario, serve): QEMU gets a second QMP monitor at @qmp for
    memplugctl (QEMU serves several and sends events to all of them, so the
    harness keeps its own), and @sockdir, where @qmp lives, is removed
    afterwards.  Skips unless memplugctl @ctl is built."""
    require_built(ctl)
    try:
        main(test, qemu_args=['-qmp', 'unix:%s,server=on,wait=off' % qmp], **kw)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
