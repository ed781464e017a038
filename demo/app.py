"""The origin experiment's service: a Flask + MongoDB user API.

Five steps make one user flow (demo/load.py drives them):
  POST /user          create a user (password hashed with PBKDF2, profile created)
  POST /user/login    check the password (PBKDF2 again), return a session token
  POST /profile       change the profile (Authorization: Bearer <token>)
  GET  /profile       read the profile
  GET  /status/mongo  ping + a small serverStatus

Knobs (environment, read at import):
  DEMO_MONGO_URI      where MongoDB is (default mongodb://127.0.0.1:27017/?directConnection=true)
  DEMO_DB             database name (default demo)
  DEMO_PBKDF2_ITERS   PBKDF2-HMAC-SHA256 iterations per hash (default 20000)
  DEMO_EXTERNAL_MS    milliseconds GET /profile waits on a (simulated) external service,
                      e.g. an avatar or billing API; default 0. It is a sleep: it holds the
                      worker without using CPU or MongoDB (the few-workers scenario).

Every lookup is by _id (email, token, user id), as a real service would index them.
Runs under any WSGI server: gunicorn, mod_wsgi, Twisted Web, on CPython or PyPy.
"""
import hashlib
import hmac
import os
import secrets
import time

from flask import Flask, jsonify, request
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

MONGO_URI = os.environ.get("DEMO_MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
DB_NAME = os.environ.get("DEMO_DB", "demo")
PBKDF2_ITERS = int(os.environ.get("DEMO_PBKDF2_ITERS", "20000"))
EXTERNAL_MS = float(os.environ.get("DEMO_EXTERNAL_MS", "0"))

app = Flask(__name__)
_client = None


def db():
    # One client per process, created lazily: pre-fork servers (gunicorn, Apache prefork)
    # must not share a MongoClient across fork().
    global _client
    if _client is None:
        _client = MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000, connect=False)
    return _client[DB_NAME]


def hash_password(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERS)


def error(status, message):
    return jsonify({"error": message}), status


def session_user():
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return None
    s = db().sessions.find_one({"_id": auth[7:]})
    return s["user"] if s else None


@app.post("/user")
def create_user():
    body = request.get_json(silent=True) or {}
    email, password = body.get("email"), body.get("password")
    if not email or not password:
        return error(400, "email and password are required")
    salt = secrets.token_bytes(16)
    user = {"_id": email, "salt": salt, "hash": hash_password(password, salt), "created": time.time()}
    try:
        db().users.insert_one(user)
    except DuplicateKeyError:
        return error(409, "user exists")
    db().profiles.insert_one({"_id": email, "name": body.get("name", ""), "bio": "", "updated": time.time()})
    return jsonify({"id": email}), 201


@app.post("/user/login")
def login():
    body = request.get_json(silent=True) or {}
    email, password = body.get("email"), body.get("password")
    user = db().users.find_one({"_id": email}) if email else None
    if user is None or not hmac.compare_digest(hash_password(password or "", user["salt"]), user["hash"]):
        return error(401, "bad credentials")
    token = secrets.token_hex(24)
    db().sessions.insert_one({"_id": token, "user": email, "created": time.time()})
    return jsonify({"token": token})


@app.post("/profile")
def update_profile():
    user = session_user()
    if user is None:
        return error(401, "no session")
    body = request.get_json(silent=True) or {}
    fields = {k: str(body[k])[:500] for k in ("name", "bio") if k in body}
    fields["updated"] = time.time()
    res = db().profiles.update_one({"_id": user}, {"$set": fields})
    if res.matched_count == 0:
        return error(404, "no profile")
    return jsonify({"ok": True})


@app.get("/profile")
def get_profile():
    user = session_user()
    if user is None:
        return error(401, "no session")
    if EXTERNAL_MS > 0:
        time.sleep(EXTERNAL_MS / 1000.0)  # the simulated external call (see the module doc)
    p = db().profiles.find_one({"_id": user})
    if p is None:
        return error(404, "no profile")
    return jsonify({"name": p.get("name", ""), "bio": p.get("bio", "")})


@app.get("/status/mongo")
def status_mongo():
    d = db()
    d.command("ping")
    ss = d.client.admin.command("serverStatus")
    return jsonify({"ok": True, "version": ss.get("version"), "uptime": ss.get("uptime"),
                    "connections": ss.get("connections", {}).get("current")})


application = app  # mod_wsgi looks for "application"
