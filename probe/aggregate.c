/* aggregate.c - per-route and per-shape statistics, bounded in the number of keys. */
#include "aggregate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define INDEX_CAP (AGG_MAX_KEYS * 2)	/* power of two, load factor <= 0.5 */

int aggregate_init(struct aggregate *a)
{
	memset(a, 0, sizeof(*a));
	a->index_cap = INDEX_CAP;
	a->route_index = calloc(INDEX_CAP, sizeof(uint32_t));
	a->shape_index = calloc(INDEX_CAP, sizeof(uint32_t));
	a->first_ts = a->last_ts = TS_NONE;
	if (!a->route_index || !a->shape_index) {
		aggregate_release(a);
		return -1;
	}
	return 0;
}

void aggregate_release(struct aggregate *a)
{
	for (size_t i = 0; i < a->nroutes; i++) {
		dist_release(&a->routes[i].latency);
		dist_release(&a->routes[i].server);
	}
	for (size_t i = 0; i < a->nshapes; i++)
		dist_release(&a->shapes[i].latency);
	dist_release(&a->http_latency);
	dist_release(&a->mongo_latency);
	free(a->routes);
	free(a->shapes);
	free(a->route_index);
	free(a->shape_index);
	memset(a, 0, sizeof(*a));
}

int http_txn_is_error(const struct http_txn *t)
{
	return t->status >= 500 || (t->notes & TXN_NOTE_NO_RESPONSE) || t->status == 0;
}

int mongo_txn_is_error(const struct mongo_txn *t)
{
	return t->ok == 0 || t->error_code != 0;
}

static int grow(void **arr, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	if (ncap > AGG_MAX_KEYS + 1)
		ncap = AGG_MAX_KEYS + 1;
	void *n = realloc(*arr, ncap * elem);
	if (!n)
		return -1;
	memset((char *)n + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = n;
	*cap = ncap;
	return 0;
}

static struct route_stats *route_find(struct aggregate *a, const char *method, const char *route)
{
	uint64_t h = hash_fnv1a(method, strlen(method), HASH_FNV1A_SEED);
	h = hash_fnv1a(" ", 1, h);
	h = hash_fnv1a(route, strlen(route), h);
	size_t mask = a->index_cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t slot = a->route_index[i];
		if (slot == 0) {
			if (a->nroutes >= AGG_MAX_KEYS) {
				/* Full: fold everything new into one bucket. */
				if (strcmp(method, "") != 0 || strcmp(route, "(other)") != 0)
					return route_find(a, "", "(other)");
			}
			if (a->nroutes == a->routes_cap &&
			    grow((void **)&a->routes, &a->routes_cap, sizeof(*a->routes)))
				return NULL;
			struct route_stats *r = &a->routes[a->nroutes++];
			memset(r, 0, sizeof(*r));
			snprintf(r->method, sizeof(r->method), "%s", method);
			snprintf(r->route, sizeof(r->route), "%s", route);
			a->route_index[i] = (uint32_t)a->nroutes;
			return r;
		}
		struct route_stats *r = &a->routes[slot - 1];
		if (strcmp(r->method, method) == 0 && strcmp(r->route, route) == 0)
			return r;
	}
}

static struct shape_stats *shape_find(struct aggregate *a, const struct mongo_txn *t)
{
	size_t mask = a->index_cap - 1;
	uint64_t id = t->shape_id;
	if (a->nshapes >= AGG_MAX_KEYS)
		id = 0;		/* fold overflow into the "no shape" row */
	for (size_t i = (size_t)(id * 0x9E3779B97F4A7C15ull >> 20) & mask;; i = (i + 1) & mask) {
		uint32_t slot = a->shape_index[i];
		if (slot == 0) {
			if (a->nshapes == a->shapes_cap &&
			    grow((void **)&a->shapes, &a->shapes_cap, sizeof(*a->shapes)))
				return NULL;
			struct shape_stats *s = &a->shapes[a->nshapes++];
			memset(s, 0, sizeof(*s));
			s->shape_id = id;
			if (id == t->shape_id) {
				snprintf(s->db, sizeof(s->db), "%s", t->db);
				snprintf(s->collection, sizeof(s->collection), "%s", t->collection);
				snprintf(s->command, sizeof(s->command), "%s", t->command);
				snprintf(s->shape, sizeof(s->shape), "%s", t->shape);
			} else {
				snprintf(s->shape, sizeof(s->shape), "(other)");
			}
			a->shape_index[i] = (uint32_t)a->nshapes;
			return s;
		}
		struct shape_stats *s = &a->shapes[slot - 1];
		if (s->shape_id == id)
			return s;
	}
}

