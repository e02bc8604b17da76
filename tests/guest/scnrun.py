"""memplugctl scenario run as the tests and the demo drive it
(docs/scenarios.md): the scenario's hook steps come to Python callbacks
over a socketpair (--hook-fd), and the JSON report (--report) is parsed.

    rc, report, out = scnrun.run(ctl, 'x.scn', ['--qmp', SOCK, '--channel', CH],
                            hooks={'fill-slab': lambda devices: ...})

A hook callback gets {name: host id} of the devices the run has plugged so
far; returning normally answers "ok", raising answers the error (the step
fails with it)."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading


def _serve(sock, hooks, errors):
    f = sock.makefile('rw', buffering=1)
    for line in f:
        try:
            msg = json.loads(line)
            fn = hooks[msg['hook']]
            note = fn(msg.get('devices', {}))
            f.write('ok%s\n' % (' ' + str(note) if note else ''))
        except Exception as e:  # the step fails with it, and the test sees why
            errors.append(e)
            f.write(('hook failed: %s: %s' % (type(e).__name__, e)).replace('\n', ' ') + '\n')
        f.flush()


def run(ctl, scenario, conn, hooks=None, env=None, json_out=False, timeout=1800, extra=()):
    """Runs the scenario; prints memplugctl's report (text, or JSON with
    json_out) as it comes; returns (exit status, the JSON report, the
    output with stderr)."""
    ours, theirs = socket.socketpair()
    fd, report = tempfile.mkstemp(prefix='mp-scn-', suffix='.json')
    os.close(fd)
    errors = []
    argv = [ctl, 'scenario', 'run', scenario] + list(conn) + list(extra) + \
        ['--hook-fd', str(theirs.fileno()), '--report', report] + (['-J'] if json_out else [])
    print('$ ' + ' '.join(argv), flush=True)
    e = dict(os.environ)
    e.update(env or {})
    t = threading.Thread(target=_serve, args=(ours, hooks or {}, errors), daemon=True)
    t.start()
    try:
        p = subprocess.Popen(argv, pass_fds=(theirs.fileno(),), env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        theirs.close()
        killer = threading.Timer(timeout, p.kill)
        killer.start()
        out = []
        for line in p.stdout:
            out.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()
        p.wait()
        killer.cancel()
        try:
            with open(report) as f:
                rep = json.load(f)
        except ValueError:
            rep = None
    finally:
        ours.close()
        os.unlink(report)
    for err in errors:
        print('hook error: %r' % (err,), flush=True)
    return p.returncode, rep, ''.join(out)


def steps(report):
    """{line: step report} of a run's report."""
    return {s['line']: s for s in report['steps']}
