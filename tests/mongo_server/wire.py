"""MongoDB wire-protocol framing: just the opcodes drivers use against a 3.6+ server.

Kept apart from command execution so the server loop can count bytes and requests
on the exact frames it reads and writes (serverStatus.network must be real).
"""
import struct
import zlib

try:  # Debian python3-zstandard / python3-snappy: optional, offered only when importable
    import zstandard
except ImportError:  # pragma: no cover - depends on the machine
    zstandard = None
try:
    import snappy
except ImportError:  # pragma: no cover
    snappy = None

import bson
from bson.codec_options import CodecOptions

OP_REPLY = 1
OP_GET_MORE = 2005
OP_QUERY = 2004
OP_KILL_CURSORS = 2007
OP_COMPRESSED = 2012
OP_MSG = 2013

MSG_CHECKSUM = 0x1
MSG_MORE_TO_COME = 0x2
MSG_EXHAUST_ALLOWED = 0x10000
QUERY_EXHAUST = 0x40
REPLY_CURSOR_NOT_FOUND = 0x1
REPLY_QUERY_FAILURE = 0x2
REPLY_AWAIT_CAPABLE = 0x8

COMPRESSOR_IDS = {"noop": 0, "zlib": 2}
if snappy is not None:
    COMPRESSOR_IDS["snappy"] = 1
if zstandard is not None:
    COMPRESSOR_IDS["zstd"] = 3

HEADER = struct.Struct("<iiii")
# Decode into plain dicts (ordered): the first key of a command is its name.
CODEC = CodecOptions(document_class=dict)


class ProtocolError(Exception):
    """The peer sent something we cannot frame; the connection gets closed."""


class Request:
    """One decoded client message."""
    __slots__ = ("request_id", "opcode", "doc", "more_to_come", "compressor", "legacy_ns",
                 "doc_sequences", "legacy", "exhaust_allowed")

    def __init__(self, request_id, opcode, doc, more_to_come=False, compressor=None,
                 legacy_ns=None):
        self.request_id = request_id
        self.opcode = opcode          # the original opcode (OP_MSG / OP_QUERY), after decompression
        self.doc = doc                # the command document, kind-1 sections merged in as lists
        self.more_to_come = more_to_come
        self.compressor = compressor  # compressor id the request used, None if not compressed
        self.legacy_ns = legacy_ns    # OP_QUERY full collection name ("admin.$cmd")
        self.doc_sequences = 0        # kind-1 sections seen (tests check drivers use them)
        self.legacy = None            # legacy OP_QUERY find: (flags, skip, numberToReturn, fields)
        self.exhaust_allowed = False  # OP_MSG flag: the client takes a stream of moreToCome replies


def read_message(rfile):
    """Returns (header tuple, body bytes) or None at a clean EOF."""
    head = rfile.read(16)
    if not head:
        return None
    if len(head) < 16:
        raise ProtocolError("short header")
    length, request_id, response_to, opcode = HEADER.unpack(head)
    if length < 16 or length > 48 * 1024 * 1024:
        raise ProtocolError("bad messageLength %d" % length)
    body = rfile.read(length - 16)
    if len(body) < length - 16:
        raise ProtocolError("short message")
    return (length, request_id, response_to, opcode), body


def decode(header, body):
    """Turns a frame into a Request (decompressing OP_COMPRESSED first)."""
    length, request_id, _, opcode = header
    compressor = None
    if opcode == OP_COMPRESSED:
        orig_opcode, usize, comp_id = struct.unpack_from("<iiB", body, 0)
        if comp_id not in COMPRESSOR_IDS.values():
            raise ProtocolError("unsupported compressor id %d" % comp_id)
        body = decompress(comp_id, body[9:], usize)
        if len(body) != usize:
            raise ProtocolError("uncompressedSize mismatch")
        opcode, compressor = orig_opcode, comp_id
    if opcode == OP_MSG:
        return _decode_msg(request_id, body, compressor)
    if opcode == OP_QUERY:
        return _decode_query(request_id, body, compressor)
    if opcode == OP_GET_MORE:
        # int32 0, cstring ns, int32 numberToReturn, int64 cursorID
        nul = body.index(b"\0", 4)
        db, coll = body[4:nul].decode().split(".", 1)
        nret, cursor_id = struct.unpack_from("<iq", body, nul + 1)
        doc = {"getMore": cursor_id, "collection": coll, "batchSize": abs(nret), "$db": db}
        return Request(request_id, OP_GET_MORE, doc, False, compressor)
    if opcode == OP_KILL_CURSORS:
        (n,) = struct.unpack_from("<i", body, 4)
        ids = list(struct.unpack_from("<%dq" % n, body, 8))
        # Legacy kill has no namespace and never gets a reply.
        return Request(request_id, OP_KILL_CURSORS, {"killCursors": "", "cursors": ids}, True,
                       compressor)
    raise ProtocolError("unsupported opcode %d" % opcode)


