/* test_flow.c - the flow table with a recording fake parser: sides, lifecycle, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "flow.h"
#include "pcapgen.h"

/* ---- a parser that writes down what it is told ---- */

#define MAX_CLOSED 16

struct fake {
	struct stream_ctx ctx;
	char log[1024];
	size_t len;
};

static struct {
	int opens;
	int closes;
	char closed_log[MAX_CLOSED][1024];
	struct stream_ctx closed_ctx[MAX_CLOSED];
	int first_data;
	uint64_t first_data_ids[MAX_CLOSED];
} rec;

static void fake_log(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fake_log(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(f->log + f->len, sizeof(f->log) - f->len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(f->log) - f->len)
		f->len += (size_t)n;
}

static void *fake_open(const struct stream_ctx *ctx)
{
	struct fake *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->ctx = *ctx;
	rec.opens++;
	fake_log(f, "open%s ", ctx->midstream ? "(mid)" : "");
	return f;
}

static void fake_data(void *p, enum stream_dir dir, const uint8_t *data, size_t len, ts_ns ts)
{
	(void)ts;
	fake_log(p, "%c:%.*s ", dir == STREAM_TO_SERVER ? 'S' : 'C', (int)len, (const char *)data);
}

static void fake_gap(void *p, enum stream_dir dir, uint64_t len, ts_ns ts)
{
	(void)ts;
	fake_log(p, "%cgap%llu ", dir == STREAM_TO_SERVER ? 'S' : 'C', (unsigned long long)len);
}

static void fake_fin(void *p, enum stream_dir dir, ts_ns ts)
{
	(void)ts;
	fake_log(p, "%cfin ", dir == STREAM_TO_SERVER ? 'S' : 'C');
}

static void fake_close(void *p, ts_ns ts)
{
	struct fake *f = p;
	(void)ts;
	fake_log(f, "close");
	if (rec.closes < MAX_CLOSED) {
		memcpy(rec.closed_log[rec.closes], f->log, sizeof(f->log));
		rec.closed_ctx[rec.closes] = f->ctx;
	}
	rec.closes++;
	free(f);
}

static const struct stream_parser_ops fake_ops = {
	.name = "fake",
	.open = fake_open,
	.data = fake_data,
	.gap = fake_gap,
	.fin = fake_fin,
	.close = fake_close,
};

static void on_first(void *ctx, uint64_t id, enum proto proto, const struct endpoint *client,
		     const struct endpoint *server)
{
	(void)ctx;
	(void)client;
	assert_int_equal(proto, server->port == 27017 ? PROTO_MONGO : PROTO_HTTP);
	assert_true(server->port == 80 || server->port == 8080 || server->port == 27017);
	if (rec.first_data < MAX_CLOSED)
		rec.first_data_ids[rec.first_data] = id;
	rec.first_data++;
}

/* ---- fixture ---- */

static struct portmap ports;
static struct quality q;

static struct flow_table *table(size_t max_flows)
{
	memset(&rec, 0, sizeof(rec));
	memset(&q, 0, sizeof(q));
	portmap_init(&ports);
	assert_int_equal(portmap_add_list(&ports, "80,8080", PROTO_HTTP), 0);
	assert_int_equal(portmap_add_list(&ports, "27017", PROTO_MONGO), 0);
	struct flow_table_config cfg = {
		.ports = &ports,
		.parser = { NULL, &fake_ops, &fake_ops },
		.q = &q,
		.max_flows = max_flows,
		.per_flow_buffer = 4096,
		.idle_timeout = 60 * TS_NS_PER_SEC,
		.syn_timeout = 5 * TS_NS_PER_SEC,
		.on_first_data = on_first,
	};
	struct flow_table *ft = flow_table_new(&cfg);
	assert_non_null(ft);
	return ft;
}

static void pkt(struct flow_table *ft, ts_ns ts, const char *src, uint16_t sport,
		const char *dst, uint16_t dport, uint8_t flags, uint32_t seq, const char *data)
{
	struct tcp_segment s = { .ts = ts, .seq = seq, .flags = flags };
	int v6 = strchr(src, ':') != NULL;
	s.src.family = s.dst.family = v6 ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(s.src.family, src, s.src.addr), 1);
	assert_int_equal(inet_pton(s.dst.family, dst, s.dst.addr), 1);
	s.src.port = sport;
	s.dst.port = dport;
	s.payload = (const uint8_t *)data;
	s.payload_len = s.payload_wire_len = data ? strlen(data) : 0;
	flow_table_segment(ft, &s);
}

