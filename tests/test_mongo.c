/* test_mongo.c - the MongoDB stream parser: framing, splits, gaps, pairing, exhaust, close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mongo_msg.h"
#include "mongo_testutil.h"
#include "stream.h"

#define MAX_TXNS 2048

/* The fake sink: keeps copies of every emitted txn. */
struct fake_sink {
	struct mongo_txn t[MAX_TXNS];
	size_t n;
};

static void fake_mongo(void *ctx, const struct mongo_txn *t)
{
	struct fake_sink *s = ctx;
	assert_true(s->n < MAX_TXNS);
	s->t[s->n++] = *t;
}

struct fixture {
	struct fake_sink sink_data;
	struct txn_sink sink;
	struct quality q;
	struct membudget budget;
	struct stream_ctx ctx;
	void *p;
};

static struct fixture *fx_new(size_t budget, int midstream)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->sink.mongo = fake_mongo;
	f->sink.ctx = &f->sink_data;
	membudget_init(&f->budget, budget);
	f->ctx.flow_id = 42;
	f->ctx.midstream = midstream;
	f->ctx.q = &f->q;
	f->ctx.budget = &f->budget;
	f->ctx.sink = &f->sink;
	f->p = mongo_stream_ops.open(&f->ctx);
	assert_non_null(f->p);
	return f;
}

static void fx_close(struct fixture *f, ts_ns ts)
{
	mongo_stream_ops.close(f->p, ts);
	f->p = NULL;
}

static void fx_free(struct fixture *f)
{
	if (f->p)
		fx_close(f, 0);
	assert_int_equal(f->budget.used, 0);	/* every buffered byte given back */
	free(f);
}

static void feed(struct fixture *f, enum stream_dir d, const uint8_t *p, size_t len, ts_ns ts)
{
	/* an exact copy, so a read past len is an ASan error */
	uint8_t *c = malloc(len ? len : 1);
	memcpy(c, p, len);
	mongo_stream_ops.data(f->p, d, c, len, ts);
	free(c);
}

static void feed_fixture(struct fixture *f, enum stream_dir d, const char *name, ts_ns ts)
{
	size_t len;
	uint8_t *p = fixture_load(name, &len);
	feed(f, d, p, len, ts);
	free(p);
}

static const struct mongo_txn *txn(struct fixture *f, size_t i)
{
	assert_true(i < f->sink_data.n);
	return &f->sink_data.t[i];
}

/* One find, request in two calls and reply in two: all four timestamps, sizes, fields. */
static void test_pairing_times(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	size_t ql, rl;
	uint8_t *q = fixture_load("pb_1req.bin", &ql), *r = fixture_load("pb_1res.bin", &rl);
	(void)state;
	feed(f, STREAM_TO_SERVER, q, 40, 1000);
	feed(f, STREAM_TO_SERVER, q + 40, ql - 40, 2000);
	assert_int_equal(f->sink_data.n, 0);
	feed(f, STREAM_TO_CLIENT, r, 7, 3000);
	feed(f, STREAM_TO_CLIENT, r + 7, rl - 7, 4000);
	assert_int_equal(f->sink_data.n, 1);
	const struct mongo_txn *t = txn(f, 0);
	assert_int_equal(t->flow_id, 42);
	assert_int_equal(t->t.req_first, 1000);
	assert_int_equal(t->t.req_last, 2000);
	assert_int_equal(t->t.resp_first, 3000);
	assert_int_equal(t->t.resp_last, 4000);
	assert_int_equal(t->request_id, 64);
	assert_int_equal(t->opcode, 2013);
	assert_string_equal(t->command, "find");
	assert_string_equal(t->db, "testdb");
	assert_string_equal(t->collection, "inventory");
	assert_string_equal(t->shape, "find testdb.inventory {}");
	assert_int_equal(t->shape_id, mongo_shape_id("testdb", "inventory", "find", t->shape));
	assert_int_equal(t->req_bytes, 111);
	assert_int_equal(t->resp_bytes, 296);
	assert_int_equal(t->docs, 2);
	assert_int_equal(t->ok, 1);
	assert_int_equal(t->error_code, 0);
	assert_int_equal(t->notes, 0);
	assert_int_equal(f->q.mongo_messages, 2);
	fx_close(f, 5000);
	assert_int_equal(f->sink_data.n, 1);
	free(q);
	free(r);
	fx_free(f);
}

/* Three requests in flight, replies out of order: responseTo decides. */
static void test_pairing_out_of_order(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	(void)state;
	feed_fixture(f, STREAM_TO_SERVER, "pb_1req.bin", 1);
	feed_fixture(f, STREAM_TO_SERVER, "pb_2req.bin", 2);
	feed_fixture(f, STREAM_TO_SERVER, "pb_3req.bin", 3);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_3res.bin", 4);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_1res.bin", 5);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_2res.bin", 6);
	assert_int_equal(f->sink_data.n, 3);
	assert_int_equal(txn(f, 0)->request_id, 66);
	assert_int_equal(txn(f, 0)->docs, 1);
	assert_int_equal(txn(f, 0)->t.req_first, 3);
	assert_int_equal(txn(f, 1)->request_id, 64);
	assert_int_equal(txn(f, 1)->docs, 2);
	assert_int_equal(txn(f, 2)->request_id, 65);
	assert_int_equal(txn(f, 2)->t.resp_last, 6);
	fx_free(f);
}

