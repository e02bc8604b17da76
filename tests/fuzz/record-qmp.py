#!/usr/bin/python3
# Records a real peer's side of a QMP-style socket as a fuzz seed: listens
# on a socket of its own, runs COMMAND with {sock} replaced by it, forwards
# every byte both ways to the real socket (QEMU's QMP, or a memplug channel
# socket), and writes what the real peer sent, byte for byte, to OUT.
# Usage: record-qmp.py REAL_SOCKET OUT COMMAND...
#   e.g. record-qmp.py /tmp/qmp.sock corpus/host-state/qemu-7.2 \
#            build/cli/memplugctl host --qmp {sock} list
import os
import select
import socket
import subprocess
import sys
import tempfile


def main():
    real, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    d = tempfile.mkdtemp()
    path = os.path.join(d, 'proxy.sock')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    proc = subprocess.Popen([a.replace('{sock}', path) for a in cmd])
    srv.settimeout(30)
    cli, _ = srv.accept()
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    peer.connect(real)
    got = b''
    open_ = True
    while open_:
        r, _, _ = select.select([cli, peer], [], [], 30)
        if not r:
            break
        for s in r:
            data = s.recv(65536)
            if not data:
                open_ = False
                break
            if s is peer:
                got += data
                cli.sendall(data)
            else:
                peer.sendall(data)
    cli.close()
    peer.close()
    rc = proc.wait()
    with open(out, 'wb') as f:
        f.write(got)
    os.unlink(path)
    os.rmdir(d)
    print('%s: %d bytes from the peer; command exit %d' % (out, len(got), rc))


main()
