/* serverstatus.c - MongoDB serverStatus (2.2 to 8.x) to optional values, rates and CSV cells. */
#include "serverstatus.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * Where each value lives. Keys are matched exactly (case-sensitive): serverStatus field names are
 * fixed by the server, and WiredTiger statistics names contain spaces, so a dotted path string
 * would not do. The second table is only consulted for fields the first left absent: it holds the
 * layouts of other versions (8.0 tickets, the 2.2 nesting of indexCounters).
 */
struct ss_path {
	enum serverstatus_field field;
	const char *key[4];
};

static const struct ss_path ss_paths[] = {
	{ SERVERSTATUS_UPTIME_S, { "uptime" } },
	{ SERVERSTATUS_OP_INSERT, { "opcounters", "insert" } },
	{ SERVERSTATUS_OP_QUERY, { "opcounters", "query" } },
	{ SERVERSTATUS_OP_UPDATE, { "opcounters", "update" } },
	{ SERVERSTATUS_OP_DELETE, { "opcounters", "delete" } },
	{ SERVERSTATUS_OP_GETMORE, { "opcounters", "getmore" } },
	{ SERVERSTATUS_OP_COMMAND, { "opcounters", "command" } },
	{ SERVERSTATUS_NET_BYTES_IN, { "network", "bytesIn" } },
	{ SERVERSTATUS_NET_BYTES_OUT, { "network", "bytesOut" } },
	{ SERVERSTATUS_NET_REQUESTS, { "network", "numRequests" } },
	{ SERVERSTATUS_PAGE_FAULTS, { "extra_info", "page_faults" } },
	{ SERVERSTATUS_ASSERTS_REGULAR, { "asserts", "regular" } },
	{ SERVERSTATUS_ASSERTS_WARNING, { "asserts", "warning" } },
	{ SERVERSTATUS_ASSERTS_MSG, { "asserts", "msg" } },
	{ SERVERSTATUS_ASSERTS_USER, { "asserts", "user" } },
	{ SERVERSTATUS_ASSERTS_ROLLOVERS, { "asserts", "rollovers" } },
	{ SERVERSTATUS_WT_APP_EVICTED, { "wiredTiger", "cache", "pages evicted by application threads" } },
	{ SERVERSTATUS_WT_UNMODIFIED_EVICTED, { "wiredTiger", "cache", "unmodified pages evicted" } },
	{ SERVERSTATUS_WT_MODIFIED_EVICTED, { "wiredTiger", "cache", "modified pages evicted" } },
	{ SERVERSTATUS_WT_CACHE_BYTES, { "wiredTiger", "cache", "bytes currently in the cache" } },
	{ SERVERSTATUS_WT_CACHE_MAX_BYTES, { "wiredTiger", "cache", "maximum bytes configured" } },
	{ SERVERSTATUS_WT_CACHE_DIRTY_BYTES, { "wiredTiger", "cache", "tracked dirty bytes in the cache" } },
	{ SERVERSTATUS_CONN_CURRENT, { "connections", "current" } },
	{ SERVERSTATUS_CONN_AVAILABLE, { "connections", "available" } },
	{ SERVERSTATUS_QUEUE_READERS, { "globalLock", "currentQueue", "readers" } },
	{ SERVERSTATUS_QUEUE_WRITERS, { "globalLock", "currentQueue", "writers" } },
	{ SERVERSTATUS_QUEUE_TOTAL, { "globalLock", "currentQueue", "total" } },
	{ SERVERSTATUS_ACTIVE_READERS, { "globalLock", "activeClients", "readers" } },
	{ SERVERSTATUS_ACTIVE_WRITERS, { "globalLock", "activeClients", "writers" } },
	{ SERVERSTATUS_ACTIVE_TOTAL, { "globalLock", "activeClients", "total" } },
	{ SERVERSTATUS_READ_TICKETS_OUT, { "wiredTiger", "concurrentTransactions", "read", "out" } },
	{ SERVERSTATUS_READ_TICKETS_AVAILABLE, { "wiredTiger", "concurrentTransactions", "read", "available" } },
	{ SERVERSTATUS_WRITE_TICKETS_OUT, { "wiredTiger", "concurrentTransactions", "write", "out" } },
	{ SERVERSTATUS_WRITE_TICKETS_AVAILABLE, { "wiredTiger", "concurrentTransactions", "write", "available" } },
	{ SERVERSTATUS_RESIDENT_MIB, { "mem", "resident" } },
	{ SERVERSTATUS_LAT_READS_US, { "opLatencies", "reads", "latency" } },
	{ SERVERSTATUS_OPS_READS, { "opLatencies", "reads", "ops" } },
	{ SERVERSTATUS_LAT_WRITES_US, { "opLatencies", "writes", "latency" } },
	{ SERVERSTATUS_OPS_WRITES, { "opLatencies", "writes", "ops" } },
	{ SERVERSTATUS_LAT_COMMANDS_US, { "opLatencies", "commands", "latency" } },
	{ SERVERSTATUS_OPS_COMMANDS, { "opLatencies", "commands", "ops" } },
	{ SERVERSTATUS_GLOBAL_WAIT_US_R, { "locks", "Global", "timeAcquiringMicros", "r" } },
	{ SERVERSTATUS_GLOBAL_WAIT_US_W, { "locks", "Global", "timeAcquiringMicros", "w" } },
	{ SERVERSTATUS_GLOBAL_WAIT_US_RR, { "locks", "Global", "timeAcquiringMicros", "R" } },
	{ SERVERSTATUS_GLOBAL_WAIT_US_WW, { "locks", "Global", "timeAcquiringMicros", "W" } },
	{ SERVERSTATUS_GLOBAL_ACQ_R, { "locks", "Global", "acquireCount", "r" } },
	{ SERVERSTATUS_GLOBAL_ACQ_W, { "locks", "Global", "acquireCount", "w" } },
	{ SERVERSTATUS_GLOBAL_ACQ_RR, { "locks", "Global", "acquireCount", "R" } },
	{ SERVERSTATUS_GLOBAL_ACQ_WW, { "locks", "Global", "acquireCount", "W" } },
	{ SERVERSTATUS_INDEX_HITS, { "indexCounters", "hits" } },
	{ SERVERSTATUS_BG_FLUSH_TOTAL_MS, { "backgroundFlushing", "total_ms" } },
	{ SERVERSTATUS_DUR_DT_MS, { "dur", "timeMs", "dt" } },
};

