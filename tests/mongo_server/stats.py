"""Live counters behind serverStatus.

Everything here is counted by the server loop as it really happens (bytes on the
wire, waits for a ticket, time spent executing) so tierprobe can be checked against
numbers that mean what a real mongod's mean.  One lock guards all of it; updates
are a few integer adds, so contention is negligible next to BSON work.
"""
import datetime
import os
import socket
import threading
import time

VERSION = "6.0.0-tierprobe-test"
MAX_CONNS = 838860  # what a default mongod reports as current + available


def _proc_status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _major_faults():
    try:
        with open("/proc/self/stat") as f:
            data = f.read()
        # Fields after the ")" of comm; majflt is field 12 overall (index 9 after state).
        return int(data.rsplit(")", 1)[1].split()[9])
    except (OSError, IndexError, ValueError):
        return 0


class Stats:
    def __init__(self, workers, cache_max_bytes):
        self.lock = threading.Lock()
        self.start = time.time()
        self.start_mono = time.monotonic()
        self.workers = workers
        self.cache_max = cache_max_bytes
        self.op = dict(insert=0, query=0, update=0, delete=0, getmore=0, command=0)
        self.conn_current = 0
        self.conn_total = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.requests = 0
        # opLatencies: [cumulative µs, ops]
        self.lat = {"reads": [0, 0], "writes": [0, 0], "commands": [0, 0]}
        # Concurrency, by kind "r"/"w": executing (holding a ticket) and waiting for one.
        self.active = {"r": 0, "w": 0}
        self.queued = {"r": 0, "w": 0}
        self.asserts = dict(regular=0, warning=0, msg=0, user=0, rollovers=0)
        self.dirty_bytes = 0       # bytes written since the last pseudo-checkpoint
        self.last_checkpoint = time.monotonic()
        # Not in a real mongod: lets tests see how drivers talked to us.
        self.test = dict(docSequences=0, compressedRequests=0, moreToComeRequests=0)

    # --- updates from the server loop -------------------------------------------------
    def add(self, field, n=1):
        with self.lock:
            self.op[field] += n

    def connection(self, delta):
        with self.lock:
            self.conn_current += delta
            if delta > 0:
                self.conn_total += delta

    def traffic(self, bytes_in=0, bytes_out=0, requests=0):
        with self.lock:
            self.bytes_in += bytes_in
            self.bytes_out += bytes_out
            self.requests += requests

    def test_count(self, field, n=1):
        with self.lock:
            self.test[field] += n

    def latency(self, group, micros):
        with self.lock:
            entry = self.lat[group]
            entry[0] += int(micros)
            entry[1] += 1

    def assert_user(self):
        with self.lock:
            self.asserts["user"] += 1

    def assert_regular(self):
        with self.lock:
            self.asserts["regular"] += 1

    def wrote(self, nbytes):
        with self.lock:
            self.dirty_bytes += nbytes

    # --- the document ----------------------------------------------------------------
    def server_status(self, data_bytes, connection_count_self=True):
        now = time.time()
        with self.lock:
            # WiredTiger checkpoints every 60 s; dirty bytes drain then.
            if time.monotonic() - self.last_checkpoint >= 60:
                self.dirty_bytes = 0
                self.last_checkpoint = time.monotonic()
            op = dict(self.op)
            lat = {k: {"latency": v[0], "ops": v[1]} for k, v in self.lat.items()}
            active = dict(self.active)
            queued = dict(self.queued)
            conn = (self.conn_current, self.conn_total)
            net = (self.bytes_in, self.bytes_out, self.requests)
            asserts = dict(self.asserts)
            dirty = self.dirty_bytes
            test = dict(self.test)
        out_total = active["r"] + active["w"]
        tickets_free = max(0, self.workers - out_total)
        # Cache: the data plus ~10% for _id indexes and page overhead.  When it would
        # exceed the configured size, the excess counts as pages evicted by the
        # application threads (what WiredTiger does when eviction falls behind).
        in_cache = int(data_bytes * 1.1) + 64 * 1024
        evicted = 0
        if in_cache > self.cache_max:
            evicted = (in_cache - self.cache_max) // 4096
            in_cache = self.cache_max
        dirty = min(dirty, in_cache)
        uptime = now - self.start
        return {
            "host": socket.gethostname(),
            "version": VERSION,
            "process": "mongod",
            "pid": os.getpid(),
            "uptime": float(int(uptime)),
            "uptimeMillis": int(uptime * 1000),
            "uptimeEstimate": int(uptime),
            "localTime": datetime.datetime.utcnow(),
            "asserts": asserts,
            "connections": {
                "current": conn[0],
                "available": MAX_CONNS - conn[0],
                "totalCreated": conn[1],
                "active": out_total + (1 if connection_count_self else 0),
            },
            "extra_info": {
                "note": "fields vary by platform",
                "page_faults": _major_faults(),
            },
            "globalLock": {
                "totalTime": int(uptime * 1e6),
                "currentQueue": {"total": queued["r"] + queued["w"],
                                 "readers": queued["r"], "writers": queued["w"]},
                "activeClients": {"total": out_total, "readers": active["r"],
                                  "writers": active["w"]},
            },
            "mem": {
                "bits": 64,
                "resident": _proc_status_kib("VmRSS") // 1024,
                "virtual": _proc_status_kib("VmSize") // 1024,
                "supported": True,
            },
            "network": {"bytesIn": net[0], "bytesOut": net[1], "numRequests": net[2]},
            "opLatencies": lat,
            "opcounters": op,
            "storageEngine": {"name": "wiredTiger", "supportsCommittedReads": True,
                              "persistent": False},
            "wiredTiger": {
                "cache": {
                    "bytes currently in the cache": in_cache,
                    "tracked dirty bytes in the cache": dirty,
                    "maximum bytes configured": self.cache_max,
                    "pages evicted by application threads": evicted,
                    "bytes read into cache": 0,
                    "bytes written from cache": 0,
                },
                # One pool serves reads and writes: both report the same total and free
                # tickets; "out" is split by what the holders are doing.
                "concurrentTransactions": {
                    "read": {"out": active["r"], "available": tickets_free,
                             "totalTickets": self.workers},
                    "write": {"out": active["w"], "available": tickets_free,
                              "totalTickets": self.workers},
                },
            },
            "tierprobeTest": test,
            "ok": 1.0,
        }
