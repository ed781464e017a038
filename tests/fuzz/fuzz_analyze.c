/*
 * fuzz_analyze.c - libFuzzer target over the whole analyze path: frames of
 * any link type -> decode -> flow table -> reassembly -> HTTP and MongoDB
 * parsers -> attribution join. Ports 80 (HTTP) and 27017 (MongoDB).
 *
 * Input layout: records of [dlt selector: 1 byte][length: 2 bytes LE][frame],
 * each stamped 1 ms after the previous one; the last record may be short.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode.h"
#include "flow.h"
#include "join.h"
#include "portmap.h"
#include "quality.h"

static const int dlts[] = { 1 /* EN10MB */, 113 /* LINUX_SLL */, 276 /* LINUX_SLL2 */,
			    0 /* NULL */, 12 /* RAW */, 228 /* IPV4 */, 229 /* IPV6 */, 108 /* LOOP */ };

static struct join *join;
static void emit_http(void *ctx, const struct joined_http *h) { (void)ctx; (void)h; }
static void emit_mongo(void *ctx, const struct joined_mongo *m) { (void)ctx; (void)m; }
static void on_http(void *ctx, const struct http_txn *t) { (void)ctx; join_http(join, t, 0); }
static void on_mongo(void *ctx, const struct mongo_txn *t) { (void)ctx; join_mongo(join, t, 0); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct portmap ports;
	static int init;
	if (!init) {
		portmap_init(&ports);
		portmap_add_list(&ports, "80", PROTO_HTTP);
		portmap_add_list(&ports, "27017", PROTO_MONGO);
		init = 1;
	}
	struct quality q;
	memset(&q, 0, sizeof(q));
	struct join_config jc = { .emit_http = emit_http, .emit_mongo = emit_mongo };
	join = join_new(&jc);
	struct txn_sink sink = { on_http, on_mongo, NULL };
	struct flow_table_config fc = {
		.ports = &ports,
		.parser = { [PROTO_HTTP] = &http_stream_ops, [PROTO_MONGO] = &mongo_stream_ops },
		.sink = &sink,
		.q = &q,
		.max_flows = 64,
		.global_buffer = 1 << 20,
	};
	struct flow_table *ft = flow_table_new(&fc);
	ts_ns ts = 1764108000LL * TS_NS_PER_SEC;
	size_t off = 0;
	while (ft && join && off + 3 <= size) {
		int dlt = dlts[data[off] % (sizeof(dlts) / sizeof(dlts[0]))];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		struct tcp_segment seg;
		if (decode_frame(dlt, data + off, len, len, ts, &seg, &q) == 0)
			flow_table_segment(ft, &seg);
		off += len;
		ts += TS_NS_PER_MS;
		if ((off & 7) == 0)
			flow_table_expire(ft, ts);
	}
	if (ft)
		flow_table_close_all(ft, ts);
	if (join)
		join_flush(join);
	flow_table_free(ft);
	join_free(join);
	join = NULL;
	return 0;
}