static const struct ss_path ss_fallback_paths[] = {
	/* 8.0 replaced wiredTiger.concurrentTransactions with the execution control queues. */
	{ SERVERSTATUS_READ_TICKETS_OUT, { "queues", "execution", "read", "out" } },
	{ SERVERSTATUS_READ_TICKETS_AVAILABLE, { "queues", "execution", "read", "available" } },
	{ SERVERSTATUS_WRITE_TICKETS_OUT, { "queues", "execution", "write", "out" } },
	{ SERVERSTATUS_WRITE_TICKETS_AVAILABLE, { "queues", "execution", "write", "available" } },
	/* 2.2 nests the index counters one level deeper. */
	{ SERVERSTATUS_INDEX_HITS, { "indexCounters", "btree", "hits" } },
};

#define SS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Any numeric BSON type as an exact int64. Doubles are rounded (the shell and some drivers turn
 * counters into doubles) but only when they fit: 2^63 is exactly representable, so the bounds
 * below are exact and a value beyond them stays absent rather than wrapping.
 */
static bool ss_iter_int64(const bson_iter_t *it, int64_t *out)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		*out = bson_iter_int32(it);
		return true;
	case BSON_TYPE_INT64:
		*out = bson_iter_int64(it);
		return true;
	case BSON_TYPE_DOUBLE: {
		double d = bson_iter_double(it);
		if (!isfinite(d))
			return false;
		d = round(d);
		if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			return false;
		*out = (int64_t)d;
		return true;
	}
	default:
		return false;
	}
}

/* Walks doc along keys (up to 4, NULL-terminated); true with *found on the value. */
static bool ss_find(const bson_t *doc, const char *const *keys, bson_iter_t *found)
{
	bson_iter_t it;
	if (!bson_iter_init(&it, doc))
		return false;
	for (size_t depth = 0; depth < 4 && keys[depth]; depth++) {
		bool hit = false;
		while (bson_iter_next(&it)) {
			if (strcmp(bson_iter_key(&it), keys[depth]) == 0) {
				hit = true;
				break;
			}
		}
		if (!hit)
			return false;
		if (depth + 1 == 4 || !keys[depth + 1]) {
			*found = it;
			return true;
		}
		bson_iter_t child;
		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &child))
			return false;
		it = child;
	}
	return false;
}

static void ss_copy_string(const bson_t *doc, const char *key, char *out, size_t len)
{
	const char *keys[4] = { key, NULL, NULL, NULL };
	bson_iter_t it;
	out[0] = '\0';
	if (ss_find(doc, keys, &it) && BSON_ITER_HOLDS_UTF8(&it))
		snprintf(out, len, "%s", bson_iter_utf8(&it, NULL));
}

