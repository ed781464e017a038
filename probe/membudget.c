/* membudget.c - the global cap on bytes buffered for untrusted input. */
#include "membudget.h"

void membudget_init(struct membudget *b, size_t limit)
{
	b->limit = limit;
	b->used = 0;
	b->peak = 0;
	b->refusals = 0;
}

int membudget_take(struct membudget *b, size_t n)
{
	if (n > b->limit - b->used) {
		b->refusals++;
		return -1;
	}
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
	return 0;
}

void membudget_give(struct membudget *b, size_t n)
{
	b->used = n > b->used ? 0 : b->used - n;
}
