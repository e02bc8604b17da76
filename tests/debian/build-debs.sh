#!/bin/bash
# build-debs.sh SRCDIR OUTDIR: the Debian packages of this source tree, built
# the way a Debian user builds them (dpkg-buildpackage -us -uc -b), in a copy
# under OUTDIR so that the tree itself (and its parent, where dpkg-buildpackage
# writes the .debs) stays clean.  Then lintian.  Cached: nothing happens when
# OUTDIR/inputs.sha256 matches the hash of the tracked and untracked-but-not-
# ignored files.  Writes OUTDIR/debs (the .deb paths), OUTDIR/build.log,
# OUTDIR/lintian.log, OUTDIR/times.
set -euo pipefail
src=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
for t in dpkg-buildpackage dh lintian scdoc; do
	command -v $t >/dev/null || { echo "build-debs: $t missing: run tests/install-deps.sh" >&2; exit 77; }
done
# tests/debian (this harness) is not part of the packages: editing a test
# must not rebuild them.
list() {
	if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$src" ls-files -z --cached --others --exclude-standard -- . ':!tests/debian'
	else
		(cd "$src" && find . -path ./build -prune -o -path './build-*' -prune -o \
			-path ./tests/debian -prune -o \( -type f -o -type l \) -printf '%P\0')
	fi
}
# tar, not sha256sum per file: the fixtures hold symlinks (some dangling).
tarball() {
	(cd "$src" && list | tar --null --no-recursion --sort=name --mtime=@0 \
		--owner=0 --group=0 --numeric-owner -T - -cf -)
}
hash=$(tarball | sha256sum | cut -d' ' -f1)
if [ -f "$out/inputs.sha256" ] && [ "$(cat "$out/inputs.sha256")" = "$hash" ] &&
	[ -s "$out/debs" ] && xargs -a "$out/debs" ls >/dev/null 2>&1; then
	echo "build-debs: packages up to date ($hash)"
	exit 0
fi
rm -rf "$out/pkg" "$out/inputs.sha256" "$out/debs"
mkdir -p "$out/pkg/memplug"
# the real mtimes here: lintian refuses files dated 1970.
(cd "$src" && list | tar --null --no-recursion -T - -cf -) | tar -xf - -C "$out/pkg/memplug"
t0=$(date +%s.%N)
if ! (cd "$out/pkg/memplug" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	echo "build-debs: dpkg-buildpackage failed, see $out/build.log" >&2
	exit 1
fi
t1=$(date +%s.%N)
ls "$out"/pkg/*.deb >"$out/debs"
# lintian's exit status is 1 on errors (E:) only, with this profile.
lintian_rc=0
lintian --info --display-info --pedantic "$out"/pkg/*.changes >"$out/lintian.log" 2>&1 || lintian_rc=$?
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" \
	'BEGIN { printf "dpkg-buildpackage %.1f s\nlintian %.1f s\n", b - a, c - b }' >"$out/times"
echo "$lintian_rc" >"$out/lintian.rc"
echo "$hash" >"$out/inputs.sha256"
cat "$out/times"
