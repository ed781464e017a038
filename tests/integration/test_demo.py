#!/usr/bin/python3
"""Integration test of `make demo` (issue 6), shortened: one concurrency level, a short load.

For each staged bottleneck the demo must print, and write to summary.json, the verdict that
names it: db-slow -> database, cpu-heavy -> web-cpu, few-workers -> web-workers. Runs
scripts/demo.sh exactly as `make demo` does (gunicorn stack, the project's MongoDB test
server or a real mongod), in its own process group; whatever happens, the group is stopped
and the test checks that nothing is left listening on the demo's ports.

Run with Debian's python (/usr/bin/python3), as root (live capture). TIERPROBE_BIN names
the binary (scripts/run-integration.sh sets it). DEMO_TEST_LEVEL / DEMO_TEST_DURATION
override the level (default 5 clients) and the seconds of load (default 8).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from support import free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("TIERPROBE_BIN", os.path.join(ROOT, "build", "tierprobe"))
LEVEL = int(os.environ.get("DEMO_TEST_LEVEL", "5"))
DURATION = int(os.environ.get("DEMO_TEST_DURATION", "8"))
RUN_TIMEOUT = 60 + 3 * DURATION  # one scenario: servers up, warm-up, one level, teardown




def listening(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_group(pgid, timeout=20):
    """SIGTERM the demo's process group (demo.sh's trap stops the stack, MongoDB and
    tierprobe), wait, then SIGKILL whatever is left."""
    if not group_alive(pgid):
        return
    os.killpg(pgid, signal.SIGTERM)
    end = time.monotonic() + timeout
    while time.monotonic() < end and group_alive(pgid):
        time.sleep(0.2)
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)


class DemoVerdicts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("the demo needs root (live capture)")
        if not os.access(BIN, os.X_OK):
            raise AssertionError("no tierprobe binary at %s" % BIN)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tierprobe-test-demo.")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_demo(self, scenario):
        http_port, mongo_port = free_port(), free_port()
        while mongo_port == http_port:
            mongo_port = free_port()
        out = os.path.join(self.tmp, "out")
        env = dict(os.environ, DEMO_STACK="gunicorn", DEMO_SCENARIO=scenario, DEMO_LEVELS=str(LEVEL),
                   DEMO_DURATION=str(DURATION), DEMO_WARMUP="2", DEMO_OUT=out,
                   DEMO_HTTP_PORT=str(http_port), DEMO_MONGO_PORT=str(mongo_port))
        log = open(os.path.join(self.tmp, "demo.log"), "w+")
        self.addCleanup(log.close)
        p = subprocess.Popen([os.path.join(ROOT, "scripts", "demo.sh"), BIN], cwd=ROOT, env=env,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = p.wait(RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            stop_group(p.pid)
            if p.poll() is None:
                p.kill()
                p.wait(10)
        log.seek(0)
        text = log.read()
        self.assertIsNotNone(rc, "demo.sh (%s) did not finish within %d s:\n%s" % (scenario, RUN_TIMEOUT, text))
        self.assertEqual(rc, 0, "demo.sh (%s) failed:\n%s" % (scenario, text))
        # it always stops what it started
        for port, what in ((http_port, "the web stack"), (mongo_port, "MongoDB")):
            self.assertFalse(listening(port), "%s still listens on %d after the demo" % (what, port))
        self.assertNotIn("skipped", text.split("\n== web")[0], text)
        return out, text

    def check(self, scenario, expected):
        out, text = self.run_demo(scenario)
        d = os.path.join(out, "gunicorn-%s-c%d" % (scenario, LEVEL))
        for f in ("http.csv", "mongo.csv", "samples.csv", "serverstatus.csv", "summary.txt", "summary.json",
                  "load.json"):
            self.assertTrue(os.path.isfile(os.path.join(d, f)), "%s missing in %s" % (f, d))
        with open(os.path.join(d, "load.json")) as f:
            load = json.load(f)
        self.assertGreater(load["flows"], 0, text)
        self.assertEqual(load["errors"], 0, "flows failed: %s\n%s" % (load["error_kinds"], text))
        with open(os.path.join(d, "summary.json")) as f:
            summary = json.load(f)
        v = summary["verdict"]
        self.assertEqual(v["primary"], expected,
                         "%s: verdict %s, expected %s; evidence:\n  %s\n%s" %
                         (scenario, v["primary"], expected, "\n  ".join(v.get("evidence", [])), text))
        self.assertTrue(v.get("evidence"), "a verdict without evidence")
        # what the demo printed is what tierprobe decided
        self.assertRegex(text, r"verdict: %s \(confidence" % re.escape(expected))
        self.assertRegex(text, r"%d clients: %d flows in " % (LEVEL, load["flows"]))
        self.assertRegex(text, r"(?m)^\s+%d\s+%d\s+\S+\s+\S+\s+%s$" % (LEVEL, load["flows"], re.escape(expected)))
        return v

    def test_db_slow_is_database(self):
        v = self.check("db-slow", "database")
        self.assertTrue(any("of HTTP request time" in e for e in v["evidence"]))

    def test_cpu_heavy_is_web_cpu(self):
        self.check("cpu-heavy", "web-cpu")

    def test_few_workers_is_web_workers(self):
        v = self.check("few-workers", "web-workers")
        self.assertTrue(any("worker count" in e for e in v["evidence"]), v["evidence"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