int serverstatus_parse(const bson_t *reply, struct serverstatus_doc *out)
{
	memset(out, 0, sizeof(*out));
	out->sample_time = TS_NONE;
	out->local_time = TS_NONE;
	bson_iter_t it;
	if (!reply || !bson_iter_init(&it, reply))
		return -EINVAL;

	/* An error reply ({ok: 0, errmsg}) must not pass for a server with every section missing. */
	static const char *const ok_key[4] = { "ok", NULL, NULL, NULL };
	if (ss_find(reply, ok_key, &it)) {
		int64_t ok;
		if ((BSON_ITER_HOLDS_BOOL(&it) && !bson_iter_bool(&it)) ||
		    (ss_iter_int64(&it, &ok) && ok == 0))
			return -EINVAL;
	}

	for (size_t i = 0; i < SS_ARRAY_LEN(ss_paths); i++) {
		if (ss_find(reply, ss_paths[i].key, &it))
			out->present[ss_paths[i].field] = ss_iter_int64(&it, &out->v[ss_paths[i].field]);
	}
	for (size_t i = 0; i < SS_ARRAY_LEN(ss_fallback_paths); i++) {
		enum serverstatus_field f = ss_fallback_paths[i].field;
		if (!out->present[f] && ss_find(reply, ss_fallback_paths[i].key, &it))
			out->present[f] = ss_iter_int64(&it, &out->v[f]);
	}

	ss_copy_string(reply, "host", out->host, sizeof(out->host));
	ss_copy_string(reply, "version", out->version, sizeof(out->version));
	static const char *const lt_key[4] = { "localTime", NULL, NULL, NULL };
	if (ss_find(reply, lt_key, &it) && BSON_ITER_HOLDS_DATE_TIME(&it)) {
		int64_t ms = bson_iter_date_time(&it);
		/* Dates so far out that nanoseconds overflow are not a real clock: leave absent. */
		if (ms > INT64_MIN / TS_NS_PER_MS + 1 && ms < INT64_MAX / TS_NS_PER_MS)
			out->local_time = ms * TS_NS_PER_MS;
	}
	return 0;
}

bool serverstatus_get(const struct serverstatus_doc *doc, enum serverstatus_field f, int64_t *out)
{
	if ((unsigned)f >= SERVERSTATUS_FIELD_COUNT || !doc->present[f])
		return false;
	*out = doc->v[f];
	return true;
}

const char *const serverstatus_columns[SERVERSTATUS_NCOLUMNS] = {
	[SERVERSTATUS_COL_TIME] = "time",
	[SERVERSTATUS_COL_INTERVAL_S] = "interval_s",
	[SERVERSTATUS_COL_UPTIME_S] = "uptime_s",
	[SERVERSTATUS_COL_INSERT_PER_S] = "insert_per_s",
	[SERVERSTATUS_COL_QUERY_PER_S] = "query_per_s",
	[SERVERSTATUS_COL_UPDATE_PER_S] = "update_per_s",
	[SERVERSTATUS_COL_DELETE_PER_S] = "delete_per_s",
	[SERVERSTATUS_COL_GETMORE_PER_S] = "getmore_per_s",
	[SERVERSTATUS_COL_COMMAND_PER_S] = "command_per_s",
	[SERVERSTATUS_COL_NET_IN_BYTES_PER_S] = "net_in_bytes_per_s",
	[SERVERSTATUS_COL_NET_OUT_BYTES_PER_S] = "net_out_bytes_per_s",
	[SERVERSTATUS_COL_REQUESTS_PER_S] = "requests_per_s",
	[SERVERSTATUS_COL_PAGE_FAULTS_PER_S] = "page_faults_per_s",
	[SERVERSTATUS_COL_ASSERTS_PER_S] = "asserts_per_s",
	[SERVERSTATUS_COL_PAGES_EVICTED_PER_S] = "pages_evicted_per_s",
	[SERVERSTATUS_COL_APP_PAGES_EVICTED_PER_S] = "app_pages_evicted_per_s",
	[SERVERSTATUS_COL_CONNECTIONS_CURRENT] = "connections_current",
	[SERVERSTATUS_COL_CONNECTIONS_AVAILABLE] = "connections_available",
	[SERVERSTATUS_COL_QUEUE_READERS] = "queue_readers",
	[SERVERSTATUS_COL_QUEUE_WRITERS] = "queue_writers",
	[SERVERSTATUS_COL_ACTIVE_READERS] = "active_readers",
	[SERVERSTATUS_COL_ACTIVE_WRITERS] = "active_writers",
	[SERVERSTATUS_COL_READ_TICKETS_OUT] = "read_tickets_out",
	[SERVERSTATUS_COL_READ_TICKETS_AVAILABLE] = "read_tickets_available",
	[SERVERSTATUS_COL_WRITE_TICKETS_OUT] = "write_tickets_out",
	[SERVERSTATUS_COL_WRITE_TICKETS_AVAILABLE] = "write_tickets_available",
	[SERVERSTATUS_COL_CACHE_USED_PCT] = "cache_used_pct",
	[SERVERSTATUS_COL_CACHE_DIRTY_PCT] = "cache_dirty_pct",
	[SERVERSTATUS_COL_RESIDENT_MIB] = "resident_mib",
	[SERVERSTATUS_COL_READS_LATENCY_MS] = "reads_latency_ms",
	[SERVERSTATUS_COL_WRITES_LATENCY_MS] = "writes_latency_ms",
	[SERVERSTATUS_COL_COMMANDS_LATENCY_MS] = "commands_latency_ms",
	[SERVERSTATUS_COL_READS_OPS_PER_S] = "reads_ops_per_s",
	[SERVERSTATUS_COL_WRITES_OPS_PER_S] = "writes_ops_per_s",
	[SERVERSTATUS_COL_COMMANDS_OPS_PER_S] = "commands_ops_per_s",
	[SERVERSTATUS_COL_GLOBAL_LOCK_WAIT_MS_PER_S] = "global_lock_wait_ms_per_s",
	[SERVERSTATUS_COL_NOTE] = "note",
};

