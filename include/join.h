/*
 * join.h - attribution: which MongoDB requests each HTTP request caused, and
 * how much of its latency was database time (DESIGN.md "attribution").
 *
 * Transactions arrive as they complete. Each is held for `window` of capture
 * time, so that every HTTP request that could contain a MongoDB request has
 * completed before that MongoDB request is judged; then it is emitted with
 * its attribution, in arrival order. A MongoDB request m belongs to the HTTP
 * requests h with h.start <= m.start and m.end <= h.end, of the same process
 * when pids are known:
 *   exact    exactly one such h (of that pid); or k > 1 of a serial process
 *            (so far always one request at a time, in arrival order: a
 *            sync worker), whose others were waiting in the accept queue:
 *            the one that ended first gets m
 *   shared   k > 1 such h: each gets 1/k of m's time
 *   overlap  pids unknown (offline captures): k counts every h that contains m
 * db_ms of h is the weighted union of its calls' intervals (parallel calls
 * are not double counted; at each instant the largest share counts).
 */
#ifndef TIERPROBE_JOIN_H
#define TIERPROBE_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "txn.h"

enum attribution {
	ATTRIBUTION_NONE = 0,	/* not attributable: no complete timing */
	ATTRIBUTION_EXACT,
	ATTRIBUTION_SHARED,
	ATTRIBUTION_OVERLAP,
};
const char *attribution_name(enum attribution a);

struct joined_http {
	const struct http_txn *t;
	uint64_t id;
	int pid;		/* 0 unknown */
	double db_ns;		/* < 0 when not attributable */
	uint32_t db_ops;	/* MongoDB requests it caused (shared ones count once) */
	enum attribution attribution;
};

struct joined_mongo {
	const struct mongo_txn *t;
	uint64_t id;
	int pid;
	unsigned k;		/* how many HTTP requests share it (0: none) */
	const uint64_t *http_ids;	/* k ids, valid during the callback */
};

struct join_config {
	ts_ns window;		/* default 5 s */
	size_t max_pending;	/* per kind; over it the oldest is judged early; default 65536 */
	int pids_known;		/* live: pids resolve; offline: overlap attribution */
	void (*emit_http)(void *ctx, const struct joined_http *h);
	void (*emit_mongo)(void *ctx, const struct joined_mongo *m);
	void *ctx;
};

struct join;

struct join *join_new(const struct join_config *cfg);
/*
 * Takes a copy of t, its times truncated to whole microseconds (what the
 * CSV files print). pid 0 = unknown. HTTP ids are assigned here, in arrival order. */
void join_http(struct join *j, const struct http_txn *t, int pid);
void join_mongo(struct join *j, const struct mongo_txn *t, int pid);
/* Judges and emits everything older than now - window. */
void join_advance(struct join *j, ts_ns now);
/* Judges and emits everything (end of input). */
void join_flush(struct join *j);
/*
 * Live mode: pids come from resolve(ctx, flow_id), asked when a transaction
 * is judged (the socket lookup has had the whole window to answer). Setting
 * a resolver switches to pid-based attribution; NULL means offline (overlap).
 */
void join_set_resolver(struct join *j, int (*resolve)(void *ctx, uint64_t flow_id), void *ctx);
/* Held transactions judged early because max_pending was reached. */
uint64_t join_forced(const struct join *j);
void join_free(struct join *j);

#endif
