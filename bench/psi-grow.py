#!/usr/bin/python3
"""PSI trigger -> grown memory online and verified in the guest (issue 8's
target: <= 2 s under TCG).

One TCG guest (512 MiB, the memplug channel), memplugd with a [Grow]
policy (Stall=50ms per 1s window, Step=128M, Cooldown=1s), memplugctl host
serve on the host (Step 128M, no cooldown).  A memory hog over its
cgroup's memory.high keeps PSI memory `some` stalled
(tests/channel/grow.py says why a global hog cannot), so memplugd's trigger
fires once a window; each request is granted a 128M DIMM.  Per grant:

  trigger->answer  guest clock (memplugd's mp_now_ms()): the POLLPRI wake-up
                   that sent GROW_REQUEST to the grow-answer, which the host
                   sends only after the guest's proof (every block online and
                   verified), so this is the whole loop
  request->proof   host clock: decide + plug + the guest's proof
  plug->proof      host clock: device_add sent to the guest's proof

Prints each run, then median, min and max of each.
Usage: MEMPLUG_BUILD_DIR=build bench/psi-grow.py [-n RUNS]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'guest'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'channel'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'daemon'))
from guest import Guest, GuestSkip, build_dir  # noqa: E402
import grow  # noqa: E402
import mpd  # noqa: E402

POLICIES = {
    '50-movable.conf': '[Match]\nKind=dimm\n\n[Online]\nZone=movable\n',
    '60-grow.conf': '[Grow]\nPressure=some\nStall=50ms\nWindow=1s\nStep=128M\n'
                    'Ceiling=8G\nCooldown=1s\n',
}


def stats(name, v):
    return '%-16s median %7.1f ms   min %7.1f   max %7.1f   (n=%d)' % (
        name, statistics.median(v), min(v), max(v), len(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-n', type=int, default=8)
    a = ap.parse_args()
    ctl = os.path.join(build_dir(), 'cli', 'memplugctl')
    d = tempfile.mkdtemp(prefix='mp-psi-grow-')
    qmp = os.path.join(d, 'host.sock')
    conf = os.path.join(d, 'vm.conf')
    with open(conf, 'w') as f:
        f.write('[Grow]\nMaxMemory=8G\nStep=128M\nCooldown=0s\nHostFreeFloor=64M\n'
                'MaxRequestsPerMinute=120\n')
    runs = []
    try:
        with Guest(mem='512M', slots=a.n + 2, maxmem='8G', channel=True, name='psi-grow',
                   qemu_args=['-qmp', 'unix:%s,server=on,wait=off' % qmp]) as g:
            mpd.start(g, POLICIES)
            serve = grow.Serve(ctl, qmp, g.channel_path, conf, os.path.join(d, 'serve.log'))
            hog = grow.hog_start(g)
            try:
                while len(runs) < a.n:
                    x = serve.decision(240)
                    if not x:
                        raise SystemExit('no decision in 240 s:\n' + serve.log()[-2000:])
                    if not x['granted'] or x['proof'] != 'online':
                        print('skipped:', x['reason'])
                        continue
                    deadline = time.monotonic() + 30
                    while True:
                        ans = mpd.status(g)['grow'].get('last_answer', {})
                        if ans.get('request', 0) >= x['request'] or time.monotonic() > deadline:
                            break
                        time.sleep(0.2)
                    if ans.get('request') != x['request']:
                        print('no guest record of answer %d' % x['request'])
                        continue
                    r = {'request': x['request'], 'trigger_answer_ms': ans['after_ms'],
                         'request_proof_ms': x['decide_us'] / 1000.0 + x['proof_ms'],
                         'plug_proof_ms': x['proof_ms'], 'device': x['device']}
                    runs.append(r)
                    print(json.dumps(r), flush=True)
            finally:
                grow.hog_stop(g, hog)
                serve.stop()
    except GuestSkip as e:
        print('SKIP: %s' % e)
        return 77
    print(stats('trigger->answer', [r['trigger_answer_ms'] for r in runs]))
    print(stats('request->proof', [r['request_proof_ms'] for r in runs]))
    print(stats('plug->proof', [r['plug_proof_ms'] for r in runs]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
