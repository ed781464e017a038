/* analyze.h - `tierprobe analyze`: capture files in, output folder out. */
#ifndef TIERPROBE_ANALYZE_H
#define TIERPROBE_ANALYZE_H

#include "options.h"

/* Returns the process exit status (0, 1 runtime failure, 2 bad input). */
int analyze_main(const struct options *o);

#endif
