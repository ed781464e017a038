/* test_decode.c - link/IP/TCP decoding: every link type, tags, extension headers, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pcapgen.h"

static const char PAYLOAD[] = "GET / HTTP/1.1\r\n\r\n";
#define PLEN (sizeof(PAYLOAD) - 1)

/* Builds a frame for g's settings, client 40000 -> server 80. */
static size_t build(struct pcapgen *g, int v6, uint8_t flags, const void *pl, size_t len,
		    uint8_t *out, size_t cap)
{
	return pcapgen_frame(g, v6 ? "2001:db8::1" : "10.0.0.1", 40000,
			     v6 ? "2001:db8::2" : "10.0.0.2", 80, flags, 0x11223344, 0x55667788,
			     pl, len, out, cap);
}

static uint64_t rejects(const struct quality *q)
{
	return q->packets_truncated + q->packets_not_ip + q->packets_not_tcp +
	       q->packets_bad_header + q->ip_fragments;
}

/* Decodes a heap copy of exactly len bytes, so ASan sees any read past the end. */
static int decode_copy(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		       struct tcp_segment *seg, struct quality *q)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	assert_non_null(copy);
	memcpy(copy, frame, caplen);
	int rc = decode_frame(dlt, copy, caplen, wirelen, 42, seg, q);
	/* payload must point inside the copy; compare before freeing */
	if (rc == 0 && seg->payload_len) {
		assert_true(seg->payload >= copy && seg->payload + seg->payload_len <= copy + caplen);
		assert_memory_equal(seg->payload, PAYLOAD, seg->payload_len);
	}
	free(copy);
	return rc;
}

static void check_ok(struct pcapgen *g, int v6)
{
	uint8_t f[256];
	struct tcp_segment seg;
	struct quality q = { 0 };
	size_t n = build(g, v6, TCP_ACK | TCP_PSH, PAYLOAD, PLEN, f, sizeof(f));
	assert_true(n > 0);
	assert_int_equal(decode_copy(g->dlt, f, n, n, &seg, &q), 0);
	assert_int_equal(seg.src.port, 40000);
	assert_int_equal(seg.dst.port, 80);
	assert_int_equal(seg.seq, 0x11223344);
	assert_int_equal(seg.ack, 0x55667788);
	assert_int_equal(seg.flags, TCP_ACK | TCP_PSH);
	assert_int_equal(seg.payload_len, PLEN);
	assert_int_equal(seg.payload_wire_len, PLEN);
	assert_int_equal(seg.ts, 42);
	assert_int_equal(seg.src.family, v6 ? AF_INET6 : AF_INET);
	if (v6) {
		assert_int_equal(seg.src.addr[0], 0x20);
		assert_int_equal(seg.src.addr[15], 1);
		assert_int_equal(seg.dst.addr[15], 2);
	} else {
		uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
		assert_memory_equal(seg.src.addr, a, 4);
		assert_memory_equal(seg.dst.addr, b, 4);
	}
	assert_int_equal(q.packets, 1);
	assert_int_equal(q.bytes, n);
	assert_int_equal(rejects(&q), 0);
}

static void test_link_types(void **state)
{
	(void)state;
	int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW };
	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		struct pcapgen g = { .dlt = dlts[i] };
		assert_true(decode_linktype_supported(dlts[i]));
		check_ok(&g, 0);
		check_ok(&g, 1);
	}
	struct pcapgen g4 = { .dlt = DLT_IPV4 }, g6 = { .dlt = DLT_IPV6 };
	check_ok(&g4, 0);
	check_ok(&g6, 1);
	assert_true(decode_linktype_supported(101));		/* LINKTYPE_RAW */
	assert_false(decode_linktype_supported(DLT_IEEE802_11));
}

