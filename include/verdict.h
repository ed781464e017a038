/*
 * verdict.h - where the time goes: one primary bottleneck, any secondary
 * ones, a confidence, and the sentences (with their numbers) that led there.
 * The rules and thresholds are documented in README.md ("How the verdict is
 * reached"); they live here and nowhere else.
 */
#ifndef TIERPROBE_VERDICT_H
#define TIERPROBE_VERDICT_H

#include <stddef.h>

#include "aggregate.h"
#include "outputs.h"
#include "quality.h"

#define VERDICT_MAX_EVIDENCE 16
#define VERDICT_MAX_SECONDARY 6

struct verdict {
	const char *primary;		/* database, web-cpu, web-workers, host, network, none, inconclusive */
	const char *secondary[VERDICT_MAX_SECONDARY];
	size_t nsecondary;
	const char *confidence;		/* "high", "medium", "low" */
	char *evidence[VERDICT_MAX_EVIDENCE];	/* owned strings */
	size_t nevidence;
};

/* Decides from what the run measured. Never confident from bad data. */
void verdict_decide(struct aggregate *a, const struct quality *q, const struct run_info *info,
		    struct verdict *v);
void verdict_release(struct verdict *v);

/* Thresholds (README.md documents them). */
#define VERDICT_MIN_REQUESTS 20			/* fewer: inconclusive */
#define VERDICT_MAX_BAD_PCT 5.0			/* unmatched + gapped share above: inconclusive */
#define VERDICT_DB_SHARE_PCT 50.0		/* DB share of request time at or above: database */
#define VERDICT_DB_SHARE_HIGH_PCT 70.0		/* ... with high confidence */
#define VERDICT_DB_WORKER_SHARE 0.5		/* pre-fork workers all busy and this share of their
						   time in MongoDB: database (queued requests dilute
						   the DB share of latency) */
#define VERDICT_N_PLUS_ONE_CALLS 10.0		/* MongoDB calls per request that flag a route */
#define VERDICT_CPU_IDLE_SATURATED 10.0		/* host CPU idle below this: saturated interval */
#define VERDICT_SWAP_KIB_S 1024.0		/* swap in + out above: memory pressure */
#define VERDICT_IOWAIT_PCT 30.0
#define VERDICT_DISK_UTIL_PCT 90.0
#define VERDICT_STEAL_PCT 10.0
#define VERDICT_WEB_CPU_BUSY 0.7		/* web CPU / what its workers can use: web-cpu */
#define VERDICT_WEB_CPU_SHARE 0.5		/* CPU-saturated host, web tier's share of the busy CPU
						   at or above: web-cpu (the web tier is what fills it) */
#define VERDICT_WORKERS_BUSY 0.8		/* in-flight / workers: web-workers */
#define VERDICT_NETWORK_MIN_MS 0.5		/* wire minus server-side MongoDB latency ... */
#define VERDICT_NETWORK_SHARE 0.5		/* ... and that share of the wire latency: network */

#endif