static void note_span(struct aggregate *a, const struct txn_times *t)
{
	ts_ns lo = t->req_first != TS_NONE ? t->req_first : t->resp_first;
	ts_ns hi = t->resp_last != TS_NONE ? t->resp_last : t->req_last;
	if (lo != TS_NONE && (a->first_ts == TS_NONE || lo < a->first_ts))
		a->first_ts = lo;
	if (hi != TS_NONE && (a->last_ts == TS_NONE || hi > a->last_ts))
		a->last_ts = hi;
}

void aggregate_http(struct aggregate *a, const struct http_txn *t, double db_ns, uint64_t db_ops)
{
	int complete = t->t.req_first != TS_NONE && t->t.resp_last != TS_NONE;
	double lat = complete ? (double)(t->t.resp_last - t->t.req_first) : 0;

	a->http_count++;
	note_span(a, &t->t);
	if (http_txn_is_error(t))
		a->http_errors++;
	if (complete) {
		a->http_complete++;
		dist_add(&a->http_latency, lat);
	}
	struct route_stats *r = route_find(a, t->method, t->route[0] ? t->route : "(unknown)");
	if (!r)
		return;
	r->count++;
	if (http_txn_is_error(t))
		r->errors++;
	else if (t->status >= 400)
		r->client_errors++;
	if (complete) {
		dist_add(&r->latency, lat);
		if (t->t.resp_first != TS_NONE && t->t.req_last != TS_NONE)
			dist_add(&r->server, (double)(t->t.resp_first - t->t.req_last));
		if (db_ns >= 0) {
			r->attributed++;
			r->latency_sum_ns += lat;
			r->db_ns += db_ns;
			r->db_ops += db_ops;
			a->http_latency_attributed_ns += lat;
			a->http_db_ns += db_ns;
		}
	}
}

void aggregate_mongo(struct aggregate *a, const struct mongo_txn *t)
{
	int complete = t->t.req_first != TS_NONE && t->t.resp_last != TS_NONE;
	double lat = complete ? (double)(t->t.resp_last - t->t.req_first) : 0;

	a->mongo_count++;
	note_span(a, &t->t);
	if (t->notes & TXN_NOTE_MONITOR)
		return;	/* a driver's monitor waiting by design: no latency, no shape */
	if (mongo_txn_is_error(t))
		a->mongo_errors++;
	if (complete) {
		a->mongo_complete++;
		dist_add(&a->mongo_latency, lat);
	}
	struct shape_stats *s = shape_find(a, t);
	if (!s)
		return;
	s->count++;
	if (mongo_txn_is_error(t))
		s->errors++;
	if (complete)
		dist_add(&s->latency, lat);
}

static int cmp_route(const void *x, const void *y)
{
	const struct route_stats *a = x, *b = y;
	double ta = a->latency.sum, tb = b->latency.sum;
	if (ta != tb)
		return ta < tb ? 1 : -1;
	int c = strcmp(a->route, b->route);
	return c ? c : strcmp(a->method, b->method);
}

static int cmp_shape(const void *x, const void *y)
{
	const struct shape_stats *a = x, *b = y;
	double ta = a->latency.sum, tb = b->latency.sum;
	if (ta != tb)
		return ta < tb ? 1 : -1;
	return a->shape_id < b->shape_id ? -1 : a->shape_id > b->shape_id;
}

void aggregate_sort(struct aggregate *a)
{
	/* The index points at positions: rebuild it after sorting. */
	if (a->nroutes)
		qsort(a->routes, a->nroutes, sizeof(*a->routes), cmp_route);
	if (a->nshapes)
		qsort(a->shapes, a->nshapes, sizeof(*a->shapes), cmp_shape);
	memset(a->route_index, 0, a->index_cap * sizeof(uint32_t));
	memset(a->shape_index, 0, a->index_cap * sizeof(uint32_t));
	size_t mask = a->index_cap - 1;
	for (size_t k = 0; k < a->nroutes; k++) {
		const struct route_stats *r = &a->routes[k];
		uint64_t h = hash_fnv1a(r->method, strlen(r->method), HASH_FNV1A_SEED);
		h = hash_fnv1a(" ", 1, h);
		h = hash_fnv1a(r->route, strlen(r->route), h);
		size_t i = h & mask;
		while (a->route_index[i])
			i = (i + 1) & mask;
		a->route_index[i] = (uint32_t)(k + 1);
	}
	for (size_t k = 0; k < a->nshapes; k++) {
		size_t i = (size_t)(a->shapes[k].shape_id * 0x9E3779B97F4A7C15ull >> 20) & mask;
		while (a->shape_index[i])
			i = (i + 1) & mask;
		a->shape_index[i] = (uint32_t)(k + 1);
	}
}
