#!/usr/bin/python3
"""memplug's main job, end to end in a real guest: the scenario
scenarios/default.scn run by `memplugctl scenario run` against a TCG guest
(Debian's kernel, 2 NUMA nodes, nvdimm=on, memhp_default_state=offline)
with memplugd and the memplug channel.  memplugd runs with the shipped
default policy, the shipped NVDIMM example (20-nvdimm-system-ram.conf) and
one policy that puts 768 MiB DIMMs in the kernel zone, for the refusal.

The scenario plugs, proves, drains and unplugs through QMP and the
channel; this driver only does what the channel never does, running
commands in the guest, at the scenario's hooks: make the NVDIMM's
namespace devdax, arm the grow policy and make memory pressure, fill the
kernel-zone DIMM with slab.  It prints
memplugctl's per-step report and exits with its status (0: every step
passed)."""
import os
import shutil
import sys
import tempfile

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, 'tests', 'guest'))
sys.path.insert(0, os.path.join(top, 'tests', 'channel'))
from guest import Guest, build_dir  # noqa: E402
import scnrun  # noqa: E402
import grow  # noqa: E402

SCENARIO = os.path.join(top, 'scenarios', 'default.scn')
POLICY_DIR = '/etc/memplug/policies.d'
POLICIES = {
    '10-kernel.conf': b'# demo: 768 MiB DIMMs go to the kernel zone (the refused unplug)\n'
                      b'[Match]\nKind=dimm\nSize=768M\n\n[Online]\nZone=kernel\n',
}
# the grow step's guest policy: a request for 256 MiB on node 1 when
# memory stalls 50 ms in a second
GROW_POLICY = (b'# demo: grow on pressure (installed by the pressure hook)\n'
               b'[Grow]\nPressure=some\nStall=50ms\nWindow=1s\nStep=256M\nCeiling=16G\n'
               b'Cooldown=30s\nNode=1\n')
# the host's limits for the serve step (docs/host.md)
HOST_CONF = ('[Grow]\nMaxMemory=16G\nStep=256M\nCooldown=30s\nHostFreeFloor=64M\n'
             'MaxRequestsPerMinute=6\nProofTimeout=120s\n')
SHIPPED = {
    '50-default.conf': os.path.join(top, 'policies', 'default', '50-default.conf'),
    '20-nvdimm-system-ram.conf': os.path.join(top, 'policies', 'examples',
                                              '20-nvdimm-system-ram.conf'),
}


def show(g, cmd):
    print('[guest]# ' + cmd, flush=True)
    print(g.run(cmd + ' 2>&1')[1].rstrip(), flush=True)


def hooks(g):
    def devdax(devices):
        # the hot-added NVDIMM's label-less namespace, made devdax as
        # `ndctl create-namespace -m devdax` would; memplugd takes it from there
        g.wait_until('[ -e /sys/bus/nd/devices/namespace0.0 ]', timeout=60)
        return 'namespace0.0 -> ' + g.make_devdax('namespace0.0', timeout=60)

    def fill_slab(devices):
        # on node 0's CPU, whose only ZONE_NORMAL is the kernel-zone DIMM: the
        # dentries and inodes land there, and the kernel cannot migrate them
        g.check('mkdir -p /tmp/f && cd /tmp/f && taskset 1 sh -c \'i=0; while [ $i -lt 20000 ]; '
                'do : > f$i; i=$((i+1)); done\'', timeout=600)
        return '20000 files on node 0'

    hog = []

    def pressure(devices):
        # memplugd's [Grow] policy armed only now (a reload), so that no
        # request comes before the scenario waits for one; then a hog over
        # its cgroup's memory.high, which makes PSI memory stall in a
        # guest without swap (tests/channel/grow.py says why a plain one
        # does not)
        g.put_file(GROW_POLICY, '%s/60-grow.conf' % POLICY_DIR)
        g.check('kill -HUP $(pidof memplugd)')
        g.wait_until("memplugctl status -J | grep -q '\"armed\": *true'", timeout=60)
        hog.append(grow.hog_start(g))
        return 'trigger armed, hog started'

    def calm(devices):
        for pid in hog:
            grow.hog_stop(g, pid)
        g.check('rm -f %s/60-grow.conf && kill -HUP $(pidof memplugd)' % POLICY_DIR)
        return 'hog stopped, [Grow] policy removed'

    return {'devdax': devdax, 'fill-slab': fill_slab, 'pressure': pressure, 'calm': calm}


def main():
    ctl = os.path.join(build_dir(), 'cli', 'memplugctl')
    sockdir = tempfile.mkdtemp(prefix='mp-demo-')
    qmp = os.path.join(sockdir, 'host.sock')
    with open(os.path.join(sockdir, 'host.conf'), 'w') as f:
        f.write(HOST_CONF)
    try:
        with Guest(name='demo', numa=['1G', '1G'], nvdimm=True, slots=8, maxmem='16G',
                   channel=True, verbose=False,
                   qemu_args=['-qmp', 'unix:%s,server=on,wait=off' % qmp]) as g:
            print('guest booted in %.1f s (kernel %s), 2 NUMA nodes of 1 GiB'
                  % (g.boot_time, g.read('/proc/sys/kernel/osrelease')), flush=True)
            g.check('mkdir -p %s' % POLICY_DIR)
            for name, path in SHIPPED.items():
                with open(path, 'rb') as f:
                    g.put_file(f.read(), '%s/%s' % (POLICY_DIR, name))
            for name, text in POLICIES.items():
                g.put_file(text, '%s/%s' % (POLICY_DIR, name))
            show(g, 'memplugctl policy check %s' % POLICY_DIR)
            g.check('memplugd -p %s 2>>/tmp/memplugd.log' % POLICY_DIR, timeout=60)
            print('[guest] memplugd started; the host reaches it on the memplug channel\n',
                  flush=True)
            rc, rep, out = scnrun.run(ctl, SCENARIO,
                                      ['--qmp', qmp, '--channel', g.channel_path],
                                      hooks=hooks(g),
                                      env={'MEMPLUG_SCENARIO_DIR': sockdir})
            print(flush=True)
            show(g, 'memplugctl list')
            if rc != 0:
                show(g, 'tail -40 /tmp/memplugd.log')
                # What the kernel said (a driver's probe failure is only there).
                show(g, 'dmesg | tail -25')
            ok = rc == 0 and rep and rep['failed'] == 0 and rep['skipped'] == 0
            print('\nmain job: %s' % ('every step passed' if ok else
                                       'FAILED (exit %d)' % rc), flush=True)
            return 0 if ok else 1
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
