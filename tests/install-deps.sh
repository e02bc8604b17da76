#!/bin/bash
# Installs, from Debian, everything memplug needs to build and to run its tests
# (real guests under TCG, a real libvirtd, libFuzzer with clang, valgrind).
# libc6-dbg is named although valgrind depends on it: the guest's valgrind
# overlay copies ld.so's debug info from it (tests/guest/build-initramfs.sh).
# Idempotent; quick when all is there.
#
# The guests boot both kernels a Debian user runs: bookworm's 6.1 and 6.12
# (Debian 13's kernel, here from bookworm-backports).  The backports source is
# added as its own file, once; the 6.1 image is marked manual first, so that
# moving linux-image-amd64 to 6.12 never lets apt autoremove it.
# MEMPLUG_NO_BACKPORTS=1 skips the 6.12 kernel (its tests then run on 6.1 only).
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build python3
      libjson-c-dev libvirt-dev libnuma-dev libsystemd-dev
      qemu-system-x86 qemu-utils linux-image-amd64 busybox-static cpio kmod
      xz-utils zstd lz4 gzip
      socat util-linux ndctl libvirt-daemon-system libvirt-clients
      mmdebstrap debhelper dpkg-dev lintian scdoc bash-completion groff-base systemd
      clang libclang-rt-dev valgrind libc6-dbg)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# A kernel image of series $1 (e.g. 6.12) with its modules is installed.
have_series() {
	local img
	for img in /boot/vmlinuz-"$1".*; do
		[ -e "$img" ] && [ -d "/lib/modules/${img#/boot/vmlinuz-}" ] && return 0
	done
	return 1
}
need_612=0
if [ "${MEMPLUG_NO_BACKPORTS:-0}" != 1 ] && ! have_series 6.12; then
	need_612=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $need_612 -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install: ${missing[*]}${missing[*]:+ }$([ $need_612 -eq 1 ] && echo 'linux-image-amd64 (6.12, bookworm-backports)')" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
updated=0
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -q -o DPkg::Lock::Timeout=600
	updated=1
	apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
fi

if [ $need_612 -eq 1 ]; then
	# Add bookworm-backports unless some source already names it.
	if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		cat >/etc/apt/sources.list.d/memplug-bookworm-backports.sources <<'SRC'
# Added by memplug's tests/install-deps.sh: the 6.12 kernel for the test guests.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
		updated=0
	fi
	[ $updated -eq 1 ] || apt-get update -q -o DPkg::Lock::Timeout=600
	# Keep the 6.1 image when the metapackage moves on to 6.12.
	old=$(dpkg-query -W -f='${Package} ${Status}\n' 'linux-image-6.1.*-amd64' 2>/dev/null |
		awk '/install ok installed/ {print $1}')
	[ -z "$old" ] || apt-mark manual $old >/dev/null
	apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends -t bookworm-backports linux-image-amd64
	have_series 6.12 || {
		echo "install-deps: bookworm-backports' linux-image-amd64 installed no 6.12 kernel" >&2
		exit 1
	}
fi
