/*
 * summary.h - routes.csv, shapes.csv, summary.txt and summary.json from the
 * aggregates and the measurement-quality counters.
 */
#ifndef TIERPROBE_SUMMARY_H
#define TIERPROBE_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

#include "aggregate.h"
#include "outputs.h"
#include "quality.h"

/* Writes dir/routes.csv and dir/shapes.csv. Returns 0 or -errno (logged). */
int summary_write_tables(const char *dir, struct aggregate *a);

/* Writes dir/summary.txt and dir/summary.json (and the text to stdout if asked). */
int summary_write(const char *dir, struct aggregate *a, const struct quality *q,
		  const struct run_info *info, int print);

/* Prints the summary text (with the verdict) to f without writing any file. */
void summary_print(FILE *f, struct aggregate *a, const struct quality *q, const struct run_info *info);

/*
 * Formats v rounded to `sig` significant figures without exponent noise
 * ("0.0012", "12", "1200"); "" for NAN.
 */
char *fmt_sig(double v, int sig, char *buf, size_t len);

#endif
