/* join.c - attribution of MongoDB time to the HTTP requests that caused it (see join.h). */
#include "join.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CONTRIB 1024	/* calls kept per request for the union; more still count as ops */
#define SERIAL_EVIDENCE 20	/* requests of a process, all served one at a time, before it is called serial */
#define PROC_SLOTS 1024		/* processes followed for that (power of two); more: never serial */
/* Overtaken by less is no evidence: two clients' handshakes and first bytes may race. */
#define OVERTAKE_SLACK (1 * TS_NS_PER_MS)

struct contrib {
	ts_ns from, to;
	double weight;
};

struct pend_http {
	struct http_txn t;
	uint64_t id;
	int pid;
	ts_ns end;
	struct contrib *c;	/* owned */
	uint32_t nc, cap;
	uint32_t ops;
	int shared;
	int overlap;
};

struct pend_mongo {
	struct mongo_txn t;
	uint64_t id;
	int pid;
	ts_ns end;
};

/*
 * What a process's completed requests say about how it serves them. A
 * pre-fork sync worker (gunicorn sync, mod_wsgi/Apache prefork) takes one
 * request at a time from the shared accept queue, in arrival order: each
 * response starts after the previous one ended, and requests finish in the
 * order they arrived. A threaded or async worker sooner or later shows a
 * response starting before another ended, or a later request overtaking an
 * earlier one; then it is concurrent for good.
 */
struct proc_state {
	int pid;		/* 0: free slot */
	int concurrent;
	uint32_t served;	/* requests judged */
	ts_ns last_req_first, last_resp_last;
};

/* A ring buffer of fixed-size slots, growing by doubling. */
struct ring {
	void *slots;
	size_t elem, cap, head, len;
};

struct join {
	struct join_config cfg;
	struct ring http;
	struct ring mongo;
	uint64_t next_http_id, next_mongo_id;
	int (*resolve)(void *ctx, uint64_t flow_id);
	void *resolve_ctx;
	ts_ns max_http_latency;	/* bounds the search for requests containing a call */
	uint64_t forced;
	uint64_t *ids;		/* scratch for joined_mongo.http_ids */
	size_t ids_cap;
	struct pend_http **cand;	/* scratch: candidates of one call */
	size_t cand_cap;
	struct proc_state procs[PROC_SLOTS];
};

const char *attribution_name(enum attribution a)
{
	switch (a) {
	case ATTRIBUTION_EXACT: return "exact";
	case ATTRIBUTION_SHARED: return "shared";
	case ATTRIBUTION_OVERLAP: return "overlap";
	default: return "none";
	}
}

static void *ring_at(struct ring *r, size_t i)
{
	return (char *)r->slots + ((r->head + i) % r->cap) * r->elem;
}

static void *ring_push(struct ring *r)
{
	if (r->len == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 256;
		char *n = malloc(ncap * r->elem);
		if (!n)
			return NULL;
		for (size_t i = 0; i < r->len; i++)
			memcpy(n + i * r->elem, ring_at(r, i), r->elem);
		free(r->slots);
		r->slots = n;
		r->cap = ncap;
		r->head = 0;
	}
	void *slot = ring_at(r, r->len);
	r->len++;
	return slot;
}

static void ring_pop(struct ring *r)
{
	r->head = (r->head + 1) % r->cap;
	r->len--;
}

struct join *join_new(const struct join_config *cfg)
{
	struct join *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->cfg = *cfg;
	if (j->cfg.window <= 0)
		j->cfg.window = 5 * TS_NS_PER_SEC;
	if (j->cfg.max_pending == 0)
		j->cfg.max_pending = 65536;
	j->http.elem = sizeof(struct pend_http);
	j->mongo.elem = sizeof(struct pend_mongo);
	j->next_http_id = j->next_mongo_id = 1;
	return j;
}

static ts_ns txn_end(const struct txn_times *t)
{
	ts_ns e = t->resp_last;
	if (e == TS_NONE) e = t->resp_first;
	if (e == TS_NONE) e = t->req_last;
	if (e == TS_NONE) e = t->req_first;
	return e == TS_NONE ? 0 : e;
}

