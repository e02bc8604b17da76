#!/usr/bin/python3
"""memplugctl host through libvirt, against a real libvirtd (started here
when none runs) and a real TCG guest booted by it: DIMM attach and detach,
host node placement in the device XML (NVDIMMs: through <numatune>), ids
and paths that are not plain text, a detach refused by the guest
(memory onlined to the kernel zone and pinned by slab allocations) surfaced
with the DIMM still in the domain, virtio-mem resize through the live
device XML, a plug whose connection libvirtd dropped (an error naming
libvirt, exit 1, nothing attached).  Then the memplug channel (org.memplug.0 in the domain XML,
found by memplugctl in the live XML) with memplugd started in the guest:
plug --wait-online through libvirt gets the guest's proof, memplugctl host
proof shows it again for that device, and for every device says no proof
for the DIMM memplugd did not online (the pinned one, onlined by hand),
and the coordinated unplug drains through the channel before libvirt
detaches.  Then with memplugd in the guest and the domain's memplug
channel, the scenarios: libvirt.scn (plug with the guest's proof, the
coordinated unplug) and, after a plain `virsh attach-device --live` by the
test, scenarios/observe.scn, which only observes that DIMM and collects
its proof.  Then `memplugctl host serve --connect --domain` while libvirtd
restarts: the next grow request (a memory hog under memplugd's [Grow]
policy) reconnects to libvirt and is granted with the guest's proof; the
same after libvirtd drops only serve's connection (virt-admin).

Usage: test_libvirt.py MEMPLUGCTL
"""
import difflib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'daemon'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'channel'))
from guest import SYSMEM, GuestSkip, require_built
from hostctl import HostCtl, pin_in_kernel_zone
from virtguest import URI, Daemons, VirtGuest, virsh
import mpd  # noqa: E402
import scnrun  # noqa: E402
import grow  # noqa: E402

CTL = os.path.abspath(sys.argv[1])
DOM = 'memplug-test-libvirt'
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def host(dom=DOM):
    return HostCtl(CTL, '--connect', URI, '--domain', dom)


def live_xml(dom=DOM):
    return virsh('dumpxml', dom)


def assert_xml_unchanged(before, dom=DOM):
    after = live_xml(dom)
    assert after == before, ''.join(difflib.unified_diff(
        before.splitlines(True), after.splitlines(True), 'before', 'after'))


def test(g):
    ctl = host()
    # attach: libvirt's own device XML, alias ua-mp-dimm0
    blocks = ctl.plug(g, '256M', 'ua-mp-dimm0')
    assert "<alias name='ua-mp-dimm0'/>" in live_xml()
    # detach, waiting for DEVICE_REMOVED (either spelling of the id works)
    ctl('unplug', 'mp-dimm0', '--timeout', '60')
    assert 'ua-mp-dimm0' not in ctl.devices()
    assert 'ua-mp-dimm0' not in live_xml()
    g.wait_until('! [ -e %s/memory%d ]' % (SYSMEM, blocks[0]))

    # host placement: the backend bound to the host node libvirt reports
    ctl('plug', '128M', '--host-node', 'auto')
    x = live_xml()
    assert '<nodemask>0</nodemask>' in x, x
    ctl('unplug', 'ua-mp-dimm0', '--timeout', '60')

    # refused: online_kernel + dentries/inodes in the DIMM
    pin_in_kernel_zone(g, ctl.plug(g, '128M', 'ua-mp-dimm0'))
    r = ctl('unplug', 'mp-dimm0', '--timeout', '60', rc=1)
    assert 'refused' in r.stderr and 'DEVICE_REMOVAL_FAILED' in r.stderr, r.stderr
    assert 'ua-mp-dimm0' in ctl.devices()
    assert "<alias name='ua-mp-dimm0'/>" in live_xml()

    # virtio-mem: requested size through the live device XML; up and back
    ctl('resize', 'virtiomem0', '256M', '--timeout', '120')
    assert ctl.devices()['virtiomem0']['size'] == 256 << 20
    assert "<requested unit='KiB'>262144</requested>" in live_xml()
    ctl('resize', 'virtiomem0', '0', '--timeout', '120')
    assert ctl.devices()['virtiomem0']['size'] == 0
    ctl('resize', 'virtiomem0', '2G', rc=1)

    # libvirt refuses a node the domain lacks: nothing left behind
    r = ctl('plug', '128M', '--node', '5', rc=1)
    assert 'ua-mp-dimm1' in r.stderr, r.stderr
    assert not [o for o in g.qmp('qom-list', path='/objects') if 'mp-dimm1' in o['name']]

    # an id QEMU would refuse is refused before libvirt sees any XML
    before = live_xml()
    r = ctl('plug', '128M', '--id', "x'/><memory model='dimm", rc=1)
    assert 'not a valid device id' in r.stderr, r.stderr
    assert_xml_unchanged(before)

    test_dropped_connection(g)

    # errors name the object
    r = ctl('unplug', 'mp-nope', rc=1)
    assert 'mp-nope' in r.stderr
    r = host('no-such-domain')('list', rc=1)
    assert 'no-such-domain' in r.stderr, r.stderr


