/* stats.c - exact percentiles within a global budget, then a log-linear histogram. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t global_budget = 2u * 1024 * 1024;
static size_t global_used;
static int any_spilled;

void dist_set_global_budget(size_t max_values) { global_budget = max_values; }
int dist_any_approximate(void) { return any_spilled; }

static size_t loghist_index(uint64_t v)
{
	if (v < 128)
		return (size_t)v;
	int k = 63 - __builtin_clzll(v);	/* k >= 7 */
	int shift = k - 6;			/* keep 7 significant bits: mantissa in [64, 128) */
	uint64_t mant = v >> shift;
	return (size_t)shift * 64 + (size_t)mant;
}

/* Lower bound and width of bucket i: the inverse of loghist_index. */
static void loghist_bucket_range(size_t i, double *lo, double *width)
{
	if (i < 128) {
		*lo = (double)i;
		*width = 1;
		return;
	}
	size_t shift = i / 64 - 1;
	size_t mant = i - shift * 64;
	*lo = ldexp((double)mant, (int)shift);
	*width = ldexp(1.0, (int)shift);
}

void loghist_add(struct loghist *h, uint64_t v)
{
	h->bucket[loghist_index(v)]++;
	h->count++;
}

double loghist_quantile(const struct loghist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q < 0) q = 0;
	if (q > 1) q = 1;
	/* rank among 0..count-1, the same convention as the exact path */
	uint64_t rank = (uint64_t)llround(q * (double)(h->count - 1));
	uint64_t seen = 0;
	for (size_t i = 0; i < LOGHIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank) {
			double lo, w;
			loghist_bucket_range(i, &lo, &w);
			return i < 128 ? lo : lo + w / 2;
		}
	}
	return 0;
}

