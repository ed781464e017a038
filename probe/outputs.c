/* outputs.c - the output folder: streamed transaction tables, end-of-run tables and summary. */
#include "outputs.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "join.h"
#include "log.h"
#include "summary.h"

struct outputs {
	char *dir;
	struct csv_writer *http;
	struct csv_writer *mongo;
	struct join *join;	/* holds transactions until their attribution is known */
	int self_pid;
	struct aggregate agg;
	struct txn_sink sink;
	void (*observe_http)(void *ctx, const struct joined_http *);
	void (*observe_mongo)(void *ctx, const struct joined_mongo *);
	void *observe_ctx;
	int err;		/* first -errno from a streaming file; reported once */
};

static const char *const http_columns[] = {
	"id", "start", "req_end", "resp_start", "end", "client", "server", "pid", "method",
	"route", "status",
	"req_bytes", "resp_bytes", "latency_ms", "server_ms", "db_ms", "db_ops", "app_ms",
	"attribution", "note",
};

static const char *const mongo_columns[] = {
	"id", "start", "req_end", "resp_start", "end", "client", "server", "pid", "request_id",
	"opcode", "db",
	"collection", "command", "shape_id", "latency_ms", "server_ms", "req_bytes", "resp_bytes",
	"docs", "ok", "error_code", "http_id", "note",
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/* mkdir -p: creates each missing component. */
static int make_dirs(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (stat(buf, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static struct csv_writer *open_table(const char *dir, const char *name, const char *const *cols,
				     size_t ncols)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct csv_writer *w = csv_writer_new(path, cols, ncols);
	if (!w)
		log_error("output: cannot create '%s': %s", path, strerror(errno));
	return w;
}

static void on_http(void *ctx, const struct http_txn *t);
static void on_mongo(void *ctx, const struct mongo_txn *t);
static void write_http(void *ctx, const struct joined_http *j);
static void write_mongo(void *ctx, const struct joined_mongo *j);

struct outputs *outputs_open(const char *dir)
{
	int rc = make_dirs(dir);
	if (rc) {
		log_error("output: cannot create folder '%s': %s", dir, strerror(-rc));
		return NULL;
	}
	struct outputs *o = calloc(1, sizeof(*o));
	if (!o || aggregate_init(&o->agg)) {
		free(o);
		log_error("output: out of memory");
		return NULL;
	}
	o->dir = strdup(dir);
	o->self_pid = (int)getpid();
	struct join_config jc = {
		.emit_http = write_http,
		.emit_mongo = write_mongo,
		.ctx = o,
	};
	o->join = join_new(&jc);
	o->sink.http = on_http;
	o->sink.mongo = on_mongo;
	o->sink.ctx = o;
	o->http = open_table(dir, "http.csv", http_columns, NCOLS(http_columns));
	o->mongo = o->http ? open_table(dir, "mongo.csv", mongo_columns, NCOLS(mongo_columns)) : NULL;
	if (!o->dir || !o->join || !o->http || !o->mongo) {
		outputs_free(o);
		return NULL;
	}
	return o;
}

const struct txn_sink *outputs_sink(struct outputs *o) { return &o->sink; }
struct aggregate *outputs_aggregate(struct outputs *o) { return &o->agg; }

void outputs_set_pid_resolver(struct outputs *o, int (*resolve)(void *ctx, uint64_t flow_id),
			      void *ctx)
{
	join_set_resolver(o->join, resolve, ctx);
}

void outputs_set_observer(struct outputs *o, void (*http)(void *ctx, const struct joined_http *),
			  void (*mongo)(void *ctx, const struct joined_mongo *), void *ctx)
{
	o->observe_http = http;
	o->observe_mongo = mongo;
	o->observe_ctx = ctx;
}

void outputs_drain(struct outputs *o)
{
	join_flush(o->join);
}

void outputs_advance(struct outputs *o, ts_ns now)
{
	join_advance(o->join, now);
}

/*
 * Duration between two capture times in ms with three decimals; "" when
 * either is unknown. Integer arithmetic: the times are whole microseconds
 * already, and this runs for every row.
 */
static const char *fmt_ms(char *buf, size_t len, ts_ns from, ts_ns to)
{
	buf[0] = '\0';
	if (from == TS_NONE || to == TS_NONE || len < 24)
		return buf;
	int64_t us = (to - from) / 1000;
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t a = (uint64_t)(us < 0 ? -us : us);
	*--p = '\0';
	for (int i = 0; i < 3; i++, a /= 10)
		*--p = (char)('0' + a % 10);
	*--p = '.';
	do {
		*--p = (char)('0' + a % 10);
		a /= 10;
	} while (a);
	if (us < 0)
		*--p = '-';
	memcpy(buf, p, (size_t)(tmp + sizeof(tmp) - p));
	return buf;
}

/* buf holds at least 21 bytes (every caller passes 24). */
static const char *fmt_u64(char *buf, size_t len, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	(void)len;
	*--p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(buf, p, (size_t)(tmp + sizeof(tmp) - p));
	return buf;
}

static const char *fmt_pid(char *buf, size_t len, int pid)
{
	buf[0] = '\0';
	if (pid > 0)
		snprintf(buf, len, "%d", pid);
	return buf;
}

static void stream_error(struct outputs *o, const char *table, int rc)
{
	if (!o->err) {
		o->err = rc;
		log_error("output: cannot write '%s/%s': %s", o->dir, table, strerror(-rc));
	}
}

/* Times as the CSVs print them, so a re-read (tierprobe report) computes the same figures. */
static void floor_times(struct txn_times *t)
{
	t->req_first = timestamp_floor_us(t->req_first);
	t->req_last = timestamp_floor_us(t->req_last);
	t->resp_first = timestamp_floor_us(t->resp_first);
	t->resp_last = timestamp_floor_us(t->resp_last);
}

static void on_http(void *ctx, const struct http_txn *t)
{
	struct outputs *o = ctx;
	struct http_txn copy = *t;
	floor_times(&copy.t);
	join_http(o->join, &copy, 0);	/* the pid is asked for when it is judged */
}

static void on_mongo(void *ctx, const struct mongo_txn *t)
{
	struct outputs *o = ctx;
	struct mongo_txn copy = *t;
	floor_times(&copy.t);
	join_mongo(o->join, &copy, 0);
}

static void write_http(void *ctx, const struct joined_http *j)
{
	struct outputs *o = ctx;
	const struct http_txn *t = j->t;
	char id[24], start[TIMESTAMP_STRLEN], req_end[TIMESTAMP_STRLEN], resp_start[TIMESTAMP_STRLEN],
		end[TIMESTAMP_STRLEN], cli[ENDPOINT_STRLEN], srv[ENDPOINT_STRLEN], pid[16], status[12],
		reqb[24], respb[24], lat[32], svr[32], db[32] = "", ops[16] = "", app[32] = "",
		note[160];
	int have_req = t->t.req_first != TS_NONE, have_resp = t->t.resp_first != TS_NONE;

	status[0] = '\0';
	if (t->status > 0)
		snprintf(status, sizeof(status), "%d", t->status);
	double db_ns = j->db_ns >= 0 ? round(j->db_ns / 1000) * 1000 : -1;	/* as printed */
	if (db_ns >= 0) {
		double lat_ns = (double)(t->t.resp_last - t->t.req_first);
		snprintf(db, sizeof(db), "%.3f", db_ns / 1e6);
		snprintf(ops, sizeof(ops), "%u", j->db_ops);
		snprintf(app, sizeof(app), "%.3f", (lat_ns - db_ns) / 1e6);
	}
	const char *cells[] = {
		fmt_u64(id, sizeof(id), j->id),
		timestamp_format(have_req ? t->t.req_first : t->t.resp_first, start, sizeof(start)),
		timestamp_format(t->t.req_last, req_end, sizeof(req_end)),
		timestamp_format(t->t.resp_first, resp_start, sizeof(resp_start)),
		timestamp_format(t->t.resp_last, end, sizeof(end)),
		endpoint_format(&t->client, cli, sizeof(cli)),
		endpoint_format(&t->server, srv, sizeof(srv)),
		fmt_pid(pid, sizeof(pid), j->pid),
		t->method,
		t->route,
		status,
		have_req ? fmt_u64(reqb, sizeof(reqb), t->req_bytes) : "",
		have_resp ? fmt_u64(respb, sizeof(respb), t->resp_bytes) : "",
		fmt_ms(lat, sizeof(lat), t->t.req_first, t->t.resp_last),
		fmt_ms(svr, sizeof(svr), t->t.req_last, t->t.resp_first),
		db, ops, app,
		j->attribution == ATTRIBUTION_NONE ? "none" : attribution_name(j->attribution),
		txn_note_format(t->notes, note, sizeof(note)),
	};
	int rc = csv_writer_row(o->http, cells, NCOLS(cells));
	if (rc)
		stream_error(o, "http.csv", rc);
	aggregate_http(&o->agg, t, db_ns, j->db_ops);
	if (o->observe_http)
		o->observe_http(o->observe_ctx, j);
}

static const char *opcode_name(int32_t op)
{
	switch (op) {
	case 1: return "OP_REPLY";
	case 1000: return "OP_MSG_LEGACY";
	case 2001: return "OP_UPDATE";
	case 2002: return "OP_INSERT";
	case 2004: return "OP_QUERY";
	case 2005: return "OP_GET_MORE";
	case 2006: return "OP_DELETE";
	case 2007: return "OP_KILL_CURSORS";
	case 2010: return "OP_COMMAND";
	case 2011: return "OP_COMMANDREPLY";
	case 2012: return "OP_COMPRESSED";
	case 2013: return "OP_MSG";
	default: return "";
	}
}

static void write_mongo(void *ctx, const struct joined_mongo *j)
{
	struct outputs *o = ctx;
	const struct mongo_txn *t = j->t;
	char http_ids[128] = "";

	/* The probe's own serverStatus polling is not the application's traffic. */
	if (j->pid > 0 && j->pid == o->self_pid)
		return;
	char id[24], start[TIMESTAMP_STRLEN], req_end[TIMESTAMP_STRLEN], resp_start[TIMESTAMP_STRLEN],
		end[TIMESTAMP_STRLEN], cli[ENDPOINT_STRLEN], srv[ENDPOINT_STRLEN], pid[16], rid[16], shape[24], lat[32], svr[32], reqb[24],
		respb[24], docs[24], ok[12], code[16], note[160];
	int have_resp = t->t.resp_first != TS_NONE;

	snprintf(rid, sizeof(rid), "%" PRId32, t->request_id);
	/* Shared calls list every request they are split among, ';'-separated. */
	for (unsigned i = 0, used = 0; i < j->k && used < sizeof(http_ids) - 24; i++)
		used += (unsigned)snprintf(http_ids + used, sizeof(http_ids) - used, "%s%" PRIu64,
					   i ? ";" : "", j->http_ids[i]);
	shape[0] = docs[0] = ok[0] = code[0] = '\0';
	if (t->shape_id)
		snprintf(shape, sizeof(shape), "%016" PRIx64, t->shape_id);
	if (t->docs >= 0)
		snprintf(docs, sizeof(docs), "%" PRId64, t->docs);
	if (t->ok >= 0)
		snprintf(ok, sizeof(ok), "%d", t->ok);
	if (have_resp && t->error_code)
		snprintf(code, sizeof(code), "%" PRId32, t->error_code);
	const char *cells[] = {
		fmt_u64(id, sizeof(id), j->id),
		timestamp_format(t->t.req_first, start, sizeof(start)),
		timestamp_format(t->t.req_last, req_end, sizeof(req_end)),
		timestamp_format(t->t.resp_first, resp_start, sizeof(resp_start)),
		timestamp_format(t->t.resp_last, end, sizeof(end)),
		endpoint_format(&t->client, cli, sizeof(cli)),
		endpoint_format(&t->server, srv, sizeof(srv)),
		fmt_pid(pid, sizeof(pid), j->pid),
		rid,
		opcode_name(t->opcode),
		t->db,
		t->collection,
		t->command,
		shape,
		fmt_ms(lat, sizeof(lat), t->t.req_first, t->t.resp_last),
		fmt_ms(svr, sizeof(svr), t->t.req_last, t->t.resp_first),
		fmt_u64(reqb, sizeof(reqb), t->req_bytes),
		have_resp ? fmt_u64(respb, sizeof(respb), t->resp_bytes) : "",
		docs,
		ok,
		code,
		http_ids,
		txn_note_format(t->notes, note, sizeof(note)),
	};
	int rc = csv_writer_row(o->mongo, cells, NCOLS(cells));
	if (rc)
		stream_error(o, "mongo.csv", rc);
	aggregate_mongo(&o->agg, t);
	if (o->observe_mongo)
		o->observe_mongo(o->observe_ctx, j);
}

int outputs_reopen(struct outputs *o)
{
	int rc = csv_writer_reopen(o->http);
	if (!rc)
		rc = csv_writer_reopen(o->mongo);
	return rc;
}

int outputs_flush(struct outputs *o)
{
	int rc = csv_writer_flush(o->http);
	if (rc)
		stream_error(o, "http.csv", rc);
	rc = csv_writer_flush(o->mongo);
	if (rc)
		stream_error(o, "mongo.csv", rc);
	return o->err;
}

int outputs_finish(struct outputs *o, const struct quality *q, const struct run_info *info,
		   int print_summary)
{
	join_flush(o->join);
	int rc = csv_writer_free(o->http);
	o->http = NULL;
	if (rc)
		stream_error(o, "http.csv", rc);
	rc = csv_writer_free(o->mongo);
	o->mongo = NULL;
	if (rc)
		stream_error(o, "mongo.csv", rc);
	aggregate_sort(&o->agg);
	rc = summary_write_tables(o->dir, &o->agg);
	if (rc && !o->err)
		o->err = rc;
	rc = summary_write(o->dir, &o->agg, q, info, print_summary);
	if (rc && !o->err)
		o->err = rc;
	return o->err;
}

void outputs_free(struct outputs *o)
{
	if (!o)
		return;
	csv_writer_free(o->http);
	csv_writer_free(o->mongo);
	join_free(o->join);
	aggregate_release(&o->agg);
	free(o->dir);
	free(o);
}
