/* report.h - `tierprobe report DIR` and `tierprobe compare DIR_A DIR_B`. */
#ifndef TIERPROBE_REPORT_H
#define TIERPROBE_REPORT_H

#include "options.h"

/* Prints a finished folder's summary and verdict again from its files. Exit status. */
int report_main(const struct options *o);

#endif