static void test_vlan(void **state)
{
	(void)state;
	struct pcapgen g = { .dlt = DLT_EN10MB, .vlan_n = 1, .vlan_tpid = { 0x8100 },
			     .vlan_id = { 42 } };
	check_ok(&g, 0);
	check_ok(&g, 1);
	/* QinQ: 802.1ad outer, 802.1Q inner; and the old 0x9100 */
	struct pcapgen qq = { .dlt = DLT_EN10MB, .vlan_n = 2, .vlan_tpid = { 0x88a8, 0x8100 } };
	check_ok(&qq, 0);
	struct pcapgen q9 = { .dlt = DLT_EN10MB, .vlan_n = 3,
			      .vlan_tpid = { 0x9100, 0x88a8, 0x8100 } };
	check_ok(&q9, 1);
	struct pcapgen sll = { .dlt = DLT_LINUX_SLL, .vlan_n = 1 };
	check_ok(&sll, 0);
}

static void test_null_families(void **state)
{
	(void)state;
	uint32_t fams[] = { 24, 28, 30 };
	for (int swap = 0; swap < 2; swap++) {
		struct pcapgen g = { .dlt = DLT_NULL, .null_swap = swap };
		check_ok(&g, 0);
		for (size_t i = 0; i < 3; i++) {
			g.null_family6 = fams[i];
			check_ok(&g, 1);
		}
	}
	/* an unknown family (AF_APPLETALK-ish 16) is not IP */
	struct pcapgen g = { .dlt = DLT_NULL };
	uint8_t f[256];
	struct tcp_segment seg;
	struct quality q = { 0 };
	size_t n = build(&g, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	f[0] = 16;
	assert_int_not_equal(decode_copy(DLT_NULL, f, n, n, &seg, &q), 0);
	assert_int_equal(q.packets_not_ip, 1);
}

static void test_ipv6_ext(void **state)
{
	(void)state;
	struct pcapgen g = { .dlt = DLT_EN10MB, .ipv6_hbh = 1, .ipv6_dstopts = 1 };
	check_ok(&g, 1);
	g.ipv6_frag = 1;	/* atomic fragment: a whole packet */
	check_ok(&g, 1);

	uint8_t f[256];
	struct tcp_segment seg;
	struct quality q = { 0 };
	g.ipv6_frag = 2;	/* first of several fragments */
	size_t n = build(&g, 1, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	assert_int_not_equal(decode_copy(g.dlt, f, n, n, &seg, &q), 0);
	assert_int_equal(q.ip_fragments, 1);
	assert_int_equal(rejects(&q), 1);
}

static void test_ipv4_fragment_and_options(void **state)
{
	(void)state;
	struct pcapgen g = { .dlt = DLT_RAW, .ipv4_opts = 8, .tcp_opts = 12 };
	check_ok(&g, 0);

	uint8_t f[256];
	struct tcp_segment seg;
	struct quality q = { 0 };
	size_t n = build(&g, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	f[6] = 0x20;		/* MF: first fragment */
	assert_int_not_equal(decode_copy(DLT_RAW, f, n, n, &seg, &q), 0);
	f[6] = 0x00;
	f[7] = 0x10;		/* offset 16 * 8: a later fragment */
	assert_int_not_equal(decode_copy(DLT_RAW, f, n, n, &seg, &q), 0);
	assert_int_equal(q.ip_fragments, 2);
	assert_int_equal(rejects(&q), 2);
}

static void test_padding_trimmed(void **state)
{
	(void)state;
	struct pcapgen g = { .dlt = DLT_EN10MB, .eth_pad = 1 };
	uint8_t f[256];
	struct tcp_segment seg;
	struct quality q = { 0 };
	size_t n = build(&g, 0, TCP_SYN, NULL, 0, f, sizeof(f));
	assert_int_equal(n, 60);	/* 14 + 20 + 20 = 54, padded */
	memset(f + 54, 0xee, 6);	/* padding garbage must not become payload */
	assert_int_equal(decode_frame(DLT_EN10MB, f, n, n, 1, &seg, &q), 0);
	assert_int_equal(seg.payload_len, 0);
	assert_int_equal(seg.payload_wire_len, 0);
	assert_int_equal(seg.flags, TCP_SYN);
}

/*
 * Cuts a frame at every length. Cut honestly (wirelen = full length: the
 * snaplen did it) the headers must be rejected as truncated and a cut payload
 * accepted with its wire length; cut as a lie (wirelen = caplen), every cut
 * must be rejected. Exactly one counter moves per rejected frame.
 */
static void truncate_all(struct pcapgen *g, int v6)
{
	uint8_t f[256];
	struct tcp_segment seg;
	size_t n = build(g, v6, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	size_t hdr = n - PLEN;

	for (size_t cut = 0; cut < n; cut++) {
		struct quality q = { 0 };
		int rc = decode_copy(g->dlt, f, cut, n, &seg, &q);
		if (cut < hdr) {
			assert_int_not_equal(rc, 0);
			assert_int_equal(q.packets_truncated, 1);
			assert_int_equal(rejects(&q), 1);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(seg.payload_len, cut - hdr);
			assert_int_equal(seg.payload_wire_len, PLEN);
		}
		struct quality q2 = { 0 };
		rc = decode_copy(g->dlt, f, cut, cut, &seg, &q2);
		assert_int_not_equal(rc, 0);
		assert_int_equal(rejects(&q2), 1);
	}
}

static void test_every_truncation(void **state)
{
	(void)state;
	int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW };
	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		struct pcapgen g = { .dlt = dlts[i], .vlan_n = dlts[i] == DLT_EN10MB ? 2 : 0,
				     .ipv4_opts = 4, .tcp_opts = 8 };
		truncate_all(&g, 0);
		g.ipv6_hbh = 1;
		g.ipv6_dstopts = 1;
		g.ipv6_frag = 1;
		truncate_all(&g, 1);
	}
}

static void expect_bad(const uint8_t *f, size_t n, uint64_t q_fields_offset)
{
	struct tcp_segment seg;
	struct quality q = { 0 };
	assert_int_not_equal(decode_copy(DLT_RAW, f, n, n, &seg, &q), 0);
	assert_int_equal(*(uint64_t *)((char *)&q + q_fields_offset), 1);
	assert_int_equal(rejects(&q), 1);
}

static void test_lying_lengths(void **state)
{
	(void)state;
	struct pcapgen g = { .dlt = DLT_RAW };
	uint8_t f[256], b[256];
	size_t n = build(&g, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	size_t bad = offsetof(struct quality, packets_bad_header);

	memcpy(b, f, n); b[0] = 0x44;			/* IHL 4 (16 bytes) */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[0] = 0x4f;			/* IHL 15: 60 bytes, total says 58 */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[2] = 0; b[3] = 19;		/* total 19 < IHL */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[2] = 0x05; b[3] = 0xdc;	/* total 1500 > frame, not snapped */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[0] = 0x55;			/* version 5 */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[32] = 0x40;			/* TCP data offset 4 */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[32] = 0xf0;			/* TCP data offset 15: 60 > 38 */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[2] = 0; b[3] = 30;		/* IP length leaves 10 bytes for TCP */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[9] = 17;			/* UDP */
	expect_bad(b, n, offsetof(struct quality, packets_not_tcp));

	n = build(&g, 1, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	memcpy(b, f, n); b[4] = 0x01; b[5] = 0;		/* IPv6 payload 256 > frame */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[4] = 0; b[5] = 0;		/* jumbogram */
	expect_bad(b, n, bad);
	memcpy(b, f, n); b[6] = 17;			/* UDP */
	expect_bad(b, n, offsetof(struct quality, packets_not_tcp));
	memcpy(b, f, n); b[6] = 0; b[40] = 6; b[41] = 20; /* hop-by-hop of 168 bytes */
	expect_bad(b, n, bad);

	/* A snaplen cut does not excuse a length beyond what was on the wire. */
	n = build(&g, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	{
		struct tcp_segment sg;
		struct quality qq = { 0 };
		memcpy(b, f, n); b[2] = 0x05; b[3] = 0xdc;	/* total 1500 */
		assert_int_not_equal(decode_copy(DLT_RAW, b, n, 1000, &sg, &qq), 0);
		assert_int_equal(qq.packets_bad_header, 1);
		assert_int_equal(decode_copy(DLT_RAW, b, n, 1500, &sg, &qq), 0);
		assert_int_equal(sg.payload_wire_len, 1500 - 40);
		assert_int_equal(sg.payload_len, n - 40);
	}

	/* IPv4 length 0: a TSO send, the frame is the packet */
	n = build(&g, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	{
		struct tcp_segment sg;
		struct quality qq = { 0 };
		memcpy(b, f, n); b[2] = 0; b[3] = 0;
		assert_int_equal(decode_copy(DLT_RAW, b, n, n, &sg, &qq), 0);
		assert_int_equal(sg.payload_len, PLEN);
		assert_int_equal(sg.payload_wire_len, PLEN);
		assert_int_equal(decode_copy(DLT_RAW, b, n - 5, n, &sg, &qq), 0);
		assert_int_equal(sg.payload_len, PLEN - 5);
		assert_int_equal(sg.payload_wire_len, PLEN);
	}

	/* A shorter IP length than the frame: the rest is padding, not payload. */
	n = build(&g, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	struct tcp_segment seg;
	struct quality q = { 0 };
	f[3] = (uint8_t)(f[3] - 4);
	assert_int_equal(decode_copy(DLT_RAW, f, n, n, &seg, &q), 0);
	assert_int_equal(seg.payload_len, PLEN - 4);
}

static void test_not_ip(void **state)
{
	(void)state;
	struct pcapgen g = { .dlt = DLT_EN10MB };
	uint8_t f[256];
	struct tcp_segment seg;
	struct quality q = { 0 };
	size_t n = build(&g, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	f[12] = 0x08; f[13] = 0x06;		/* ARP */
	assert_int_not_equal(decode_copy(DLT_EN10MB, f, n, n, &seg, &q), 0);
	f[12] = 0x00; f[13] = 0x40;		/* 802.3 length field */
	assert_int_not_equal(decode_copy(DLT_EN10MB, f, n, n, &seg, &q), 0);
	assert_int_equal(q.packets_not_ip, 2);
	/* raw IP with version 0 */
	uint8_t z[40] = { 0 };
	assert_int_not_equal(decode_frame(DLT_RAW, z, sizeof(z), sizeof(z), 0, &seg, &q), 0);
	assert_int_equal(q.packets_bad_header, 1);
	/* unsupported link type */
	assert_int_not_equal(decode_frame(DLT_IEEE802_11, f, n, n, 0, &seg, &q), 0);
	assert_int_equal(q.packets_not_ip, 3);
	/* four stacked tags still decode; nine is a crafted frame, not a network */
	struct pcapgen v = { .dlt = DLT_EN10MB, .vlan_n = 4 };
	n = build(&v, 0, TCP_ACK, PAYLOAD, PLEN, f, sizeof(f));
	assert_int_equal(decode_copy(DLT_EN10MB, f, n, n, &seg, &q), 0);
	struct pcapgen raw = { .dlt = DLT_RAW };
	uint8_t ip[128], nine[256];
	size_t iplen = build(&raw, 0, TCP_ACK, PAYLOAD, PLEN, ip, sizeof(ip));
	memset(nine, 0, 12);
	for (int i = 0; i < 9; i++) {
		nine[12 + 4 * i] = 0x81;	/* 0x8100, VLAN id 0 */
		nine[13 + 4 * i] = 0x00;
		nine[14 + 4 * i] = 0x00;
		nine[15 + 4 * i] = 0x00;
	}
	nine[48] = 0x08;			/* then IPv4 */
	nine[49] = 0x00;
	memcpy(nine + 50, ip, iplen);
	assert_int_not_equal(decode_copy(DLT_EN10MB, nine, 50 + iplen, 50 + iplen, &seg, &q), 0);
	assert_int_equal(q.packets_not_ip, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_types),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_null_families),
		cmocka_unit_test(test_ipv6_ext),
		cmocka_unit_test(test_ipv4_fragment_and_options),
		cmocka_unit_test(test_padding_trimmed),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_lying_lengths),
		cmocka_unit_test(test_not_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
