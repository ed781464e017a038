/* samples.c - samples.csv: traffic, capture health and collector columns per interval. */
#include "samples.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "csv.h"
#include "log.h"
#include "stats.h"

static const char *const traffic_columns[] = {
	"time", "interval_s", "capture_packets", "capture_kernel_drops", "capture_iface_drops",
	"http_rps", "http_p50_ms", "http_p95_ms", "http_errors", "http_in_flight",
	"mongo_ops_per_s", "mongo_p50_ms", "mongo_p95_ms", "mongo_mean_ms",
	"mongo_client_minus_server_ms", "db_share_pct",
};
#define N_TRAFFIC (sizeof(traffic_columns) / sizeof(traffic_columns[0]))

const char *const sample_input_names[SI_COUNT] = {
	"cpu_idle_pct", "cpu_iowait_pct", "cpu_steal_pct", "cpu_busiest_core_pct", "load1",
	"procs_running", "swap_in_kib_per_s", "swap_out_kib_per_s", "mem_available_mib",
	"disk_util_max_pct", "web_pids", "web_cpu_pct", "web_threads", "mongod_cpu_pct",
	"self_cpu_pct", "self_rss_mib", "mongo_server_latency_ms", "mongo_queue",
	"mongo_tickets_available", "mongo_connections", "mongo_connections_used_pct",
	"mongo_cache_used_pct", "mongo_cache_dirty_pct",
};

struct pending_row {
	ts_ns start, end;
	int closed;
	struct dist http;	/* latency ns of HTTP transactions ending here */
	struct dist mongo;
	uint64_t http_errors;
	double latency_sum_attr, db_ns;	/* for the DB share */
	uint64_t packets, kdrops, idrops;	/* deltas */
	collector_cell *extra;		/* n_extra cells, owned */
};

struct samples {
	struct csv_writer *w;
	char *path;
	size_t n_extra;
	long input_col[SI_COUNT];	/* extra column of each verdict input, or -1 */
	ts_ns start;
	struct pending_row *rows;	/* ordered by time; rows[0] is the oldest unwritten */
	size_t nrows, cap;
	uint64_t last_packets, last_kdrops, last_idrops;
	struct interval_stats *stats;
	size_t nstats, stats_cap;
	int err;
};

struct samples *samples_new(const char *dir, ts_ns start, const char *const *extra,
			    size_t n_extra)
{
	struct samples *s = calloc(1, sizeof(*s));
	const char **cols = calloc(N_TRAFFIC + n_extra, sizeof(*cols));
	char path[4096];
	snprintf(path, sizeof(path), "%s/samples.csv", dir);
	if (!s || !cols) {
		free(s);
		free(cols);
		log_error("samples: out of memory");
		return NULL;
	}
	memcpy(cols, traffic_columns, sizeof(traffic_columns));
	for (size_t i = 0; i < n_extra; i++)
		cols[N_TRAFFIC + i] = extra[i];
	s->w = csv_writer_new(path, cols, N_TRAFFIC + n_extra);
	free(cols);
	if (!s->w) {
		log_error("output: cannot create '%s': %s", path, strerror(errno));
		free(s);
		return NULL;
	}
	s->path = strdup(path);
	s->n_extra = n_extra;
	s->start = start;
	/* Found by name, so the collectors stay independent of this table. */
	for (int k = 0; k < SI_COUNT; k++) {
		s->input_col[k] = -1;
		for (size_t i = 0; i < n_extra; i++)
			if (strcmp(extra[i], sample_input_names[k]) == 0)
				s->input_col[k] = (long)i;
	}
	return s;
}

/* The open (not yet closed) row, created on demand. */
static struct pending_row *open_row(struct samples *s)
{
	if (s->nrows && !s->rows[s->nrows - 1].closed)
		return &s->rows[s->nrows - 1];
	if (s->nrows == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct pending_row *n = realloc(s->rows, ncap * sizeof(*n));
		if (!n)
			return NULL;
		s->rows = n;
		s->cap = ncap;
	}
	struct pending_row *r = &s->rows[s->nrows++];
	memset(r, 0, sizeof(*r));
	r->start = s->nrows > 1 ? s->rows[s->nrows - 2].end : s->start;
	return r;
}