/* mongoreplay compressed.pcap: requestID 0 and responseTo 0 on an OP_COMPRESSED OP_REPLY. */
static void test_request_id_zero_compressed(void **state)
{
	static const char *const conv[] = {
		"compressed_f04.bin", "compressed_f06.bin", "compressed_f08.bin", "compressed_f09.bin",
		"compressed_f10.bin", "compressed_f11.bin", "compressed_f12.bin", "compressed_f13.bin",
		"compressed_f14.bin", "compressed_f15.bin", "compressed_f16.bin", "compressed_f17.bin",
	};
	static const char *const cmds[] = { "isMaster", "whatsmyuri", "buildinfo", "insert", "count", "update" };
	struct fixture *f = fx_new(1 << 20, 0);
	(void)state;
	for (size_t i = 0; i < 12; i++)
		feed_fixture(f, i % 2 ? STREAM_TO_CLIENT : STREAM_TO_SERVER, conv[i], (ts_ns)i);
	assert_int_equal(f->sink_data.n, 6);
	for (size_t i = 0; i < 6; i++) {
		const struct mongo_txn *t = txn(f, i);
		assert_int_equal(t->request_id, (int32_t)i);
		assert_string_equal(t->command, cmds[i]);
		assert_int_equal(t->opcode, i == 0 ? MONGO_OP_QUERY : MONGO_OP_COMMAND);
		assert_true(t->notes & TXN_NOTE_COMPRESSED);
		assert_int_equal(t->ok, 1);
		assert_int_equal(t->t.resp_last, (ts_ns)(2 * i + 1));
	}
	assert_int_equal(txn(f, 0)->req_bytes, 311);
	assert_int_equal(txn(f, 0)->resp_bytes, 223);
	assert_int_equal(f->q.mongo_unmatched_replies, 0);
	fx_free(f);
}

/* mongodb_reply_request_reply.pcap: the first reply has no request; dropped and counted. */
static void test_orphan_reply(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	(void)state;
	feed_fixture(f, STREAM_TO_CLIENT, "rrr_f1.bin", 1);
	feed_fixture(f, STREAM_TO_SERVER, "rrr_f2.bin", 2);
	feed_fixture(f, STREAM_TO_CLIENT, "rrr_f3.bin", 3);
	assert_int_equal(f->sink_data.n, 1);
	assert_int_equal(f->q.mongo_unmatched_replies, 1);
	assert_int_equal(txn(f, 0)->request_id, 32930);
	assert_string_equal(txn(f, 0)->command, "buildinfo");
	assert_string_equal(txn(f, 0)->db, "admin");
	assert_true(txn(f, 0)->t.resp_last >= txn(f, 0)->t.req_first);
	fx_free(f);
}

/* A moreToCome request gets no reply: emitted at once, nothing left at close. */
static void test_more_to_come(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	struct tbuf b = { 0 };
	bson_t *body = BCON_NEW("insert", BCON_UTF8("log"), "$db", BCON_UTF8("app"));
	(void)state;
	tb_op_msg(&b, 9, 0, MONGO_MSG_FLAG_MORE_TO_COME, body);
	feed(f, STREAM_TO_SERVER, b.p, b.len, 10);
	assert_int_equal(f->sink_data.n, 1);
	const struct mongo_txn *t = txn(f, 0);
	assert_int_equal(t->notes, TXN_NOTE_MORE_TO_COME);
	assert_int_equal(t->t.resp_first, TS_NONE);
	assert_int_equal(t->ok, -1);
	assert_string_equal(t->shape, "insert app.log");
	fx_close(f, 20);
	assert_int_equal(f->sink_data.n, 1);
	assert_int_equal(f->q.mongo_unmatched_requests, 0);
	bson_destroy(body);
	free(b.p);
	fx_free(f);
}

/* Exhaust: one request, three replies chained by responseTo = previous reply's requestID. */
static void test_exhaust(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	struct tbuf b = { 0 };
	bson_t *req = BCON_NEW("getMore", BCON_INT64(5), "collection", BCON_UTF8("events"),
			       "$db", BCON_UTF8("app"));
	bson_t *rep = BCON_NEW("cursor", "{", "nextBatch", "[", "{", "a", BCON_INT32(1), "}", "]",
			       "id", BCON_INT64(5), "}", "ok", BCON_DOUBLE(1));
	(void)state;
	tb_op_msg(&b, 100, 0, MONGO_MSG_FLAG_EXHAUST_ALLOWED, req);
	size_t req_len = b.len;
	feed(f, STREAM_TO_SERVER, b.p, b.len, 10);
	tb_op_msg(&b, 200, 100, MONGO_MSG_FLAG_MORE_TO_COME, rep);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 20);
	tb_op_msg(&b, 201, 200, MONGO_MSG_FLAG_MORE_TO_COME, rep);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 30);
	tb_op_msg(&b, 202, 201, 0, rep);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 45);
	fx_close(f, 50);
	assert_int_equal(f->sink_data.n, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct mongo_txn *t = txn(f, i);
		assert_int_equal(t->request_id, 100);
		assert_string_equal(t->command, "getMore");
		assert_string_equal(t->collection, "events");
		assert_true(t->notes & TXN_NOTE_EXHAUST);
		assert_false(t->notes & TXN_NOTE_NO_RESPONSE);
		assert_int_equal(t->docs, 1);
		assert_int_equal(t->req_bytes, i == 0 ? req_len : 0);
	}
	assert_int_equal(txn(f, 0)->t.req_first, 10);
	assert_int_equal(txn(f, 1)->t.req_first, 20);	/* the previous batch's last byte */
	assert_int_equal(txn(f, 2)->t.req_first, 30);
	assert_int_equal(txn(f, 2)->t.resp_last, 45);
	assert_int_equal(f->q.mongo_unmatched_requests, 0);
	bson_destroy(req);
	bson_destroy(rep);
	free(b.p);
	fx_free(f);
}

/*
 * A driver's server monitor on the streaming protocol (MongoDB 4.4+): an awaitable hello
 * (maxAwaitTimeMS, exhaustAllowed) answered every maxAwaitTimeMS by moreToCome replies. Every
 * transaction of the stream is noted monitor (and counted); a plain hello is not.
 */
