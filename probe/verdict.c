/*
 * verdict.c - the rules that turn measurements into "where the time goes".
 * README.md ("How the verdict is reached") states them in prose; the
 * thresholds are the VERDICT_* constants in verdict.h.
 */
#include "verdict.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

static void say(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct verdict *v, const char *fmt, ...)
{
	if (v->nevidence >= VERDICT_MAX_EVIDENCE)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v->evidence[v->nevidence] = strdup(buf);
	if (v->nevidence < VERDICT_MAX_EVIDENCE && v->evidence[v->nevidence])
		v->nevidence++;
}

static void also(struct verdict *v, const char *name)
{
	if (strcmp(v->primary, name) == 0)
		return;
	for (size_t i = 0; i < v->nsecondary; i++)
		if (strcmp(v->secondary[i], name) == 0)
			return;
	if (v->nsecondary < VERDICT_MAX_SECONDARY)
		v->secondary[v->nsecondary++] = name;
}

/* Two significant figures, for sentences. */
static const char *s2(double x, char *buf, size_t len)
{
	fmt_sig(x, 2, buf, len);
	if (!buf[0])
		snprintf(buf, len, "?");
	return buf;
}

/* What the per-interval samples say, over the intervals that carried traffic. */
struct host_view {
	size_t n;			/* loaded intervals */
	double cpu_idle, iowait, steal;	/* means, % */
	double cpu_saturated_share;	/* share of intervals with idle below the threshold */
	double run_queue;		/* mean runnable tasks */
	double swap_kib_s;		/* mean swap in + out */
	double disk_util;		/* mean of the busiest disk's utilisation */
	double web_cpu;			/* mean % of one core */
	double web_workers;		/* web processes minus the master; NAN when unknown */
	int prefork;			/* a master plus worker processes: the worker count is known */
	double web_cap;			/* what the web tier could use: 100 x min(cores, workers) */
	double mongod_cpu, self_cpu;
	double busy_cpu;		/* host CPU in use, % of one core (100 - idle) x cores */
	double in_flight;		/* mean concurrent HTTP requests */
	double queue_share;		/* intervals where MongoDB queued or ran out of tickets */
	double client_ms, server_ms;	/* MongoDB latency: wire (client) and serverStatus */
	double p50_first, p50_last;	/* median latency in the first and last third */
	uint64_t drops;
};

static double mean_of(const struct interval_stats *s, size_t n, int in, int only_loaded)
{
	double sum = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (only_loaded && s[i].http_count == 0)
			continue;
		double x = s[i].in[in];
		if (isfinite(x)) {
			sum += x;
			k++;
		}
	}
	return k ? sum / (double)k : NAN;
}

