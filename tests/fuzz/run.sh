#!/bin/bash
# Fuzzes the tests/fuzz targets with clang's libFuzzer under ASan+UBSan.
#
#   tests/fuzz/run.sh [--ci] [--seconds N] [TARGET...]
#
# --ci           the test suite "fuzz": about 60 s in all, split between the
#                targets (at least 3 s each); --seconds N gives each N s
#                (default 60).  No TARGET: every target of meson.build.
# The build is a meson tree of its own ($MEMPLUG_FUZZ_WORK, default
# build-fuzz/: CC=clang, -Dfuzzing=true).  New inputs libFuzzer finds go
# to $MEMPLUG_FUZZ_WORK/corpus-TARGET (scratch); tests/fuzz/corpus/TARGET
# is only read.  A crash leaves $MEMPLUG_FUZZ_WORK/crash-TARGET-*: fix the
# parser, then copy the input into tests/fuzz/corpus/TARGET/ so every
# build's replay test (fuzz-replay-TARGET) keeps it.  Each run's count of
# executions is appended to $MEMPLUG_FUZZ_WORK/runs.tsv.
# Exit: 0 when no target failed, 1 when one did, 77 without clang/libFuzzer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ci=0
secs=60
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--ci) ci=1 ;;
	--seconds) secs=$2; shift ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) targets+=("$1") ;;
	esac
	shift
done
if [ ${#targets[@]} -eq 0 ]; then
	# The keys of fuzz_targets in meson.build: "  'name' : [...],"
	mapfile -t targets < <(sed -n "s/^  '\([a-z0-9-]*\)' : .*/\1/p" "$here/meson.build")
fi
cc=${MEMPLUG_FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null; then
	echo "fuzz: $cc not installed (tests/install-deps.sh installs clang): skipped"
	exit 77
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	"$cc" -x c -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
	echo "fuzz: $cc cannot link -fsanitize=fuzzer (libclang-rt-dev missing?): skipped"
	exit 77
fi
work=${MEMPLUG_FUZZ_WORK:-$top/build-fuzz}
mkdir -p "$work"
work=$(cd "$work" && pwd)
bld=$work/build
if [ ! -f "$bld/build.ninja" ]; then
	CC=$cc meson setup "$bld" "$top" -Dfuzzing=true -Dguest_tests=false -Dman=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
		-Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer' \
		>"$work/setup.log" || { cat "$work/setup.log"; exit 1; }
fi
ninja -C "$bld" $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >"$work/ninja.log" ||
	{ tail -50 "$work/ninja.log"; exit 1; }
if [ $ci -eq 1 ]; then
	secs=$((60 / ${#targets[@]}))
	[ $secs -ge 3 ] || secs=3
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
for t in "${targets[@]}"; do
	seeds=$here/corpus/$t
	scratch=$work/corpus-$t
	log=$work/fuzz-$t.log
	mkdir -p "$scratch"
	[ -d "$seeds" ] || { echo "fuzz-$t: no seed corpus $seeds"; failed+=("$t"); continue; }
	rc=0
	# -timeout: a unit slower than that is a hang (targets' own I/O waits are
	# tens of ms); -rss_limit_mb: a parser that balloons is a finding too.
	(cd "$work" && "$bld/tests/fuzz/fuzz-$t" -max_total_time="$secs" -timeout=20 \
		-rss_limit_mb=1536 -print_final_stats=1 -artifact_prefix="$work/crash-$t-" \
		"$scratch" "$seeds") >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$secs" "${execs:-?}" "$rc" \
		>>"$work/runs.tsv"
	if [ $rc -ne 0 ]; then
		echo "fuzz-$t: FAILED after ${execs:-?} runs (exit $rc); log $log:"
		grep -E 'ERROR:|runtime error|SUMMARY|Test unit written|ms: ' "$log" | head -20
		failed+=("$t")
	else
		echo "fuzz-$t: ok, ${execs:-?} runs in ${secs} s, corpus $(ls "$scratch" | wc -l) new + $(ls "$seeds" | wc -l) kept"
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} of ${#targets[@]} target(s) failed: ${failed[*]}"
	exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ok"
