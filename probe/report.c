/*
 * report.c - `tierprobe report DIR`: the summary and verdict of a finished
 * output folder, rebuilt from its CSV files (the transactions, the shapes'
 * texts, samples.csv) and summary.json's measurement-quality counters. The
 * run computed its own summary from exactly the values these files print, so
 * the two agree.
 */
#include "report.h"

#include <bson/bson.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aggregate.h"
#include "csv.h"
#include "log.h"
#include "samples.h"
#include "summary.h"

/* Column positions by name in one CSV header. */
struct columns {
	char **names;
	int n;
};

static int col(const struct columns *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return i;
	return -1;
}

static const char *cellv(char **cells, int ncells, int i)
{
	return i >= 0 && i < ncells ? cells[i] : "";
}

static ts_ns parse_ts(const char *s)
{
	ts_ns t;
	return s[0] && timestamp_parse(s, &t) == 0 ? t : TS_NONE;
}

static int32_t opcode_by_name(const char *s)
{
	static const struct { const char *name; int32_t op; } ops[] = {
		{ "OP_REPLY", 1 }, { "OP_MSG_LEGACY", 1000 }, { "OP_UPDATE", 2001 }, { "OP_INSERT", 2002 },
		{ "OP_QUERY", 2004 }, { "OP_GET_MORE", 2005 }, { "OP_DELETE", 2006 },
		{ "OP_KILL_CURSORS", 2007 }, { "OP_COMMAND", 2010 }, { "OP_COMMANDREPLY", 2011 },
		{ "OP_COMPRESSED", 2012 }, { "OP_MSG", 2013 },
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(s, ops[i].name) == 0)
			return ops[i].op;
	return 0;
}

/* Reads a whole CSV, calling fn for each row with the header's positions. */
static int each_row(const char *dir, const char *name, int required,
		    void (*fn)(void *ctx, const struct columns *h, char **cells, int n), void *ctx)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct csv_reader *r = csv_reader_open(path);
	if (!r) {
		if (!required && errno == ENOENT)
			return 0;
		return log_error("report: cannot read '%s': %s", path, strerror(errno));
	}
	char **cells;
	int n = csv_reader_next(r, &cells);
	struct columns h = { NULL, n > 0 ? n : 0 };
	if (n > 0) {
		h.names = calloc((size_t)n, sizeof(char *));
		for (int i = 0; h.names && i < n; i++)
			h.names[i] = strdup(cells[i]);
	}
	if (n <= 0 || !h.names) {
		csv_reader_free(r);
		free(h.names);
		return log_error("report: '%s' has no header row", path);
	}
	while ((n = csv_reader_next(r, &cells)) > 0)
		fn(ctx, &h, cells, n);
	for (int i = 0; i < h.n; i++)
		free(h.names[i]);
	free(h.names);
	csv_reader_free(r);
	if (n < 0)
		return log_error("report: '%s' is not valid CSV", path);
	return 0;
}

struct shape_text {
	uint64_t id;
	char text[512];
};

struct report_ctx {
	struct aggregate agg;
	struct shape_text *shapes;
	size_t nshapes, shapes_cap;
};

static void read_shape(void *vctx, const struct columns *h, char **cells, int n)
{
	struct report_ctx *c = vctx;
	if (c->nshapes == c->shapes_cap) {
		size_t ncap = c->shapes_cap ? c->shapes_cap * 2 : 64;
		struct shape_text *g = realloc(c->shapes, ncap * sizeof(*g));
		if (!g)
			return;
		c->shapes = g;
		c->shapes_cap = ncap;
	}
	struct shape_text *s = &c->shapes[c->nshapes++];
	s->id = strtoull(cellv(cells, n, col(h, "shape_id")), NULL, 16);
	snprintf(s->text, sizeof(s->text), "%s", cellv(cells, n, col(h, "shape")));
}