/* The row whose interval holds time t: closed rows by their bounds, else the open one. */
static struct pending_row *row_for(struct samples *s, ts_ns t)
{
	for (size_t i = 0; i < s->nrows; i++) {
		struct pending_row *r = &s->rows[i];
		if (r->closed && t < r->end)
			return r;
		if (!r->closed)
			return r;
	}
	return open_row(s);
}

void samples_http(struct samples *s, const struct joined_http *h)
{
	const struct txn_times *t = &h->t->t;
	if (t->resp_last == TS_NONE && t->req_last == TS_NONE)
		return;
	ts_ns end = t->resp_last != TS_NONE ? t->resp_last : t->req_last;
	struct pending_row *r = row_for(s, end);
	if (!r)
		return;
	if (http_txn_is_error(h->t))
		r->http_errors++;
	if (t->req_first == TS_NONE || t->resp_last == TS_NONE) {
		r->http.count++;	/* counted for the rate; no latency */
		return;
	}
	double lat = (double)(t->resp_last - t->req_first);
	dist_add(&r->http, lat);
	if (h->db_ns >= 0) {
		r->latency_sum_attr += lat;
		r->db_ns += h->db_ns;
	}
}

void samples_mongo(struct samples *s, const struct joined_mongo *m)
{
	const struct txn_times *t = &m->t->t;
	if (t->req_first == TS_NONE || t->resp_last == TS_NONE || (m->t->notes & TXN_NOTE_MONITOR))
		return;
	struct pending_row *r = row_for(s, t->resp_last);
	if (r)
		dist_add(&r->mongo, (double)(t->resp_last - t->req_first));
}

void samples_close_interval(struct samples *s, ts_ns now, const collector_cell *extra,
			    uint64_t packets, uint64_t kdrops, uint64_t idrops)
{
	struct pending_row *r = open_row(s);
	if (!r)
		return;
	r->end = now;
	r->closed = 1;
	r->packets = packets - s->last_packets;
	r->kdrops = kdrops - s->last_kdrops;
	r->idrops = idrops - s->last_idrops;
	s->last_packets = packets;
	s->last_kdrops = kdrops;
	s->last_idrops = idrops;
	r->extra = calloc(s->n_extra ? s->n_extra : 1, sizeof(collector_cell));
	if (r->extra && extra)
		memcpy(r->extra, extra, s->n_extra * sizeof(collector_cell));
}

static double cell_value(const char *c)
{
	char *end;
	if (!c || !c[0])
		return NAN;
	double v = strtod(c, &end);
	return end == c ? NAN : v;
}

/* The verdict's traffic figures, parsed back from the row's text (see samples.h). */
static void traffic_stats_from_cells(const collector_cell *c, struct interval_stats *st)
{
	timestamp_parse(c[0], &st->end);
	st->http_rps = cell_value(c[5]);
	st->http_p50_ms = cell_value(c[6]);
	st->http_p95_ms = cell_value(c[7]);
	st->http_errors = (uint64_t)strtoull(c[8], NULL, 10);
	st->in_flight = cell_value(c[9]);
	st->mongo_mean_ms = cell_value(c[13]);
	st->db_share_pct = cell_value(c[15]);
	st->drops = (uint64_t)strtoull(c[3], NULL, 10) + (uint64_t)strtoull(c[4], NULL, 10);
	st->http_count = (uint64_t)llround(st->http_rps * cell_value(c[1]));
	st->mongo_server_ms = st->in[SI_MONGO_SERVER_LATENCY];
}

static void fmt(char *buf, size_t len, int decimals, double v)
{
	if (isfinite(v))
		snprintf(buf, len, "%.*f", decimals, v);
	else
		buf[0] = '\0';
}

