/*
 * stats.h - latency distributions: exact percentiles while the values fit in
 * a global budget, then a log-linear histogram (relative error <= 0.8%) so an
 * unbounded run keeps bounded memory. summary.json says which one was used.
 */
#ifndef TIERPROBE_STATS_H
#define TIERPROBE_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Log-linear histogram over non-negative integers (we feed nanoseconds):
 * values below 128 have their own bucket; above, each power of two is cut
 * into 64 equal buckets, so a bucket is at most 1/64 of its lower bound wide
 * and its midpoint is within 0.8% of any value in it.
 */
#define LOGHIST_BUCKETS (58 * 64 + 128)

struct loghist {
	uint64_t count;
	uint64_t bucket[LOGHIST_BUCKETS];
};

void loghist_add(struct loghist *h, uint64_t v);
/* The value at quantile q in [0, 1] (bucket midpoint; exact below 128). 0 when empty. */
double loghist_quantile(const struct loghist *h, double q);
void loghist_merge(struct loghist *into, const struct loghist *from);

/* Every value kept by every struct dist counts against this; default 2 Mi values (16 MiB). */
void dist_set_global_budget(size_t max_values);
/* Nonzero once any distribution had to fall back to its histogram. */
int dist_any_approximate(void);

/* A distribution of durations in nanoseconds. Zero-initialise, or dist_init(). */
struct dist {
	uint64_t count;
	double sum;
	double min;
	double max;
	double *vals;		/* exact values (owned), NULL once spilled */
	size_t n, cap;
	int sorted;
	struct loghist *hist;	/* owned; non-NULL once spilled to the histogram */
};

void dist_init(struct dist *d);
void dist_add(struct dist *d, double v);
/*
 * Quantile q in [0, 1]: exact values use linear interpolation between the
 * closest ranks (numpy's default, Python's statistics.quantiles "inclusive");
 * a spilled distribution answers from its histogram. NAN when empty.
 */
double dist_quantile(struct dist *d, double q);
double dist_mean(const struct dist *d);
/* Sample standard deviation (n - 1); NAN with fewer than 2 values or once spilled. */
double dist_stddev(const struct dist *d);
int dist_is_exact(const struct dist *d);
void dist_release(struct dist *d);

#endif
