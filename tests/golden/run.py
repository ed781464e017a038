#!/usr/bin/python3
"""Golden tests: run `tierprobe analyze` on real captures and check the rows that matter.

The expectations are those the captures' own projects assert (../shared/peer/README.md,
sections 3 and 4), restated here one case per capture, plus the tshark 4.0.17 references
(*.tshark*.tsv) for request/response timing to the microsecond. The project's own captures
(tests/captures/) are checked the same way by tests/golden/own.py.

Usage: tests/golden/run.py --bin build/tierprobe [-k NAME]
"""
import argparse
import calendar
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEER = os.path.join(ROOT, "..", "shared", "peer")
PB = os.path.join(PEER, "packetbeat")
MR = os.path.join(PEER, "mongoreplay")


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def ts_us(s):
    """ISO 8601 'YYYY-MM-DDTHH:MM:SS.ffffffZ' -> integer microseconds since the epoch."""
    whole, frac = s.rstrip("Z").split(".")
    secs = calendar.timegm(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").timetuple())
    return secs * 1000000 + int(frac)


class Run:
    """One `tierprobe analyze` run in a fresh folder, with its tables read back."""

    def __init__(self, binary, files, ports=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="tp-golden-")
        cmd = [binary, "analyze", "-q", "-o", self.dir]
        if ports:
            for k, v in ports.items():
                cmd += ["--%s-ports" % k, v]
        cmd += list(extra) + list(files)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.rc, self.stdout, self.stderr = p.returncode, p.stdout, p.stderr
        self.cmd = " ".join(cmd)
        self.files = list(files)

    def table(self, name):
        with open(os.path.join(self.dir, name), newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def summary(self):
        with open(os.path.join(self.dir, "summary.json"), encoding="utf-8") as f:
            return json.load(f)

    def all_output_text(self):
        """Every output file's text, minus the input file names the summary repeats."""
        text = ""
        for name in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, name), encoding="utf-8", errors="replace") as f:
                text += f.read()
        for path in self.files:
            text = text.replace(path, "")
        return text

    def ok(self):
        check(self.rc == 0, "exit %d from %s\n%s" % (self.rc, self.cmd, self.stderr))
        return self

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def tshark_mongo_pairs(path):
    """(request_id -> (latency_complete_us, latency_firstseg_us)) from a *.tshark.pdus.tsv."""
    pairs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# pair\t"):
                parts = line.rstrip("\n").split("\t")
                rid = int(parts[2])
                pairs.setdefault(rid, []).append(
                    (round(float(parts[7]) * 1e6), round(float(parts[8]) * 1e6)))
    return pairs


def our_times(row):
    return {k: (ts_us(row[k]) if row.get(k) else None)
            for k in ("start", "req_end", "resp_start", "end")}


def check_mongo_timing(rows, pdus_tsv):
    """Latency complete->complete and first->first agree with tshark to the microsecond."""
    ref = tshark_mongo_pairs(pdus_tsv)
    checked = 0
    for r in rows:
        t = our_times(r)
        if t["end"] is None:
            continue
        rid = int(r["request_id"])
        if rid < 0:
            rid += 1 << 32
        check(rid in ref, "request %d not paired by tshark" % rid)
        complete = t["end"] - t["req_end"]
        first = t["resp_start"] - t["start"]
        cands = ref[rid]
        check(any(abs(complete - c) <= 1 and abs(first - fs) <= 1 for c, fs in cands),
              "request %d: ours complete %d us / first-seg %d us, tshark %s"
              % (rid, complete, first, cands))
        checked += 1
    check(checked > 0, "no timed pair to compare")
    return checked


def tshark_http_times(path):
    """(http.time in us, close_delimited) of final responses from a *.tshark_http.tsv."""
    out = []
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n").split("\t") for l in f if not l.startswith("#")]
    header, rows = lines[0], lines[1:]
    idx = {name: i for i, name in enumerate(header)}
    for r in rows:
        r += [""] * (len(header) - len(r))
        code, t = r[idx["http.response.code"]], r[idx["http.time"]]
        if code and t and not code.startswith("1"):
            close_delimited = not r[idx["http.content_length_header"]] and not r[idx["http.transfer_encoding"]]
            out.append((round(float(t) * 1e6), close_delimited))
    return sorted(out)