static int write_row(struct samples *s, struct pending_row *r)
{
	collector_cell c[N_TRAFFIC];
	const char *cells[N_TRAFFIC + 256];
	double secs = (double)(r->end - r->start) / 1e9;
	struct interval_stats st = { .end = r->end, .db_share_pct = NAN };

	if (secs <= 0)
		secs = NAN;
	st.http_count = r->http.count;
	st.http_errors = r->http_errors;
	st.http_rps = (double)r->http.count / secs;
	st.http_p50_ms = r->http.n || r->http.hist ? dist_quantile(&r->http, .5) / 1e6 : NAN;
	st.http_p95_ms = r->http.n || r->http.hist ? dist_quantile(&r->http, .95) / 1e6 : NAN;
	st.in_flight = r->http.sum / 1e9 / secs;
	if (r->latency_sum_attr > 0)
		st.db_share_pct = 100.0 * r->db_ns / r->latency_sum_attr;
	st.drops = r->kdrops + r->idrops;

	timestamp_format(r->end, c[0], sizeof(c[0]));
	fmt(c[1], sizeof(c[1]), 3, secs);
	snprintf(c[2], sizeof(c[2]), "%" PRIu64, r->packets);
	snprintf(c[3], sizeof(c[3]), "%" PRIu64, r->kdrops);
	snprintf(c[4], sizeof(c[4]), "%" PRIu64, r->idrops);
	fmt(c[5], sizeof(c[5]), 2, st.http_rps);
	fmt(c[6], sizeof(c[6]), 3, st.http_p50_ms);
	fmt(c[7], sizeof(c[7]), 3, st.http_p95_ms);
	snprintf(c[8], sizeof(c[8]), "%" PRIu64, r->http_errors);
	fmt(c[9], sizeof(c[9]), 2, st.in_flight);
	fmt(c[10], sizeof(c[10]), 2, (double)r->mongo.count / secs);
	fmt(c[11], sizeof(c[11]), 3, r->mongo.count ? dist_quantile(&r->mongo, .5) / 1e6 : NAN);
	fmt(c[12], sizeof(c[12]), 3, r->mongo.count ? dist_quantile(&r->mongo, .95) / 1e6 : NAN);
	for (int k = 0; k < SI_COUNT; k++)
		st.in[k] = s->input_col[k] >= 0 && r->extra ? cell_value(r->extra[s->input_col[k]]) : NAN;
	double mongo_mean = r->mongo.count ? dist_mean(&r->mongo) / 1e6 : NAN;
	fmt(c[13], sizeof(c[13]), 3, mongo_mean);
	fmt(c[14], sizeof(c[14]), 3, mongo_mean - st.in[SI_MONGO_SERVER_LATENCY]);
	fmt(c[15], sizeof(c[15]), 1, st.db_share_pct);
	traffic_stats_from_cells(c, &st);
	for (size_t i = 0; i < N_TRAFFIC; i++)
		cells[i] = c[i];
	for (size_t i = 0; i < s->n_extra && i < 256; i++)
		cells[N_TRAFFIC + i] = r->extra ? r->extra[i] : "";

	if (s->nstats == s->stats_cap) {
		size_t ncap = s->stats_cap ? s->stats_cap * 2 : 64;
		struct interval_stats *n = realloc(s->stats, ncap * sizeof(*n));
		if (n) {
			s->stats = n;
			s->stats_cap = ncap;
		}
	}
	if (s->nstats < s->stats_cap)
		s->stats[s->nstats++] = st;

	int rc = csv_writer_row(s->w, cells, N_TRAFFIC + (s->n_extra < 256 ? s->n_extra : 256));
	if (rc == 0)
		rc = csv_writer_flush(s->w);
	return rc;
}

static void drop_first(struct samples *s)
{
	struct pending_row *r = &s->rows[0];
	dist_release(&r->http);
	dist_release(&r->mongo);
	free(r->extra);
	memmove(s->rows, s->rows + 1, (s->nrows - 1) * sizeof(*s->rows));
	s->nrows--;
}