/* How a numeric column is printed. */
enum ss_kind { SS_KIND_NONE, SS_KIND_COUNT, SS_KIND_RATE, SS_KIND_PCT };

static const enum ss_kind ss_column_kind[SERVERSTATUS_NCOLUMNS] = {
	[SERVERSTATUS_COL_INTERVAL_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_UPTIME_S] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_INSERT_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_QUERY_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_UPDATE_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_DELETE_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_GETMORE_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_COMMAND_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_NET_IN_BYTES_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_NET_OUT_BYTES_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_REQUESTS_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_PAGE_FAULTS_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_ASSERTS_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_PAGES_EVICTED_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_APP_PAGES_EVICTED_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_CONNECTIONS_CURRENT] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_CONNECTIONS_AVAILABLE] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_QUEUE_READERS] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_QUEUE_WRITERS] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_ACTIVE_READERS] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_ACTIVE_WRITERS] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_READ_TICKETS_OUT] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_READ_TICKETS_AVAILABLE] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_WRITE_TICKETS_OUT] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_WRITE_TICKETS_AVAILABLE] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_CACHE_USED_PCT] = SS_KIND_PCT,
	[SERVERSTATUS_COL_CACHE_DIRTY_PCT] = SS_KIND_PCT,
	[SERVERSTATUS_COL_RESIDENT_MIB] = SS_KIND_COUNT,
	[SERVERSTATUS_COL_READS_LATENCY_MS] = SS_KIND_RATE,
	[SERVERSTATUS_COL_WRITES_LATENCY_MS] = SS_KIND_RATE,
	[SERVERSTATUS_COL_COMMANDS_LATENCY_MS] = SS_KIND_RATE,
	[SERVERSTATUS_COL_READS_OPS_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_WRITES_OPS_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_COMMANDS_OPS_PER_S] = SS_KIND_RATE,
	[SERVERSTATUS_COL_GLOBAL_LOCK_WAIT_MS_PER_S] = SS_KIND_RATE,
};