#define C "10.0.0.1"
#define S "10.0.0.2"

static void test_full_connection(void **state)
{
	(void)state;
	struct flow_table *ft = table(0);
	pkt(ft, 1, C, 40000, S, 80, TCP_SYN, 100, NULL);
	pkt(ft, 2, S, 80, C, 40000, TCP_SYN | TCP_ACK, 500, NULL);
	pkt(ft, 3, C, 40000, S, 80, TCP_ACK, 101, NULL);
	assert_int_equal(rec.opens, 0);		/* no payload yet: no parser */
	pkt(ft, 4, C, 40000, S, 80, TCP_ACK | TCP_PSH, 101, "GET");
	pkt(ft, 5, S, 80, C, 40000, TCP_ACK | TCP_PSH, 501, "200");
	pkt(ft, 6, C, 40000, S, 80, TCP_ACK | TCP_FIN, 104, NULL);
	assert_int_equal(flow_table_count(ft), 1);
	pkt(ft, 7, S, 80, C, 40000, TCP_ACK | TCP_FIN, 504, NULL);
	assert_int_equal(flow_table_count(ft), 0);
	assert_int_equal(rec.closes, 1);
	assert_string_equal(rec.closed_log[0], "open S:GET C:200 Sfin Cfin close");
	assert_int_equal(rec.closed_ctx[0].flow_id, 1);
	assert_int_equal(rec.closed_ctx[0].client.port, 40000);
	assert_int_equal(rec.closed_ctx[0].server.port, 80);
	assert_int_equal(rec.closed_ctx[0].server.addr[3], 2);
	assert_int_equal(rec.first_data, 1);
	assert_int_equal(q.flows, 1);
	assert_int_equal(q.flows_midstream, 0);
	/* the last ACK does not start a new flow */
	pkt(ft, 8, C, 40000, S, 80, TCP_ACK, 105, NULL);
	assert_int_equal(flow_table_count(ft), 0);
	flow_table_free(ft);
}

static void test_server_side(void **state)
{
	(void)state;
	struct flow_table *ft = table(0);
	/* both ports configured: the SYN's destination is the server */
	pkt(ft, 1, C, 8080, S, 80, TCP_SYN, 1, NULL);
	pkt(ft, 2, C, 8080, S, 80, TCP_ACK, 2, "req");
	/* both configured, midstream: the lower port */
	pkt(ft, 3, S, 80, C, 8080, TCP_ACK, 9, "x");	/* same flow as above */
	pkt(ft, 4, "10.0.0.3", 8080, "10.0.0.4", 80, TCP_ACK, 7, "req2");  /* 8080 -> 80 */
	/* only one side configured: that side, whoever speaks first */
	pkt(ft, 5, "10.0.0.5", 27017, "10.0.0.6", 55555, TCP_ACK, 7, "reply");
	/* IPv6 */
	pkt(ft, 6, "2001:db8::1", 50000, "2001:db8::2", 80, TCP_ACK, 7, "v6");
	flow_table_close_all(ft, 10);
	assert_int_equal(rec.closes, 4);
	assert_string_equal(rec.closed_log[0], "open S:req C:x close");
	assert_int_equal(rec.closed_ctx[0].server.port, 80);
	assert_int_equal(rec.closed_ctx[0].midstream, 0);
	assert_string_equal(rec.closed_log[1], "open(mid) S:req2 close");
	assert_int_equal(rec.closed_ctx[1].server.port, 80);
	assert_int_equal(rec.closed_ctx[1].server.addr[3], 4);
	assert_string_equal(rec.closed_log[2], "open(mid) C:reply close");
	assert_int_equal(rec.closed_ctx[2].server.port, 27017);
	assert_int_equal(rec.closed_ctx[2].client.port, 55555);
	assert_string_equal(rec.closed_log[3], "open(mid) S:v6 close");
	assert_int_equal(rec.closed_ctx[3].server.family, AF_INET6);
	/* ids count up from 1 */
	for (int i = 0; i < 4; i++)
		assert_int_equal(rec.closed_ctx[i].flow_id, (uint64_t)i + 1);
	assert_int_equal(q.flows, 4);
	assert_int_equal(q.flows_midstream, 3);
	assert_int_equal(rec.first_data, 4);
	/* neither port configured */
	pkt(ft, 7, C, 1234, S, 5678, TCP_ACK, 7, "zzz");
	assert_int_equal(q.packets_ignored_port, 1);
	assert_int_equal(flow_table_count(ft), 0);
	flow_table_free(ft);
}

