/*
 * collector.h - the one small interface every periodic source of samples
 * implements (host and process statistics, serverStatus), listed in one
 * static table in probe/run.c. Each contributes a fixed set of columns to
 * samples.csv (or its own table) and fills them once per interval.
 */
#ifndef TIERPROBE_COLLECTOR_H
#define TIERPROBE_COLLECTOR_H

#include <stddef.h>

#include "options.h"
#include "timestamp.h"

#define COLLECTOR_CELL_MAX 48

typedef char collector_cell[COLLECTOR_CELL_MAX];

struct collector_ops {
	const char *name;
	/* The samples.csv columns this collector fills, in order (static storage). */
	const char *const *(*columns)(size_t *n);
	/*
	 * Creates the state from the options. Returns 0, a positive value when the
	 * collector does not apply (e.g. no --mongo-uri: skipped silently), or a
	 * negative errno after logging why.
	 */
	int (*init)(void **state, const struct options *o);
	/* Fills exactly n cells for the interval ending at now ("" = unknown). */
	void (*poll)(void *state, ts_ns now, collector_cell *cells);
	/* Called at the end (before free) so threads stop within a bounded time. */
	void (*stop)(void *state);
	void (*free)(void *state);
};

#endif
