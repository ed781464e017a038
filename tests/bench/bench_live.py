#!/usr/bin/python3
"""make bench, live part: tierprobe run's own overhead while it captures HTTP on loopback.

One run, side by side: a small keep-alive HTTP server (asyncio, one process) on a free
loopback port, wrk driving it, tierprobe run -i lo on that port.
  1. idle: the probe's CPU with no traffic (its per-interval sampling alone);
  2. fixed rate: wrk with a per-request delay aiming at --rate req/s for --seconds;
  3. max rate: wrk as fast as it can for --seconds.
The probe's CPU is utime+stime from /proc/PID/stat over each window; the request counts are
the rows tierprobe wrote to http.csv (and wrk's own count beside them); kernel drops come
from summary.json (quality.kernel_drops) of the max-rate run.
"""
import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HZ = os.sysconf("SC_CLK_TCK")

SERVER = r'''
import asyncio, sys
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"
class H(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.buf = t, b""
    def data_received(self, d):
        self.buf += d
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4:]
            self.t.write(RESP * n)
async def main():
    srv = await asyncio.get_running_loop().create_server(H, "127.0.0.1", int(sys.argv[1]), backlog=512)
    await srv.serve_forever()
asyncio.run(main())
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ   # utime, stime (fields 14 and 15)


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise RuntimeError("bench_live: timed out waiting for " + what)


def stop(p, timeout=20):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
    return p.returncode


def wrk(port, seconds, conns, delay_ms, tmp):
    cmd = ["wrk", "-t", "1", "-c", str(conns), "-d", "%ds" % seconds, "--timeout", "5s"]
    if delay_ms:
        script = os.path.join(tmp, "delay.lua")
        with open(script, "w") as f:
            f.write("function delay()\n  return %d\nend\n" % delay_ms)
        cmd += ["-s", script]
    p = subprocess.run(cmd + ["http://127.0.0.1:%d/" % port], capture_output=True, text=True,
                       timeout=seconds + 30)
    m = re.search(r"(\d+) requests in", p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError("wrk failed: " + p.stdout + p.stderr)
    return int(m.group(1))


def measure(a, port, tmp, name, conns, delay_ms, idle_s=0):
    """One probe run around one wrk run; returns a dict of figures."""
    out = os.path.join(tmp, name)
    errf = open(out + ".stderr", "w")
    probe = subprocess.Popen([a.bin, "run", "-q", "-i", "lo", "--interval", "1", "-o", out,
                              "--http-ports", str(port), "--mongo-ports", str(free_port())],
                             stdout=subprocess.DEVNULL, stderr=errf, stdin=subprocess.DEVNULL)
    try:
        def capturing():
            if probe.poll() is not None:
                raise RuntimeError("tierprobe exited early: " + open(out + ".stderr").read())
            return "capturing on" in open(out + ".stderr").read()
        wait_for(capturing, 20, "tierprobe to capture")
        time.sleep(1.0)
        r = {}
        if idle_s:
            c0, t0 = cpu_seconds(probe.pid), time.monotonic()
            time.sleep(idle_s)
            r["idle_cpu_pct"] = 100 * (cpu_seconds(probe.pid) - c0) / (time.monotonic() - t0)
        c0, t0 = cpu_seconds(probe.pid), time.monotonic()
        r["driven"] = wrk(port, a.seconds, conns, delay_ms, tmp)
        wall = time.monotonic() - t0
        r["cpu_pct"] = 100 * (cpu_seconds(probe.pid) - c0) / wall
        r["wall"] = wall
        time.sleep(1.5)
    finally:
        rc = stop(probe)
        errf.close()
    if rc != 0:
        raise RuntimeError("tierprobe run exited %s: %s" % (rc, open(out + ".stderr").read()[-2000:]))
    with open(os.path.join(out, "http.csv")) as f:
        r["captured"] = sum(1 for row in csv.DictReader(f) if row["status"] == "200")
    with open(os.path.join(out, "summary.json")) as f:
        q = json.load(f)["quality"]
    r["kernel_drops"] = q["kernel_drops"]
    with open(os.path.join(out, "samples.csv")) as f:
        per = [int(row["capture_kernel_drops"] or 0) for row in csv.DictReader(f)]
    r["drop_intervals"] = sum(1 for d in per if d)
    r["intervals"] = len(per)
    r["iface_drops"] = q["iface_drops"]
    r["rps"] = r["captured"] / wall
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rate", type=int, default=1000, help="the fixed rate, requests/s")
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_live: skipped (live capture needs root)")
        return 0
    if not shutil.which("wrk"):
        print("bench_live: skipped (no wrk: apt-get install wrk)")
        return 0
    tmp = tempfile.mkdtemp(prefix="tierprobe-bench-live-")
    port = free_port()
    srv = subprocess.Popen(["/usr/bin/python3", "-c", SERVER, str(port)], stdin=subprocess.DEVNULL)
    try:
        def up():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_for(up, 10, "the HTTP server")
        # 20 connections, each waiting 20 ms after every answer: about 1,000 requests/s.
        fixed = measure(a, port, tmp, "fixed", conns=a.rate // 50, delay_ms=20, idle_s=3)
        top = measure(a, port, tmp, "max", conns=32, delay_ms=0)
    finally:
        stop(srv)
        shutil.rmtree(tmp, True)

    print()
    print("live capture on lo, %d s per load, HTTP server: asyncio keep-alive; load: wrk" % a.seconds)
    print("probe idle (no traffic):  %.2f%% of one core" % fixed["idle_cpu_pct"])
    for name, r in (("fixed rate", fixed), ("max rate", top)):
        print("%-10s driven %7d req (wrk), captured %7d in http.csv = %7.0f req/s; probe CPU %.2f%% of one core;"
              " kernel drops %d, iface drops %d"
              % (name, r["driven"], r["captured"], r["rps"], r["cpu_pct"], r["kernel_drops"], r["iface_drops"]))
    ratio = fixed["cpu_pct"] / (fixed["rps"] / 1000) if fixed["rps"] else float("inf")
    net = (fixed["cpu_pct"] - fixed["idle_cpu_pct"]) / (fixed["rps"] / 1000) if fixed["rps"] else float("inf")
    ratio_max = top["cpu_pct"] / (top["rps"] / 1000) if top["rps"] else float("inf")
    print("RATIO probe CPU per 1000 req/s = %.2f%% of one core (target <= 1%%)  %s   [at %.0f req/s;"
          " %.2f%% without the idle cost; %.2f%% per 1000 req/s at max rate]"
          % (ratio, "PASS" if ratio <= 1 else "MISS", fixed["rps"], net, ratio_max))
    lost = top["driven"] - top["captured"]
    print("kernel drops at max rate (%.0f req/s) = %d (target 0)  %s   [in %d of %d intervals; wrk-counted minus"
          " captured: %d (wrk does not count the answers in flight when it stops); load average %.1f on %d cores]"
          % (top["rps"], top["kernel_drops"], "PASS" if top["kernel_drops"] == 0 else "MISS",
             top["drop_intervals"], top["intervals"], lost, os.getloadavg()[0], os.cpu_count()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