static void test_port_reuse(void **state)
{
	(void)state;
	struct flow_table *ft = table(0);
	pkt(ft, 1, C, 40000, S, 80, TCP_SYN, 100, NULL);
	pkt(ft, 2, C, 40000, S, 80, TCP_ACK, 101, "one");
	pkt(ft, 3, C, 40000, S, 80, TCP_FIN | TCP_ACK, 104, NULL);	/* half closed */
	pkt(ft, 4, C, 40000, S, 80, TCP_SYN, 7000, NULL);		/* same port, new ISN */
	pkt(ft, 5, C, 40000, S, 80, TCP_ACK, 7001, "two");
	assert_int_equal(rec.closes, 1);
	assert_string_equal(rec.closed_log[0], "open S:one Sfin close");
	flow_table_close_all(ft, 6);
	assert_string_equal(rec.closed_log[1], "open S:two close");
	assert_int_equal(rec.closed_ctx[1].flow_id, 2);
	assert_int_equal(q.tcp_gaps + q.tcp_retransmits + q.tcp_out_of_order, 0);
	/* after both FINs: duplicates are absorbed, a new ISN is a new connection */
	pkt(ft, 10, C, 40002, S, 80, TCP_SYN, 300, NULL);
	pkt(ft, 11, C, 40002, S, 80, TCP_ACK, 301, "req");
	pkt(ft, 12, S, 80, C, 40002, TCP_ACK, 1, "resp");	/* midstream base for replies */
	pkt(ft, 13, C, 40002, S, 80, TCP_FIN | TCP_ACK, 304, NULL);
	pkt(ft, 14, S, 80, C, 40002, TCP_FIN | TCP_ACK, 5, NULL);
	assert_int_equal(rec.closes, 3);
	assert_string_equal(rec.closed_log[2], "open S:req C:resp Sfin Cfin close");
	pkt(ft, 15, C, 40002, S, 80, TCP_SYN, 300, NULL);		/* duplicate SYN */
	pkt(ft, 16, S, 80, C, 40002, TCP_ACK, 1, "resp");		/* duplicate data */
	assert_int_equal(flow_table_count(ft), 0);
	assert_int_equal(rec.opens, 3);
	assert_int_equal(q.tcp_retransmits, 1);
	pkt(ft, 17, C, 40002, S, 80, TCP_SYN, 9000, NULL);		/* reuse */
	pkt(ft, 18, C, 40002, S, 80, TCP_ACK, 9001, "again");
	assert_int_equal(flow_table_count(ft), 1);
	flow_table_close_all(ft, 19);
	assert_string_equal(rec.closed_log[3], "open S:again close");
	/* a retransmitted SYN before any data is the same connection */
	pkt(ft, 7, C, 40001, S, 80, TCP_SYN, 100, NULL);
	pkt(ft, 8, C, 40001, S, 80, TCP_SYN, 100, NULL);
	assert_int_equal(flow_table_count(ft), 1);
	assert_int_equal(q.flows, 5);
	flow_table_free(ft);
}

