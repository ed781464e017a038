#!/usr/bin/python3
"""tierprobe's MongoDB-wire-compatible test server (MongoDB is not installable here).

Threaded: one thread per connection reads and decodes frames; executing a command
needs a ticket from a bounded pool (--workers), like WiredTiger's concurrent
transaction tickets, so a staged slow database produces a real queue that
serverStatus reports.  The connection thread runs the command itself once it holds
a ticket (no hand-off to another thread: that would only add latency), so
"workers" = tickets = maximum concurrent executions.  Monitoring commands
(serverStatus, hello, ping...) bypass the pool so they always answer.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bson  # noqa: E402
import mongomock  # noqa: E402

import commands  # noqa: E402
import wire  # noqa: E402
from stats import Stats  # noqa: E402


def parse_staging(items, flag):
    out = {}
    for item in items or []:
        try:
            name, ms = item.split("=", 1)
            out[name] = float(ms) / 1000.0
        except ValueError:
            sys.exit("mongo_server: %s wants CMD=MS, got %r" % (flag, item))
    return out


def burn_cpu(seconds):
    """Busy-loop for `seconds` of this thread's CPU time (staging a CPU-bound server)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class ConnCtx:
    __slots__ = ("server", "stats", "conn_id", "peer", "compressors")

    def __init__(self, server, conn_id, peer):
        self.server, self.stats, self.conn_id, self.peer = server, server.stats, conn_id, peer
        self.compressors = None


