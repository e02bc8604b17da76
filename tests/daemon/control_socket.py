#!/usr/bin/python3
"""memplugd's control socket under misbehaving clients (docs/daemon.md,
"Control socket"): memplugd runs with a FIFO as its uevent source and a
private socket, and the cases check that no client can stall the loop.

  stuck_reader   a client sends "list" on several connections and never
                 reads; another keeps asking "status": every status is
                 answered, and the stuck connections are dropped (log line
                 with the stuck client's pid; its sockets end early)
  half_request   half a request line, then silence: dropped with an error
  garbage        non-JSON, a JSON non-object, no command, an oversized line
  too_many       17th client refused with an error, served again once one
                 leaves
  unprivileged   a non-root peer (setpriv to nobody): status, list and wait
                 answered, drain and undrain refused (SO_PEERCRED), at most
                 4 such clients at once while root is still served

stuck_reader needs a "list" answer far bigger than a socket buffer, so it
runs on a GENERATED memory tree (like bench/gen-blocks.py, all blocks online
boot memory, plus a /proc/iomem covering them): no guest here has thousands
of blocks, and the case is about the size of the answer, not its contents.
The others use the recorded fixture numa2-two-dimms.

Nothing here is timed: answers are counted, and every wait has only a
generous upper bound against a hang.

    control_socket.py BUILDDIR [CASE...]
"""
import errno
import contextlib
import importlib.util
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import cases

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, '..', '..', 'build')
MEMPLUGD = os.path.join(BUILD, 'daemon', 'memplugd')
MEMPLUGCTL = os.path.join(BUILD, 'cli', 'memplugctl')
FIX = os.path.join(HERE, 'fixtures')
HANG = 60   # seconds: only against a hang, never a pass/fail threshold
MAX_CLIENTS = 16   # MPD_CONTROL_MAX_CLIENTS