static void test_rst_and_gaps(void **state)
{
	(void)state;
	struct flow_table *ft = table(0);
	pkt(ft, 1, C, 40000, S, 80, TCP_SYN, 0, NULL);
	pkt(ft, 2, C, 40000, S, 80, TCP_ACK, 1, "ab");
	pkt(ft, 3, C, 40000, S, 80, TCP_ACK, 6, "fg");		/* 3 bytes lost */
	assert_int_equal(flow_table_buffered(ft), 2 + 64);
	pkt(ft, 4, S, 80, C, 40000, TCP_RST, 0, NULL);
	assert_int_equal(flow_table_count(ft), 0);
	assert_int_equal(flow_table_buffered(ft), 0);
	assert_string_equal(rec.closed_log[0], "open S:ab Sgap3 S:fg close");
	assert_int_equal(q.tcp_gaps, 1);
	/* a SYN answered by RST never became a connection */
	pkt(ft, 5, C, 40001, S, 80, TCP_SYN, 0, NULL);
	pkt(ft, 6, S, 80, C, 40001, TCP_RST | TCP_ACK, 0, NULL);
	assert_int_equal(q.flows_never_established, 1);
	assert_int_equal(rec.opens, 1);
	flow_table_free(ft);
}

static void test_shared_budget(void **state)
{
	(void)state;
	memset(&rec, 0, sizeof(rec));
	memset(&q, 0, sizeof(q));
	portmap_init(&ports);
	assert_int_equal(portmap_add_list(&ports, "80", PROTO_HTTP), 0);
	struct flow_table_config cfg = {
		.ports = &ports, .q = &q, .parser = { NULL, &fake_ops, NULL },
		.per_flow_buffer = 2 * (64 + 4),	/* two held 4-byte segments per direction */
		.global_buffer = 3 * (64 + 4),		/* three in all */
	};
	struct flow_table *ft = flow_table_new(&cfg);
	assert_non_null(ft);
	pkt(ft, 1, C, 1, S, 80, TCP_ACK, 0, "a");
	pkt(ft, 2, C, 1, S, 80, TCP_ACK, 10, "bbbb");	/* held */
	pkt(ft, 3, C, 1, S, 80, TCP_ACK, 20, "cccc");	/* held */
	pkt(ft, 4, C, 1, S, 80, TCP_ACK, 30, "dddd");	/* flow cap: hole 1..9 given up */
	assert_int_equal(q.reasm_flow_cap_hits, 1);
	assert_int_equal(flow_table_buffered(ft), 2 * (64 + 4));
	pkt(ft, 5, C, 2, S, 80, TCP_ACK, 0, "x");
	pkt(ft, 6, C, 2, S, 80, TCP_ACK, 10, "yyyy");	/* the last room in the budget */
	pkt(ft, 7, C, 2, S, 80, TCP_ACK, 20, "zzzz");	/* global cap: hole 1..9 given up */
	assert_int_equal(q.reasm_global_cap_hits, 1);
	assert_int_equal(flow_table_buffered(ft), 3 * (64 + 4));
	flow_table_close_all(ft, 8);
	assert_int_equal(flow_table_buffered(ft), 0);
	assert_string_equal(rec.closed_log[0], "open(mid) S:a Sgap9 S:bbbb Sgap6 S:cccc Sgap6 "
					       "S:dddd close");
	assert_string_equal(rec.closed_log[1], "open(mid) S:x Sgap9 S:yyyy Sgap6 S:zzzz close");
	flow_table_free(ft);
}