/* Cumulative counters: one of these going down means the server restarted (or rolled over). */
static const enum serverstatus_field ss_counters[] = {
	SERVERSTATUS_OP_INSERT, SERVERSTATUS_OP_QUERY, SERVERSTATUS_OP_UPDATE, SERVERSTATUS_OP_DELETE,
	SERVERSTATUS_OP_GETMORE, SERVERSTATUS_OP_COMMAND, SERVERSTATUS_NET_BYTES_IN,
	SERVERSTATUS_NET_BYTES_OUT, SERVERSTATUS_NET_REQUESTS, SERVERSTATUS_PAGE_FAULTS,
	SERVERSTATUS_ASSERTS_REGULAR, SERVERSTATUS_ASSERTS_WARNING, SERVERSTATUS_ASSERTS_MSG,
	SERVERSTATUS_ASSERTS_USER, SERVERSTATUS_ASSERTS_ROLLOVERS, SERVERSTATUS_WT_APP_EVICTED,
	SERVERSTATUS_WT_UNMODIFIED_EVICTED, SERVERSTATUS_WT_MODIFIED_EVICTED,
	SERVERSTATUS_LAT_READS_US, SERVERSTATUS_OPS_READS, SERVERSTATUS_LAT_WRITES_US,
	SERVERSTATUS_OPS_WRITES, SERVERSTATUS_LAT_COMMANDS_US, SERVERSTATUS_OPS_COMMANDS,
	SERVERSTATUS_GLOBAL_WAIT_US_R, SERVERSTATUS_GLOBAL_WAIT_US_W, SERVERSTATUS_GLOBAL_WAIT_US_RR,
	SERVERSTATUS_GLOBAL_WAIT_US_WW, SERVERSTATUS_GLOBAL_ACQ_R, SERVERSTATUS_GLOBAL_ACQ_W,
	SERVERSTATUS_GLOBAL_ACQ_RR, SERVERSTATUS_GLOBAL_ACQ_WW, SERVERSTATUS_INDEX_HITS,
	SERVERSTATUS_BG_FLUSH_TOTAL_MS,
};

/* cur - prev of a counter present in both; false if absent or not representable. */
static bool ss_diff(const struct serverstatus_doc *prev, const struct serverstatus_doc *cur,
		    enum serverstatus_field f, int64_t *out)
{
	if (!prev->present[f] || !cur->present[f])
		return false;
	return !__builtin_sub_overflow(cur->v[f], prev->v[f], out) && *out >= 0;
}

static void ss_set(struct serverstatus_row *row, enum serverstatus_column c, double v)
{
	row->val[c] = v;
	row->present[c] = true;
}

static void ss_gauge(struct serverstatus_row *row, enum serverstatus_column c,
		     const struct serverstatus_doc *cur, enum serverstatus_field f)
{
	if (cur->present[f])
		ss_set(row, c, (double)cur->v[f]);
}

static void ss_rate(struct serverstatus_row *row, enum serverstatus_column c,
		    const struct serverstatus_doc *prev, const struct serverstatus_doc *cur,
		    enum serverstatus_field f, double dt_s)
{
	int64_t d;
	if (ss_diff(prev, cur, f, &d))
		ss_set(row, c, (double)d / dt_s);
}

/* A sum of counter rates: all parts must be there, or the sum would silently undercount. */
static void ss_rate_sum(struct serverstatus_row *row, enum serverstatus_column c,
			const struct serverstatus_doc *prev, const struct serverstatus_doc *cur,
			const enum serverstatus_field *fs, size_t n, double dt_s)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t d;
		if (!ss_diff(prev, cur, fs[i], &d))
			return;
		sum += (double)d;
	}
	ss_set(row, c, sum / dt_s);
}

static void ss_latency(struct serverstatus_row *row, enum serverstatus_column lat_col,
		       enum serverstatus_column ops_col, const struct serverstatus_doc *prev,
		       const struct serverstatus_doc *cur, enum serverstatus_field lat,
		       enum serverstatus_field ops, double dt_s)
{
	int64_t dlat, dops;
	if (!ss_diff(prev, cur, ops, &dops))
		return;
	ss_set(row, ops_col, (double)dops / dt_s);
	/* No operation in the interval: the mean is unknown, not 0 ms. */
	if (dops > 0 && ss_diff(prev, cur, lat, &dlat))
		ss_set(row, lat_col, (double)dlat / (double)dops / 1000.0);
}

void serverstatus_row_empty(struct serverstatus_row *row, ts_ns time, const char *note)
{
	memset(row, 0, sizeof(*row));
	row->time = time;
	snprintf(row->note, sizeof(row->note), "%s", note ? note : "");
}

static void ss_percent(struct serverstatus_row *row, enum serverstatus_column c,
		       const struct serverstatus_doc *cur, enum serverstatus_field part)
{
	if (cur->present[part] && cur->present[SERVERSTATUS_WT_CACHE_MAX_BYTES] &&
	    cur->v[SERVERSTATUS_WT_CACHE_MAX_BYTES] > 0 && cur->v[part] >= 0)
		ss_set(row, c, 100.0 * (double)cur->v[part] /
				       (double)cur->v[SERVERSTATUS_WT_CACHE_MAX_BYTES]);
}