def _decode_msg(request_id, body, compressor):
    (flags,) = struct.unpack_from("<I", body, 0)
    end = len(body) - 4 if flags & MSG_CHECKSUM else len(body)  # CRC-32C tolerated, not checked
    pos = 4
    doc = None
    sequences = []
    while pos < end:
        kind = body[pos]
        pos += 1
        if kind == 0:
            (size,) = struct.unpack_from("<i", body, pos)
            doc = bson.decode(body[pos:pos + size], CODEC)
            pos += size
        elif kind == 1:
            (size,) = struct.unpack_from("<i", body, pos)
            sec_end = pos + size
            nul = body.index(b"\0", pos + 4)
            ident = body[pos + 4:nul].decode()
            docs = bson.decode_all(body[nul + 1:sec_end], CODEC)
            sequences.append((ident, docs))
            pos = sec_end
        else:
            raise ProtocolError("unknown OP_MSG section kind %d" % kind)
    if doc is None:
        raise ProtocolError("OP_MSG without a kind-0 section")
    # A document sequence is equivalent to an array field of the same name in the body.
    for ident, docs in sequences:
        doc.setdefault(ident, []).extend(docs)
    req = Request(request_id, OP_MSG, doc, bool(flags & MSG_MORE_TO_COME), compressor)
    req.doc_sequences = len(sequences)
    req.exhaust_allowed = bool(flags & MSG_EXHAUST_ALLOWED)
    return req


def _decode_query(request_id, body, compressor):
    (flags,) = struct.unpack_from("<i", body, 0)
    nul = body.index(b"\0", 4)
    ns = body[4:nul].decode()
    skip, nret = struct.unpack_from("<ii", body, nul + 1)
    pos = nul + 1 + 8
    (size,) = struct.unpack_from("<i", body, pos)
    doc = bson.decode(body[pos:pos + size], CODEC)
    pos += size
    if not ns.endswith(".$cmd"):
        # A legacy find (pymongo 3.x still uses it for exhaust cursors).
        fields = bson.decode(body[pos:], CODEC) if pos < len(body) else None
        req = Request(request_id, OP_QUERY, doc, False, compressor, legacy_ns=ns)
        req.legacy = (flags, skip, nret, fields)
        return req
    # Drivers wrap commands as {$query: cmd, $readPreference: ...} on mongos-style queries.
    if "$query" in doc:
        doc = doc["$query"]
    return Request(request_id, OP_QUERY, doc, False, compressor, legacy_ns=ns)


def decompress(comp_id, payload, usize):
    """OP_COMPRESSED payload -> the original message body (ids: 0 noop, 1 snappy, 2 zlib, 3 zstd)."""
    if comp_id == 0:
        return payload
    if comp_id == 1:
        return snappy.uncompress(payload)
    if comp_id == 2:
        return zlib.decompress(payload)
    # The zstd frames drivers send need not carry the content size: give the bound.
    return zstandard.ZstdDecompressor().decompress(payload, max_output_size=max(usize, 1))


def compress(comp_id, body):
    """The reverse of decompress(): compresses with the id the request used."""
    if comp_id == 1:
        return snappy.compress(body)
    if comp_id == 2:
        return zlib.compress(body, 1)
    if comp_id == 3:
        return zstandard.ZstdCompressor(level=1).compress(body)
    return body


def compressed_frame_body(opcode, body, comp_id):
    """(OP_COMPRESSED, body) wrapping `body` of `opcode`, or the inputs when comp_id is None."""
    if comp_id is None:
        return opcode, body
    return OP_COMPRESSED, struct.pack("<iiB", opcode, len(body), comp_id) + compress(comp_id, body)


_reply_id = [0]


def encode_legacy_reply(response_to, flags, cursor_id, starting_from, docs, compress_with=None):
    """OP_REPLY carrying a batch of documents (legacy find / OP_GET_MORE / exhaust)."""
    _reply_id[0] = (_reply_id[0] + 1) & 0x7FFFFFFF
    payload = b"".join(bson.encode(d) if not hasattr(d, "raw") else d.raw for d in docs)
    body = struct.pack("<iqii", flags, cursor_id, starting_from, len(docs)) + payload
    opcode, body = compressed_frame_body(OP_REPLY, body, compress_with)
    return HEADER.pack(16 + len(body), _reply_id[0], response_to, opcode) + body


def encode_reply(request, reply_doc, compress_with=None, more_to_come=False, response_to=None):
    """Builds the reply frame: OP_REPLY for OP_QUERY, OP_MSG otherwise; optionally compressed
    (compress_with: compressor id 1 snappy, 2 zlib, 3 zstd, or None). more_to_come sets the
    OP_MSG flag of an exhaust stream, whose replies after the first answer the previous reply
    (response_to), as mongod does."""
    _reply_id[0] = (_reply_id[0] + 1) & 0x7FFFFFFF  # racy across threads but only needs to vary
    payload = bson.encode(reply_doc)
    if request.opcode == OP_QUERY:
        opcode = OP_REPLY
        # responseFlags (AwaitCapable 8), cursorID 0, startingFrom 0, numberReturned 1
        body = struct.pack("<iqii", 8, 0, 0, 1) + payload
    else:
        opcode = OP_MSG
        flags = MSG_MORE_TO_COME if more_to_come else 0
        body = struct.pack("<I", flags) + b"\0" + payload  # flagBits, one kind-0 section
    opcode, body = compressed_frame_body(opcode, body, compress_with)
    to = request.request_id if response_to is None else response_to
    return HEADER.pack(16 + len(body), _reply_id[0], to, opcode) + body
