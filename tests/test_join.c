/*
 * test_join.c - attribution on built transaction sets with known answers:
 * sync workers (exact), a threaded worker (shared; concurrent shared calls
 * add up, capped at 1), parallel calls (union, not sum), offline captures
 * (overlap), and the emission order; a request waiting in a sync worker's
 * accept queue gets none of the calls of the request the worker is serving.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "join.h"

#define MS TS_NS_PER_MS
#define T0 (1764108000LL * TS_NS_PER_SEC)

struct got_http {
	uint64_t id;
	double db_ms;
	uint32_t ops;
	enum attribution a;
};
struct got_mongo {
	uint64_t id;
	unsigned k;
	uint64_t http[4];
};

static struct got_http gh[64];
static struct got_mongo gm[64];
static int nh, nm;

static void emit_http(void *ctx, const struct joined_http *h)
{
	(void)ctx;
	gh[nh++] = (struct got_http){ h->id, h->db_ns < 0 ? -1 : h->db_ns / 1e6, h->db_ops,
				      h->attribution };
}

static void emit_mongo(void *ctx, const struct joined_mongo *m)
{
	(void)ctx;
	gm[nm].id = m->id;
	gm[nm].k = m->k;
	for (unsigned i = 0; i < m->k && i < 4; i++)
		gm[nm].http[i] = m->http_ids[i];
	nm++;
}

static struct join *new_join(int pids)
{
	nh = nm = 0;
	struct join_config c = { .pids_known = pids, .emit_http = emit_http, .emit_mongo = emit_mongo };
	return join_new(&c);
}

/* An HTTP transaction from a to b ms (request body ends at a, response starts at b). */
static struct http_txn http(double a, double b)
{
	struct http_txn t;
	memset(&t, 0, sizeof(t));
	t.t.req_first = t.t.req_last = T0 + (ts_ns)(a * MS);
	t.t.resp_first = t.t.resp_last = T0 + (ts_ns)(b * MS);
	t.status = 200;
	return t;
}

static struct mongo_txn mongo(double a, double b)
{
	struct mongo_txn t;
	memset(&t, 0, sizeof(t));
	t.t.req_first = t.t.req_last = T0 + (ts_ns)(a * MS);
	t.t.resp_first = t.t.resp_last = T0 + (ts_ns)(b * MS);
	t.ok = 1;
	return t;
}

/* A driver's monitor waiting on an awaitable hello inside a request is not the request's DB time. */
static void monitor_calls_are_not_attributed(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	struct mongo_txn wait = mongo(1, 9), find = mongo(2, 4);
	wait.notes = TXN_NOTE_MONITOR | TXN_NOTE_EXHAUST;
	join_mongo(j, &wait, 101);
	join_mongo(j, &find, 101);
	struct http_txn h = http(0, 10);
	join_http(j, &h, 101);
	join_flush(j);
	assert_int_equal(nh, 1);
	assert_int_equal(nm, 2);
	assert_true(fabs(gh[0].db_ms - 2.0) < 1e-6);	/* the find only */
	assert_int_equal(gh[0].ops, 1);
	assert_int_equal(gh[0].a, ATTRIBUTION_EXACT);
	assert_int_equal(gm[0].k, 0);	/* the monitor call names no request */
	assert_int_equal(gm[1].k, 1);
	join_free(j);
}

static void sync_workers_are_exact(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	/* worker 101: request 0-10 ms with calls 2-4 and 5-8; worker 102: request 1-9, call 3-6 */
	struct mongo_txn m1 = mongo(2, 4), m2 = mongo(5, 8), m3 = mongo(3, 6);
	join_mongo(j, &m1, 101);
	join_mongo(j, &m3, 102);
	join_mongo(j, &m2, 101);
	struct http_txn h2 = http(1, 9), h1 = http(0, 10);
	join_http(j, &h2, 102);
	join_http(j, &h1, 101);
	join_flush(j);
	assert_int_equal(nh, 2);
	assert_int_equal(nm, 3);
	/* h2 (id 1, pid 102) had one call of 3 ms; h1 (id 2, pid 101) 2 + 3 ms */
	assert_int_equal(gh[0].id, 1);
	assert_true(fabs(gh[0].db_ms - 3.0) < 1e-6);
	assert_int_equal(gh[0].ops, 1);
	assert_int_equal(gh[0].a, ATTRIBUTION_EXACT);
	assert_int_equal(gh[1].id, 2);
	assert_true(fabs(gh[1].db_ms - 5.0) < 1e-6);
	assert_int_equal(gh[1].ops, 2);
	assert_int_equal(gh[1].a, ATTRIBUTION_EXACT);
	/* each call names its one request */
	for (int i = 0; i < 3; i++)
		assert_int_equal(gm[i].k, 1);
	assert_int_equal(gm[0].http[0], 2);	/* m1 -> h1 */
	assert_int_equal(gm[1].http[0], 1);	/* m3 -> h2 */
	join_free(j);
}

