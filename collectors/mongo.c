/*
 * mongo.c - the MongoDB stream parser (mongo_stream_ops): frames the wire
 * protocol's length-prefixed messages in each direction, decodes them with
 * mongo_msg, pairs replies with requests and emits struct mongo_txn.
 * Spec: the MongoDB Wire Protocol (message header, OP_MSG moreToCome/exhaust).
 *
 * Framing, per direction:
 *
 *   | int32 messageLength | requestID | responseTo | opCode | body ... |
 *   \______________ messageLength bytes, 16 .. 48,000,000 ____________/
 *
 *   HEADER --16 bytes, length ok, budget ok--> BODY --complete--> decode, HEADER
 *      |                    \--budget refused--> SKIP (count bytes, note oversize)
 *      \--length < 16 or > 48 MB, or a gap whose extent is unknown--> RESYNC
 *
 * Gaps. A gap inside a message whose header was read drops that message
 * (counted in mongo_gap_messages, its half of the txn noted gap-request /
 * gap-response) but keeps the framing: the gap's length is known, so the
 * remaining bytes are skipped. A gap at a message boundary, inside a header,
 * or longer than the rest of the message loses the framing: RESYNC.
 * Resync heuristic: only the first bytes of a later data() call (a segment
 * boundary, where senders usually start messages) are tried; they must hold a
 * whole 16-byte header with length 16..48 MB, an opcode this parser knows
 * that fits the direction (requests vs replies), and for OP_MSG flagBits with
 * only the defined bits. Chunks that fail (or are shorter than 16 bytes) are
 * dropped whole. A capture picked up midstream starts in RESYNC.
 *
 * Pairing. The direction decides request vs reply (requestID 0 and
 * responseTo 0 are legal on both sides). A reply pairs with the pending
 * request of the same connection whose requestID == reply.responseTo; the
 * pending table holds at most MONGO_PENDING_MAX requests, the oldest is
 * evicted and emitted with no-response. A reply with no pending request is
 * dropped and counted (mongo_unmatched_replies). Requests that get no reply
 * (OP_MSG moreToCome, legacy OP_INSERT/UPDATE/DELETE/KILL_CURSORS) are
 * emitted at once; moreToCome ones carry the more-to-come note.
 * Exhaust cursors (OP_MSG moreToCome replies, or OP_REPLY batches with a live
 * cursor answering an OP_QUERY with the exhaust flag 0x40): one txn per reply,
 * each noted exhaust. The first pairs
 * with the request; each later reply answers the previous reply's requestID
 * and gets a txn whose "request" times are the previous reply's last byte
 * (so latency is the time to that batch) and req_bytes 0.
 *
 * Memory. A message split across calls is copied into a buffer reserved in
 * the shared membudget first (a whole message inside one call is decoded in
 * place); an OP_COMPRESSED message's claimed decompressed size and the
 * pending table's growth are reserved too. A refusal skips the message (its
 * header still pairs it, noted oversize) or evicts the oldest pending request.
 * A message whose body cannot be decoded is still paired through its header
 * (command empty); the counters say why (mongo_parse_errors, _bson_errors,
 * _decompress_errors, _oversize).
 *
 * Replies to legacy finds (OP_QUERY on a collection, not db.$cmd) carry
 * application documents: their "ok"/"code" fields are not read as status.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mongo_msg.h"
#include "stream.h"

#define MONGO_PENDING_MAX 1024

enum mongo_dir_state {
	MONGO_DIR_HEADER = 0,
	MONGO_DIR_BODY,
	MONGO_DIR_SKIP,
	MONGO_DIR_RESYNC,
};

/* One direction's framing state. */
struct mongo_dir {
	enum mongo_dir_state state;
	uint8_t hdr[MONGO_MSG_HEADER_LEN];
	size_t hdr_have;
	struct mongo_msg_header h;	/* valid in BODY and SKIP */
	uint8_t *buf;			/* BODY: the whole message, h.length bytes */
	size_t have;
	size_t taken;			/* bytes reserved in the membudget for buf */
	uint64_t skip_left;		/* SKIP: bytes of the message still to pass */
	unsigned skip_note;		/* SKIP: why (TXN_NOTE_OVERSIZE, GAP_*) */
	ts_ns first, last;		/* capture times of the message's first/last byte */
};

#define LEGACY_FIND_EXHAUST 2