static void test_streaming_hello_is_monitor(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	struct tbuf b = { 0 };
	bson_t *plain = BCON_NEW("hello", BCON_INT32(1), "$db", BCON_UTF8("admin"));
	bson_t *wait = BCON_NEW("hello", BCON_INT32(1), "topologyVersion", "{", "counter",
				BCON_INT64(0), "}", "maxAwaitTimeMS", BCON_INT32(500), "$db",
				BCON_UTF8("admin"));
	bson_t *rep = BCON_NEW("isWritablePrimary", BCON_BOOL(true), "ok", BCON_DOUBLE(1));
	(void)state;
	tb_op_msg(&b, 1, 0, 0, plain);
	feed(f, STREAM_TO_SERVER, b.p, b.len, 10);
	tb_op_msg(&b, 2, 1, 0, rep);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 11);
	tb_op_msg(&b, 3, 0, MONGO_MSG_FLAG_EXHAUST_ALLOWED, wait);
	feed(f, STREAM_TO_SERVER, b.p, b.len, 20);
	tb_op_msg(&b, 4, 3, MONGO_MSG_FLAG_MORE_TO_COME, rep);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 520);
	tb_op_msg(&b, 5, 4, MONGO_MSG_FLAG_MORE_TO_COME, rep);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 1020);
	fx_close(f, 1100);
	/* the plain hello, two replies of the stream, and the third one still awaited */
	assert_int_equal(f->sink_data.n, 4);
	assert_int_equal(txn(f, 0)->notes & TXN_NOTE_MONITOR, 0);
	for (size_t i = 1; i < 4; i++) {
		assert_string_equal(txn(f, i)->command, "hello");
		assert_true(txn(f, i)->notes & TXN_NOTE_MONITOR);
		assert_true(txn(f, i)->notes & TXN_NOTE_EXHAUST);
	}
	assert_int_equal(txn(f, 1)->t.resp_last - txn(f, 1)->t.req_first, 500);
	assert_int_equal(f->q.mongo_monitor_calls, 3);
	bson_destroy(plain);
	bson_destroy(wait);
	bson_destroy(rep);
	free(b.p);
	fx_free(f);
}

/*
 * Legacy exhaust (tests/captures/mongo_exhaust.pcap, pymongo 3.11): an OP_QUERY find with the
 * exhaust flag, then OP_REPLY batches, each answering the previous reply, the last with
 * cursor id 0. Without the flag the same chained replies do not pair.
 */
static void tb_legacy_reply(struct tbuf *b, int32_t rid, int32_t rto, int64_t cursor, int32_t start,
			    int n, const bson_t *doc)
{
	tb_begin(b, rid, rto, MONGO_OP_REPLY);
	tb_u32(b, 8);
	tb_u32(b, (uint32_t)(cursor & 0xffffffff)); tb_u32(b, (uint32_t)((uint64_t)cursor >> 32));
	tb_u32(b, (uint32_t)start); tb_u32(b, (uint32_t)n);
	for (int i = 0; i < n; i++)
		tb_doc(b, doc);
	tb_end(b);
}

static void test_legacy_exhaust(void **state)
{
	bson_t *q = BCON_NEW("$query", "{", "}", "$orderby", "{", "_id", BCON_INT32(1), "}");
	bson_t *doc = BCON_NEW("_id", BCON_INT32(1), "n", BCON_INT32(1));
	(void)state;
	for (int flag = 1; flag >= 0; flag--) {
		struct fixture *f = fx_new(1 << 20, 0);
		struct tbuf b = { 0 };
		tb_begin(&b, 1714636915, 0, MONGO_OP_QUERY);
		tb_u32(&b, flag ? MONGO_QUERY_FLAG_EXHAUST : 0); tb_cstr(&b, "shop.logs");
		tb_u32(&b, 0); tb_u32(&b, 3); tb_doc(&b, q);
		tb_end(&b);
		size_t req_len = b.len;
		feed(f, STREAM_TO_SERVER, b.p, b.len, 10);
		tb_legacy_reply(&b, 3, 1714636915, 77, 0, 3, doc);
		feed(f, STREAM_TO_CLIENT, b.p, b.len, 20);
		tb_legacy_reply(&b, 4, 3, 77, 3, 3, doc);
		feed(f, STREAM_TO_CLIENT, b.p, b.len, 30);
		tb_legacy_reply(&b, 5, 4, 0, 6, 1, doc);
		feed(f, STREAM_TO_CLIENT, b.p, b.len, 45);
		fx_close(f, 50);
		if (!flag) {
			assert_int_equal(f->sink_data.n, 1);
			assert_false(txn(f, 0)->notes & TXN_NOTE_EXHAUST);
			assert_int_equal(f->q.mongo_unmatched_replies, 2);
		} else {
			static const int docs[] = { 3, 3, 1 };
			assert_int_equal(f->sink_data.n, 3);
			for (size_t i = 0; i < 3; i++) {
				const struct mongo_txn *t = txn(f, i);
				assert_int_equal(t->request_id, 1714636915);
				assert_string_equal(t->command, "find");
				assert_string_equal(t->collection, "logs");
				assert_true(t->notes & TXN_NOTE_EXHAUST);
				assert_false(t->notes & TXN_NOTE_NO_RESPONSE);
				assert_int_equal(t->docs, docs[i]);
				assert_int_equal(t->ok, 1);
				assert_int_equal(t->req_bytes, i == 0 ? req_len : 0);
			}
			assert_int_equal(txn(f, 1)->t.req_first, 20);	/* the previous batch's last byte */
			assert_int_equal(txn(f, 2)->t.req_first, 30);
			assert_int_equal(txn(f, 2)->t.resp_last, 45);
			assert_int_equal(f->q.mongo_unmatched_replies, 0);
			assert_int_equal(f->q.mongo_unmatched_requests, 0);
		}
		free(b.p);
		fx_free(f);
	}
	bson_destroy(q);
	bson_destroy(doc);
}

static void txn_assert_equal(const struct mongo_txn *a, const struct mongo_txn *b)
{
	assert_int_equal(a->request_id, b->request_id);
	assert_int_equal(a->opcode, b->opcode);
	assert_string_equal(a->db, b->db);
	assert_string_equal(a->collection, b->collection);
	assert_string_equal(a->command, b->command);
	assert_string_equal(a->shape, b->shape);
	assert_int_equal(a->shape_id, b->shape_id);
	assert_int_equal(a->req_bytes, b->req_bytes);
	assert_int_equal(a->resp_bytes, b->resp_bytes);
	assert_int_equal(a->docs, b->docs);
	assert_int_equal(a->ok, b->ok);
	assert_int_equal(a->error_code, b->error_code);
	assert_int_equal(a->notes, b->notes);
	assert_memory_equal(&a->t, &b->t, sizeof(a->t));
}