static void test_idle_and_syn_expiry(void **state)
{
	(void)state;
	const ts_ns sec = TS_NS_PER_SEC;
	struct flow_table *ft = table(0);
	pkt(ft, 0, C, 40000, S, 80, TCP_ACK, 1, "hi");		/* active */
	pkt(ft, 0, C, 40001, S, 80, TCP_SYN, 1, NULL);		/* a SYN nobody answers */
	assert_int_equal(flow_table_count(ft), 2);
	flow_table_expire(ft, 5 * sec);
	assert_int_equal(flow_table_count(ft), 2);
	flow_table_expire(ft, 5 * sec + 1);
	assert_int_equal(flow_table_count(ft), 1);
	assert_int_equal(q.flows_never_established, 1);
	flow_table_expire(ft, 60 * sec);
	assert_int_equal(flow_table_count(ft), 1);
	pkt(ft, 30 * sec, S, 80, C, 40000, TCP_ACK, 1, "yo");	/* activity resets the clock */
	flow_table_expire(ft, 61 * sec);
	assert_int_equal(flow_table_count(ft), 1);
	flow_table_expire(ft, 90 * sec + 1);
	assert_int_equal(flow_table_count(ft), 0);
	assert_int_equal(q.flows_expired_idle, 1);
	assert_string_equal(rec.closed_log[0], "open(mid) S:hi C:yo close");
	flow_table_free(ft);
}

static void test_eviction_lru(void **state)
{
	(void)state;
	struct flow_table *ft = table(2);
	pkt(ft, 1, C, 1, S, 80, TCP_ACK, 1, "a");
	pkt(ft, 2, C, 2, S, 80, TCP_ACK, 1, "b");
	pkt(ft, 3, C, 1, S, 80, TCP_ACK, 2, "c");	/* flow 1 is now the more recent */
	pkt(ft, 4, C, 3, S, 80, TCP_ACK, 1, "d");	/* evicts flow 2 */
	assert_int_equal(flow_table_count(ft), 2);
	assert_int_equal(q.flows_evicted, 1);
	assert_int_equal(rec.closes, 1);
	assert_int_equal(rec.closed_ctx[0].flow_id, 2);
	assert_string_equal(rec.closed_log[0], "open(mid) S:b close");
	flow_table_free(ft);
	assert_int_equal(rec.closes, 3);
}

