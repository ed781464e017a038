/*
 * serverstatus.h - MongoDB serverStatus (the reply of {serverStatus: 1}, MongoDB 2.2 to 8.x):
 * the counters and gauges monitoring tools use, parsed with libbson into optional values, turned
 * into per-second rates between two polls, and formatted as the rows of serverstatus.csv.
 *
 * Every value is optional: field layouts differ by version (2.x has no opLatencies and no
 * wiredTiger, 8.0 moved the tickets to queues.execution) and mongos or arbiters lack whole
 * sections. An absent value is an empty CSV cell, never 0.
 */
#ifndef TIERPROBE_SERVERSTATUS_H
#define TIERPROBE_SERVERSTATUS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timestamp.h"

/* The int64 values kept from one serverStatus document (the path each one comes from). */
enum serverstatus_field {
	SERVERSTATUS_UPTIME_S,            /* uptime */
	SERVERSTATUS_OP_INSERT,           /* opcounters.insert ... */
	SERVERSTATUS_OP_QUERY,
	SERVERSTATUS_OP_UPDATE,
	SERVERSTATUS_OP_DELETE,
	SERVERSTATUS_OP_GETMORE,
	SERVERSTATUS_OP_COMMAND,
	SERVERSTATUS_NET_BYTES_IN,        /* network.bytesIn */
	SERVERSTATUS_NET_BYTES_OUT,       /* network.bytesOut */
	SERVERSTATUS_NET_REQUESTS,        /* network.numRequests */
	SERVERSTATUS_PAGE_FAULTS,         /* extra_info.page_faults */
	SERVERSTATUS_ASSERTS_REGULAR,     /* asserts.* */
	SERVERSTATUS_ASSERTS_WARNING,
	SERVERSTATUS_ASSERTS_MSG,
	SERVERSTATUS_ASSERTS_USER,
	SERVERSTATUS_ASSERTS_ROLLOVERS,
	SERVERSTATUS_WT_APP_EVICTED,      /* wiredTiger.cache."pages evicted by application threads" */
	SERVERSTATUS_WT_UNMODIFIED_EVICTED, /* wiredTiger.cache."unmodified pages evicted" */
	SERVERSTATUS_WT_MODIFIED_EVICTED, /* wiredTiger.cache."modified pages evicted" */
	SERVERSTATUS_WT_CACHE_BYTES,      /* wiredTiger.cache."bytes currently in the cache" */
	SERVERSTATUS_WT_CACHE_MAX_BYTES,  /* wiredTiger.cache."maximum bytes configured" */
	SERVERSTATUS_WT_CACHE_DIRTY_BYTES, /* wiredTiger.cache."tracked dirty bytes in the cache" */
	SERVERSTATUS_CONN_CURRENT,        /* connections.current */
	SERVERSTATUS_CONN_AVAILABLE,      /* connections.available */
	SERVERSTATUS_QUEUE_READERS,       /* globalLock.currentQueue.* */
	SERVERSTATUS_QUEUE_WRITERS,
	SERVERSTATUS_QUEUE_TOTAL,
	SERVERSTATUS_ACTIVE_READERS,      /* globalLock.activeClients.* */
	SERVERSTATUS_ACTIVE_WRITERS,
	SERVERSTATUS_ACTIVE_TOTAL,
	/* wiredTiger.concurrentTransactions.{read,write}.{out,available}; on 8.0
	 * queues.execution.{read,write}.{out,available} when the former is absent. */
	SERVERSTATUS_READ_TICKETS_OUT,
	SERVERSTATUS_READ_TICKETS_AVAILABLE,
	SERVERSTATUS_WRITE_TICKETS_OUT,
	SERVERSTATUS_WRITE_TICKETS_AVAILABLE,
	SERVERSTATUS_RESIDENT_MIB,        /* mem.resident (MiB) */
	SERVERSTATUS_LAT_READS_US,        /* opLatencies.reads.latency (µs, cumulative) */
	SERVERSTATUS_OPS_READS,           /* opLatencies.reads.ops */
	SERVERSTATUS_LAT_WRITES_US,
	SERVERSTATUS_OPS_WRITES,
	SERVERSTATUS_LAT_COMMANDS_US,
	SERVERSTATUS_OPS_COMMANDS,
	SERVERSTATUS_GLOBAL_WAIT_US_R,    /* locks.Global.timeAcquiringMicros.{r,w,R,W} */
	SERVERSTATUS_GLOBAL_WAIT_US_W,    /* ... .w (intent exclusive) */
	SERVERSTATUS_GLOBAL_WAIT_US_RR,   /* ... .R (shared) */
	SERVERSTATUS_GLOBAL_WAIT_US_WW,   /* ... .W (exclusive) */
	SERVERSTATUS_GLOBAL_ACQ_R,        /* locks.Global.acquireCount.{r,w,R,W} */
	SERVERSTATUS_GLOBAL_ACQ_W,
	SERVERSTATUS_GLOBAL_ACQ_RR,
	SERVERSTATUS_GLOBAL_ACQ_WW,
	/* MMAPv1-era fields, kept because upstream tests check them: indexCounters.hits (2.4, 2.6)
	 * or indexCounters.btree.hits (2.2); backgroundFlushing.total_ms; dur.timeMs.dt. */
	SERVERSTATUS_INDEX_HITS,
	SERVERSTATUS_BG_FLUSH_TOTAL_MS,
	SERVERSTATUS_DUR_DT_MS,
	SERVERSTATUS_FIELD_COUNT
};

