#!/bin/bash
# build-image.sh DEBS_FILE KVER OUTDIR: the Debian test guest's disk,
# OUTDIR/root.img (raw ext4), built with mmdebstrap from the Debian release
# this host runs, with memplug's .debs (one path a line in DEBS_FILE)
# installed the way apt installs them, the booted kernel's modules copied in,
# an empty root password and the harness's command channel (mp-chan on
# ttyS1).  Cached: nothing happens while OUTDIR/image.sha256 matches the hash
# of the .debs, this script, mp-chan and its unit, and KVER.  Writes
# OUTDIR/image.log (mmdebstrap's output and the checks) and OUTDIR/times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
debs_file=$1 kver=$2
out=$(mkdir -p "$3" && cd "$3" && pwd)
for t in mmdebstrap mke2fs; do
	command -v $t >/dev/null || { echo "build-image: $t missing: run tests/install-deps.sh" >&2; exit 77; }
done
[ -d "/lib/modules/$kver" ] || { echo "build-image: /lib/modules/$kver missing" >&2; exit 77; }
mapfile -t debs < <(grep -v -- '-dbgsym_' "$debs_file")
[ ${#debs[@]} -gt 0 ] || { echo "build-image: no .deb in $debs_file" >&2; exit 1; }
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
hash=$( (sha256sum "${debs[@]}" | cut -d' ' -f1; cat "$0" "$here/mp-chan" "$here/mp-chan.service";
	echo "$kver $suite") | sha256sum | cut -d' ' -f1)
if [ -f "$out/root.img" ] && [ "$(cat "$out/image.sha256" 2>/dev/null)" = "$hash" ]; then
	echo "build-image: image up to date ($hash)"
	exit 0
fi
rm -f "$out/root.img" "$out/image.sha256"
root=$out/rootfs
rm -rf "$root"
inc=(--include=systemd,systemd-sysv,udev,kmod,procps)
for d in "${debs[@]}"; do inc+=("--include=$d"); done
t0=$(date +%s.%N)
# --customize-hook runs on the host with the image's root as $1.  The
# modules: only what a VM of ours can use (virtio, nvdimm/dax, filesystems,
# ACPI ...); sound, GPUs, wireless and the like are left out (~300 MB).
# file-mirror-automount makes the local .debs visible to dpkg inside the
# chroot (apt outside passes their paths to it verbatim).
mmdebstrap --variant=minbase "${inc[@]}" \
	--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
	--customize-hook='chroot "$1" systemctl is-enabled memplugd.service' \
	--customize-hook="mkdir -p \"\$1/lib/modules\" && tar -C /lib/modules -cf - \
		--exclude=$kver/kernel/sound --exclude=$kver/kernel/drivers/gpu \
		--exclude=$kver/kernel/drivers/media --exclude=$kver/kernel/drivers/net/wireless \
		--exclude=$kver/kernel/drivers/infiniband --exclude=$kver/kernel/drivers/staging \
		--exclude=$kver/kernel/drivers/bluetooth --exclude=$kver/kernel/net/wireless \
		--exclude=$kver/kernel/drivers/usb --exclude=$kver/kernel/drivers/hid \
		--exclude=$kver/kernel/drivers/input --exclude=$kver/kernel/drivers/iio \
		$kver | tar -C \"\$1/lib/modules\" -xf - && depmod -b \"\$1\" $kver" \
	--customize-hook='sed -i "s|^root:[^:]*:|root::|" "$1/etc/shadow"' \
	--customize-hook='echo memplug-debian >"$1/etc/hostname"' \
	--customize-hook='echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" >"$1/etc/fstab"' \
	--customize-hook="install -m 0755 $here/mp-chan \"\$1/usr/local/sbin/mp-chan\"" \
	--customize-hook="install -m 0644 $here/mp-chan.service \"\$1/etc/systemd/system/mp-chan.service\"" \
	--customize-hook='chroot "$1" systemctl enable mp-chan.service' \
	"$suite" "$root" >"$out/image.log" 2>&1 || {
	tail -30 "$out/image.log" >&2
	echo "build-image: mmdebstrap failed, see $out/image.log" >&2
	exit 1
}
t1=$(date +%s.%N)
# The packages' maintainer scripts must not have started memplugd in the
# image build: no process with the image as its root, nothing in its /run.
{
	echo "== check: processes rooted in the image"
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "process ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline")"
	done
	echo "== check: $root/run/memplug"
	ls -la "$root/run/memplug" 2>&1 || true
	echo "== check: sysinit.target.wants"
	ls -l "$root/etc/systemd/system/sysinit.target.wants/" 2>&1 || true
	echo "== check: udev rules about memory"
	grep -l -i 'SUBSYSTEM=="memory"' "$root"/lib/udev/rules.d/* "$root"/etc/udev/rules.d/* 2>/dev/null || echo "(none)"
	echo "== check: installed size"
	du -sm "$root" | cut -f1
} >>"$out/image.log" 2>&1
mke2fs -q -t ext4 -L memplug-root -d "$root" "$out/root.img.tmp" 2G
mv "$out/root.img.tmp" "$out/root.img"
rm -rf "$root"
t2=$(date +%s.%N)
echo "$hash" >"$out/image.sha256"
awk -v a="$t0" -v b="$t1" -v c="$t2" \
	'BEGIN { printf "mmdebstrap %.1f s\nmke2fs %.1f s\n", b - a, c - b }' >"$out/times"
cat "$out/times"
