/*
 * pcapgen.h - header-only helper for tests: builds TCP frames (Ethernet with
 * optional VLAN tags, Linux cooked v1/v2, BSD NULL/LOOP, raw IPv4/IPv6) and
 * writes classic pcap files with nanosecond timestamps (magic 0xa1b23c4d,
 * https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html).
 *
 * Usage:
 *
 *	struct pcapgen *g = pcapgen_open("x.pcap", DLT_EN10MB);  // or pcapgen_open_mem()
 *	ts_ns t = 1700000000 * TS_NS_PER_SEC;
 *	pcapgen_tcp(g, t, "10.0.0.1", 40000, "10.0.0.2", 80, TCP_SYN, 1000, 0, NULL, 0);
 *	pcapgen_tcp(g, t + 1000, "10.0.0.2", 80, "10.0.0.1", 40000, TCP_SYN | TCP_ACK,
 *		    5000, 1001, NULL, 0);
 *	pcapgen_tcp(g, t + 2000, "10.0.0.1", 40000, "10.0.0.2", 80, TCP_ACK | TCP_PSH,
 *		    1001, 5001, "GET / HTTP/1.1\r\n\r\n", 18);
 *	pcapgen_close(g);		// returns 0, or -1 if any write failed
 *
 * Addresses containing ':' are IPv6. pcapgen_conversation() builds a whole
 * handshake + request + response + FIN exchange. Knobs (set fields on g
 * between calls): vlan tags, IPv4 options, IPv6 extension headers, TCP
 * options, a snaplen cut, NULL/LOOP family values. pcapgen_frame() builds one
 * frame into a caller buffer without writing, for decoder tests.
 * Every function returns -1 / NULL on error; nothing here aborts.
 */
#ifndef TIERPROBE_TESTS_PCAPGEN_H
#define TIERPROBE_TESTS_PCAPGEN_H

#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "decode.h"		/* enum tcp_flag */
#include "timestamp.h"

#define PCAPGEN_MAX_FRAME 70000
#define PCAPGEN_MAX_VLAN 4


struct pcapgen {
	FILE *f;
	int dlt;
	int err;
	/* Memory output (pcapgen_open_mem): the buffer open_memstream fills. */
	char *mem;
	size_t memlen;

	/* Knobs, all zero by default. */
	int vlan_n;				/* Ethernet / SLL: tags to insert */
	uint16_t vlan_tpid[PCAPGEN_MAX_VLAN];	/* 0x8100, 0x88a8, 0x9100 */
	uint16_t vlan_id[PCAPGEN_MAX_VLAN];
	uint32_t null_family6;		/* AF_INET6 for NULL/LOOP; default 30 (macOS) */
	int null_swap;			/* NULL: write the family big-endian */
	int ipv4_opts;			/* bytes of IPv4 options (NOPs), multiple of 4 */
	int ipv6_hbh;			/* insert a hop-by-hop options header */
	int ipv6_dstopts;		/* insert a destination options header (16 bytes) */
	int ipv6_frag;			/* insert a fragment header: 1 atomic, 2 first fragment */
	int tcp_opts;			/* bytes of TCP options (NOPs), multiple of 4 */
	int eth_pad;			/* pad Ethernet frames to 60 bytes */
	size_t snaplen;			/* record at most this many bytes (0 = all) */
	uint8_t frame[PCAPGEN_MAX_FRAME];
};

static inline void pcapgen_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void pcapgen_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void pcapgen_put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t pcapgen_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static inline uint16_t pcapgen_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * Builds one frame for g's link type into out (at most cap bytes) and returns
 * its length, or 0 if it does not fit or an address does not parse.
 */
/* The frame's 802.1Q tags (TPID 0x8100 unless set), outermost first; returns past them. */
static inline uint8_t *pcapgen_put_vlans(const struct pcapgen *g, uint8_t *p)
{
	for (int i = 0; i < g->vlan_n; i++, p += 4) {
		pcapgen_put16(p, g->vlan_tpid[i] ? g->vlan_tpid[i] : 0x8100);
		pcapgen_put16(p + 2, g->vlan_id[i]);
	}
	return p;
}

