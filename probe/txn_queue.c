/* txn_queue.c - transactions from the packet thread to the output thread, in batches. */
#include "txn_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 256
#define TXN_QUEUE_BATCHES 16

enum item_kind { ITEM_HTTP, ITEM_MONGO, ITEM_ADVANCE };

struct item {
	enum item_kind kind;
	union {
		struct http_txn http;
		struct mongo_txn mongo;
		ts_ns now;
	} u;
};

struct batch {
	struct item items[BATCH];
	size_t n;
};

struct txn_queue {
	struct txn_queue_consumer c;
	struct txn_sink sink;
	pthread_t thread;
	/* Each side is signalled only when it waits, after the lock is dropped (see capture_reader.c). */
	pthread_mutex_t mu;
	pthread_cond_t to_producer, to_consumer;
	int producer_waiting, consumer_waiting;
	struct batch *ring[TXN_QUEUE_BATCHES];	/* full batches, FIFO */
	size_t head, len;
	struct batch *free_list[TXN_QUEUE_BATCHES + 2];
	size_t nfree;
	struct batch *filling;		/* the producer's current batch */
	int done;			/* no more batches will come */
};

static struct batch *get_free(struct txn_queue *q)
{
	pthread_mutex_lock(&q->mu);
	while (q->nfree == 0) {
		q->producer_waiting = 1;
		pthread_cond_wait(&q->to_producer, &q->mu);
		q->producer_waiting = 0;
	}
	struct batch *b = q->free_list[--q->nfree];
	pthread_mutex_unlock(&q->mu);
	b->n = 0;
	return b;
}

/* Passes the filling batch to the consumer (waiting while the ring is full). */
static void push(struct txn_queue *q)
{
	if (!q->filling || q->filling->n == 0)
		return;
	pthread_mutex_lock(&q->mu);
	while (q->len == TXN_QUEUE_BATCHES) {
		q->producer_waiting = 1;
		pthread_cond_wait(&q->to_producer, &q->mu);
		q->producer_waiting = 0;
	}
	q->ring[(q->head + q->len) % TXN_QUEUE_BATCHES] = q->filling;
	q->len++;
	int wake = q->consumer_waiting;
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_signal(&q->to_consumer);
	q->filling = get_free(q);
}

static struct item *slot(struct txn_queue *q)
{
	if (q->filling->n == BATCH)
		push(q);
	return &q->filling->items[q->filling->n++];
}

static void on_http(void *ctx, const struct http_txn *t)
{
	struct item *it = slot(ctx);
	it->kind = ITEM_HTTP;
	it->u.http = *t;
}

static void on_mongo(void *ctx, const struct mongo_txn *t)
{
	struct item *it = slot(ctx);
	it->kind = ITEM_MONGO;
	it->u.mongo = *t;
}

void txn_queue_advance(struct txn_queue *q, ts_ns now)
{
	struct item *it = slot(q);
	it->kind = ITEM_ADVANCE;
	it->u.now = now;
}

static void *consumer_main(void *arg)
{
	struct txn_queue *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->len == 0 && !q->done) {
			q->consumer_waiting = 1;
			pthread_cond_wait(&q->to_consumer, &q->mu);
			q->consumer_waiting = 0;
		}
		if (q->len == 0 && q->done) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		struct batch *b = q->ring[q->head];
		q->head = (q->head + 1) % TXN_QUEUE_BATCHES;
		q->len--;
		int wake = q->producer_waiting;
		pthread_mutex_unlock(&q->mu);
		if (wake)
			pthread_cond_signal(&q->to_producer);

		for (size_t i = 0; i < b->n; i++) {
			const struct item *it = &b->items[i];
			if (it->kind == ITEM_HTTP)
				q->c.sink->http(q->c.sink->ctx, &it->u.http);
			else if (it->kind == ITEM_MONGO)
				q->c.sink->mongo(q->c.sink->ctx, &it->u.mongo);
			else if (q->c.advance)
				q->c.advance(q->c.ctx, it->u.now);
		}
		pthread_mutex_lock(&q->mu);
		q->free_list[q->nfree++] = b;
		wake = q->producer_waiting;
		pthread_mutex_unlock(&q->mu);
		if (wake)
			pthread_cond_signal(&q->to_producer);
	}
}

struct txn_queue *txn_queue_new(const struct txn_queue_consumer *c)
{
	struct txn_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->c = *c;
	q->sink.http = on_http;
	q->sink.mongo = on_mongo;
	q->sink.ctx = q;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->to_producer, NULL);
	pthread_cond_init(&q->to_consumer, NULL);
	/* one batch filling, up to TXN_QUEUE_BATCHES queued, one being consumed */
	for (size_t i = 0; i < TXN_QUEUE_BATCHES + 2; i++) {
		struct batch *b = malloc(sizeof(*b));
		if (!b) {
			txn_queue_free(q);
			return NULL;
		}
		q->free_list[q->nfree++] = b;
	}
	q->filling = get_free(q);
	if (pthread_create(&q->thread, NULL, consumer_main, q) != 0) {
		q->done = 1;
		txn_queue_free(q);
		return NULL;
	}
	return q;
}

const struct txn_sink *txn_queue_sink(struct txn_queue *q)
{
	return &q->sink;
}

void txn_queue_finish(struct txn_queue *q)
{
	if (q->done)
		return;
	push(q);
	pthread_mutex_lock(&q->mu);
	q->done = 1;
	pthread_mutex_unlock(&q->mu);
	pthread_cond_signal(&q->to_consumer);
	pthread_join(q->thread, NULL);
}

void txn_queue_free(struct txn_queue *q)
{
	if (!q)
		return;
	txn_queue_finish(q);
	free(q->filling);
	for (size_t i = 0; i < q->nfree; i++)
		free(q->free_list[i]);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->to_producer);
	pthread_cond_destroy(&q->to_consumer);
	free(q);
}