static void view_host(const struct run_info *info, struct host_view *h)
{
	const struct interval_stats *s = info->intervals;
	size_t n = info->nintervals;
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		h->drops += s[i].drops;
		if (s[i].http_count > 0)
			h->n++;
	}
	h->cpu_idle = mean_of(s, n, SI_CPU_IDLE, 1);
	h->iowait = mean_of(s, n, SI_CPU_IOWAIT, 1);
	h->steal = mean_of(s, n, SI_CPU_STEAL, 1);
	h->run_queue = mean_of(s, n, SI_PROCS_RUNNING, 1);
	h->disk_util = mean_of(s, n, SI_DISK_UTIL_MAX, 1);
	h->web_cpu = mean_of(s, n, SI_WEB_CPU, 1);
	h->mongod_cpu = mean_of(s, n, SI_MONGOD_CPU, 1);
	h->self_cpu = mean_of(s, n, SI_SELF_CPU, 1);
	h->swap_kib_s = mean_of(s, n, SI_SWAP_IN, 1) + mean_of(s, n, SI_SWAP_OUT, 1);
	double pids = mean_of(s, n, SI_WEB_PIDS, 1);
	/* a pre-fork server (gunicorn, Apache) is a master plus its workers */
	h->web_workers = isfinite(pids) && pids >= 2 ? round(pids) - 1 : isfinite(pids) && pids >= 1 ? 1 : NAN;
	h->prefork = isfinite(pids) && pids >= 2;
	double cores = info->cores > 0 ? info->cores : 1;
	h->web_cap = 100.0 * (isfinite(h->web_workers) ? fmin(cores, h->web_workers) : cores);
	h->busy_cpu = isfinite(h->cpu_idle) ? fmax(0.0, 100.0 - h->cpu_idle) * cores : NAN;

	size_t sat = 0, queued = 0, k = 0, kq = 0;
	double inflight = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i].http_count == 0)
			continue;
		k++;
		if (isfinite(s[i].in[SI_CPU_IDLE]) && s[i].in[SI_CPU_IDLE] < VERDICT_CPU_IDLE_SATURATED)
			sat++;
		if (isfinite(s[i].in[SI_MONGO_QUEUE]) || isfinite(s[i].in[SI_MONGO_TICKETS])) {
			kq++;
			if (s[i].in[SI_MONGO_QUEUE] > 0 || s[i].in[SI_MONGO_TICKETS] == 0)
				queued++;
		}
		if (isfinite(s[i].in_flight))
			inflight += s[i].in_flight;
	}
	samples_mongo_latency(s, n, &h->client_ms, &h->server_ms);
	h->cpu_saturated_share = k ? (double)sat / (double)k : NAN;
	h->queue_share = kq ? (double)queued / (double)kq : NAN;
	h->in_flight = k ? inflight / (double)k : NAN;

	/* latency trend: medians of the first and last third of the loaded intervals */
	size_t third = k / 3, seen = 0, a = 0, b = 0;
	double first = 0, last = 0;
	for (size_t i = 0; i < n && third > 0; i++) {
		if (s[i].http_count == 0 || !isfinite(s[i].http_p50_ms))
			continue;
		if (seen < third) {
			first += s[i].http_p50_ms;
			a++;
		} else if (seen >= k - third) {
			last += s[i].http_p50_ms;
			b++;
		}
		seen++;
	}
	h->p50_first = a ? first / (double)a : NAN;
	h->p50_last = b ? last / (double)b : NAN;
}

/* The shape that takes the largest part of MongoDB time, if one dominates. */
static void name_top_shape(struct verdict *v, const struct aggregate *a)
{
	char b1[32];
	const struct shape_stats *top = NULL;
	for (size_t i = 0; i < a->nshapes; i++)
		if (!top || a->shapes[i].latency.sum > top->latency.sum)
			top = &a->shapes[i];
	if (!top || a->mongo_latency.sum <= 0)
		return;
	double share = 100.0 * top->latency.sum / a->mongo_latency.sum;
	say(v, "the query shape '%s' takes %s%% of MongoDB time (%" PRIu64 " calls)", top->shape,
	    s2(share, b1, sizeof(b1)), top->count);
}

/* Routes where the database dominates, and routes with many calls per request (N+1). */
static void name_db_routes(struct verdict *v, const struct aggregate *a)
{
	char b1[32], b2[32];
	int named = 0;
	for (size_t i = 0; i < a->nroutes && named < 3; i++) {
		const struct route_stats *r = &a->routes[i];
		if (!r->attributed || r->latency_sum_ns <= 0)
			continue;
		double share = 100.0 * r->db_ns / r->latency_sum_ns;
		double calls = (double)r->db_ops / (double)r->attributed;
		if (calls >= VERDICT_N_PLUS_ONE_CALLS)
			say(v, "%s %s makes %s MongoDB calls per request (N+1 pattern?)", r->method, r->route,
			    s2(calls, b1, sizeof(b1)));
		if (share >= VERDICT_DB_SHARE_PCT) {
			say(v, "%s %s: %s%% of its time is MongoDB", r->method, r->route, s2(share, b2, sizeof(b2)));
			named++;
		}
	}
}