struct stream_bytes {
	uint8_t *p;
	size_t len;
};

static struct stream_bytes concat(const char *const *names, size_t n)
{
	struct tbuf b = { 0 };
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *p = fixture_load(names[i], &len);
		tb_put(&b, p, len);
		free(p);
	}
	return (struct stream_bytes){ b.p, b.len };
}

/* Runs a whole conversation: requests split at s1 (and s1b), replies at s2; same ts everywhere. */
static struct fixture *run_split(const struct stream_bytes *rq, const struct stream_bytes *rs,
				 size_t s1, size_t s2, size_t step)
{
	struct fixture *f = fx_new(1 << 20, 0);
	feed(f, STREAM_TO_SERVER, rq->p, s1, 7);
	for (size_t at = s1; at < rq->len; at += step)
		feed(f, STREAM_TO_SERVER, rq->p + at, at + step > rq->len ? rq->len - at : step, 7);
	feed(f, STREAM_TO_CLIENT, rs->p, s2, 7);
	for (size_t at = s2; at < rs->len; at += step)
		feed(f, STREAM_TO_CLIENT, rs->p + at, at + step > rs->len ? rs->len - at : step, 7);
	fx_close(f, 8);
	return f;
}

/* Every split point of a three-request conversation gives the same txns; also 1-byte chunks. */
static void test_every_split_point(void **state)
{
	static const char *const reqs[] = { "pb_1req.bin", "one_row_req.bin", "compressed_f12.bin" };
	static const char *const reps[] = { "pb_1res.bin", "one_row_res.bin", "compressed_f13.bin" };
	struct stream_bytes rq = concat(reqs, 3), rs = concat(reps, 3);
	(void)state;
	/* the one_row reply answers rid 10, compressed_f13 answers rid 3: all three pair */
	struct fixture *ref = run_split(&rq, &rs, rq.len, rs.len, 1);
	assert_int_equal(ref->sink_data.n, 3);
	assert_int_equal(ref->q.mongo_unmatched_replies, 0);
	assert_int_equal(ref->q.mongo_unmatched_requests, 0);
	for (size_t s = 0; s <= rq.len; s++) {
		struct fixture *f = run_split(&rq, &rs, s, rs.len, rq.len);
		assert_int_equal(f->sink_data.n, 3);
		for (size_t i = 0; i < 3; i++)
			txn_assert_equal(txn(f, i), txn(ref, i));
		fx_free(f);
	}
	for (size_t s = 0; s <= rs.len; s++) {
		struct fixture *f = run_split(&rq, &rs, rq.len, s, rs.len);
		assert_int_equal(f->sink_data.n, 3);
		for (size_t i = 0; i < 3; i++)
			txn_assert_equal(txn(f, i), txn(ref, i));
		fx_free(f);
	}
	for (size_t step = 1; step <= 17; step++) {
		struct fixture *f = run_split(&rq, &rs, 0, 0, step);
		assert_int_equal(f->sink_data.n, 3);
		for (size_t i = 0; i < 3; i++)
			txn_assert_equal(txn(f, i), txn(ref, i));
		assert_int_equal(f->q.mongo_messages, 6);
		fx_free(f);
	}
	fx_free(ref);
	free(rq.p);
	free(rs.p);
}

