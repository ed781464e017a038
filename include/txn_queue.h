/*
 * txn_queue.h - hands transactions from the packet thread to an output
 * thread (`analyze` on a file: parsing and writing run on two cores). The
 * producer fills a batch and passes it under one lock; the consumer replays
 * each item into the real sink, in order. Bounded: a full queue makes the
 * producer wait, so memory stays at TXN_QUEUE_BATCHES batches.
 */
#ifndef TIERPROBE_TXN_QUEUE_H
#define TIERPROBE_TXN_QUEUE_H

#include "timestamp.h"
#include "txn.h"

struct txn_queue;

/* What the consumer thread calls, in the order the producer queued them. */
struct txn_queue_consumer {
	const struct txn_sink *sink;	/* transactions */
	void (*advance)(void *ctx, ts_ns now);	/* capture time moved on */
	void *ctx;
};

/* Starts the consumer thread; NULL on failure. */
struct txn_queue *txn_queue_new(const struct txn_queue_consumer *c);

/* The producer's sink: its callbacks queue copies (ctx = the queue). */
const struct txn_sink *txn_queue_sink(struct txn_queue *q);

/* Queues a capture-time mark (the consumer calls c->advance with it). */
void txn_queue_advance(struct txn_queue *q, ts_ns now);

/* Passes what is queued, waits until the consumer has handled all of it, stops it. */
void txn_queue_finish(struct txn_queue *q);

void txn_queue_free(struct txn_queue *q);

#endif