struct mongo_pending {
	int32_t key;			/* the requestID (or exhaust reply's) a reply answers */
	int legacy_find;		/* OP_QUERY on a collection: its reply holds data, not ok/code;
					 * LEGACY_FIND_EXHAUST: with the exhaust flag */
	struct mongo_txn t;		/* request half, filled in */
};

struct mongo_conn {
	const struct stream_ctx *ctx;
	struct mongo_dir d[2];
	struct mongo_pending *pend;	/* oldest first */
	size_t npend, cap;
	size_t pend_taken;		/* bytes of pend reserved in the membudget */
	struct mongo_msg msg;		/* scratch for the decoder: too big for every stack frame */
};

/* ---- pending requests ---------------------------------------------------------- */

static void emit(struct mongo_conn *c, const struct mongo_txn *t)
{
	const struct txn_sink *s = c->ctx->sink;
	if ((t->notes & TXN_NOTE_MONITOR) && c->ctx->q)
		c->ctx->q->mongo_monitor_calls++;
	if (s && s->mongo)
		s->mongo(s->ctx, t);
}

static void pending_remove(struct mongo_conn *c, size_t i)
{
	memmove(&c->pend[i], &c->pend[i + 1], (c->npend - i - 1) * sizeof(c->pend[0]));
	c->npend--;
}

static void pending_expire(struct mongo_conn *c, size_t i)
{
	c->pend[i].t.notes |= TXN_NOTE_NO_RESPONSE;
	/* a monitor's stream always ends on a hello still waiting: that is how it stops */
	if (c->ctx->q && !(c->pend[i].t.notes & TXN_NOTE_MONITOR))
		c->ctx->q->mongo_unmatched_requests++;
	emit(c, &c->pend[i].t);
	pending_remove(c, i);
}

static long pending_find(const struct mongo_conn *c, int32_t key)
{
	for (size_t i = 0; i < c->npend; i++)
		if (c->pend[i].key == key)
			return (long)i;
	return -1;
}

/* Doubles the table, paying for it from the shared budget; returns 0 or -1. */
static int pending_grow(struct mongo_conn *c)
{
	if (c->cap >= MONGO_PENDING_MAX)
		return -1;
	size_t ncap = c->cap ? c->cap * 2 : 4;
	if (ncap > MONGO_PENDING_MAX)
		ncap = MONGO_PENDING_MAX;
	size_t more = (ncap - c->cap) * sizeof(c->pend[0]);
	if (c->ctx->budget && membudget_take(c->ctx->budget, more) < 0)
		return -1;
	struct mongo_pending *np = realloc(c->pend, ncap * sizeof(*np));
	if (!np) {
		if (c->ctx->budget)
			membudget_give(c->ctx->budget, more);
		return -1;
	}
	if (c->ctx->budget)
		c->pend_taken += more;
	c->pend = np;
	c->cap = ncap;
	return 0;
}

static void pending_add(struct mongo_conn *c, int32_t key, int legacy_find, const struct mongo_txn *t)
{
	long dup = pending_find(c, key);
	if (dup >= 0)	/* the id was reused: the older one will never be answered */
		pending_expire(c, (size_t)dup);
	if (c->npend == c->cap && pending_grow(c) < 0 && c->npend > 0)
		pending_expire(c, 0);	/* no room to grow: the oldest gives way */
	if (c->npend == c->cap) {	/* no table at all: cannot wait for the reply, say so now */
		struct mongo_txn copy = *t;
		copy.notes |= TXN_NOTE_NO_RESPONSE;
		if (c->ctx->q)
			c->ctx->q->mongo_unmatched_requests++;
		emit(c, &copy);
		return;
	}
	c->pend[c->npend].key = key;
	c->pend[c->npend].legacy_find = legacy_find;
	c->pend[c->npend].t = *t;
	c->npend++;
}

/* ---- requests and replies -------------------------------------------------------- */

static int is_reply_opcode(int32_t op)
{
	return op == MONGO_OP_REPLY || op == MONGO_OP_COMMANDREPLY;
}

static int fits_direction(int32_t op, enum stream_dir dir)
{
	if (op == MONGO_OP_MSG || op == MONGO_OP_COMPRESSED)
		return 1;
	return dir == STREAM_TO_CLIENT ? is_reply_opcode(op) : !is_reply_opcode(op);
}

static unsigned base_notes(const struct mongo_conn *c)
{
	return c->ctx->midstream ? TXN_NOTE_MIDSTREAM : 0;
}

