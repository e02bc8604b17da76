"""A host end of the memplug channel for tests (docs/channel.md): connects to
a Guest's channel_path, reads JSON lines, sends requests, collects events."""

import json
import socket
import time


class Host:
    def __init__(self, path, timeout=30):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b''
        self.events = []      # events not yet taken by wait_event()
        self.unsolicited = []  # errors without an id
        self.next_id = 0
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def line(self, timeout=None):
        """The next message (parsed), or raises TimeoutError."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no line from the guest in %s s (have %r)'
                                   % (timeout or self.timeout, self.buf[:200]))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not data:
                raise ConnectionError('the channel socket closed')
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        assert len(line) < 65536, len(line)
        return json.loads(line)

    def greeting(self, timeout=None):
        """Skips to the next greeting and returns its body."""
        while True:
            m = self.line(timeout)
            if 'memplug' in m:
                return m['memplug']
            self._keep(m)

    def _keep(self, m):
        if 'event' in m:
            self.events.append(m)
        elif 'error' in m and 'id' not in m:
            self.unsolicited.append(m)

    def request(self, name, args=None, id=None, timeout=None):
        """Sends a request and returns its whole answer ({'return': ...} or
        {'error': ...}); events meanwhile are kept."""
        if id is None:
            self.next_id += 1
            id = self.next_id
        msg = {'execute': name, 'id': id}
        if args is not None:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        return self.answer(id, timeout)

    def answer(self, id, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self.line(max(0.01, deadline - time.monotonic()))
            if m.get('id') == id and ('return' in m or 'error' in m):
                return m
            self._keep(m)

    def wait_event(self, name, pred=None, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self.events):
                if e['event'] == name and (pred is None or pred(e['data'])):
                    return self.events.pop(i)['data']
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no event %s in %s s (have %s)' % (
                    name, timeout or self.timeout, [e['event'] for e in self.events]))
            self._keep(self.line(left))

    def drain_events(self, quiet=0.5):
        """Reads until nothing comes for `quiet` s; returns what came."""
        got = []
        while True:
            try:
                m = self.line(quiet)
            except TimeoutError:
                return got
            got.append(m)
            self._keep(m)
