#!/usr/bin/python3
"""tshark references for tests/golden/own.py, in the format of the peer captures' references.

  tshark_ref.py mongo FILE.pcap PORT   -> FILE.pcap.tshark.pdus.tsv
      one line per MongoDB PDU, then "# pair" lines: stream, request_id, req_op, req_frame,
      resp_frame, resp_op, latency_complete_s (reply's last segment - request's last segment),
      latency_firstseg_s (first segment - first segment). A reply pairs with the earlier
      message of its stream whose requestID is its responseTo (so an exhaust reply pairs with
      the reply before it, as tshark's own mongo.response_in does).
  tshark_ref.py http FILE.pcap PORT    -> FILE.pcap.tshark_http.tsv (http.time per response)

Stored next to the captures so the golden tests do not depend on the tshark installed.
"""
import os
import subprocess
import sys

OPNAMES = {1: "OP_REPLY", 2004: "OP_QUERY", 2005: "OP_GET_MORE", 2012: "OP_COMPRESSED",
           2013: "OP_MSG", 2010: "OP_COMMAND", 2011: "OP_COMMANDREPLY"}


def tshark(args):
    return subprocess.run(["tshark"] + args, capture_output=True, text=True, check=True,
                          timeout=120).stdout


def version():
    return tshark(["--version"]).splitlines()[0].split()[2]


def mongo(path, port):
    times = {}
    for line in tshark(["-r", path, "-T", "fields", "-e", "frame.number", "-e",
                        "frame.time_relative"]).splitlines():
        n, t = line.split("\t")
        times[int(n)] = float(t)
    fields = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst",
              "ipv6.dst", "tcp.dstport", "tcp.segment", "mongo.message_length",
              "mongo.request_id", "mongo.response_to", "mongo.opcode"]
    args = ["-r", path, "-d", "tcp.port==%s,mongo" % port, "-Y", "mongo", "-T", "fields",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        args += ["-e", f]
    cmdline = "tshark " + " ".join(args).replace(path, os.path.basename(path))
    out = ["# tshark %s : %s" % (version(), cmdline),
           "#frame\tt_rel\tfirst_seg_frame\tt_first_seg\tstream\tsrc\tdst\tmsg_len\topcode\t"
           "opname\trequest_id\tresponse_to"]
    pdus = []
    for line in tshark(args).splitlines():
        v = line.split("\t")
        frame, stream = int(v[0]), int(v[1])
        src = ("[%s]" % v[3] if v[3] else v[2]) + ":" + v[4]
        dst = ("[%s]" % v[6] if v[6] else v[5]) + ":" + v[7]
        segs = [int(x) for x in v[8].split(",")] if v[8] else []
        lens, rids, rtos, ops = (v[i].split(",") for i in (9, 10, 11, 12))
        for k in range(len(rids)):
            # A PDU reassembled from several segments starts in the first of them; several
            # PDUs in one frame each start in it.
            first = segs[0] if (segs and len(rids) == 1) else frame
            op = int(ops[k], 0)
            p = (frame, first, stream, src, dst, int(lens[k], 0), op, int(rids[k], 0), int(rtos[k], 0))
            pdus.append(p)
            out.append("%d\t%.6f\t%d\t%.6f\t%d\t%s\t%s\t%d\t%d\t%s\t%d\t%d" % (
                frame, times[frame], first, times[first], stream, src, dst, p[5], op,
                OPNAMES.get(op, str(op)), p[7], p[8]))
    out.append("# pairs: stream\trequest_id\treq_op\treq_frame\tresp_frame\tresp_op\t"
               "latency_complete_s\tlatency_firstseg_s")
    npairs = 0
    for i, r in enumerate(pdus):
        if r[8] == 0:
            continue
        reqs = [q for q in pdus[:i] if q[2] == r[2] and q[7] == r[8]]
        if not reqs:
            continue
        q = reqs[-1]
        npairs += 1
        out.append("# pair\t%d\t%d\t%s\t%d\t%d\t%s\t%.6f\t%.6f" % (
            r[2], q[7] & 0xFFFFFFFF, OPNAMES.get(q[6], q[6]), q[0], r[0], OPNAMES.get(r[6], r[6]),
            times[r[0]] - times[q[0]], times[r[1]] - times[q[1]]))
    out.append("# summary: pdus=%d paired=%d" % (len(pdus), npairs))
    with open(path + ".tshark.pdus.tsv", "w") as f:
        f.write("\n".join(out) + "\n")


def http(path, port):
    args = ["-r", path, "-d", "tcp.port==%s,http" % port, "-Y", "http", "-T", "fields",
            "-E", "header=y"]
    for f in ("frame.number", "frame.time_relative", "tcp.stream", "tcp.srcport", "tcp.dstport",
              "http.request.method", "http.request.uri", "http.request.version",
              "http.response.code", "http.response.phrase", "http.content_length_header",
              "http.transfer_encoding", "http.request_in", "http.time"):
        args += ["-e", f]
    text = tshark(args)
    with open(path + ".tshark_http.tsv", "w") as f:
        f.write("# tshark %s : tshark %s\n" % (version(), " ".join(args).replace(
            path, os.path.basename(path))))
        f.write(text)


if __name__ == "__main__":
    {"mongo": mongo, "http": http}[sys.argv[1]](sys.argv[2], sys.argv[3])
