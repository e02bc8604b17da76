#!/bin/bash
# Installs, from Debian, everything memplug needs to build and to run its tests
# (real guests under TCG, a real libvirtd).  Idempotent; quick when all is there.
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build python3
      libjson-c-dev libvirt-dev libnuma-dev libsystemd-dev
      qemu-system-x86 qemu-utils linux-image-amd64 busybox-static cpio xz-utils kmod
      socat util-linux ndctl libvirt-daemon-system libvirt-clients
      mmdebstrap debhelper dpkg-dev lintian scdoc bash-completion groff-base systemd)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
