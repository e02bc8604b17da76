"""The case runner of the daemon suite's scripts (fixtures.py, control_socket.py):
run the named cases, or all case_* functions of the script, report each, exit 1
if any failed; exit 77 (skipped, with the reason) when not root."""
import os
import sys
import time


def run(namespace, root_why):
    cases = {n[5:]: f for n, f in sorted(namespace.items()) if n.startswith('case_')}
    if os.geteuid() != 0:
        print('SKIP: %s: run as root' % root_why)
        sys.exit(77)
    failed = 0
    for name in sys.argv[2:] or cases:
        t0 = time.monotonic()
        try:
            cases[name]()
            print('ok   %s (%.1f s)' % (name, time.monotonic() - t0))
        except Exception as e:   # noqa: BLE001 (report every case)
            failed += 1
            print('FAIL %s: %r' % (name, e))
    sys.exit(1 if failed else 0)
