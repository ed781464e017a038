#!/usr/bin/python3
"""serverStatus polling end to end: `tierprobe run --mongo-uri` against a MongoDB server.

Against the project's test server (always): counters move by exactly the operations the test
performed; a staged slow find shows in the server-side read latency; a staged queue (one
worker, slow finds, four clients) shows in globalLock.currentQueue; a server killed and
restarted mid-run leaves a gap, then resumed rows with no negative rate.

Against a real mongod (when MONGOD is set): the same counter and restart tests, and the slow
read staged with $where + sleep(); the queue cannot be staged on a real server from here
(tickets are not configurable per test), so that one is skipped with the reason.
"""
import csv
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import pymongo

from support import Cleanups, free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("TIERPROBE_BIN", os.path.join(ROOT, "build", "tierprobe"))
MONGO_SERVER = os.path.join(ROOT, "scripts", "mongo-server")




class Mongo:
    """A MongoDB server started by scripts/mongo-server (real mongod or the test server)."""

    def __init__(self, port, args=(), real=False):
        self.port, self.args, self.real = port, list(args), real
        self.dir = tempfile.mkdtemp(prefix="tp-ss-mongo-")
        self.start()

    def start(self):
        env = dict(os.environ)
        if not self.real:
            env.pop("MONGOD", None)
            env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":")
                                   if not os.path.exists(os.path.join(p, "mongod")))
        p = subprocess.run([MONGO_SERVER, "start", "--port", str(self.port), "--dir", self.dir] + self.args,
                           capture_output=True, text=True, timeout=60, env=env)
        if p.returncode != 0:
            raise RuntimeError("mongo-server failed: %s" % p.stderr)
        self.pidfile = os.path.join(self.dir, "mongo.pid")

    def stop(self):
        subprocess.run([MONGO_SERVER, "stop", self.pidfile], capture_output=True, timeout=30)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self):
        return pymongo.MongoClient("mongodb://127.0.0.1:%d/?directConnection=true" % self.port,
                                   serverSelectionTimeoutMS=5000)