/* A gap inside a body keeps framing; one that spans a boundary forces a resync at a later chunk. */
static void test_gaps(void **state)
{
	size_t l1, l2, l3;
	uint8_t *r1 = fixture_load("pb_1req.bin", &l1);
	uint8_t *r2 = fixture_load("pb_2req.bin", &l2);
	uint8_t *r3 = fixture_load("pb_3req.bin", &l3);
	(void)state;

	/* (a) gap of exactly the rest of request 1: request 2 follows in place */
	struct fixture *f = fx_new(1 << 20, 0);
	feed(f, STREAM_TO_SERVER, r1, 50, 1);
	mongo_stream_ops.gap(f->p, STREAM_TO_SERVER, l1 - 50, 2);
	feed(f, STREAM_TO_SERVER, r2, 10, 3);	/* too short to resync on: only framing keeps it */
	feed(f, STREAM_TO_SERVER, r2 + 10, l2 - 10, 3);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_1res.bin", 4);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_2res.bin", 5);
	assert_int_equal(f->sink_data.n, 2);
	assert_int_equal(txn(f, 0)->request_id, 64);
	assert_int_equal(txn(f, 0)->notes, TXN_NOTE_GAP_REQUEST);
	assert_string_equal(txn(f, 0)->command, "");	/* the body was lost */
	assert_int_equal(txn(f, 0)->docs, 2);
	assert_int_equal(txn(f, 1)->request_id, 65);
	assert_int_equal(txn(f, 1)->notes, 0);
	assert_string_equal(txn(f, 1)->command, "find");
	assert_int_equal(f->q.mongo_gap_messages, 1);
	assert_int_equal(f->q.mongo_parse_errors, 0);
	fx_free(f);

	/* (b) a gap inside the body, then the rest arrives: skipped, still in sync */
	f = fx_new(1 << 20, 0);
	feed(f, STREAM_TO_SERVER, r1, 30, 1);
	mongo_stream_ops.gap(f->p, STREAM_TO_SERVER, 10, 2);
	feed(f, STREAM_TO_SERVER, r1 + 40, l1 - 40, 3);
	feed(f, STREAM_TO_SERVER, r2, l2, 4);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_2res.bin", 5);
	fx_close(f, 6);
	assert_int_equal(f->sink_data.n, 2);
	assert_int_equal(txn(f, 0)->request_id, 65);	/* paired first */
	assert_string_equal(txn(f, 0)->command, "find");
	assert_int_equal(txn(f, 1)->request_id, 64);	/* the damaged one, never answered */
	assert_int_equal(txn(f, 1)->notes, TXN_NOTE_GAP_REQUEST | TXN_NOTE_NO_RESPONSE);
	assert_int_equal(txn(f, 1)->t.req_last, 3);
	fx_free(f);

	/* (c) a gap past the end of request 1 (eats part of request 2): resync on request 3 */
	f = fx_new(1 << 20, 0);
	feed(f, STREAM_TO_SERVER, r1, 50, 1);
	mongo_stream_ops.gap(f->p, STREAM_TO_SERVER, l1 - 50 + 30, 2);
	feed(f, STREAM_TO_SERVER, r2 + 30, l2 - 30, 3);	/* mid-message: not a header */
	feed(f, STREAM_TO_SERVER, r3, l3, 4);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_1res.bin", 5);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_2res.bin", 6);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_3res.bin", 7);
	assert_int_equal(f->sink_data.n, 2);
	assert_int_equal(txn(f, 0)->request_id, 64);
	assert_int_equal(txn(f, 0)->notes, TXN_NOTE_GAP_REQUEST);
	assert_int_equal(txn(f, 1)->request_id, 66);
	assert_int_equal(txn(f, 1)->notes, 0);
	assert_string_equal(txn(f, 1)->command, "find");
	assert_int_equal(f->q.mongo_unmatched_replies, 1);	/* request 2 was lost */
	fx_free(f);

	/* (d) a gap at a message boundary, and inside a reply header: resync at the next chunk */
	f = fx_new(1 << 20, 0);
	feed(f, STREAM_TO_SERVER, r1, l1, 1);
	mongo_stream_ops.gap(f->p, STREAM_TO_SERVER, 500, 2);
	feed(f, STREAM_TO_SERVER, r3, l3, 3);
	size_t rl;
	uint8_t *res = fixture_load("pb_1res.bin", &rl);
	feed(f, STREAM_TO_CLIENT, res, 8, 4);
	mongo_stream_ops.gap(f->p, STREAM_TO_CLIENT, rl - 8, 5);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_3res.bin", 6);
	fx_close(f, 7);
	assert_int_equal(f->sink_data.n, 2);
	assert_int_equal(txn(f, 0)->request_id, 66);
	assert_int_equal(txn(f, 0)->docs, 1);
	assert_int_equal(txn(f, 1)->request_id, 64);
	assert_int_equal(txn(f, 1)->notes, TXN_NOTE_NO_RESPONSE);
	assert_int_equal(f->q.mongo_gap_messages, 1);
	free(res);
	fx_free(f);

	/* (e) a gap inside a reply body: the reply still pairs, noted gap-response */
	f = fx_new(1 << 20, 0);
	feed(f, STREAM_TO_SERVER, r1, l1, 1);
	res = fixture_load("pb_1res.bin", &rl);
	feed(f, STREAM_TO_CLIENT, res, 100, 2);
	mongo_stream_ops.gap(f->p, STREAM_TO_CLIENT, 50, 3);
	feed(f, STREAM_TO_CLIENT, res + 150, rl - 150, 4);
	assert_int_equal(f->sink_data.n, 1);
	assert_int_equal(txn(f, 0)->notes, TXN_NOTE_GAP_RESPONSE);
	assert_int_equal(txn(f, 0)->t.resp_first, 2);
	assert_int_equal(txn(f, 0)->t.resp_last, 4);
	assert_int_equal(txn(f, 0)->resp_bytes, 296);
	assert_int_equal(txn(f, 0)->ok, -1);
	free(res);
	fx_free(f);
	free(r1);
	free(r2);
	free(r3);
}

/* Lengths below 16 or over 48 MB are parse errors; framing resumes at a plausible chunk. */
static void test_bad_length_resync(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	uint8_t bad[16] = { 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0 };
	uint8_t huge[16] = { 0x01, 0x6c, 0xdc, 0x02, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0 };
	(void)state;
	feed(f, STREAM_TO_SERVER, bad, sizeof(bad), 1);
	assert_int_equal(f->q.mongo_parse_errors, 1);
	feed_fixture(f, STREAM_TO_SERVER, "pb_1req.bin", 2);
	feed(f, STREAM_TO_SERVER, huge, 5, 3);	/* 48,000,001 split across calls */
	feed(f, STREAM_TO_SERVER, huge + 5, 11, 3);
	assert_int_equal(f->q.mongo_parse_errors, 2);
	/*
	 * Not plausible, each would swallow the next request if taken as a header
	 * (length 200): unknown opcode 2221, a reply opcode in the request
	 * direction, an OP_MSG with undefined flag bits; and a chunk too short.
	 */
	uint8_t junk[20] = { 200, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xad, 0x08, 0, 0, 0, 0, 0, 0x80 };
	feed(f, STREAM_TO_SERVER, junk, 20, 4);
	feed_fixture(f, STREAM_TO_SERVER, "pb_2req.bin", 5);
	mongo_stream_ops.gap(f->p, STREAM_TO_SERVER, 100, 5);
	junk[12] = 1;
	junk[13] = 0;
	feed(f, STREAM_TO_SERVER, junk, 20, 4);
	feed_fixture(f, STREAM_TO_SERVER, "pb_3req.bin", 5);
	mongo_stream_ops.gap(f->p, STREAM_TO_SERVER, 100, 5);
	junk[12] = 0xdd;
	junk[13] = 0x07;
	feed(f, STREAM_TO_SERVER, junk, 20, 4);
	feed(f, STREAM_TO_SERVER, junk, 15, 4);
	feed_fixture(f, STREAM_TO_SERVER, "one_row_req.bin", 5);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_1res.bin", 6);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_2res.bin", 7);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_3res.bin", 7);
	feed_fixture(f, STREAM_TO_CLIENT, "one_row_res.bin", 7);
	assert_int_equal(f->sink_data.n, 4);
	assert_int_equal(txn(f, 0)->request_id, 64);
	assert_int_equal(txn(f, 1)->request_id, 65);
	assert_int_equal(txn(f, 2)->request_id, 66);
	assert_int_equal(txn(f, 3)->request_id, 10);
	assert_int_equal(f->q.mongo_messages, 8);
	assert_int_equal(f->q.mongo_unmatched_replies, 0);
	fx_free(f);
}

