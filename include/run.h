/* run.h - `tierprobe run`: the live daemon. */
#ifndef TIERPROBE_RUN_H
#define TIERPROBE_RUN_H

#include "options.h"

/* Returns the exit status: 0, 1 runtime failure (e.g. a full disk), 2 bad usage. */
int run_main(const struct options *o);

#endif
