/* test_txn_queue.c - the output thread sees every transaction and time mark once, in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "txn_queue.h"

/* What the consumer saw: kind (1 http, 2 mongo, 3 advance) and the number carried. */
static int kinds[20000];
static int64_t values[20000];
static size_t seen;

static void got_http(void *ctx, const struct http_txn *t)
{
	(void)ctx;
	kinds[seen] = 1;
	values[seen++] = (int64_t)t->flow_id;
}

static void got_mongo(void *ctx, const struct mongo_txn *t)
{
	(void)ctx;
	kinds[seen] = 2;
	values[seen++] = t->request_id;
}

static void got_advance(void *ctx, ts_ns now)
{
	(void)ctx;
	kinds[seen] = 3;
	values[seen++] = now;
}

static void order_and_count_survive_the_hand_over(void **state)
{
	(void)state;
	struct txn_sink real = { got_http, got_mongo, NULL };
	struct txn_queue_consumer c = { &real, got_advance, NULL };
	struct txn_queue *q = txn_queue_new(&c);
	assert_non_null(q);
	const struct txn_sink *in = txn_queue_sink(q);
	struct http_txn h;
	struct mongo_txn m;
	memset(&h, 0, sizeof(h));
	memset(&m, 0, sizeof(m));
	seen = 0;
	/* more than all batches together, so the producer has to wait for the consumer */
	for (int i = 0; i < 15000; i++) {
		if (i % 100 == 99) {
			txn_queue_advance(q, i);
		} else if (i % 2) {
			m.request_id = i;
			in->mongo(in->ctx, &m);
		} else {
			h.flow_id = (uint64_t)i;
			in->http(in->ctx, &h);
		}
	}
	txn_queue_finish(q);
	assert_int_equal(seen, 15000);
	for (int i = 0; i < 15000; i++) {
		assert_int_equal(values[i], i);
		assert_int_equal(kinds[i], i % 100 == 99 ? 3 : i % 2 ? 2 : 1);
	}
	txn_queue_free(q);
}

static void empty_queue_finishes(void **state)
{
	(void)state;
	struct txn_sink real = { got_http, got_mongo, NULL };
	struct txn_queue_consumer c = { &real, got_advance, NULL };
	struct txn_queue *q = txn_queue_new(&c);
	seen = 0;
	txn_queue_free(q);	/* finish + free with nothing queued */
	assert_int_equal(seen, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(order_and_count_survive_the_hand_over),
		cmocka_unit_test(empty_queue_finishes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
