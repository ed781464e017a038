/*
 * outputs.h - the output folder: http.csv and mongo.csv streamed as
 * transactions complete, then routes.csv, shapes.csv, summary.txt and
 * summary.json at the end (DESIGN.md fixes their columns).
 */
#ifndef TIERPROBE_OUTPUTS_H
#define TIERPROBE_OUTPUTS_H

#include <stdint.h>

#include "aggregate.h"
#include "quality.h"
#include "samples.h"
#include "txn.h"

struct outputs;

/* What the summary says about where its data came from. */
struct run_info {
	const char *mode;		/* "analyze" or "run" */
	const char *const *inputs;	/* capture files, or the interface */
	int ninputs;
	ts_ns started, ended;		/* wall clock of the tool itself */
	const char *input_error;	/* e.g. "x.pcap: truncated dump file at byte 1234", or NULL */
	int cores;			/* CPUs of the measured host (run); 0 unknown */
	const struct interval_stats *intervals;	/* run: samples.csv rows, for the verdict */
	size_t nintervals;
};

/*
 * Creates dir (and parents) and the streaming files. Returns NULL with a
 * message logged naming the path and the reason.
 */
struct outputs *outputs_open(const char *dir);

/* The sink parsers deliver into (ctx = the outputs). */
const struct txn_sink *outputs_sink(struct outputs *o);

/* Sets the pid resolver used for new rows (live mode); NULL = unknown pids. */
void outputs_set_pid_resolver(struct outputs *o, int (*resolve)(void *ctx, uint64_t flow_id),
			      void *ctx);

struct aggregate *outputs_aggregate(struct outputs *o);

/*
 * Also hands every judged transaction to an observer (samples.csv's
 * per-interval figures). Either callback may be NULL.
 */
struct joined_http;
struct joined_mongo;
void outputs_set_observer(struct outputs *o, void (*http)(void *ctx, const struct joined_http *),
			  void (*mongo)(void *ctx, const struct joined_mongo *), void *ctx);

/* Judges and writes every held transaction now (end of run), before outputs_finish(). */
void outputs_drain(struct outputs *o);

/*
 * Capture time has reached now: transactions held for attribution longer
 * than the join window are written. Call about once a second of capture time.
 */
void outputs_advance(struct outputs *o, ts_ns now);

/* Reopens the streaming files for appending (SIGHUP, log rotation). Returns 0 or -errno. */
int outputs_reopen(struct outputs *o);

/* Flushes the streaming files (each interval). Returns 0 or -errno (sticky). */
int outputs_flush(struct outputs *o);

/*
 * Writes the end-of-run tables and the summary (also to stdout when
 * print_summary), closes everything. Returns 0 or -errno.
 */
int outputs_finish(struct outputs *o, const struct quality *q, const struct run_info *info,
		   int print_summary);

void outputs_free(struct outputs *o);

#endif
