/* test_timestamp.c - ISO 8601 with microseconds: format, parse back, floor to whole microseconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "timestamp.h"

static void formats_and_parses_back(void **state)
{
	(void)state;
	char buf[TIMESTAMP_STRLEN];
	/* 2026-11-25T22:16:15.946195Z, the example in DESIGN.md, plus 789 ns that are dropped */
	ts_ns t = 1795644975LL * TS_NS_PER_SEC + 946195789;
	assert_string_equal(timestamp_format(t, buf, sizeof(buf)), "2026-11-25T22:16:15.946195Z");
	/* same second again (cached date), then the next second */
	assert_string_equal(timestamp_format(t + 1000, buf, sizeof(buf)), "2026-11-25T22:16:15.946196Z");
	assert_string_equal(timestamp_format(t + TS_NS_PER_SEC, buf, sizeof(buf)), "2026-11-25T22:16:16.946195Z");
	ts_ns back;
	assert_int_equal(timestamp_parse("2026-11-25T22:16:15.946195Z", &back), 0);
	assert_int_equal(back, timestamp_floor_us(t));
	assert_string_equal(timestamp_format(TS_NONE, buf, sizeof(buf)), "");
	assert_int_not_equal(timestamp_parse("2026-11-25 22:16:15", &back), 0);
}

static void floor_is_toward_minus_infinity(void **state)
{
	(void)state;
	assert_int_equal(timestamp_floor_us(1999), 1000);
	assert_int_equal(timestamp_floor_us(-1), -1000);
	assert_int_equal(timestamp_floor_us(TS_NONE), TS_NONE);
	char buf[TIMESTAMP_STRLEN];
	assert_string_equal(timestamp_format(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999999Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(formats_and_parses_back),
		cmocka_unit_test(floor_is_toward_minus_infinity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
