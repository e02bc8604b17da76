#!/bin/bash
# build-initramfs.sh BUILDDIR OUT.cpio.gz
#
# Builds the test guest's initramfs: busybox-static as /init (init.sh) with
# its applet links, the kernel modules memory hotplug tests need (for the
# kernel fetch-kernel.sh picks, or $KVER), memplug's binaries from BUILDDIR
# (cli/memplugctl, daemon/memplugd, whichever exist) with their shared
# libraries, and ndctl if the host has it (optional: the sysfs route works
# without it; MEMPLUG_GUEST_NDCTL=0 leaves it out).
#
# build-initramfs.sh --valgrind-overlay OUT.cpio.gz
#
# Builds only an overlay with valgrind's memcheck (valgrind, valgrind.bin,
# /usr/libexec/valgrind/{memcheck-amd64-linux,vgpreload_core,
# vgpreload_memcheck,default.supp}, and the debug info of ld.so and libc
# from libc6-dbg, which memcheck needs to start) for a guest that runs memplugd under
# valgrind (tests/daemon/test_valgrind.py).  The kernel unpacks
# concatenated archives in order, so `cat initramfs.cpio.gz OVERLAY` is
# the normal initramfs plus valgrind; the normal one stays small.
set -euo pipefail

die() { echo "build-initramfs: $*" >&2; exit 1; }

if [ "${1:-}" = --valgrind-overlay ]; then
	[ $# -eq 2 ] || die "usage: $0 --valgrind-overlay OUT.cpio.gz"
	vg=/usr/libexec/valgrind
	for f in /usr/bin/valgrind /usr/bin/valgrind.bin $vg/memcheck-amd64-linux \
		$vg/vgpreload_core-amd64-linux.so $vg/vgpreload_memcheck-amd64-linux.so \
		$vg/default.supp; do
		[ -e "$f" ] || die "$f missing: install valgrind"
	done
	root=$(mktemp -d "${TMPDIR:-/tmp}/memplug-vg-overlay.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	mkdir -p "$root/usr/bin" "$root$vg"
	cp /usr/bin/valgrind /usr/bin/valgrind.bin "$root/usr/bin/"
	cp $vg/memcheck-amd64-linux $vg/vgpreload_core-amd64-linux.so \
		$vg/vgpreload_memcheck-amd64-linux.so $vg/default.supp "$root$vg/"
	# valgrind.bin's libraries (libc, ld.so: the main archive has them too),
	# each with its detached debug info (libc6-dbg, found by build ID).
	# ld.so's is not optional: memcheck must redirect ld.so's strlen, and
	# Debian's ld.so is stripped, so without it valgrind stops at startup
	# ("a function redirection which is mandatory for this platform-tool
	# combination cannot be set up") before the program runs at all.
	# Debian's valgrind package depends on libc6-dbg for this reason.
	ldd /usr/bin/valgrind.bin 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
		id=$(LC_ALL=C readelf -n "$lib" 2>/dev/null | sed -n 's/^ *Build ID: *//p' | head -n1)
		dbg=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
		if [ -n "$id" ] && [ -e "$dbg" ]; then
			mkdir -p "$root$(dirname "$dbg")"
			cp -L "$dbg" "$root$dbg"
		else
			case "$lib" in
			*/ld-linux*) die "no debug info for $lib ($dbg): install libc6-dbg" ;;
			esac
		fi
	done
	mkdir -p "$(dirname "$2")"
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --quiet -R 0:0) | gzip -1 >"$2"
	echo "build-initramfs: valgrind overlay $2 ($(du -k "$2" | cut -f1) KiB)" >&2
	exit 0
fi

[ $# -eq 2 ] || die "usage: $0 BUILDDIR OUT.cpio.gz"
builddir=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)

kver=${KVER:-$("$here/fetch-kernel.sh" --kver)}
moddir=/lib/modules/$kver
[ -d "$moddir" ] || die "$moddir missing: install linux-image-amd64"
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && file -L "$b" 2>/dev/null | grep -q 'statically linked'; then
		busybox=$b
		break
	fi
done
[ -n "$busybox" ] || die "no static busybox: install busybox-static"
for t in cpio gzip depmod modprobe ldd; do
	command -v $t >/dev/null || die "$t not found (packages: cpio gzip kmod libc-bin)"
done

modules=(nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax kmem
	 virtio_pci virtio_console virtio_mem)

root=$(mktemp -d "${TMPDIR:-/tmp}/memplug-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/memplug,proc,sys,dev,tmp,run,root,mnt,var/log}
cp "$busybox" "$root/bin/busybox"
# Applet links where busybox would install them (busybox --list-full).
"$busybox" --list-full | while read -r p; do
	[ "$p" = bin/busybox ] && continue
	[ -e "$root/$p" ] && continue
	mkdir -p "$root/$(dirname "$p")"
	ln -s /bin/busybox "$root/$p"
done
install -m 755 "$here/init.sh" "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

# Modules, in load order.  -C /dev/null: Debian's ndctl package installs a
# modprobe.d "install libnvdimm" rule that would hide libnvdimm from the
# dependency list (nfit then fails: "Unknown symbol nvdimm_cmd_mask").
: >"$root/etc/memplug/modules.load"
declare -A seen=()
for m in "${modules[@]}"; do
	deps=$(modprobe -C /dev/null -S "$kver" --show-depends "$m") ||
		die "modprobe --show-depends $m failed for $kver"
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue   # "builtin X": nothing to load
		[ -z "${seen[$path]:-}" ] || continue
		seen[$path]=1
		dst=$root$path
		mkdir -p "$(dirname "$dst")"
		# busybox insmod reads only plain .ko files: decompress the rest.
		case "$path" in
		*.ko.xz)  xz -dc "$path" >"${dst%.xz}"; dst=${dst%.xz} ;;
		*.ko.zst) zstd -qdc "$path" >"${dst%.zst}"; dst=${dst%.zst} ;;
		*.ko.gz)  gzip -dc "$path" >"${dst%.gz}"; dst=${dst%.gz} ;;
		*)        cp "$path" "$dst" ;;
		esac
		echo "${dst#$root}" >>"$root/etc/memplug/modules.load"
	done <<<"$deps"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -f "$moddir/$f" ] && cp "$moddir/$f" "$root/lib/modules/$kver/"
done
depmod -b "$root" "$kver"

# Dynamic binaries: copy the file and everything ldd lists (libraries and the
# dynamic loader) to the same paths.
copy_with_libs() {
	local src=$1 dst=$2 lib
	mkdir -p "$root$(dirname "$dst")"
	rm -f "$root$dst"
	cp -L "$src" "$root$dst"
	ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

found=0
for b in cli/memplugctl daemon/memplugd; do
	if [ -x "$builddir/$b" ]; then
		copy_with_libs "$builddir/$b" "/usr/bin/$(basename "$b")"
		echo "$(basename "$b")" >>"$root/etc/memplug/binaries"
		found=$((found + 1))
	fi
done
if [ "${MEMPLUG_GUEST_NDCTL:-1}" != 0 ] && [ -x /usr/bin/ndctl ]; then
	copy_with_libs /usr/bin/ndctl /usr/bin/ndctl
	[ -x /usr/bin/daxctl ] && copy_with_libs /usr/bin/daxctl /usr/bin/daxctl
fi
echo "$kver" >"$root/etc/memplug/kver"

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0) | gzip -1 >"$tmp"
mv "$tmp" "$out"
echo "build-initramfs: $out ($(du -k "$out" | cut -f1) KiB, kernel $kver, $found memplug binaries)" >&2