/* Who uses the host's CPU: the web tier, mongod, tierprobe, and everything else. */
static void name_cpu_users(struct verdict *v, const struct host_view *h, int cores)
{
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	if (!isfinite(h->busy_cpu) || !isfinite(h->web_cpu))
		return;
	double known = h->web_cpu + (isfinite(h->mongod_cpu) ? h->mongod_cpu : 0) +
		       (isfinite(h->self_cpu) ? h->self_cpu : 0);
	say(v, "of the %s%% CPU in use (of %d%%), the web tier used %s%%, mongod %s%%, tierprobe %s%%, "
	       "other processes (the load generator included) %s%%",
	    s2(h->busy_cpu, b1, sizeof(b1)), 100 * cores, s2(h->web_cpu, b2, sizeof(b2)),
	    isfinite(h->mongod_cpu) ? s2(h->mongod_cpu, b3, sizeof(b3)) : "?",
	    isfinite(h->self_cpu) ? s2(h->self_cpu, b4, sizeof(b4)) : "?",
	    s2(fmax(0.0, h->busy_cpu - known), b5, sizeof(b5)));
}

void verdict_decide(struct aggregate *a, const struct quality *q, const struct run_info *info,
		    struct verdict *v)
{
	char b1[32], b2[32], b3[32];
	memset(v, 0, sizeof(*v));
	v->primary = "inconclusive";
	v->confidence = "low";

	/* 1. Is the measurement good enough to say anything? */
	struct host_view h;
	view_host(info, &h);
	/*
	 * The run's totals and the per-interval deltas count the same drops (the
	 * intervals only split them in time): the larger, never their sum.
	 */
	uint64_t drops = q->kernel_drops + q->iface_drops;
	if (h.drops > drops)
		drops = h.drops;
	uint64_t bad = q->http_unmatched_requests + q->http_unmatched_responses + q->http_gaps +
		       q->http_parse_errors;
	double bad_pct = a->http_count ? 100.0 * (double)bad / (double)a->http_count : 0;
	if (drops) {
		say(v, "the kernel dropped %" PRIu64 " packets: transactions are missing, so no verdict "
		       "(raise --buffer-mib or lower the load on the probe)", drops);
		return;
	}
	if (a->http_count < VERDICT_MIN_REQUESTS) {
		say(v, "only %" PRIu64 " HTTP requests seen (at least %d needed)", a->http_count,
		    VERDICT_MIN_REQUESTS);
		return;
	}
	if (bad_pct > VERDICT_MAX_BAD_PCT) {
		say(v, "%s%% of HTTP transactions are unmatched, gapped or unparsable (limit %s%%)",
		    s2(bad_pct, b1, sizeof(b1)), s2(VERDICT_MAX_BAD_PCT, b2, sizeof(b2)));
		return;
	}

	double share = a->http_latency_attributed_ns > 0
		? 100.0 * a->http_db_ns / a->http_latency_attributed_ns : NAN;
	int live = info->nintervals > 0 && h.n > 0;
	double mean_ms = dist_mean(&a->http_latency) / 1e6;
	if (isfinite(share))
		say(v, "MongoDB accounts for %s%% of HTTP request time (mean request %s ms)",
		    s2(share, b1, sizeof(b1)), s2(mean_ms, b2, sizeof(b2)));

	int host_saturated = live &&
		((isfinite(h.cpu_saturated_share) && h.cpu_saturated_share >= 0.5) ||
		 (isfinite(h.swap_kib_s) && h.swap_kib_s > VERDICT_SWAP_KIB_S) ||
		 (isfinite(h.iowait) && h.iowait > VERDICT_IOWAIT_PCT) ||
		 (isfinite(h.disk_util) && h.disk_util > VERDICT_DISK_UTIL_PCT) ||
		 (isfinite(h.steal) && h.steal > VERDICT_STEAL_PCT));
	double web_util = isfinite(h.web_cpu) ? h.web_cpu / h.web_cap : NAN;
	int network = isfinite(h.client_ms) && isfinite(h.server_ms) &&
		      h.client_ms - h.server_ms > VERDICT_NETWORK_MIN_MS &&
		      h.client_ms - h.server_ms > VERDICT_NETWORK_SHARE * h.client_ms;
	int workers_full = isfinite(h.web_workers) && isfinite(h.in_flight) &&
			   h.in_flight >= VERDICT_WORKERS_BUSY * h.web_workers;