/*
 * Times are kept truncated to whole microseconds, as the CSV files print
 * them, so that everything derived from them (attribution, latencies,
 * percentiles) is exactly what `tierprobe report` recomputes from the files.
 */
static void floor_times(struct txn_times *t)
{
	t->req_first = timestamp_floor_us(t->req_first);
	t->req_last = timestamp_floor_us(t->req_last);
	t->resp_first = timestamp_floor_us(t->resp_first);
	t->resp_last = timestamp_floor_us(t->resp_last);
}

static int complete(const struct txn_times *t)
{
	return t->req_first != TS_NONE && t->resp_last != TS_NONE;
}

static int cmp_contrib(const void *x, const void *y)
{
	const struct contrib *a = x, *b = y;
	return (a->from > b->from) - (a->from < b->from);
}

static int cmp_ts(const void *x, const void *y)
{
	ts_ns a = *(const ts_ns *)x, b = *(const ts_ns *)y;
	return (a > b) - (a < b);
}

/*
 * The weighted union of the calls' intervals, clipped to [lo, hi]: at every
 * instant the shares of the calls running then add up, capped at 1. Exact
 * calls (share 1) are a plain union, so a request's parallel calls count
 * once; shared calls (1/k each, k requests of one threaded process in flight)
 * that run at the same time are usually different threads' calls, one per
 * request, so their shares add: the process's DB time is kept whole.
 */
static double weighted_union(struct contrib *c, uint32_t n, ts_ns lo, ts_ns hi)
{
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (c[i].from < lo) c[i].from = lo;
		if (c[i].to > hi) c[i].to = hi;
	}
	qsort(c, n, sizeof(*c), cmp_contrib);
	int same = 1;
	for (uint32_t i = 0; i < n; i++)
		if (c[i].weight != 1.0)
			same = 0;
	double total = 0;
	if (same) {
		/* The common case (exact attribution): merge sorted intervals. */
		ts_ns s = c[0].from, e = c[0].to;
		for (uint32_t i = 1; i < n; i++) {
			if (c[i].from > e) {
				if (e > s) total += (double)(e - s);
				s = c[i].from;
				e = c[i].to;
			} else if (c[i].to > e) {
				e = c[i].to;
			}
		}
		if (e > s) total += (double)(e - s);
		return total;
	}
	/* Shares: walk the elementary segments between all boundaries. */
	ts_ns *pts = malloc(2 * (size_t)n * sizeof(*pts));
	if (!pts)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		pts[2 * i] = c[i].from;
		pts[2 * i + 1] = c[i].to;
	}
	qsort(pts, 2 * (size_t)n, sizeof(*pts), cmp_ts);
	for (size_t p = 0; p + 1 < 2 * (size_t)n; p++) {
		ts_ns a = pts[p], b = pts[p + 1];
		if (b <= a)
			continue;
		double w = 0;
		for (uint32_t i = 0; i < n && c[i].from <= a; i++)
			if (c[i].to >= b)
				w += c[i].weight;
		total += (w < 1.0 ? w : 1.0) * (double)(b - a);
	}
	free(pts);
	return total;
}

static int pid_of(struct join *j, int *pid, uint64_t flow_id);

/* The process's slot (created on first use), or NULL when the table is full. */
static struct proc_state *proc_get(struct join *j, int pid)
{
	size_t i = ((size_t)(unsigned)pid * 2654435761u) & (PROC_SLOTS - 1);
	for (size_t n = 0; n < PROC_SLOTS; n++, i = (i + 1) & (PROC_SLOTS - 1)) {
		struct proc_state *p = &j->procs[i];
		if (p->pid == pid)
			return p;
		if (p->pid == 0) {
			p->pid = pid;
			return p;
		}
	}
	return NULL;
}

/* Requests are judged in the order they end: compare each with the process's previous one. */
static void proc_observe(struct join *j, const struct pend_http *h)
{
	struct proc_state *p = h->pid > 0 && complete(&h->t.t) ? proc_get(j, h->pid) : NULL;
	if (!p || p->concurrent)
		return;
	const struct txn_times *t = &h->t.t;
	ts_ns resp_first = t->resp_first != TS_NONE ? t->resp_first : t->resp_last;
	if (p->served > 0 && (resp_first < p->last_resp_last || t->req_first + OVERTAKE_SLACK < p->last_req_first)) {
		p->concurrent = 1;	/* overlapping responses, or overtaken: not one at a time */
		return;
	}
	p->served++;
	p->last_req_first = t->req_first;
	p->last_resp_last = t->resp_last;
}

