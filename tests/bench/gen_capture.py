#!/usr/bin/python3
"""Writes a large synthetic capture for `make bench`: many keep-alive HTTP connections and
MongoDB connections interleaved, with realistic sizes (requests of a few hundred bytes,
responses of 0.5-6 KB cut into 1448-byte segments, OP_MSG finds and inserts with BSON
bodies and replies of 1-20 documents), ACKs included, on Ethernet/IPv4, nanosecond pcap.

Usage: gen_capture.py OUT.pcap [--packets N] [--seed S]
Prints what it wrote (packets, transactions) so the bench can check tierprobe's counts.
"""
import argparse
import random
import struct
import sys

import bson  # Debian's python3-bson (pymongo)

MSS = 1448
ETH = bytes.fromhex("020000000001" "020000000002" "0800")


class Conn:
    def __init__(self, cip, cport, sip, sport):
        self.cip, self.cport, self.sip, self.sport = cip, cport, sip, sport
        self.cseq = random.getrandbits(32)
        self.sseq = random.getrandbits(32)


def ip4(a):
    return bytes(int(x) for x in a.split("."))


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        # nanosecond pcap, Ethernet
        self.f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        self.packets = 0
        self.t = 1764108000 * 10**9  # 2025-11-25T22:00:00Z

    def tick(self, ns):
        self.t += ns

    def seg(self, c, to_server, flags, payload=b""):
        if to_server:
            src, dst, sp, dp, seq, ack = c.cip, c.sip, c.cport, c.sport, c.cseq, c.sseq
            c.cseq = (c.cseq + len(payload)) & 0xFFFFFFFF
        else:
            src, dst, sp, dp, seq, ack = c.sip, c.cip, c.sport, c.cport, c.sseq, c.cseq
            c.sseq = (c.sseq + len(payload)) & 0xFFFFFFFF
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0)
        iplen = 20 + len(tcp) + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, iplen, 0, 0x4000, 64, 6, 0, src, dst)
        frame = ETH + ip + tcp + payload
        sec, ns = divmod(self.t, 10**9)
        self.f.write(struct.pack("<IIII", sec, ns, len(frame), len(frame)))
        self.f.write(frame)
        self.packets += 1

    def send(self, c, to_server, data):
        for i in range(0, len(data), MSS):
            self.seg(c, to_server, 0x18, data[i:i + MSS])
            self.tick(random.randint(2000, 20000))
        self.seg(c, not to_server, 0x10)  # the peer's ACK

    def handshake(self, c):
        self.seg(c, True, 0x02)
        c.cseq = (c.cseq + 1) & 0xFFFFFFFF
        self.seg(c, False, 0x12)
        c.sseq = (c.sseq + 1) & 0xFFFFFFFF
        self.seg(c, True, 0x10)

    def close(self):
        self.f.close()


ROUTES = ["/user", "/user/login", "/profile", "/status/mongo", "/item/%d", "/static/app.js"]


def http_exchange(w, c, n):
    route = random.choice(ROUTES)
    if "%d" in route:
        route = route % random.randint(1, 99999)
    method = "POST" if route in ("/user", "/user/login", "/profile") else "GET"
    body = b""
    if method == "POST":
        body = b'{"name":"user%d","password":"%s"}' % (n, b"x" * random.randint(8, 40))
    req = ("%s %s HTTP/1.1\r\nHost: app.example\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (method, route, len(body))).encode() + body
    w.send(c, True, req)
    w.tick(random.randint(200000, 3000000))
    rbody = b"x" * random.randint(500, 6000)
    status = 500 if random.random() < 0.01 else 200
    resp = ("HTTP/1.1 %d OK\r\nServer: gunicorn\r\nDate: Tue, 25 Nov 2025 22:00:00 GMT\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (status, len(rbody))).encode() + rbody
    w.send(c, False, resp)


def op_msg(rid, rto, doc):
    body = struct.pack("<I", 0) + b"\x00" + bson.BSON.encode(doc)
    return struct.pack("<iiii", 16 + len(body), rid, rto, 2013) + body


def mongo_exchange(w, c, n):
    rid = n & 0x7FFFFFFF
    if random.random() < 0.7:
        req = op_msg(rid, 0, {"find": "users", "filter": {"email": "u%d@example.com" % n, "age": {"$gt": 20}},
                              "limit": 20, "$db": "app"})
        docs = [{"_id": i, "email": "u%d@example.com" % i, "name": "User %d" % i, "bio": "b" * 120}
                for i in range(random.randint(1, 20))]
        reply = op_msg(rid + 1, rid, {"cursor": {"firstBatch": docs, "id": 0, "ns": "app.users"}, "ok": 1.0})
    else:
        req = op_msg(rid, 0, {"insert": "events", "documents": [{"user": n, "kind": "login", "at": n}],
                              "ordered": True, "$db": "app"})
        reply = op_msg(rid + 1, rid, {"n": 1, "ok": 1.0})
    w.send(c, True, req)
    w.tick(random.randint(50000, 800000))
    w.send(c, False, reply)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    w = Writer(a.out)
    https = [Conn(ip4("10.1.%d.%d" % (i // 250, i % 250 + 1)), 40000 + i, ip4("10.0.0.1"), 8000) for i in range(400)]
    mongos = [Conn(ip4("10.0.0.1"), 50000 + i, ip4("10.0.0.2"), 27017) for i in range(64)]
    for c in https + mongos:
        w.handshake(c)
    nh = nm = 0
    while w.packets < a.packets:
        if random.random() < 0.55:
            http_exchange(w, random.choice(https), nh)
            nh += 1
        else:
            mongo_exchange(w, random.choice(mongos), nm)
            nm += 1
        w.tick(random.randint(1000, 50000))
    w.close()
    print("packets %d http %d mongo %d" % (w.packets, nh, nm))


if __name__ == "__main__":
    sys.exit(main())
