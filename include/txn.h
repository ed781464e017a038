/*
 * txn.h - the transactions the protocol parsers emit: one HTTP exchange or one
 * MongoDB request with its reply, each with the four capture timestamps that
 * DESIGN.md's definitions are built on.
 */
#ifndef TIERPROBE_TXN_H
#define TIERPROBE_TXN_H

#include <stdint.h>

#include "endpoint.h"
#include "timestamp.h"

/*
 * Request first/last byte and response first/last byte, as capture times.
 * Any of them is TS_NONE when that side was never seen (a request with no
 * response, a response whose request predates the capture).
 */
struct txn_times {
	ts_ns req_first;
	ts_ns req_last;
	ts_ns resp_first;
	ts_ns resp_last;
};

/* Why a transaction is less than perfect; several may be set (the CSV "note"). */
enum txn_note {
	TXN_NOTE_GAP_REQUEST = 1u << 0,		/* bytes of the request were not captured */
	TXN_NOTE_GAP_RESPONSE = 1u << 1,	/* bytes of the response were not captured */
	TXN_NOTE_NO_RESPONSE = 1u << 2,		/* request seen, response never came */
	TXN_NOTE_NO_REQUEST = 1u << 3,		/* response seen, request never seen */
	TXN_NOTE_TRUNCATED = 1u << 4,		/* connection ended inside a message */
	TXN_NOTE_CONTINUE = 1u << 5,		/* HTTP: an interim 1xx preceded the final status */
	TXN_NOTE_MIDSTREAM = 1u << 6,		/* flow picked up after its start */
	TXN_NOTE_COMPRESSED = 1u << 7,		/* Mongo: OP_COMPRESSED carried the request or reply */
	TXN_NOTE_MORE_TO_COME = 1u << 8,	/* Mongo: moreToCome request, no reply expected */
	TXN_NOTE_EXHAUST = 1u << 9,		/* Mongo: one of several exhaust replies */
	TXN_NOTE_OVERSIZE = 1u << 10,		/* a message exceeded a hard cap and was skipped */
	/*
	 * Mongo: a driver's server monitor waiting on an awaitable hello (the
	 * streaming protocol, MongoDB 4.4+), or a reply of its stream: its latency
	 * is the server holding the answer for maxAwaitTimeMS, not work. Kept out
	 * of every latency figure and of attribution.
	 */
	TXN_NOTE_MONITOR = 1u << 11,
};

/* Writes the notes as "gap-request;no-response" into buf (NUL-terminated); "" for none. */
char *txn_note_format(unsigned notes, char *buf, size_t len);
/* The inverse of txn_note_format (unknown names are ignored). */
unsigned txn_note_parse(const char *text);

#define HTTP_METHOD_MAX 16
#define HTTP_ROUTE_MAX 256

/* One HTTP/1.x request and its final response. Strings are NUL-terminated copies. */
struct http_txn {
	uint64_t flow_id;		/* the connection (flow_table id), for socket->pid */
	struct endpoint client;
	struct endpoint server;
	struct txn_times t;
	char method[HTTP_METHOD_MAX];	/* "" when only the response was seen */
	char route[HTTP_ROUTE_MAX];	/* route_normalize()d path, never a query string */
	int status;			/* 0 when no response */
	uint64_t req_bytes;		/* wire bytes: request line + headers + body */
	uint64_t resp_bytes;		/* wire bytes of every response incl. interim 1xx */
	unsigned notes;			/* enum txn_note */
};

#define MONGO_NAME_MAX 128

/* One MongoDB request with its reply (or none: moreToCome, lost reply). */
struct mongo_txn {
	uint64_t flow_id;
	struct endpoint client;
	struct endpoint server;
	struct txn_times t;
	int32_t request_id;
	int32_t opcode;			/* the request's opcode, after OP_COMPRESSED is unwrapped */
	char db[MONGO_NAME_MAX];
	char collection[MONGO_NAME_MAX];
	char command[64];		/* "find", "insert", "getMore", "query" for legacy finds... */
	char shape[512];		/* see mongo_shape.h; never a literal value */
	uint64_t shape_id;		/* stable hash of (db, collection, command, shape); 0 if none */
	uint64_t req_bytes;		/* messageLength of the request (wire, compressed) */
	uint64_t resp_bytes;		/* messageLength of the reply(ies) */
	int64_t docs;			/* documents returned; -1 unknown */
	int ok;				/* reply "ok": 1, 0, or -1 when unknown/no reply */
	int32_t error_code;		/* reply "code" or first writeErrors code; 0 = none */
	unsigned notes;			/* enum txn_note */
};

/*
 * Where parsers deliver finished transactions. The callee copies what it
 * keeps: the txn pointer is only valid during the call.
 */
struct txn_sink {
	void (*http)(void *ctx, const struct http_txn *t);
	void (*mongo)(void *ctx, const struct mongo_txn *t);
	void *ctx;
};

#endif