/* An insert of one document holding a string of n - 1 'x': a message of about n bytes. */
static bson_t *big_insert(size_t n)
{
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n - 1);
	big[n - 1] = '\0';
	bson_t *body = BCON_NEW("insert", BCON_UTF8("blobs"), "documents", "[", "{", "b", BCON_UTF8(big),
				"}", "]", "$db", BCON_UTF8("app"));
	free(big);
	return body;
}

/* A message the memory budget refuses is skipped, counted, and still timed via its header. */
static void test_budget_refusal(void **state)
{
	/* room for the pending table, not for a 20 KB message */
	struct fixture *f = fx_new(10000, 0);
	struct tbuf b = { 0 };
	(void)state;
	bson_t *body = big_insert(20000);
	tb_op_msg(&b, 5, 0, 0, body);
	feed(f, STREAM_TO_SERVER, b.p, 20, 1);
	feed(f, STREAM_TO_SERVER, b.p + 20, 5000, 2);
	feed(f, STREAM_TO_SERVER, b.p + 5020, b.len - 5020, 3);
	assert_int_equal(f->budget.refusals, 1);
	bson_t *ok = BCON_NEW("n", BCON_INT32(1), "ok", BCON_DOUBLE(1));
	size_t req_len = b.len;
	tb_op_msg(&b, 6, 5, 0, ok);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 4);	/* whole: decoded in place */
	assert_int_equal(f->sink_data.n, 1);
	const struct mongo_txn *t = txn(f, 0);
	assert_int_equal(t->notes, TXN_NOTE_OVERSIZE);
	assert_int_equal(t->request_id, 5);
	assert_int_equal(t->req_bytes, req_len);
	assert_int_equal(t->t.req_first, 1);
	assert_int_equal(t->t.req_last, 3);
	assert_int_equal(t->ok, 1);
	assert_int_equal(f->q.mongo_oversize, 1);
	bson_destroy(body);
	bson_destroy(ok);
	free(b.p);
	fx_free(f);
}

/* The decompressed copy of an OP_COMPRESSED message is paid from the budget as well. */
static void test_budget_compressed(void **state)
{
	struct fixture *f = fx_new(20000, 0);
	struct tbuf b = { 0 };
	(void)state;
	bson_t *body = big_insert(30000);
	tb_op_msg(&b, 5, 0, 0, body);
	/* a snappy message claiming the original size (30 KB) against a 20 KB budget */
	struct tbuf w = { 0 };
	tb_begin(&w, 5, 0, MONGO_OP_COMPRESSED);
	tb_u32(&w, MONGO_OP_MSG);
	tb_u32(&w, (uint32_t)(b.len - 16));
	tb_u8(&w, MONGO_COMPRESSOR_SNAPPY);
	tb_u32(&w, 0);	/* never read: refused first */
	tb_end(&w);
	feed(f, STREAM_TO_SERVER, w.p, w.len, 1);
	assert_int_equal(f->budget.refusals, 1);
	assert_int_equal(f->q.mongo_oversize, 1);
	assert_int_equal(f->q.mongo_decompress_errors, 0);	/* the decoder never ran */
	fx_close(f, 2);
	assert_int_equal(f->sink_data.n, 1);
	assert_int_equal(txn(f, 0)->notes, TXN_NOTE_OVERSIZE | TXN_NOTE_COMPRESSED | TXN_NOTE_NO_RESPONSE);
	assert_int_equal(txn(f, 0)->request_id, 5);
	bson_destroy(body);
	free(b.p);
	free(w.p);
	fx_free(f);
}

/* A legacy find's one reply document is data: its "ok"/"code" fields are not the server's. */
static void test_legacy_find_reply(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	struct tbuf b = { 0 };
	bson_t *q = BCON_NEW("kind", BCON_UTF8("Zanzibar"));
	bson_t *data = BCON_NEW("ok", BCON_INT32(0), "code", BCON_INT32(777));
	(void)state;
	tb_begin(&b, 30, 0, MONGO_OP_QUERY);
	tb_u32(&b, 0); tb_cstr(&b, "app.things"); tb_u32(&b, 0); tb_u32(&b, 0); tb_doc(&b, q);
	tb_end(&b);
	feed(f, STREAM_TO_SERVER, b.p, b.len, 1);
	tb_begin(&b, 31, 30, MONGO_OP_REPLY);
	tb_u32(&b, 0); tb_u32(&b, 0); tb_u32(&b, 0); tb_u32(&b, 0); tb_u32(&b, 1); tb_doc(&b, data);
	tb_end(&b);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 2);
	/* the same reply to a db.$cmd query is a command answer */
	tb_begin(&b, 32, 0, MONGO_OP_QUERY);
	tb_u32(&b, 0); tb_cstr(&b, "app.$cmd"); tb_u32(&b, 0); tb_u32(&b, 1); tb_doc(&b, q);
	tb_end(&b);
	feed(f, STREAM_TO_SERVER, b.p, b.len, 3);
	tb_begin(&b, 33, 32, MONGO_OP_REPLY);
	tb_u32(&b, 0); tb_u32(&b, 0); tb_u32(&b, 0); tb_u32(&b, 0); tb_u32(&b, 1); tb_doc(&b, data);
	tb_end(&b);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 4);
	feed_fixture(f, STREAM_TO_SERVER, "dupkey_req.bin", 5);
	feed_fixture(f, STREAM_TO_CLIENT, "dupkey_res.bin", 6);
	assert_int_equal(f->sink_data.n, 3);
	assert_string_equal(txn(f, 0)->shape, "find app.things {kind: ?}");
	assert_int_equal(txn(f, 0)->ok, 1);
	assert_int_equal(txn(f, 0)->error_code, 0);
	assert_int_equal(txn(f, 0)->docs, 1);
	assert_string_equal(txn(f, 1)->command, "kind");
	assert_int_equal(txn(f, 1)->ok, 0);
	assert_int_equal(txn(f, 1)->error_code, 777);
	assert_string_equal(txn(f, 2)->command, "insert");
	assert_int_equal(txn(f, 2)->ok, 0);	/* Packetbeat: status Error */
	assert_int_equal(txn(f, 2)->error_code, 11000);
	bson_destroy(q);
	bson_destroy(data);
	free(b.p);
	fx_free(f);
}

