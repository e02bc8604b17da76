#!/bin/bash
# completion.sh BASH_COMPLETION COMPLETION_FILE FIXTURE: runs memplugctl's
# completion function on typed command lines and checks the candidates.
# FIXTURE is a sysroot recorded from a real guest (memory0-7, 32-35, virtio0).
bc=$1 comp=$2 fixture=$3
. "$bc"
. "$comp"
# outside a real completion compopt complains: the options it sets do not matter here
compopt() { :; }
fail=0
# complete LINE: COMPREPLY for the line as typed (the last word is the cursor's).
complete_line() {
	read -r -a COMP_WORDS <<<"$1"
	[[ $1 == *' ' ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$1 COMP_POINT=${#1}
	COMPREPLY=()
	_memplugctl memplugctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect() { # LINE WANT...: every WANT is among the candidates
	local line=$1 got
	shift
	got=" $(complete_line "$line")"
	for w in "$@"; do
		if [[ $got != *" $w "* ]]; then
			echo "FAIL: '$line' -> [$got] lacks '$w'"
			fail=1
			return
		fi
	done
	echo "ok: '$line' -> [$got]"
}
only() { # LINE WANT: exactly these candidates
	local line=$1 got
	shift
	got=$(complete_line "$line")
	if [[ $got != "$* " ]]; then
		echo "FAIL: '$line' -> [$got], want [$*]"
		fail=1
		return
	fi
	echo "ok: '$line' -> [$got]"
}
expect 'memplugctl ' list explain kernel online offline drain undrain snapshot policy status host scenario
only 'memplugctl st' status
expect 'memplugctl --' --sysroot --verbose --help --version
expect 'memplugctl list -' -J --output --bytes --all
only 'memplugctl list -o RANGE,ZO' RANGE,ZONES
only 'memplugctl online --zone m' movable
only "memplugctl --sysroot $fixture online memory3" memory3 memory32 memory33 memory34 memory35
# readline replaces only the part after the colon: candidates are trimmed to it
only "memplugctl --sysroot $fixture drain virtio-mem:v" virtio0
expect "memplugctl --sysroot $fixture drain " virtio-mem:virtio0
MEMPLUG_SYSROOT=$fixture only 'memplugctl explain memory3' memory3 memory32 memory33 memory34 memory35
expect 'memplugctl offline -' --timeout --all-or-nothing --order
only 'memplugctl offline --order s' suspects-first
only 'memplugctl policy ' check dirs explain show
only 'memplugctl policy explain --kind v' virtio-mem
expect 'memplugctl status -' --wait --socket -J
expect 'memplugctl host ' --qmp --connect --domain --channel plug unplug resize list cleanup proof
only 'memplugctl host --qmp /x proof dimm0 --w' --wait
only 'memplugctl host --qmp /x plug 1G --kind n' nvdimm
expect 'memplugctl host --qmp /x plug 1G --' --node --nodes --dimm-size --host-node --requested
only 'memplugctl scenario ' --help check run
expect 'memplugctl scenario run x.scn --' --qmp --channel --connect --domain --report --cleanup --hook-fd
only 'memplugctl scenario check x.scn --' --help --json
exit $fail
