/* timestamp.h - capture time as nanoseconds since the Unix epoch, one clock for every view. */
#ifndef TIERPROBE_TIMESTAMP_H
#define TIERPROBE_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds since 1970-01-01T00:00:00Z. TS_NONE marks "not observed". */
typedef int64_t ts_ns;
#define TS_NONE INT64_MIN
#define TS_NS_PER_SEC 1000000000LL
#define TS_NS_PER_MS 1000000LL

/*
 * Formats ts as ISO 8601 UTC with microseconds ("2026-11-25T22:16:15.946195Z").
 * Writes "" for TS_NONE. buf should hold TIMESTAMP_STRLEN bytes.
 */
#define TIMESTAMP_STRLEN 32
char *timestamp_format(ts_ns ts, char *buf, size_t len);

/* Parses what timestamp_format() writes; returns 0 or -EINVAL. */
int timestamp_parse(const char *s, ts_ns *out);

/*
 * ts truncated to whole microseconds, as the CSV files print it. Everything
 * derived from capture times (latencies, percentiles) is computed from these
 * so that `tierprobe report` re-reading the CSVs gets exactly the same numbers.
 */
static inline ts_ns timestamp_floor_us(ts_ns ts)
{
	if (ts == TS_NONE)
		return ts;
	ts_ns r = ts % 1000;
	return ts - (r < 0 ? r + 1000 : r);
}

/* Current wall-clock time (CLOCK_REALTIME) in the same unit. */
ts_ns timestamp_now(void);

#endif