static inline size_t pcapgen_frame(const struct pcapgen *g, const char *src, uint16_t sport,
				   const char *dst, uint16_t dport, uint8_t flags, uint32_t seq,
				   uint32_t ack, const void *payload, size_t len, uint8_t *out,
				   size_t cap)
{
	uint8_t sa[16], da[16];
	int v6 = strchr(src, ':') != NULL;
	size_t alen = v6 ? 16 : 4;
	size_t link, ipoff, l3len, tcpoff, ext = 0, n;
	uint16_t ethertype = v6 ? 0x86dd : 0x0800;

	if (inet_pton(v6 ? AF_INET6 : AF_INET, src, sa) != 1 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, dst, da) != 1)
		return 0;
	size_t tcplen = 20 + (size_t)g->tcp_opts;
	size_t iphl = v6 ? 40 : 20 + (size_t)g->ipv4_opts;
	if (v6)
		ext = (g->ipv6_hbh ? 8 : 0) + (g->ipv6_dstopts ? 16 : 0) + (g->ipv6_frag ? 8 : 0);

	switch (g->dlt) {
	case DLT_EN10MB: link = 14 + 4 * (size_t)g->vlan_n; break;
	case DLT_LINUX_SLL: link = 16 + 4 * (size_t)g->vlan_n; break;
	case DLT_LINUX_SLL2: link = 20; break;
	case DLT_NULL: case DLT_LOOP: link = 4; break;
	default: link = 0; break;	/* DLT_RAW, DLT_IPV4, DLT_IPV6 */
	}
	n = link + iphl + ext + tcplen + len;
	if (n > cap || iphl + ext + tcplen + len > 65535 + (v6 ? 40 : 0))
		return 0;
	memset(out, 0, n);

	/* Link header. */
	uint8_t *p = out;
	switch (g->dlt) {
	case DLT_EN10MB:
		memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
		p += 12;
		p = pcapgen_put_vlans(g, p);
		pcapgen_put16(p, ethertype);
		break;
	case DLT_LINUX_SLL:
		pcapgen_put16(p, 0);		/* packet type: to us */
		pcapgen_put16(p + 2, 1);	/* ARPHRD_ETHER */
		pcapgen_put16(p + 4, 6);
		memcpy(p + 6, "\x02\x00\x00\x00\x00\x01", 6);
		p += 14;
		p = pcapgen_put_vlans(g, p);
		pcapgen_put16(p, ethertype);
		break;
	case DLT_LINUX_SLL2:
		pcapgen_put16(p, ethertype);
		pcapgen_put32(p + 4, 2);	/* ifindex */
		pcapgen_put16(p + 8, 1);	/* ARPHRD_ETHER */
		p[11] = 6;
		memcpy(p + 12, "\x02\x00\x00\x00\x00\x01", 6);
		break;
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t fam = v6 ? (g->null_family6 ? g->null_family6 : 30) : 2;
		if (g->dlt == DLT_LOOP || g->null_swap)
			pcapgen_put32(p, fam);
		else
			pcapgen_put32le(p, fam);
		break;
	}
	default:
		break;
	}

	/* IP header. */
	ipoff = link;
	p = out + ipoff;
	l3len = iphl + ext + tcplen + len;
	if (v6) {
		uint8_t nh = 6;
		size_t o = 40 + ext;
		/* Extension headers are written back to front so each names the next. */
		if (g->ipv6_frag) {
			o -= 8;
			p[o] = nh;
			/* atomic: offset 0, M 0; first fragment: offset 0, M 1 */
			pcapgen_put16(p + o + 2, g->ipv6_frag == 2 ? 1 : 0);
			pcapgen_put32(p + o + 4, 0x1234);
			nh = 44;
		}
		if (g->ipv6_dstopts) {
			o -= 16;
			p[o] = nh;
			p[o + 1] = 1;		/* (1 + 1) * 8 bytes */
			p[o + 2] = 1;		/* PadN over the rest */
			p[o + 3] = 12;
			nh = 60;
		}
		if (g->ipv6_hbh) {
			o -= 8;
			p[o] = nh;
			p[o + 2] = 1;		/* PadN */
			p[o + 3] = 4;
			nh = 0;
		}
		pcapgen_put32(p, 0x60000000);
		pcapgen_put16(p + 4, (uint16_t)(l3len - 40));
		p[6] = nh;
		p[7] = 64;
		memcpy(p + 8, sa, 16);
		memcpy(p + 24, da, 16);
	} else {
		p[0] = (uint8_t)(0x40 | (iphl / 4));
		pcapgen_put16(p + 2, (uint16_t)l3len);
		pcapgen_put16(p + 4, 1);	/* id */
		pcapgen_put16(p + 6, 0x4000);	/* DF */
		p[8] = 64;
		p[9] = 6;
		memcpy(p + 12, sa, 4);
		memcpy(p + 16, da, 4);
		memset(p + 20, 1, (size_t)g->ipv4_opts);	/* NOP options */
		pcapgen_put16(p + 10, pcapgen_fold(pcapgen_sum(0, p, iphl)));
	}

	/* TCP header and payload. */
	tcpoff = ipoff + iphl + ext;
	p = out + tcpoff;
	pcapgen_put16(p, sport);
	pcapgen_put16(p + 2, dport);
	pcapgen_put32(p + 4, seq);
	pcapgen_put32(p + 8, ack);
	p[12] = (uint8_t)((tcplen / 4) << 4);
	p[13] = flags;
	pcapgen_put16(p + 14, 65535);
	memset(p + 20, 1, (size_t)g->tcp_opts);
	if (len)
		memcpy(p + tcplen, payload, len);
	/* Checksum over the pseudo-header, so tshark shows clean segments. */
	uint32_t s = pcapgen_sum(0, sa, alen);
	s = pcapgen_sum(s, da, alen);
	s += 6 + (uint32_t)(tcplen + len);
	pcapgen_put16(p + 16, pcapgen_fold(pcapgen_sum(s, p, tcplen + len)));

	if (g->dlt == DLT_EN10MB && g->eth_pad && n < 60 && cap >= 60) {
		memset(out + n, 0, 60 - n);
		n = 60;
	}
	return n;
}

