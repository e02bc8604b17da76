#!/bin/bash
# Fuzzes every tests/fuzz target longer than the suite "fuzz" does:
#   bench/fuzz-long.sh [MINUTES_PER_TARGET] [TARGET...]   (default 10)
# The scratch corpora in $MEMPLUG_FUZZ_WORK (default build-fuzz/) grow from
# run to run, so repeated runs go deeper.  Each run's executions are
# appended to $MEMPLUG_FUZZ_WORK/runs.tsv (date, target, seconds, runs,
# exit); the totals per target are printed at the end.  A crash leaves
# crash-TARGET-* there: fix the parser, then keep the input in
# tests/fuzz/corpus/TARGET/ (docs/testing.md).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mins=${1:-10}
shift || true
export MEMPLUG_FUZZ_WORK=${MEMPLUG_FUZZ_WORK:-$top/build-fuzz}
rc=0
"$top/tests/fuzz/run.sh" --seconds "$(awk -v m="$mins" 'BEGIN { printf "%d", m * 60 }')" "$@" || rc=$?
if [ -f "$MEMPLUG_FUZZ_WORK/runs.tsv" ]; then
	echo "runs per target, all sessions in $MEMPLUG_FUZZ_WORK/runs.tsv:"
	awk -F'\t' '$4 ~ /^[0-9]+$/ { n[$2] += $4; s[$2] += $3 }
		END { for (t in n) printf "  %-12s %12d runs %8d s\n", t, n[t], s[t] }' \
		"$MEMPLUG_FUZZ_WORK/runs.tsv" | sort
fi
exit $rc