static void test_syn_flood_bounded(void **state)
{
	(void)state;
	const size_t max = 4096;
	struct flow_table *ft = table(max);
	struct timespec t0, t1;

	/* a real connection first; the flood must not push it out */
	pkt(ft, 1, C, 40000, S, 80, TCP_SYN, 0, NULL);
	pkt(ft, 2, S, 80, C, 40000, TCP_SYN | TCP_ACK, 0, NULL);
	pkt(ft, 3, C, 40000, S, 80, TCP_ACK, 1, "GET");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct tcp_segment s = { .flags = TCP_SYN };
	s.src.family = s.dst.family = AF_INET;
	s.dst.addr[0] = 10;
	s.dst.addr[3] = 2;
	s.dst.port = 80;
	for (uint32_t i = 0; i < 1000000; i++) {
		s.ts = 10 + i;
		s.src.addr[0] = 172;
		s.src.addr[1] = (uint8_t)(i >> 16);
		s.src.addr[2] = (uint8_t)(i >> 8);
		s.src.addr[3] = (uint8_t)i;
		s.src.port = (uint16_t)(1024 + (i % 60000));
		s.seq = i;
		flow_table_segment(ft, &s);
		assert_true(flow_table_count(ft) <= max);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("1M SYNs in %.3f s\n", secs);
	assert_true(secs < 5.0);
	assert_int_equal(flow_table_count(ft), max);
	assert_int_equal(q.flows, 1000001);
	assert_int_equal(q.flows_evicted, 1000000 - (max - 1));
	assert_int_equal(rec.opens, 1);
	assert_int_equal(rec.closes, 0);	/* the real connection survived */
	pkt(ft, 2000000, S, 80, C, 40000, TCP_ACK, 1, "200");
	flow_table_expire(ft, 1000010 + 5 * TS_NS_PER_SEC + 1);
	assert_int_equal(flow_table_count(ft), 1);
	assert_int_equal(q.flows_never_established, max - 1);
	flow_table_close_all(ft, 3000000);
	assert_string_equal(rec.closed_log[0], "open S:GET C:200 close");
	flow_table_free(ft);
}

static void test_no_parser_or_failed_open(void **state)
{
	(void)state;
	memset(&q, 0, sizeof(q));
	portmap_init(&ports);
	assert_int_equal(portmap_add_list(&ports, "80", PROTO_HTTP), 0);
	struct stream_parser_ops failing = fake_ops;
	struct flow_table_config cfg = { .ports = &ports, .q = &q };
	/* the protocol has no parser: ignored */
	struct flow_table *ft = flow_table_new(&cfg);
	assert_non_null(ft);
	pkt(ft, 1, C, 40000, S, 80, TCP_ACK, 1, "GET");
	assert_int_equal(flow_table_count(ft), 0);
	assert_int_equal(q.packets_ignored_port, 1);
	flow_table_free(ft);
	/* open() fails: the flow is counted, its bytes dropped */
	failing.open = NULL;
	cfg.parser[PROTO_HTTP] = &failing;
	ft = flow_table_new(&cfg);
	assert_non_null(ft);
	pkt(ft, 1, C, 40000, S, 80, TCP_ACK, 1, "GET");
	pkt(ft, 2, C, 40000, S, 80, TCP_ACK, 4, "GET");
	assert_int_equal(q.flows_parser_failed, 1);
	flow_table_free(ft);
}

/* ---- real captures through capture + decode + flow, byte totals checked with tshark ---- */

static struct {
	uint64_t bytes, gaps, gap_bytes, fins;
} tot;

static void *count_open(const struct stream_ctx *ctx)
{
	(void)ctx;
	return &tot;
}
static void count_data(void *p, enum stream_dir dir, const uint8_t *data, size_t len, ts_ns ts)
{
	(void)p; (void)dir; (void)data; (void)ts;
	tot.bytes += len;
}
static void count_gap(void *p, enum stream_dir dir, uint64_t len, ts_ns ts)
{
	(void)p; (void)dir; (void)ts;
	tot.gaps++;
	tot.gap_bytes += len;
}
static void count_fin(void *p, enum stream_dir dir, ts_ns ts)
{
	(void)p; (void)dir; (void)ts;
	tot.fins++;
}
static void count_close(void *p, ts_ns ts)
{
	(void)p; (void)ts;
}
static const struct stream_parser_ops count_ops = {
	"count", count_open, count_data, count_gap, count_fin, count_close,
};

static void feed(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		 ts_ns ts)
{
	struct tcp_segment seg;
	if (decode_frame(dlt, frame, caplen, wirelen, ts, &seg, &q) == 0)
		flow_table_segment(ctx, &seg);
}

static void test_real_captures(void **state)
{
	(void)state;
	/*
	 * bytes: the sum over streams of `tshark -q -z follow,tcp,raw,N` (which
	 * drops retransmissions); gap: "[N bytes missing in capture file]".
	 */
	static const struct {
		const char *file, *ports;
		uint64_t bytes, gap_bytes, flows;
	} want[] = {
		{ "gap_in_stream.pcap", "8000", 28159, 49152, 1 },
		{ "mongodb_op_msg_opcode.pcap", "9991", 77281, 0, 2 },
		{ "wsgi_drum.pcap", "8888", 284419, 0, 16 },
		{ "http_minitwit.pcap", "80,5000", 6836, 0, 6 },
		{ "mongo_3.0_session.pcap", "27017", 6244, 0, 1 },
		{ "http_get_2k_file.pcap", "8000", 2357, 0, 2 },
		{ "http_10_connection_close.pcap", "5432,8000", 18804, 0, 2 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char path[256], err[512];
		memset(&tot, 0, sizeof(tot));
		memset(&q, 0, sizeof(q));
		portmap_init(&ports);
		assert_int_equal(portmap_add_list(&ports, want[i].ports, PROTO_HTTP), 0);
		struct flow_table_config cfg = { .ports = &ports, .q = &q,
						 .parser = { NULL, &count_ops, NULL } };
		struct flow_table *ft = flow_table_new(&cfg);
		assert_non_null(ft);
		snprintf(path, sizeof(path), "../shared/peer/packetbeat/%s", want[i].file);
		struct capture *c = capture_open_file(path, err, sizeof(err));
		if (!c)
			fail_msg("%s", err);
		int n = capture_next_batch(c, 0, feed, ft);
		assert_int_equal(n, (int)q.packets);
		flow_table_close_all(ft, 0);
		print_message("%-32s flows %llu bytes %llu gaps %llu/%llu B retrans %llu ooo %llu "
			      "fins %llu\n", want[i].file, (unsigned long long)q.flows,
			      (unsigned long long)tot.bytes, (unsigned long long)tot.gaps,
			      (unsigned long long)tot.gap_bytes,
			      (unsigned long long)q.tcp_retransmits,
			      (unsigned long long)q.tcp_out_of_order, (unsigned long long)tot.fins);
		assert_int_equal(tot.bytes, want[i].bytes);
		assert_int_equal(tot.gap_bytes, want[i].gap_bytes);
		assert_int_equal(q.flows, want[i].flows);
		assert_int_equal(flow_table_count(ft), 0);
		assert_int_equal(flow_table_buffered(ft), 0);
		capture_free(c);
		flow_table_free(ft);
	}
}

/* pcapgen -> file -> capture -> decode -> flow: the whole network half on generated traffic. */
static void test_generated_conversations(void **state)
{
	(void)state;
	static const char req[] = "GET /users/42 HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	char path[] = "/tmp/tierprobe-test-flow-XXXXXX", err[512];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL2, DLT_NULL };
	for (size_t i = 0; i < 3; i++) {
		struct pcapgen *g = pcapgen_open(path, dlts[i]);
		assert_non_null(g);
		g->vlan_n = dlts[i] == DLT_EN10MB;
		ts_ns t = 1764108975LL * TS_NS_PER_SEC;
		t = pcapgen_conversation(g, t, "10.0.0.1", 40000, "10.0.0.2", 8000, req,
					 sizeof(req) - 1, resp, sizeof(resp) - 1, 7);
		pcapgen_conversation(g, t, "2001:db8::1", 40001, "2001:db8::2", 8000, req,
				     sizeof(req) - 1, resp, sizeof(resp) - 1, 0);
		assert_int_equal(pcapgen_close(g), 0);

		memset(&tot, 0, sizeof(tot));
		memset(&q, 0, sizeof(q));
		portmap_init(&ports);
		assert_int_equal(portmap_add_list(&ports, "8000", PROTO_HTTP), 0);
		struct flow_table_config cfg = { .ports = &ports, .q = &q,
						 .parser = { NULL, &count_ops, NULL } };
		struct flow_table *ft = flow_table_new(&cfg);
		struct capture *c = capture_open_file(path, err, sizeof(err));
		if (!c)
			fail_msg("%s", err);
		assert_true(capture_next_batch(c, 0, feed, ft) > 0);
		assert_int_equal(flow_table_count(ft), 0);	/* both closed by FINs */
		assert_int_equal(tot.bytes, 2 * (sizeof(req) - 1 + sizeof(resp) - 1));
		assert_int_equal(tot.fins, 4);
		assert_int_equal(tot.gaps, 0);
		assert_int_equal(q.flows, 2);
		assert_int_equal(q.flows_midstream, 0);
		assert_int_equal(q.tcp_retransmits + q.tcp_out_of_order, 0);
		capture_free(c);
		flow_table_free(ft);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_connection),
		cmocka_unit_test(test_server_side),
		cmocka_unit_test(test_port_reuse),
		cmocka_unit_test(test_rst_and_gaps),
		cmocka_unit_test(test_shared_budget),
		cmocka_unit_test(test_idle_and_syn_expiry),
		cmocka_unit_test(test_eviction_lru),
		cmocka_unit_test(test_syn_flood_bounded),
		cmocka_unit_test(test_no_parser_or_failed_open),
		cmocka_unit_test(test_real_captures),
		cmocka_unit_test(test_generated_conversations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
