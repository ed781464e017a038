#!/usr/bin/python3
"""The origin experiment's load: N parallel clients, each a loop over the five-step user flow.

    /usr/bin/python3 demo/load.py --url http://127.0.0.1:8000 --clients 5 --duration 15 [--json FILE]

Each client is its own process (so the load generator's GIL does not serialise the clients)
with its own HTTP/1.1 connection, reconnecting when the server closes it. One flow:
POST /user, POST /user/login, POST /profile, GET /profile, GET /status/mongo. A flow counts
when all five steps answered 2xx; its duration is the time from the first request to the
last response. Prints flows done, mean, fastest-half mean, median and standard deviation,
each rounded to two significant figures (more digits would be noise on a shared machine).
"""
import argparse
import http.client
import json
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
import urllib.parse


def sig2(x):
    """x rounded to two significant figures, as text without exponent."""
    if x is None or not math.isfinite(x):
        return "?"
    if x == 0:
        return "0"
    decimals = 1 - int(math.floor(math.log10(abs(x))))
    r = round(x, decimals)
    if decimals <= 0:
        return str(int(r))
    return f"{r:.{decimals}f}"


class Client:
    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def call(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.getheader("Connection", "").lower() == "close" or resp.will_close:
                    self.conn.close()
                    self.conn = None
                return resp.status, payload
            except (ConnectionError, http.client.HTTPException, OSError):
                # a keep-alive connection the server closed between requests: retry once
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def one_flow(c, tag, n):
    email = f"u{tag}-{n}@demo.example"
    password = f"pw-{tag}-{n}-correct horse"
    st, _ = c.call("POST", "/user", {"email": email, "password": password, "name": "Demo User"})
    if st != 201:
        return f"POST /user {st}"
    st, body = c.call("POST", "/user/login", {"email": email, "password": password})
    if st != 200:
        return f"POST /user/login {st}"
    token = json.loads(body)["token"]
    st, _ = c.call("POST", "/profile", {"bio": f"flow {n} of client {tag}"}, token)
    if st != 200:
        return f"POST /profile {st}"
    st, _ = c.call("GET", "/profile", token=token)
    if st != 200:
        return f"GET /profile {st}"
    st, _ = c.call("GET", "/status/mongo")
    if st != 200:
        return f"GET /status/mongo {st}"
    return None


def client_main(idx, url, start_at, end_at, timeout, run_tag, out):
    u = urllib.parse.urlsplit(url)
    c = Client(u.hostname, u.port or 80, timeout)
    durations, errors = [], {}
    tag = f"{run_tag}-{idx}"
    while time.time() < start_at:
        time.sleep(0.005)
    n = 0
    while time.time() < end_at:
        t0 = time.perf_counter()
        try:
            err = one_flow(c, tag, n)
        except Exception as e:  # a timeout or refused connection is a failed flow, not a crash
            err = type(e).__name__
            time.sleep(0.05)
        dt = (time.perf_counter() - t0) * 1000.0
        if err is None:
            durations.append(dt)
        else:
            errors[err] = errors.get(err, 0) + 1
        n += 1
    out.put((idx, durations, errors))


def run_level(url, clients, duration, timeout=30.0):
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start_at = time.time() + 0.5
    end_at = start_at + duration
    run_tag = f"{os.getpid()}-{int(start_at * 1000) % 10**8}-c{clients}"
    procs = [ctx.Process(target=client_main, args=(i, url, start_at, end_at, timeout, run_tag, out), daemon=True)
             for i in range(clients)]
    for p in procs:
        p.start()
    durations, errors, got = [], {}, 0
    deadline = end_at + timeout + 10
    try:
        while got < clients and time.time() < deadline:
            try:
                _, d, e = out.get(timeout=max(0.1, deadline - time.time()))
            except Exception:
                break
            durations.extend(d)
            for k, v in e.items():
                errors[k] = errors.get(k, 0) + v
            got += 1
    finally:
        for p in procs:
            p.join(timeout=2)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res = stats(clients, duration, durations, errors, got)
    res["load_cpu_pct"] = 100.0 * cpu_s / duration  # the client processes' CPU, % of one core
    return res


def stats(clients, duration, durations, errors, reported):
    d = sorted(durations)
    n = len(d)
    res = {"clients": clients, "duration_s": duration, "flows": n,
           "errors": sum(errors.values()), "error_kinds": errors, "clients_reported": reported}
    if n:
        res["flows_per_s"] = n / duration
        res["mean_ms"] = statistics.fmean(d)
        res["fastest_half_mean_ms"] = statistics.fmean(d[: max(1, n // 2)])
        res["median_ms"] = statistics.median(d)
        res["stdev_ms"] = statistics.stdev(d) if n > 1 else 0.0
    return res


def describe(r):
    if not r["flows"]:
        return f"{r['clients']} clients: no flow completed ({r['errors']} failed: {r['error_kinds']})"
    s = (f"{r['clients']} clients: {r['flows']} flows in {r['duration_s']:g} s ({sig2(r['flows_per_s'])} flows/s); "
         f"flow time mean {sig2(r['mean_ms'])} ms, fastest-half mean {sig2(r['fastest_half_mean_ms'])} ms, "
         f"median {sig2(r['median_ms'])} ms, standard deviation {sig2(r['stdev_ms'])} ms")
    if "load_cpu_pct" in r:
        s += f"; the load generator itself used {sig2(r['load_cpu_pct'])}% of one core"
    if r["errors"]:
        s += f"; {r['errors']} flows failed {r['error_kinds']}"
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    ap.add_argument("--json", help="also write the numbers (unrounded) to this file")
    a = ap.parse_args()
    if not (1 <= a.clients <= 200) or not (0 < a.duration <= 3600):
        ap.error("--clients must be 1..200 and --duration 0..3600")
    r = run_level(a.url, a.clients, a.duration, a.timeout)
    print(describe(r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0 if r["flows"] and r["clients_reported"] == a.clients else 1


if __name__ == "__main__":
    sys.exit(main())