/* The request half of a txn from its header alone (when the body is lost or unreadable). */
static void txn_from_header(struct mongo_conn *c, const struct mongo_msg_header *h,
			    ts_ns first, ts_ns last, struct mongo_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->flow_id = c->ctx->flow_id;
	t->client = c->ctx->client;
	t->server = c->ctx->server;
	t->t.req_first = first;
	t->t.req_last = last;
	t->t.resp_first = TS_NONE;
	t->t.resp_last = TS_NONE;
	t->request_id = h->request_id;
	t->opcode = h->opcode;
	t->req_bytes = (uint64_t)h->length;
	t->docs = -1;
	t->ok = -1;
	t->notes = base_notes(c);
}

static void on_request(struct mongo_conn *c, const struct mongo_msg *m, ts_ns first, ts_ns last)
{
	struct mongo_txn t;

	if (m->opcode == MONGO_OP_LEGACY_MSG)
		return;	/* content-free, never answered: nothing to time */
	txn_from_header(c, &m->h, first, last, &t);
	t.opcode = m->opcode;
	memcpy(t.db, m->db, sizeof(t.db));
	memcpy(t.collection, m->collection, sizeof(t.collection));
	memcpy(t.command, m->command, sizeof(t.command));
	memcpy(t.shape, m->shape, sizeof(t.shape));
	t.shape_id = m->shape_id;
	if (m->compressed)
		t.notes |= TXN_NOTE_COMPRESSED;
	if (m->awaitable)
		t.notes |= TXN_NOTE_MONITOR;
	if (!m->expects_reply) {
		if (m->more_to_come)
			t.notes |= TXN_NOTE_MORE_TO_COME;
		emit(c, &t);
		return;
	}
	int legacy_find = 0;
	if (m->opcode == MONGO_OP_QUERY && !m->is_command)
		legacy_find = (m->flags & MONGO_QUERY_FLAG_EXHAUST) ? LEGACY_FIND_EXHAUST : 1;
	pending_add(c, m->h.request_id, legacy_find, &t);
}

/*
 * A reply whose body may be unknown (m == NULL: lost to a gap, over a cap,
 * undecodable); h is its header, note what went wrong.
 */
static void on_reply(struct mongo_conn *c, const struct mongo_msg_header *h,
		     const struct mongo_msg *m, unsigned note, ts_ns first, ts_ns last)
{
	long i = pending_find(c, h->response_to);
	if (i < 0) {
		if (c->ctx->q)
			c->ctx->q->mongo_unmatched_replies++;
		return;
	}
	struct mongo_txn t = c->pend[i].t;
	int legacy_find = c->pend[i].legacy_find;
	pending_remove(c, (size_t)i);
	t.t.resp_first = first;
	t.t.resp_last = last;
	t.resp_bytes += (uint64_t)h->length;
	t.notes |= note;
	if (!m) {
		emit(c, &t);
		return;
	}
	t.docs = m->docs;
	t.ok = m->ok;
	t.error_code = m->error_code;
	if (legacy_find && m->opcode == MONGO_OP_REPLY && m->single_doc_fields &&
	    !(m->flags & MONGO_REPLY_FLAG_QUERY_FAILURE)) {
		/* the one document is the application's data: its "ok" or "code" mean nothing here */
		t.docs = m->number_returned < 0 ? 0 : m->number_returned;
		t.ok = 1;
		t.error_code = 0;
	}
	if (m->compressed)
		t.notes |= TXN_NOTE_COMPRESSED;
	/* Exhaust: this reply is answered by the next one, not by a request. OP_MSG says so
	 * with moreToCome; a legacy OP_QUERY exhaust find's OP_REPLY with a live cursor too
	 * (the server streams batches until the cursor id is 0). */
	int legacy_more = legacy_find == LEGACY_FIND_EXHAUST && m->opcode == MONGO_OP_REPLY &&
			  m->cursor_id != 0 && !(m->flags & MONGO_REPLY_FLAG_QUERY_FAILURE);
	if ((m->opcode == MONGO_OP_MSG && m->more_to_come) || legacy_more) {
		t.notes |= TXN_NOTE_EXHAUST;
		emit(c, &t);
		struct mongo_txn next = t;
		next.t.req_first = last;
		next.t.req_last = last;
		next.t.resp_first = TS_NONE;
		next.t.resp_last = TS_NONE;
		next.req_bytes = 0;
		next.resp_bytes = 0;
		next.docs = -1;
		next.ok = -1;
		next.error_code = 0;
		next.notes = base_notes(c) | TXN_NOTE_EXHAUST | (t.notes & TXN_NOTE_MONITOR);
		pending_add(c, h->request_id, legacy_find, &next);
		return;
	}
	emit(c, &t);
}