def generate(root, n):
    """A generated sysroot: n online blocks over two nodes, System RAM in iomem."""
    spec = importlib.util.spec_from_file_location('gen_blocks', os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', '..', 'bench', 'gen-blocks.py'))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate(root, n, all_online=True, iomem=True)


class Daemon:
    """memplugd -n on a sysroot, FIFO uevents, a private socket, log in a file."""

    def __init__(self, fixture=None, blocks=0):
        self.tmp = tempfile.mkdtemp(prefix='memplugd-control-')
        self.root = os.path.join(self.tmp, 'root')
        if fixture:
            shutil.copytree(os.path.join(FIX, fixture), self.root, symlinks=True)
            subprocess.run([MEMPLUGCTL, 'snapshot', '--expand', self.root], check=True)
        else:
            generate(self.root, blocks)
        pol = os.path.join(self.tmp, 'policies')
        os.makedirs(pol)   # no policies: every device is left alone, nothing is written
        fifo = os.path.join(self.tmp, 'uevents')
        os.mkfifo(fifo)
        self.sock = os.path.join(self.tmp, 'sock')
        self.logf = open(os.path.join(self.tmp, 'log'), 'w+')
        self.p = subprocess.Popen([MEMPLUGD, '-n', '-v', '--sysroot', self.root, '-p', pol,
                                   '--events', fifo, '--socket', self.sock, '--state', ''],
                                  stderr=self.logf)
        self.w = None
        for _ in range(HANG * 20):
            assert self.p.poll() is None, self.log()
            try:
                if self.w is None:   # ENXIO until memplugd has opened the FIFO
                    self.w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
            if self.w is not None and os.path.exists(self.sock):
                break
            time.sleep(0.05)
        assert self.w is not None and os.path.exists(self.sock), self.log()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(HANG)
        s.connect(self.sock)
        return s

    def ask(self, req):
        """One request (dict or raw bytes); returns (answer bytes, how it ended)."""
        s = self.connect()
        try:
            s.sendall(req if isinstance(req, bytes) else (json.dumps(req) + '\n').encode())
        except (BrokenPipeError, ConnectionResetError):
            # memplugd refuses a client over the limit at once: under load its
            # answer and close can come before our request went out (CI, once).
            # What it wrote is still ours to read; the caller judges it.
            pass
        return read_all(s)

    def ask_json(self, req, ends=('eof',)):
        data, end = self.ask(req)
        assert end in ends and data.endswith(b'\n'), (data[:200], end)
        return json.loads(data)

    def log(self):
        self.logf.seek(0)
        return self.logf.read()

    def wait_log(self, text, count=1):
        for _ in range(HANG * 10):
            if self.log().count(text) >= count:
                return self.log()
            assert self.p.poll() is None, self.log()
            time.sleep(0.1)
        raise AssertionError('no %d x %r in the log:\n%s' % (count, text, self.log()))

    def stop(self):
        """SIGTERM; memplugd must exit 0 (and, under ASan, without a leak)."""
        os.close(self.w)
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(HANG)
        log = self.log()
        self.logf.close()
        assert rc == 0, (rc, log)
        assert not os.path.exists(self.sock), log
        for bad in ('runtime error', 'AddressSanitizer', 'LeakSanitizer'):   # sanitizer builds
            assert bad not in log, log
        shutil.rmtree(self.tmp, ignore_errors=True)
        return log

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@contextlib.contextmanager
def running(d):
    """The daemon of one case: killed if the case fails, stopped and checked if it passes."""
    try:
        yield d
    except BaseException:
        d.kill()
        raise
    d.stop()


def read_all(s):
    """Everything until EOF; 'eof', 'reset' (ECONNRESET) or 'timeout' says how it ended."""
    data = b''
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                end = 'eof'
                break
            data += b
    except ConnectionResetError:
        end = 'reset'
    except socket.timeout:
        end = 'timeout'
    s.close()
    return data, end


# The stuck client, a separate process so that its pid is its own in the log:
# connects N times, sends "list" (twice: a pipelined second request is never
# read either), waits until memplugd has started each answer (bytes in the
# socket), says so, and reads nothing until told to; then reads each socket
# to its end (read_all(), the same as the test's) and reports what it got.
STUCK = r'''
import fcntl, json, socket, struct, sys, termios, time
%s
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'{"command":"list"}\n{"command":"list"}\n')
    socks.append(s)
def inq(s):
    return struct.unpack('i', fcntl.ioctl(s.fileno(), termios.FIONREAD, b'\0\0\0\0'))[0]
for _ in range(%d * 20):
    if all(inq(s) for s in socks):
        break
    time.sleep(0.05)
print(json.dumps([inq(s) for s in socks]), flush=True)
sys.stdin.readline()
out = []
for s in socks:
    s.settimeout(%d)
    data, end = read_all(s)
    out.append([len(data), end])
print(json.dumps(out), flush=True)
''' % (inspect.getsource(read_all), HANG, HANG)


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks (/proc/PID/stat fields 14 and 15)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def socket_buffer():
    """The kernel's default send buffer: what a stream socket holds before writes block."""
    with open('/proc/sys/net/core/wmem_default') as f:
        return int(f.read())


def case_stuck_reader():
    # ~121 bytes of answer a block (measured): an answer of 3 socket buffers or more.
    blocks = max(4096, 3 * socket_buffer() // 100)
    stuck = None
    with running(Daemon(blocks=blocks)) as d:
        try:
            data, end = d.ask({'command': 'list'})
            assert end == 'eof' and len(json.loads(data)['blocks']) == blocks, (end, data[:200])
            full_len = len(data)
            assert full_len > 3 * socket_buffer(), (full_len, socket_buffer())

            n_stuck = 3
            stuck = subprocess.Popen([sys.executable, '-c', STUCK, d.sock, str(n_stuck)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            pending = json.loads(stuck.stdout.readline())
            # memplugd started every answer, and none fits in the socket: the rest waits
            # in memplugd's queue (the old blocking write would now hang the whole loop).
            assert len(pending) == n_stuck and all(0 < b < full_len for b in pending), pending

            # Meanwhile another client is served, every time.
            answered = 0
            for _ in range(20):
                st = d.ask_json({'command': 'status'})
                answered += 'devices' in st and st['pid'] == d.p.pid
            assert answered == 20, answered
            # "list" too, for a client that reads.
            assert len(d.ask_json({'command': 'list'})['blocks']) == blocks

            # No byte taken for the stall time: each stuck connection is dropped, by pid.
            log = d.wait_log('control: pid %d stopped reading its answer' % stuck.pid, n_stuck)
            assert 'bytes unsent, none taken for 5 s): dropped' in log, log
            stuck.stdin.write('read\n')
            stuck.stdin.flush()
            got = json.loads(stuck.stdout.readline())
            stuck.wait(HANG)
            # Closed by memplugd: the client reads what was in its socket, then EOF or
            # ECONNRESET (its unread second request makes the close a reset); never the
            # whole answer, never a hang.
            for n, end in got:
                assert end in ('eof', 'reset') and n < full_len, (got, full_len)

            # And the daemon serves on, with nothing queued left over.
            assert d.ask_json({'command': 'status'})['pid'] == d.p.pid
        finally:
            if stuck and stuck.poll() is None:
                stuck.kill()
                stuck.wait()
    print('  list answer %d bytes (%d blocks), socket buffer %d; stuck client got %s'
          % (full_len, blocks, socket_buffer(), got))


def case_half_request():
    with running(Daemon('numa2-two-dimms')) as d:
        half = d.connect()
        half.sendall(b'{"command":"sta')
        # Served while the half request waits.
        for _ in range(5):
            assert 'devices' in d.ask_json({'command': 'status'})
        data, end = read_all(half)   # returns once memplugd gives up on it
        assert end == 'eof' and json.loads(data) == {'error': 'request timed out'}, (data, end)
        d.wait_log('sent no complete request within 5 s (15 bytes): dropped')
        # A request without its newline, then shutdown(SHUT_WR): answered.
        s = d.connect()
        s.sendall(b'{"command":"status"}')
        s.shutdown(socket.SHUT_WR)
        data, end = read_all(s)
        assert end == 'eof' and 'devices' in json.loads(data), (data[:200], end)
        # A client that connects and hangs up without a word is just closed.
        d.connect().close()
        assert 'devices' in d.ask_json({'command': 'status'})


def case_garbage():
    with running(Daemon('numa2-two-dimms')) as d:
        for req, want in ((b'\x00\xffnot json}\n', 'bad request'),
                          (b'not json at all\n', 'bad request'),
                          (b'[1, 2]\n', 'bad request: not an object'),
                          (b'{"command": 5}\n', 'bad request'),
                          (b'{"cmd": "status"}\n', 'bad request'),
                          (b'{"command": "wait"}\n', 'bad request: "wait" needs "device"'),
                          (b'{"command": "reboot"}\n', 'unknown command'),
                          (b'\n', 'bad request')):
            a = d.ask_json(req)
            assert want in a.get('error', ''), (req, a)
        # Longer than 4 KiB without a newline: refused as soon as the buffer is full.
        data, end = d.ask(b'{"command":"' + b'x' * 8000)
        assert json.loads(data) == {'error': 'request too long'}, data
        assert end in ('eof', 'reset'), end   # unread bytes make the close a reset
        d.wait_log('request longer than 4095 bytes: refused')
        # A request line followed by more: the first line is answered, the rest not read.
        data, end = d.ask(b'{"command":"status"}\n{"command":"list"}\n')
        assert 'devices' in json.loads(data.split(b'\n')[0]), data[:200]
        assert 'devices' in d.ask_json({'command': 'status'})


def case_too_many():
    waiters = []
    with running(Daemon('numa2-two-dimms')) as d:
        try:
            # "wait" on a device that never comes: held open with no deadline.
            for _ in range(MAX_CLIENTS):
                s = d.connect()
                s.sendall(b'{"command":"wait","device":"dimm:nosuch"}\n')
                waiters.append(s)
            # Refused unread: the request still in memplugd's socket makes the close a reset.
            a = d.ask_json({'command': 'status'}, ends=('eof', 'reset'))
            assert a == {'error': 'too many clients: try again'}, a
            log = d.wait_log('control: %d clients already: refused pid %d' % (MAX_CLIENTS, os.getpid()))
            # Waiting clients cost nothing: POLLOUT is never asked for them (a writable
            # socket would make poll() return at once, forever).  CPU ticks over a second.
            t0 = cpu_ticks(d.p.pid)
            time.sleep(1)
            assert cpu_ticks(d.p.pid) - t0 < 10, (t0, cpu_ticks(d.p.pid))
            # One leaves: the next one is served (once memplugd saw the hang-up).
            waiters.pop().close()
            for _ in range(HANG * 10):
                a = d.ask_json({'command': 'status'}, ends=('eof', 'reset'))
                if 'error' not in a:
                    break
                time.sleep(0.1)
            assert 'devices' in a, a
        finally:
            for s in waiters:
                s.close()


# Run as uid/gid 65534 (setpriv): one request per argv[2:], each answer's JSON
# (or {"refused": ...} when the connection ended without one) on a line; with
# "hold N" as argv[2], holds N "wait" connections and prints how many got an
# answer (a refusal) instead of being held.
UNPRIV = r'''
import json, socket, sys
path = sys.argv[1]
def ask(line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(%d)
    s.connect(path)
    s.sendall(line.encode() + b'\n')
    data = b''
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            data += b
    except ConnectionResetError:
        pass
    s.close()
    return data
if sys.argv[2] == 'hold':
    held, refused = [], 0
    for _ in range(int(sys.argv[3])):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # a held one costs this wait; a loaded machine may take a while to refuse
        s.settimeout(4)
        s.connect(path)
        try:
            s.sendall(b'{"command":"wait","device":"dimm:nosuch"}\n')
            if s.recv(200):
                refused += 1
        # refused with the request unread, or closed before it was sent
        except (ConnectionResetError, BrokenPipeError):
            refused += 1
        except socket.timeout:
            held.append(s)
    print(json.dumps({'held': len(held), 'refused': refused}), flush=True)
    sys.stdin.readline()
    sys.exit(0)
for line in sys.argv[2:]:
    data = ask(line)
    try:
        print(json.dumps(json.loads(data)), flush=True)
    except ValueError:
        print(json.dumps({'refused': data.decode(errors='replace')}), flush=True)
''' % HANG

NOBODY = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups']


def case_unprivileged():
    """The read-only view (docs/daemon.md, "Control socket"): a peer that is
    not root reads the model and changes nothing."""
    if not shutil.which('setpriv'):
        raise AssertionError('setpriv (util-linux) missing')
    with running(Daemon('numa2-two-dimms')) as d:
        os.chmod(d.tmp, 0o755)   # mkdtemp's 0700 would stop nobody before the socket
        assert os.stat(d.sock).st_mode & 0o777 == 0o666, oct(os.stat(d.sock).st_mode)
        r = subprocess.run(NOBODY + [sys.executable, '-c', UNPRIV, d.sock,
                                     '{"command":"status"}', '{"command":"list"}',
                                     '{"command":"drain","device":"dimm:slot0"}',
                                     '{"command":"undrain","device":"dimm:slot0"}'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=HANG)
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 4, (r.stdout, r.stderr)
        st, ls, dr, ud = [json.loads(l) for l in r.stdout.splitlines()]
        assert 'devices' in st and 'blocks' in ls, (st, ls)
        for a in (dr, ud):
            assert a == {'error': 'permission denied: only root may drain or undrain'}, a
        log = d.wait_log('uid 65534: undrain refused: only root may change state')
        assert 'uid 65534: drain refused' in log, log
        # memplugctl status as nobody: the same view through the CLI
        r = subprocess.run(NOBODY + [MEMPLUGCTL, 'status', '-J', '--socket', d.sock],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=HANG)
        assert r.returncode == 0 and r.stdout.startswith('{'), (r.returncode, r.stdout, r.stderr)
        assert 'devices' in json.loads(r.stdout), r.stdout
        # 6 held "wait" connections from nobody: 4 held, 2 refused; root still served
        p = subprocess.Popen(NOBODY + [sys.executable, '-c', UNPRIV, d.sock, 'hold', '6'],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            got = p.stdout.readline()
            got = json.loads(got) if got.startswith('{') else got
            assert got == {'held': 4, 'refused': 2}, got
            d.wait_log('control: 4 unprivileged clients already: refused pid %d uid 65534' % p.pid)
            assert 'devices' in d.ask_json({'command': 'status'})
        finally:
            p.stdin.close()
            p.wait(HANG)


if __name__ == '__main__':
    cases.run(globals(), 'the control socket checks its peers (SO_PEERCRED)')
