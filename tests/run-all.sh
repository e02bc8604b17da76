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

# The guests above booted the newest installed kernel (6.12 once
# install-deps.sh has added bookworm-backports').  The suite 'series' (the
# e2e tests whose outcome depends on the guest kernel's version: zones,
# holes, kmem, virtio-mem, the kernel's knobs and offline messages, and the
# README demo) runs again on every other installed series (6.1), the
# kernels a Debian user runs.  MEMPLUG_GUEST_KERNELS="6.1" names the series
# for those extra runs instead (one that resolves to the newest is skipped:
# it ran above); "" skips them.  Measured on this 2-core machine: see
# docs/testing.md.
if [ $# -eq 0 ] && [ "${MEMPLUG_GUEST_KERNELS-unset}" != "" ] &&
	[ -n "$(meson test -C "$build" --list --suite series 2>/dev/null)" ]; then
	# (Not "| grep -q": with pipefail, grep's early exit fails meson with SIGPIPE.)
	newest=$(tests/guest/fetch-kernel.sh --kver 2>/dev/null || true)
	if [ "${MEMPLUG_GUEST_KERNELS-unset}" = unset ]; then
		kernels=$(tests/guest/fetch-kernel.sh --list 2>/dev/null |
			grep -v -x -F -- "$newest" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/' | sort -u -V || true)
	else
		kernels=$MEMPLUG_GUEST_KERNELS
	fi
	for k in $kernels; do
		kver=$(MEMPLUG_GUEST_KERNEL=$k tests/guest/fetch-kernel.sh --kver) || { rc=1; continue; }
		[ "$kver" != "$newest" ] || continue
		echo "run-all: suite series on $kver"
		MEMPLUG_GUEST_KERNEL=$k meson test -C "$build" --print-errorlogs --suite series \
			--logbase "testlog-$k" || rc=$?
		# summary.py names a later log's tests after the directory two
		# levels up: put this one where that reads "kernel-6.1".
		mkdir -p "$build/kernel-$k/meson-logs"
		cp "$build/meson-logs/testlog-$k.json" "$build/kernel-$k/meson-logs/testlog.json"
		logs+=("$build/kernel-$k/meson-logs/testlog.json")
	done
fi
# The suites that need no guest run again under ASan+UBSan (meson's
# b_sanitize), unless a suite was picked on the command line; so do the
# host-side tests that talk to a real QEMU (no guest kernel boots in them:
# QEMU is not instrumented, memplug's QMP client and host code are).  The
# tree registers the guest tests too (-Dguest_tests=true) but runs only
# these by name.  Measured on this 2-core machine: docs/testing.md.
asan_host_tests=(qmp-peer host-qemu host-cli host-channel)
if [ $# -eq 0 ] && [ "${MEMPLUG_NO_ASAN:-0}" != 1 ]; then
	asan="$build-asan"
	if [ -d "$asan" ]; then
		meson setup --reconfigure "$asan" -Dguest_tests=true >/dev/null
	else
		meson setup "$asan" -Db_sanitize=address,undefined -Db_lundef=false \
			-Dguest_tests=true >/dev/null
	fi
	ninja -C "$asan" >/dev/null
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
	meson test -C "$asan" --print-errorlogs --suite unit --suite fixture \
		--suite policy --suite daemon --no-suite e2e || rc=$?
	logs+=("$asan/meson-logs/testlog.json")
	meson test -C "$asan" --print-errorlogs --logbase testlog-host \
		"${asan_host_tests[@]}" || rc=$?
	# summary.py names a later log's tests after the directory two levels up.
	mkdir -p "$asan/asan-host/meson-logs"
	cp "$asan/meson-logs/testlog-host.json" "$asan/asan-host/meson-logs/testlog.json"
	logs+=("$asan/asan-host/meson-logs/testlog.json")
	unset UBSAN_OPTIONS ASAN_OPTIONS
fi
/usr/bin/python3 tests/summary.py "${logs[@]}" || rc=1
exit $rc
