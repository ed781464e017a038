#!/usr/bin/python3
"""Tests of the MongoDB-wire test server, through pymongo, raw sockets and libmongoc.

Run: /usr/bin/python3 tests/mongo_server/test_mongo_server.py
Each class starts its own server on a free 127.0.0.1 port and always stops it.
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

import bson
import pymongo
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "mongo_server.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerCase(unittest.TestCase):
    """Starts mongo_server.py with SERVER_ARGS for the class; stops it whatever happens."""
    SERVER_ARGS = []
    HOST = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.proc = subprocess.Popen([sys.executable, SERVER, "--port", str(cls.port)]
                                    + cls.SERVER_ARGS, stderr=subprocess.PIPE)
        cls.addClassCleanup(cls._stop)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection((cls.HOST, cls.port), timeout=1).close()
                break
            except OSError:
                if cls.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("test server did not start: %s"
                                       % cls.proc.stderr.read().decode(errors="replace"))
                time.sleep(0.05)
        cls.client = cls.new_client()

    @classmethod
    def _stop(cls):
        if getattr(cls, "client", None):
            cls.client.close()
        cls.proc.terminate()
        try:
            cls.proc.wait(5)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait(5)
        cls.proc.stderr.close()

    @classmethod
    def new_client(cls, **kw):
        return pymongo.MongoClient("127.0.0.1", cls.port, serverSelectionTimeoutMS=5000, **kw)

    def status(self):
        return self.client.admin.command("serverStatus")

    # --- raw wire helpers ---------------------------------------------------------
    def raw_conn(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(s.close)
        return s

    @staticmethod
    def recv_frame(s):
        head = b""
        while len(head) < 16:
            chunk = s.recv(16 - len(head))
            if not chunk:
                raise EOFError
            head += chunk
        length, rid, resp_to, opcode = struct.unpack("<iiii", head)
        body = b""
        while len(body) < length - 16:
            body += s.recv(length - 16 - len(body))
        return rid, resp_to, opcode, body

    @staticmethod
    def op_msg(request_id, doc, flags=0, sequences=(), checksum=False):
        body = struct.pack("<I", flags | (1 if checksum else 0)) + b"\0" + bson.encode(doc)
        for ident, docs in sequences:
            payload = ident.encode() + b"\0" + b"".join(bson.encode(d) for d in docs)
            body += b"\x01" + struct.pack("<i", 4 + len(payload)) + payload
        if checksum:
            body += b"\0\0\0\0"  # value not checked by the server; the flag must be tolerated
        return struct.pack("<iiii", 16 + len(body), request_id, 0, 2013) + body

    @staticmethod
    def msg_reply_doc(body):
        flags = struct.unpack_from("<I", body)[0]
        assert body[4] == 0
        return flags, bson.decode(body[5:])


class TestCrud(ServerCase):
    def setUp(self):
        self.coll = self.client.crud[self._testMethodName]

    def test_insert_find_update_delete(self):
        self.coll.insert_one({"_id": 1, "name": "a", "n": 1})
        self.coll.insert_one({"_id": 2, "name": "b", "n": 2})
        self.assertEqual(self.coll.find_one({"_id": 2}), {"_id": 2, "name": "b", "n": 2})
        self.assertIsNone(self.coll.find_one({"_id": 99}))
        r = self.coll.update_one({"_id": 1}, {"$inc": {"n": 10}})
        self.assertEqual((r.matched_count, r.modified_count), (1, 1))
        self.assertEqual(self.coll.find_one({"_id": 1})["n"], 11)
        r = self.coll.update_one({"_id": 3}, {"$set": {"n": 3}}, upsert=True)
        self.assertEqual(r.upserted_id, 3)
        r = self.coll.replace_one({"_id": 2}, {"name": "bb"})
        self.assertEqual(self.coll.find_one({"_id": 2}), {"_id": 2, "name": "bb"})
        self.assertEqual(self.coll.delete_one({"_id": 1}).deleted_count, 1)
        self.assertEqual(self.coll.delete_many({}).deleted_count, 2)
        self.assertEqual(self.coll.count_documents({}), 0)

    def test_find_options_and_get_more(self):
        self.coll.insert_many([{"_id": i, "v": i % 7} for i in range(250)])
        before = self.status()["opcounters"]["getmore"]
        docs = list(self.coll.find({"v": {"$gte": 3}}, {"_id": 1}).sort("_id", -1).batch_size(40))
        expected = [{"_id": i} for i in range(249, -1, -1) if i % 7 >= 3]
        self.assertEqual(docs, expected)
        after = self.status()["opcounters"]["getmore"]
        self.assertEqual(after - before, -(-len(expected) // 40) - 1)
        page = list(self.coll.find().sort("_id", 1).skip(10).limit(5))
        self.assertEqual([d["_id"] for d in page], [10, 11, 12, 13, 14])
        self.assertEqual(sorted(self.coll.distinct("v")), list(range(7)))
        self.assertEqual(self.coll.count_documents({"v": 0}), 36)

    def test_large_batches_split_at_16mib(self):
        self.coll.insert_many([{"_id": i, "pad": "p" * 300000} for i in range(100)])  # ~30 MB
        g0 = self.status()["opcounters"]["getmore"]
        ids = [d["_id"] for d in self.coll.find({}, {"_id": 1, "pad": 1}).batch_size(1000)]
        self.assertEqual(ids, list(range(100)))
        self.assertGreaterEqual(self.status()["opcounters"]["getmore"] - g0, 1)
        self.coll.drop()

    def test_kill_cursors(self):
        self.coll.insert_many([{"_id": i} for i in range(30)])
        cur = self.coll.find().batch_size(5)
        next(cur)
        cid = cur.cursor_id
        self.assertTrue(cid)
        r = self.client.crud.command("killCursors", self.coll.name, cursors=[cid])
        self.assertEqual(r["cursorsKilled"], [cid])
        with self.assertRaises(OperationFailure) as cm:
            self.client.crud.command("getMore", cid, collection=self.coll.name)
        self.assertEqual(cm.exception.code, 43)

    def test_aggregate(self):
        self.coll.insert_many([{"k": "a", "x": 1}, {"k": "a", "x": 2}, {"k": "b", "x": 5}])
        out = list(self.coll.aggregate([{"$group": {"_id": "$k", "s": {"$sum": "$x"}}},
                                        {"$sort": {"_id": 1}}]))
        self.assertEqual(out, [{"_id": "a", "s": 3}, {"_id": "b", "s": 5}])

    def test_find_and_modify(self):
        self.coll.insert_one({"_id": 1, "n": 1})
        before = self.coll.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}})
        self.assertEqual(before, {"_id": 1, "n": 1})
        after = self.coll.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}},
                                              return_document=pymongo.ReturnDocument.AFTER)
        self.assertEqual(after, {"_id": 1, "n": 3})
        up = self.coll.find_one_and_update({"_id": 2}, {"$set": {"n": 9}}, upsert=True,
                                           return_document=pymongo.ReturnDocument.AFTER)
        self.assertEqual(up, {"_id": 2, "n": 9})
        raw = self.client.crud.command("findAndModify", self.coll.name, query={"_id": 5},
                                       update={"$set": {"n": 5}}, upsert=True)
        self.assertEqual(raw["lastErrorObject"]["upserted"], 5)
        self.assertFalse(raw["lastErrorObject"]["updatedExisting"])
        self.assertIsNone(raw["value"])
        gone = self.coll.find_one_and_delete({"_id": 1})
        self.assertEqual(gone, {"_id": 1, "n": 3})
        self.assertIsNone(self.coll.find_one({"_id": 1}))

    def test_insert_many_uses_document_sequences(self):
        before = self.status()["tierprobeTest"]["docSequences"]
        res = self.coll.insert_many([{"i": i} for i in range(20)])
        self.assertEqual(len(res.inserted_ids), 20)
        self.assertEqual(self.coll.count_documents({}), 20)
        self.assertGreaterEqual(self.status()["tierprobeTest"]["docSequences"] - before, 1)

    def test_raw_kind1_section_and_checksum_flag(self):
        s = self.raw_conn()
        s.sendall(self.op_msg(7, {"insert": "rawk1", "$db": "crud"},
                              sequences=[("documents", [{"_id": "x"}, {"_id": "y"}])],
                              checksum=True))
        _, resp_to, opcode, body = self.recv_frame(s)
        self.assertEqual((resp_to, opcode), (7, 2013))
        self.assertEqual(self.msg_reply_doc(body)[1], {"n": 2, "ok": 1.0})
        self.assertEqual(self.client.crud.rawk1.count_documents({}), 2)

    def test_more_to_come_gets_no_reply(self):
        s = self.raw_conn()
        s.sendall(self.op_msg(11, {"insert": "mtc", "$db": "crud", "documents": [{"_id": 1}]},
                              flags=2))
        s.sendall(self.op_msg(12, {"ping": 1, "$db": "admin"}))
        _, resp_to, _, body = self.recv_frame(s)
        self.assertEqual(resp_to, 12)  # the first reply answers the ping, not the insert
        self.assertEqual(self.client.crud.mtc.count_documents({}), 1)
        # pymongo's w=0 writes use moreToCome too.
        self.client.crud.get_collection("mtc", write_concern=pymongo.WriteConcern(w=0)) \
            .insert_one({"_id": 2})
        deadline = time.monotonic() + 5
        while self.client.crud.mtc.count_documents({}) != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self.client.crud.mtc.count_documents({}), 2)

    def test_legacy_exhaust_and_get_more(self):
        self.coll.insert_many([{"_id": i, "v": i} for i in range(120)])
        g0 = self.status()["opcounters"]["getmore"]
        docs = list(self.coll.find({"v": {"$lt": 100}}, cursor_type=pymongo.CursorType.EXHAUST)
                    .sort("v", -1).batch_size(30))  # pymongo 3.x: legacy OP_QUERY, exhaust
        self.assertEqual([d["v"] for d in docs], list(range(99, -1, -1)))
        self.assertEqual(self.status()["opcounters"]["getmore"] - g0, 3)
        # Raw exhaust: every reply after the first answers the previous reply (as mongod).
        s = self.raw_conn()
        ns = ("crud.%s" % self.coll.name).encode()
        q = struct.pack("<i", 0x40) + ns + b"\0" + struct.pack("<ii", 0, 50) + bson.encode({})
        s.sendall(struct.pack("<iiii", 16 + len(q), 31, 0, 2004) + q)
        answered, n = 31, 0
        while True:
            rid, resp_to, opcode, body = self.recv_frame(s)
            self.assertEqual((resp_to, opcode), (answered, 1))
            n += struct.unpack_from("<iqii", body)[3]
            answered = rid
            if not struct.unpack_from("<iqii", body)[1]:
                break
        self.assertEqual(n, 120)
        # Raw legacy OP_QUERY find then OP_GET_MORE then OP_KILL_CURSORS.
        s = self.raw_conn()
        ns = ("crud.%s" % self.coll.name).encode()
        q = struct.pack("<i", 0) + ns + b"\0" + struct.pack("<ii", 0, 50) + bson.encode({})
        s.sendall(struct.pack("<iiii", 16 + len(q), 21, 0, 2004) + q)
        _, resp_to, opcode, body = self.recv_frame(s)
        flags, cid, start, nret = struct.unpack_from("<iqii", body)
        self.assertEqual((resp_to, opcode, nret, start), (21, 1, 50, 0))
        self.assertTrue(cid)
        gm = struct.pack("<i", 0) + ns + b"\0" + struct.pack("<iq", 20, cid)
        s.sendall(struct.pack("<iiii", 16 + len(gm), 22, 0, 2005) + gm)
        _, resp_to, _, body = self.recv_frame(s)
        flags, cid2, start, nret = struct.unpack_from("<iqii", body)
        self.assertEqual((resp_to, cid2, nret, start), (22, cid, 20, 50))
        self.assertEqual(bson.decode_all(body[20:])[0]["_id"], 50)
        kc = struct.pack("<iiq", 0, 1, cid)
        s.sendall(struct.pack("<iiii", 16 + len(kc), 23, 0, 2007) + kc)
        s.sendall(struct.pack("<iiii", 16 + len(gm), 24, 0, 2005) + gm)
        _, resp_to, _, body = self.recv_frame(s)  # no reply to the kill: this is the getMore
        self.assertEqual(resp_to, 24)
        self.assertEqual(struct.unpack_from("<i", body)[0] & 1, 1)  # CursorNotFound

    def test_duplicate_key(self):
        self.coll.insert_one({"_id": 1})
        with self.assertRaises(DuplicateKeyError) as cm:
            self.coll.insert_one({"_id": 1})
        self.assertEqual(cm.exception.code, 11000)
        with self.assertRaises(BulkWriteError) as cm:
            self.coll.insert_many([{"_id": 2}, {"_id": 1}, {"_id": 3}])
        det = cm.exception.details
        self.assertEqual(det["nInserted"], 1)  # ordered: stops at the error
        self.assertEqual([(e["index"], e["code"]) for e in det["writeErrors"]], [(1, 11000)])
        # A unique index over documents that all lack the field fails, as on mongod
        # (missing = null, twice).
        with self.assertRaises(DuplicateKeyError):
            self.coll.create_index("email", unique=True)
        users = self.client.crud.users_unique
        users.create_index("email", unique=True)
        users.insert_one({"_id": 10, "email": "a@x"})
        with self.assertRaises(DuplicateKeyError):
            users.insert_one({"_id": 11, "email": "a@x"})
        with self.assertRaises(BulkWriteError) as cm:
            users.insert_many([{"_id": 12, "email": "a@x"}, {"_id": 13, "email": "b@x"}],
                                  ordered=False)
        self.assertEqual(cm.exception.details["nInserted"], 1)
        self.assertEqual(cm.exception.details["writeErrors"][0]["code"], 11000)

    def test_collections_and_databases(self):
        db = self.client["dbadmin"]
        db.create_collection("c1")
        with self.assertRaises(OperationFailure) as cm:
            db.command("create", "c1")
        self.assertEqual(cm.exception.code, 48)
        db.c2.insert_one({"a": 1})
        self.assertEqual(sorted(db.list_collection_names()), ["c1", "c2"])
        self.assertIn("dbadmin", self.client.list_database_names())
        db.drop_collection("c1")
        db.drop_collection("never-existed")  # pymongo ignores "ns not found"
        self.assertEqual(db.list_collection_names(), ["c2"])
        self.assertIn("a_1", db.c2.create_index("a"))
        self.assertIn("a_1", db.c2.index_information())

    def test_errors(self):
        with self.assertRaises(OperationFailure) as cm:
            self.client.admin.command("noSuchCommandHere")
        self.assertEqual(cm.exception.code, 59)
        self.assertEqual(self.client.admin.command("ping")["ok"], 1.0)
        self.assertEqual(self.client.admin.command("buildInfo")["versionArray"][0], 6)


class TestStatus(ServerCase):
    def test_opcounters_move_exactly(self):
        coll = self.client.st.ops
        s0 = self.status()["opcounters"]
        for i in range(3):
            coll.insert_one({"_id": i})
        coll.find_one({"_id": 1})
        coll.find_one({"_id": 2})
        coll.update_one({"_id": 0}, {"$set": {"a": 1}})
        coll.delete_one({"_id": 2})
        coll.insert_many([{"_id": 10 + i} for i in range(4)])  # one command, 4 documents
        s1 = self.status()["opcounters"]
        delta = {k: s1[k] - s0[k] for k in ("insert", "query", "update", "delete", "getmore")}
        self.assertEqual(delta, {"insert": 7, "query": 2, "update": 1, "delete": 1, "getmore": 0})
        # The serverStatus itself, maybe a heartbeat; CRUD commands are not "command".
        self.assertIn(s1["command"] - s0["command"], (1, 2, 3))

    def test_fields_and_live_values(self):
        ss = self.status()
        self.assertEqual(ss["process"], "mongod")
        self.assertEqual(ss["pid"], self.proc.pid)
        self.assertEqual(ss["version"], "6.0.0-tierprobe-test")
        self.assertEqual(ss["host"], socket.gethostname())
        self.assertGreater(ss["mem"]["resident"], 5)  # MiB of a Python process
        self.assertGreater(ss["mem"]["virtual"], ss["mem"]["resident"])
        self.assertIsInstance(ss["extra_info"]["page_faults"], int)
        self.assertEqual(set(ss["asserts"]), {"regular", "warning", "msg", "user", "rollovers"})
        ct = ss["wiredTiger"]["concurrentTransactions"]
        self.assertEqual(ct["read"]["totalTickets"], 8)
        self.assertEqual(ct["read"]["available"], 8)  # serverStatus holds no ticket
        cache = ss["wiredTiger"]["cache"]
        self.assertLessEqual(cache["bytes currently in the cache"],
                             cache["maximum bytes configured"])
        user0 = ss["asserts"]["user"]
        with self.assertRaises(OperationFailure):
            self.client.admin.command("noSuchCommandHere")
        self.assertEqual(self.status()["asserts"]["user"], user0 + 1)

    def test_cache_grows_with_data(self):
        c0 = self.status()["wiredTiger"]["cache"]
        self.client.st.big.insert_many([{"pad": "x" * 1000} for _ in range(500)])
        c1 = self.status()["wiredTiger"]["cache"]
        self.assertGreater(c1["bytes currently in the cache"] - c0["bytes currently in the cache"],
                           400 * 1000)
        self.assertGreater(c1["tracked dirty bytes in the cache"],
                           c0["tracked dirty bytes in the cache"] + 400 * 1000)

    def test_network_counts(self):
        n0 = self.status()["network"]
        self.client.st.net.insert_one({"pad": "y" * 20000})
        n1 = self.status()["network"]
        self.assertGreater(n1["bytesIn"] - n0["bytesIn"], 20000)
        self.assertGreater(n1["bytesOut"], n0["bytesOut"])
        self.assertGreaterEqual(n1["numRequests"] - n0["numRequests"], 2)

    def test_connections_current(self):
        def current():
            return self.status()["connections"]["current"]
        base = current()
        created = self.status()["connections"]["totalCreated"]
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(3)]
        try:
            deadline = time.monotonic() + 5
            while current() != base + 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(current(), base + 3)
            self.assertGreaterEqual(self.status()["connections"]["totalCreated"], created + 3)
        finally:
            for s in socks:
                s.close()
        deadline = time.monotonic() + 5
        while current() != base and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(current(), base)

    def test_hello_fields_op_query_and_op_msg(self):
        s = self.raw_conn()
        q = struct.pack("<i", 0) + b"admin.$cmd\0" + struct.pack("<ii", 0, -1) + \
            bson.encode({"isMaster": 1, "compression": ["zlib", "snappy"]})
        s.sendall(struct.pack("<iiii", 16 + len(q), 5, 0, 2004) + q)
        _, resp_to, opcode, body = self.recv_frame(s)
        self.assertEqual((resp_to, opcode), (5, 1))
        flags, cursor_id, start, nret = struct.unpack_from("<iqii", body)
        self.assertEqual(nret, 1)
        doc = bson.decode(body[20:])
        for key in ("maxBsonObjectSize", "maxMessageSizeBytes", "maxWriteBatchSize",
                    "localTime", "logicalSessionTimeoutMinutes", "connectionId",
                    "minWireVersion", "maxWireVersion"):
            self.assertIn(key, doc)
        self.assertTrue(doc["ismaster"])
        self.assertTrue(doc["isWritablePrimary"])
        self.assertFalse(doc["readOnly"])
        self.assertEqual(doc["ok"], 1.0)
        self.assertGreaterEqual(doc["maxWireVersion"], 6)
        self.assertEqual(doc["minWireVersion"], 0)
        self.assertEqual(doc["compression"], ["zlib"])
        s.sendall(self.op_msg(6, {"hello": 1, "$db": "admin"}))
        _, resp_to, opcode, body = self.recv_frame(s)
        self.assertEqual((resp_to, opcode), (6, 2013))
        doc = self.msg_reply_doc(body)[1]
        self.assertTrue(doc["isWritablePrimary"])
        self.assertNotIn("compression", doc)  # not asked for on this hello
        # A handshake that does not ask for compression is not offered any.
        s2 = self.raw_conn()
        s2.sendall(self.op_msg(1, {"hello": 1, "$db": "admin"}))
        self.assertNotIn("compression", self.msg_reply_doc(self.recv_frame(s2)[3])[1])

    def test_streaming_hello_is_an_op_msg_exhaust_stream(self):
        # What a 4.4+ driver's server monitor does: hello with exhaustAllowed, topologyVersion
        # and maxAwaitTimeMS; the server answers every maxAwaitTimeMS with a moreToCome reply,
        # each answering the previous reply, until the client hangs up.
        s = self.raw_conn()
        s.sendall(self.op_msg(40, {"hello": 1, "$db": "admin"}))
        tv = self.msg_reply_doc(self.recv_frame(s)[3])[1]["topologyVersion"]
        self.assertEqual(tv["counter"], 0)
        t0 = time.monotonic()
        s.sendall(self.op_msg(41, {"hello": 1, "topologyVersion": tv, "maxAwaitTimeMS": 100,
                                   "$db": "admin"}, flags=0x10000))
        expect_to = 41
        for i in range(3):
            rid, resp_to, opcode, body = self.recv_frame(s)
            flags, doc = self.msg_reply_doc(body)
            self.assertEqual((resp_to, opcode), (expect_to, 2013), "reply %d" % i)
            self.assertEqual(flags & 0x2, 0x2, "reply %d flagged moreToCome" % i)
            self.assertEqual(doc["topologyVersion"], tv)
            expect_to = rid
        self.assertGreaterEqual(time.monotonic() - t0, 0.29, "one reply per maxAwaitTimeMS")
        # Without exhaustAllowed the same hello is one plain reply.
        s2 = self.raw_conn()
        s2.sendall(self.op_msg(50, {"hello": 1, "topologyVersion": tv, "maxAwaitTimeMS": 100,
                                    "$db": "admin"}))
        _, resp_to, _, body = self.recv_frame(s2)
        self.assertEqual((resp_to, self.msg_reply_doc(body)[0]), (50, 0))

    def test_malformed_frames_close_only_that_connection(self):
        regular0 = self.status()["asserts"]["regular"]
        for frame in (struct.pack("<iiii", 20, 1, 0, 2013) + b"\0\0\0\0",       # no body
                      struct.pack("<iiii", 23, 1, 0, 2013) + b"\0\0\0\0\0\x03\0",  # cut BSON
                      struct.pack("<iiii", 20, 1, 0, 4242) + b"\0\0\0\0"):       # bad opcode
            s = self.raw_conn()
            s.sendall(frame)
            self.assertEqual(s.recv(100), b"")  # closed, no reply
        self.assertEqual(self.status()["asserts"]["regular"], regular0 + 3)
        self.assertEqual(self.client.admin.command("ping")["ok"], 1.0)

    def test_zlib_compression(self):
        c = self.new_client(compressors="zlib")
        try:
            before = self.status()["tierprobeTest"]["compressedRequests"]
            c.st.z.insert_one({"_id": 1, "pad": "z" * 5000})
            self.assertEqual(c.st.z.find_one({"_id": 1})["pad"], "z" * 5000)
            after = self.status()["tierprobeTest"]["compressedRequests"]
            self.assertGreaterEqual(after - before, 2)
        finally:
            c.close()

    def test_raw_zlib_reply_is_compressed(self):
        s = self.raw_conn()
        inner = self.op_msg(3, {"ping": 1, "$db": "admin"})[16:]
        comp = struct.pack("<iiB", 2013, len(inner), 2) + zlib.compress(inner)
        s.sendall(struct.pack("<iiii", 16 + len(comp), 3, 0, 2012) + comp)
        _, resp_to, opcode, body = self.recv_frame(s)
        self.assertEqual((resp_to, opcode), (3, 2012))
        orig, usize, cid = struct.unpack_from("<iiB", body)
        self.assertEqual((orig, cid), (2013, 2))
        plain = zlib.decompress(body[9:])
        self.assertEqual(len(plain), usize)
        self.assertEqual(self.msg_reply_doc(plain)[1], {"ok": 1.0})

    def test_libmongoc_serverstatus(self):
        cc = shutil.which("cc")
        if not cc or subprocess.run(["pkg-config", "--exists", "libmongoc-1.0"]).returncode:
            self.skipTest("no C compiler or libmongoc-dev")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmongoc-1.0"],
                               capture_output=True, text=True, check=True).stdout.split()
        with tempfile.TemporaryDirectory() as tmp:
            exe = os.path.join(tmp, "ss_check")
            subprocess.run([cc, "-o", exe, os.path.join(HERE, "ss_check.c")] + flags,
                           check=True, timeout=60)
            comp0 = self.status()["tierprobeTest"]["compressedRequests"]
            cmd0 = self.status()["opcounters"]["command"]
            uri = "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=3000&compressors=zlib" \
                % self.port
            r = subprocess.run([exe, uri], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)
            n = int(r.stdout.split("opcounters.command:")[1])
            self.assertGreater(n, cmd0)
            # libmongoc negotiated zlib and sent serverStatus compressed.
            self.assertGreaterEqual(self.status()["tierprobeTest"]["compressedRequests"],
                                    comp0 + 1)

    def test_npm_mongodb_driver(self):
        # Needs the npm "mongodb" package: set TIERPROBE_NODE_MODULES to a node_modules dir
        # (e.g. after "npm install mongodb@6" in /tmp/x: /tmp/x/node_modules).
        mods = os.environ.get("TIERPROBE_NODE_MODULES", "")
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(mods, "mongodb")):
            self.skipTest("node or TIERPROBE_NODE_MODULES/mongodb not available")
        env = dict(os.environ, NODE_PATH=mods)
        script = os.path.join(HERE, "node_check.js")
        r = subprocess.run([node, script, str(self.port)], capture_output=True, text=True,
                           env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        comp0 = self.status()["tierprobeTest"]["compressedRequests"]
        r = subprocess.run([node, script, str(self.port), "&compressors=zlib"],
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(self.status()["tierprobeTest"]["compressedRequests"], comp0 + 5)


class TestCompressors(ServerCase):
    """zstd and snappy (python3-zstandard / python3-snappy), negotiated by pymongo and raw."""
    # Bound to ::1 only: also checks the IPv6 listener the captures use.
    SERVER_ARGS = ["--compressors", "zlib,zstd,snappy", "--bind", "::1"]
    HOST = "::1"

    @classmethod
    def new_client(cls, **kw):
        return pymongo.MongoClient("[::1]", cls.port, serverSelectionTimeoutMS=5000, **kw)

    def raw_conn(self):
        s = socket.create_connection(("::1", self.port), timeout=5)
        self.addCleanup(s.close)
        return s

    def _roundtrip(self, name):
        c = self.new_client(compressors=name)
        try:
            before = self.status()["tierprobeTest"]["compressedRequests"]
            c.st[name].insert_one({"_id": 1, "pad": name * 3000})
            self.assertEqual(c.st[name].find_one({"_id": 1})["pad"], name * 3000)
            after = self.status()["tierprobeTest"]["compressedRequests"]
            self.assertGreaterEqual(after - before, 2)
        finally:
            c.close()

    def test_zstd_with_pymongo(self):
        self._roundtrip("zstd")

    def test_snappy_with_pymongo(self):
        self._roundtrip("snappy")

    def test_hello_offers_what_was_asked_and_configured(self):
        s = self.raw_conn()
        s.sendall(self.op_msg(1, {"hello": 1, "compression": ["zstd", "lz4", "snappy"],
                                  "$db": "admin"}))
        self.assertEqual(self.msg_reply_doc(self.recv_frame(s)[3])[1]["compression"],
                         ["zstd", "snappy"])

    def test_raw_zstd_and_snappy_replies_are_compressed_the_same_way(self):
        import snappy
        import zstandard
        codecs = {3: (zstandard.ZstdCompressor().compress,
                      lambda b, n: zstandard.ZstdDecompressor().decompress(b, max_output_size=n)),
                  1: (snappy.compress, lambda b, n: snappy.uncompress(b))}
        for rid, (cid, (comp, decomp)) in enumerate(sorted(codecs.items()), start=10):
            s = self.raw_conn()
            inner = self.op_msg(rid, {"ping": 1, "$db": "admin"})[16:]
            payload = struct.pack("<iiB", 2013, len(inner), cid) + comp(inner)
            s.sendall(struct.pack("<iiii", 16 + len(payload), rid, 0, 2012) + payload)
            _, resp_to, opcode, body = self.recv_frame(s)
            self.assertEqual((resp_to, opcode), (rid, 2012))
            orig, usize, got_cid = struct.unpack_from("<iiB", body)
            self.assertEqual((orig, got_cid), (2013, cid))
            plain = decomp(body[9:], usize)
            self.assertEqual(len(plain), usize)
            self.assertEqual(self.msg_reply_doc(plain)[1], {"ok": 1.0})


class TestStagedDelay(ServerCase):
    SERVER_ARGS = ["--delay", "find=50"]

    def test_read_latency_includes_delay(self):
        coll = self.client.sd.c
        coll.insert_one({"_id": 1})
        r0 = self.status()["opLatencies"]["reads"]
        w0 = self.status()["opLatencies"]["writes"]
        t0 = time.perf_counter()
        for _ in range(3):
            coll.find_one({"_id": 1})
        client_ms = (time.perf_counter() - t0) * 1000 / 3
        coll.insert_one({"_id": 2})
        r1 = self.status()["opLatencies"]["reads"]
        w1 = self.status()["opLatencies"]["writes"]
        self.assertEqual(r1["ops"] - r0["ops"], 3)
        mean_ms = (r1["latency"] - r0["latency"]) / 3 / 1000
        self.assertGreaterEqual(mean_ms, 50)
        self.assertLessEqual(mean_ms, client_ms)  # server time is part of client time
        self.assertEqual(w1["ops"] - w0["ops"], 1)
        self.assertLess((w1["latency"] - w0["latency"]) / 1000, 50)  # inserts not delayed


class TestStagedQueue(ServerCase):
    SERVER_ARGS = ["--workers", "1", "--delay", "find=200"]

    def test_queue_visible_mid_flight(self):
        self.client.sq.c.insert_one({"_id": 1})
        c = self.new_client(maxPoolSize=8)
        self.addCleanup(c.close)
        c.admin.command("ping")
        threads = [threading.Thread(target=c.sq.c.find_one, args=({"_id": 1},))
                   for _ in range(4)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(0.3)
        ss = self.status()
        took = time.monotonic() - t0
        for t in threads:
            t.join(10)
        self.assertLess(took, 0.6, "serverStatus must not wait for a worker")
        self.assertGreaterEqual(ss["globalLock"]["currentQueue"]["total"], 1)
        self.assertEqual(ss["globalLock"]["currentQueue"]["readers"],
                         ss["globalLock"]["currentQueue"]["total"])
        self.assertEqual(ss["globalLock"]["activeClients"]["total"], 1)
        ct = ss["wiredTiger"]["concurrentTransactions"]
        self.assertEqual((ct["read"]["out"], ct["read"]["available"],
                          ct["read"]["totalTickets"]), (1, 0, 1))
        # All four really ran one after another: >= 4 x 200 ms in total.
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)
        after = self.status()["globalLock"]
        self.assertEqual(after["currentQueue"]["total"], 0)
        self.assertEqual(after["activeClients"]["total"], 0)


class TestStagedCpu(ServerCase):
    SERVER_ARGS = ["--cpu", "find=30"]

    def test_cpu_burn_shows_in_latency(self):
        coll = self.client.sc.c
        coll.insert_one({"_id": 1})
        r0 = self.status()["opLatencies"]["reads"]
        coll.find_one({"_id": 1})
        r1 = self.status()["opLatencies"]["reads"]
        self.assertGreaterEqual((r1["latency"] - r0["latency"]) / 1000, 30)


class TestScript(unittest.TestCase):
    """scripts/mongo-server: which server it picks, ping wait, pidfile, stop."""
    SCRIPT = os.path.join(HERE, "..", "..", "scripts", "mongo-server")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mongo-server-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.env = dict(os.environ, PATH="/usr/bin:/bin", MONGO_SERVER_WAIT_S="4")
        self.env.pop("MONGOD", None)

    def run_script(self, *args, env=None, timeout=30):
        return subprocess.run([self.SCRIPT] + list(args), capture_output=True, text=True,
                              env=env or self.env, timeout=timeout)

    def start(self, env=None, *extra):
        port = free_port()
        d = os.path.join(self.tmp, "srv%d" % port)
        r = self.run_script("start", "--port", str(port), "--dir", d, *extra, env=env)
        pidfile = os.path.join(d, "mongo.pid")
        self.addCleanup(self._kill_left, pidfile)
        return r, port, pidfile

    @staticmethod
    def _kill_left(pidfile):
        # Only if the test failed before "stop" removed the pidfile: the pid is ours.
        try:
            with open(pidfile) as f:
                os.kill(int(f.read()), 9)
        except (OSError, ValueError):
            pass

    def fake_mongod(self, body):
        path = os.path.join(self.tmp, "mongod")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def test_test_server_start_ping_stop(self):
        r, port, pidfile = self.start(None, "--workers", "2", "--delay", "find=10")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no mongod found (MONGOD unset, none on PATH); using the tierprobe test "
                      "server", r.stderr)
        self.assertEqual(r.stdout.strip(), pidfile)
        with open(pidfile) as f:
            pid = int(f.read())
        c = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=3000)
        try:
            ss = c.admin.command("serverStatus")
        finally:
            c.close()
        self.assertEqual(ss["pid"], pid)
        self.assertEqual(ss["wiredTiger"]["concurrentTransactions"]["read"]["totalTickets"], 2)
        # A second start on a busy port must refuse (else its ping would hit this one).
        r2 = self.run_script("start", "--port", str(port), "--dir", self.tmp + "/x")
        self.assertEqual(r2.returncode, 1)
        self.assertIn("already in use", r2.stderr)
        r = self.run_script("stop", pidfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(pidfile))
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)

    def test_picks_mongod_from_env(self):
        fake = self.fake_mongod(
            'if [ "$1" = --version ]; then echo "db version v9.9.9-fake"; exit 0; fi\n'
            'while [ $# -gt 0 ]; do [ "$1" = --port ] && port=$2; shift; done\n'
            'exec %s %s --port "$port"\n' % (sys.executable, SERVER))
        env = dict(self.env, MONGOD=fake)
        r, port, pidfile = self.start(env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("using real mongod %s (db version v9.9.9-fake)" % fake, r.stderr)
        self.assertEqual(self.run_script("stop", pidfile).returncode, 0)

    def test_bad_mongod_env_and_unanswered_ping(self):
        env = dict(self.env, MONGOD=os.path.join(self.tmp, "nope"))
        r, _, _ = self.start(env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not an executable", r.stderr)
        hang = self.fake_mongod('[ "$1" = --version ] && exit 0\nexec sleep 60\n')
        t0 = time.monotonic()
        r, _, pidfile = self.start(dict(self.env, MONGOD=hang))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no ping answer", r.stderr)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertFalse(os.path.exists(pidfile))
        # The script must have killed what it started; its pid is in the message.
        pid = int(r.stderr.split("stopping pid ")[1].split()[0])
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
