#!/usr/bin/python3
"""Debian python3-pymongo (3.11) workloads for tests/captures/make_captures.sh.

Usage: mongo_client.py SCENARIO HOST PORT
  kind1        insert_many (OP_MSG kind-1 document sequence), finds, update_many, delete_one
  more_to_come unacknowledged writes (w=0: OP_MSG flagBits moreToCome, no reply), then one
               acknowledged find so the connection is seen to carry on
  exhaust      an exhaust cursor: pymongo 3.11 uses legacy OP_QUERY with the exhaust flag
               (it never sends OP_MSG exhaustAllowed), answered by a stream of OP_REPLY
  zlib, zstd   compressors=...: every message after the handshake is OP_COMPRESSED
  basic        insert_one + find_one + find (the IPv6 and cooked-capture runs)
Each scenario prints one line saying what it did; any surprise exits non-zero.
"""
import sys

import pymongo
from pymongo import CursorType
from pymongo.write_concern import WriteConcern

scenario, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
kw = {"serverSelectionTimeoutMS": 5000, "appname": "tierprobe-captures"}
if scenario in ("zlib", "zstd"):
    kw["compressors"] = scenario
client = pymongo.MongoClient("[%s]" % host if ":" in host else host, port, **kw)
db = client.shop


def need(cond, what):
    if not cond:
        sys.exit("mongo_client %s: %s" % (scenario, what))


if scenario == "kind1":
    r = db.items.insert_many([{"_id": i, "v": i, "tag": "t%d" % (i % 2)} for i in range(5)])
    need(len(r.inserted_ids) == 5, "5 inserted")
    need(len(list(db.items.find({"v": {"$gte": 2}}))) == 3, "3 found")
    u = db.items.update_many({"tag": "t0"}, {"$set": {"seen": True}})
    need(u.modified_count == 3, "3 updated")
    need(db.items.find_one({"_id": 4})["seen"] is True, "find_one")
    need(db.items.delete_one({"_id": 0}).deleted_count == 1, "1 deleted")
    print("kind1: insert_many 5, find 3, update_many 3, find_one, delete_one")
elif scenario == "more_to_come":
    coll = db.get_collection("events", write_concern=WriteConcern(w=0))
    for i in range(3):
        coll.insert_one({"_id": i, "kind": "click"})
    coll.insert_many([{"_id": 10 + i, "kind": "view"} for i in range(4)])
    coll.update_one({"_id": 1}, {"$set": {"kind": "tap"}})
    coll.delete_one({"_id": 2})
    docs = list(db.events.find({}, sort=[("_id", 1)]))
    need(len(docs) == 6, "6 docs after the unacknowledged writes, got %d" % len(docs))
    print("more_to_come: 3 insert_one + insert_many(4) + update_one + delete_one at w=0, find 6")
elif scenario == "exhaust":
    db.logs.insert_many([{"_id": i, "n": i} for i in range(7)])
    docs = list(db.logs.find({}, cursor_type=CursorType.EXHAUST).sort("_id", 1).batch_size(3))
    need([d["n"] for d in docs] == list(range(7)), "7 docs in order")
    print("exhaust: insert_many 7, exhaust find batch_size 3 -> %d docs" % len(docs))
elif scenario in ("zlib", "zstd"):
    db.blobs.insert_one({"_id": 1, "text": "compress me " * 200})
    db.blobs.insert_one({"_id": 2, "text": "and me " * 200})
    need(len(list(db.blobs.find({}))) == 2, "2 found")
    need(db.blobs.find_one({"_id": 1})["text"].startswith("compress"), "find_one")
    print("%s: 2 insert_one, find 2, find_one" % scenario)
elif scenario == "basic":
    db.users.insert_one({"_id": 1, "email": "a@example.org"})
    need(db.users.find_one({"_id": 1}) is not None, "find_one")
    need(len(list(db.users.find({"email": {"$exists": True}}))) == 1, "find 1")
    print("basic: insert_one, find_one, find 1")
else:
    sys.exit("unknown scenario %r" % scenario)
client.close()
