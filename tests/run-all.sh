#!/bin/bash
# The README's test command: install what is needed, build, run every suite
# (unit, fixture, policy, qmp, libvirt, e2e in real TCG guests) and end with
# "N passed, N failed".  Exit status is non-zero on any failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tests/install-deps.sh
build=${MEMPLUG_BUILD:-build}
if [ -d "$build" ]; then
	meson setup --reconfigure "$build" >/dev/null
else
	meson setup "$build" >/dev/null
fi
ninja -C "$build"
rc=0
meson test -C "$build" --print-errorlogs "$@" || rc=$?
/usr/bin/python3 tests/summary.py "$build/meson-logs/testlog.json" || rc=1
exit $rc