/* A message whose header is known but whose body is lost or unreadable. */
static void on_lost(struct mongo_conn *c, enum stream_dir dir, const struct mongo_msg_header *h,
		    unsigned note, ts_ns first, ts_ns last)
{
	if (!fits_direction(h->opcode, dir) || !mongo_opcode_known(h->opcode))
		return;
	if (h->opcode == MONGO_OP_COMPRESSED)
		note |= TXN_NOTE_COMPRESSED;	/* the inner opcode stays unknown: txn opcode 2012 */
	if (dir == STREAM_TO_SERVER) {
		struct mongo_txn t;
		if (h->opcode == MONGO_OP_LEGACY_MSG)
			return;
		txn_from_header(c, h, first, last, &t);
		t.notes |= note;
		pending_add(c, h->request_id, 0, &t);
	} else {
		on_reply(c, h, NULL, note, first, last);
	}
}

/* A complete message: decode, then hand it to the request or reply side. */
static void on_message(struct mongo_conn *c, enum stream_dir dir, const uint8_t *buf, size_t len,
		       ts_ns first, ts_ns last)
{
	struct quality *q = c->ctx->q;
	struct mongo_msg *m = &c->msg;
	enum mongo_role role = dir == STREAM_TO_SERVER ? MONGO_ROLE_REQUEST : MONGO_ROLE_REPLY;

	if (q)
		q->mongo_messages++;
	/*
	 * OP_COMPRESSED: the decompressed copy is buffered memory too. Reserve
	 * its claimed size (capped at 48 MB by the decoder) before decoding.
	 */
	size_t inflated = 0;
	struct mongo_msg_header h;
	if (c->ctx->budget && mongo_msg_header_read(buf, len, &h) == 0 &&
	    h.opcode == MONGO_OP_COMPRESSED && len >= MONGO_MSG_HEADER_LEN + 9) {
		const uint8_t *u = buf + MONGO_MSG_HEADER_LEN + 4;
		uint32_t claim = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
				 (uint32_t)u[3] << 24;
		if (claim <= MONGO_MSG_MAX_UNCOMPRESSED) {
			if (membudget_take(c->ctx->budget, claim) < 0) {
				if (q)
					q->mongo_oversize++;
				on_lost(c, dir, &h, TXN_NOTE_OVERSIZE, first, last);
				return;
			}
			inflated = claim;
		}
	}
	int rc = mongo_msg_decode(buf, len, role, m, q);
	if (inflated)
		membudget_give(c->ctx->budget, inflated);
	if (rc == -ENOTSUP && !mongo_opcode_known(m->opcode))
		return;	/* unknown opcode: counted once per opcode by the decoder, skipped */
	if (rc < 0 || !fits_direction(m->opcode, dir)) {
		if (q && (rc == -EINVAL || rc == 0))
			q->mongo_parse_errors++;
		if (rc != 0)
			on_lost(c, dir, &m->h, rc == -EMSGSIZE ? TXN_NOTE_OVERSIZE : 0, first, last);
		return;
	}
	if (dir == STREAM_TO_SERVER)
		on_request(c, m, first, last);
	else
		on_reply(c, &m->h, m, 0, first, last);
}

/* ---- framing ------------------------------------------------------------------------ */

static void dir_release(struct mongo_conn *c, struct mongo_dir *d)
{
	free(d->buf);
	d->buf = NULL;
	if (d->taken && c->ctx->budget)
		membudget_give(c->ctx->budget, d->taken);
	d->taken = 0;
	d->have = 0;
	d->hdr_have = 0;
}

#define GAP_NOTES (TXN_NOTE_GAP_REQUEST | TXN_NOTE_GAP_RESPONSE)

/* Drops the message in progress; its header, when read, still lets the txn be told. */
static void dir_drop(struct mongo_conn *c, enum stream_dir dir, unsigned note)
{
	struct mongo_dir *d = &c->d[dir];
	if (d->state == MONGO_DIR_SKIP)
		note |= d->skip_note;
	if (d->state == MONGO_DIR_BODY || d->state == MONGO_DIR_SKIP)
		on_lost(c, dir, &d->h, note, d->first, d->last);
	dir_release(c, d);
}

