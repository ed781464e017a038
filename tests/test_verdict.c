/*
 * test_verdict.c - the verdict rules on synthetic runs with known answers,
 * in particular the two that tell a saturated host or queued requests from
 * their cause: a CPU-saturated host filled by the web tier is web-cpu (host
 * secondary), and pre-fork workers all busy waiting on MongoDB is database
 * (web-workers secondary) even when queueing dilutes the DB share of latency.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "verdict.h"

#define NI 10

struct run {
	struct aggregate a;
	struct quality q;
	struct interval_stats iv[NI];
	struct run_info info;
	struct verdict v;
};

/* 10 loaded intervals on 2 cores, 100 requests, a pre-fork server of 5 workers (6 pids). */
static void setup_run(struct run *r, double db_share_pct, double idle, double web_cpu, double in_flight)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(aggregate_init(&r->a), 0);
	r->a.http_count = r->a.http_complete = 100;
	r->a.http_latency_attributed_ns = 100 * 10e6;
	r->a.http_db_ns = r->a.http_latency_attributed_ns * db_share_pct / 100.0;
	for (int i = 0; i < 100; i++)
		dist_add(&r->a.http_latency, 10e6);
	for (int i = 0; i < NI; i++) {
		struct interval_stats *s = &r->iv[i];
		for (int k = 0; k < SI_COUNT; k++)
			s->in[k] = NAN;
		s->end = (ts_ns)(i + 1) * TS_NS_PER_SEC;
		s->http_count = 10;
		s->http_p50_ms = 10;
		s->in_flight = in_flight;
		s->mongo_mean_ms = 1.0;
		s->in[SI_CPU_IDLE] = idle;
		s->in[SI_CPU_IOWAIT] = 0;
		s->in[SI_CPU_STEAL] = 0;
		s->in[SI_SWAP_IN] = s->in[SI_SWAP_OUT] = 0;
		s->in[SI_WEB_PIDS] = 6;
		s->in[SI_WEB_CPU] = web_cpu;
		s->in[SI_MONGOD_CPU] = 10;
		s->in[SI_SELF_CPU] = 5;
		s->in[SI_MONGO_SERVER_LATENCY] = 0.9;
	}
	r->info.mode = "run";
	r->info.cores = 2;
	r->info.intervals = r->iv;
	r->info.nintervals = NI;
}

static void decide(struct run *r)
{
	verdict_decide(&r->a, &r->q, &r->info, &r->v);
}

static void done(struct run *r)
{
	verdict_release(&r->v);
	aggregate_release(&r->a);
}

static int has_secondary(const struct verdict *v, const char *name)
{
	for (size_t i = 0; i < v->nsecondary; i++)
		if (!strcmp(v->secondary[i], name))
			return 1;
	return 0;
}

static int evidence_has(const struct verdict *v, const char *needle)
{
	for (size_t i = 0; i < v->nevidence; i++)
		if (strstr(v->evidence[i], needle))
			return 1;
	return 0;
}

static void saturated_host_filled_by_web_is_web_cpu(void **state)
{
	(void)state;
	struct run r;
	/* idle 2% of 2 cores: 196% in use, 120% of it the web tier (61%), 60% of its 5 workers' cap */
	setup_run(&r, 20, 2, 120, 4);
	decide(&r);
	assert_string_equal(r.v.primary, "web-cpu");
	assert_true(has_secondary(&r.v, "host"));
	assert_true(evidence_has(&r.v, "largest part"));
	assert_true(evidence_has(&r.v, "other processes"));
	done(&r);
}

static void saturated_host_filled_by_others_is_host(void **state)
{
	(void)state;
	struct run r;
	/* the same saturation, but the web tier uses 60% of the 196%: someone else fills it */
	setup_run(&r, 20, 2, 60, 4);
	decide(&r);
	assert_string_equal(r.v.primary, "host");
	assert_true(evidence_has(&r.v, "other processes"));
	done(&r);
}

static void busy_workers_waiting_on_mongo_is_database(void **state)
{
	(void)state;
	struct run r;
	/* 9 requests in flight for 5 workers, 45% of latency in MongoDB: 4 of the 5 workers'
	 * time (81%) is MongoDB, the rest of the latency is queueing for a worker */
	setup_run(&r, 45, 70, 25, 9);
	decide(&r);
	assert_string_equal(r.v.primary, "database");
	assert_true(has_secondary(&r.v, "web-workers"));
	assert_true(evidence_has(&r.v, "waiting on MongoDB"));
	done(&r);
}

static void busy_workers_not_on_mongo_is_web_workers(void **state)
{
	(void)state;
	struct run r;
	/* the same queue, but only 5% in MongoDB: the workers wait on something else */
	setup_run(&r, 5, 70, 25, 9);
	decide(&r);
	assert_string_equal(r.v.primary, "web-workers");
	done(&r);
}

static void high_db_share_is_database(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r, 92, 70, 25, 4);
	decide(&r);
	assert_string_equal(r.v.primary, "database");
	assert_string_equal(r.v.confidence, "high");
	assert_false(has_secondary(&r.v, "web-workers"));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(saturated_host_filled_by_web_is_web_cpu),
		cmocka_unit_test(saturated_host_filled_by_others_is_host),
		cmocka_unit_test(busy_workers_waiting_on_mongo_is_database),
		cmocka_unit_test(busy_workers_not_on_mongo_is_web_workers),
		cmocka_unit_test(high_db_share_is_database),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
