#!/usr/bin/python3
"""Tiny HTTP/1.1 keep-alive server for tests/captures/make_captures.sh (stdlib http.server).

Routes: GET /items/<n> -> 200 JSON with Content-Length; GET /stream -> 200 chunked (3 chunks);
POST /items -> 201 (reads the Content-Length body); anything else -> 404 (Content-Length).
http.server with protocol_version HTTP/1.1 reads requests one by one from a buffered stream,
so pipelined requests (several in one TCP segment) are answered in order.

Usage: http_app.py --bind ADDR --port P
"""
import argparse
import http.server
import json
import socket


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/items/") and path[7:].isdigit():
            self._send(200, json.dumps({"id": int(path[7:]), "name": "item"}))
        elif path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first chunk\n", b"second chunk\n", b"third\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, json.dumps({"error": "not found"}))

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        if self.path.split("?", 1)[0] == "/items":
            self._send(201, json.dumps({"created": True}))
        else:
            self._send(404, json.dumps({"error": "not found"}))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    a = ap.parse_args()
    if ":" in a.bind:
        Server.address_family = socket.AF_INET6
    Server((a.bind, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
