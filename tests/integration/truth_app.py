#!/usr/bin/python3
"""A Flask application that knows its own database time: the ground truth for tierprobe's
attribution (tests/integration/test_attribution.py).

Run under gunicorn sync workers (one request at a time per process):

    TRUTH_MONGO_URI=mongodb://127.0.0.1:P/?directConnection=true TRUTH_LOG=/tmp/truth.log \
        /usr/bin/python3 -m gunicorn -w 2 -b 127.0.0.1:8000 --chdir tests/integration truth_app:app

Per request, a pymongo CommandListener adds up the `duration_micros` of every command the
request ran (what the driver itself measured: encode + round trip + decode). The request is
made identifiable without putting anything in the route: the client passes `?k=N` (tierprobe
never writes query strings) and the response body is exactly TRUTH_BODY_BASE + N bytes long, so
its size is unique in the run. One line per request is appended to TRUTH_LOG:

    k <TAB> route <TAB> pid <TAB> db_us <TAB> db_ops <TAB> body_len <TAB> command:us,command:us...

Routes (each with a different database share):
    /light      one find by _id                          + TRUTH_LIGHT_SLEEP_MS of sleep
    /heavy      three finds, one aggregate, one count    + TRUTH_HEAVY_CPU_MS of CPU work
    /items/<n>  the same as /light (routes fold ids to :id)
Knobs (environment): TRUTH_LIGHT_SLEEP_MS (default 0), TRUTH_HEAVY_CPU_MS (default 3),
TRUTH_HEAVY_SLEEP_MS (0), TRUTH_LIGHT_CPU_MS (0), TRUTH_BODY_BASE (1000), TRUTH_DOCS (100).
"""
import os
import threading
import time

from flask import Flask, Response, request
import pymongo
from pymongo import monitoring

MONGO_URI = os.environ.get("TRUTH_MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
LOG = os.environ.get("TRUTH_LOG")
BODY_BASE = int(os.environ.get("TRUTH_BODY_BASE", "1000"))
DOCS = int(os.environ.get("TRUTH_DOCS", "100"))


def knob_ms(name, default=0.0):
    return float(os.environ.get(name, default)) / 1000.0


LIGHT_SLEEP = knob_ms("TRUTH_LIGHT_SLEEP_MS")
LIGHT_CPU = knob_ms("TRUTH_LIGHT_CPU_MS")
HEAVY_CPU = knob_ms("TRUTH_HEAVY_CPU_MS", 3)
HEAVY_SLEEP = knob_ms("TRUTH_HEAVY_SLEEP_MS")


class DbTime(monitoring.CommandListener):
    """Adds up the driver's own command durations, per thread (a sync worker has one)."""

    def __init__(self):
        self.local = threading.local()

    def reset(self):
        self.local.us = 0
        self.local.ops = 0
        self.local.each = []

    def take(self):
        return getattr(self.local, "us", 0), getattr(self.local, "ops", 0), getattr(self.local, "each", [])

    def started(self, event):
        pass

    def _done(self, event):
        self.local.us = getattr(self.local, "us", 0) + event.duration_micros
        self.local.ops = getattr(self.local, "ops", 0) + 1
        if hasattr(self.local, "each"):
            self.local.each.append("%s:%d" % (event.command_name, event.duration_micros))

    succeeded = _done
    failed = _done


db_time = DbTime()
client = pymongo.MongoClient(MONGO_URI, event_listeners=[db_time], serverSelectionTimeoutMS=10000)
coll = client.truth.items
# Connect now (in each worker after the fork), so no request pays for the handshake.
client.admin.command("ping")
if coll.estimated_document_count() < DOCS:
    try:
        coll.insert_many([{"_id": i, "group": i % 7, "score": (i * 37) % 101, "name": "item%d" % i}
                          for i in range(DOCS)], ordered=False)
    except pymongo.errors.BulkWriteError:
        pass  # the other worker inserted them first

app = Flask(__name__)
log_fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if LOG else None


def burn(seconds):
    """CPU work for about `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x += i * i
    return x


@app.before_request
def start():
    db_time.reset()


def respond(route):
    db_us, db_ops, each = db_time.take()
    k = int(request.args.get("k", "0"))
    n = BODY_BASE + k
    if log_fd is not None:
        # one write(2) with O_APPEND: lines from the two workers never interleave
        os.write(log_fd, ("%d\t%s\t%d\t%d\t%d\t%d\t%s\n"
                          % (k, route, os.getpid(), db_us, db_ops, n, ",".join(each))).encode())
    return Response(b"x" * n, mimetype="text/plain")


def light(i):
    coll.find_one({"_id": i % DOCS})
    if LIGHT_CPU:
        burn(LIGHT_CPU)
    if LIGHT_SLEEP:
        time.sleep(LIGHT_SLEEP)


@app.route("/light")
def route_light():
    light(int(request.args.get("k", "0")))
    return respond("/light")


@app.route("/items/<int:item>")
def route_item(item):
    light(item)
    return respond("/items/:id")


@app.route("/heavy")
def route_heavy():
    k = int(request.args.get("k", "0"))
    list(coll.find({"group": k % 7}).limit(5))
    list(coll.find({"score": {"$gt": k % 90}}).sort("score", -1).limit(3))
    coll.find_one({"_id": (k * 13) % DOCS})
    list(coll.aggregate([{"$match": {"group": k % 7}},
                         {"$group": {"_id": "$group", "total": {"$sum": "$score"}}}]))
    coll.count_documents({"group": (k + 1) % 7})
    if HEAVY_CPU:
        burn(HEAVY_CPU)
    if HEAVY_SLEEP:
        time.sleep(HEAVY_SLEEP)
    return respond("/heavy")


@app.route("/big")
def route_big():
    """A large body and no database: a burst of these fills a small capture buffer."""
    return Response(b"y" * int(request.args.get("n", "200000")), mimetype="text/plain")