static void threaded_worker_shares(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	/* one process, two requests in flight 0-10 and 1-12; a 4 ms call at 4-8 belongs to both */
	struct mongo_txn m = mongo(4, 8);
	join_mongo(j, &m, 200);
	struct http_txn a = http(0, 10), b = http(1, 12);
	join_http(j, &a, 200);
	join_http(j, &b, 200);
	join_flush(j);
	assert_int_equal(nm, 1);
	assert_int_equal(gm[0].k, 2);
	assert_int_equal(nh, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(gh[i].a, ATTRIBUTION_SHARED);
		assert_true(fabs(gh[i].db_ms - 2.0) < 1e-6);	/* split evenly */
		assert_int_equal(gh[i].ops, 1);
	}
	join_free(j);
}

static void threaded_concurrent_calls_add_up(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	/* one process, two requests in flight 0-10; two threads' calls at 2-6 and 3-7 run at
	 * once: each call is split between the two requests, and the shares add up where the
	 * calls overlap, so the two requests together keep the 8 ms the calls took */
	struct mongo_txn m1 = mongo(2, 6), m2 = mongo(3, 7);
	join_mongo(j, &m1, 300);
	join_mongo(j, &m2, 300);
	struct http_txn a = http(0, 10), b = http(0, 10);
	join_http(j, &a, 300);
	join_http(j, &b, 300);
	join_flush(j);
	assert_int_equal(nh, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(gh[i].a, ATTRIBUTION_SHARED);
		/* 2-3: 0.5, 3-6: 0.5 + 0.5, 6-7: 0.5 */
		assert_true(fabs(gh[i].db_ms - 4.0) < 1e-6);
		assert_int_equal(gh[i].ops, 2);
	}
	join_free(j);
}

static void parallel_calls_count_once(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	/* three calls in parallel: 2-6, 3-7, 5-9 -> union 2-9 = 7 ms, not 12 */
	struct mongo_txn a = mongo(2, 6), b = mongo(3, 7), c = mongo(5, 9);
	join_mongo(j, &a, 7);
	join_mongo(j, &b, 7);
	join_mongo(j, &c, 7);
	struct http_txn h = http(0, 20);
	join_http(j, &h, 7);
	join_flush(j);
	assert_int_equal(nh, 1);
	assert_true(fabs(gh[0].db_ms - 7.0) < 1e-6);
	assert_int_equal(gh[0].ops, 3);
	assert_int_equal(gh[0].a, ATTRIBUTION_EXACT);
	join_free(j);
}

static void offline_overlap_uses_time_only(void **state)
{
	(void)state;
	struct join *j = new_join(0);
	/* no pids: a call 2-3 inside both requests is split; a call 12-14 inside only the second */
	struct mongo_txn m1 = mongo(2, 3), m2 = mongo(12, 14);
	join_mongo(j, &m1, 0);
	join_mongo(j, &m2, 0);
	struct http_txn a = http(0, 10), b = http(1, 20);
	join_http(j, &a, 0);
	join_http(j, &b, 0);
	join_flush(j);
	assert_int_equal(nh, 2);
	assert_int_equal(gh[0].a, ATTRIBUTION_OVERLAP);
	assert_true(fabs(gh[0].db_ms - 0.5) < 1e-6);
	/* second: 0.5 (shared) + 2 (alone) */
	assert_true(fabs(gh[1].db_ms - 2.5) < 1e-6);
	assert_int_equal(gh[1].ops, 2);
	join_free(j);
}

static void incomplete_request_is_not_attributed(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	struct http_txn h = http(0, 10);
	h.t.resp_first = h.t.resp_last = TS_NONE;	/* no response */
	struct mongo_txn m = mongo(2, 3);
	join_mongo(j, &m, 5);
	join_http(j, &h, 5);
	join_flush(j);
	assert_int_equal(gh[0].a, ATTRIBUTION_NONE);
	assert_true(gh[0].db_ms < 0);
	assert_int_equal(gm[0].k, 0);
	join_free(j);
}