#define SERVERSTATUS_HOST_MAX 256
#define SERVERSTATUS_VERSION_MAX 64

/*
 * One parsed document. present[f] says whether v[f] was in the document as a number that fits
 * an int64 (int32 or int64 exactly, a double rounded); any other type leaves it absent.
 */
struct serverstatus_doc {
	ts_ns sample_time;   /* when the reply arrived (set by the caller; TS_NONE if unknown) */
	ts_ns local_time;    /* localTime (a BSON date), TS_NONE if absent */
	char host[SERVERSTATUS_HOST_MAX];       /* "" if absent */
	char version[SERVERSTATUS_VERSION_MAX]; /* "" if absent */
	int64_t v[SERVERSTATUS_FIELD_COUNT];
	bool present[SERVERSTATUS_FIELD_COUNT];
};

/*
 * Parses reply (a serverStatus reply, or the serverStatus sub-document of getDiagnosticData) into
 * out, which is fully overwritten; sample_time is set to TS_NONE. Returns 0, or -EINVAL when the
 * reply is an error reply (ok: 0) or cannot be iterated. Unknown or mistyped fields are absent,
 * never an error. Reads reply only; keeps no pointer into it.
 */
int serverstatus_parse(const bson_t *reply, struct serverstatus_doc *out);

/* Returns true and stores the value if field f is present. */
bool serverstatus_get(const struct serverstatus_doc *doc, enum serverstatus_field f, int64_t *out);

/* The columns of serverstatus.csv, in order. */
enum serverstatus_column {
	SERVERSTATUS_COL_TIME,
	SERVERSTATUS_COL_INTERVAL_S,	/* the time the rates cover (between the two samples) */
	SERVERSTATUS_COL_UPTIME_S,
	SERVERSTATUS_COL_INSERT_PER_S,
	SERVERSTATUS_COL_QUERY_PER_S,
	SERVERSTATUS_COL_UPDATE_PER_S,
	SERVERSTATUS_COL_DELETE_PER_S,
	SERVERSTATUS_COL_GETMORE_PER_S,
	SERVERSTATUS_COL_COMMAND_PER_S,
	SERVERSTATUS_COL_NET_IN_BYTES_PER_S,
	SERVERSTATUS_COL_NET_OUT_BYTES_PER_S,
	SERVERSTATUS_COL_REQUESTS_PER_S,
	SERVERSTATUS_COL_PAGE_FAULTS_PER_S,
	SERVERSTATUS_COL_ASSERTS_PER_S,
	SERVERSTATUS_COL_PAGES_EVICTED_PER_S,
	SERVERSTATUS_COL_APP_PAGES_EVICTED_PER_S,
	SERVERSTATUS_COL_CONNECTIONS_CURRENT,
	SERVERSTATUS_COL_CONNECTIONS_AVAILABLE,
	SERVERSTATUS_COL_QUEUE_READERS,
	SERVERSTATUS_COL_QUEUE_WRITERS,
	SERVERSTATUS_COL_ACTIVE_READERS,
	SERVERSTATUS_COL_ACTIVE_WRITERS,
	SERVERSTATUS_COL_READ_TICKETS_OUT,
	SERVERSTATUS_COL_READ_TICKETS_AVAILABLE,
	SERVERSTATUS_COL_WRITE_TICKETS_OUT,
	SERVERSTATUS_COL_WRITE_TICKETS_AVAILABLE,
	SERVERSTATUS_COL_CACHE_USED_PCT,
	SERVERSTATUS_COL_CACHE_DIRTY_PCT,
	SERVERSTATUS_COL_RESIDENT_MIB,
	SERVERSTATUS_COL_READS_LATENCY_MS,
	SERVERSTATUS_COL_WRITES_LATENCY_MS,
	SERVERSTATUS_COL_COMMANDS_LATENCY_MS,
	SERVERSTATUS_COL_READS_OPS_PER_S,
	SERVERSTATUS_COL_WRITES_OPS_PER_S,
	SERVERSTATUS_COL_COMMANDS_OPS_PER_S,
	SERVERSTATUS_COL_GLOBAL_LOCK_WAIT_MS_PER_S,
	SERVERSTATUS_COL_NOTE,
	SERVERSTATUS_NCOLUMNS
};

