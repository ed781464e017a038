"""Command execution: data commands run on mongomock, the rest answered directly.

mongomock is not safe for concurrent mutation, so every touch of it happens under
STORE_LOCK.  Staged delays/CPU burn run outside that lock (but inside a worker
ticket, see mongo_server.py), so a slow staged find does not serialise the server
beyond what the ticket pool says.
"""
import datetime
import itertools
import random
import threading

import bson
from bson.raw_bson import RawBSONDocument
import mongomock
from mongomock import filtering
from pymongo import ReturnDocument

from stats import VERSION

STORE_LOCK = threading.RLock()
CLIENT = mongomock.MongoClient()

MAX_WIRE = 13
FAST_PATH = True  # --no-fast-path turns it off (to measure what mongomock alone does)
DEFAULT_BATCH = 101

# How each command counts (opcounters field) and which opLatencies group / ticket
# kind it belongs to, as a real mongod classifies them.
READS = {"find", "getMore", "count", "distinct", "aggregate"}
WRITES = {"insert", "update", "delete", "findAndModify"}
# Answered without a worker ticket: monitoring and handshakes must always get through.
BYPASS = {"hello", "ismaster", "isMaster", "ping", "serverStatus", "buildInfo",
          "buildinfo", "endSessions", "whatsmyuri", "getLastError", "connectionStatus"}


class CommandError(Exception):
    def __init__(self, errmsg, code, code_name=None):
        super().__init__(errmsg)
        self.errmsg, self.code, self.code_name = errmsg, code, code_name


def error_doc(errmsg, code, code_name=None):
    doc = {"ok": 0.0, "errmsg": errmsg, "code": code}
    if code_name:
        doc["codeName"] = code_name
    return doc


# ---------------------------------------------------------------------- cursors
MAX_BATCH_BYTES = 16 * 1024 * 1024  # a reply batch stops at 16 MiB, as on mongod


def _take(docs, pos, count):
    """docs[pos:pos+count], stopping early once the batch reaches MAX_BATCH_BYTES.

    Sizing needs the BSON, so documents are encoded here, once, as raw documents
    that the reply encoder then copies as they are.
    """
    end = min(len(docs), pos + count)
    out, size = [], 0
    for d in itertools.islice(docs, pos, end):
        raw = d if isinstance(d, RawBSONDocument) else RawBSONDocument(bson.encode(d))
        if out and size + len(raw.raw) > MAX_BATCH_BYTES:
            break
        out.append(raw)
        size += len(raw.raw)
    return out


