/* test_stats.c - exact quantiles, the histogram's error bound, spilling at the budget. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "stats.h"

static void exact_quantiles_interpolate(void **state)
{
	(void)state;
	struct dist d;
	dist_init(&d);
	/* 1..4 in shuffled order: numpy's linear method gives p50 2.5, p25 1.75 */
	double v[] = { 3, 1, 4, 2 };
	for (int i = 0; i < 4; i++)
		dist_add(&d, v[i]);
	assert_true(fabs(dist_quantile(&d, 0.5) - 2.5) < 1e-9);
	assert_true(fabs(dist_quantile(&d, 0.25) - 1.75) < 1e-9);
	assert_true(fabs(dist_quantile(&d, 0) - 1) < 1e-9);
	assert_true(fabs(dist_quantile(&d, 1) - 4) < 1e-9);
	assert_true(fabs(dist_mean(&d) - 2.5) < 1e-9);
	/* sample standard deviation of 1..4 = sqrt(5/3) */
	assert_true(fabs(dist_stddev(&d) - sqrt(5.0 / 3.0)) < 1e-9);
	assert_true(dist_is_exact(&d));
	dist_release(&d);
	assert_true(isnan(dist_quantile(&d, 0.5)));
}

static void histogram_relative_error_below_one_percent(void **state)
{
	(void)state;
	/* Every single value must come back within 1% (the bucket midpoint bound). */
	for (uint64_t v = 1; v < 50000000000ull; v = v * 1.013 + 1) {
		struct loghist *h = calloc(1, sizeof(*h));
		loghist_add(h, v);
		double got = loghist_quantile(h, 0.5);
		assert_true(fabs(got - (double)v) <= 0.01 * (double)v);
		free(h);
	}
}

static void histogram_quantiles_of_a_spread(void **state)
{
	(void)state;
	struct loghist *h = calloc(1, sizeof(*h));
	/* 1..100000 ns: p50 ~ 50000, p99 ~ 99000 */
	for (uint64_t v = 1; v <= 100000; v++)
		loghist_add(h, v);
	assert_true(fabs(loghist_quantile(h, 0.5) - 50000) < 500);
	assert_true(fabs(loghist_quantile(h, 0.99) - 99000) < 990);
	free(h);
}

static void spills_to_histogram_at_budget(void **state)
{
	(void)state;
	dist_set_global_budget(1000);
	struct dist d;
	dist_init(&d);
	for (int i = 1; i <= 100000; i++)
		dist_add(&d, (double)i * 1000);
	assert_false(dist_is_exact(&d));
	assert_true(dist_any_approximate());
	assert_int_equal(d.count, 100000);
	double p50 = dist_quantile(&d, 0.5);
	assert_true(fabs(p50 - 50000000.0) <= 0.01 * 50000000.0);
	assert_true(fabs(d.max - 1e8) < 1e-3);
	dist_release(&d);
	dist_set_global_budget(2u * 1024 * 1024);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * Random data with many duplicates, negatives and fractions, up to 5000 values
 * (past the radix sort's threshold): every quantile equals the one from a
 * qsort()ed copy.
 */
static void quantiles_match_a_reference_sort(void **state)
{
	(void)state;
	uint64_t seed = 42;
	for (int round = 0; round < 50; round++) {
		size_t n = 1 + (size_t)(round * 997 % 5000);
		double *ref = malloc(n * sizeof(double));
		struct dist d;
		dist_init(&d);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			double v = (double)((seed >> 33) % (round % 3 ? 1000 : 7));	/* few distinct values too */
			if (round % 4 == 3)	/* negative and fractional: the radix keys' sign handling */
				v = (v - 500) * 0.0371;
			ref[i] = v;
			dist_add(&d, v);
		}
		qsort(ref, n, sizeof(double), cmp_d);
		for (int k = 0; k <= 100; k += 5) {
			double q = k / 100.0, pos = q * (double)(n - 1);
			size_t i = (size_t)pos;
			double want = i + 1 < n ? ref[i] + (ref[i + 1] - ref[i]) * (pos - (double)i) : ref[n - 1];
			assert_true(fabs(dist_quantile(&d, q) - want) < 1e-9);
		}
		dist_release(&d);
		free(ref);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_quantiles_interpolate),
		cmocka_unit_test(quantiles_match_a_reference_sort),
		cmocka_unit_test(histogram_relative_error_below_one_percent),
		cmocka_unit_test(histogram_quantiles_of_a_spread),
		cmocka_unit_test(spills_to_histogram_at_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