/* The header of serverstatus.csv: SERVERSTATUS_NCOLUMNS static strings (never freed). */
extern const char *const serverstatus_columns[SERVERSTATUS_NCOLUMNS];

#define SERVERSTATUS_NOTE_MAX 96

/*
 * One row of serverstatus.csv before formatting. The time and note columns live in time and
 * note; val/present hold the numeric columns (the entries for COL_TIME and COL_NOTE are unused).
 */
struct serverstatus_row {
	ts_ns time;
	double val[SERVERSTATUS_NCOLUMNS];
	bool present[SERVERSTATUS_NCOLUMNS];
	char note[SERVERSTATUS_NOTE_MAX];
};

/* serverstatus_delta() results. */
enum serverstatus_delta_result {
	SERVERSTATUS_DELTA_RATES = 0,   /* rates computed between prev and cur */
	SERVERSTATUS_DELTA_BASELINE = 1 /* no usable prev (first sample, restart, bad dt): no rates */
};

/*
 * Builds the row for cur: gauges as they are, counters as per-second rates over dt_s seconds
 * since prev, mean server-side latency per class as Δlatency/Δops in ms (empty when Δops is 0).
 * prev may be NULL (first sample). When uptime went down or any counter went backwards (a
 * restart) the row is a NEW BASELINE: every rate is empty, never negative, and the note says so;
 * the caller keeps cur as the next prev either way. row->time is cur->sample_time.
 */
enum serverstatus_delta_result serverstatus_delta(const struct serverstatus_doc *prev,
						  const struct serverstatus_doc *cur, double dt_s,
						  struct serverstatus_row *row);

/* Fills row for an interval without a sample: every numeric column empty, note copied. */
void serverstatus_row_empty(struct serverstatus_row *row, ts_ns time, const char *note);

/*
 * Text of one row for csv_writer_row(): cells.ptr[i] points into cells.buf (or is "" for an
 * absent value); valid while cells lives. Rates and latencies have 3 decimals, percentages 1,
 * counts and gauges none.
 */
#define SERVERSTATUS_CELL_MAX 40
struct serverstatus_cells {
	char buf[SERVERSTATUS_NCOLUMNS][SERVERSTATUS_CELL_MAX];
	const char *ptr[SERVERSTATUS_NCOLUMNS];
};
void serverstatus_row_format(const struct serverstatus_row *row, struct serverstatus_cells *cells);

/*
 * Writes uri with the password (and secret-bearing options such as authMechanismProperties and
 * tlsCertificateKeyFilePassword) replaced by "***": "mongodb://user:***@host:port/db?...".
 * A string that does not look like a URI becomes "***". out is always NUL-terminated and never
 * holds the password. Returns 0, or -ENOSPC if out was too small (out then holds a truncated,
 * still redacted, string).
 */
int serverstatus_redact_uri(const char *uri, char *out, size_t len);

#endif
