#!/usr/bin/python3
"""Golden tests over the project's own captures (tests/captures/, made by make_captures.sh).

Same style as run.py (whose helpers this reuses): run `tierprobe analyze`, read http.csv /
mongo.csv / summary.json, assert the rows that matter, one case per capture. Timing is
checked against the tshark 4.0.17 references stored next to each capture (*.tshark.pdus.tsv,
*.tshark_http.tsv, written by tests/captures/tshark_ref.py) to the microsecond, and MongoDB
message sizes against tshark's mongo.message_length.

Usage: tests/golden/own.py --bin build/tierprobe [-k NAME]
"""
import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import Failure, Run, check, commands, our_times, run_cases, ROOT  # noqa: E402

CAPS = os.path.join(ROOT, "tests", "captures")
HTTP_PORT, MONGO_PORT = "8000", "27017"
PORTS = {"http": HTTP_PORT, "mongo": MONGO_PORT}


def cap(name):
    return os.path.join(CAPS, name)


# ---- tshark references -------------------------------------------------------------------

def tshark_mongo(pcap):
    """(pdus, pairs) from FILE.tshark.pdus.tsv: pdus maps (stream, request_id) of requests and
    ("frame", n) of every PDU to msg_len; pairs: list of dicts in capture order."""
    pdus, pairs, reply_frames = {}, [], set()
    with open(pcap + ".tshark.pdus.tsv", encoding="utf-8") as f:
        for line in f:
            v = line.rstrip("\n").split("\t")
            if line.startswith("# pair\t"):
                pairs.append({"stream": int(v[1]), "rid": int(v[2]), "req_op": v[3],
                              "req_frame": int(v[4]), "resp_frame": int(v[5]),
                              "complete": round(float(v[7]) * 1e6),
                              "first": round(float(v[8]) * 1e6)})
            elif not line.startswith("#"):
                if v[6].endswith(":" + MONGO_PORT):  # requests by id (a reply may reuse an id)
                    pdus[(int(v[4]), int(v[10]) & 0xFFFFFFFF)] = int(v[7])
                else:
                    reply_frames.add(int(v[0]))
                pdus.setdefault(("frame", int(v[0])), int(v[7]))
    # A pair whose "request" is itself a reply is an exhaust batch answering the one before.
    for p in pairs:
        p["continues"] = p["req_op"] == "OP_REPLY" or p["req_frame"] in reply_frames
    return pdus, pairs


def check_mongo_timing(rows, pcap):
    """Every answered row: latency complete->complete and first->first equal tshark's pair
    to the microsecond, and req_bytes / resp_bytes equal tshark's message lengths. An exhaust
    batch after the first is timed from the previous reply, as tshark pairs it."""
    pdus, pairs = tshark_mongo(pcap)
    lens = {rid: n for (s, rid), n in pdus.items() if s != "frame"}
    checked = 0
    exhaust_pairs = [p for p in pairs if p["continues"]]
    for r in rows:
        t = our_times(r)
        if t["end"] is None:
            continue
        rid = int(r["request_id"]) & 0xFFFFFFFF
        complete, first = t["end"] - t["req_end"], t["resp_start"] - t["start"]
        if "exhaust" in r["note"] and r["req_bytes"] == "0":
            check(exhaust_pairs, "exhaust row %s but tshark saw no reply-to-reply pair" % r["id"])
            cand = [exhaust_pairs.pop(0)]
        else:
            cand = [p for p in pairs if p["rid"] == rid and not p["continues"]]
            check(cand, "request %d not paired by tshark" % rid)
            check(int(r["req_bytes"]) == lens[rid], "request %d: %s bytes, tshark %d"
                  % (rid, r["req_bytes"], lens[rid]))
        check(any(abs(complete - p["complete"]) <= 1 and abs(first - p["first"]) <= 1 for p in cand),
              "request %d (row %s): ours complete %d us / first-seg %d us, tshark %s"
              % (rid, r["id"], complete, first, cand))
        resp_len = pdus[("frame", cand[0]["resp_frame"])]
        check(int(r["resp_bytes"]) == resp_len, "request %d: reply of %s bytes, tshark %d"
              % (rid, r["resp_bytes"], resp_len))
        checked += 1
    check(checked > 0, "no timed pair to compare")
    return checked


