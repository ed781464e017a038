/* verdict.c - the rules that turn measurements into "where the time goes". */
#include "verdict.h"

#include <inttypes.h>
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
	if (v->evidence[v->nevidence])
		v->nevidence++;
}

void verdict_decide(struct aggregate *a, const struct quality *q, const struct run_info *info,
		    struct verdict *v)
{
	char b1[32], b2[32];
	(void)info;
	memset(v, 0, sizeof(*v));
	v->primary = "inconclusive";
	v->confidence = "low";

	uint64_t bad = q->http_unmatched_requests + q->http_unmatched_responses + q->http_gaps +
		       q->http_parse_errors;
	double bad_pct = a->http_count ? 100.0 * (double)bad / (double)a->http_count : 0;
	uint64_t drops = q->kernel_drops + q->iface_drops;

	if (drops) {
		say(v, "the kernel dropped %" PRIu64 " packets: transactions are missing", drops);
		return;
	}
	if (a->http_count < VERDICT_MIN_REQUESTS) {
		say(v, "only %" PRIu64 " HTTP requests seen (at least %d needed)", a->http_count,
		    VERDICT_MIN_REQUESTS);
		return;
	}
	if (bad_pct > VERDICT_MAX_BAD_PCT) {
		say(v, "%s%% of HTTP transactions are unmatched, gapped or unparsable (limit %s%%)",
		    fmt_sig(bad_pct, 2, b1, sizeof(b1)), fmt_sig(VERDICT_MAX_BAD_PCT, 2, b2, sizeof(b2)));
		return;
	}
	if (a->http_latency_attributed_ns <= 0) {
		say(v, "no HTTP request could be linked to its MongoDB calls, so database and web time "
		       "cannot be told apart");
		return;
	}
	double share = 100.0 * a->http_db_ns / a->http_latency_attributed_ns;
	v->confidence = "medium";
	if (share >= VERDICT_DB_SHARE_PCT) {
		v->primary = "database";
		say(v, "MongoDB accounts for %s%% of HTTP request time", fmt_sig(share, 2, b1, sizeof(b1)));
	} else {
		/* Web CPU and worker starvation look alike on the wire: only host samples tell. */
		v->confidence = "low";
		say(v, "MongoDB accounts for only %s%% of HTTP request time: the rest is spent in the "
		       "web tier, but without host samples (tierprobe run) CPU and worker starvation "
		       "cannot be told apart", fmt_sig(share, 2, b1, sizeof(b1)));
	}
}

void verdict_release(struct verdict *v)
{
	for (size_t i = 0; i < v->nevidence; i++)
		free(v->evidence[i]);
	v->nevidence = 0;
}