	if (live) {
		if (isfinite(h.cpu_idle))
			say(v, "host CPU idle %s%% on average (%d cores), %s%% of loaded intervals below %d%%",
			    s2(h.cpu_idle, b1, sizeof(b1)), info->cores, s2(100 * h.cpu_saturated_share, b2, sizeof(b2)),
			    (int)VERDICT_CPU_IDLE_SATURATED);
		if (isfinite(h.web_cpu))
			say(v, "web tier CPU %s%% of one core, %s%% of what its %.0f workers can use",
			    s2(h.web_cpu, b1, sizeof(b1)), s2(100 * web_util, b2, sizeof(b2)),
			    isfinite(h.web_workers) ? h.web_workers : 0.0);
		if (isfinite(h.in_flight))
			say(v, "%s requests in flight on average", s2(h.in_flight, b1, sizeof(b1)));
	}

	/*
	 * Requests queued for a worker make the DB share of latency look small while the
	 * workers themselves wait on MongoDB: with every pre-fork worker busy, the requests
	 * inside MongoDB at a time (Little's law: DB share x requests in flight) over the
	 * worker count is the share of worker time spent waiting on the database.
	 */
	double db_worker_share = NAN;
	if (workers_full && h.prefork && isfinite(share) && h.web_workers > 0 &&
	    h.in_flight >= h.web_workers)
		db_worker_share = fmin(1.0, share / 100.0 * h.in_flight / h.web_workers);
	int db_holds_workers = isfinite(db_worker_share) && db_worker_share >= VERDICT_DB_WORKER_SHARE;

	/* 2. The database. */
	if (isfinite(share) && (share >= VERDICT_DB_SHARE_PCT || db_holds_workers)) {
		v->primary = "database";
		v->confidence = share >= VERDICT_DB_SHARE_HIGH_PCT ? "high" : "medium";
		if (share < VERDICT_DB_SHARE_PCT) {
			say(v, "all %s workers are busy (%s requests in flight) and they spend %s%% of their "
			       "time waiting on MongoDB: the rest of the request time is queueing for a worker",
			    s2(h.web_workers, b1, sizeof(b1)), s2(h.in_flight, b2, sizeof(b2)),
			    s2(100 * db_worker_share, b3, sizeof(b3)));
			also(v, "web-workers");
		}
		name_db_routes(v, a);
		name_top_shape(v, a);
		if (isfinite(h.queue_share) && h.queue_share > 0)
			say(v, "MongoDB queued or ran out of tickets in %s%% of intervals",
			    s2(100 * h.queue_share, b1, sizeof(b1)));
		if (isfinite(h.server_ms))
			say(v, "server-side latency %s ms (serverStatus) against %s ms seen on the wire",
			    s2(h.server_ms, b1, sizeof(b1)), s2(h.client_ms, b2, sizeof(b2)));
		if (isfinite(h.mongod_cpu))
			say(v, "mongod used %s%% of one core", s2(h.mongod_cpu, b1, sizeof(b1)));
		if (network)
			also(v, "network");
		if (host_saturated)
			also(v, "host");
		return;
	}
	if (!live) {
		/* Offline: the wire alone cannot tell a busy CPU from starved workers. */
		if (isfinite(share))
			say(v, "the rest is web-tier time, but without host samples (tierprobe run) CPU and "
			       "worker starvation cannot be told apart");
		else
			say(v, "no MongoDB call could be linked to an HTTP request");
		return;
	}

	/* The web tier fills a CPU-saturated host: it is the largest part of the CPU in use. */
	int cpu_saturated = isfinite(h.cpu_saturated_share) && h.cpu_saturated_share >= 0.5;
	double web_share = isfinite(h.web_cpu) && isfinite(h.busy_cpu) && h.busy_cpu > 0
		? h.web_cpu / h.busy_cpu : NAN;
	int web_fills_host = cpu_saturated && isfinite(web_share) && web_share >= VERDICT_WEB_CPU_SHARE;