def tshark_http_pairs(pcap):
    """Per tcp.stream, the (request, response) pairs in order - HTTP/1.1 answers in order, so
    the k-th response answers the k-th request even where tshark leaves http.time empty
    (pipelining) - as (method, uri, status, latency_us) with latency = response frame time -
    request frame time (the frames where each message completes)."""
    with open(pcap + ".tshark_http.tsv", encoding="utf-8") as f:
        lines = [l.rstrip("\n").split("\t") for l in f if not l.startswith("#")]
    header, body = lines[0], lines[1:]
    idx = {name: i for i, name in enumerate(header)}
    reqs, resps = {}, {}
    for v in body:
        v += [""] * (len(header) - len(v))
        stream, t = int(v[idx["tcp.stream"]]), round(float(v[idx["frame.time_relative"]]) * 1e6)
        if v[idx["http.request.method"]]:
            for m, u in zip(v[idx["http.request.method"]].split(","), v[idx["http.request.uri"]].split(",")):
                reqs.setdefault(stream, []).append((m, u, t))
        for code in filter(None, v[idx["http.response.code"]].split(",")):
            if not code.startswith("1"):
                resps.setdefault(stream, []).append((code, t, v[idx["http.time"]]))
    out = {}
    for s, rq in reqs.items():
        rs = resps.get(s, [])
        check(len(rs) == len(rq), "tshark stream %d: %d requests, %d responses" % (s, len(rq), len(rs)))
        pairs = []
        for (m, u, tq), (code, tr, http_time) in zip(rq, rs):
            lat = tr - tq
            if http_time:  # where tshark did pair them, it agrees with the in-order pairing
                check(abs(round(float(http_time) * 1e6) - lat) <= 1, "tshark http.time %s vs %d us"
                      % (http_time, lat))
            pairs.append((m, u, code, lat))
        out[s] = pairs
    return out


def check_http(rows, pcap, expect):
    """rows, grouped by connection in order of appearance, are exactly `expect` (a list per
    connection of (method, route, status)) and each one's response complete - request
    complete equals tshark's to the microsecond."""
    ref = tshark_http_pairs(pcap)
    conns = []
    for r in rows:
        if not conns or conns[-1][0] != r["client"]:
            conns.append((r["client"], []))
        conns[-1][1].append(r)
    got = [[(r["method"], r["route"], r["status"]) for r in rs] for _, rs in conns]
    check(got == expect, "transactions per connection:\n got  %s\n want %s" % (got, expect))
    streams = [ref[s] for s in sorted(ref)]
    check(len(streams) == len(conns), "%d connections, tshark %d" % (len(conns), len(streams)))
    for (client, rs), pairs in zip(conns, streams):
        check([p[2] for p in pairs] == [r["status"] for r in rs], "statuses vs tshark on %s" % client)
        for r, p in zip(rs, pairs):
            t = our_times(r)
            check(t["end"] is not None and t["req_end"] is not None, "row %s complete" % r["id"])
            lat = t["end"] - t["req_end"]
            check(abs(lat - p[3]) <= 1, "%s %s on %s: %d us, tshark %d us" % (r["method"], r["route"],
                                                                           client, lat, p[3]))
    return len(rows)