/* Why prev cannot serve as the base of rates, or NULL if it can. */
static const char *ss_baseline_reason(const struct serverstatus_doc *prev,
				      const struct serverstatus_doc *cur, double dt_s)
{
	if (!prev)
		return "baseline: first sample";
	if (!(dt_s > 0) || !isfinite(dt_s))
		return "baseline: no time elapsed since the previous sample";
	if (prev->host[0] && cur->host[0] && strcmp(prev->host, cur->host) != 0)
		return "baseline: another server answered (host changed)";
	if (prev->present[SERVERSTATUS_UPTIME_S] && cur->present[SERVERSTATUS_UPTIME_S] &&
	    cur->v[SERVERSTATUS_UPTIME_S] < prev->v[SERVERSTATUS_UPTIME_S])
		return "baseline: server restarted (uptime went down)";
	for (size_t i = 0; i < SS_ARRAY_LEN(ss_counters); i++) {
		enum serverstatus_field f = ss_counters[i];
		if (prev->present[f] && cur->present[f] && cur->v[f] < prev->v[f])
			return "baseline: a counter went backwards (restart or rollover)";
	}
	return NULL;
}

enum serverstatus_delta_result serverstatus_delta(const struct serverstatus_doc *prev,
						  const struct serverstatus_doc *cur, double dt_s,
						  struct serverstatus_row *row)
{
	serverstatus_row_empty(row, cur->sample_time, NULL);

	ss_gauge(row, SERVERSTATUS_COL_UPTIME_S, cur, SERVERSTATUS_UPTIME_S);
	ss_gauge(row, SERVERSTATUS_COL_CONNECTIONS_CURRENT, cur, SERVERSTATUS_CONN_CURRENT);
	ss_gauge(row, SERVERSTATUS_COL_CONNECTIONS_AVAILABLE, cur, SERVERSTATUS_CONN_AVAILABLE);
	ss_gauge(row, SERVERSTATUS_COL_QUEUE_READERS, cur, SERVERSTATUS_QUEUE_READERS);
	ss_gauge(row, SERVERSTATUS_COL_QUEUE_WRITERS, cur, SERVERSTATUS_QUEUE_WRITERS);
	ss_gauge(row, SERVERSTATUS_COL_ACTIVE_READERS, cur, SERVERSTATUS_ACTIVE_READERS);
	ss_gauge(row, SERVERSTATUS_COL_ACTIVE_WRITERS, cur, SERVERSTATUS_ACTIVE_WRITERS);
	ss_gauge(row, SERVERSTATUS_COL_READ_TICKETS_OUT, cur, SERVERSTATUS_READ_TICKETS_OUT);
	ss_gauge(row, SERVERSTATUS_COL_READ_TICKETS_AVAILABLE, cur, SERVERSTATUS_READ_TICKETS_AVAILABLE);
	ss_gauge(row, SERVERSTATUS_COL_WRITE_TICKETS_OUT, cur, SERVERSTATUS_WRITE_TICKETS_OUT);
	ss_gauge(row, SERVERSTATUS_COL_WRITE_TICKETS_AVAILABLE, cur, SERVERSTATUS_WRITE_TICKETS_AVAILABLE);
	ss_gauge(row, SERVERSTATUS_COL_RESIDENT_MIB, cur, SERVERSTATUS_RESIDENT_MIB);
	ss_percent(row, SERVERSTATUS_COL_CACHE_USED_PCT, cur, SERVERSTATUS_WT_CACHE_BYTES);
	ss_percent(row, SERVERSTATUS_COL_CACHE_DIRTY_PCT, cur, SERVERSTATUS_WT_CACHE_DIRTY_BYTES);

	const char *why = ss_baseline_reason(prev, cur, dt_s);
	if (why) {
		snprintf(row->note, sizeof(row->note), "%s", why);
		return SERVERSTATUS_DELTA_BASELINE;
	}

