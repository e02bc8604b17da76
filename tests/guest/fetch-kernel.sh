#!/bin/bash
# fetch-kernel.sh OUTDIR
# fetch-kernel.sh --kver    (print the chosen kernel version and exit)
#
# Finds the newest installed Debian kernel (/boot/vmlinuz-KVER with a matching
# /lib/modules/KVER) and extracts its uncompressed vmlinux into OUTDIR, so the
# guest boots through the PVH entry point: decompressing the bzImage's XZ
# payload under TCG costs ~5 s per boot.  Writes OUTDIR/vmlinux and OUTDIR/kver;
# does nothing when both are already newer than the bzImage.
set -euo pipefail

die() { echo "fetch-kernel: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR | --kver"
out=$1

kver=${MEMPLUG_GUEST_KERNEL:-}
for img in /boot/vmlinuz-*; do
	[ -z "${MEMPLUG_GUEST_KERNEL:-}" ] || break
	[ -e "$img" ] || continue
	v=${img#/boot/vmlinuz-}
	[ -d "/lib/modules/$v" ] || continue
	if [ -z "$kver" ] || [ "$(printf '%s\n%s\n' "$kver" "$v" | sort -V | tail -n1)" = "$v" ]; then
		kver=$v
	fi
done
[ -n "$kver" ] || die "no kernel found (need /boot/vmlinuz-KVER and /lib/modules/KVER): install the Debian package linux-image-amd64"

# --kver: only print the version the guest runs (build-initramfs.sh uses it).
if [ "$out" = --kver ]; then
	echo "$kver"
	exit 0
fi

img=/boot/vmlinuz-$kver
mkdir -p "$out"
if [ -s "$out/vmlinux" ] && [ -f "$out/kver" ] && [ "$(cat "$out/kver")" = "$kver" ] &&
	[ "$out/vmlinux" -nt "$img" ]; then
	exit 0
fi

command -v xz >/dev/null || die "xz not found: install xz-utils"
[ -r "$img" ] || die "$img is not readable"

# The XZ stream header: fd 37 7a 58 5a 00.  The first match is the payload
# (the bzImage setup code and decompressor stub contain no such sequence).
off=$(LC_ALL=C grep -obUaP '\xfd\x37\x7a\x58\x5a\x00' "$img" | head -n1 | cut -d: -f1 || true)
[ -n "$off" ] || die "$img: no XZ payload found (not an XZ-compressed bzImage?)"

tmp=$(mktemp "$out/vmlinux.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# --single-stream makes xz stop at the end of the payload and ignore what
# follows; tail then dies of SIGPIPE, so only xz's status counts.
xz -dc --single-stream <(tail -c +$((off + 1)) "$img") >"$tmp" ||
	die "$img: decompressing the XZ payload at offset $off failed"
head -c 4 "$tmp" | grep -q $'^\x7fELF' || die "$img: payload at offset $off is not an ELF vmlinux"
chmod 644 "$tmp"
mv "$tmp" "$out/vmlinux"
trap - EXIT
echo "$kver" >"$out/kver"
echo "fetch-kernel: $img -> $out/vmlinux ($kver)" >&2