def test_channel(g):
    """plug --wait-online and proof through libvirt and the channel.  Runs
    after test(): ua-mp-dimm0 is still there, onlined to the kernel zone by
    hand, so memplugd calls it another onliner's."""
    ctl = host()
    # without memplugd: no proof, said, exit 1
    r = ctl('proof', 'ua-mp-dimm0', '--timeout', '5', rc=1)
    assert 'no proof available' in r.stderr, r.stderr
    mpd.start(g, {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'})
    r = ctl('plug', '256M', '--wait-online', '-J')
    out = json.loads(r.stdout)
    p, = out['proof']
    dev = ctl.devices()[p['id']]
    blocks = g.blocks_of(dev['addr'], dev['size'])
    assert p['id'] == 'ua-mp-dimm1' and p['device'] == 'dimm:slot%d' % dev['slot'], p
    assert p['outcome'] == 'online' and p['zone'] == 'movable' and p['node'] == 0, p
    assert p['verified'] == len(blocks) == p['expected_blocks'] and p['violations'] == 0, p
    assert p['policy'].endswith('50-movable.conf:1'), p
    print('libvirt plug -> proof: host_ms %d (guest: first uevent to verified %d us)'
          % (p['host_ms'], p['guest_timings']['latency_us']))
    # the same proof, asked afterwards (either spelling of the id)
    r = ctl('proof', 'mp-dimm1', '-J')
    q, = json.loads(r.stdout)['proofs']
    assert q['id'] == 'ua-mp-dimm1' and q['outcome'] == 'online', q
    assert q['device'] == p['device'] and q['verified'] == p['verified'], q
    assert q['kind'] == 'dimm' and q['slot'] == dev['slot'], q
    r = ctl('proof', 'ua-mp-dimm1')
    assert 'proof: online and verified by the guest: %s' % p['device'] in r.stdout, r.stdout
    # every device: the hand-onlined DIMM has no proof, so exit 1
    r = ctl('proof', '-J', rc=1)
    allp = {x['id']: x for x in json.loads(r.stdout)['proofs']}
    assert allp['ua-mp-dimm1']['outcome'] == 'online', allp
    assert allp['ua-mp-dimm0']['outcome'] != 'online', allp
    assert allp['virtiomem0']['outcome'] == 'empty', allp
    r = ctl('proof', 'mp-nope', rc=1)
    assert 'mp-nope' in r.stderr, r.stderr
    # coordinated unplug through libvirt: drained by the guest, then detached
    r = ctl('unplug', 'ua-mp-dimm1', '-J')
    u = json.loads(r.stdout)
    assert u['outcome'] == 'unplugged' and u['drain']['result'] == 'ok', u
    assert 'ua-mp-dimm1' not in live_xml()
    mpd.stop(g)


def test_scenarios(g):
    """The scenarios through libvirt, the guest's proof over the domain's
    org.memplug.0 channel (memplugctl finds it in the live XML)."""
    mpd.start(g, {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n'})
    conn = ['--connect', URI, '--domain', DOM]
    rc, rep, out = scnrun.run(CTL, os.path.join(HERE, 'libvirt.scn'), conn)
    assert rc == 0 and rep['failed'] == 0 and rep['skipped'] == 0, (rc, rep)
    assert 'proof_unavailable' not in rep, rep
    st = {s['op']: s for s in rep['steps']}
    p = st['expect online']['proof']
    assert p['outcome'] == 'online' and p['zone'] == 'movable' and p['verified'] == 2, p
    assert p['policy'].endswith('50-movable.conf:1'), p
    u = st['unplug']['unplug']
    assert u['outcome'] == 'unplugged' and u['drain']['result'] == 'ok', u
    assert rep['devices']['d'] not in host().devices(), rep['devices']

    # a plain virsh attach-device by someone else; memplug only observes it
    xml = tempfile.NamedTemporaryFile('w', suffix='.xml', delete=False)
    xml.write("<memory model='dimm'><target><size unit='KiB'>262144</size><node>0</node>"
              "</target><alias name='ua-obs0'/></memory>")
    xml.close()
    try:
        virsh('attach-device', DOM, xml.name, '--live')
    finally:
        os.unlink(xml.name)
    rc, rep, out = scnrun.run(CTL, os.path.join(SRC, 'scenarios', 'observe.scn'), conn,
                              env={'MEMPLUG_DEVICE': 'ua-obs0'})
    assert rc == 0 and rep['failed'] == 0, (rc, rep)
    s0 = rep['steps'][0]
    p = s0['proof']
    assert s0['id'] == 'ua-obs0' and p['outcome'] == 'online', s0
    d = host().devices()['ua-obs0']
    blocks = g.blocks_of(d['addr'], d['size'])
    assert p['device'] == 'dimm:slot%d' % d['slot'], (p, d)
    assert p['onlined'] == p['verified'] == len(blocks) and p['zone'] == 'movable', p
    assert rep['left_plugged'] == [] and rep['devices'] == {}, rep
    print('observed ua-obs0: %s %s, proof after %d ms' % (p['device'], p['blocks'],
                                                          p['host_ms']))
    mpd.stop(g)


def disconnect_client(pid):
    """Drops libvirtd's connection of process @pid (virt-admin), as libvirtd
    drops a client that idled without answering its keepalive probes."""
    out = subprocess.run(['virt-admin', 'client-list', 'libvirtd'], capture_output=True,
                         text=True, check=True).stdout
    for cid in [l.split()[0] for l in out.splitlines() if l.strip()[:1].isdigit()]:
        info = subprocess.run(['virt-admin', 'client-info', 'libvirtd', cid],
                              capture_output=True, text=True).stdout
        if re.search(r'unix_process_id\s*:\s*%d\s*$' % pid, info, re.M):
            subprocess.run(['virt-admin', 'client-disconnect', 'libvirtd', cid], check=True)
            return cid
    raise AssertionError('no libvirtd client of pid %d:\n%s' % (pid, out))


def test_dropped_connection(g):
    """libvirtd drops memplugctl's connection (as its keepalive drops a client
    that idled, here with virt-admin) while memplugctl waits for a channel
    that never greets: the plug's next RPC, and the close, write to a closed
    socket.  memplugctl must say so and exit 1, with nothing attached; it
    once died of SIGPIPE there (exit -13, no message)."""
    with tempfile.TemporaryDirectory() as d:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.bind(os.path.join(d, 'silent.sock'))
        silent.listen(1)
        before = live_xml()
        p = subprocess.Popen(host().argv + ['--channel', os.path.join(d, 'silent.sock'),
                                            'plug', '128M'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # connected to the channel: memplugctl waits for its greeting (5 s)
            conn, _ = silent.accept()
            cid = disconnect_client(p.pid)
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
            silent.close()
        print('libvirtd dropped client %s: memplugctl host plug -> %d\n%s%s'
              % (cid, p.returncode, out, err))
        assert p.returncode == 1, (p.returncode, err)
        assert 'libvirt' in err, err
        conn.close()
        assert_xml_unchanged(before)


def serve_grant(g, serve, n, what):
    """A hog until serve's next decision: request @n granted with the proof."""
    hog = grow.hog_start(g)
    try:
        d = serve.decision(240)
    finally:
        grow.hog_stop(g, hog)
    assert d, ('no decision', serve.log())
    assert d['request'] == n and d['granted'] and d['answered'] and d['proof'] == 'online', d
    print('%s: request %d granted %d MiB, %s, proof online'
          % (what, d['request'], d['size'] >> 20, d['device']))


def test_serve_reconnect(g, daemons):
    """host serve through libvirt when libvirtd drops its connection: first
    the connection alone (virt-admin client-disconnect: what libvirtd's
    keepalive does to a client that idles), then, when this test started
    libvirtd, libvirtd stopped and started again.  Each time the next grow
    request reconnects and is granted with the guest's proof, nothing lost.
    Returns False when libvirtd's own reconnect stopped the domain."""
    conf = os.path.join(g.workdir, 'serve.conf')
    with open(conf, 'w') as f:
        f.write('[Grow]\nMaxMemory=4G\nStep=256M\nCooldown=1s\nHostFreeFloor=64M\n'
                'MaxRequestsPerMinute=30\nProofTimeout=120s\n')
    mpd.start(g, {'50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n',
                  '60-grow.conf': '[Grow]\nPressure=some\nStall=50ms\nWindow=1s\n'
                                  'Step=256M\nCeiling=4G\nCooldown=2s\n'})
    serve = grow.Serve(CTL, None, None, conf, os.path.join(g.workdir, 'serve.log'),
                       conn=['--connect', URI, '--domain', DOM])
    alive = True
    try:
        deadline = time.monotonic() + 60
        while 'connected to memplugd' not in serve.log():
            assert time.monotonic() < deadline, serve.log()
            time.sleep(0.2)
        cid = disconnect_client(serve.p.pid)
        print('libvirtd dropped host serve\'s connection (client %s)' % cid)
        serve_grant(g, serve, 1, 'after the dropped connection')
        assert serve.log().count('connected to libvirt again') == 1, serve.log()
        if not daemons.started:
            print('libvirtd restart not run: libvirtd was not started by this test')
            return True
        old = daemons.restart_libvirtd()
        print('libvirtd restarted (pid %d -> %d) under host serve' % (old, daemons.started[-1]))
        state = virsh('domstate', DOM, check=False).strip()
        if state != 'running':
            # libvirt's own reconnect to the domain, not memplug: seen once
            # (the QEMU log: "terminating on signal 15 from ... (libvirtd)",
            # "shutting down, reason=shutdown")
            print('libvirtd restart not judged: the restarted libvirtd left the domain %s'
                  % state)
            alive = False
            return False
        serve_grant(g, serve, 2, 'after the restart')
        assert serve.log().count('connected to libvirt again') == 2, serve.log()
    finally:
        rc = serve.stop()
        if alive:
            mpd.stop(g)
    assert rc == 0, (rc, serve.log())
    return True


def qom(dom, path, prop):
    out = virsh('qemu-monitor-command', dom, json.dumps(
        {'execute': 'qom-get', 'arguments': {'path': path, 'property': prop}}))
    return json.loads(out)['return']


def test_nvdimm(workdir):
    """NVDIMM hot-add through libvirt: refused up front when the domain did
    not start with an NVDIMM (no nvdimm=on), done when it did.  Host node
    placement: libvirt has no per-device <nodemask> for an NVDIMM, so the
    binding is the domain's <numatune> for the guest cell; honoured (and
    seen in QEMU's backend) when the domain has one, refused when not.  A
    backing path with XML's special characters reaches QEMU unchanged.  No
    guest OS needed: the domains stay paused."""
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    files = []
    for name in ('nv0.img', 'nv1.img', 'nv2.img', 'nv3.img', "nv'4&<\">.img"):
        f = os.path.join(workdir, name)
        with open(f, 'wb') as fh:
            fh.truncate(256 << 20)
        os.chmod(f, 0o666)
        files.append(f)
    numatune = "<numatune><memnode cellid='0' mode='strict' nodeset='0'/></numatune>"
    boot_nv = ("<memory model='nvdimm'><source><path>%s</path></source><target>"
               "<size unit='KiB'>262144</size><node>0</node></target></memory>" % files[0])
    for name, nv, tune in (('memplug-test-nonv', '', ''),
                           ('memplug-test-nv', boot_nv, ''),
                           ('memplug-test-nv-numa', boot_nv, numatune)):
        xml = os.path.join(workdir, name + '.xml')
        with open(xml, 'w') as f:
            f.write("""<domain type='qemu'><name>%s</name>
<maxMemory slots='4' unit='GiB'>8</maxMemory><memory unit='GiB'>1</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>%s
<cpu><numa><cell id='0' cpus='0' memory='1' unit='GiB'/></numa></cpu>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/>%s</devices>
</domain>""" % (name, tune, nv))
        virsh('destroy', name, check=False)
        virsh('create', xml, '--paused')
        ctl = host(name)
        try:
            if not nv:
                r = ctl('plug', '256M', '--kind', 'nvdimm', '--mem-path', files[2], rc=1)
                assert 'nvdimm=on' in r.stderr, r.stderr
            elif not tune:
                ctl('plug', '256M', '--kind', 'nvdimm', '--mem-path', files[1])
                d = ctl.devices()['ua-mp-nvdimm0']
                assert d['kind'] == 'nvdimm' and d['size'] == 256 << 20, d
                r = ctl('unplug', 'ua-mp-nvdimm0', rc=1)
                assert 'cannot hot-unplug NVDIMMs' in r.stderr
                # no numatune: the host node cannot be had, said before sending
                before = live_xml(name)
                r = ctl('plug', '256M', '--kind', 'nvdimm', '--mem-path', files[2],
                        '--host-node', '0', rc=1)
                assert 'numatune' in r.stderr, r.stderr
                assert_xml_unchanged(before, name)
            else:
                ctl('plug', '256M', '--kind', 'nvdimm', '--mem-path', files[3],
                    '--host-node', '0')
                backend = ctl.devices()['ua-mp-nvdimm0']['backend']
                assert qom(name, '/objects/' + backend, 'host-nodes') == [0]
                assert qom(name, '/objects/' + backend, 'policy') == 'bind'
                # asking for another node than the domain binds: refused
                r = ctl('plug', '256M', '--kind', 'nvdimm', '--mem-path', files[4],
                        '--host-node', '1', rc=1)
                assert 'numatune' in r.stderr, r.stderr
                # the awkward path, attached and intact
                ctl('plug', '256M', '--kind', 'nvdimm', '--mem-path', files[4], '--id', 'odd')
                backend = ctl.devices()['ua-mp-odd']['backend']
                assert qom(name, '/objects/' + backend, 'mem-path') == files[4]
        finally:
            virsh('destroy', name, check=False)


def test_stopped_libvirtd():
    """A libvirtd that stops answering: memplugctl gives up after --timeout
    plus its 30 s grace, saying why, instead of hanging.  Its own message is
    the evidence that its timeout fired; no wall-clock bound here (a loaded
    machine stretches any duration): a memplugctl that hangs is ended by
    meson's timeout (600 s), whose SIGTERM guest.py turns into SystemExit,
    so libvirtd still gets its SIGCONT."""
    import signal
    import time
    pid = int(open('/run/libvirtd.pid').read().split()[0])
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = host()('--timeout', '1', 'list', rc=1, timeout=None)
        print('memplugctl gave up after %.1f s' % (time.monotonic() - t0))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert 'libvirt did not answer in time' in r.stderr, r.stderr


def main():
    require_built(CTL)
    try:
        with Daemons() as daemons:
            with VirtGuest(DOM, mem='1G', slots=8, maxmem='16G', name='host-libvirt') as g:
                test(g)
                test_channel(g)
                test_scenarios(g)
                test_serve_reconnect(g, daemons)
                work = g.workdir
            test_nvdimm(os.path.join(work, 'nvdimm'))
            # only a libvirtd this test started may be stopped for a while
            if daemons.started:
                test_stopped_libvirtd()
            else:
                print('stopped-libvirtd case not run: libvirtd was not started by this test')
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(77)


if __name__ == '__main__':
    main()