class Cursors:
    """Materialised result lists served in batches by getMore."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = {}

    def first_batch(self, ns, docs, batch_size, single_batch=False):
        if batch_size is None or batch_size <= 0:
            batch_size = DEFAULT_BATCH if batch_size is None else batch_size
        first = _take(docs, 0, batch_size) if batch_size else []
        cursor_id = 0
        if not single_batch and len(docs) > len(first):
            cursor_id = random.getrandbits(62) | 1
            with self.lock:
                self.open[cursor_id] = [ns, docs, len(first)]
        return {"cursor": {"id": bson.int64.Int64(cursor_id), "ns": ns, "firstBatch": first},
                "ok": 1.0}

    def get_more(self, cursor_id, ns, batch_size):
        with self.lock:
            entry = self.open.get(cursor_id)
            if entry is None or entry[0] != ns:
                raise CommandError("cursor id %d not found" % cursor_id, 43, "CursorNotFound")
            _, docs, pos = entry
            batch = _take(docs, pos, batch_size or len(docs))
            end = pos + len(batch)
            entry[2] = end
            if end >= len(docs):
                del self.open[cursor_id]
                cursor_id = 0
        return {"cursor": {"id": bson.int64.Int64(cursor_id), "ns": ns, "nextBatch": batch},
                "ok": 1.0}

    def position(self, cursor_id):
        with self.lock:
            entry = self.open.get(cursor_id)
            return entry[2] if entry else 0

    def kill(self, ids):
        killed, missing = [], []
        with self.lock:
            for cid in ids:
                (killed if self.open.pop(cid, None) is not None else missing).append(cid)
        return {"cursorsKilled": killed, "cursorsNotFound": missing, "cursorsAlive": [],
                "cursorsUnknown": [], "ok": 1.0}


CURSORS = Cursors()


# ---------------------------------------------------------------------- helpers
def _coll(db, cmd, name):
    coll = cmd[name]
    if not isinstance(coll, str) or not coll:
        raise CommandError("collection name has invalid type %s" % type(coll).__name__, 73,
                           "InvalidNamespace")
    return CLIENT[db][coll], "%s.%s" % (db, coll)


def _sort(spec):
    return list(spec.items()) if spec else None


def _write_error(exc, index):
    code = getattr(exc, "code", None) or 2
    msg = str(exc)
    if code == 11000 and "E11000" not in msg:
        msg = "E11000 duplicate key error: " + msg
    return {"index": index, "code": code, "errmsg": msg}


def _is_operator_doc(update):
    return isinstance(update, dict) and update and next(iter(update)).startswith("$")


_FAST_ID_TYPES = (bson.ObjectId, int, str, float, datetime.datetime, bson.int64.Int64)


def _fast_find_by_id(coll, flt, cmd):
    """{_id: scalar} with nothing else that changes the result: one dict lookup.

    mongomock's find scans and deep-copies; this is the hot path of the benchmark
    and of most demo traffic.  Same answer: at most one document, as stored.
    """
    if not FAST_PATH or len(flt) != 1 or "_id" not in flt:
        return None
    key = flt["_id"]
    if type(key) is bool or not isinstance(key, _FAST_ID_TYPES):
        return None
    for opt in ("projection", "sort", "skip", "min", "max", "returnKey", "showRecordId"):
        if cmd.get(opt):
            return None
    store = coll._store
    if store._ttl_indexes:
        return None
    doc = store._documents.get(key)
    # Encode now, under the lock: the stored dict may be mutated later by an update.
    return [RawBSONDocument(bson.encode(doc))] if doc is not None else []


# ---------------------------------------------------------------------- data commands
def cmd_find(db, cmd, ctx):
    coll, ns = _coll(db, cmd, "find")
    flt = cmd.get("filter") or {}
    limit = int(cmd.get("limit") or 0)
    with STORE_LOCK:
        docs = _fast_find_by_id(coll, flt, cmd)
        if docs is None:
            docs = list(coll.find(flt, cmd.get("projection") or None,
                                  skip=int(cmd.get("skip") or 0), limit=abs(limit),
                                  sort=_sort(cmd.get("sort"))))
    single = bool(cmd.get("singleBatch")) or limit < 0
    return CURSORS.first_batch(ns, docs, cmd.get("batchSize"), single)


def cmd_get_more(db, cmd, ctx):
    ns = "%s.%s" % (db, cmd.get("collection"))
    return CURSORS.get_more(int(cmd["getMore"]), ns, int(cmd.get("batchSize") or 0))


def cmd_kill_cursors(db, cmd, ctx):
    return CURSORS.kill([int(c) for c in cmd.get("cursors", [])])


def cmd_insert(db, cmd, ctx):
    coll, _ = _coll(db, cmd, "insert")
    docs = cmd.get("documents") or []
    ordered = cmd.get("ordered", True)
    n, errors = 0, []
    ctx.stats.add("insert", len(docs))
    with STORE_LOCK:
        for i, doc in enumerate(docs):
            try:
                coll.insert_one(doc)
                n += 1
                ctx.stats.wrote(len(bson.encode(doc)))
            except mongomock.WriteError as exc:
                errors.append(_write_error(exc, i))
                if ordered:
                    break
    reply = {"n": n, "ok": 1.0}
    if errors:
        reply["writeErrors"] = errors
    return reply


def cmd_update(db, cmd, ctx):
    coll, _ = _coll(db, cmd, "update")
    stmts = cmd.get("updates") or []
    ordered = cmd.get("ordered", True)
    matched = modified = 0
    upserted, errors = [], []
    ctx.stats.add("update", len(stmts))
    with STORE_LOCK:
        for i, st in enumerate(stmts):
            q, u = st.get("q") or {}, st.get("u")
            try:
                if isinstance(u, list):
                    raise CommandError("pipeline updates are not supported by this test server",
                                       115, "CommandNotSupported")
                kw = {"upsert": bool(st.get("upsert"))}
                if _is_operator_doc(u):
                    if st.get("arrayFilters"):
                        kw["array_filters"] = st["arrayFilters"]
                    fn = coll.update_many if st.get("multi") else coll.update_one
                    res = fn(q, u, **kw)
                else:
                    if st.get("multi"):
                        raise CommandError("multi update is not supported for replacement-style "
                                           "update", 9, "FailedToParse")
                    res = coll.replace_one(q, u, **kw)
                matched += res.matched_count
                modified += res.modified_count
                if res.upserted_id is not None:
                    upserted.append({"index": i, "_id": res.upserted_id})
                ctx.stats.wrote(len(bson.encode(u if isinstance(u, dict) else {})))
            except (mongomock.WriteError, mongomock.OperationFailure, CommandError) as exc:
                errors.append(_write_error(exc, i))
                if ordered:
                    break
    reply = {"n": matched + len(upserted), "nModified": modified, "ok": 1.0}
    if upserted:
        reply["upserted"] = upserted
    if errors:
        reply["writeErrors"] = errors
    return reply


def cmd_delete(db, cmd, ctx):
    coll, _ = _coll(db, cmd, "delete")
    stmts = cmd.get("deletes") or []
    n = 0
    ctx.stats.add("delete", len(stmts))
    with STORE_LOCK:
        for st in stmts:
            q = st.get("q") or {}
            res = coll.delete_one(q) if st.get("limit") == 1 else coll.delete_many(q)
            n += res.deleted_count
    return {"n": n, "ok": 1.0}


def cmd_find_and_modify(db, cmd, ctx):
    name = next(iter(cmd))
    coll, _ = _coll(db, cmd, name)
    query = cmd.get("query") or {}
    sort = _sort(cmd.get("sort"))
    fields = cmd.get("fields") or None
    update = cmd.get("update")
    with STORE_LOCK:
        if cmd.get("remove"):
            value = coll.find_one_and_delete(query, projection=fields, sort=sort)
            return {"lastErrorObject": {"n": 1 if value is not None else 0}, "value": value,
                    "ok": 1.0}
        if update is None:
            raise CommandError("Either an update or remove=true must be specified", 9,
                               "FailedToParse")
        before = coll.find_one(query, sort=sort)
        kw = dict(sort=sort, upsert=bool(cmd.get("upsert")),
                  return_document=ReturnDocument.AFTER)
        try:
            if _is_operator_doc(update):
                if cmd.get("arrayFilters"):
                    kw["array_filters"] = cmd["arrayFilters"]
                after = coll.find_one_and_update(query, update, **kw)
            else:
                after = coll.find_one_and_replace(query, update, **kw)
        except mongomock.WriteError as exc:
            raise CommandError(_write_error(exc, 0)["errmsg"], getattr(exc, "code", 2) or 2)
        leo = {"n": 0, "updatedExisting": before is not None}
        if before is not None or after is not None:
            leo["n"] = 1
        if before is None and after is not None:
            leo["upserted"] = after["_id"]
        value = after if cmd.get("new") else before
        if value is not None and fields:
            value = coll.find_one({"_id": value["_id"]}, fields) if cmd.get("new") else \
                _project(coll, value, fields)
    return {"lastErrorObject": leo, "value": value, "ok": 1.0}


def _project(coll, doc, fields):
    # Apply a projection to a document that may no longer be stored (the pre-image).
    tmp = mongomock.MongoClient()["p"]["p"]
    tmp.insert_one(doc)
    return tmp.find_one({}, fields)


def cmd_count(db, cmd, ctx):
    coll, _ = _coll(db, cmd, "count")
    kw = {}
    if cmd.get("skip"):
        kw["skip"] = int(cmd["skip"])
    if cmd.get("limit"):
        kw["limit"] = abs(int(cmd["limit"]))
    with STORE_LOCK:
        n = coll.count_documents(cmd.get("query") or {}, **kw)
    return {"n": n, "ok": 1.0}


def cmd_distinct(db, cmd, ctx):
    coll, _ = _coll(db, cmd, "distinct")
    with STORE_LOCK:
        values = coll.distinct(cmd["key"], cmd.get("query") or None)
    return {"values": values, "ok": 1.0}


def cmd_aggregate(db, cmd, ctx):
    coll, ns = _coll(db, cmd, "aggregate")
    pipeline = cmd.get("pipeline") or []
    with STORE_LOCK:
        docs = list(coll.aggregate(pipeline))
    batch = (cmd.get("cursor") or {}).get("batchSize")
    return CURSORS.first_batch(ns, docs, batch)


def cmd_create_indexes(db, cmd, ctx):
    coll, _ = _coll(db, cmd, "createIndexes")
    with STORE_LOCK:
        existed = coll.name in CLIENT[db].list_collection_names()
        before = len(coll.index_information()) if existed else 0
        for spec in cmd.get("indexes") or []:
            kw = {k: v for k, v in spec.items() if k not in ("key", "v", "ns")}
            try:
                coll.create_index(list(spec["key"].items()), **kw)
            except mongomock.DuplicateKeyError as exc:
                raise CommandError(_write_error(exc, 0)["errmsg"], 11000, "DuplicateKey")
        after = len(coll.index_information())
    return {"createdCollectionAutomatically": not existed, "numIndexesBefore": max(before, 1),
            "numIndexesAfter": after, "ok": 1.0}


def cmd_list_indexes(db, cmd, ctx):
    coll, ns = _coll(db, cmd, "listIndexes")
    with STORE_LOCK:
        if coll.name not in CLIENT[db].list_collection_names():
            raise CommandError("ns does not exist: " + ns, 26, "NamespaceNotFound")
        info = coll.index_information()
    out = []
    for name, spec in info.items():
        d = {"v": 2, "key": dict(spec["key"]), "name": name}
        d.update({k: v for k, v in spec.items() if k not in ("key", "v")})
        out.append(d)
    return CURSORS.first_batch(ns, out, (cmd.get("cursor") or {}).get("batchSize"))


def cmd_drop_indexes(db, cmd, ctx):
    coll, _ = _coll(db, cmd, "dropIndexes")
    index = cmd.get("index")
    with STORE_LOCK:
        n = len(coll.index_information())
        try:
            if index == "*":
                coll.drop_indexes()
            else:
                coll.drop_index(index if isinstance(index, str) else list(index.items()))
        except mongomock.OperationFailure as exc:
            raise CommandError(str(exc), 27, "IndexNotFound")
    return {"nIndexesWas": n, "ok": 1.0}


def cmd_create(db, cmd, ctx):
    name = cmd["create"]
    with STORE_LOCK:
        if name in CLIENT[db].list_collection_names():
            raise CommandError("Collection already exists. NS: %s.%s" % (db, name), 48,
                               "NamespaceExists")
        CLIENT[db].create_collection(name)
    return {"ok": 1.0}


def cmd_drop(db, cmd, ctx):
    name = cmd["drop"]
    with STORE_LOCK:
        if name not in CLIENT[db].list_collection_names():
            raise CommandError("ns not found", 26, "NamespaceNotFound")
        n = len(CLIENT[db][name].index_information())
        CLIENT[db].drop_collection(name)
    return {"ns": "%s.%s" % (db, name), "nIndexesWas": n, "ok": 1.0}


def cmd_drop_database(db, cmd, ctx):
    with STORE_LOCK:
        CLIENT.drop_database(db)
    return {"dropped": db, "ok": 1.0}


def cmd_list_collections(db, cmd, ctx):
    flt = cmd.get("filter") or {}
    with STORE_LOCK:
        names = CLIENT[db].list_collection_names()
    docs = []
    for name in sorted(names):
        d = {"name": name, "type": "collection", "options": {}, "info": {"readOnly": False},
             "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}
        if filtering.filter_applies(flt, d):
            docs.append({"name": name, "type": "collection"} if cmd.get("nameOnly") else d)
    return CURSORS.first_batch(db + ".$cmd.listCollections", docs,
                               (cmd.get("cursor") or {}).get("batchSize"))


def cmd_list_databases(db, cmd, ctx):
    with STORE_LOCK:
        names = CLIENT.list_database_names()
        sizes = {n: _db_size(n) for n in names}
    dbs = [{"name": n, "sizeOnDisk": sizes[n], "empty": sizes[n] == 0} for n in sorted(names)]
    if cmd.get("nameOnly"):
        dbs = [{"name": d["name"]} for d in dbs]
    return {"databases": dbs, "totalSize": sum(sizes.values()), "ok": 1.0}


def _db_size(name):
    total = 0
    for cname in CLIENT[name].list_collection_names():
        total += _coll_size(CLIENT[name][cname]._store)
    return total


def _coll_size(store):
    # Estimated from a sample: encoding every document on each serverStatus would
    # make the monitoring poll itself a load on a big collection.
    docs = store._documents
    n = len(docs)
    if not n:
        return 0
    sample = list(itertools.islice(docs.values(), 50))
    return n * sum(len(bson.encode(d)) for d in sample) // len(sample)


def data_size():
    """Approximate bytes of all stored BSON, for wiredTiger.cache."""
    with STORE_LOCK:
        return sum(_db_size(n) for n in CLIENT.list_database_names())


# ---------------------------------------------------------------------- non-data commands
PROCESS_ID = bson.ObjectId()  # this server process, for hello's topologyVersion


def hello_doc(cmd, ctx, name):
    reply = {
        "ismaster": True,
        "isWritablePrimary": True,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": 48000000,
        "maxWriteBatchSize": 100000,
        "localTime": datetime.datetime.utcnow(),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": ctx.conn_id,
        "minWireVersion": 0,
        "maxWireVersion": MAX_WIRE,
        "readOnly": False,
        "ok": 1.0,
    }
    # Drivers that see a topologyVersion monitor with the streaming protocol: an awaitable
    # hello with exhaustAllowed, answered by a stream of moreToCome replies (mongo_server.py).
    reply["topologyVersion"] = {"processId": PROCESS_ID, "counter": 0}
    if cmd.get("helloOk"):
        reply["helloOk"] = True  # only to clients that say they understand it
    if "compression" in cmd:
        # Negotiated once per connection, on the handshake: client's order of preference,
        # limited to what this server was started with.
        ctx.compressors = [c for c in cmd["compression"] if c in ctx.server.compressors]
    if ctx.compressors is not None and "compression" in cmd:
        reply["compression"] = ctx.compressors
    return reply


def cmd_build_info(db, cmd, ctx):
    return {"version": VERSION, "gitVersion": "tierprobe-test", "versionArray": [6, 0, 0, 0],
            "bits": 64, "debug": False, "maxBsonObjectSize": 16 * 1024 * 1024,
            "modules": [], "allocator": "system", "javascriptEngine": "none",
            "sysInfo": "deprecated", "storageEngines": ["wiredTiger"], "ok": 1.0}


def cmd_server_status(db, cmd, ctx):
    return ctx.stats.server_status(data_size())


HANDLERS = {
    "find": cmd_find, "getMore": cmd_get_more, "killCursors": cmd_kill_cursors,
    "insert": cmd_insert, "update": cmd_update, "delete": cmd_delete,
    "findAndModify": cmd_find_and_modify, "findandmodify": cmd_find_and_modify,
    "count": cmd_count, "distinct": cmd_distinct, "aggregate": cmd_aggregate,
    "createIndexes": cmd_create_indexes, "listIndexes": cmd_list_indexes,
    "dropIndexes": cmd_drop_indexes, "deleteIndexes": cmd_drop_indexes,
    "create": cmd_create, "drop": cmd_drop, "dropDatabase": cmd_drop_database,
    "listCollections": cmd_list_collections, "listDatabases": cmd_list_databases,
    "buildInfo": cmd_build_info, "buildinfo": cmd_build_info,
    "serverStatus": cmd_server_status,
    "ping": lambda db, cmd, ctx: {"ok": 1.0},
    "endSessions": lambda db, cmd, ctx: {"ok": 1.0},
    "whatsmyuri": lambda db, cmd, ctx: {"you": ctx.peer, "ok": 1.0},
    "getLastError": lambda db, cmd, ctx: {"n": 0, "err": None, "ok": 1.0},
    "connectionStatus": lambda db, cmd, ctx: {
        "authInfo": {"authenticatedUsers": [], "authenticatedUserRoles": []}, "ok": 1.0},
}
for _n in ("hello", "ismaster", "isMaster"):
    HANDLERS[_n] = (lambda name: lambda db, cmd, ctx: hello_doc(cmd, ctx, name))(_n)


def classify(name, cmd):
    """(opcounters field or None if the handler counts itself, latency group, ticket kind)."""
    if name == "find":
        return "query", "reads", "r"
    if name == "getMore":
        return "getmore", "reads", "r"
    if name in ("insert", "update", "delete"):
        return None, "writes", "w"
    if name in ("findAndModify", "findandmodify"):
        return "command", "writes", "w"
    if name == "aggregate":
        writes = any(("$out" in s or "$merge" in s) for s in cmd.get("pipeline") or []
                     if isinstance(s, dict))
        return "command", ("writes" if writes else "reads"), ("w" if writes else "r")
    if name in READS:
        return "command", "reads", "r"
    kind = "w" if name in ("create", "drop", "dropDatabase", "createIndexes",
                           "dropIndexes", "deleteIndexes") else "r"
    return "command", "commands", kind
