#!/bin/bash
# The README's first command: installs what memplug needs (Debian packages),
# builds it, and runs the main job in a real TCG guest (scripts/demo.py):
# the scenario scenarios/default.scn with memplugd and the memplug channel,
# printing memplugctl's report per step; exits 0 only when every step passed.
# The guest boots the newest installed kernel, or MEMPLUG_GUEST_KERNEL=KVER
# (a version, or a series: MEMPLUG_GUEST_KERNEL=6.1 scripts/demo.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tests/install-deps.sh
build=${MEMPLUG_BUILD:-build}
[ -d "$build" ] && meson setup --reconfigure "$build" >/dev/null || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
echo "demo: guest kernel $(tests/guest/fetch-kernel.sh --kver)"
MEMPLUG_BUILD_DIR="$top/$build" exec /usr/bin/python3 scripts/demo.py
