"""The small Flask app the integration tests run under gunicorn: every answer names the worker
(X-Pid) and how many MongoDB requests it made for this HTTP request (X-Db-Ops)."""
import os

import pymongo
from flask import Flask, Response, request

app = Flask(__name__)
_client = None


def db():
    global _client
    if _client is None or _client_pid != os.getpid():
        _connect()
    return _client.tierprobe_it


_client_pid = None


def _connect():
    global _client, _client_pid
    _client = pymongo.MongoClient("127.0.0.1", int(os.environ["IT_MONGO_PORT"]),
                                  serverSelectionTimeoutMS=5000, connect=True)
    _client_pid = os.getpid()


def answer(body, status, ops):
    r = Response(body, status=status, mimetype="text/plain")
    r.headers["X-Pid"] = str(os.getpid())
    r.headers["X-Db-Ops"] = str(ops)
    return r


@app.route("/items/<int:item_id>")
def get_item(item_id):
    doc = db().items.find_one({"_id": item_id})
    if doc is None:
        return answer("no such item\n", 404, 1)
    return answer("item %d\n" % item_id, 200, 1)


@app.route("/items/<int:item_id>", methods=["PUT"])
def put_item(item_id):
    db().items.replace_one({"_id": item_id}, {"_id": item_id, "size": len(request.get_data())},
                           upsert=True)
    return answer("stored\n", 201, 1)


@app.route("/status")
def status():
    return answer("ok\n", 200, 0)


@app.route("/boom")
def boom():
    db().items.count_documents({"kind": "boom"})
    return answer("failed on purpose\n", 500, 1)


@app.route("/spin")
def spin():
    # CPU in the web tier, so samples.csv's web CPU has something to show.
    n = int(request.args.get("n", "200000"))
    x = 0
    for i in range(n):
        x += i * i
    return answer("%d\n" % (x & 0xff), 200, 0)