/* mongodb_invalid_opcode_2269.pcap: three connections, one message each, opcode 2269, FIN. */
static void test_unknown_opcode(void **state)
{
	struct quality shared = { 0 };
	struct tbuf b = { 0 };
	bson_t *body = BCON_NEW("insert", BCON_UTF8("test_coll"), "$db", BCON_UTF8("test"));
	(void)state;
	tb_op_msg(&b, 1, 0, 0, body);
	tb_patch_u32(&b, 12, 2269);
	for (int conn = 0; conn < 3; conn++) {
		struct fixture *f = fx_new(1 << 20, 0);
		f->ctx.q = &shared;
		feed(f, STREAM_TO_SERVER, b.p, b.len, 1);
		mongo_stream_ops.fin(f->p, STREAM_TO_CLIENT, 2);
		fx_close(f, 3);
		assert_int_equal(f->sink_data.n, 0);
		fx_free(f);
	}
	assert_int_equal(shared.mongo_unknown_opcode_msgs, 3);
	assert_int_equal(shared.n_unknown_opcodes, 1);
	assert_int_equal(shared.unknown_opcodes[0], 2269);
	bson_destroy(body);
	free(b.p);
}

/* close(): pending requests are emitted no-response; a half message is truncated. */
static void test_close_pending(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	size_t l2;
	uint8_t *r2 = fixture_load("pb_2req.bin", &l2);
	(void)state;
	feed_fixture(f, STREAM_TO_SERVER, "pb_1req.bin", 1);
	feed_fixture(f, STREAM_TO_SERVER, "one_row_req.bin", 2);
	feed(f, STREAM_TO_SERVER, r2, 60, 3);
	fx_close(f, 4);
	assert_int_equal(f->sink_data.n, 3);
	/* in the order the requests were sent */
	assert_int_equal(txn(f, 0)->request_id, 64);
	assert_int_equal(txn(f, 0)->notes, TXN_NOTE_NO_RESPONSE);
	assert_int_equal(txn(f, 1)->request_id, 10);
	assert_int_equal(txn(f, 1)->notes, TXN_NOTE_NO_RESPONSE);
	assert_int_equal(txn(f, 2)->request_id, 65);
	assert_int_equal(txn(f, 2)->notes, TXN_NOTE_TRUNCATED | TXN_NOTE_NO_RESPONSE);
	assert_int_equal(txn(f, 2)->req_bytes, 132);
	assert_string_equal(txn(f, 2)->command, "");
	assert_int_equal(f->q.mongo_unmatched_requests, 3);
	free(r2);
	fx_free(f);
}

/* The pending table is bounded: the oldest request is evicted as no-response. */
static void test_pending_bound(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	struct tbuf b = { 0 };
	bson_t *body = BCON_NEW("ping", BCON_INT32(1), "$db", BCON_UTF8("admin"));
	(void)state;
	for (int i = 0; i < 1030; i++) {
		tb_op_msg(&b, 1000 + i, 0, 0, body);
		feed(f, STREAM_TO_SERVER, b.p, b.len, i);
	}
	assert_int_equal(f->sink_data.n, 6);
	assert_int_equal(txn(f, 0)->request_id, 1000);
	assert_int_equal(txn(f, 5)->request_id, 1005);
	assert_true(txn(f, 5)->notes & TXN_NOTE_NO_RESPONSE);
	bson_t *ok = BCON_NEW("ok", BCON_INT32(1));
	tb_op_msg(&b, 1, 1029 + 1000, 0, ok);
	bson_destroy(ok);
	feed(f, STREAM_TO_CLIENT, b.p, b.len, 5000);
	assert_int_equal(f->sink_data.n, 7);
	assert_int_equal(txn(f, 6)->request_id, 2029);
	assert_int_equal(txn(f, 6)->ok, 1);
	bson_destroy(body);
	free(b.p);
	fx_free(f);
}

/* A flow picked up midstream: the first chunk is a message's tail and is dropped. */
static void test_midstream(void **state)
{
	struct fixture *f = fx_new(1 << 20, 1);
	size_t l1;
	uint8_t *r1 = fixture_load("pb_1req.bin", &l1);
	(void)state;
	feed(f, STREAM_TO_SERVER, r1 + 20, l1 - 20, 1);
	feed_fixture(f, STREAM_TO_SERVER, "pb_2req.bin", 2);
	feed_fixture(f, STREAM_TO_CLIENT, "pb_2res.bin", 3);
	assert_int_equal(f->sink_data.n, 1);
	assert_int_equal(txn(f, 0)->request_id, 65);
	assert_int_equal(txn(f, 0)->notes, TXN_NOTE_MIDSTREAM);
	free(r1);
	fx_free(f);
}

/*
 * Replays a "<C|S> <ts_ns> <hex payload>" segment file (tshark's tcp.payload of
 * a Packetbeat pcap, see tests/fixtures/mongo/README.md) through the parser.
 */
static void replay_segments(struct fixture *f, const char *name)
{
	char path[4600];
	fixture_path(name, path, sizeof(path));
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	static char line[200000];
	static uint8_t bytes[100000];
	while (fgets(line, sizeof(line), in)) {
		char dir;
		long long ts;
		int off = 0;
		assert_int_equal(sscanf(line, "%c %lld %n", &dir, &ts, &off), 2);
		size_t n = 0;
		for (const char *h = line + off; h[0] && h[1] && h[0] != '\n'; h += 2) {
			unsigned v;
			assert_int_equal(sscanf(h, "%2x", &v), 1);
			assert_true(n < sizeof(bytes));
			bytes[n++] = (uint8_t)v;
		}
		feed(f, dir == 'C' ? STREAM_TO_SERVER : STREAM_TO_CLIENT, bytes, n, (ts_ns)ts);
	}
	fclose(in);
}