def check_http_timing(rows, tsv):
    """Response complete - request complete agrees with tshark's http.time to the microsecond.

    Except for bodies delimited by the connection's close: tshark times those to the FIN,
    we to the body's last byte (DESIGN.md's "response last byte"), so ours must come at
    most 5 ms before tshark's there.
    """
    ref = tshark_http_times(tsv)
    ours = []
    for r in rows:
        t = our_times(r)
        if t["end"] is not None and t["req_end"] is not None:
            ours.append(t["end"] - t["req_end"])
    check(ours, "no complete HTTP transaction to time")
    for v in ours:
        exact = any(abs(v - x) <= 1 for x, _ in ref)
        at_fin = any(close and 0 <= x - v <= 5000 for x, close in ref)
        check(exact or at_fin, "latency %d us not among tshark's %s" % (v, ref))
    return len(ours)


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def commands(rows):
    out = {}
    for r in rows:
        out[r["command"].lower()] = out.get(r["command"].lower(), 0) + 1
    return out


# ---- MongoDB (Packetbeat test_0025_mongodb_basic.py, mongoreplay) ----

@case
def mongodb_use_db(b):
    r = Run(b, [PB + "/mongodb_use_db.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 1, "1 transaction, got %d" % len(rows))
    check(rows[0]["command"].lower() == "ismaster", rows[0]["command"])
    check(rows[0]["db"] == "testDB", rows[0]["db"])
    check(rows[0]["req_bytes"] == "81" and rows[0]["resp_bytes"] == "194", "sizes 81/194")
    check_mongo_timing(rows, PB + "/mongodb_use_db.pcap.tshark.pdus.tsv")
    return r


@case
def mongodb_create_collection(b):
    r = Run(b, [PB + "/mongodb_create_collection.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 4, "4 transactions, got %d" % len(rows))
    check(commands(rows).get("create") == 1, "one create: %s" % commands(rows))
    check_mongo_timing(rows, PB + "/mongodb_create_collection.pcap.tshark.pdus.tsv")
    return r


@case
def mongodb_find(b):
    r = Run(b, [PB + "/mongodb_find.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 2, "2 transactions, got %d" % len(rows))
    check(rows[0]["command"] == "find", "method find, got %r" % rows[0]["command"])
    check(rows[0]["collection"] == "testCollection", rows[0]["collection"])
    check(rows[0]["ok"] != "0" and rows[0]["error_code"] == "", "status OK")
    check(rows[0]["docs"] == "1", "1 document returned, got %r" % rows[0]["docs"])
    check_mongo_timing(rows, PB + "/mongodb_find.pcap.tshark.pdus.tsv")
    return r


@case
def mongo_one_row(b):
    r = Run(b, [PB + "/mongo_one_row.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 1, "exactly 1 transaction, got %d" % len(rows))
    row = rows[0]
    check(row["command"] == "find", row["command"])
    check(row["req_bytes"] == "50" and row["resp_bytes"] == "514", "source.bytes 50, destination.bytes 514")
    check(row["docs"] == "1", "1 doc")
    check_mongo_timing(rows, PB + "/mongo_one_row.pcap.tshark.pdus.tsv")
    return r


@case
def mongodb_more_rows(b):
    r = Run(b, [PB + "/mongodb_more_rows.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 1, "1 transaction, got %d" % len(rows))
    check(rows[0]["docs"] == "101", "101 documents, got %r" % rows[0]["docs"])
    check(rows[0]["resp_bytes"] == "46171", "reply of 46,171 bytes, got %r" % rows[0]["resp_bytes"])
    check_mongo_timing(rows, PB + "/mongodb_more_rows.pcap.tshark.pdus.tsv")
    return r


@case
def mongodb_inserts(b):
    r = Run(b, [PB + "/mongodb_inserts.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 5, "5 transactions, got %d" % len(rows))
    check(rows[1]["command"] == "insert", "objs[1] is insert, got %r" % rows[1]["command"])
    check_mongo_timing(rows, PB + "/mongodb_inserts.pcap.tshark.pdus.tsv")
    return r


@case
def mongo_3_0_session(b):
    r = Run(b, [PB + "/mongo_3.0_session.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 24, "24 transactions, got %d" % len(rows))
    c = commands(rows)
    for name, n in (("insert", 2), ("update", 1), ("findandmodify", 1), ("listcollections", 5)):
        check(c.get(name) == n, "%s x%d expected, got %s" % (name, n, c))
    check(r.summary()["mongo"]["count"] == 24, "summary mongo.count")
    check_mongo_timing(rows, PB + "/mongo_3.0_session.pcap.tshark.pdus.tsv")
    return r


@case
def mongodb_insert_duplicate_key(b):
    r = Run(b, [PB + "/mongodb_insert_duplicate_key.pcap"], {"mongo": "27017"}).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 1, "27018 ignored: 1 transaction, got %d" % len(rows))
    row = rows[0]
    check(row["command"] == "insert", row["command"])
    check(row["server"].endswith(":27017"), row["server"])
    check(row["error_code"] == "11000", "duplicate key error 11000, got %r" % row["error_code"])
    check_mongo_timing(rows, PB + "/mongodb_insert_duplicate_key.pcap.tshark.pdus.tsv")
    return r


@case
def mongodb_reply_request_reply(b):
    r = Run(b, [PB + "/mongodb_reply_request_reply.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 1, "the orphan reply is dropped: 1 transaction, got %d" % len(rows))
    check(rows[0]["command"].lower() == "buildinfo", rows[0]["command"])
    check(float(rows[0]["latency_ms"]) >= 0, "latency >= 0")
    check(r.summary()["quality"]["mongo_unmatched_replies"] == 1, "orphan reply counted")
    check_mongo_timing(rows, PB + "/mongodb_reply_request_reply.pcap.tshark.pdus.tsv")
    return r


@case
def mongodb_op_msg_opcode(b):
    r = Run(b, [PB + "/mongodb_op_msg_opcode.pcap"], {"mongo": "9991"}).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 101, "101 OP_MSG transactions, got %d" % len(rows))
    check(all(x["opcode"] == "OP_MSG" for x in rows), "all OP_MSG")
    c = commands(rows)
    check(c.get("replsetheartbeat") == 78 and c.get("ismaster") == 23, "78 heartbeats, 23 ismaster: %s" % c)
    q = r.summary()["quality"]
    check(q["unknown_opcodes"] == [], "no unknown opcode: %s" % q["unknown_opcodes"])
    n = check_mongo_timing(rows, PB + "/mongodb_op_msg_opcode.pcap.tshark.pdus.tsv")
    check(n == 101, "all 101 timed")
    return r


@case
def mongodb_invalid_opcode_2269(b):
    r = Run(b, [PB + "/mongodb_invalid_opcode_2269.pcap"]).ok()
    check(len(r.table("mongo.csv")) == 0, "nothing pairs")
    q = r.summary()["quality"]
    check(q["unknown_opcodes"] == [2269], "2269 reported once: %s" % q["unknown_opcodes"])
    check(q["mongo_unknown_opcode_msgs"] == 3, "3 messages counted: %s" % q["mongo_unknown_opcode_msgs"])
    check(r.stderr.count("2269") <= 1, "logged at most once:\n" + r.stderr)
    return r


@case
def mongoreplay_compressed(b):
    r = Run(b, [MR + "/compressed.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 6, "6 transactions, got %d" % len(rows))
    check(rows[0]["request_id"] == "0", "first request has requestID 0")
    check(sum("compressed" in x["note"] for x in rows) >= 5, "snappy OP_COMPRESSED noted")
    check(sum(x["opcode"] == "OP_COMMAND" for x in rows) == 5, "5 OP_COMMAND inside OP_COMPRESSED")
    c = commands(rows)
    for name in ("insert", "count", "update", "buildinfo", "whatsmyuri"):
        check(c.get(name) == 1, "%s once: %s" % (name, c))
    check_mongo_timing(rows, MR + "/compressed.pcap.tshark.pdus.tsv")
    return r


@case
def mongoreplay_test_out(b):
    r = Run(b, [MR + "/mongoreplay_test.out.pcap"]).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 11, "11 OP_QUERY/OP_REPLY pairs, got %d" % len(rows))
    check(rows[0]["request_id"] == "0", "first requestID 0")
    rs = [x for x in rows if x["command"] == "replSetGetStatus"]
    check(len(rs) == 1 and rs[0]["ok"] == "0", "replSetGetStatus is an error reply")
    check_mongo_timing(rows, MR + "/mongoreplay_test.out.pcap.tshark.pdus.tsv")
    return r


# ---- HTTP (Packetbeat test_00*.py) ----

@case
def http_100_continue(b):
    r = Run(b, [PB + "/http_100_continue.pcap"], {"http": "9200"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 1, "exactly 1 transaction, got %d" % len(rows))
    check(rows[0]["status"] == "200" and rows[0]["method"] == "POST", "POST -> 200: %s" % rows[0])
    check("interim-1xx" in rows[0]["note"], "interim 100 noted")
    return r


@case
def wsgi_drum(b):
    r = Run(b, [PB + "/wsgi_drum.pcap"], {"http": "8888"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 16, "16 transactions, got %d" % len(rows))
    errs = [x for x in rows if x["status"] == "500"]
    check(len(errs) == 1 and errs[0]["route"] == "/comment/", "one 500 on /comment/: %s" % errs)
    check(sum(x["status"] in ("200", "302") for x in rows) == 15, "all others OK")
    check_http_timing(rows, PB + "/wsgi_drum.pcap.tshark_http.tsv")
    return r


@case
def http_minitwit(b):
    r = Run(b, [PB + "/http_minitwit.pcap"], {"http": "80"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 3, "3 on port 80, got %d" % len(rows))
    check([x["status"] for x in rows] == ["200", "304", "404"], [x["status"] for x in rows])
    check(all(x["client"] == "192.168.1.104:54742" and x["server"] == "192.168.1.110:80" for x in rows),
          "client/server")
    check([(x["req_bytes"], x["resp_bytes"]) for x in rows] == [("364", "1000"), ("471", "234"), ("289", "396")],
          "bytes 364/1000, 471/234, 289/396: %s" % [(x["req_bytes"], x["resp_bytes"]) for x in rows])
    r.cleanup()
    r = Run(b, [PB + "/http_minitwit.pcap"], {"http": "80,5000"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 6, "6 with port 5000, got %d" % len(rows))
    check_http_timing(rows, PB + "/http_minitwit.pcap.tshark_http.tsv")
    return r


@case
def http_10_connection_close(b):
    r = Run(b, [PB + "/http_10_connection_close.pcap"], {"http": "8000"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 1, "1 transaction, got %d" % len(rows))
    row = rows[0]
    check(row["status"] == "200", row["status"])
    check(row["client"] == "127.0.0.1:37885" and row["server"] == "127.0.0.1:8000", "endpoints")
    check(int(row["resp_bytes"]) == 11619, "body of 11422 bytes plus 197 of headers: %s" % row["resp_bytes"])
    # The body's length is known (Content-Length 11422), so the response ends with its last
    # byte, frame 52 at 0.192641 s. tshark's http.time (0.193015 s) runs to the FIN in frame 59
    # instead, so it is not the reference here: frame 52 - frame 4 is.
    t = our_times(row)
    check(t["end"] - t["start"] == 192461, "latency to the last body byte: %d us" % (t["end"] - t["start"]))
    return r


@case
def gap_in_stream(b):
    r = Run(b, [PB + "/gap_in_stream.pcap"], {"http": "8000"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 1, "1 transaction, got %d" % len(rows))
    check(rows[0]["status"] == "200", "status OK despite the gap: %s" % rows[0]["status"])
    check("gap-response" in rows[0]["note"], "packet loss in the response noted: %r" % rows[0]["note"])
    check(r.summary()["quality"]["tcp_gaps"] >= 1, "gap counted")
    return r


@case
def http_unmatched(b):
    r = Run(b, [PB + "/http_unmatched.pcap"], {"http": "8080"}).ok()
    rows = r.table("http.csv")
    lone = [x for x in rows if x["status"] == "404"]
    check(len(lone) == 1 and "no-request" in lone[0]["note"] and lone[0]["method"] == "",
          "the lone 404 is an unmatched response: %s" % lone)
    ok = [x for x in rows if x["status"] == "200"]
    check(len(ok) == 1 and ok[0]["route"] == "/someotherthing", "GET /someotherthing -> 200")
    check(abs(float(ok[0]["latency_ms"]) - 502) < 1, "0.502 s: %s" % ok[0]["latency_ms"])
    pending = [x for x in rows if "no-response" in x["note"]]
    check(len(pending) == 1 and pending[0]["route"] == "/something", "lone GET /something kept as no-response")
    check(len(rows) == 3, "3 rows, got %d" % len(rows))
    q = r.summary()["quality"]
    check(q["http_unmatched_responses"] == 1 and q["http_unmatched_requests"] == 1, "counted")
    return r


@case
def http_unmatched_timeout(b):
    r = Run(b, [PB + "/http_unmatched_timeout.pcap"], {"http": "8080"}).ok()
    rows = r.table("http.csv")
    un = [x for x in rows if x["route"] == "/something" and "no-response" in x["note"]]
    check(len(un) == 1, "GET /something unmatched request: %s" % rows)
    return r


@case
def http_over_vlan(b):
    r = Run(b, [PB + "/http_over_vlan.pcap"], {"http": "8080"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 1 and rows[0]["method"] == "GET" and rows[0]["route"] == "/jpetstore/",
          "GET /jpetstore/ over 802.1Q: %s" % rows)
    return r


@case
def http_url_params(b):
    r = Run(b, [PB + "/http_url_params.pcap"]).ok()
    rows = r.table("http.csv")
    check(len(rows) == 1 and rows[0]["route"] == "/dashboard/transactions", "route without query: %s" % rows)
    text = r.all_output_text()
    check("packetbeat" not in text and "192.35.243.1" not in text, "no query value in any output")
    check_http_timing(rows, PB + "/http_url_params.pcap.tshark_http.tsv")
    return r


@case
def http_post(b):
    r = Run(b, [PB + "/http_post.pcap"]).ok()
    rows = r.table("http.csv")
    check(len(rows) == 1 and rows[0]["method"] == "POST" and rows[0]["route"] == "/register", "POST /register")
    check(rows[0]["status"] == "404", rows[0]["status"])
    text = r.all_output_text()
    check("monica" not in text and "anklamer" not in text, "no form value in any output")
    return r


@case
def hide_secrets(b):
    for f in ("hide_secret_GET.pcap", "hide_secret_POST.pcap"):
        r = Run(b, [PB + "/" + f]).ok()
        rows = r.table("http.csv")
        check(len(rows) == 1 and rows[0]["route"] == "/login", "%s: /login" % f)
        check("secret" not in r.all_output_text(), "%s: 'secret' appears nowhere" % f)
        r.cleanup()
    return None


@case
def http_basicauth(b):
    r = Run(b, [PB + "/http_basicauth.pcap"], {"http": "80"}).ok()
    rows = r.table("http.csv")
    check(len(rows) == 1 and rows[0]["status"] == "200" and rows[0]["route"] == "/", "GET / -> 200")
    check(rows[0]["req_bytes"] == "130", "client.bytes 130, got %s" % rows[0]["req_bytes"])
    check(rows[0]["resp_bytes"] == "1591", "server.bytes 1591, got %s" % rows[0]["resp_bytes"])
    t = our_times(rows[0])
    check(t["resp_start"] - t["start"] == 18341, "event.duration 18,341 us (first->first), got %d"
          % (t["resp_start"] - t["start"]))
    text = r.all_output_text()
    check("simplesimon" not in text and "Basic" not in text, "no credentials in any output")
    return r


@case
def http_misc_single(b):
    for f, port, status in (("http_realip.pcap", "8002", "200"), ("http_x_forwarded_for.pcap", "80", "301"),
                            ("wsgi_loopback.pcap", "8888", "200"), ("http_get_2k_file.pcap", "8000", "200"),
                            ("http_post_json.pcap", "9200", "200")):
        r = Run(b, [PB + "/" + f], {"http": port}).ok()
        rows = r.table("http.csv")
        check(len(rows) == 1, "%s: 1 transaction, got %d" % (f, len(rows)))
        check(rows[0]["status"] == status, "%s: status %s, got %s" % (f, status, rows[0]["status"]))
        if f == "wsgi_loopback.pcap":
            # HTTP/1.0 without Content-Length: the body ends at the FIN. Every frame is in the
            # file twice; the first copies count. The response's last byte is in frame 28
            # (3.394871 s); tshark's http.time runs to the FIN (frame 32, 3.396776 s), so the
            # reference is frame 28 - frame 7 (the request, 0.000086 s) = 3.394785 s.
            t = our_times(rows[0])
            check(t["end"] - t["req_end"] == 3394785,
                  "last body byte - request: %d us" % (t["end"] - t["req_end"]))
            check(rows[0]["resp_bytes"] == "38534", "close-delimited body counted: %s" % rows[0]["resp_bytes"])
        else:
            check_http_timing(rows, PB + "/" + f + ".tshark_http.tsv")
        r.cleanup()
    return None


@case
def tls_is_not_http(b):
    r = Run(b, [PB + "/http2-16-ssl.pcap"], {"http": "443"}).ok()
    check(len(r.table("http.csv")) == 0, "TLS is not decoded as HTTP/1")
    check(r.summary()["quality"]["http_parse_errors"] >= 1, "counted as a parse error")
    return r


# ---- bad input ----

@case
def bad_inputs(b):
    tmp = tempfile.mkdtemp(prefix="tp-bad-")
    try:
        out = os.path.join(tmp, "out")
        def analyze(path):
            return subprocess.run([b, "analyze", "-q", "-o", out, path], capture_output=True, text=True,
                                  timeout=60)
        p = analyze(os.path.join(tmp, "missing.pcap"))
        check(p.returncode == 2 and "missing.pcap" in p.stderr, "missing file: exit 2 naming it: %s" % p.stderr)
        check(not os.path.exists(out), "nothing written for a missing file")
        junk = os.path.join(tmp, "junk.pcap")
        with open(junk, "wb") as f:
            f.write(b"this is not a capture at all\n" * 10)
        p = analyze(junk)
        check(p.returncode == 2 and "junk.pcap" in p.stderr, "non-pcap: exit 2: %s" % p.stderr)
        check(not os.path.exists(out), "nothing written for a non-pcap file")
        # link type 147 (DLT_USER0): a valid pcap header we do not decode
        user0 = os.path.join(tmp, "user0.pcap")
        with open(user0, "wb") as f:
            f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000093000000"))
        p = analyze(user0)
        check(p.returncode == 2 and "link type" in p.stderr, "unsupported link type: exit 2: %s" % p.stderr)
        # truncated mid-record: analyse what is there, say where it ended, exit 0
        src = PB + "/mongo_3.0_session.pcap"
        with open(src, "rb") as f:
            data = f.read()
        cut = os.path.join(tmp, "cut.pcap")
        with open(cut, "wb") as f:
            f.write(data[: len(data) // 2 + 7])
        p = analyze(cut)
        check(p.returncode == 0, "truncated file: exit 0: %s" % p.stderr)
        check("truncated" in p.stderr and "cut.pcap" in p.stderr, "says where it ended: %s" % p.stderr)
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)
        check(s["input_error"] and "byte" in s["input_error"], "summary says where: %s" % s["input_error"])
        check(0 < s["mongo"]["count"] < 24, "the first half analysed: %d" % s["mongo"]["count"])
        p = subprocess.run([b, "analyze", "--http-ports", "0,x", PB + "/http_post.pcap"], capture_output=True,
                           text=True)
        check(p.returncode == 2 and "--http-ports" in p.stderr, "bad option named: %s" % p.stderr)
        p = subprocess.run([b, "analyze", "--frobnicate", PB + "/http_post.pcap"], capture_output=True, text=True)
        check(p.returncode == 2 and "frobnicate" in p.stderr, "unknown option named: %s" % p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "tierprobe"))
    ap.add_argument("-k", default="")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    failed = 0
    ran = 0
    for fn in CASES:
        if a.k and a.k not in fn.__name__:
            continue
        ran += 1
        try:
            r = fn(binary)
            if r is not None:
                r.cleanup()
            print("ok   golden %s" % fn.__name__)
        except Failure as e:
            failed += 1
            print("FAIL golden %s: %s" % (fn.__name__, e))
        except Exception as e:  # a crash of the harness is a failure too, with its reason
            failed += 1
            print("FAIL golden %s: %s: %s" % (fn.__name__, type(e).__name__, e))
    print("golden: %d/%d passed" % (ran - failed, ran))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