def pcap_frames(path):
    """(link type, [frame bytes]) of a classic little-endian pcap file, read directly."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    check(data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"), "%s: little-endian pcap" % path)
    linktype = struct.unpack_from("<I", data, 20)[0]
    frames, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        frames.append(data[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    return linktype, frames


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def no_unmatched(r):
    q = r.summary()["quality"]
    for k in ("mongo_unmatched_requests", "mongo_unmatched_replies", "http_unmatched_requests",
              "http_unmatched_responses", "tcp_gaps", "mongo_parse_errors", "http_parse_errors",
              "mongo_decompress_errors"):
        check(q[k] == 0, "quality %s = %s, expected 0" % (k, q[k]))


# ---- HTTP -----------------------------------------------------------------------------------

@case
def http_pipelined(b):
    r = Run(b, [cap("http_pipelined.pcap")], PORTS).ok()
    rows = r.table("http.csv")
    check(len(rows) == 7, "4 pipelined + 3 keep-alive, got %d" % len(rows))
    check_http(rows, cap("http_pipelined.pcap"), [
        [("GET", "/items/:id", "200"), ("GET", "/stream", "200"), ("POST", "/items", "201"),
         ("GET", "/missing", "404")],
        [("GET", "/items/:id", "200"), ("GET", "/stream", "200"), ("GET", "/nope", "404")]])
    pipe = rows[:4]
    # The four requests left in one segment: they all start (and end) at its time.
    check(len({x["start"] for x in pipe}) == 1 and len({x["req_end"] for x in pipe}) == 1,
          "pipelined requests share their segment's time: %s" % [x["start"] for x in pipe])
    check(sum(int(x["req_bytes"]) for x in pipe) == 377, "the segment's 377 bytes split among them: %s"
          % [x["req_bytes"] for x in pipe])
    check([x["resp_bytes"] for x in pipe] == ["169", "197", "166", "173"],
          "response sizes (197: chunked): %s" % [x["resp_bytes"] for x in pipe])
    check([x["resp_bytes"] for x in rows[4:]] == ["169", "197", "173"], "curl response sizes")
    # Responses end in order.
    ends = [our_times(x)["end"] for x in pipe]
    check(ends == sorted(ends), "pipelined responses end in order")
    no_unmatched(r)
    check(r.summary()["http"]["count"] == 7, "summary http.count")
    return r


@case
def http_ipv6(b):
    r = Run(b, [cap("http_ipv6.pcap")], PORTS).ok()
    rows = r.table("http.csv")
    check(len(rows) == 6, "2 curl + 4 pipelined, got %d" % len(rows))
    check(all(x["client"].startswith("[::1]:") and x["server"] == "[::1]:8000" for x in rows),
          "IPv6 endpoints printed [::1]:port: %s" % [(x["client"], x["server"]) for x in rows])
    check_http(rows, cap("http_ipv6.pcap"), [
        [("GET", "/items/:id", "200"), ("GET", "/stream", "200")],
        [("GET", "/items/:id", "200"), ("GET", "/stream", "200"), ("POST", "/items", "201"),
         ("GET", "/missing", "404")]])
    no_unmatched(r)
    return r


@case
def http_vlan(b):
    path = cap("http_vlan.pcap")
    check(os.path.exists(path), "http_vlan.pcap missing (make_captures.sh)")
    linktype, frames = pcap_frames(path)
    check(linktype == 1 and frames and all(f[12:14] == b"\x81\x00" and f[14:16] == b"\x00\x64"
                                           for f in frames),
          "every frame Ethernet + 802.1Q VLAN 100 (link type %d)" % linktype)
    r = Run(b, [path], PORTS).ok()
    rows = r.table("http.csv")
    check(len(rows) == 2, "2 transactions over 802.1Q, got %d" % len(rows))
    check(all(x["server"] == "10.231.100.2:8000" and x["client"].startswith("10.231.100.1:") for x in rows),
          "VLAN endpoints: %s" % [(x["client"], x["server"]) for x in rows])
    check_http(rows, path, [[("GET", "/items/:id", "200"), ("GET", "/stream", "200")]])
    no_unmatched(r)
    return r


@case
def any_sll2(b):
    linktype, frames = pcap_frames(cap("any_sll2.pcap"))
    check(linktype == 276, "LINUX_SLL2 (276), got link type %d" % linktype)
    r = Run(b, [cap("any_sll2.pcap")], PORTS).ok()
    http = r.table("http.csv")
    check(len(http) == 1, "1 HTTP transaction on Linux cooked v2, got %d" % len(http))
    check_http(http, cap("any_sll2.pcap"), [[("GET", "/items/:id", "200")]])
    rows = r.table("mongo.csv")
    check(len(rows) == 6, "6 MongoDB transactions, got %d" % len(rows))
    c = commands(rows)
    check(c == {"ismaster": 2, "insert": 1, "find": 2, "endsessions": 1}, "commands: %s" % c)
    check(all(x["server"] == "127.0.0.1:27017" for x in rows), "server endpoint")
    check(check_mongo_timing(rows, cap("any_sll2.pcap")) == 6, "all 6 timed")
    no_unmatched(r)
    return r


# ---- MongoDB ------------------------------------------------------------------------------

@case
def mongo_kind1(b):
    r = Run(b, [cap("mongo_kind1.pcap")], PORTS).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 8, "8 transactions, got %d" % len(rows))
    check([x["command"] for x in rows] == ["ismaster", "ismaster", "insert", "find", "update", "find",
                                           "delete", "endSessions"], [x["command"] for x in rows])
    ins = rows[2]
    check(ins["opcode"] == "OP_MSG" and ins["db"] == "shop" and ins["collection"] == "items",
          "insert_many: OP_MSG shop.items: %s" % ins)
    # 284 bytes: the kind-0 body plus the kind-1 'documents' sequence of 5 documents.
    check(ins["req_bytes"] == "284" and ins["ok"] == "1" and ins["docs"] == "0", "insert row: %s" % ins)
    check([x["docs"] for x in rows if x["command"] == "find"] == ["3", "1"], "find docs 3 then 1")
    check(all(x["ok"] == "1" and x["error_code"] == "" for x in rows), "all ok")
    check(check_mongo_timing(rows, cap("mongo_kind1.pcap")) == 8, "all 8 timed")
    no_unmatched(r)
    check(r.summary()["mongo"]["count"] == 8, "summary mongo.count")
    return r


@case
def mongo_more_to_come(b):
    r = Run(b, [cap("mongo_more_to_come.pcap")], PORTS).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 10, "10 transactions, got %d" % len(rows))
    mtc = [x for x in rows if "more-to-come" in x["note"]]
    check([x["command"] for x in mtc] == ["insert", "insert", "insert", "update", "delete"],
          "w=0 insert_one x3, update_one, delete_one noted more-to-come: %s" % [x["command"] for x in mtc])
    for x in mtc:
        check(x["resp_start"] == "" and x["end"] == "" and x["latency_ms"] == "" and x["resp_bytes"] == ""
              and x["docs"] == "" and x["ok"] == "", "no reply, empty reply fields: %s" % x)
        check(x["req_bytes"] != "" and x["collection"] == "events", "request side kept: %s" % x)
    # pymongo sends w=0 insert_many (ordered) acknowledged: it has a reply.
    answered = [x for x in rows if "more-to-come" not in x["note"]]
    check([x["command"] for x in answered] == ["ismaster", "ismaster", "insert", "find", "endSessions"],
          [x["command"] for x in answered])
    check(answered[3]["docs"] == "6", "find sees the 6 documents the w=0 writes left")
    check(check_mongo_timing(rows, cap("mongo_more_to_come.pcap")) == 5, "the 5 answered timed")
    no_unmatched(r)
    return r


@case
def mongo_exhaust(b):
    r = Run(b, [cap("mongo_exhaust.pcap")], PORTS).ok()
    rows = r.table("mongo.csv")
    finds = [x for x in rows if x["command"] == "find"]
    check(finds and finds[0]["opcode"] == "OP_QUERY", "legacy OP_QUERY exhaust find: %s" % finds)
    # 7 documents in batches of 3: three OP_REPLY, the 2nd and 3rd each answering the one before.
    check([x["docs"] for x in finds] == ["3", "3", "1"],
          "one transaction per exhaust batch, docs 3/3/1: got %s" % [x["docs"] for x in finds])
    check(all("exhaust" in x["note"] for x in finds), "noted exhaust: %s" % [x["note"] for x in finds])
    check(len(rows) == 7, "2 ismaster, insert, 3 find batches, endSessions: got %d" % len(rows))
    check_mongo_timing(rows, cap("mongo_exhaust.pcap"))
    no_unmatched(r)
    return r


@case
def mongo_op_msg_exhaust(b):
    # The npm driver's server monitor (streaming protocol): an awaitable hello, exhaustAllowed,
    # answered every 500 ms heartbeat by moreToCome replies, each answering the previous one.
    r = Run(b, [cap("mongo_op_msg_exhaust.pcap")], PORTS).ok()
    rows = r.table("mongo.csv")
    mon = [x for x in rows if "monitor" in x["note"]]
    check(len(mon) == 4 and all(x["command"] == "hello" and "exhaust" in x["note"] for x in mon),
          "4 monitor rows (3 replies and the hello still waiting at close): %s"
          % [(x["command"], x["note"]) for x in mon])
    timed = [x for x in mon if x["latency_ms"]]
    check(len(timed) == 3 and all(490 <= float(x["latency_ms"]) <= 520 for x in timed),
          "one reply per 500 ms heartbeat: %s" % [x["latency_ms"] for x in timed])
    check([x["req_bytes"] for x in timed] == [timed[0]["req_bytes"], "0", "0"] and timed[0]["req_bytes"] != "0",
          "the first reply pairs with the request, the next ones with the previous reply")
    check("no-response" in mon[-1]["note"], "the stream ends on a hello still waiting")
    app = [x["command"] for x in rows if "monitor" not in x["note"]]
    check(app.count("find") == 2 and app.count("insert") == 1, "the application's calls: %s" % app)
    s = r.summary()
    check(s["quality"]["mongo_monitor_calls"] == 4, "counted: %s" % s["quality"]["mongo_monitor_calls"])
    check(s["quality"]["mongo_unmatched_requests"] == 0, "the waiting hello is not an unmatched request")
    # The 500 ms waits are not MongoDB latency: the slowest figure is a handshake's few ms.
    check(s["mongo"]["latency"]["max_ms"] < 50, "max MongoDB latency %s" % s["mongo"]["latency"])
    check(check_mongo_timing(rows, cap("mongo_op_msg_exhaust.pcap")) == 11, "11 answered rows timed")
    return r


def compressed_case(b, name):
    r = Run(b, [cap(name)], PORTS).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 7, "7 transactions, got %d" % len(rows))
    check([x["command"] for x in rows] == ["ismaster", "ismaster", "insert", "insert", "find", "find",
                                           "endSessions"], [x["command"] for x in rows])
    # The handshake is never compressed; everything after it is OP_COMPRESSED.
    check([("compressed" in x["note"]) for x in rows] == [False, False] + [True] * 5,
          "compressed notes: %s" % [x["note"] for x in rows])
    check(all(x["opcode"] == "OP_MSG" for x in rows[2:]), "inner opcode OP_MSG")
    check([x["docs"] for x in rows if x["command"] == "find"] == ["2", "1"], "find docs 2, 1")
    check(all(x["collection"] == "blobs" and x["db"] == "shop" for x in rows[2:6]), "shop.blobs decoded")
    check(all(x["ok"] == "1" for x in rows), "all ok")
    check(check_mongo_timing(rows, cap(name)) == 7, "all 7 timed")
    no_unmatched(r)
    return r


@case
def mongo_zlib(b):
    return compressed_case(b, "mongo_zlib.pcap")


@case
def mongo_zstd(b):
    return compressed_case(b, "mongo_zstd.pcap")


@case
def mongo_libmongoc(b):
    r = Run(b, [cap("mongo_libmongoc.pcap")], PORTS).ok()
    rows = r.table("mongo.csv")
    check([(x["opcode"], x["command"]) for x in rows] ==
          [("OP_QUERY", "isMaster"), ("OP_MSG", "serverStatus"), ("OP_MSG", "endSessions")],
          [(x["opcode"], x["command"]) for x in rows])
    check(["compressed" in x["note"] for x in rows] == [False, True, True], "zstd after the handshake")
    check(rows[1]["ok"] == "1" and rows[1]["db"] == "admin", "serverStatus ok on admin")
    check(check_mongo_timing(rows, cap("mongo_libmongoc.pcap")) == 3, "all 3 timed")
    no_unmatched(r)
    return r


@case
def mongo_ipv6(b):
    r = Run(b, [cap("mongo_ipv6.pcap")], PORTS).ok()
    rows = r.table("mongo.csv")
    check(len(rows) == 6, "6 transactions, got %d" % len(rows))
    check(all(x["client"].startswith("[::1]:") and x["server"] == "[::1]:27017" for x in rows),
          "IPv6 endpoints: %s" % [(x["client"], x["server"]) for x in rows])
    check(commands(rows) == {"ismaster": 2, "insert": 1, "find": 2, "endsessions": 1}, commands(rows))
    check(check_mongo_timing(rows, cap("mongo_ipv6.pcap")) == 6, "all 6 timed")
    no_unmatched(r)
    return r


@case
def interrupted_analysis(b):
    # Ctrl-C on a long analysis keeps its work. The capture comes through a FIFO whose writer
    # then stays silent, so analyze is blocked reading when SIGINT arrives: it must stop the read,
    # analyse every packet it had, write whole files, say so, and exit 130.
    full = Run(b, [cap("http_pipelined.pcap")], PORTS).ok()
    want = [(x["method"], x["route"], x["status"]) for x in full.table("http.csv")]
    full.cleanup()
    tmp = tempfile.mkdtemp(prefix="tp-golden-int-")
    try:
        fifo, out = os.path.join(tmp, "in.pcap"), os.path.join(tmp, "out")
        os.mkfifo(fifo)
        p = subprocess.Popen([b, "analyze", "-q", "-o", out, "--http-ports", PORTS["http"], fifo],
                             stderr=subprocess.PIPE, text=True)
        try:
            with open(fifo, "wb") as w, open(cap("http_pipelined.pcap"), "rb") as src:
                w.write(src.read())
                w.flush()
                time.sleep(1.0)  # the whole file is in the pipe; the writer stays open
                p.send_signal(signal.SIGINT)
                rc = p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = p.stderr.read()
        check(rc == 130, "exit %s after SIGINT, stderr: %s" % (rc, err))
        check("interrupted by SIGINT after 52 packets" in err, "says where it stopped: %s" % err)
        with open(os.path.join(out, "summary.txt"), encoding="utf-8") as f:
            check("input ended early: interrupted by SIGINT" in f.read(), "summary.txt says so")
        with open(os.path.join(out, "http.csv"), newline="", encoding="utf-8") as f:
            got = [(x["method"], x["route"], x["status"]) for x in csv.DictReader(f)]
        check(got == want, "every transaction of the packets read: %s, want %s" % (got, want))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None


if __name__ == "__main__":
    sys.exit(run_cases(CASES, "own"))