static int proc_serial(struct join *j, int pid)
{
	struct proc_state *p = proc_get(j, pid);
	return p && !p->concurrent && p->served >= SERIAL_EVIDENCE;
}

static int cmp_cand(const void *x, const void *y)
{
	const struct pend_http *a = *(struct pend_http *const *)x, *b = *(struct pend_http *const *)y;
	return (a->end > b->end) - (a->end < b->end);
}

/*
 * k requests of one serial process contain the call. The process was
 * working on the one it finished first; the others were still waiting in
 * the accept queue (not in the process yet), provided each began its
 * response after the one before it ended. Returns 1 and leaves that one
 * first, or 0 when they do not line up (then the process is concurrent
 * after all).
 */
static int serial_owner(struct join *j, size_t k, int pid)
{
	qsort(j->cand, k, sizeof(*j->cand), cmp_cand);
	for (size_t i = 0; i + 1 < k; i++) {
		const struct txn_times *a = &j->cand[i]->t.t, *b = &j->cand[i + 1]->t.t;
		ts_ns b_resp = b->resp_first != TS_NONE ? b->resp_first : b->resp_last;
		if (b_resp < a->resp_last) {
			struct proc_state *p = proc_get(j, pid);
			if (p)
				p->concurrent = 1;
			return 0;
		}
	}
	return 1;
}

static void judge_http(struct join *j, struct pend_http *h)
{
	pid_of(j, &h->pid, h->t.flow_id);
	proc_observe(j, h);
	struct joined_http out = { .t = &h->t, .id = h->id, .pid = h->pid, .db_ns = -1 };

	if (complete(&h->t.t)) {
		out.db_ns = weighted_union(h->c, h->nc, h->t.t.req_first, h->t.t.resp_last);
		out.db_ops = h->ops;
		if (!j->cfg.pids_known || h->pid <= 0 || h->overlap)
			out.attribution = ATTRIBUTION_OVERLAP;
		else
			out.attribution = h->shared ? ATTRIBUTION_SHARED : ATTRIBUTION_EXACT;
	}
	j->cfg.emit_http(j->cfg.ctx, &out);
	free(h->c);
}

static void add_contrib(struct pend_http *h, const struct mongo_txn *m, double weight)
{
	h->ops++;
	if (h->nc == h->cap) {
		if (h->cap >= MAX_CONTRIB)
			return;
		uint32_t ncap = h->cap ? h->cap * 2 : 4;
		struct contrib *n = realloc(h->c, ncap * sizeof(*n));
		if (!n)
			return;
		h->c = n;
		h->cap = ncap;
	}
	h->c[h->nc++] = (struct contrib){ m->t.req_first, m->t.resp_last, weight };
}

