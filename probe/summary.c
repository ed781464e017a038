/* summary.c - the end-of-run tables and the human / machine summaries. */
#include "summary.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "json.h"
#include "log.h"
#include "samples.h"
#include "verdict.h"

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

char *fmt_sig(double v, int sig, char *buf, size_t len)
{
	if (!isfinite(v)) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	if (v == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	int mag = (int)floor(log10(fabs(v)));	/* 1234 -> 3, 0.012 -> -2 */
	int decimals = sig - 1 - mag;
	if (decimals > 0) {
		snprintf(buf, len, "%.*f", decimals, v);
	} else {
		double scale = pow(10, -decimals);
		snprintf(buf, len, "%.0f", round(v / scale) * scale);
	}
	return buf;
}

/* Quantile in ms with three decimals; "" when empty. */
static const char *q_ms(struct dist *d, double q, char *buf, size_t len)
{
	buf[0] = '\0';
	if (d->count)
		snprintf(buf, len, "%.3f", dist_quantile(d, q) / 1e6);
	return buf;
}

static const char *max_ms(const struct dist *d, char *buf, size_t len)
{
	buf[0] = '\0';
	if (d->count)
		snprintf(buf, len, "%.3f", d->max / 1e6);
	return buf;
}

static int close_csv(struct csv_writer *w, const char *dir, const char *name)
{
	int rc = csv_writer_free(w);
	if (rc)
		log_error("output: cannot write '%s/%s': %s", dir, name, strerror(-rc));
	return rc;
}

static int write_routes(const char *dir, struct aggregate *a)
{
	static const char *const cols[] = {
		"method", "route", "count", "errors", "client_errors", "latency_p50_ms",
		"latency_p95_ms", "latency_p99_ms", "latency_max_ms", "latency_mean_ms",
		"server_p50_ms", "db_share_pct", "db_ops_per_req",
	};
	struct csv_writer *w = csv_writer_create_in(dir, "routes.csv", cols, NCOLS(cols));
	if (!w)
		return -errno;
	for (size_t i = 0; i < a->nroutes; i++) {
		struct route_stats *r = &a->routes[i];
		char count[24], err[24], cerr[24], p50[32], p95[32], p99[32], mx[32], mean[32],
			s50[32], share[16] = "", ops[16] = "";
		snprintf(count, sizeof(count), "%" PRIu64, r->count);
		snprintf(err, sizeof(err), "%" PRIu64, r->errors);
		snprintf(cerr, sizeof(cerr), "%" PRIu64, r->client_errors);
		mean[0] = '\0';
		if (r->latency.count)
			snprintf(mean, sizeof(mean), "%.3f", dist_mean(&r->latency) / 1e6);
		if (r->attributed && r->latency_sum_ns > 0) {
			snprintf(share, sizeof(share), "%.1f", 100.0 * r->db_ns / r->latency_sum_ns);
			snprintf(ops, sizeof(ops), "%.2f", (double)r->db_ops / (double)r->attributed);
		}
		const char *cells[] = {
			r->method, r->route, count, err, cerr,
			q_ms(&r->latency, 0.50, p50, sizeof(p50)),
			q_ms(&r->latency, 0.95, p95, sizeof(p95)),
			q_ms(&r->latency, 0.99, p99, sizeof(p99)),
			max_ms(&r->latency, mx, sizeof(mx)), mean,
			q_ms(&r->server, 0.50, s50, sizeof(s50)), share, ops,
		};
		csv_writer_row(w, cells, NCOLS(cells));
	}
	return close_csv(w, dir, "routes.csv");
}

static int write_shapes(const char *dir, struct aggregate *a)
{
	static const char *const cols[] = {
		"shape_id", "db", "collection", "command", "shape", "count", "errors",
		"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms", "total_ms",
		"db_time_share_pct",
	};
	struct csv_writer *w = csv_writer_create_in(dir, "shapes.csv", cols, NCOLS(cols));
	if (!w)
		return -errno;
	double total = a->mongo_latency.sum;
	for (size_t i = 0; i < a->nshapes; i++) {
		struct shape_stats *s = &a->shapes[i];
		char id[24] = "", count[24], err[24], p50[32], p95[32], p99[32], mx[32], tot[32],
			share[16] = "";
		if (s->shape_id)
			snprintf(id, sizeof(id), "%016" PRIx64, s->shape_id);
		snprintf(count, sizeof(count), "%" PRIu64, s->count);
		snprintf(err, sizeof(err), "%" PRIu64, s->errors);
		snprintf(tot, sizeof(tot), "%.3f", s->latency.sum / 1e6);
		if (total > 0)
			snprintf(share, sizeof(share), "%.1f", 100.0 * s->latency.sum / total);
		const char *cells[] = {
			id, s->db, s->collection, s->command, s->shape, count, err,
			q_ms(&s->latency, 0.50, p50, sizeof(p50)),
			q_ms(&s->latency, 0.95, p95, sizeof(p95)),
			q_ms(&s->latency, 0.99, p99, sizeof(p99)),
			max_ms(&s->latency, mx, sizeof(mx)), tot, share,
		};
		csv_writer_row(w, cells, NCOLS(cells));
	}
	return close_csv(w, dir, "shapes.csv");
}

int summary_write_tables(const char *dir, struct aggregate *a)
{
	int rc = write_routes(dir, a);
	int rc2 = write_shapes(dir, a);
	return rc ? rc : rc2;
}

/* "12 ms" style: a duration (ns) with two significant figures and its unit. */
static const char *sig_ms(double ns, char *buf, size_t len)
{
	char n[24];
	fmt_sig(ns / 1e6, 2, n, sizeof(n));
	snprintf(buf, len, "%s ms", n[0] ? n : "-");
	return buf;
}

static void text_dist_line(FILE *f, const char *what, uint64_t count, uint64_t errors,
			   struct dist *d)
{
	char p50[40], p95[40], p99[40], mx[40], mean[40];
	fprintf(f, "%s: %" PRIu64 " transactions, %" PRIu64 " errors", what, count, errors);
	if (d->count)
		fprintf(f, "; latency p50 %s, p95 %s, p99 %s, max %s, mean %s",
			sig_ms(dist_quantile(d, 0.5), p50, sizeof(p50)),
			sig_ms(dist_quantile(d, 0.95), p95, sizeof(p95)),
			sig_ms(dist_quantile(d, 0.99), p99, sizeof(p99)),
			sig_ms(d->max, mx, sizeof(mx)), sig_ms(dist_mean(d), mean, sizeof(mean)));
	fputc('\n', f);
}

static uint64_t quality_get(const struct quality *q, size_t i)
{
	uint64_t v;
	memcpy(&v, (const char *)q + quality_fields[i].offset, sizeof(v));
	return v;
}

/* What serverStatus said over the run, from the intervals that had a sample. */
struct db_view {
	size_t polled;			/* intervals with a serverStatus sample */
	double queue_share;		/* of polled intervals: currentQueue > 0 */
	double tickets_out_share;	/* of polled intervals: no ticket available */
	double cache_used_max, cache_dirty_max, conn_used_max;
	double client_ms, server_ms;	/* means over intervals that have both */
};

static void fmax_into(double *m, double v)
{
	if (isfinite(v) && (!isfinite(*m) || v > *m))
		*m = v;
}

static void database_view(const struct run_info *info, struct db_view *d)
{
	size_t queued = 0, starved = 0;
	memset(d, 0, sizeof(*d));
	d->cache_used_max = d->cache_dirty_max = d->conn_used_max = NAN;
	for (size_t i = 0; i < info->nintervals; i++) {
		const struct interval_stats *s = &info->intervals[i];
		if (!isfinite(s->in[SI_MONGO_CONNECTIONS]))
			continue;
		d->polled++;
		if (s->in[SI_MONGO_QUEUE] > 0)
			queued++;
		if (s->in[SI_MONGO_TICKETS] == 0)
			starved++;
		fmax_into(&d->cache_used_max, s->in[SI_MONGO_CACHE_USED]);
		fmax_into(&d->cache_dirty_max, s->in[SI_MONGO_CACHE_DIRTY]);
		fmax_into(&d->conn_used_max, s->in[SI_MONGO_CONN_USED]);
	}
	d->queue_share = d->polled ? (double)queued / (double)d->polled : NAN;
	d->tickets_out_share = d->polled ? (double)starved / (double)d->polled : NAN;
	samples_mongo_latency(info->intervals, info->nintervals, &d->client_ms, &d->server_ms);
}

static void text_database(FILE *f, const struct run_info *info)
{
	struct db_view d;
	char a[32], b[32], c[32];
	database_view(info, &d);
	if (!d.polled)
		return;
	fprintf(f, "MongoDB says (serverStatus, %zu intervals): queued in %s%% of intervals, tickets "
		   "exhausted in %s%%; cache up to %s%% used, %s%% dirty; connections up to %s%% of the limit\n",
		d.polled, fmt_sig(100 * d.queue_share, 2, a, sizeof(a)),
		fmt_sig(100 * d.tickets_out_share, 2, b, sizeof(b)),
		isfinite(d.cache_used_max) ? fmt_sig(d.cache_used_max, 2, c, sizeof(c)) : "?",
		isfinite(d.cache_dirty_max) ? fmt_sig(d.cache_dirty_max, 2, a, sizeof(a)) : "?",
		isfinite(d.conn_used_max) ? fmt_sig(d.conn_used_max, 2, b, sizeof(b)) : "?");
	if (isfinite(d.client_ms))
		fprintf(f, "MongoDB latency: %s ms on the wire, %s ms inside the server, %s ms in between "
			   "(network, driver, connection pool)\n", fmt_sig(d.client_ms, 2, a, sizeof(a)),
			fmt_sig(d.server_ms, 2, b, sizeof(b)), fmt_sig(d.client_ms - d.server_ms, 2, c, sizeof(c)));
}

static void write_text(FILE *f, struct aggregate *a, const struct quality *q,
		       const struct run_info *info, const struct verdict *v)
{
	char t0[TIMESTAMP_STRLEN], t1[TIMESTAMP_STRLEN], buf[64];

	fprintf(f, "tierprobe %s:", info->mode);
	for (int i = 0; i < info->ninputs; i++)
		fprintf(f, " %s", info->inputs[i]);
	fputc('\n', f);
	if (a->first_ts != TS_NONE)
		fprintf(f, "traffic from %s to %s (%s s)\n",
			timestamp_format(a->first_ts, t0, sizeof(t0)),
			timestamp_format(a->last_ts, t1, sizeof(t1)),
			fmt_sig((double)(a->last_ts - a->first_ts) / 1e9, 2, buf, sizeof(buf)));
	if (info->input_error)
		fprintf(f, "input ended early: %s\n", info->input_error);
	fputc('\n', f);

	fprintf(f, "VERDICT: %s (confidence %s)\n", v->primary, v->confidence);
	for (size_t i = 0; i < v->nsecondary; i++)
		fprintf(f, "  also: %s\n", v->secondary[i]);
	for (size_t i = 0; i < v->nevidence; i++)
		fprintf(f, "  - %s\n", v->evidence[i]);
	fputc('\n', f);

	text_dist_line(f, "HTTP", a->http_count, a->http_errors, &a->http_latency);
	text_dist_line(f, "MongoDB", a->mongo_count, a->mongo_errors, &a->mongo_latency);
	text_database(f, info);

	if (a->nroutes) {
		fprintf(f, "\nroutes by total time:\n");
		for (size_t i = 0; i < a->nroutes && i < 10; i++) {
			struct route_stats *r = &a->routes[i];
			char p50[40], p95[40];
			fprintf(f, "  %-7s %-40s %6" PRIu64 " req  %3" PRIu64 " err  p50 %s  p95 %s\n",
				r->method[0] ? r->method : "-", r->route, r->count, r->errors,
				r->latency.count ? sig_ms(dist_quantile(&r->latency, .5), p50, sizeof(p50)) : "-",
				r->latency.count ? sig_ms(dist_quantile(&r->latency, .95), p95, sizeof(p95)) : "-");
		}
	}
	if (a->nshapes) {
		fprintf(f, "\nquery shapes by total time:\n");
		for (size_t i = 0; i < a->nshapes && i < 10; i++) {
			struct shape_stats *s = &a->shapes[i];
			char p50[40], tot[40];
			fprintf(f, "  %6" PRIu64 " x  p50 %-9s total %-9s %s\n", s->count,
				s->latency.count ? sig_ms(dist_quantile(&s->latency, .5), p50, sizeof(p50)) : "-",
				sig_ms(s->latency.sum, tot, sizeof(tot)), s->shape);
		}
	}
	fprintf(f, "\nmeasurement quality:");
	int n = 0;
	for (size_t i = 0; i < QUALITY_NFIELDS; i++) {
		uint64_t val = quality_get(q, i);
		if (!val && i > 1)
			continue;
		fprintf(f, "%s %s %" PRIu64, n++ % 4 ? "," : "\n ", quality_fields[i].name, val);
	}
	for (unsigned i = 0; i < q->n_unknown_opcodes; i++)
		fprintf(f, "%sunknown MongoDB opcode %" PRId32, i ? ", " : "\n  ", q->unknown_opcodes[i]);
	if (dist_any_approximate())
		fprintf(f, "\n  percentiles from a log-linear histogram (error <= 1%%): too many values to keep");
	fputc('\n', f);
}

static void write_json_dist(struct json_writer *j, const char *key, struct dist *d)
{
	json_begin_object(j, key);
	json_uint(j, "count", d->count);
	json_double(j, "p50_ms", d->count ? dist_quantile(d, .5) / 1e6 : NAN, 3);
	json_double(j, "p95_ms", d->count ? dist_quantile(d, .95) / 1e6 : NAN, 3);
	json_double(j, "p99_ms", d->count ? dist_quantile(d, .99) / 1e6 : NAN, 3);
	json_double(j, "max_ms", d->count ? d->max / 1e6 : NAN, 3);
	json_double(j, "mean_ms", dist_mean(d) / 1e6, 3);
	json_bool(j, "exact", dist_is_exact(d));
	json_end_object(j);
}

static void write_json(FILE *f, struct aggregate *a, const struct quality *q,
		       const struct run_info *info, const struct verdict *v)
{
	struct json_writer j;
	char t[TIMESTAMP_STRLEN];

	json_init(&j, f);
	json_begin_object(&j, NULL);
	json_string(&j, "mode", info->mode);
	json_begin_array(&j, "inputs");
	for (int i = 0; i < info->ninputs; i++)
		json_string(&j, NULL, info->inputs[i]);
	json_end_array(&j);
	json_string(&j, "input_error", info->input_error);
	json_begin_object(&j, "host");
	json_int(&j, "cores", info->cores);
	json_uint(&j, "intervals", info->nintervals);
	json_end_object(&j);
	json_string(&j, "traffic_start", a->first_ts == TS_NONE ? NULL : timestamp_format(a->first_ts, t, sizeof(t)));
	json_string(&j, "traffic_end", a->last_ts == TS_NONE ? NULL : timestamp_format(a->last_ts, t, sizeof(t)));

	json_begin_object(&j, "verdict");
	json_string(&j, "primary", v->primary);
	json_begin_array(&j, "secondary");
	for (size_t i = 0; i < v->nsecondary; i++)
		json_string(&j, NULL, v->secondary[i]);
	json_end_array(&j);
	json_string(&j, "confidence", v->confidence);
	json_begin_array(&j, "evidence");
	for (size_t i = 0; i < v->nevidence; i++)
		json_string(&j, NULL, v->evidence[i]);
	json_end_array(&j);
	json_end_object(&j);

	json_begin_object(&j, "http");
	json_uint(&j, "count", a->http_count);
	json_uint(&j, "errors", a->http_errors);
	json_uint(&j, "complete", a->http_complete);
	write_json_dist(&j, "latency", &a->http_latency);
	json_double(&j, "db_share_pct", a->http_latency_attributed_ns > 0
		    ? 100.0 * a->http_db_ns / a->http_latency_attributed_ns : NAN, 1);
	json_end_object(&j);

	json_begin_object(&j, "mongo");
	json_uint(&j, "count", a->mongo_count);
	json_uint(&j, "errors", a->mongo_errors);
	json_uint(&j, "complete", a->mongo_complete);
	write_json_dist(&j, "latency", &a->mongo_latency);
	json_end_object(&j);

	struct db_view d;
	database_view(info, &d);
	json_begin_object(&j, "serverstatus");
	json_uint(&j, "intervals", d.polled);
	json_double(&j, "queued_share_pct", 100 * d.queue_share, 1);
	json_double(&j, "tickets_exhausted_share_pct", 100 * d.tickets_out_share, 1);
	json_double(&j, "cache_used_max_pct", d.cache_used_max, 1);
	json_double(&j, "cache_dirty_max_pct", d.cache_dirty_max, 1);
	json_double(&j, "connections_used_max_pct", d.conn_used_max, 1);
	json_double(&j, "client_latency_ms", d.client_ms, 3);
	json_double(&j, "server_latency_ms", d.server_ms, 3);
	json_double(&j, "client_minus_server_ms", d.client_ms - d.server_ms, 3);
	json_end_object(&j);

	json_begin_object(&j, "quality");
	for (size_t i = 0; i < QUALITY_NFIELDS; i++)
		json_uint(&j, quality_fields[i].name, quality_get(q, i));
	json_begin_array(&j, "unknown_opcodes");
	for (unsigned i = 0; i < q->n_unknown_opcodes; i++)
		json_int(&j, NULL, q->unknown_opcodes[i]);
	json_end_array(&j);
	json_bool(&j, "percentiles_exact", !dist_any_approximate());
	json_end_object(&j);

	json_begin_array(&j, "routes");
	for (size_t i = 0; i < a->nroutes && i < 50; i++) {
		struct route_stats *r = &a->routes[i];
		json_begin_object(&j, NULL);
		json_string(&j, "method", r->method);
		json_string(&j, "route", r->route);
		json_uint(&j, "count", r->count);
		json_uint(&j, "errors", r->errors);
		write_json_dist(&j, "latency", &r->latency);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_begin_array(&j, "shapes");
	for (size_t i = 0; i < a->nshapes && i < 50; i++) {
		struct shape_stats *s = &a->shapes[i];
		char id[24];
		snprintf(id, sizeof(id), "%016" PRIx64, s->shape_id);
		json_begin_object(&j, NULL);
		json_string(&j, "shape_id", id);
		json_string(&j, "shape", s->shape);
		json_uint(&j, "count", s->count);
		write_json_dist(&j, "latency", &s->latency);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
}

/* Writes to dir/name.tmp then renames, so a reader never sees half a summary. */
static int write_file(const char *dir, const char *name,
		      void (*fn)(FILE *, struct aggregate *, const struct quality *,
				 const struct run_info *, const struct verdict *),
		      struct aggregate *a, const struct quality *q, const struct run_info *info,
		      const struct verdict *v)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		int e = errno;
		log_error("output: cannot create '%s': %s", tmp, strerror(e));
		return -e;
	}
	fn(f, a, q, info, v);
	int bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		int e = errno ? errno : EIO;
		log_error("output: cannot write '%s': %s", tmp, strerror(e));
		remove(tmp);
		return -e;
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		log_error("output: cannot rename '%s': %s", tmp, strerror(e));
		return -e;
	}
	return 0;
}

int summary_write(const char *dir, struct aggregate *a, const struct quality *q,
		  const struct run_info *info, int print)
{
	struct verdict v;
	verdict_decide(a, q, info, &v);
	int rc = write_file(dir, "summary.txt", write_text, a, q, info, &v);
	int rc2 = write_file(dir, "summary.json", write_json, a, q, info, &v);
	if (print)
		write_text(stdout, a, q, info, &v);
	verdict_release(&v);
	return rc ? rc : rc2;
}

void summary_print(FILE *f, struct aggregate *a, const struct quality *q, const struct run_info *info)
{
	struct verdict v;
	verdict_decide(a, q, info, &v);
	write_text(f, a, q, info, &v);
	verdict_release(&v);
}
