#!/bin/bash
# fetch-kernel.sh OUTDIR     extract the guest kernel into OUTDIR
# fetch-kernel.sh --kver     print the version the guest boots
# fetch-kernel.sh --list     print every installed version, oldest first
#
# The kernel: $MEMPLUG_GUEST_KERNEL if set, else the newest installed Debian
# kernel (/boot/vmlinuz-KVER with a matching /lib/modules/KVER).
# MEMPLUG_GUEST_KERNEL is a full version (6.12.95+deb12-amd64) or a series
# (6.12, 6.1: the newest installed kernel of that series; 6.1 never matches
# 6.12.x).
#
# Writes OUTDIR/vmlinux, OUTDIR/kver and OUTDIR/format.  vmlinux is the
# uncompressed ELF kernel when the bzImage's payload can be extracted (QEMU
# then boots it through the PVH entry point: decompressing the payload under
# TCG costs ~5 s per boot), else a copy of the bzImage itself (QEMU boots that
# too, only slower); format says which, and why.  The payload is found through
# the boot protocol's setup header (payload_offset, payload_length: boot
# protocol 2.08, arch/x86/boot/header.S) and decompressed by its magic: xz
# (6.1), zstd (6.12), gzip, lz4, bzip2, lzma, lzo.  Does nothing when the
# output is newer than the bzImage.  MEMPLUG_KERNEL_ROOT=DIR looks in DIR/boot
# and DIR/lib/modules instead (tests/guest/test-fetch-kernel.sh).
set -euo pipefail
kroot=${MEMPLUG_KERNEL_ROOT:-}

die() { echo "fetch-kernel: $*" >&2; exit 1; }
log() { echo "fetch-kernel: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR | --kver | --list"
out=$1

# Installed versions, oldest first.
installed() {
	local img v
	for img in "$kroot"/boot/vmlinuz-*; do
		[ -e "$img" ] || continue
		v=${img#"$kroot"/boot/vmlinuz-}
		[ -d "$kroot/lib/modules/$v" ] && echo "$v"
	done | sort -V
}

if [ "$out" = --list ]; then
	installed
	exit 0
fi

want=${MEMPLUG_GUEST_KERNEL:-}
all=$(installed)
[ -n "$all" ] || die "no kernel found (need /boot/vmlinuz-KVER and /lib/modules/KVER): install the Debian package linux-image-amd64"
if [ -z "$want" ]; then
	kver=$(tail -n1 <<<"$all")
elif grep -qxF -- "$want" <<<"$all"; then
	kver=$want
else
	# A series: "6.1" matches 6.1.0-57-amd64 and 6.1.192, not 6.12.95.
	kver=$(grep -E "^$(sed 's/[.]/\\./g' <<<"$want")[.-]" <<<"$all" | tail -n1 || true)
	[ -n "$kver" ] || die "MEMPLUG_GUEST_KERNEL=$want: no such kernel installed (have: $(tr '\n' ' ' <<<"$all"))"
fi

# --kver: only print the version the guest runs (build-initramfs.sh uses it).
if [ "$out" = --kver ]; then
	echo "$kver"
	exit 0
fi

img=$kroot/boot/vmlinuz-$kver
mkdir -p "$out"
if [ -s "$out/vmlinux" ] && [ -f "$out/kver" ] && [ "$(cat "$out/kver")" = "$kver" ] &&
	[ -f "$out/format" ] && [ "$out/vmlinux" -nt "$img" ]; then
	exit 0
fi
[ -r "$img" ] || die "$img is not readable"

# Little-endian unsigned integer of $2 bytes at offset $1 of the image.
le() { od -An -tu"$2" -j "$1" -N "$2" "$img" | tr -d ' '; }

tmp=$(mktemp "$out/vmlinux.XXXXXX")
payload=$(mktemp "$out/payload.XXXXXX")
trap 'rm -f "$tmp" "$payload"' EXIT

# extract: decompress the payload into $tmp; prints the format, or fails with
# the reason on stderr.
extract() {
	local setup_sects version poff plen start magic size tool
	[ "$(od -An -c -j 514 -N 4 "$img" | tr -d ' ')" = HdrS ] ||
		{ echo "no setup header (not a bzImage)" >&2; return 1; }
	version=$(le 518 2)
	[ "$version" -ge 520 ] ||   # 0x0208
		{ echo "boot protocol $(printf %#x "$version") has no payload fields" >&2; return 1; }
	setup_sects=$(le 497 1)
	[ "$setup_sects" -ne 0 ] || setup_sects=4
	poff=$(le 584 4)
	plen=$(le 588 4)
	start=$(((setup_sects + 1) * 512 + poff))
	# The build appends the uncompressed size (le32) to every payload
	# (scripts/Makefile.lib, size_append; arch/x86/boot/compressed/mkpiggy.c
	# reads it back): cut it off, so each tool sees one clean stream, and
	# check the result against it.
	tail -c +$((start + 1)) "$img" | head -c "$plen" >"$payload"
	[ "$(stat -c %s "$payload")" -eq "$plen" ] && [ "$plen" -gt 4 ] ||
		{ echo "payload at $start (+$plen) is outside the file" >&2; return 1; }
	size=$(od -An -tu4 -j $((plen - 4)) -N 4 "$payload" | tr -d ' ')
	truncate -s $((plen - 4)) "$payload"
	magic=$(od -An -tx1 -N 6 "$payload" | tr -d ' \n')
	case "$magic" in
	fd377a585a00*) fmt=xz;    tool="xz -dc --single-stream" ;;
	28b52ffd*)     fmt=zstd;  tool="zstd -qdc" ;;
	1f8b*)         fmt=gzip;  tool="gzip -dc" ;;
	02214c18*)     fmt=lz4;   tool="lz4 -qdc" ;;
	425a68*)       fmt=bzip2; tool="bzip2 -dc" ;;
	5d0000*)       fmt=lzma;  tool="xz -dc --format=lzma" ;;
	894c5a*)       fmt=lzo;   tool="lzop -dc" ;;
	*) echo "payload magic $magic: unknown compression" >&2; return 1 ;;
	esac
	command -v "${tool%% *}" >/dev/null ||
		{ echo "$fmt payload, but ${tool%% *} is not installed (tests/install-deps.sh installs it)" >&2; return 1; }
	$tool <"$payload" >"$tmp" 2>"$tmp.err" ||
		{ echo "$tool failed: $(head -c 200 "$tmp.err")" >&2; rm -f "$tmp.err"; return 1; }
	rm -f "$tmp.err"
	head -c 4 "$tmp" | grep -q $'^\x7fELF' ||
		{ echo "$fmt payload is not an ELF vmlinux" >&2; return 1; }
	[ "$(stat -c %s "$tmp")" -eq "$size" ] ||
		{ echo "$fmt payload gave $(stat -c %s "$tmp") bytes, the image says $size" >&2; return 1; }
	echo "vmlinux ($fmt payload)"
}

if format=$(extract 2>"$payload.why"); then
	rm -f "$payload.why"
else
	why=$(cat "$payload.why")
	rm -f "$payload.why"
	log "$img: payload not extracted ($why): booting the bzImage itself (slower under TCG)"
	cp "$img" "$tmp"
	format="bzImage ($why)"
fi
chmod 644 "$tmp"
mv "$tmp" "$out/vmlinux"
echo "$kver" >"$out/kver"
echo "$format" >"$out/format"
log "$img -> $out/vmlinux: $format"
