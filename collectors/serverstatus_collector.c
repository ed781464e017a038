/*
 * serverstatus_collector.c - the serverStatus collector: runs the poller
 * thread, writes serverstatus.csv (one row per interval) and gives
 * samples.csv the server's own view next to the wire's: mean server-side
 * latency, queue, tickets and connections.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "csv.h"
#include "log.h"
#include "serverstatus.h"
#include "serverstatus_poller.h"

struct ss_collector {
	struct serverstatus_poller *poller;
	struct csv_writer *csv;
	char *path;
	struct serverstatus_doc prev;
	bool have_prev;
	struct serverstatus_row last;	/* the newest row, repeated until a new sample */
	int have_last;
	int write_failed;
};

static const char *const ss_sample_columns[] = {
	"mongo_server_latency_ms",	/* mean over reads, writes and commands */
	"mongo_server_ops_per_s",
	"mongo_queue",			/* globalLock.currentQueue readers + writers */
	"mongo_active_clients",
	"mongo_tickets_available",	/* min of read and write tickets available */
	"mongo_connections",
	"mongo_connections_used_pct",	/* current / (current + available) */
	"mongo_cache_used_pct",
	"mongo_cache_dirty_pct",
};
#define N_SS_COLS (sizeof(ss_sample_columns) / sizeof(ss_sample_columns[0]))

static const char *const *ss_columns(size_t *n)
{
	*n = N_SS_COLS;
	return ss_sample_columns;
}

static int ss_init(void **state, const struct options *o)
{
	char *uri = NULL;
	if (o->mongo_uri_file) {
		if (serverstatus_read_uri_file(o->mongo_uri_file, &uri) != 0)
			return log_error("serverstatus: cannot read --mongo-uri-file '%s'", o->mongo_uri_file),
			       -EINVAL;
	} else if (o->mongo_uri) {
		uri = strdup(o->mongo_uri);
	} else {
		return 1;	/* no URI: nothing to poll, no columns */
	}
	struct ss_collector *c = calloc(1, sizeof(*c));
	char path[4096];
	snprintf(path, sizeof(path), "%s/serverstatus.csv", o->out_dir);
	if (!c || !uri) {
		free(c);
		free(uri);
		return -ENOMEM;
	}
	c->poller = serverstatus_poller_new(uri, o->interval_s);
	memset(uri, 0, strlen(uri));	/* the password lives only in the poller's copy */
	free(uri);
	if (!c->poller) {
		free(c);
		return -EINVAL;
	}
	c->csv = csv_writer_new(path, serverstatus_columns, SERVERSTATUS_NCOLUMNS);
	c->path = strdup(path);
	if (!c->csv || !c->path) {
		log_error("output: cannot create '%s': %s", path, strerror(errno));
		serverstatus_poller_free(c->poller);
		csv_writer_free(c->csv);
		free(c->path);
		free(c);
		return -EIO;
	}
	if (serverstatus_poller_start(c->poller) != 0) {
		serverstatus_poller_free(c->poller);
		csv_writer_free(c->csv);
		free(c->path);
		free(c);
		return log_error("serverstatus: cannot start the poller thread"), -EAGAIN;
	}
	*state = c;
	return 0;
}

static double col(const struct serverstatus_row *r, int i)
{
	return r->present[i] ? r->val[i] : NAN;
}

static void cell(collector_cell c, int decimals, double v)
{
	if (isfinite(v))
		snprintf(c, COLLECTOR_CELL_MAX, "%.*f", decimals, v);
	else
		c[0] = '\0';
}