static void read_http(void *vctx, const struct columns *h, char **cells, int n)
{
	struct report_ctx *c = vctx;
	struct http_txn t;
	memset(&t, 0, sizeof(t));
	ts_ns start = parse_ts(cellv(cells, n, col(h, "start")));
	t.t.req_last = parse_ts(cellv(cells, n, col(h, "req_end")));
	t.t.req_first = t.t.req_last != TS_NONE ? start : TS_NONE;
	t.t.resp_first = parse_ts(cellv(cells, n, col(h, "resp_start")));
	t.t.resp_last = parse_ts(cellv(cells, n, col(h, "end")));
	snprintf(t.method, sizeof(t.method), "%s", cellv(cells, n, col(h, "method")));
	snprintf(t.route, sizeof(t.route), "%s", cellv(cells, n, col(h, "route")));
	t.status = atoi(cellv(cells, n, col(h, "status")));
	t.notes = txn_note_parse(cellv(cells, n, col(h, "note")));
	const char *db = cellv(cells, n, col(h, "db_ms"));
	double db_ns = db[0] ? strtod(db, NULL) * 1e6 : -1;
	if (db_ns >= 0)
		db_ns = (double)llround(db_ns / 1000) * 1000;	/* the µs the run used */
	aggregate_http(&c->agg, &t, db_ns, strtoull(cellv(cells, n, col(h, "db_ops")), NULL, 10));
}

static void read_mongo(void *vctx, const struct columns *h, char **cells, int n)
{
	struct report_ctx *c = vctx;
	struct mongo_txn t;
	memset(&t, 0, sizeof(t));
	t.t.req_first = parse_ts(cellv(cells, n, col(h, "start")));
	t.t.req_last = parse_ts(cellv(cells, n, col(h, "req_end")));
	t.t.resp_first = parse_ts(cellv(cells, n, col(h, "resp_start")));
	t.t.resp_last = parse_ts(cellv(cells, n, col(h, "end")));
	t.opcode = opcode_by_name(cellv(cells, n, col(h, "opcode")));
	snprintf(t.db, sizeof(t.db), "%s", cellv(cells, n, col(h, "db")));
	snprintf(t.collection, sizeof(t.collection), "%s", cellv(cells, n, col(h, "collection")));
	snprintf(t.command, sizeof(t.command), "%s", cellv(cells, n, col(h, "command")));
	t.shape_id = strtoull(cellv(cells, n, col(h, "shape_id")), NULL, 16);
	for (size_t i = 0; i < c->nshapes; i++)
		if (c->shapes[i].id == t.shape_id)
			snprintf(t.shape, sizeof(t.shape), "%s", c->shapes[i].text);
	const char *ok = cellv(cells, n, col(h, "ok"));
	t.ok = ok[0] ? atoi(ok) : -1;
	t.error_code = atoi(cellv(cells, n, col(h, "error_code")));
	t.notes = txn_note_parse(cellv(cells, n, col(h, "note")));
	aggregate_mongo(&c->agg, &t);
}

