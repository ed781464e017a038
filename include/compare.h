/* compare.h - `tierprobe compare DIR_A DIR_B`: two runs of one workload, differences with bootstrap intervals. */
#ifndef TIERPROBE_COMPARE_H
#define TIERPROBE_COMPARE_H

#include "options.h"

/* Prints the comparison; returns the exit status. */
int compare_main(const struct options *o);

#endif