static inline uint32_t pcapgen_linktype(int dlt)
{
	return dlt == DLT_RAW ? 101u : (uint32_t)dlt;	/* LINKTYPE_RAW */
}

static inline void pcapgen_header(struct pcapgen *g)
{
	uint8_t h[24] = { 0 };
	pcapgen_put32le(h, 0xa1b23c4d);		/* nanosecond pcap */
	h[4] = 2;				/* version 2.4 */
	h[6] = 4;
	pcapgen_put32le(h + 16, 262144);	/* snaplen */
	pcapgen_put32le(h + 20, pcapgen_linktype(g->dlt));
	if (fwrite(h, 1, sizeof(h), g->f) != sizeof(h))
		g->err = 1;
}

/* Opens path for writing a pcap of link type dlt (a DLT_* value). NULL on error. */
static inline struct pcapgen *pcapgen_open(const char *path, int dlt)
{
	struct pcapgen *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->dlt = dlt;
	g->f = fopen(path, "wb");
	if (!g->f) {
		free(g);
		return NULL;
	}
	pcapgen_header(g);
	return g;
}

/* Same, into memory; pcapgen_close_mem() hands the bytes over. */
static inline struct pcapgen *pcapgen_open_mem(int dlt)
{
	struct pcapgen *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->dlt = dlt;
	g->f = open_memstream(&g->mem, &g->memlen);
	if (!g->f) {
		free(g);
		return NULL;
	}
	pcapgen_header(g);
	return g;
}

/* Writes one record: caplen bytes of frame out of wirelen sent. */
static inline int pcapgen_write(struct pcapgen *g, ts_ns ts, const uint8_t *frame,
				size_t caplen, size_t wirelen)
{
	uint8_t h[16];
	pcapgen_put32le(h, (uint32_t)(ts / TS_NS_PER_SEC));
	pcapgen_put32le(h + 4, (uint32_t)(ts % TS_NS_PER_SEC));
	pcapgen_put32le(h + 8, (uint32_t)caplen);
	pcapgen_put32le(h + 12, (uint32_t)wirelen);
	if (fwrite(h, 1, 16, g->f) != 16 || fwrite(frame, 1, caplen, g->f) != caplen) {
		g->err = 1;
		return -1;
	}
	return 0;
}

