/*
 * stream.h - the contract between TCP reassembly and the protocol parsers.
 *
 * A parser sees one connection as two ordered byte streams (to the server,
 * to the client) plus explicit events: a gap of N missing bytes, a FIN, and
 * the end of the connection. It never sees packets, and it must never assume
 * a message arrives in one piece: any byte may be the last one of a call.
 */
#ifndef TIERPROBE_STREAM_H
#define TIERPROBE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "membudget.h"
#include "quality.h"
#include "timestamp.h"
#include "txn.h"

enum stream_dir {
	STREAM_TO_SERVER = 0,	/* client -> server: requests */
	STREAM_TO_CLIENT = 1,	/* server -> client: responses */
};

/* What a parser knows about its connection. Owned by the flow; outlives the parser. */
struct stream_ctx {
	uint64_t flow_id;
	struct endpoint client;
	struct endpoint server;
	int midstream;			/* the capture began after the handshake */
	struct quality *q;		/* counters to increment */
	struct membudget *budget;	/* global cap on buffered bytes, shared by all flows */
	const struct txn_sink *sink;	/* where finished transactions go */
};

/*
 * One protocol parser. open() returns the parser's state (NULL on allocation
 * failure: the flow is then ignored and counted). data() gets in-order bytes
 * stamped with the capture time at which they became available. gap() says
 * len bytes are missing at this point of the stream: the parser must
 * resynchronise or skip, never misparse. fin() says no more bytes will come
 * in that direction. close() flushes whatever is pending (emitting
 * transactions with notes such as TXN_NOTE_NO_RESPONSE) and frees the state.
 */
struct stream_parser_ops {
	const char *name;
	void *(*open)(const struct stream_ctx *ctx);
	void (*data)(void *p, enum stream_dir dir, const uint8_t *data, size_t len, ts_ns ts);
	void (*gap)(void *p, enum stream_dir dir, uint64_t len, ts_ns ts);
	void (*fin)(void *p, enum stream_dir dir, ts_ns ts);
	void (*close)(void *p, ts_ns ts);
};

extern const struct stream_parser_ops http_stream_ops;	/* collectors/http.c */
extern const struct stream_parser_ops mongo_stream_ops;	/* collectors/mongo.c */

#endif
