/*
 * membudget.h - a global cap on bytes buffered on behalf of untrusted input
 * (reassembly queues, partial messages). Checked before allocating, so a
 * flood of hostile flows degrades into counted gaps instead of memory growth.
 */
#ifndef TIERPROBE_MEMBUDGET_H
#define TIERPROBE_MEMBUDGET_H

#include <stddef.h>

struct membudget {
	size_t limit;
	size_t used;
	size_t peak;
	unsigned long refusals;
};

void membudget_init(struct membudget *b, size_t limit);
/* Reserves n bytes; returns 0, or -1 (nothing reserved) when over the limit. */
int membudget_take(struct membudget *b, size_t n);
/* Returns n bytes taken earlier. */
void membudget_give(struct membudget *b, size_t n);

#endif
