#!/bin/bash
# Fuzzes each target with clang's libFuzzer + ASan/UBSan for SECONDS (default
# 60) and keeps new corpus entries in a scratch dir; a crash input is left in
# the work dir: copy it into corpus/<target>/ so the replay tests keep it.
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (needs clang, libclang-rt-14-dev)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-60}
shift || true
targets=("${@:-iomem policy qmp}")
work=${MEMPLUG_FUZZ_WORK:-$top/build-fuzz}
mkdir -p "$work"
cfg="$work/config.h"
cat >"$cfg" <<EOC
#define MEMPLUG_VERSION "fuzz"
#define HAVE_LIBVIRT 0
#define HAVE_LIBNUMA 0
#define HAVE_LIBSYSTEMD 0
#define MEMPLUG_SYSCONFDIR "/etc"
#define MEMPLUG_LIBDIR_POLICIES "/usr/lib/memplug/policies.d"
EOC
srcs=$(ls "$top"/util/*.c "$top"/kernel/*.c "$top"/policies/*.c "$top"/qmp/qmp.c)
for t in ${targets[@]}; do
	bin="$work/fuzz-$t"
	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -include "$cfg" \
		-I"$work" -I"$top" -I"$top/util" -I"$top/kernel" -I"$top/policies" -I"$top/qmp" \
		"$here/fuzz-$t.c" $srcs -ljson-c -o "$bin"
	mkdir -p "$work/corpus-$t"
	(cd "$work" && "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
		"$work/corpus-$t" "$here/corpus/$t")
done