	row->val[SERVERSTATUS_COL_INTERVAL_S] = dt_s;
	row->present[SERVERSTATUS_COL_INTERVAL_S] = true;
	ss_rate(row, SERVERSTATUS_COL_INSERT_PER_S, prev, cur, SERVERSTATUS_OP_INSERT, dt_s);
	ss_rate(row, SERVERSTATUS_COL_QUERY_PER_S, prev, cur, SERVERSTATUS_OP_QUERY, dt_s);
	ss_rate(row, SERVERSTATUS_COL_UPDATE_PER_S, prev, cur, SERVERSTATUS_OP_UPDATE, dt_s);
	ss_rate(row, SERVERSTATUS_COL_DELETE_PER_S, prev, cur, SERVERSTATUS_OP_DELETE, dt_s);
	ss_rate(row, SERVERSTATUS_COL_GETMORE_PER_S, prev, cur, SERVERSTATUS_OP_GETMORE, dt_s);
	ss_rate(row, SERVERSTATUS_COL_COMMAND_PER_S, prev, cur, SERVERSTATUS_OP_COMMAND, dt_s);
	ss_rate(row, SERVERSTATUS_COL_NET_IN_BYTES_PER_S, prev, cur, SERVERSTATUS_NET_BYTES_IN, dt_s);
	ss_rate(row, SERVERSTATUS_COL_NET_OUT_BYTES_PER_S, prev, cur, SERVERSTATUS_NET_BYTES_OUT, dt_s);
	ss_rate(row, SERVERSTATUS_COL_REQUESTS_PER_S, prev, cur, SERVERSTATUS_NET_REQUESTS, dt_s);
	ss_rate(row, SERVERSTATUS_COL_PAGE_FAULTS_PER_S, prev, cur, SERVERSTATUS_PAGE_FAULTS, dt_s);
	ss_rate(row, SERVERSTATUS_COL_APP_PAGES_EVICTED_PER_S, prev, cur, SERVERSTATUS_WT_APP_EVICTED, dt_s);

	/* rollovers is not an assert but the count of times the others wrapped: left out. */
	static const enum serverstatus_field asserts[] = {
		SERVERSTATUS_ASSERTS_REGULAR, SERVERSTATUS_ASSERTS_WARNING, SERVERSTATUS_ASSERTS_MSG,
		SERVERSTATUS_ASSERTS_USER,
	};
	ss_rate_sum(row, SERVERSTATUS_COL_ASSERTS_PER_S, prev, cur, asserts, SS_ARRAY_LEN(asserts), dt_s);
	static const enum serverstatus_field evicted[] = {
		SERVERSTATUS_WT_UNMODIFIED_EVICTED, SERVERSTATUS_WT_MODIFIED_EVICTED,
	};
	ss_rate_sum(row, SERVERSTATUS_COL_PAGES_EVICTED_PER_S, prev, cur, evicted, SS_ARRAY_LEN(evicted), dt_s);

	ss_latency(row, SERVERSTATUS_COL_READS_LATENCY_MS, SERVERSTATUS_COL_READS_OPS_PER_S, prev, cur,
		   SERVERSTATUS_LAT_READS_US, SERVERSTATUS_OPS_READS, dt_s);
	ss_latency(row, SERVERSTATUS_COL_WRITES_LATENCY_MS, SERVERSTATUS_COL_WRITES_OPS_PER_S, prev, cur,
		   SERVERSTATUS_LAT_WRITES_US, SERVERSTATUS_OPS_WRITES, dt_s);
	ss_latency(row, SERVERSTATUS_COL_COMMANDS_LATENCY_MS, SERVERSTATUS_COL_COMMANDS_OPS_PER_S, prev,
		   cur, SERVERSTATUS_LAT_COMMANDS_US, SERVERSTATUS_OPS_COMMANDS, dt_s);

	/*
	 * The server only lists a lock mode under timeAcquiringMicros once somebody waited in it,
	 * so a mode missing from prev but present in cur waited cur microseconds in between. That
	 * only holds when locks.Global itself was reported both times (acquireCount.r is always).
	 */
	if (prev->present[SERVERSTATUS_GLOBAL_ACQ_R] && cur->present[SERVERSTATUS_GLOBAL_ACQ_R]) {
		static const enum serverstatus_field waits[] = {
			SERVERSTATUS_GLOBAL_WAIT_US_R, SERVERSTATUS_GLOBAL_WAIT_US_W,
			SERVERSTATUS_GLOBAL_WAIT_US_RR, SERVERSTATUS_GLOBAL_WAIT_US_WW,
		};
		double us = 0;
		bool ok = true;
		for (size_t i = 0; i < SS_ARRAY_LEN(waits) && ok; i++) {
			enum serverstatus_field f = waits[i];
			int64_t d;
			if (cur->present[f] && !prev->present[f])
				us += (double)cur->v[f];
			else if (prev->present[f] && !cur->present[f])
				ok = false;
			else if (cur->present[f] && ss_diff(prev, cur, f, &d))
				us += (double)d;
		}
		if (ok)
			ss_set(row, SERVERSTATUS_COL_GLOBAL_LOCK_WAIT_MS_PER_S, us / 1000.0 / dt_s);
	}
	return SERVERSTATUS_DELTA_RATES;
}

