"""ask(): one request on memplugd's control socket and its JSON answer (the
socket speaks one JSON object per line and closes after the answer).  For
the fixture tests and the benches that run memplugd on a generated root."""
import json
import socket


def ask(sock, req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock)
        s.sendall((json.dumps(req) + '\n').encode())
        data = b''
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    return json.loads(data)
