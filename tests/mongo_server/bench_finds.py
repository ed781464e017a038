#!/usr/bin/python3
"""Finds per second against the test server: 4 pymongo clients, find by _id.

Clients are separate processes so the client side does not share the server's GIL
(or each other's): what is measured is the server.  Starts its own server on a free
port unless --port is given.  Prints "finds/s: X".
"""
import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(port, seconds, ndocs, start_evt, out_q):
    import pymongo
    c = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=5000)
    coll = c.bench.items
    coll.find_one({"_id": 0})  # connect before the clock starts
    start_evt.wait(10)
    n = bad = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        k = n % ndocs
        doc = coll.find_one({"_id": k})
        if doc is None or doc["v"] != k * 2:
            bad += 1
        n += 1
    out_q.put((n, bad))
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, help="use an already running server")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--server-args", default="", help="extra args for mongo_server.py")
    args = ap.parse_args()
    proc = None
    port = args.port
    if port is None:
        port = free_port()
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "mongo_server.py"),
                                 "--port", str(port)] + args.server_args.split(),
                                stderr=subprocess.DEVNULL)
    try:
        import pymongo
        c = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=10000)
        c.bench.items.drop()
        c.bench.items.insert_many([{"_id": i, "v": i * 2, "pad": "x" * 50}
                                   for i in range(args.docs)])
        ctx = multiprocessing.get_context("fork")
        start_evt, out_q = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=client, args=(port, args.seconds, args.docs, start_evt, out_q))
                 for _ in range(args.clients)]
        for p in procs:
            p.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        start_evt.set()
        results = [out_q.get(timeout=args.seconds + 30) for _ in procs]
        elapsed = time.monotonic() - t0
        for p in procs:
            p.join(10)
        total = sum(r[0] for r in results)
        bad = sum(r[1] for r in results)
        ss = c.admin.command("serverStatus")
        print("clients: %d  seconds: %.1f  finds: %d  wrong results: %d  server query counter: %d"
              % (args.clients, elapsed, total, bad, ss["opcounters"]["query"]))
        print("finds/s: %.0f" % (total / elapsed))
        return 1 if bad else 0
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