void serverstatus_row_format(const struct serverstatus_row *row, struct serverstatus_cells *cells)
{
	for (size_t c = 0; c < SERVERSTATUS_NCOLUMNS; c++) {
		char *b = cells->buf[c];
		b[0] = '\0';
		cells->ptr[c] = b;
		if (c == SERVERSTATUS_COL_TIME) {
			timestamp_format(row->time, b, SERVERSTATUS_CELL_MAX);
			continue;
		}
		if (c == SERVERSTATUS_COL_NOTE) {
			cells->ptr[c] = row->note;
			continue;
		}
		if (!row->present[c] || !isfinite(row->val[c]))
			continue;
		switch (ss_column_kind[c]) {
		case SS_KIND_COUNT:
			snprintf(b, SERVERSTATUS_CELL_MAX, "%.0f", row->val[c]);
			break;
		case SS_KIND_RATE:
			snprintf(b, SERVERSTATUS_CELL_MAX, "%.3f", row->val[c]);
			break;
		case SS_KIND_PCT:
			snprintf(b, SERVERSTATUS_CELL_MAX, "%.1f", row->val[c]);
			break;
		case SS_KIND_NONE:
			break;
		}
	}
}

/* Output that stops at the end of the buffer but remembers that it had to. */
struct ss_out {
	char *buf;
	size_t len, used;
	bool truncated;
};

static void ss_put(struct ss_out *o, const char *s, size_t n)
{
	if (o->len == 0) {
		o->truncated = true;
		return;
	}
	size_t room = o->len - 1 - o->used;
	if (n > room) {
		n = room;
		o->truncated = true;
	}
	memcpy(o->buf + o->used, s, n);
	o->used += n;
	o->buf[o->used] = '\0';
}

static void ss_puts(struct ss_out *o, const char *s) { ss_put(o, s, strlen(s)); }

/* URI options whose values are secrets (matched case-insensitively, as the driver does). */
static bool ss_secret_option(const char *key, size_t n)
{
	static const char *const secret[] = {
		"authMechanismProperties", "tlsCertificateKeyFilePassword", "sslPEMKeyPassword",
		"sslClientCertificateKeyPassword", "password",
	};
	for (size_t i = 0; i < SS_ARRAY_LEN(secret); i++) {
		if (strlen(secret[i]) == n && strncasecmp(key, secret[i], n) == 0)
			return true;
	}
	return false;
}

int serverstatus_redact_uri(const char *uri, char *out, size_t len)
{
	struct ss_out o = { out, len, 0, false };
	if (len)
		out[0] = '\0';
	const char *sep = uri ? strstr(uri, "://") : NULL;
	if (!sep) {
		ss_puts(&o, "***");
		return o.truncated ? -ENOSPC : 0;
	}
	const char *rest = sep + 3;
	ss_put(&o, uri, (size_t)(rest - uri));

	/*
	 * The userinfo ends at the last '@' of the string. Passwords ought to be percent-encoded
	 * but often are not, and then '@', ':', '/' and '?' may all appear in them, so nothing
	 * before the last '@' can be trusted to end the userinfo. An '@' inside an option value
	 * makes this over-redact, which is the safe way to be wrong.
	 */
	const char *at = strrchr(rest, '@');
	const char *hosts = rest;
	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));
		if (colon) {
			ss_put(&o, rest, (size_t)(colon - rest));
			ss_puts(&o, ":***");
		} else {
			ss_put(&o, rest, (size_t)(at - rest));
		}
		ss_puts(&o, "@");
		hosts = at + 1;
	}

	const char *opts = strchr(hosts, '?');
	if (!opts) {
		ss_puts(&o, hosts);
		return o.truncated ? -ENOSPC : 0;
	}
	ss_put(&o, hosts, (size_t)(opts - hosts) + 1);
	const char *p = opts + 1;
	while (*p) {
		size_t n = strcspn(p, "&;");
		const char *eq = memchr(p, '=', n);
		if (eq && ss_secret_option(p, (size_t)(eq - p))) {
			ss_put(&o, p, (size_t)(eq - p) + 1);
			ss_puts(&o, "***");
		} else {
			ss_put(&o, p, n);
		}
		p += n;
		if (*p) {
			ss_put(&o, p, 1);
			p++;
		}
	}
	return o.truncated ? -ENOSPC : 0;
}