/* The header checks framing relies on; plausible() adds more for resync. */
static int length_ok(int32_t len)
{
	return len >= MONGO_MSG_MIN_LEN && len <= MONGO_MSG_MAX_LEN;
}

static int plausible(const uint8_t *p, size_t len, enum stream_dir dir)
{
	struct mongo_msg_header h;
	if (mongo_msg_header_read(p, len, &h) < 0 || !length_ok(h.length) ||
	    !mongo_opcode_known(h.opcode) || !fits_direction(h.opcode, dir))
		return 0;
	if (h.opcode == MONGO_OP_MSG && len >= 20) {
		uint32_t flags = (uint32_t)p[16] | (uint32_t)p[17] << 8 | (uint32_t)p[18] << 16 |
				 (uint32_t)p[19] << 24;
		if (flags & ~(MONGO_MSG_FLAG_CHECKSUM | MONGO_MSG_FLAG_MORE_TO_COME |
			      MONGO_MSG_FLAG_EXHAUST_ALLOWED))
			return 0;
	}
	return 1;
}

/* A header is complete in d->hdr: check it and choose BODY, SKIP or RESYNC. */
static void dir_header_done(struct mongo_conn *c, enum stream_dir dir, ts_ns ts)
{
	struct mongo_dir *d = &c->d[dir];
	struct quality *q = c->ctx->q;

	mongo_msg_header_read(d->hdr, sizeof(d->hdr), &d->h);
	d->last = ts;
	if (!length_ok(d->h.length)) {
		if (q)
			q->mongo_parse_errors++;
		d->hdr_have = 0;
		d->state = MONGO_DIR_RESYNC;
		return;
	}
	size_t n = (size_t)d->h.length;
	int refused = c->ctx->budget && membudget_take(c->ctx->budget, n) < 0;
	d->taken = c->ctx->budget && !refused ? n : 0;
	d->buf = refused ? NULL : malloc(n);
	if (!d->buf) {
		/* over the shared budget (or out of memory): pass the bytes, keep the header */
		dir_release(c, d);
		if (q)
			q->mongo_oversize++;
		d->state = MONGO_DIR_SKIP;
		d->skip_left = n - MONGO_MSG_HEADER_LEN;
		d->skip_note = TXN_NOTE_OVERSIZE;
		if (d->skip_left == 0) {	/* a bare 16-byte header: nothing to pass */
			on_lost(c, dir, &d->h, d->skip_note, d->first, ts);
			d->state = MONGO_DIR_HEADER;
		}
		return;
	}
	memcpy(d->buf, d->hdr, MONGO_MSG_HEADER_LEN);
	d->have = MONGO_MSG_HEADER_LEN;
	d->hdr_have = 0;
	d->state = MONGO_DIR_BODY;
}

/* A buffered message that is now whole is decoded, its buffer released, the next header awaited. */
static void dir_body_check(struct mongo_conn *c, enum stream_dir dir, ts_ns ts)
{
	struct mongo_dir *d = &c->d[dir];
	if (d->have != (size_t)d->h.length)
		return;
	on_message(c, dir, d->buf, d->have, d->first, ts);
	dir_release(c, d);
	d->state = MONGO_DIR_HEADER;
}

