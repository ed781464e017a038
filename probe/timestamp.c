/* timestamp.c - ISO 8601 UTC with microseconds, the one time format of every output. */
#include "timestamp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Writes the n low decimal digits of v, zero-padded, ending at end (exclusive). */
static void put_digits(char *end, uint64_t v, int n)
{
	while (n-- > 0) {
		*--end = (char)('0' + v % 10);
		v /= 10;
	}
}

char *timestamp_format(ts_ns ts, char *buf, size_t len)
{
	/* The date and time of day change once a second: format them once per second. */
	static _Thread_local int64_t cached_sec = INT64_MIN;
	static _Thread_local char cached[80];

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ts == TS_NONE || len < 28)
		return buf;
	/* Floor division so times before 1970 still format sanely. */
	int64_t sec = ts / TS_NS_PER_SEC, ns = ts % TS_NS_PER_SEC;
	if (ns < 0) {
		ns += TS_NS_PER_SEC;
		sec--;
	}
	if (sec != cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		if (!gmtime_r(&t, &tm))
			return buf;
		snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_sec = sec;
	}
	size_t n = strlen(cached);	/* 19 for years 1000..9999 */
	if (n + 9 > len)
		return buf;
	memcpy(buf, cached, n);
	buf[n] = '.';
	put_digits(buf + n + 7, (uint64_t)ns / 1000, 6);
	buf[n + 7] = 'Z';
	buf[n + 8] = '\0';
	return buf;
}

int timestamp_parse(const char *s, ts_ns *out)
{
	struct tm tm;
	int us = 0, n = 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us, &n) != 7 || s[n] != '\0')
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	*out = (ts_ns)t * TS_NS_PER_SEC + (ts_ns)us * 1000;
	return 0;
}

ts_ns timestamp_now(void)
{
	struct timespec tsp;
	clock_gettime(CLOCK_REALTIME, &tsp);
	return (ts_ns)tsp.tv_sec * TS_NS_PER_SEC + tsp.tv_nsec;
}