int samples_write_until(struct samples *s, ts_ns horizon)
{
	while (!s->err && s->nrows && s->rows[0].closed && s->rows[0].end <= horizon) {
		int rc = write_row(s, &s->rows[0]);
		if (rc) {
			s->err = rc;
			log_error("output: cannot write '%s': %s", s->path, strerror(-rc));
		}
		drop_first(s);
	}
	return s->err;
}

const struct interval_stats *samples_stats(const struct samples *s, size_t *n)
{
	*n = s->nstats;
	return s->stats;
}

int samples_finish(struct samples *s)
{
	samples_write_until(s, INT64_MAX);
	int rc = csv_writer_free(s->w);
	s->w = NULL;
	if (rc && !s->err) {
		s->err = rc;
		log_error("output: cannot write '%s': %s", s->path, strerror(-rc));
	}
	return s->err;
}

int samples_reopen(struct samples *s)
{
	return s->w ? csv_writer_reopen(s->w) : 0;
}

void samples_free(struct samples *s)
{
	if (!s)
		return;
	while (s->nrows)
		drop_first(s);
	csv_writer_free(s->w);
	free(s->rows);
	free(s->stats);
	free(s->path);
	free(s);
}

void samples_mongo_latency(const struct interval_stats *s, size_t n, double *client_ms,
			   double *server_ms)
{
	double client = 0, server = 0;
	size_t both = 0;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(s[i].mongo_mean_ms) && isfinite(s[i].mongo_server_ms)) {
			client += s[i].mongo_mean_ms;
			server += s[i].mongo_server_ms;
			both++;
		}
	}
	*client_ms = both ? client / (double)both : NAN;
	*server_ms = both ? server / (double)both : NAN;
}

int samples_read(const char *path, struct interval_stats **out, size_t *n)
{
	struct csv_reader *r = csv_reader_open(path);
	char **cells;
	int nc;
	long col_traffic[N_TRAFFIC], col_in[SI_COUNT];
	struct interval_stats *arr = NULL;
	size_t len = 0, cap = 0;

	if (!r)
		return -errno;
	nc = csv_reader_next(r, &cells);
	if (nc <= 0) {
		csv_reader_free(r);
		return -EINVAL;
	}
	for (size_t k = 0; k < N_TRAFFIC; k++) {
		col_traffic[k] = -1;
		for (int i = 0; i < nc; i++)
			if (strcmp(cells[i], traffic_columns[k]) == 0)
				col_traffic[k] = i;
	}
	for (int k = 0; k < SI_COUNT; k++) {
		col_in[k] = -1;
		for (int i = 0; i < nc; i++)
			if (strcmp(cells[i], sample_input_names[k]) == 0)
				col_in[k] = i;
	}
	while ((nc = csv_reader_next(r, &cells)) > 0) {
		collector_cell c[N_TRAFFIC];
		struct interval_stats st;
		memset(&st, 0, sizeof(st));
		for (size_t k = 0; k < N_TRAFFIC; k++)
			snprintf(c[k], sizeof(c[k]), "%s", col_traffic[k] >= 0 && col_traffic[k] < nc
				 ? cells[col_traffic[k]] : "");
		for (int k = 0; k < SI_COUNT; k++)
			st.in[k] = col_in[k] >= 0 && col_in[k] < nc ? cell_value(cells[col_in[k]]) : NAN;
		traffic_stats_from_cells(c, &st);
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct interval_stats *g = realloc(arr, ncap * sizeof(*g));
			if (!g) {
				free(arr);
				csv_reader_free(r);
				return -ENOMEM;
			}
			arr = g;
			cap = ncap;
		}
		arr[len++] = st;
	}
	csv_reader_free(r);
	*out = arr;
	*n = len;
	return nc < 0 ? -EINVAL : 0;
}
