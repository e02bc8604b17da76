#!/usr/bin/python3
"""memplugd's footprint in a real guest: RSS (VmRSS, VmHWM) after start-up
and after onlining a DIMM, and its wakeups while idle, counted as the growth
of voluntary_ctxt_switches in /proc/PID/status over 10 s (every return from
poll() is one), without and with a systemd watchdog (WATCHDOG_USEC=2 s:
a ping every second), and with the memplug channel's host end connected
(a silent host after its greeting, and after a status request over the
channel), and with a [Grow] policy's PSI trigger armed on
/proc/pressure/memory and the channel connected.  Targets: no wakeups but
the watchdog; RSS <= 4 MiB.  memplugd runs as shipped (no
--kernel-fast-path): it onlines the DIMM block by block; then once more
with --kernel-fast-path, the kernel onlining a second DIMM.

Usage: MEMPLUG_BUILD_DIR=build bench/idle.py [--seconds 10]
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'guest'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'channel'))
from guest import Guest, GuestSkip  # noqa: E402
from chan import Host  # noqa: E402

POLICY = '[Match]\nKind=dimm virtio-mem\n\n[Online]\nZone=movable\n'
GROW = '[Grow]\nPressure=some\nStall=100ms\nWindow=1s\nStep=256M\nCeiling=4G\n'


def proc_status(g, pid):
    out = g.check('cat /proc/%d/status' % pid)
    kv = dict(l.split(':', 1) for l in out.splitlines() if ':' in l)
    return {k: kv[k].strip() for k in ('VmRSS', 'VmHWM', 'voluntary_ctxt_switches',
                                       'nonvoluntary_ctxt_switches')}


def idle(g, pid, seconds):
    a = proc_status(g, pid)
    time.sleep(seconds)
    b = proc_status(g, pid)
    return (int(b['voluntary_ctxt_switches']) - int(a['voluntary_ctxt_switches']) +
            int(b['nonvoluntary_ctxt_switches']) - int(a['nonvoluntary_ctxt_switches'])), b


def start(g, env='', args=''):
    g.run('kill $(pidof memplugd) 2>/dev/null; sleep 0.3')
    g.check('%s memplugd -n %s -p /etc/memplug/policies.d </dev/null >/dev/null '
            '2>>/tmp/memplugd.log & sleep 1' % (env, args))
    return int(g.check('pidof memplugd').split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=float, default=10)
    a = ap.parse_args()
    try:
        with Guest(name='bench-idle', mem='1G', verbose=False, channel=True) as g:
            g.check('mkdir -p /etc/memplug/policies.d')
            g.put_file(POLICY.encode(), '/etc/memplug/policies.d/50-movable.conf')
            pid = start(g)
            st0 = proc_status(g, pid)
            w0, _ = idle(g, pid, a.seconds)
            g.add_dimm('d0', '1G')
            g.check('memplugctl status --wait dimm:slot0 >/dev/null')
            st1 = proc_status(g, pid)
            w1, _ = idle(g, pid, a.seconds)
            pid = start(g, 'WATCHDOG_USEC=2000000')
            w2, st2 = idle(g, pid, a.seconds)
            pid = start(g)
            h = Host(g.channel_path, timeout=60)
            h.greeting()
            w3, st3 = idle(g, pid, a.seconds)
            h.request('status', id='idle-1')
            w4, st4 = idle(g, pid, a.seconds)
            h.close()
            g.put_file(GROW.encode(), '/etc/memplug/policies.d/60-grow.conf')
            pid = start(g)
            h = Host(g.channel_path, timeout=60)
            h.greeting()
            armed = g.check('memplugctl status -J | grep -o \'"armed": *[a-z]*\'')
            w5, st5 = idle(g, pid, a.seconds)
            h.close()
            fast = g.check('memplugctl status -J | grep -o \'"kernel_fast_path": *[a-z]*\'')
            libs = g.check("awk '$6 ~ /\\.so/ {print $6}' /proc/%d/maps | sort -u" % pid)
            # The kernel fast path: the knobs held, a 1 GiB DIMM onlined by
            # the kernel and sampled while it was added; the 10 s after its
            # proof hold its deferred every-PFN pass, the next 10 s nothing.
            g.run('rm -f /etc/memplug/policies.d/60-grow.conf')
            pid = start(g, '', '--kernel-fast-path')
            g.add_dimm('d1', '1G')
            out = g.check('memplugctl status -J --wait dimm:slot1')
            d1 = [d for d in json.loads(out)['devices'] if d['device'] == 'dimm:slot1'][0]
            if not d1['by_kernel'] or d1['sampled_early'] != 8:
                raise RuntimeError('fast path did not take the DIMM: %s' % d1)
            w6, st6 = idle(g, pid, a.seconds)
            w7, st7 = idle(g, pid, a.seconds)
    except GuestSkip as e:
        print('SKIP: %s' % e)
        sys.exit(77)
    print('memplugd RSS: %s after start-up (peak %s); %s after onlining a 1 GiB DIMM (peak %s)'
          % (st0['VmRSS'], st0['VmHWM'], st1['VmRSS'], st1['VmHWM']))
    print('  (target <= 4 MiB; shared libraries mapped: %s)' % ' '.join(
        os.path.basename(l) for l in libs.split()))
    print('idle wakeups in %.0f s: %d without watchdog (fresh), %d after a DIMM, '
          '%d with WatchdogSec=2s (expect ~%d)' % (a.seconds, w0, w1, w2, a.seconds))
    print('channel connected (silent host after the greeting): %d wakeups, RSS %s (peak %s); '
          'after a status request: %d wakeups, RSS %s (peak %s)'
          % (w3, st3['VmRSS'], st3['VmHWM'], w4, st4['VmRSS'], st4['VmHWM']))
    print('PSI trigger (%s) and channel connected: %d wakeups, RSS %s (peak %s)'
          % (armed.strip(), w5, st5['VmRSS'], st5['VmHWM']))
    print('  %s' % fast.strip())
    print('kernel fast path, a 1 GiB DIMM onlined by the kernel (%d blocks sampled early): '
          '%d wakeups in the %.0f s after its proof (its every-PFN pass), %d in the next; '
          'RSS %s (peak %s)' % (d1['sampled_early'], w6, a.seconds, w7, st7['VmRSS'],
                                st7['VmHWM']))


if __name__ == '__main__':
    main()
