"""A QMP proxy for fault injection: it sits between memplugctl and QEMU's QMP
socket, passes every line through, and can hold one command (by name) until
the test says what to do with it.  That makes "between object-add and
device_add" a place a test can stop at every time, without a hook in the
code under test.  When QEMU's side closes (QEMU killed), the client's side
is closed too, as a direct connection would be.  Without a command to hold
it is a logging proxy: on_command(name) is called for every command, in
order, before it goes on to QEMU."""
import json
import os
import socket
import threading


class QMPHold:
    def __init__(self, upstream, path, hold=None, on_command=None):
        self.upstream, self.path, self.hold = upstream, path, hold
        self.on_command = on_command
        self.held = threading.Event()       # set when the held command arrived
        self.release = threading.Event()    # set by the test: go on
        self.forward = True                 # on release: send the held command (or drop it)
        self.commands = []                  # every command name seen, in order
        self.srv = socket.socket(socket.AF_UNIX)
        if os.path.exists(path):
            os.unlink(path)
        self.srv.bind(path)
        self.srv.listen(4)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            q = socket.socket(socket.AF_UNIX)
            q.connect(self.upstream)
            threading.Thread(target=self._pump, args=(c, q, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(q, c, False), daemon=True).start()

    def _pump(self, a, b, up):
        buf = b''
        while True:
            try:
                x = a.recv(65536)
            except OSError:
                x = b''
            if not x:
                for s in (b, a):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            if not up:
                try:
                    b.sendall(x)
                except OSError:
                    return
                continue
            buf += x
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                try:
                    cmd = json.loads(line).get('execute')
                except ValueError:
                    cmd = '?'
                self.commands.append(cmd)
                if self.on_command:
                    self.on_command(cmd)
                if cmd == self.hold:
                    self.held.set()
                    self.release.wait()
                    if not self.forward:
                        continue
                try:
                    b.sendall(line + b'\n')
                except OSError:
                    return

    def let_go(self, forward):
        """Ends the hold: forward the held command to QEMU, or drop it."""
        self.forward = forward
        self.release.set()

    def close(self):
        self.let_go(False)
        self.srv.close()
