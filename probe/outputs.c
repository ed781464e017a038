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
	o->http = csv_writer_create_in(dir, "http.csv", http_columns, NCOLS(http_columns));
	o->mongo = o->http ? csv_writer_create_in(dir, "mongo.csv", mongo_columns, NCOLS(mongo_columns)) : NULL;
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
/* Microseconds as milliseconds with three decimals ("-1.250"); buf holds 24 bytes. */
static const char *fmt_us3(char *buf, int64_t us)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t a = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
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

static const char *fmt_ms(char *buf, size_t len, ts_ns from, ts_ns to)
{
	buf[0] = '\0';
	if (from == TS_NONE || to == TS_NONE || len < 24)
		return buf;
	return fmt_us3(buf, (to - from) / 1000);
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

static const char *fmt_i64(char *buf, size_t len, int64_t v)
{
	if (v >= 0)
		return fmt_u64(buf, len, (uint64_t)v);
	buf[0] = '-';
	fmt_u64(buf + 1, len - 1, (uint64_t)0 - (uint64_t)v);
	return buf;
}

/* 16 lowercase hex digits: the shape id column. */
static const char *fmt_hex64(char *buf, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, v >>= 4)
		buf[i] = digits[v & 15];
	buf[16] = '\0';
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

/* The join keeps the times at the microsecond the CSVs print (see join.h). */
static void on_http(void *ctx, const struct http_txn *t)
{
	struct outputs *o = ctx;
	join_http(o->join, t, 0);	/* the pid is asked for when it is judged */
}

static void on_mongo(void *ctx, const struct mongo_txn *t)
{
	struct outputs *o = ctx;
	join_mongo(o->join, t, 0);
}

/* The first cells of every transaction row: id, the four capture times, client, server, pid. */
struct row_head {
	char id[24], start[TIMESTAMP_STRLEN], req_end[TIMESTAMP_STRLEN],
		resp_start[TIMESTAMP_STRLEN], end[TIMESTAMP_STRLEN], cli[ENDPOINT_STRLEN],
		srv[ENDPOINT_STRLEN], pid[16];
};

/* start is the row's first time: the request's, or the response's when only it was seen. */
static void row_head_fill(struct row_head *h, uint64_t id, ts_ns start, const struct txn_times *t,
			  const struct endpoint *client, const struct endpoint *server, int pid)
{
	fmt_u64(h->id, sizeof(h->id), id);
	timestamp_format(start, h->start, sizeof(h->start));
	timestamp_format(t->req_last, h->req_end, sizeof(h->req_end));
	timestamp_format(t->resp_first, h->resp_start, sizeof(h->resp_start));
	timestamp_format(t->resp_last, h->end, sizeof(h->end));
	endpoint_format(client, h->cli, sizeof(h->cli));
	endpoint_format(server, h->srv, sizeof(h->srv));
	fmt_pid(h->pid, sizeof(h->pid), pid);
}

static void write_http(void *ctx, const struct joined_http *j)
{
	struct outputs *o = ctx;
	const struct http_txn *t = j->t;
	struct row_head h;
	char status[24], reqb[24], respb[24], lat[32], svr[32], db[32] = "", ops[24] = "",
		app[32] = "", note[160];
	int have_req = t->t.req_first != TS_NONE, have_resp = t->t.resp_first != TS_NONE;

	row_head_fill(&h, j->id, have_req ? t->t.req_first : t->t.resp_first, &t->t, &t->client,
		      &t->server, j->pid);

	status[0] = '\0';
	if (t->status > 0)
		fmt_i64(status, sizeof(status), t->status);
	double db_ns = j->db_ns >= 0 ? round(j->db_ns / 1000) * 1000 : -1;	/* as printed */
	if (db_ns >= 0) {
		double lat_ns = (double)(t->t.resp_last - t->t.req_first);
		fmt_us3(db, (int64_t)llround(db_ns / 1000));
		fmt_u64(ops, sizeof(ops), j->db_ops);
		fmt_us3(app, (int64_t)llround((lat_ns - db_ns) / 1000));
	}
	const char *cells[] = {
		h.id, h.start, h.req_end, h.resp_start, h.end, h.cli, h.srv, h.pid,
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
	struct row_head h;
	char rid[24], shape[24], lat[32], svr[32], reqb[24], respb[24], docs[24], ok[24], code[24],
		note[160];
	int have_resp = t->t.resp_first != TS_NONE;

	row_head_fill(&h, j->id, t->t.req_first, &t->t, &t->client, &t->server, j->pid);

	fmt_i64(rid, sizeof(rid), t->request_id);
	/* Shared calls list every request they are split among, ';'-separated. */
	for (unsigned i = 0, used = 0; i < j->k && used < sizeof(http_ids) - 24; i++)
		used += (unsigned)snprintf(http_ids + used, sizeof(http_ids) - used, "%s%" PRIu64,
					   i ? ";" : "", j->http_ids[i]);
	shape[0] = docs[0] = ok[0] = code[0] = '\0';
	if (t->shape_id)
		fmt_hex64(shape, t->shape_id);
	if (t->docs >= 0)
		fmt_i64(docs, sizeof(docs), t->docs);
	if (t->ok >= 0)
		fmt_i64(ok, sizeof(ok), t->ok);
	if (have_resp && t->error_code)
		fmt_i64(code, sizeof(code), t->error_code);
	const char *cells[] = {
		h.id, h.start, h.req_end, h.resp_start, h.end, h.cli, h.srv, h.pid,
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
