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
logs=("$build/meson-logs/testlog.json")
# The suites that need no guest run again under ASan+UBSan (meson's
# b_sanitize), unless a suite was picked on the command line.
if [ $# -eq 0 ] && [ "${MEMPLUG_NO_ASAN:-0}" != 1 ]; then
	asan="$build-asan"
	if [ -d "$asan" ]; then
		meson setup --reconfigure "$asan" >/dev/null
	else
		meson setup "$asan" -Db_sanitize=address,undefined -Db_lundef=false \
			-Dguest_tests=false >/dev/null
	fi
	ninja -C "$asan" >/dev/null
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		meson test -C "$asan" --print-errorlogs --suite unit --suite fixture \
		--suite policy --suite daemon || rc=$?
	logs+=("$asan/meson-logs/testlog.json")
fi
/usr/bin/python3 tests/summary.py "${logs[@]}" || rc=1
exit $rc
