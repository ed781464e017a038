/*
 * decode.h - link, IP and TCP headers of one captured frame, read through
 * bounds-checked accessors (no struct is ever cast over packet memory).
 * Link types: Ethernet (802.1Q / QinQ), Linux cooked v1 and v2, BSD
 * loopback/NULL (both byte orders), raw IP. IPv4 and IPv6 (extension headers
 * skipped); IP fragments are counted, not reassembled.
 */
#ifndef TIERPROBE_DECODE_H
#define TIERPROBE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "quality.h"
#include "timestamp.h"

enum tcp_flag {
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
};

/* One decoded TCP segment. payload points into the caller's frame buffer. */
struct tcp_segment {
	ts_ns ts;
	struct endpoint src;
	struct endpoint dst;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;		/* enum tcp_flag */
	const uint8_t *payload;
	size_t payload_len;	/* bytes present in the capture */
	size_t payload_wire_len;/* bytes the IP header says were sent (>= payload_len) */
};

/* Nonzero when libpcap's DLT value is one decode_frame() understands. */
int decode_linktype_supported(int dlt);

/*
 * Decodes one frame. Returns 0 and fills seg for a TCP segment; returns a
 * negative value for anything else (not IP, not TCP, truncated, malformed),
 * having counted the reason in q. Every call counts the frame in q->packets
 * and its wire length in q->bytes (callers must not count them again).
 * Bytes past the IP length (Ethernet padding) are trimmed; a frame cut by
 * the snaplen (caplen < wirelen) is kept, with payload_len < payload_wire_len.
 */
int decode_frame(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen, ts_ns ts,
		 struct tcp_segment *seg, struct quality *q);

#endif