	/* 3. The host, saturated by something other than the web tier. */
	if (host_saturated && !(isfinite(web_util) && web_util >= VERDICT_WEB_CPU_BUSY) && !web_fills_host) {
		v->primary = "host";
		v->confidence = "medium";
		if (isfinite(h.run_queue))
			say(v, "%s runnable tasks on %d cores", s2(h.run_queue, b1, sizeof(b1)), info->cores);
		if (isfinite(h.swap_kib_s) && h.swap_kib_s > VERDICT_SWAP_KIB_S)
			say(v, "swapping %s KiB/s", s2(h.swap_kib_s, b1, sizeof(b1)));
		if (isfinite(h.iowait) && h.iowait > VERDICT_IOWAIT_PCT)
			say(v, "CPU iowait %s%%", s2(h.iowait, b1, sizeof(b1)));
		if (isfinite(h.disk_util) && h.disk_util > VERDICT_DISK_UTIL_PCT)
			say(v, "busiest disk %s%% utilised", s2(h.disk_util, b1, sizeof(b1)));
		if (isfinite(h.steal) && h.steal > VERDICT_STEAL_PCT)
			say(v, "CPU steal %s%%", s2(h.steal, b1, sizeof(b1)));
		if (cpu_saturated)
			name_cpu_users(v, &h, info->cores);
		if (workers_full)
			also(v, "web-workers");
		return;
	}
	/* 4. The web tier's CPU. */
	if ((isfinite(web_util) && web_util >= VERDICT_WEB_CPU_BUSY) || web_fills_host) {
		v->primary = "web-cpu";
		v->confidence = isfinite(web_util) && web_util >= 0.9 ? "high" : "medium";
		if (web_fills_host && !(isfinite(web_util) && web_util >= VERDICT_WEB_CPU_BUSY))
			say(v, "the host's CPU is saturated and the web tier is the largest part of it (%s%% of "
			       "the CPU in use): it would use more if it could get it",
			    s2(100 * web_share, b1, sizeof(b1)));
		if (cpu_saturated)
			name_cpu_users(v, &h, info->cores);
		if (host_saturated)
			also(v, "host");
		return;
	}
	/* 5. Requests waiting for a free worker. */
	if (workers_full) {
		v->primary = "web-workers";
		v->confidence = "medium";
		say(v, "in-flight requests (%s) are at the worker count (%.0f) while the web tier uses "
		       "%s%% of its CPU", s2(h.in_flight, b1, sizeof(b1)), h.web_workers,
		    s2(100 * web_util, b3, sizeof(b3)));
		if (isfinite(h.p50_first) && isfinite(h.p50_last) && h.p50_last > 1.2 * h.p50_first)
			say(v, "median latency grew from %s ms to %s ms during the run",
			    s2(h.p50_first, b1, sizeof(b1)), s2(h.p50_last, b2, sizeof(b2)));
		return;
	}
	/* 6. The network between the application and MongoDB. */
	if (network && isfinite(share) && share >= VERDICT_DB_SHARE_PCT / 2) {
		v->primary = "network";
		v->confidence = "medium";
		say(v, "MongoDB answers in %s ms on the server but %s ms on the wire", s2(h.server_ms, b1, sizeof(b1)),
		    s2(h.client_ms, b2, sizeof(b2)));
		return;
	}
	/* 7. Nothing saturated: headroom. */
	v->primary = "none";
	v->confidence = "medium";
	say(v, "nothing is saturated: host CPU %s%% idle, web tier at %s%% of its CPU, %s of %.0f workers busy",
	    s2(h.cpu_idle, b1, sizeof(b1)), s2(100 * web_util, b2, sizeof(b2)),
	    s2(h.in_flight, b3, sizeof(b3)), isfinite(h.web_workers) ? h.web_workers : 0.0);
	if (isfinite(h.web_workers) && isfinite(h.in_flight) && h.in_flight > 0)
		say(v, "headroom: about %s times the current load before the workers are all busy",
		    s2(h.web_workers / h.in_flight, b1, sizeof(b1)));
}

void verdict_release(struct verdict *v)
{
	for (size_t i = 0; i < v->nevidence; i++)
		free(v->evidence[i]);
	v->nevidence = 0;
}