/* summary.json -> quality counters and the run's description. */
static int read_summary_json(const char *dir, struct quality *q, char *mode, size_t mode_len,
			     char ***inputs, int *ninputs, char **input_error, int *cores)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return log_error("report: '%s' is not a finished tierprobe output folder: cannot read "
				 "'%s': %s", dir, path, strerror(errno));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *g = realloc(buf, cap);
			if (!g) {
				free(buf);
				fclose(f);
				return log_error("report: out of memory");
			}
			buf = g;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	bson_error_t err;
	bson_t *doc = bson_new_from_json((const uint8_t *)buf, (ssize_t)len, &err);
	free(buf);
	if (!doc)
		return log_error("report: '%s' is not valid JSON: %s", path, err.message);
	bson_iter_t it, sub;
	memset(q, 0, sizeof(*q));
	if (bson_iter_init_find(&it, doc, "quality") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
	    bson_iter_recurse(&it, &sub)) {
		while (bson_iter_next(&sub)) {
			const char *key = bson_iter_key(&sub);
			for (size_t i = 0; i < QUALITY_NFIELDS; i++) {
				if (strcmp(key, quality_fields[i].name) != 0)
					continue;
				uint64_t v = (uint64_t)bson_iter_as_int64(&sub);
				memcpy((char *)q + quality_fields[i].offset, &v, sizeof(v));
			}
			if (strcmp(key, "unknown_opcodes") == 0 && BSON_ITER_HOLDS_ARRAY(&sub)) {
				bson_iter_t arr;
				if (bson_iter_recurse(&sub, &arr))
					while (bson_iter_next(&arr))
						quality_note_unknown_opcode(q, (int32_t)bson_iter_as_int64(&arr));
			}
		}
	}
	snprintf(mode, mode_len, "report");
	if (bson_iter_init_find(&it, doc, "mode") && BSON_ITER_HOLDS_UTF8(&it))
		snprintf(mode, mode_len, "%s", bson_iter_utf8(&it, NULL));
	*inputs = NULL;
	*ninputs = 0;
	if (bson_iter_init_find(&it, doc, "inputs") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &sub)) {
		while (bson_iter_next(&sub)) {
			if (!BSON_ITER_HOLDS_UTF8(&sub))
				continue;
			char **g = realloc(*inputs, (size_t)(*ninputs + 1) * sizeof(char *));
			if (!g)
				break;
			*inputs = g;
			(*inputs)[(*ninputs)++] = strdup(bson_iter_utf8(&sub, NULL));
		}
	}
	*cores = 0;
	if (bson_iter_init_find(&it, doc, "host") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
	    bson_iter_recurse(&it, &sub) && bson_iter_find(&sub, "cores"))
		*cores = (int)bson_iter_as_int64(&sub);
	*input_error = NULL;
	if (bson_iter_init_find(&it, doc, "input_error") && BSON_ITER_HOLDS_UTF8(&it))
		*input_error = strdup(bson_iter_utf8(&it, NULL));
	bson_destroy(doc);
	return 0;
}

int report_main(const struct options *o)
{
	const char *dir = o->args[0];
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		log_error("report: '%s' is not a folder", dir);
		return 2;
	}
	struct quality q;
	char mode[32];
	char **inputs = NULL;
	int ninputs = 0;
	char *input_error = NULL;
	int cores = 0;
	if (read_summary_json(dir, &q, mode, sizeof(mode), &inputs, &ninputs, &input_error, &cores) != 0)
		return 2;

	struct report_ctx c;
	memset(&c, 0, sizeof(c));
	int status = 0;
	if (aggregate_init(&c.agg) != 0) {
		status = 1;
		goto out;
	}
	if (each_row(dir, "shapes.csv", 0, read_shape, &c) != 0 ||
	    each_row(dir, "http.csv", 1, read_http, &c) != 0 ||
	    each_row(dir, "mongo.csv", 1, read_mongo, &c) != 0) {
		status = 2;
		goto out;
	}
	struct interval_stats *stats = NULL;
	size_t nstats = 0;
	char path[4096];
	snprintf(path, sizeof(path), "%s/samples.csv", dir);
	if (stat(path, &sb) == 0 && samples_read(path, &stats, &nstats) != 0) {
		log_error("report: cannot read '%s'", path);
		status = 2;
		goto out;
	}
	aggregate_sort(&c.agg);
	struct run_info info = {
		.mode = mode,
		.inputs = (const char *const *)inputs,
		.ninputs = ninputs,
		.input_error = input_error,
		.cores = cores,
		.intervals = stats,
		.nintervals = nstats,
	};
	summary_print(stdout, &c.agg, &q, &info);
	free(stats);
out:
	aggregate_release(&c.agg);
	free(c.shapes);
	for (int i = 0; i < ninputs; i++)
		free(inputs[i]);
	free(inputs);
	free(input_error);
	return status;
}
