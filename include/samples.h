/*
 * samples.h - samples.csv: one row per interval joining the three views on
 * one clock: the traffic (HTTP and MongoDB rates, percentiles, DB share,
 * concurrency), the capture's own health, and every collector's columns.
 *
 * The traffic columns count transactions by the interval in which they
 * ended, after attribution; attribution holds transactions for the join
 * window, so a row is written once the join has judged everything up to its
 * end (a lag of about one window). Every row is written and flushed whole.
 */
#ifndef TIERPROBE_SAMPLES_H
#define TIERPROBE_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "join.h"
#include "timestamp.h"

struct samples;

/* Host and server columns the verdict reads, found by name among the extra columns. */
enum sample_input {
	SI_CPU_IDLE, SI_CPU_IOWAIT, SI_CPU_STEAL, SI_CPU_BUSIEST_CORE, SI_LOAD1, SI_PROCS_RUNNING,
	SI_SWAP_IN, SI_SWAP_OUT, SI_MEM_AVAILABLE, SI_DISK_UTIL_MAX, SI_WEB_PIDS, SI_WEB_CPU,
	SI_WEB_THREADS, SI_MONGOD_CPU, SI_SELF_CPU, SI_SELF_RSS, SI_MONGO_SERVER_LATENCY,
	SI_MONGO_QUEUE, SI_MONGO_TICKETS, SI_MONGO_CONNECTIONS, SI_MONGO_CONN_USED, SI_MONGO_CACHE_USED,
	SI_MONGO_CACHE_DIRTY, SI_COUNT
};
extern const char *const sample_input_names[SI_COUNT];

/*
 * Per-interval figures the verdict reads (one per written row). They are
 * parsed back from the row's own text, so `tierprobe report` reading
 * samples.csv gets exactly what the run decided from.
 */
struct interval_stats {
	ts_ns end;
	double http_rps;
	double http_p50_ms, http_p95_ms;
	double in_flight;	/* mean concurrent HTTP requests (Little's law) */
	double db_share_pct;	/* NAN when nothing was attributed */
	double mongo_mean_ms;	/* client-observed (wire) mean MongoDB latency */
	double mongo_server_ms;	/* serverStatus' mean server-side latency; NAN without polling */
	uint64_t http_count, http_errors;
	uint64_t drops;
	double in[SI_COUNT];	/* NAN when the column is absent or empty */
};

/*
 * Mean MongoDB latency on the wire and inside the server (serverStatus), over
 * the intervals that have both, so the two are comparable; NAN when none.
 */
void samples_mongo_latency(const struct interval_stats *s, size_t n, double *client_ms,
			   double *server_ms);

/* Reads samples.csv back (tierprobe report). Returns 0 and a malloc'ed array, or -errno. */
int samples_read(const char *path, struct interval_stats **out, size_t *n);

/*
 * Creates dir/samples.csv with the fixed traffic columns followed by the
 * given extra columns (n_extra names, e.g. the collectors'). NULL + logged
 * message on failure.
 */
struct samples *samples_new(const char *dir, ts_ns start, const char *const *extra,
			    size_t n_extra);

void samples_http(struct samples *s, const struct joined_http *h);
void samples_mongo(struct samples *s, const struct joined_mongo *m);

/*
 * Closes the interval ending at now: keeps the extra cells (n_extra of them)
 * and the capture counters (cumulative) until its traffic is complete.
 */
void samples_close_interval(struct samples *s, ts_ns now, const collector_cell *extra,
			    uint64_t packets, uint64_t kernel_drops, uint64_t iface_drops);

/* Writes every closed interval that ends at or before horizon. Returns 0 or -errno. */
int samples_write_until(struct samples *s, ts_ns horizon);

/* The rows written so far (for the verdict); owned by s. */
const struct interval_stats *samples_stats(const struct samples *s, size_t *n);

/* Writes what remains and closes the file; returns 0 or the first -errno. */
int samples_finish(struct samples *s);
int samples_reopen(struct samples *s);
void samples_free(struct samples *s);

#endif