static void window_holds_then_releases(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	struct mongo_txn m = mongo(2, 3);
	struct http_txn h = http(0, 10);
	join_mongo(j, &m, 5);
	join_http(j, &h, 5);
	join_advance(j, T0 + 100 * MS);	/* within the 5 s window: nothing yet */
	assert_int_equal(nh + nm, 0);
	join_advance(j, T0 + 6000 * MS);
	assert_int_equal(nm, 1);
	assert_int_equal(nh, 1);
	assert_true(fabs(gh[0].db_ms - 1.0) < 1e-6);
	join_free(j);
}

/* n requests of pid, one at a time (5 ms each, 10 ms apart, from `at` ms), with no calls. */
static void serve_serially(struct join *j, int pid, int n, double at)
{
	for (int i = 0; i < n; i++) {
		struct http_txn h = http(at + 10 * i, at + 10 * i + 5);
		join_http(j, &h, pid);
	}
}

static void queued_request_is_not_in_the_sync_worker(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	serve_serially(j, 300, 20, 0);
	/* the worker serves s (200-210, a call at 204-208); q arrived at 201 and waited */
	struct mongo_txn m = mongo(204, 208);
	join_mongo(j, &m, 300);
	struct http_txn s = http(200, 210), q = http(201, 222);
	join_http(j, &s, 300);
	join_http(j, &q, 300);
	join_flush(j);
	assert_int_equal(nh, 22);
	assert_int_equal(nm, 1);
	assert_int_equal(gm[0].k, 1);
	assert_int_equal(gm[0].http[0], gh[20].id);
	assert_true(fabs(gh[20].db_ms - 4.0) < 1e-6);
	assert_int_equal(gh[20].a, ATTRIBUTION_EXACT);
	assert_true(fabs(gh[21].db_ms) < 1e-6);
	assert_int_equal(gh[21].ops, 0);
	join_free(j);
}

/* A request "overtaken" by less than a millisecond is a race of first bytes, not threads. */
static void near_simultaneous_arrivals_keep_a_worker_serial(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	serve_serially(j, 500, 20, 0);
	struct http_txn first = http(300.010, 305), second = http(300, 310);
	join_http(j, &first, 500);
	join_http(j, &second, 500);
	struct mongo_txn m = mongo(404, 408);
	join_mongo(j, &m, 500);
	struct http_txn s = http(400, 410), q = http(401, 412);
	join_http(j, &s, 500);
	join_http(j, &q, 500);
	join_flush(j);
	assert_int_equal(gm[0].k, 1);
	assert_int_equal(gh[nh - 2].a, ATTRIBUTION_EXACT);
	assert_true(fabs(gh[nh - 2].db_ms - 4.0) < 1e-6);
	join_free(j);
}

static void overtaking_request_shows_a_concurrent_worker(void **state)
{
	(void)state;
	struct join *j = new_join(1);
	serve_serially(j, 400, 20, 0);
	/* 300-320 overtaken by 305-310: two at a time; from then on calls are shared */
	struct http_txn slow = http(300, 320), fast = http(305, 310);
	join_http(j, &fast, 400);
	join_http(j, &slow, 400);
	struct mongo_txn m = mongo(404, 408);
	join_mongo(j, &m, 400);
	struct http_txn a = http(400, 410), b = http(401, 412);
	join_http(j, &a, 400);
	join_http(j, &b, 400);
	join_flush(j);
	assert_int_equal(nm, 1);
	assert_int_equal(gm[0].k, 2);
	assert_int_equal(gh[nh - 1].a, ATTRIBUTION_SHARED);
	assert_int_equal(gh[nh - 2].a, ATTRIBUTION_SHARED);
	join_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sync_workers_are_exact),
		cmocka_unit_test(monitor_calls_are_not_attributed),
		cmocka_unit_test(threaded_worker_shares),
		cmocka_unit_test(threaded_concurrent_calls_add_up),
		cmocka_unit_test(parallel_calls_count_once),
		cmocka_unit_test(offline_overlap_uses_time_only),
		cmocka_unit_test(incomplete_request_is_not_attributed),
		cmocka_unit_test(window_holds_then_releases),
		cmocka_unit_test(queued_request_is_not_in_the_sync_worker),
		cmocka_unit_test(near_simultaneous_arrivals_keep_a_worker_serial),
		cmocka_unit_test(overtaking_request_shows_a_concurrent_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