/* Builds a TCP segment (flags from TCP_SYN...) and writes it. Returns 0 or -1. */
static inline int pcapgen_tcp(struct pcapgen *g, ts_ns ts, const char *src, uint16_t sport,
			      const char *dst, uint16_t dport, uint8_t flags, uint32_t seq,
			      uint32_t ack, const void *payload, size_t len)
{
	size_t n = pcapgen_frame(g, src, sport, dst, dport, flags, seq, ack, payload, len,
				 g->frame, sizeof(g->frame));
	if (n == 0) {
		g->err = 1;
		return -1;
	}
	size_t cap = g->snaplen && g->snaplen < n ? g->snaplen : n;
	return pcapgen_write(g, ts, g->frame, cap, n);
}

/*
 * A whole connection, 1 ms between packets from ts: handshake, the request
 * (split into segments of at most mss bytes, 0 = one segment), the response
 * likewise, then FIN/ACK both ways. Returns the time after the last packet.
 */
static inline ts_ns pcapgen_conversation(struct pcapgen *g, ts_ns ts, const char *client,
					 uint16_t cport, const char *server, uint16_t sport,
					 const void *req, size_t req_len, const void *resp,
					 size_t resp_len, size_t mss)
{
	const ts_ns step = TS_NS_PER_MS;
	uint32_t cs = 1000, ss = 900000;
	const uint8_t *r = req, *s = resp;

	if (!mss)
		mss = 65000;
	pcapgen_tcp(g, ts, client, cport, server, sport, TCP_SYN, cs++, 0, NULL, 0);
	pcapgen_tcp(g, ts += step, server, sport, client, cport, TCP_SYN | TCP_ACK, ss++, cs,
		    NULL, 0);
	pcapgen_tcp(g, ts += step, client, cport, server, sport, TCP_ACK, cs, ss, NULL, 0);
	for (size_t o = 0; o < req_len; o += mss) {
		size_t n = req_len - o < mss ? req_len - o : mss;
		pcapgen_tcp(g, ts += step, client, cport, server, sport, TCP_ACK | TCP_PSH, cs,
			    ss, r + o, n);
		cs += (uint32_t)n;
	}
	for (size_t o = 0; o < resp_len; o += mss) {
		size_t n = resp_len - o < mss ? resp_len - o : mss;
		pcapgen_tcp(g, ts += step, server, sport, client, cport, TCP_ACK | TCP_PSH, ss,
			    cs, s + o, n);
		ss += (uint32_t)n;
	}
	pcapgen_tcp(g, ts += step, client, cport, server, sport, TCP_FIN | TCP_ACK, cs++, ss,
		    NULL, 0);
	pcapgen_tcp(g, ts += step, server, sport, client, cport, TCP_FIN | TCP_ACK, ss++, cs,
		    NULL, 0);
	pcapgen_tcp(g, ts += step, client, cport, server, sport, TCP_ACK, cs, ss, NULL, 0);
	return ts + step;
}

/* Closes the file; returns 0, or -1 if any write failed. */
static inline int pcapgen_close(struct pcapgen *g)
{
	int rc;
	if (!g)
		return -1;
	rc = g->err ? -1 : 0;
	if (fclose(g->f) != 0)
		rc = -1;
	free(g->mem);
	free(g);
	return rc;
}

/* Closes a memory pcap and hands over its bytes (free() them). Returns 0 or -1. */
static inline int pcapgen_close_mem(struct pcapgen *g, uint8_t **buf, size_t *len)
{
	int rc;
	if (!g)
		return -1;
	rc = g->err ? -1 : 0;
	if (fclose(g->f) != 0)
		rc = -1;
	*buf = (uint8_t *)g->mem;
	*len = g->memlen;
	free(g);
	return rc;
}

#endif