class Probe:
    """tierprobe run with serverStatus polling; stopped with SIGTERM."""

    def __init__(self, mongo_port, interval=0.5, duration=30):
        self.dir = tempfile.mkdtemp(prefix="tp-ss-out-")
        self.log = open(os.path.join(self.dir, "probe.log"), "w")
        self.p = subprocess.Popen(
            [BIN, "run", "-q", "-i", "lo", "--interval", str(interval), "--duration", str(duration),
             "--http-ports", str(free_port()), "--mongo-ports", str(mongo_port),
             "--mongo-uri", "mongodb://127.0.0.1:%d/?directConnection=true" % mongo_port, "-o", self.dir],
            stdout=self.log, stderr=subprocess.STDOUT)

    def rows(self):
        path = os.path.join(self.dir, "serverstatus.csv")
        if not os.path.exists(path):
            return []
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    def wait_rows(self, n, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if len([r for r in self.rows() if r["insert_per_s"] != ""]) >= n:
                return
            time.sleep(0.1)
        raise AssertionError("fewer than %d serverstatus rows with rates after %d s" % (n, timeout))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.log.close()
        return rc

    def cleanup(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def total(rows, col):
    """The counter's total change: sum of rate x the interval each rate covers."""
    return sum(float(r[col]) * float(r["interval_s"]) for r in rows if r[col] != "" and r["interval_s"] != "")


class ServerStatusTests(Cleanups):
    real = False
    extra_args = ()

    def mongo(self, args=()):
        m = Mongo(free_port(), args, real=self.real)
        self.cleanups.append(m.cleanup)
        return m

    def probe(self, port, **kw):
        p = Probe(port, **kw)
        self.cleanups.append(p.cleanup)
        return p

    def test_counters_move_by_exactly_the_operations_performed(self):
        m = self.mongo()
        c = m.client()
        self.cleanups.append(c.close)
        c.test.items.insert_one({"warm": 1})     # connect before the probe's baseline
        p = self.probe(m.port)
        p.wait_rows(2)
        for i in range(7):
            c.test.items.insert_one({"i": i})
        for i in range(5):
            list(c.test.items.find({"i": i}))
        time.sleep(1.5)
        self.assertEqual(p.stop(), 0)
        rows = p.rows()
        self.assertAlmostEqual(total(rows, "insert_per_s"), 7, delta=0.05)
        self.assertAlmostEqual(total(rows, "query_per_s"), 5, delta=0.05)
        self.assertFalse(any(r[k].startswith("-") for r in rows for k in r if k.endswith("_per_s")))

    def stage_slow_find(self, c):
        if self.real:
            return list(c.test.items.find({"$where": "sleep(80) || true"}))
        return list(c.test.items.find({"i": 1}))

    def test_slow_command_shows_in_server_side_latency(self):
        m = self.mongo(() if self.real else ("--delay", "find=80"))
        c = m.client()
        self.cleanups.append(c.close)
        c.test.items.insert_one({"i": 1})
        p = self.probe(m.port)
        p.wait_rows(1)
        for _ in range(6):
            self.stage_slow_find(c)
        time.sleep(1.2)
        self.assertEqual(p.stop(), 0)
        lat = [float(r["reads_latency_ms"]) for r in p.rows() if r["reads_latency_ms"] != ""]
        self.assertTrue(lat, "no server-side read latency in serverstatus.csv")
        self.assertGreaterEqual(max(lat), 75.0, "staged 80 ms finds, got %s" % lat)

    def test_staged_queue_shows_in_current_queue(self):
        if self.real:
            self.skipTest("a queue cannot be staged on a real mongod from here (its ticket count "
                          "is not a per-test knob)")
        m = self.mongo(("--workers", "1", "--delay", "find=250"))
        c = m.client()
        self.cleanups.append(c.close)
        c.test.items.insert_one({"i": 1})
        p = self.probe(m.port, interval=0.25)
        p.wait_rows(1)
        stop = time.time() + 2.5

        def worker():
            cl = m.client()
            while time.time() < stop:
                list(cl.test.items.find({"i": 1}))
            cl.close()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        time.sleep(0.5)
        self.assertEqual(p.stop(), 0)
        queued = [int(r["queue_readers"] or 0) + int(r["queue_writers"] or 0) for r in p.rows()]
        self.assertGreaterEqual(max(queued), 1, "4 clients on 1 worker: currentQueue stayed 0: %s" % queued)

    def test_restart_leaves_a_gap_then_resumes_without_negative_rates(self):
        m = self.mongo()
        c = m.client()
        self.cleanups.append(c.close)
        for i in range(20):
            c.test.items.insert_one({"i": i})
        p = self.probe(m.port, interval=0.5)
        p.wait_rows(2)
        m.stop()
        time.sleep(2.0)
        m.start()
        time.sleep(0.3)
        c2 = m.client()
        self.cleanups.append(c2.close)
        c2.test.items.insert_one({"after": 1})
        deadline = time.time() + 10
        while time.time() < deadline:
            rows = p.rows()
            last_gap = max((i for i, r in enumerate(rows) if r["command_per_s"] == ""), default=-1)
            if last_gap >= 0 and any(r["command_per_s"] != "" for r in rows[last_gap + 1:]):
                break
            time.sleep(0.2)
        self.assertEqual(p.stop(), 0)
        rows = p.rows()
        gap = [i for i, r in enumerate(rows) if r["command_per_s"] == "" and i > 0]
        self.assertTrue(gap, "no empty row while the server was down")
        resumed = [r for r in rows[gap[-1] + 1:] if r["command_per_s"] != ""]
        self.assertTrue(resumed, "no rates after the restart")
        self.assertTrue(any("baseline" in r["note"] for r in rows[gap[0]:]), "a new baseline after restart")
        self.assertFalse(any(r[k].startswith("-") for r in rows for k in r if k.endswith("_per_s")),
                         "a negative rate")
        # resumed within two intervals of the server answering again
        t_gap_end = rows[gap[-1]]["time"]
        self.assertTrue(resumed[0]["time"] > t_gap_end)


class TestServerWithTestServer(ServerStatusTests, unittest.TestCase):
    real = False


@unittest.skipUnless(os.environ.get("MONGOD"), "MONGOD is not set: no real mongod to test against "
                     "(MongoDB is not in Debian; set MONGOD=/path/to/mongod to run these)")
class TestServerWithRealMongod(ServerStatusTests, unittest.TestCase):
    real = True


if __name__ == "__main__":
    unittest.main(verbosity=2)
