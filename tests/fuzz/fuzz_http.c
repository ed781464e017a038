/* fuzz_http.c - libFuzzer target: http_stream_ops, two directions, random cuts, gaps, FINs. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "stream.h"
#include "txn.h"

/*
 * Input layout: a sequence of records, each opened by a control byte
 *
 *   ctl: bit 0     direction (0 to server, 1 to client)
 *        bits 1-2  0,1 = data, 2 = gap, 3 = fin (rare: only when bits 3-7 are all set)
 *        bits 3-7  length of the record's data (0 = up to the next 0xff byte)
 *
 * so one input explores both interleaving and split points. Every emitted
 * transaction is checked for invariants a consumer relies on.
 */

static unsigned n_txns;

static void check_txn(void *ctx, const struct http_txn *t)
{
	(void)ctx;
	if (memchr(t->method, '\0', sizeof(t->method)) == NULL ||
	    memchr(t->route, '\0', sizeof(t->route)) == NULL)
		__builtin_trap();
	if (strchr(t->route, '?'))
		__builtin_trap();	/* the query string must never leak */
	if ((t->notes & TXN_NOTE_NO_REQUEST) && t->t.req_first != TS_NONE)
		__builtin_trap();
	if ((t->notes & TXN_NOTE_NO_RESPONSE) && t->status != 0)
		__builtin_trap();
	n_txns++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quality q;
	struct membudget budget;
	struct txn_sink sink = { .http = check_txn };
	struct stream_ctx ctx;
	size_t i = 0;
	ts_ns ts = 1;

	memset(&q, 0, sizeof(q));
	memset(&ctx, 0, sizeof(ctx));
	membudget_init(&budget, 1 << 20);
	ctx.q = &q;
	ctx.budget = &budget;
	ctx.sink = &sink;
	ctx.midstream = size > 0 && (data[0] & 0x80);

	void *p = http_stream_ops.open(&ctx);
	if (!p)
		return 0;
	while (i < size) {
		uint8_t ctl = data[i++];
		enum stream_dir dir = (ctl & 1) ? STREAM_TO_CLIENT : STREAM_TO_SERVER;
		unsigned kind = (ctl >> 1) & 3;
		size_t n = ctl >> 3;
		if (kind == 3 && n == 31) {
			http_stream_ops.fin(p, dir, ts++);
			continue;
		}
		if (kind == 2) {
			http_stream_ops.gap(p, dir, n ? n : 100000, ts++);
			continue;
		}
		if (n == 0) {
			const uint8_t *end = memchr(data + i, 0xff, size - i);
			n = end ? (size_t)(end - (data + i)) : size - i;
		}
		if (n > size - i)
			n = size - i;
		http_stream_ops.data(p, dir, data + i, n, ts++);
		i += n;
	}
	http_stream_ops.close(p, ts);
	if (budget.used != 0)
		__builtin_trap();	/* close() gives back every byte it took */
	return 0;
}