class Server:
    def __init__(self, args):
        self.args = args
        self.stats = Stats(args.workers, args.cache_mb * 1024 * 1024)
        self.tickets = threading.BoundedSemaphore(args.workers)
        self.delay = parse_staging(args.delay, "--delay")
        self.cpu = parse_staging(args.cpu, "--cpu")
        for name in list(self.delay) + list(self.cpu):
            if name not in commands.HANDLERS:
                sys.stderr.write("mongo_server: warning: staging for unknown command %r\n" % name)
            elif name in commands.BYPASS:
                sys.stderr.write("mongo_server: warning: %r bypasses the worker pool; staging "
                                 "it delays monitoring\n" % name)
        self.compressors = [c for c in (args.compressors or "").split(",")
                            if c in wire.COMPRESSOR_IDS]
        self.conn_ids = iter(range(1, 1 << 62))
        family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET  # --bind ::1 works too
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((args.bind, args.port))
        self.sock.listen(128)

    def serve_forever(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ctx = ConnCtx(self, next(self.conn_ids), "%s:%d" % peer[:2])
            threading.Thread(target=self.handle, args=(conn, ctx), daemon=True).start()

    # ------------------------------------------------------------------ per connection
    def handle(self, conn, ctx):
        stats = self.stats
        stats.connection(+1)
        rfile = conn.makefile("rb", buffering=256 * 1024)
        try:
            while True:
                msg = wire.read_message(rfile)
                if msg is None:
                    return
                header, body = msg
                stats.traffic(bytes_in=header[0], requests=1)
                req = wire.decode(header, body)
                if req.doc_sequences:
                    stats.test_count("docSequences", req.doc_sequences)
                if req.compressor is not None:
                    stats.test_count("compressedRequests")
                if req.more_to_come:
                    stats.test_count("moreToComeRequests")
                if req.legacy is not None or req.opcode == wire.OP_GET_MORE:
                    self.legacy_read(req, ctx, conn)
                    continue
                if self.awaitable_hello(req):
                    self.stream_hello(req, ctx, conn)
                    return
                reply = self.execute(req, ctx)
                if req.more_to_come:
                    continue  # unacknowledged write: the client expects nothing back
                comp = req.compressor or None  # replied compressed the same way (noop: plain)
                frame = wire.encode_reply(req, reply, comp)
                conn.sendall(frame)
                stats.traffic(bytes_out=len(frame))
        except (wire.ProtocolError, ValueError, IndexError, struct.error,
                bson.errors.BSONError) as exc:
            stats.assert_regular()
            sys.stderr.write("mongo_server: conn %d: protocol error: %s\n" % (ctx.conn_id, exc))
        except (ConnectionError, OSError):
            pass
        finally:
            stats.connection(-1)
            try:
                rfile.close()
                conn.close()
            except OSError:
                pass

    @staticmethod
    def awaitable_hello(req):
        """An OP_MSG hello that asks to be streamed: exhaustAllowed, topologyVersion and
        maxAwaitTimeMS (the driver's server monitor, streaming protocol)."""
        doc = req.doc or {}
        name = next(iter(doc), None)
        return (req.opcode == wire.OP_MSG and req.exhaust_allowed and
                name in ("hello", "ismaster", "isMaster") and
                "topologyVersion" in doc and "maxAwaitTimeMS" in doc)

    def stream_hello(self, req, ctx, conn):
        """The streaming protocol as mongod runs it: the topology never changes here, so every
        maxAwaitTimeMS a hello reply flagged moreToCome, each answering the previous reply,
        until the client closes the connection (an OP_MSG exhaust stream)."""
        wait = min(max(int(req.doc["maxAwaitTimeMS"]), 10), 10000) / 1000.0
        reply_to = req.request_id
        while True:
            time.sleep(wait)
            reply = self.execute(req, ctx)
            frame = wire.encode_reply(req, reply, req.compressor or None, more_to_come=True,
                                      response_to=reply_to)
            conn.sendall(frame)  # raises once the client is gone: the stream ends
            self.stats.traffic(bytes_out=len(frame))
            reply_to = wire.HEADER.unpack_from(frame)[1]

    def legacy_read(self, req, ctx, conn):
        """Legacy OP_QUERY find / OP_GET_MORE, answered with OP_REPLY batches.

        Run as the equivalent find/getMore command so counters, tickets and staging
        apply unchanged.  With the exhaust flag every remaining batch is streamed
        without further requests (pymongo 3.x exhaust cursors work this way).
        """
        comp = req.compressor or None  # replied compressed the same way (noop: plain)
        exhaust = False
        start = 0
        reply_to = req.request_id
        if req.opcode == wire.OP_GET_MORE:
            cmd = req.doc
            batch = cmd["batchSize"]
            start = commands.CURSORS.position(cmd["getMore"])  # OP_REPLY.startingFrom
        else:
            flags, skip, nret, fields = req.legacy
            db, coll = req.legacy_ns.split(".", 1)
            q = req.doc
            filt = q.get("$query", {}) if "$query" in q else q
            cmd = {"find": coll, "filter": filt, "skip": skip, "$db": db}
            if "$query" in q and q.get("$orderby"):
                cmd["sort"] = q["$orderby"]
            if fields:
                cmd["projection"] = fields
            batch = abs(nret)
            if batch:
                cmd["batchSize"] = batch
            if nret < 0 or nret == 1:  # a single batch, then close (mongod treats 1 as -1)
                cmd["singleBatch"] = True
                cmd["limit"] = batch
            exhaust = bool(flags & wire.QUERY_EXHAUST)
        while True:
            req.doc = cmd
            reply = self.execute(req, ctx)
            if reply.get("ok"):
                cur = reply["cursor"]
                docs = cur.get("firstBatch", cur.get("nextBatch"))
                cid, rflags = int(cur["id"]), wire.REPLY_AWAIT_CAPABLE
            else:
                cid, docs = 0, []
                rflags = wire.REPLY_CURSOR_NOT_FOUND if reply.get("code") == 43 else \
                    wire.REPLY_QUERY_FAILURE
                if rflags == wire.REPLY_QUERY_FAILURE:
                    docs = [{"$err": reply.get("errmsg"), "code": reply.get("code")}]
            frame = wire.encode_legacy_reply(reply_to, rflags, cid, start, docs, comp)
            conn.sendall(frame)
            # Like mongod, each further exhaust reply answers the previous reply.
            reply_to = wire.HEADER.unpack_from(frame)[1]
            self.stats.traffic(bytes_out=len(frame))
            start += len(docs)
            if not (exhaust and cid):
                return
            cmd = {"getMore": cid, "collection": cmd.get("collection", cmd.get("find")),
                   "batchSize": batch, "$db": cmd["$db"]}

    def execute(self, req, ctx):
        cmd = req.doc
        if not cmd:
            return commands.error_doc("empty command", 9, "FailedToParse")
        name = next(iter(cmd))
        if req.opcode == wire.OP_QUERY:
            db = req.legacy_ns.split(".", 1)[0]
        else:
            db = cmd.get("$db", "test")
        handler = commands.HANDLERS.get(name)
        stats = self.stats
        if handler is None:
            stats.add("command")
            stats.assert_user()
            return commands.error_doc("no such command: '%s'" % name, 59, "CommandNotFound")
        counter, group, kind = commands.classify(name, cmd)
        if counter:
            stats.add(counter)
        bypass = name in commands.BYPASS
        t0 = time.perf_counter()
        if not bypass:
            with stats.lock:
                stats.queued[kind] += 1
            self.tickets.acquire()
            with stats.lock:
                stats.queued[kind] -= 1
                stats.active[kind] += 1
        try:
            delay = self.delay.get(name)
            if delay:
                time.sleep(delay)
            cpu = self.cpu.get(name)
            if cpu:
                burn_cpu(cpu)
            reply = handler(db, cmd, ctx)
        except commands.CommandError as exc:
            stats.assert_user()
            reply = commands.error_doc(exc.errmsg, exc.code, exc.code_name)
        except (mongomock.OperationFailure, mongomock.WriteError) as exc:
            stats.assert_user()
            reply = commands.error_doc(str(exc), getattr(exc, "code", None) or 2)
        except NotImplementedError as exc:
            stats.assert_user()
            reply = commands.error_doc("not supported by the tierprobe test server: %s" % exc,
                                       115, "CommandNotSupported")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            stats.assert_user()
            reply = commands.error_doc("bad %s command: %s: %s" % (name, type(exc).__name__, exc),
                                       9, "FailedToParse")
        except Exception as exc:  # noqa: BLE001 - an internal bug must not kill the connection
            stats.assert_regular()
            reply = commands.error_doc("internal error in %s: %r" % (name, exc), 1,
                                       "InternalError")
        finally:
            if not bypass:
                with stats.lock:
                    stats.active[kind] -= 1
                self.tickets.release()
            # Like mongod, latency covers the whole operation including the ticket wait.
            stats.latency(group, (time.perf_counter() - t0) * 1e6)
        if reply.get("writeErrors"):
            stats.assert_user()
        return reply


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("MONGO_SERVER_PORT", 27017)))
    ap.add_argument("--bind", default=os.environ.get("MONGO_SERVER_BIND", "127.0.0.1"))
    ap.add_argument("--workers", type=int, default=int(os.environ.get("MONGO_SERVER_WORKERS", 8)),
                    help="ticket pool: concurrent executions (default 8)")
    ap.add_argument("--delay", action="append", metavar="CMD=MS",
                    help="sleep MS inside the worker for command CMD (repeatable)")
    ap.add_argument("--cpu", action="append", metavar="CMD=MS",
                    help="burn MS of CPU inside the worker for command CMD (repeatable)")
    ap.add_argument("--compressors", default=os.environ.get("MONGO_SERVER_COMPRESSORS", "zlib"),
                    help="comma list offered to clients: zlib, zstd, snappy (the last two when "
                         "python3-zstandard / python3-snappy are installed), or 'none' (default zlib)")
    ap.add_argument("--cache-mb", type=int, default=256,
                    help="wiredTiger.cache 'maximum bytes configured' in MiB (default 256)")
    ap.add_argument("--no-fast-path", action="store_true",
                    help="run finds by _id through mongomock too (for measurements)")
    ap.add_argument("--pidfile", help="write our pid here")
    args = ap.parse_args(argv)
    if args.workers < 1:
        ap.error("--workers must be >= 1")
    # Env equivalents of the repeatable flags: "find=20,insert=5".
    for flag, env in (("delay", "MONGO_SERVER_DELAY"), ("cpu", "MONGO_SERVER_CPU")):
        if os.environ.get(env) and not getattr(args, flag):
            setattr(args, flag, os.environ[env].split(","))
    commands.FAST_PATH = not args.no_fast_path
    server = Server(args)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sys.stderr.write("mongo_server: listening on %s:%d workers=%d delay=%s cpu=%s "
                     "compressors=%s\n" % (args.bind, args.port, args.workers, args.delay or [],
                                           args.cpu or [], server.compressors))
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
