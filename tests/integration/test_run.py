#!/usr/bin/python3
"""Integration tests of `tierprobe run` (issue 4): a real gunicorn + Flask app talking to the
MongoDB server of the project's tests, all on loopback, captured live by tierprobe.

Run with Debian's python (/usr/bin/python3): flask, pymongo and gunicorn are Debian packages.
Needs root (live capture, --user, mount namespaces). TIERPROBE_BIN names the binary
(scripts/run-integration.sh sets it). Every process started here is stopped in a cleanup,
even when a test fails; every wait is bounded.
"""
import csv
import http.client
import io
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone

from support import free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("TIERPROBE_BIN", os.path.join(ROOT, "build", "tierprobe"))
PY = "/usr/bin/python3"




def wait_for(cond, timeout, what, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def stop_process(p, sig=signal.SIGTERM, timeout=15):
    """Stops a Popen (signal, bounded wait, then SIGKILL); returns its exit status."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
    return p.returncode


def read_table(path):
    """Reads a CSV written by tierprobe, failing on any partial line: the file must end with a
    newline and every row must have as many fields as the header. Returns (header, [dict])."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise AssertionError("%s is empty (not even a header)" % path)
    if not data.endswith(b"\n"):
        raise AssertionError("%s ends with a partial line: %r" % (path, data[-120:]))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    header = rows[0]
    for n, r in enumerate(rows[1:], 2):
        if len(r) != len(header):
            raise AssertionError("%s line %d has %d fields, the header %d: %r"
                                 % (path, n, len(r), len(header), r[:6]))
    return header, [dict(zip(header, r)) for r in rows[1:]]


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def parse_time(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class Request:
    """One HTTP request the test made, on its own connection, so its client port names it."""

    def __init__(self, port, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.connect()
        self.client = "127.0.0.1:%d" % c.sock.getsockname()[1]
        self.method, self.path = method, path
        self.t0 = time.time()
        c.request(method, path, body=body)
        r = c.getresponse()
        r.read()
        self.t1 = time.time()
        self.status = r.status
        self.pid = int(r.getheader("X-Pid"))
        self.db_ops = int(r.getheader("X-Db-Ops"))
        c.close()


class Stack:
    """The MongoDB test server and gunicorn (2 sync workers) running tests/integration/app.py."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.gunicorn = None
        self.mongo_pidfile = None
        self.mongo_port = free_port()
        self.http_port = free_port()

    def start(self):
        env = dict(os.environ, MONGO_SERVER_WAIT_S="20")
        p = subprocess.run([os.path.join(ROOT, "scripts", "mongo-server"), "start", "--port",
                            str(self.mongo_port), "--dir", os.path.join(self.tmp, "mongo")],
                           capture_output=True, text=True, timeout=40, env=env)
        if p.returncode != 0:
            raise RuntimeError("mongo-server start failed: " + p.stderr)
        self.mongo_pidfile = p.stdout.strip()
        env = dict(os.environ, IT_MONGO_PORT=str(self.mongo_port), PYTHONDONTWRITEBYTECODE="1")
        self.gunicorn_log = open(os.path.join(self.tmp, "gunicorn.log"), "w")
        self.gunicorn = subprocess.Popen(
            ["/usr/bin/gunicorn", "--workers", "2", "--bind", "127.0.0.1:%d" % self.http_port,
             "--chdir", HERE, "--graceful-timeout", "3", "app:app"],
            stdout=self.gunicorn_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

        def up():
            if self.gunicorn.poll() is not None:
                raise RuntimeError("gunicorn exited: see %s" % self.gunicorn_log.name)
            try:
                return Request(self.http_port, "GET", "/status").status == 200
            except OSError:
                return False
        wait_for(up, 30, "gunicorn to answer")
        # Both workers connect to MongoDB now, before any probe starts.
        for i in range(6):
            Request(self.http_port, "GET", "/items/%d" % (900000 + i))

    def worker_pids(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.gunicorn.pid)],
                             capture_output=True, text=True, timeout=10).stdout
        return {int(x) for x in out.split()}

    def stop(self):
        if self.gunicorn is not None:
            stop_process(self.gunicorn, timeout=15)
            self.gunicorn_log.close()
        if self.mongo_pidfile:
            subprocess.run([os.path.join(ROOT, "scripts", "mongo-server"), "stop", self.mongo_pidfile],
                           capture_output=True, timeout=40)


class Probe:
    """A `tierprobe run` process; its stderr goes to a file the test reads."""

    def __init__(self, out, stack=None, args=(), prefix=(), http_ports=None, mongo_ports=None):
        self.out = out
        self.err_path = out.rstrip("/") + ".stderr"
        cmd = [BIN, "run", "-i", "lo", "--interval", "1", "-o", out]
        if stack:
            cmd += ["--http-ports", str(stack.http_port), "--mongo-ports", str(stack.mongo_port),
                    "--mongo-uri", "mongodb://127.0.0.1:%d" % stack.mongo_port]
        if http_ports:
            cmd += ["--http-ports", http_ports]
        if mongo_ports:
            cmd += ["--mongo-ports", mongo_ports]
        self.errf = open(self.err_path, "w")
        self.p = subprocess.Popen(list(prefix) + cmd + list(args), stdout=subprocess.PIPE,
                                  stderr=self.errf, stdin=subprocess.DEVNULL)
        self.started = time.time()

    def log(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_capturing(self, timeout=20):
        def ready():
            if self.p.poll() is not None:
                raise AssertionError("tierprobe exited %d before capturing: %s" % (self.p.returncode, self.log()))
            return "run: capturing on" in self.log()
        wait_for(ready, timeout, "tierprobe to start capturing")
        time.sleep(0.3)  # the log line is printed just before the loop polls the capture

    def stop(self, sig=signal.SIGTERM, timeout=30):
        rc = stop_process(self.p, sig, timeout)
        if not self.p.stdout.closed:
            self.stdout = self.p.stdout.read().decode(errors="replace")
            self.p.stdout.close()
        self.errf.close()
        return rc


def match_rows(reqs, rows):
    """Pairs each request the test made with its http.csv row: by client address (a client
    port is reused across short connections, so requests of one address pair in time order).
    Returns ([(request, row)], [request without exactly one row], number of rows left over)."""
    by = {}
    for r in rows:
        by.setdefault(r["client"], []).append(r)
    mine = {}
    for q in reqs:
        mine.setdefault(q.client, []).append(q)
    pairs, unmatched, extra = [], [], 0
    for client, qs in mine.items():
        got = sorted(by.pop(client, []), key=lambda r: r["start"])
        qs = sorted(qs, key=lambda q: q.t0)
        if len(got) != len(qs):
            unmatched += qs
            extra += max(0, len(got) - len(qs))
        else:
            pairs += list(zip(qs, got))
    extra += sum(len(v) for v in by.values())
    return pairs, unmatched, extra


@unittest.skipUnless(os.geteuid() == 0, "live capture needs root")
class TestRunTraffic(unittest.TestCase):
    """One run: known traffic driven through gunicorn while tierprobe runs, then SIGTERM."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tierprobe-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.stack = Stack(cls.tmp)
        cls.addClassCleanup(cls.stack.stop)
        cls.stack.start()
        cls.out = os.path.join(cls.tmp, "out")
        cls.probe = Probe(cls.out, cls.stack)
        cls.addClassCleanup(cls.probe.stop)
        cls.probe.wait_capturing()
        port = cls.stack.http_port
        reqs = []
        # Known traffic: 200s and 404s with a find each, 201s with an update, 500s with an
        # aggregate (count_documents), and /status without a database call.
        for i in range(10):
            reqs.append(Request(port, "PUT", "/items/%d" % i, body=b"x" * (i + 1)))
        for i in range(20):
            reqs.append(Request(port, "GET", "/items/%d" % i))     # 10 found, 10 not
        for i in range(5):
            reqs.append(Request(port, "GET", "/boom"))
            reqs.append(Request(port, "GET", "/status"))
        # Web-tier CPU load for ~4 s: two clients keep both workers spinning.
        cls.load_from = time.time()
        spins = []

        def spin():
            while time.time() - cls.load_from < 4.0:
                spins.append(Request(port, "GET", "/spin?n=300000"))
        threads = [threading.Thread(target=spin) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        cls.load_to = time.time()
        reqs += spins
        cls.reqs = reqs
        cls.workers = cls.stack.worker_pids()
        time.sleep(1.5)
        cls.stopped_at = time.time()
        cls.rc = cls.probe.stop()

    def test_exit_status_zero_after_sigterm(self):
        self.assertEqual(self.rc, 0, self.probe.log())

    def test_no_partial_line_anywhere(self):
        for name in ("http.csv", "mongo.csv", "samples.csv", "serverstatus.csv", "routes.csv", "shapes.csv"):
            with self.subTest(file=name):
                read_table(os.path.join(self.out, name))
        for name in ("summary.txt", "summary.json"):
            with open(os.path.join(self.out, name), "rb") as f:
                data = f.read()
            self.assertTrue(data.endswith(b"\n"), name + " ends with a partial line")

    def test_every_request_in_http_csv_with_its_status(self):
        _, rows = read_table(os.path.join(self.out, "http.csv"))
        pairs, unmatched, extra = match_rows(self.reqs, rows)
        self.assertEqual([(q.client, q.method, q.path) for q in unmatched], [],
                         "%d of %d requests not exactly once in http.csv" % (len(unmatched), len(self.reqs)))
        wrong = [(q.method, q.path, q.status, r["method"], r["status"]) for q, r in pairs
                 if (r["status"], r["method"]) != (str(q.status), q.method)]
        self.assertEqual(wrong, [])
        self.assertEqual(extra, 0, "http.csv holds transactions nobody made")
        self.assertEqual(len(rows), len(self.reqs))

    def test_http_rows_carry_the_worker_pid(self):
        _, rows = read_table(os.path.join(self.out, "http.csv"))
        pairs, _, _ = match_rows(self.reqs, rows)
        bad = [(q.method, q.path, q.pid, r["pid"]) for q, r in pairs if r["pid"] != str(q.pid)]
        empty = sum(1 for b in bad if b[3] == "")
        print("\nworker pid in http.csv: %d of %d rows right, %d empty, %d wrong"
              % (len(self.reqs) - len(bad), len(self.reqs), empty, len(bad) - empty), file=sys.stderr)
        # A wrong pid is a bug. An empty one happens when the socket lookup (user space, off the
        # packet path, started at the SYN-ACK) loses the race with a connection that lives a
        # millisecond: README "Known limits". Measured here: 0 to 0.6% of rows with the CPU
        # saturated by the spinning handlers; it must stay rare and be counted in summary.json.
        self.assertEqual(len(bad) - empty, 0, "rows with another worker's pid: %r" % bad[:5])
        self.assertLessEqual(empty, 0.02 * len(self.reqs),
                             "%d of %d http.csv rows lack the pid of the worker that answered; e.g. "
                             "(method, path, worker, pid in http.csv): %r" % (empty, len(self.reqs), bad[:5]))
        with open(os.path.join(self.out, "summary.json")) as f:
            q = json.load(f)["quality"]
        self.assertGreaterEqual(q["pid_unresolved"], empty, "missing pids are counted in summary.json")

    def test_mongo_requests_carry_the_worker_pid(self):
        _, rows = read_table(os.path.join(self.out, "mongo.csv"))
        # The app's own calls: find (GET /items), update (PUT), aggregate (count_documents).
        app_rows = [r for r in rows if r["db"] == "tierprobe_it" and r["collection"] == "items"]
        want = {}
        for q in self.reqs:
            want[q.pid] = want.get(q.pid, 0) + q.db_ops
        got = {}
        for r in app_rows:
            got[r["pid"]] = got.get(r["pid"], 0) + 1
        self.assertEqual(got, {str(k): v for k, v in want.items() if v},
                         "MongoDB requests per pid in mongo.csv vs per worker as the app counted them")
        commands = sorted({r["command"] for r in app_rows})
        self.assertEqual(commands, ["aggregate", "find", "update"])
        self.assertTrue(all(r["ok"] == "1" for r in app_rows if r["command"] != "aggregate"))

    def test_samples_one_complete_row_per_interval(self):
        header, rows = read_table(os.path.join(self.out, "samples.csv"))
        self.assertEqual(sorted({c for c in header if header.count(c) > 1}), [], "duplicate column names")
        elapsed = self.stopped_at - self.probe.started
        self.assertGreaterEqual(len(rows), int(elapsed) - 1, "too few intervals for %.1f s" % elapsed)
        self.assertLessEqual(len(rows), int(elapsed) + 2, "too many intervals for %.1f s" % elapsed)
        times = [parse_time(r["time"]) for r in rows]
        for a, b in zip(times, times[1:]):
            self.assertAlmostEqual(b - a, 1.0, delta=0.01, msg="interval rows not 1 s apart")
        for col in ("cpu_user_pct", "cpu_idle_pct", "web_pids", "web_cpu_pct", "self_cpu_pct",
                    "capture_packets", "mongod_cpu_pct"):
            empty = [r["time"] for r in rows if r[col] == ""]
            self.assertEqual(empty, [], "samples.csv column %s empty in some rows" % col)
        # `time` ends its interval: the intervals wholly inside the spin load.
        loaded = [r for r, t in zip(rows, times) if t - 1.0 >= self.load_from and t <= self.load_to]
        self.assertGreaterEqual(len(loaded), 2, "the load should span at least two whole intervals")
        zero = [(r["time"], r["web_cpu_pct"]) for r in loaded if float(r["web_cpu_pct"]) <= 0]
        self.assertEqual(zero, [], "web-tier CPU zero while the load ran")
        self.assertTrue(all(float(r["web_cpu_pct"]) >= 20 for r in loaded),
                        [r["web_cpu_pct"] for r in loaded])

    def test_summary_counts(self):
        with open(os.path.join(self.out, "summary.json")) as f:
            s = json.load(f)
        self.assertEqual(s["http"]["count"], len(self.reqs))

    def test_report_agrees_with_what_the_run_wrote(self):
        # `tierprobe report` rebuilds the summary from the CSVs alone (plus summary.json's
        # quality counters): it must print exactly the summary.txt the run wrote.
        p = subprocess.run([BIN, "report", self.out], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.out, "summary.txt")) as f:
            self.assertEqual(p.stdout, f.read())


@unittest.skipUnless(os.geteuid() == 0, "live capture and --user need root")
class TestRunPrivilegeDrop(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tierprobe-it-")
        os.chmod(self.tmp, 0o755)  # nobody must reach the output folder inside
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.stack = Stack(self.tmp)
        self.addCleanup(self.stack.stop)
        self.stack.start()

    def test_runs_as_nobody_with_no_effective_capability_and_keeps_capturing(self):
        nobody = pwd.getpwnam("nobody")
        out = os.path.join(self.tmp, "out")
        probe = Probe(out, self.stack, args=["--user", "nobody"])
        self.addCleanup(probe.stop)
        probe.wait_capturing()
        self.assertIn("running as user 'nobody'", probe.log())
        with open("/proc/%d/status" % probe.p.pid) as f:
            status = f.read()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        self.assertEqual(uids, [str(nobody.pw_uid)] * 4, "real, effective, saved, fs uid")
        capeff = re.search(r"^CapEff:\s+(\w+)$", status, re.M).group(1)
        self.assertEqual(int(capeff, 16), 0, "effective capability set of the probe")
        # Every thread is nobody's; the /proc reader threads may raise CAP_SYS_PTRACE and
        # CAP_DAC_READ_SEARCH (by design, probe/privs.c) and nothing else: no CAP_NET_RAW, no setuid.
        proc_caps = (1 << 19) | (1 << 2)
        for task in os.listdir("/proc/%d/task" % probe.p.pid):
            with open("/proc/%d/task/%s/status" % (probe.p.pid, task)) as f:
                t = f.read()
            self.assertEqual(re.search(r"^Uid:\s+(.*)$", t, re.M).group(1).split()[1], str(nobody.pw_uid))
            for field in ("CapEff", "CapPrm", "CapAmb"):
                v = int(re.search(r"^%s:\s+(\w+)$" % field, t, re.M).group(1), 16)
                self.assertEqual(v & ~proc_caps, 0, "thread %s %s %x" % (task, field, v))
        # Traffic made after the drop is still captured.
        reqs = [Request(self.stack.http_port, "GET", "/items/%d" % i) for i in range(8)]
        time.sleep(1.5)
        pid = probe.p.pid
        self.assertEqual(probe.stop(), 0, probe.log())
        _, rows = read_table(os.path.join(out, "http.csv"))
        _, unmatched, _ = match_rows(reqs, rows)
        self.assertEqual([q.client for q in unmatched], [], "requests made after the drop, not in http.csv")
        self.assertEqual(os.stat(os.path.join(out, "http.csv")).st_uid, nobody.pw_uid)
        # libmongoc's root-owned counters file, which nobody could not remove at exit, is gone.
        self.assertFalse(os.path.exists("/dev/shm/mongoc-%d" % pid), "left /dev/shm/mongoc-%d" % pid)


@unittest.skipUnless(os.geteuid() == 0, "live capture needs root")
class TestRunBadInputAndFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tierprobe-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_probe(self, *args, timeout=20):
        return subprocess.run([BIN, "run"] + list(args), capture_output=True, text=True, timeout=timeout)

    def test_unknown_interface_exit_2_nothing_started(self):
        out = os.path.join(self.tmp, "out")
        t0 = time.monotonic()
        p = self.run_probe("-i", "tp-nosuch0", "--duration", "5", "-o", out)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertLess(time.monotonic() - t0, 3, "it must not have run")
        self.assertIn("tp-nosuch0", p.stderr)
        self.assertFalse(os.path.exists(out), "no output folder when nothing started")

    def test_unwritable_output_folder_exit_2(self):
        blocker = os.path.join(self.tmp, "a-file")
        open(blocker, "w").close()
        p = self.run_probe("-i", "lo", "--duration", "5", "-o", os.path.join(blocker, "out"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(blocker, p.stderr)
        # A folder the --user cannot write is the same mistake: found before capture starts.
        p = self.run_probe("-i", "lo", "--duration", "5", "-o", "/proc/tierprobe-out")
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_disk_full_while_running(self):
        """A 64 KiB tmpfs in a private mount namespace fills up under traffic: the error is
        logged once, the run stops by itself with exit 1, and what was written before is whole
        CSV rows (the files are copied out of the namespace by the shell that ran the probe)."""
        if not shutil.which("unshare"):
            self.skipTest("no unshare")
        port = free_port()
        srv = subprocess.Popen([PY, "-c", FAST_SERVER, str(port)], stdin=subprocess.DEVNULL)
        self.addCleanup(stop_process, srv)
        wait_for(lambda: port_open(port), 10, "http server")
        mnt = os.path.join(self.tmp, "mnt")
        copy = os.path.join(self.tmp, "copy")
        os.makedirs(mnt)
        script = ('mount -t tmpfs -o size=64k tierprobe-it "$1" || exit 99; '
                  '"$2" run -i lo --interval 1 --duration 60 -q --http-ports "$3" -o "$1/out"; rc=$?; '
                  'cp -a "$1/out" "$4"; exit $rc')
        err_path = os.path.join(self.tmp, "stderr")
        with open(err_path, "w") as errf:
            p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                                  mnt, BIN, str(port), copy], stdout=subprocess.DEVNULL, stderr=errf)
        self.addCleanup(stop_process, p)

        def log():
            with open(err_path) as f:
                return f.read()
        wait_for(lambda: "capturing on" in log() or p.poll() is not None, 20, "the probe to start")
        self.assertIsNone(p.poll(), log())
        # Keep-alive requests until the file system is full and the probe gives up (bounded).
        end = time.monotonic() + 60
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        n = 0
        while p.poll() is None and time.monotonic() < end:
            c.request("GET", "/fill/%d/%s" % (n, "y" * 200))
            c.getresponse().read()
            n += 1
            if n % 200 == 0:
                time.sleep(0.05)
        c.close()
        stopped_by_itself = p.poll() is not None
        rc = stop_process(p, signal.SIGTERM, timeout=20)
        self.assertTrue(stopped_by_itself, "the probe kept running on a full disk:\n" + log())
        text = log()
        self.assertNotEqual(rc, 99, "could not mount a tmpfs: " + text)
        self.assertEqual(rc, 1, "exit status when the disk fills: " + text)
        lines = text.splitlines()
        errors = [l for l in lines if "No space left" in l]
        self.assertGreaterEqual(len(errors), 1, text)
        self.assertEqual(len(lines), len(set(lines)), "an error logged more than once:\n" + text)
        # the first failure stops the run: the loop says so right after it
        stop_at = [i for i, l in enumerate(lines) if "stopping: an output file cannot be written" in l]
        self.assertEqual(len(stop_at), 1, text)
        self.assertLessEqual(len([l for l in lines[:stop_at[0]] if "No space left" in l]), 2, text)
        for name in ("http.csv", "samples.csv", "mongo.csv"):
            with self.subTest(file=name):
                read_table(os.path.join(copy, name))


    def test_output_file_removed_while_running(self):
        """http.csv removed under the probe (no SIGHUP): its rows would vanish unseen, so the
        run stops by itself with exit 1, says so once, and the other files stay whole."""
        port = free_port()
        srv = subprocess.Popen([PY, "-c", FAST_SERVER, str(port)], stdin=subprocess.DEVNULL)
        self.addCleanup(stop_process, srv)
        wait_for(lambda: port_open(port), 10, "http server")
        out = os.path.join(self.tmp, "out")
        probe = Probe(out, http_ports=str(port), mongo_ports=str(free_port()), args=["--duration", "60"])
        self.addCleanup(probe.stop)
        probe.wait_capturing()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for i in range(3):
            c.request("GET", "/before/%d" % i)
            c.getresponse().read()
        os.unlink(os.path.join(out, "http.csv"))
        for i in range(3):
            c.request("GET", "/after/%d" % i)
            c.getresponse().read()
        c.close()
        try:
            probe.p.wait(15)
        except subprocess.TimeoutExpired:
            self.fail("the probe kept running after http.csv was removed:\n" + probe.log())
        rc = probe.stop()
        text = probe.log()
        self.assertEqual(rc, 1, text)
        lines = text.splitlines()
        self.assertEqual(len([l for l in lines if "http.csv" in l]), 1, text)
        self.assertEqual(len([l for l in lines if "stopping" in l]), 1, text)
        self.assertFalse(os.path.exists(os.path.join(out, "http.csv")))
        for name in ("mongo.csv", "samples.csv", "routes.csv"):
            with self.subTest(file=name):
                read_table(os.path.join(out, name))


@unittest.skipUnless(os.geteuid() == 0, "live capture needs root")
class TestRunSignals(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tierprobe-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.port = free_port()
        self.srv = subprocess.Popen([PY, "-c", FAST_SERVER, str(self.port)], stdin=subprocess.DEVNULL)
        self.addCleanup(stop_process, self.srv)
        wait_for(lambda: port_open(self.port), 10, "http server")

    def get(self, n):
        clients = []
        for i in range(n):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.connect()
            clients.append("127.0.0.1:%d" % c.sock.getsockname()[1])
            c.request("GET", "/r/%d" % i)
            c.getresponse().read()
            c.close()
        return clients

    def test_sighup_reopens_and_sigusr1_logs_interim(self):
        out = os.path.join(self.tmp, "out")
        probe = Probe(out, http_ports=str(self.port), mongo_ports=str(free_port()))
        self.addCleanup(probe.stop)
        probe.wait_capturing()
        first = self.get(5)

        def written():
            try:
                _, rows = read_table(os.path.join(out, "http.csv"))
            except AssertionError:  # not flushed yet
                return False
            return len(rows) == 5
        wait_for(written, 15, "the first 5 rows in http.csv")
        os.rename(os.path.join(out, "http.csv"), os.path.join(out, "http.csv.1"))
        probe.p.send_signal(signal.SIGHUP)
        wait_for(lambda: "reopened" in probe.log(), 10, "the reopen log line")
        second = self.get(5)
        time.sleep(6.5)  # the join holds a transaction 5 s before it counts it
        probe.p.send_signal(signal.SIGUSR1)
        wait_for(lambda: "interim" in probe.log(), 10, "the interim log line")
        interim = [l for l in probe.log().splitlines() if "interim" in l]
        self.assertEqual(len(interim), 1)
        self.assertIn("10 HTTP", interim[0])
        time.sleep(1.5)
        self.assertEqual(probe.stop(), 0, probe.log())
        h_old, old = read_table(os.path.join(out, "http.csv.1"))
        h_new, new = read_table(os.path.join(out, "http.csv"))
        self.assertEqual(sorted(r["client"] for r in old), sorted(first))
        self.assertEqual(h_new, h_old, "the new http.csv starts with the header row")
        self.assertEqual(sorted(r["client"] for r in new), sorted(second))


@unittest.skipUnless(os.geteuid() == 0 or os.environ.get("DESTDIR_TEST"), "")
class TestInstall(unittest.TestCase):
    def test_make_install_into_destdir(self):
        tmp = tempfile.mkdtemp(prefix="tierprobe-install-")
        self.addCleanup(shutil.rmtree, tmp, True)
        dest = os.path.join(tmp, "root")
        build = os.path.relpath(os.path.dirname(BIN), ROOT)
        p = subprocess.run(["make", "-s", "-C", ROOT, "BUILD=" + build, "DESTDIR=" + dest, "PREFIX=/usr/local",
                            "install"], capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        binary = os.path.join(dest, "usr/local/bin/tierprobe")
        unit = os.path.join(dest, "usr/local/lib/systemd/system/tierprobe.service")
        for f in (binary, unit, os.path.join(dest, "etc/tierprobe/tierprobe.conf.example"),
                  os.path.join(dest, "usr/local/share/doc/tierprobe/README.md")):
            self.assertTrue(os.path.isfile(f), f)
        self.assertEqual(os.stat(binary).st_mode & 0o777, 0o755)
        h = subprocess.run([binary, "run", "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(h.returncode, 0)
        self.assertIn("--iface", h.stdout + h.stderr)
        with open(unit) as f:
            text = f.read()
        self.assertIsNone(re.search(r"@[A-Z]+@", text), "unfilled placeholder")
        m = re.search(r"^ExecStart=(\S+)", text, re.M)
        self.assertEqual(m.group(1), "/usr/local/bin/tierprobe")
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        # verify wants the ExecStart binary to exist: point it at the installed one.
        checked = os.path.join(tmp, "tierprobe.service")
        with open(checked, "w") as f:
            f.write(text.replace("/usr/local/bin/tierprobe", binary))
        v = subprocess.run(["systemd-analyze", "verify", checked], capture_output=True, text=True, timeout=60)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertNotIn("tierprobe.service", v.stderr, v.stderr)
        s = subprocess.run(["systemd-analyze", "security", "--offline=yes", checked], capture_output=True,
                           text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", s.stdout + s.stderr)
        self.assertIsNotNone(m, s.stdout[-2000:] + s.stderr)
        print("\nsystemd-analyze security: exposure %s %s" % (m.group(1), m.group(2)), file=sys.stderr)
        self.assertLessEqual(float(m.group(1)), 5.0, "the unit should stay at OK or better")


# A keep-alive HTTP/1.1 server on loopback that answers every GET with a short 200.
FAST_SERVER = r'''
import socket, sys, threading
body = b"ok\n"
resp = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\n" + body
def serve(c):
    buf = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            buf += d
            out = []
            while True:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    break
                buf = buf[i + 4:]
                out.append(resp)
            if out:
                c.sendall(b"".join(out))
    except OSError:
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(256)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''

if __name__ == "__main__":
    unittest.main(verbosity=2)