/* mongo_3.0_session.pcap: Packetbeat asserts insert 2, update 1, findandmodify 1, listCollections 5. */
static void test_packetbeat_session(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	int insert = 0, update = 0, fam = 0, listc = 0, find = 0;
	(void)state;
	replay_segments(f, "mongo_3.0_session.segments.txt");
	fx_close(f, 0);
	assert_int_equal(f->sink_data.n, 24);
	for (size_t i = 0; i < f->sink_data.n; i++) {
		const struct mongo_txn *t = txn(f, i);
		insert += strcmp(t->command, "insert") == 0;
		update += strcmp(t->command, "update") == 0;
		fam += strcmp(t->command, "findandmodify") == 0;
		listc += strcmp(t->command, "listCollections") == 0;
		find += strcmp(t->command, "find") == 0 && strcmp(t->collection, "restaurants") == 0;
		assert_int_equal(t->notes, 0);
		assert_true(t->t.resp_last >= t->t.req_first);
		assert_true(t->t.resp_last - t->t.req_first < 4 * TS_NS_PER_MS);	/* max 3.4 ms */
		assert_int_not_equal(t->ok, -1);
		assert_true(t->shape_id != 0);
	}
	assert_int_equal(insert, 2);
	assert_int_equal(update, 1);
	assert_int_equal(fam, 1);
	assert_int_equal(listc, 5);
	assert_int_equal(find, 3);
	assert_int_equal(f->q.mongo_unmatched_replies, 0);
	assert_int_equal(f->q.mongo_unmatched_requests, 0);
	assert_int_equal(f->q.mongo_parse_errors, 0);
	fx_free(f);
}

/* mongodb_more_rows.pcap: one find whose 46,171-byte OP_REPLY (101 docs) spans two segments. */
static void test_packetbeat_more_rows(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	(void)state;
	replay_segments(f, "mongodb_more_rows.segments.txt");
	assert_int_equal(f->sink_data.n, 1);
	const struct mongo_txn *t = txn(f, 0);
	assert_string_equal(t->command, "find");
	assert_string_equal(t->shape, "find test.restaurants {}");
	assert_int_equal(t->docs, 101);
	assert_int_equal(t->req_bytes, 50);
	assert_int_equal(t->resp_bytes, 46171);
	assert_true(t->t.resp_last > t->t.resp_first);
	assert_int_equal(t->t.resp_first - t->t.req_first, 288000);	/* tshark: first-segment latency 288 us */
	assert_int_equal(t->t.resp_last - t->t.req_first, 319000);	/* complete: 319 us */
	fx_free(f);
}

/* mongodb_op_msg_opcode.pcap (port 9991): 101 OP_MSG pairs on 2 connections, no unknown opcode. */
static void test_packetbeat_op_msg(void **state)
{
	static const struct { const char *file, *cmd; size_t n; } conns[] = {
		{ "mongodb_op_msg_opcode.s0.segments.txt", "replSetHeartbeat", 78 },
		{ "mongodb_op_msg_opcode.s1.segments.txt", "ismaster", 23 },
	};
	(void)state;
	for (size_t c = 0; c < 2; c++) {
		struct fixture *f = fx_new(1 << 20, 0);
		replay_segments(f, conns[c].file);
		fx_close(f, 0);
		assert_int_equal(f->sink_data.n, conns[c].n);
		for (size_t i = 0; i < f->sink_data.n; i++) {
			const struct mongo_txn *t = txn(f, i);
			assert_string_equal(t->command, conns[c].cmd);
			assert_string_equal(t->db, "admin");
			assert_int_equal(t->opcode, MONGO_OP_MSG);
			assert_int_equal(t->notes, 0);
			assert_int_not_equal(t->ok, -1);
			assert_true(t->t.resp_last - t->t.req_first < TS_NS_PER_MS);	/* max 0.39 ms */
		}
		assert_int_equal(f->q.n_unknown_opcodes, 0);
		assert_int_equal(f->q.mongo_parse_errors, 0);
		assert_int_equal(f->q.mongo_unmatched_replies, 0);
		assert_int_equal(f->q.mongo_unmatched_requests, 0);
		fx_free(f);
	}
}

/* Packetbeat TestSimpleFindLimit1_split: the one-row reply in chunks of 144, 176 and 194 bytes. */
static void test_packetbeat_split_reply(void **state)
{
	struct fixture *f = fx_new(1 << 20, 0);
	size_t rl;
	uint8_t *r = fixture_load("one_row_res.bin", &rl);
	(void)state;
	assert_int_equal(rl, 144 + 176 + 194);
	feed_fixture(f, STREAM_TO_SERVER, "one_row_req.bin", 1);
	feed(f, STREAM_TO_CLIENT, r, 144, 2);
	feed(f, STREAM_TO_CLIENT, r + 144, 176, 3);
	assert_int_equal(f->sink_data.n, 0);
	feed(f, STREAM_TO_CLIENT, r + 320, 194, 4);
	assert_int_equal(f->sink_data.n, 1);
	assert_string_equal(txn(f, 0)->command, "find");
	assert_int_equal(txn(f, 0)->ok, 1);
	assert_int_equal(txn(f, 0)->req_bytes, 50);
	assert_int_equal(txn(f, 0)->resp_bytes, 514);
	assert_int_equal(txn(f, 0)->t.resp_first, 2);
	assert_int_equal(txn(f, 0)->t.resp_last, 4);
	free(r);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairing_times),
		cmocka_unit_test(test_pairing_out_of_order),
		cmocka_unit_test(test_request_id_zero_compressed),
		cmocka_unit_test(test_orphan_reply),
		cmocka_unit_test(test_more_to_come),
		cmocka_unit_test(test_exhaust),
		cmocka_unit_test(test_streaming_hello_is_monitor),
		cmocka_unit_test(test_legacy_exhaust),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_bad_length_resync),
		cmocka_unit_test(test_budget_refusal),
		cmocka_unit_test(test_budget_compressed),
		cmocka_unit_test(test_legacy_find_reply),
		cmocka_unit_test(test_unknown_opcode),
		cmocka_unit_test(test_close_pending),
		cmocka_unit_test(test_pending_bound),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_packetbeat_session),
		cmocka_unit_test(test_packetbeat_more_rows),
		cmocka_unit_test(test_packetbeat_op_msg),
		cmocka_unit_test(test_packetbeat_split_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
