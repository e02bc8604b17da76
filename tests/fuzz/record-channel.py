#!/usr/bin/python3
# Records a real memplugd's side of the memplug channel as fuzz seeds for
# host-chan and chan-msg: memplugd runs on a copy of a recorded fixture
# (--sysroot), its virtio port is a pty (dev/vport0p1 -> /dev/pts/N, raw
# mode, named org.memplug.0 under sys/class/virtio-ports), and the host's
# requests come from this script on the pty's master.
# Usage: record-channel.py BUILD_DIR FIXTURE OUT_PREFIX
#   writes OUT_PREFIX.stream (every byte memplugd sent, for host-chan) and
#   OUT_PREFIX-N.line (each line alone, for chan-msg), plus
#   OUT_PREFIX-req-N.line (the requests sent, the other direction).
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time
import tty

REQUESTS = [
    {"execute": "hello", "id": 1},
    {"execute": "status", "id": "s-2"},
    {"execute": "prepare-unplug", "arguments": {"device": "dimm:slot0", "timeout_ms": 3000}, "id": 3},
    {"execute": "cancel-unplug", "arguments": {"device": "dimm:slot0"}, "id": 4},
    {"execute": "prepare-unplug", "arguments": {"start": 4294967296, "size": 134217728}, "id": 5},
    {"execute": "no-such-command", "id": 6},
    {"execute": "status", "arguments": [], "id": 7},
]


def read_for(fd, secs, buf):
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                break
    return buf


def main():
    build, fixture, out = sys.argv[1:4]
    tmp = tempfile.mkdtemp()
    root = os.path.join(tmp, 'root')
    shutil.copytree(fixture, root, symlinks=True)
    master, slave = pty.openpty()
    tty.setraw(slave)
    os.makedirs(os.path.join(root, 'sys/class/virtio-ports/vport0p1'))
    with open(os.path.join(root, 'sys/class/virtio-ports/vport0p1/name'), 'w') as f:
        f.write('org.memplug.0\n')
    os.makedirs(os.path.join(root, 'dev'), exist_ok=True)
    os.symlink(os.ttyname(slave), os.path.join(root, 'dev/vport0p1'))
    src = os.path.dirname(os.path.abspath(__file__)) + '/../..'
    d = subprocess.Popen([build + '/daemon/memplugd', '-r', root, '-n', '-s', tmp + '/sock',
                          '--state', '', '-p', src + '/policies/default'],
                         stderr=open(tmp + '/log', 'w'))
    got = read_for(master, 3, b'')
    reqs = []
    for r in REQUESTS:
        line = json.dumps(r).encode() + b'\n'
        reqs.append(line)
        os.write(master, line)
        got = read_for(master, 1.5, got)
    d.terminate()
    d.wait()
    with open(out + '.stream', 'wb') as f:
        f.write(got)
    for i, line in enumerate(got.split(b'\n')):
        if line.strip():
            with open('%s-%d.line' % (out, i), 'wb') as f:
                f.write(line)
    for i, line in enumerate(reqs):
        with open('%s-req-%d.line' % (out, i), 'wb') as f:
            f.write(line.rstrip(b'\n'))
    print(open(tmp + '/log').read()[-600:])
    print('%s.stream: %d bytes, %d lines' % (out, len(got), got.count(b'\n')))
    shutil.rmtree(tmp)


main()
