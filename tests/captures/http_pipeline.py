#!/usr/bin/python3
"""Raw-socket HTTP/1.1 pipelining client for tests/captures/make_captures.sh.

No mainstream client pipelines any more (curl removed pipelining in 7.65), so this writes
all the requests in ONE sendall() - they leave in one TCP segment - and then reads the
responses, which the server sends back in order. The last request says Connection: close,
so the responses end at EOF.

Usage: http_pipeline.py HOST PORT
"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
hosthdr = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
body = b'{"name":"pipelined"}'
reqs = [
    b"GET /items/1 HTTP/1.1\r\nHost: %s\r\nUser-Agent: pipeline.py\r\n\r\n" % hosthdr.encode(),
    b"GET /stream HTTP/1.1\r\nHost: %s\r\nUser-Agent: pipeline.py\r\n\r\n" % hosthdr.encode(),
    b"POST /items HTTP/1.1\r\nHost: %s\r\nUser-Agent: pipeline.py\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (hosthdr.encode(), len(body), body),
    b"GET /missing HTTP/1.1\r\nHost: %s\r\nUser-Agent: pipeline.py\r\nConnection: close\r\n\r\n"
    % hosthdr.encode(),
]
s = socket.create_connection((host, port), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"".join(reqs))
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
n = data.count(b"HTTP/1.1 ")
if n != len(reqs):
    sys.exit("pipeline: %d responses to %d requests" % (n, len(reqs)))
print("pipeline: %d requests in one write, %d responses" % (len(reqs), n))
