"""Helpers for the drain (offline --all-or-nothing) e2e tests."""
import json

MEM = '/sys/devices/system/memory'


def drain(g, blocks, timeout='120', order=None, run_timeout=300):
    """memplugctl offline --all-or-nothing -J in the guest: (rc, parsed json)."""
    args = '--all-or-nothing -J --timeout %s' % timeout
    if order:
        args += ' --order ' + order
    rc, out = g.run('memplugctl offline %s memory%d-%d 2>/tmp/drain.err' %
                    (args, blocks[0], blocks[-1]), timeout=run_timeout)
    try:
        res = json.loads(out)
    except ValueError:
        raise AssertionError('not json (rc %d): %r; stderr %r' %
                             (rc, out, g.run('cat /tmp/drain.err')[1]))
    return rc, res


def by_block(res):
    return {b['block']: b for b in res['blocks']}


def zones(g, blocks):
    return {b: g.read('%s/memory%d/valid_zones' % (MEM, b)) for b in blocks}


def dyndbg_sites(g):
    """The offline_pages() lines of the dynamic-debug control file."""
    return g.check('grep "offline_pages" /sys/kernel/debug/dynamic_debug/control')
