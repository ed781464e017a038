/* timestamp.c - ISO 8601 UTC with microseconds, the one time format of every output. */
#include "timestamp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

char *timestamp_format(ts_ns ts, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ts == TS_NONE)
		return buf;
	/* Floor division so times before 1970 still format sanely. */
	int64_t sec = ts / TS_NS_PER_SEC, ns = ts % TS_NS_PER_SEC;
	if (ns < 0) {
		ns += TS_NS_PER_SEC;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return buf;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns / 1000));
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
