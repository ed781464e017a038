/*
 * aggregate.h - per-route and per-shape statistics (routes.csv, shapes.csv)
 * and the run-wide totals the summary is built from. Bounded: at most
 * AGG_MAX_KEYS routes and shapes each; later ones are folded into one
 * "(other)" row so hostile URLs cannot grow memory.
 */
#ifndef TIERPROBE_AGGREGATE_H
#define TIERPROBE_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "txn.h"

#define AGG_MAX_KEYS 4096

struct route_stats {
	char method[HTTP_METHOD_MAX];
	char route[HTTP_ROUTE_MAX];
	uint64_t count;
	uint64_t errors;		/* 5xx, or no response */
	uint64_t client_errors;		/* 4xx */
	struct dist latency;		/* ns, complete transactions only */
	struct dist server;		/* ns, server time */
	double latency_sum_ns;		/* over transactions with db attribution known */
	double db_ns;			/* attributed database time */
	uint64_t db_ops;
	uint64_t attributed;		/* transactions whose db time is known */
};

struct shape_stats {
	uint64_t shape_id;
	char db[MONGO_NAME_MAX];
	char collection[MONGO_NAME_MAX];
	char command[64];
	char shape[512];
	uint64_t count;
	uint64_t errors;
	struct dist latency;		/* ns */
};

struct aggregate {
	struct route_stats *routes;	/* owned array, nroutes used */
	size_t nroutes, routes_cap;
	struct shape_stats *shapes;
	size_t nshapes, shapes_cap;
	/* run-wide */
	struct dist http_latency;
	struct dist mongo_latency;
	uint64_t http_count, http_errors, http_complete;
	uint64_t mongo_count, mongo_errors, mongo_complete;
	double http_latency_attributed_ns, http_db_ns;	/* for the DB share */
	ts_ns first_ts, last_ts;	/* capture time span of transactions */
	/* index: open addressing over routes / shapes (indices + 1; 0 = empty) */
	uint32_t *route_index;
	uint32_t *shape_index;
	size_t index_cap;
};

int aggregate_init(struct aggregate *a);
void aggregate_release(struct aggregate *a);

/* db_ns < 0 means "not attributed". */
void aggregate_http(struct aggregate *a, const struct http_txn *t, double db_ns, uint64_t db_ops);
void aggregate_mongo(struct aggregate *a, const struct mongo_txn *t);

/* HTTP error as counted everywhere: 5xx or no response. */
int http_txn_is_error(const struct http_txn *t);
/* MongoDB error: ok == 0 or an error code (writeErrors included). */
int mongo_txn_is_error(const struct mongo_txn *t);

/* Sorts routes by total latency and shapes by total time, largest first (for reports). */
void aggregate_sort(struct aggregate *a);

#endif
