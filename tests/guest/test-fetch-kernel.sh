#!/bin/bash
# fetch-kernel.sh against bzImages made here: a setup header (boot protocol
# 2.15, setup_sects, payload_offset/length) around a payload compressed by
# each tool, with the uncompressed size appended as the kernel's build does.
# Hand-made because Debian ships only xz (6.1) and zstd (6.12) kernels; the
# real ones are extracted by every guest test.  Also: the bzImage fallback
# (unknown compression, a payload that isn't ELF, a size mismatch) and the
# MEMPLUG_GUEST_KERNEL choice.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fk=$here/fetch-kernel.sh
t=$(mktemp -d "${TMPDIR:-/tmp}/memplug-fk.XXXXXX")
trap 'rm -rf "$t"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }

# An "ELF vmlinux": the magic and some compressible bytes.
{ printf '\x7fELF'; head -c 200000 /dev/zero | tr '\0' 'k'; seq 1 5000; } >"$t/vmlinux.ref"
size=$(stat -c %s "$t/vmlinux.ref")

# mkimage KVER COMPRESSOR... : /boot/vmlinuz-KVER with that payload.
mkimage() {
	local kver=$1; shift
	mkdir -p "$t/root/boot" "$t/root/lib/modules/$kver"
	"$@" <"$t/vmlinux.ref" >"$t/p"
	le32 "$size" >>"$t/p"
	local plen img=$t/root/boot/vmlinuz-$kver
	plen=$(stat -c %s "$t/p")
	head -c 1024 /dev/zero >"$img"                       # boot sector + 1 setup sector
	printf '\x01' | dd of="$img" bs=1 seek=$((0x1f1)) conv=notrunc status=none   # setup_sects
	printf 'HdrS\x0f\x02' | dd of="$img" bs=1 seek=$((0x202)) conv=notrunc status=none
	{ le32 64; le32 "$plen"; } | dd of="$img" bs=1 seek=$((0x248)) conv=notrunc status=none
	head -c 64 /dev/urandom >>"$img"                     # decompressor stub stand-in
	cat "$t/p" >>"$img"
	head -c 300 /dev/urandom >>"$img"                    # what follows the payload
}

# check KVER WANT-FORMAT-PREFIX
check() {
	local out=$t/out/$1
	if ! MEMPLUG_KERNEL_ROOT=$t/root MEMPLUG_GUEST_KERNEL=$1 "$fk" "$out" 2>"$t/err"; then
		bad "$1: fetch-kernel failed: $(cat "$t/err")"
		return
	fi
	case "$(cat "$out/format")" in
	"$2"*) ;;
	*) bad "$1: format '$(cat "$out/format")', want '$2...'"; return ;;
	esac
	if [ "${2%% *}" = vmlinux ]; then
		cmp -s "$out/vmlinux" "$t/vmlinux.ref" || { bad "$1: vmlinux differs"; return; }
	else
		cmp -s "$out/vmlinux" "$t/root/boot/vmlinuz-$1" || { bad "$1: not the bzImage"; return; }
	fi
	ok "$1: $(cat "$out/format")"
}

# As the kernel's scripts/Makefile.lib compresses (cmd_xzkern: xz_wrap.sh,
# crc32; cmd_zstd22; cmd_gzip; cmd_lz4: legacy format -l; cmd_bzip2; cmd_lzma).
for c in "xz:xz -c --check=crc32" "zstd:zstd -qc" "gzip:gzip -9c" "lz4:lz4 -qc -l" \
	"bzip2:bzip2 -c" "lzma:xz -c --format=lzma"; do
	fmt=${c%%:*} cmd=${c#*:}
	command -v "${cmd%% *}" >/dev/null || { echo "skip: $fmt (${cmd%% *} not installed)"; continue; }
	mkimage "9.0.$fmt" $cmd
	check "9.0.$fmt" "vmlinux ($fmt payload)"
done
mkimage 9.1.0-unknown cat
check 9.1.0-unknown "bzImage (payload magic"
mkimage 9.2.0-notelf sh -c 'tail -c +2 | gzip -c'
check 9.2.0-notelf "bzImage (gzip payload"

# The appended size must match: a wrong one falls back to the bzImage.
mkimage 9.3.0-size gzip -c
img=$t/root/boot/vmlinuz-9.3.0-size
plen=$(od -An -tu4 -j $((0x24c)) -N 4 "$img" | tr -d ' ')
le32 $((size + 1)) | dd of="$img" bs=1 seek=$((1024 + 64 + plen - 4)) conv=notrunc status=none
check 9.3.0-size "bzImage (gzip payload gave"

# A file that is no bzImage at all still "boots" as itself.
mkdir -p "$t/root/lib/modules/9.4.0-raw"
head -c 4096 /dev/urandom >"$t/root/boot/vmlinuz-9.4.0-raw"
check 9.4.0-raw "bzImage (no setup header"

# The choice: newest by default, a series, a full version, an unknown one.
mkdir -p "$t/root/lib/modules/9.10.1-amd64" "$t/root/lib/modules/9.1.5-amd64"
cp "$t/root/boot/vmlinuz-9.1.0-unknown" "$t/root/boot/vmlinuz-9.10.1-amd64"
cp "$t/root/boot/vmlinuz-9.1.0-unknown" "$t/root/boot/vmlinuz-9.1.5-amd64"
touch "$t/root/boot/vmlinuz-9.11.0-nomodules"
pick() { MEMPLUG_KERNEL_ROOT=$t/root MEMPLUG_GUEST_KERNEL=$1 "$fk" --kver 2>/dev/null || echo "(failed)"; }
for c in ":9.10.1-amd64" "9.1:9.1.5-amd64" "9.10:9.10.1-amd64" "9.1.0-unknown:9.1.0-unknown" \
	"9.11.0-nomodules:(failed)" "8:(failed)"; do
	got=$(pick "${c%%:*}")
	[ "$got" = "${c#*:}" ] && ok "MEMPLUG_GUEST_KERNEL='${c%%:*}' -> $got" ||
		bad "MEMPLUG_GUEST_KERNEL='${c%%:*}' -> $got, want ${c#*:}"
done

[ $fail -eq 0 ] && echo "all passed"
exit $fail
