#!/usr/bin/python3
"""Prints the closing line of a test run from meson's testlog.json.

CI reads "N passed, N failed"; skipped tests (exit 77) are counted apart and
named, so a skip is never mistaken for a pass.  Exits 1 on any failure.
"""
import json
import sys

passed, failed, skipped = 0, [], []
for i, log in enumerate(sys.argv[1:]):
    # Later logs are re-runs of suites in other builds (sanitizers): name them so.
    prefix = '' if i == 0 else log.split('/')[-3] + ':'
    with open(log) as f:
        for line in f:
            t = json.loads(line)
            r = t.get('result')
            name = prefix + t['name']
            if r in ('OK', 'EXPECTEDFAIL'):
                passed += 1
            elif r == 'SKIP':
                skipped.append(name)
            else:
                failed.append('%s (%s)' % (name, r))
for name in skipped:
    print('skipped: %s' % name)
for name in failed:
    print('FAILED: %s' % name)
extra = ', %d skipped' % len(skipped) if skipped else ''
print('%d passed, %d failed%s' % (passed, len(failed), extra))
sys.exit(1 if failed else 0)