static void ss_poll(void *state, ts_ns now, collector_cell *cells)
{
	struct ss_collector *c = state;
	struct serverstatus_sample s;
	struct serverstatus_row row;

	if (serverstatus_poller_take(c->poller, &s)) {
		serverstatus_sample_row(&c->prev, &c->have_prev, &s, &row);
	} else {
		serverstatus_row_empty(&row, now, "no sample this interval");
	}
	/* serverstatus.csv keeps the sample's own time; samples.csv the interval's. */
	(void)now;
	struct serverstatus_cells text;
	serverstatus_row_format(&row, &text);
	if (!c->write_failed) {
		int rc = csv_writer_row(c->csv, text.ptr, SERVERSTATUS_NCOLUMNS);
		if (!rc)
			rc = csv_writer_flush(c->csv);
		if (rc) {
			c->write_failed = 1;
			log_error("output: cannot write '%s': %s", c->path, strerror(-rc));
		}
	}

	/* Ops-weighted mean of the three latency classes = total server time / total ops. */
	double num = 0, den = 0;
	static const int lat[] = { SERVERSTATUS_COL_READS_LATENCY_MS, SERVERSTATUS_COL_WRITES_LATENCY_MS,
				   SERVERSTATUS_COL_COMMANDS_LATENCY_MS };
	static const int ops[] = { SERVERSTATUS_COL_READS_OPS_PER_S, SERVERSTATUS_COL_WRITES_OPS_PER_S,
				   SERVERSTATUS_COL_COMMANDS_OPS_PER_S };
	int any_ops = 0;
	for (int i = 0; i < 3; i++) {
		double l = col(&row, lat[i]), n = col(&row, ops[i]);
		if (isfinite(n))
			any_ops = 1;
		if (isfinite(l) && isfinite(n) && n > 0) {
			num += l * n;
			den += n;
		}
	}
	double qr = col(&row, SERVERSTATUS_COL_QUEUE_READERS), qw = col(&row, SERVERSTATUS_COL_QUEUE_WRITERS);
	double ar = col(&row, SERVERSTATUS_COL_ACTIVE_READERS), aw = col(&row, SERVERSTATUS_COL_ACTIVE_WRITERS);
	double tr = col(&row, SERVERSTATUS_COL_READ_TICKETS_AVAILABLE);
	double tw = col(&row, SERVERSTATUS_COL_WRITE_TICKETS_AVAILABLE);
	cell(cells[0], 3, den > 0 ? num / den : NAN);
	cell(cells[1], 2, any_ops ? den : NAN);
	cell(cells[2], 0, isfinite(qr) || isfinite(qw) ? (isfinite(qr) ? qr : 0) + (isfinite(qw) ? qw : 0) : NAN);
	cell(cells[3], 0, isfinite(ar) || isfinite(aw) ? (isfinite(ar) ? ar : 0) + (isfinite(aw) ? aw : 0) : NAN);
	cell(cells[4], 0, isfinite(tr) && isfinite(tw) ? fmin(tr, tw) : isfinite(tr) ? tr : tw);
	double cc = col(&row, SERVERSTATUS_COL_CONNECTIONS_CURRENT);
	double ca = col(&row, SERVERSTATUS_COL_CONNECTIONS_AVAILABLE);
	cell(cells[5], 0, cc);
	cell(cells[6], 1, isfinite(cc) && isfinite(ca) && cc + ca > 0 ? 100.0 * cc / (cc + ca) : NAN);
	cell(cells[7], 1, col(&row, SERVERSTATUS_COL_CACHE_USED_PCT));
	cell(cells[8], 1, col(&row, SERVERSTATUS_COL_CACHE_DIRTY_PCT));
}

static void ss_stop(void *state)
{
	struct ss_collector *c = state;
	serverstatus_poller_stop(c->poller);
}

static void ss_free(void *state)
{
	struct ss_collector *c = state;
	if (!c)
		return;
	serverstatus_poller_free(c->poller);
	if (csv_writer_free(c->csv) != 0 && !c->write_failed)
		log_error("output: cannot write '%s'", c->path);
	free(c->path);
	free(c);
	serverstatus_library_cleanup();
}

const struct collector_ops serverstatus_collector = {
	.name = "serverstatus",
	.columns = ss_columns,
	.init = ss_init,
	.poll = ss_poll,
	.stop = ss_stop,
	.free = ss_free,
};
