/*
 * fuzz_flow.c - libFuzzer target for the flow table and TCP reassembly: the
 * input is a script of segments (flags, 4-tuple choice, seq, length) fed to a
 * table with tiny caps. Checks that what a parser is told is consistent: no
 * byte twice, never more buffered than the global cap, nothing left at the end.
 *
 * Each step is 8 bytes: | flags | tuple | seq (4, LE) | len | time step |
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "flow.h"

#define GLOBAL_CAP 2048

struct fz {
	uint64_t bytes;
	int open;
};

static struct fz parsers[64];
static int nparsers;

static void *fz_open(const struct stream_ctx *ctx)
{
	(void)ctx;
	if (nparsers >= 64)
		return NULL;
	struct fz *p = &parsers[nparsers++];
	p->open = 1;
	return p;
}
static void fz_data(void *p, enum stream_dir dir, const uint8_t *data, size_t len, ts_ns ts)
{
	struct fz *f = p;
	(void)dir;
	(void)ts;
	if (!f->open || len == 0)
		abort();
	volatile uint8_t x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= data[i];		/* ASan checks the range */
	(void)x;
	f->bytes += len;
}
static void fz_gap(void *p, enum stream_dir dir, uint64_t len, ts_ns ts)
{
	(void)dir;
	(void)ts;
	if (!((struct fz *)p)->open || len == 0)
		abort();
}
static void fz_fin(void *p, enum stream_dir dir, ts_ns ts)
{
	(void)dir;
	(void)ts;
	if (!((struct fz *)p)->open)
		abort();
}
static void fz_close(void *p, ts_ns ts)
{
	(void)ts;
	struct fz *f = p;
	if (!f->open)
		abort();
	f->open = 0;
}

static const struct stream_parser_ops fz_ops = {
	"fuzz", fz_open, fz_data, fz_gap, fz_fin, fz_close,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct portmap ports;
	static uint8_t payload[256];
	struct quality q;
	ts_ns now = 1000;

	memset(&q, 0, sizeof(q));
	memset(parsers, 0, sizeof(parsers));
	nparsers = 0;
	portmap_init(&ports);
	ports.proto[80] = PROTO_HTTP;
	ports.proto[81] = PROTO_HTTP;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	struct flow_table_config cfg = {
		.ports = &ports, .q = &q, .parser = { NULL, &fz_ops, NULL },
		.max_flows = 4, .per_flow_buffer = 700, .global_buffer = GLOBAL_CAP,
		.idle_timeout = 5000, .syn_timeout = 500,
	};
	struct flow_table *ft = flow_table_new(&cfg);
	if (!ft)
		return 0;
	for (size_t o = 0; o + 8 <= size; o += 8) {
		const uint8_t *s = data + o;
		struct tcp_segment seg;
		memset(&seg, 0, sizeof(seg));
		seg.flags = s[0];
		uint8_t t = s[1];
		seg.src.family = seg.dst.family = AF_INET;
		seg.src.addr[0] = 10;
		seg.dst.addr[0] = 10;
		seg.src.addr[3] = (uint8_t)(1 + (t & 3));
		seg.dst.addr[3] = 9;
		seg.src.port = (uint16_t)(1000 + ((t >> 2) & 3));
		seg.dst.port = (uint16_t)(80 + ((t >> 4) & 1));
		if (t & 0x80) {		/* server to client */
			struct endpoint e = seg.src;
			seg.src = seg.dst;
			seg.dst = e;
		}
		seg.seq = (uint32_t)s[2] | (uint32_t)s[3] << 8 | (uint32_t)s[4] << 16 |
			  (uint32_t)s[5] << 24;
		seg.payload = payload;
		seg.payload_wire_len = s[6];
		seg.payload_len = (t & 0x40) ? s[6] / 2 : s[6];	/* snaplen cuts */
		now += s[7];
		seg.ts = now;
		flow_table_segment(ft, &seg);
		if (flow_table_buffered(ft) > GLOBAL_CAP || flow_table_count(ft) > 4)
			abort();
		if (s[7] == 0xff)
			flow_table_expire(ft, now);
	}
	flow_table_close_all(ft, now);
	if (flow_table_count(ft) != 0 || flow_table_buffered(ft) != 0)
		abort();
	for (int i = 0; i < nparsers; i++)
		if (parsers[i].open)
			abort();
	flow_table_free(ft);
	return 0;
}