void loghist_merge(struct loghist *into, const struct loghist *from)
{
	for (size_t i = 0; i < LOGHIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->count += from->count;
}

void dist_init(struct dist *d)
{
	memset(d, 0, sizeof(*d));
}

static uint64_t to_bucket_value(double v)
{
	return v <= 0 ? 0 : v >= 1.8e19 ? UINT64_MAX : (uint64_t)v;
}

/* Moves every exact value into the histogram and gives the budget back. */
static int dist_spill(struct dist *d)
{
	struct loghist *h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	for (size_t i = 0; i < d->n; i++)
		loghist_add(h, to_bucket_value(d->vals[i]));
	global_used -= d->cap;
	free(d->vals);
	d->vals = NULL;
	d->n = d->cap = 0;
	d->hist = h;
	any_spilled = 1;
	return 0;
}

void dist_add(struct dist *d, double v)
{
	if (d->count == 0 || v < d->min) d->min = v;
	if (d->count == 0 || v > d->max) d->max = v;
	d->count++;
	d->sum += v;
	if (!d->hist && d->n == d->cap) {
		size_t grow = d->cap ? d->cap : 16;
		double *n = NULL;
		if (global_used + grow <= global_budget)
			n = realloc(d->vals, (d->cap + grow) * sizeof(*n));
		if (n) {
			d->vals = n;
			d->cap += grow;
			global_used += grow;
		} else if (dist_spill(d) != 0) {
			d->count--;	/* cannot record it anywhere: keep count consistent */
			d->sum -= v;
			return;
		}
	}
	if (d->hist) {
		loghist_add(d->hist, to_bucket_value(v));
		return;
	}
	d->vals[d->n++] = v;
	d->sorted = 0;
}

/*
 * Sorts doubles ascending: quicksort (median of three, smaller side first so
 * the stack stays O(log n)) finishing with insertion sort. The fallback of
 * sort_doubles() when it cannot have its scratch buffer.
 */
static void quicksort_doubles(double *v, size_t n)
{
	struct { size_t lo, hi; } stack[64];
	size_t sp = 0;
	if (n < 2)
		return;
	stack[sp].lo = 0;
	stack[sp++].hi = n - 1;
	while (sp) {
		size_t lo = stack[--sp].lo, hi = stack[sp].hi;
		while (hi - lo > 16) {
			size_t mid = lo + (hi - lo) / 2;
			if (v[mid] < v[lo]) { double t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
			if (v[hi] < v[lo]) { double t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
			if (v[hi] < v[mid]) { double t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
			double pivot = v[mid];
			size_t i = lo, j = hi;
			while (i <= j) {
				while (v[i] < pivot) i++;
				while (v[j] > pivot) j--;
				if (i <= j) {
					double t = v[i]; v[i] = v[j]; v[j] = t;
					i++;
					if (j == 0) break;
					j--;
				}
			}
			/* recurse (push) into the larger part, loop on the smaller */
			if (j - lo < hi - i) {
				if (i < hi && sp < 64) { stack[sp].lo = i; stack[sp++].hi = hi; }
				hi = j;
			} else {
				if (lo < j && sp < 64) { stack[sp].lo = lo; stack[sp++].hi = j; }
				lo = i;
			}
			if (hi <= lo)
				break;
		}
		for (size_t k = lo + 1; k <= hi && hi > lo; k++) {
			double x = v[k];
			size_t m = k;
			while (m > lo && v[m - 1] > x) {
				v[m] = v[m - 1];
				m--;
			}
			v[m] = x;
		}
	}
}

/* IEEE 754 bits to an unsigned key with the same order (negatives reversed), and back. */
static uint64_t double_key(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof(u));
	return u >> 63 ? ~u : u | 1ull << 63;
}

static double key_double(uint64_t k)
{
	uint64_t u = k >> 63 ? k & ~(1ull << 63) : ~k;
	double x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/*
 * Sorts doubles ascending by their bits: a least-significant-digit radix
 * sort, 6 passes of 11 bits, each skipped when every key has the same digit
 * there. Sorting is what a file's exact percentiles cost at the end of
 * `analyze`, when no other thread has work left: this is several times
 * faster than any comparison sort on hundreds of thousands of latencies.
 */
#define RADIX_BITS 11
#define RADIX_BUCKETS (1 << RADIX_BITS)
#define RADIX_MASK (RADIX_BUCKETS - 1)
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)

static void sort_doubles(double *v, size_t n)
{
	if (n < 256) {
		quicksort_doubles(v, n);
		return;
	}
	uint64_t *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		quicksort_doubles(v, n);
		return;
	}
	size_t count[RADIX_PASSES][RADIX_BUCKETS] = { { 0 } };	/* 96 KiB of stack, not shared */
	for (size_t i = 0; i < n; i++) {
		uint64_t k = a[i] = double_key(v[i]);
		for (int d = 0; d < RADIX_PASSES; d++)
			count[d][(k >> (RADIX_BITS * d)) & RADIX_MASK]++;
	}
	for (int d = 0; d < RADIX_PASSES; d++) {
		size_t *c = count[d];
		if (c[(a[0] >> (RADIX_BITS * d)) & RADIX_MASK] == n)
			continue;	/* this digit is the same in every key */
		size_t sum = 0;
		for (int j = 0; j < RADIX_BUCKETS; j++) {
			size_t t = c[j];
			c[j] = sum;
			sum += t;
		}
		for (size_t i = 0; i < n; i++)
			b[c[(a[i] >> (RADIX_BITS * d)) & RADIX_MASK]++] = a[i];
		uint64_t *t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = key_double(a[i]);
	free(a);
	free(b);
}

double dist_quantile(struct dist *d, double q)
{
	if (d->count == 0)
		return NAN;
	if (d->hist)
		return loghist_quantile(d->hist, q);
	if (!d->sorted) {
		sort_doubles(d->vals, d->n);
		d->sorted = 1;
	}
	if (q <= 0) return d->vals[0];
	if (q >= 1) return d->vals[d->n - 1];
	double pos = q * (double)(d->n - 1);
	size_t i = (size_t)pos;
	double frac = pos - (double)i;
	if (i + 1 >= d->n)
		return d->vals[d->n - 1];
	return d->vals[i] + (d->vals[i + 1] - d->vals[i]) * frac;
}

double dist_mean(const struct dist *d)
{
	return d->count ? d->sum / (double)d->count : NAN;
}

double dist_stddev(const struct dist *d)
{
	if (d->hist || d->n < 2)
		return NAN;
	double m = dist_mean(d), acc = 0;
	for (size_t i = 0; i < d->n; i++)
		acc += (d->vals[i] - m) * (d->vals[i] - m);
	return sqrt(acc / (double)(d->n - 1));
}

int dist_is_exact(const struct dist *d)
{
	return d->hist == NULL;
}

void dist_release(struct dist *d)
{
	if (d->vals)
		global_used -= d->cap;
	free(d->vals);
	free(d->hist);
	dist_init(d);
}