static void mongo_data(void *p, enum stream_dir dir, const uint8_t *data, size_t len, ts_ns ts)
{
	struct mongo_conn *c = p;
	struct mongo_dir *d = &c->d[dir];

	if (d->state == MONGO_DIR_RESYNC) {
		if (!plausible(data, len, dir))
			return;	/* not a header at this segment boundary: drop the chunk */
		d->state = MONGO_DIR_HEADER;
	}
	while (len > 0) {
		switch (d->state) {
		case MONGO_DIR_HEADER: {
			struct mongo_msg_header h;
			/* a whole message in this chunk: decode in place, no copy */
			if (d->hdr_have == 0 && mongo_msg_header_read(data, len, &h) == 0 &&
			    length_ok(h.length) && (size_t)h.length <= len) {
				on_message(c, dir, data, (size_t)h.length, ts, ts);
				data += h.length;
				len -= (size_t)h.length;
				break;
			}
			if (d->hdr_have == 0)
				d->first = ts;
			size_t n = MONGO_MSG_HEADER_LEN - d->hdr_have;
			if (n > len)
				n = len;
			memcpy(d->hdr + d->hdr_have, data, n);
			d->hdr_have += n;
			data += n;
			len -= n;
			if (d->hdr_have == MONGO_MSG_HEADER_LEN) {
				dir_header_done(c, dir, ts);
				if (d->state == MONGO_DIR_RESYNC)
					return;	/* the rest of this chunk cannot be framed */
				if (d->state == MONGO_DIR_BODY)
					dir_body_check(c, dir, ts);
			}
			break;
		}
		case MONGO_DIR_BODY: {
			size_t n = (size_t)d->h.length - d->have;
			if (n > len)
				n = len;
			memcpy(d->buf + d->have, data, n);
			d->have += n;
			data += n;
			len -= n;
			d->last = ts;
			dir_body_check(c, dir, ts);
			break;
		}
		case MONGO_DIR_SKIP: {
			size_t n = d->skip_left < len ? (size_t)d->skip_left : len;
			d->skip_left -= n;
			data += n;
			len -= n;
			d->last = ts;
			if (d->skip_left == 0) {
				on_lost(c, dir, &d->h, d->skip_note, d->first, ts);
				d->state = MONGO_DIR_HEADER;
			}
			break;
		}
		case MONGO_DIR_RESYNC:
			return;
		}
	}
}

static void mongo_gap(void *p, enum stream_dir dir, uint64_t len, ts_ns ts)
{
	struct mongo_conn *c = p;
	struct mongo_dir *d = &c->d[dir];
	struct quality *q = c->ctx->q;
	unsigned note = dir == STREAM_TO_SERVER ? TXN_NOTE_GAP_REQUEST : TXN_NOTE_GAP_RESPONSE;
	uint64_t rest;

	(void)ts;
	switch (d->state) {
	case MONGO_DIR_BODY:
	case MONGO_DIR_SKIP:
		/* a message skipped for a gap already was counted as lost */
		if (q && !(d->state == MONGO_DIR_SKIP && (d->skip_note & GAP_NOTES)))
			q->mongo_gap_messages++;
		rest = d->state == MONGO_DIR_BODY ? (uint64_t)d->h.length - d->have : d->skip_left;
		if (len < rest) {
			/* the framing survives: skip what is left of this message */
			if (d->state == MONGO_DIR_BODY) {
				dir_release(c, d);
				d->skip_note = 0;
			}
			d->skip_note |= note;
			d->skip_left = rest - len;
			d->state = MONGO_DIR_SKIP;
			return;
		}
		dir_drop(c, dir, note);
		/* a gap ending exactly at the message's end leaves the next header in place */
		d->state = len == rest ? MONGO_DIR_HEADER : MONGO_DIR_RESYNC;
		return;
	case MONGO_DIR_HEADER:
		if (q && d->hdr_have > 0)
			q->mongo_gap_messages++;
		dir_release(c, d);
		d->state = MONGO_DIR_RESYNC;
		return;
	case MONGO_DIR_RESYNC:
		return;
	}
}

static void mongo_fin(void *p, enum stream_dir dir, ts_ns ts)
{
	struct mongo_conn *c = p;
	struct mongo_dir *d = &c->d[dir];
	(void)ts;
	if (d->state != MONGO_DIR_RESYNC)
		dir_drop(c, dir, TXN_NOTE_TRUNCATED);
	d->state = MONGO_DIR_RESYNC;	/* nothing may follow a FIN */
}

static void *mongo_open(const struct stream_ctx *ctx)
{
	struct mongo_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ctx = ctx;
	if (ctx->midstream) {
		c->d[0].state = MONGO_DIR_RESYNC;
		c->d[1].state = MONGO_DIR_RESYNC;
	}
	return c;
}

static void mongo_close(void *p, ts_ns ts)
{
	struct mongo_conn *c = p;
	if (!c)
		return;
	mongo_fin(c, STREAM_TO_SERVER, ts);
	mongo_fin(c, STREAM_TO_CLIENT, ts);
	while (c->npend > 0)
		pending_expire(c, 0);
	if (c->ctx->budget && c->pend_taken)
		membudget_give(c->ctx->budget, c->pend_taken);
	free(c->pend);
	free(c);
}

const struct stream_parser_ops mongo_stream_ops = {
	.name = "mongodb",
	.open = mongo_open,
	.data = mongo_data,
	.gap = mongo_gap,
	.fin = mongo_fin,
	.close = mongo_close,
};
