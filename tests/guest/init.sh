#!/bin/sh
# /init of the memplug test guest (busybox-static).  Mounts the API
# filesystems, loads the modules listed in /etc/memplug/modules.load and serves
# the host's commands on a second serial port (/dev/ttyS1): see README.md for
# the protocol.  The kernel console (ttyS0) gets this script's own messages.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname memplug-guest

log() { echo "memplug-init: $*"; }

# memplug.nomodules on the kernel command line leaves module loading to the test.
case " $(cat /proc/cmdline) " in
*" memplug.nomodules "*) ;;
*)
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "$m" || log "insmod $m failed"
	done </etc/memplug/modules.load
	;;
esac

chan=/dev/ttyS1
i=0
while [ ! -c "$chan" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -c "$chan" ] || log "$chan missing: no command channel"

# One command: "__mp ID TIMEOUT BASE64-SCRIPT".  The script runs in its own
# shell with stdin from /dev/null (a command that read the channel would eat
# the next commands).  Output is framed by markers carrying the ID, so the
# host can skip what a timed-out earlier command printed late; the END marker
# is preceded by a newline that the host strips.
__mp() {
	printf '@@MP-BEGIN %s@@\n' "$1"
	if echo "$3" | base64 -d >/tmp/.mp-cmd 2>/dev/null; then
		if [ "$2" -gt 0 ] 2>/dev/null; then
			timeout -s KILL "$2" sh /tmp/.mp-cmd </dev/null 2>&1
		else
			sh /tmp/.mp-cmd </dev/null 2>&1
		fi
		rc=$?
	else
		echo "memplug-init: bad base64 in command $1"
		rc=254
	fi
	printf '\n@@MP-END %s %d@@\n' "$1" "$rc"
}

# The server must not be PID 1: orphans (busybox timeout's watcher, daemons
# a test started) are reparented to PID 1, and the SIGCHLD of their exit
# interrupts ash's "read" builtin, which then restarts and drops the part of
# the line it had read.  PID 1 only reaps; the server's own children exit
# while it waits for them, never while it reads.
serve() {
	# 115200 is the 8250's ceiling; QEMU paces the receive FIFO by the baud
	# rate, so this makes uploads 3x faster than the default 9600.
	stty raw -echo 115200
	echo "@@MP-READY@@"
	while IFS= read -r l; do
		case "$l" in
		"__mp "*|"__mpput "*) eval "$l" ;;
		*) printf '@@MP-BADLINE %d@@\n' "${#l}" ;;
		esac
	done
	log "command channel closed"
}

# Upload: "__mpput ID NBYTES PATH", then NBYTES of base64 on the channel
# itself (ash's read takes one syscall per byte: ~30 KB/s; head reads
# blocks).  Safe because the host sends nothing else until the END marker.
__mpput() {
	printf '@@MP-BEGIN %s@@\n' "$1"
	head -c "$2" | base64 -d >"$3"
	rc=$?
	printf '\n@@MP-END %s %d@@\n' "$1" "$rc"
}

log "ready, serving $chan"
serve <>"$chan" >&0 2>&0 &
while :; do
	wait
	sleep 1
done
