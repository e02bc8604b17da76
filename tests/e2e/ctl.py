"""Helpers for e2e tests that drive memplugctl inside the guest."""
import json
import os
import shutil
import subprocess


def ctl_json(g, args):
    """memplugctl ARGS -J in the guest, parsed (stderr dropped)."""
    return json.loads(g.check('memplugctl %s 2>/dev/null' % args))


def kpf(g, block):
    """kpageflags counts of one block, as memplugctl explain reads them."""
    return ctl_json(g, 'explain -J memory%d' % block)['kpageflags']


def snapshot_matches_live(g, cmds, tag):
    """Records a snapshot in the guest, copies it out, and checks that each
    memplugctl command gives the same answer on the snapshot (host side)
    as live in the guest: the recorder keeps what the reader needs."""
    build = os.environ['MEMPLUG_BUILD_DIR']
    dest = os.path.join(build, 'e2e-work', 'snap-' + tag)
    shutil.rmtree(dest, ignore_errors=True)
    g.check('rm -rf /tmp/snap && memplugctl snapshot /tmp/snap')
    g.fetch_dir('/tmp/snap', dest)
    ctl = os.path.join(build, 'cli', 'memplugctl')
    subprocess.run([ctl, 'snapshot', '--expand', dest], check=True)
    for c in cmds:
        live = g.check('memplugctl %s 2>&1' % c)
        host = subprocess.run([ctl, '--sysroot', dest] + c.split(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True).stdout
        assert live == host, 'snapshot differs from live for %r:\n%s\n---\n%s' % (c, live, host)