static void judge_mongo(struct join *j, struct pend_mongo *m)
{
	size_t k = 0;
	pid_of(j, &m->pid, m->t.flow_id);
	struct joined_mongo out = { .t = &m->t, .id = m->id, .pid = m->pid };

	/* A driver's monitor waiting on an awaitable hello is nobody's request time. */
	if (complete(&m->t.t) && !(m->t.notes & TXN_NOTE_MONITOR)) {
		int by_pid = j->cfg.pids_known && m->pid > 0;
		ts_ns limit = m->t.t.req_first + j->max_http_latency;
		for (size_t i = 0; i < j->http.len; i++) {
			struct pend_http *h = ring_at(&j->http, i);
			if (!complete(&h->t.t))
				continue;
			if (h->end > limit)
				break;	/* completes too late to have started before m */
			if (h->t.t.req_first > m->t.t.req_first || h->end < m->t.t.resp_last)
				continue;
			if (by_pid && pid_of(j, &h->pid, h->t.flow_id) != m->pid)
				continue;
			if (k == j->cand_cap) {
				size_t ncap = j->cand_cap ? j->cand_cap * 2 : 16;
				void *n = realloc(j->cand, ncap * sizeof(*j->cand));
				void *n2 = realloc(j->ids, ncap * sizeof(*j->ids));
				if (n) j->cand = n;
				if (n2) j->ids = n2;
				if (!n || !n2)
					break;
				j->cand_cap = j->ids_cap = ncap;
			}
			j->cand[k] = h;
			j->ids[k] = h->id;
			k++;
		}
		if (by_pid && k > 1 && proc_serial(j, m->pid) && serial_owner(j, k, m->pid)) {
			k = 1;
			j->ids[0] = j->cand[0]->id;
		}
		for (size_t i = 0; i < k; i++) {
			add_contrib(j->cand[i], &m->t, 1.0 / (double)k);
			if (k > 1)
				j->cand[i]->shared = 1;
			if (!by_pid)
				j->cand[i]->overlap = 1;
		}
	}
	out.k = (unsigned)k;
	out.http_ids = j->ids;
	j->cfg.emit_mongo(j->cfg.ctx, &out);
}

/* Judges the oldest held transaction; calls are judged before requests ending at the same time. */
static int judge_oldest(struct join *j, ts_ns before, int force)
{
	struct pend_http *h = j->http.len ? ring_at(&j->http, 0) : NULL;
	struct pend_mongo *m = j->mongo.len ? ring_at(&j->mongo, 0) : NULL;
	if (m && (!h || m->end <= h->end)) {
		if (!force && m->end >= before)
			return 0;
		judge_mongo(j, m);
		ring_pop(&j->mongo);
		return 1;
	}
	if (h) {
		if (!force && h->end >= before)
			return 0;
		judge_http(j, h);
		ring_pop(&j->http);
		return 1;
	}
	return 0;
}

void join_http(struct join *j, const struct http_txn *t, int pid)
{
	if (j->http.len >= j->cfg.max_pending) {
		j->forced++;
		judge_oldest(j, 0, 1);
	}
	struct pend_http *h = ring_push(&j->http);
	if (!h)
		return;
	memset(h, 0, sizeof(*h));
	h->t = *t;
	floor_times(&h->t.t);
	h->id = j->next_http_id++;
	h->pid = pid;
	h->end = txn_end(&t->t);
	if (complete(&t->t) && t->t.resp_last - t->t.req_first > j->max_http_latency)
		j->max_http_latency = t->t.resp_last - t->t.req_first;
}

void join_mongo(struct join *j, const struct mongo_txn *t, int pid)
{
	if (j->mongo.len >= j->cfg.max_pending) {
		j->forced++;
		judge_oldest(j, 0, 1);
	}
	struct pend_mongo *m = ring_push(&j->mongo);
	if (!m)
		return;
	m->t = *t;
	floor_times(&m->t.t);
	m->id = j->next_mongo_id++;
	m->pid = pid;
	m->end = txn_end(&t->t);
}

void join_advance(struct join *j, ts_ns now)
{
	while (judge_oldest(j, now - j->cfg.window, 0))
		;
}

void join_flush(struct join *j)
{
	while (judge_oldest(j, 0, 1))
		;
}

void join_set_resolver(struct join *j, int (*resolve)(void *ctx, uint64_t flow_id), void *ctx)
{
	j->resolve = resolve;
	j->resolve_ctx = ctx;
	j->cfg.pids_known = resolve != NULL;
}

static int pid_of(struct join *j, int *pid, uint64_t flow_id)
{
	if (*pid <= 0 && j->resolve)
		*pid = j->resolve(j->resolve_ctx, flow_id);
	return *pid;
}

uint64_t join_forced(const struct join *j)
{
	return j->forced;
}

void join_free(struct join *j)
{
	if (!j)
		return;
	/* Whatever is still held is dropped, not emitted: the caller flushes first if it wants it. */
	for (size_t i = 0; i < j->http.len; i++)
		free(((struct pend_http *)ring_at(&j->http, i))->c);
	free(j->http.slots);
	free(j->mongo.slots);
	free(j->ids);
	free(j->cand);
	free(j);
}
