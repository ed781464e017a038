/*
 * quality.h - measurement-quality counters: how much of what happened on the
 * wire the probe really saw and understood. Every layer increments its own
 * fields; summary.json prints them all. Single-threaded: the packet path owns it.
 */
#ifndef TIERPROBE_QUALITY_H
#define TIERPROBE_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#define QUALITY_MAX_UNKNOWN_OPCODES 64

struct quality {
	/* capture / decode */
	uint64_t packets;
	uint64_t bytes;
	uint64_t packets_truncated;	/* caplen shorter than the headers need */
	uint64_t packets_not_ip;	/* ARP, LLDP, ... */
	uint64_t packets_not_tcp;
	uint64_t packets_bad_header;	/* lying lengths, bad versions */
	uint64_t packets_ignored_port;	/* TCP, but no configured port */
	uint64_t ip_fragments;		/* not reassembled; counted */

	/* flows and reassembly */
	uint64_t flows;
	uint64_t flows_midstream;	/* first packet seen was not a SYN */
	uint64_t flows_expired_idle;
	uint64_t flows_evicted;		/* dropped because the flow table was full */
	uint64_t flows_never_established; /* SYN only: scans, floods */
	uint64_t tcp_gaps;		/* holes reported to a parser */
	uint64_t tcp_gap_bytes;
	uint64_t tcp_out_of_order;	/* segments held for later */
	uint64_t tcp_retransmits;	/* segments (or parts) already delivered */
	uint64_t reasm_flow_cap_hits;	/* per-flow buffer cap forced a gap */
	uint64_t reasm_global_cap_hits;	/* global buffer cap forced a gap */
	uint64_t flows_parser_failed;	/* parser open() failed: flow not decoded */

	/* HTTP */
	uint64_t http_requests;
	uint64_t http_responses;
	uint64_t http_unmatched_requests;
	uint64_t http_unmatched_responses;
	uint64_t http_parse_errors;
	uint64_t http_gaps;

	/* MongoDB */
	uint64_t mongo_messages;
	uint64_t mongo_unmatched_requests;
	uint64_t mongo_unmatched_replies;
	uint64_t mongo_parse_errors;
	uint64_t mongo_bson_errors;
	uint64_t mongo_decompress_errors;
	uint64_t mongo_oversize;	/* over the 48 MB or decompressed cap */
	uint64_t mongo_unknown_opcode_msgs;
	uint64_t mongo_gap_messages;	/* messages lost (dropped) to a TCP gap */
	uint64_t mongo_monitor_calls;	/* awaitable hellos and their stream: out of the latency figures */
	/* each distinct unknown opcode once, for "Unknown opcode 2269" reporting */
	int32_t unknown_opcodes[QUALITY_MAX_UNKNOWN_OPCODES];
	unsigned n_unknown_opcodes;

	/* socket -> process (run) */
	uint64_t pid_lookups;		/* connections looked up */
	uint64_t pid_unresolved;	/* gone before their owner could be found (or not local) */

	/* live capture (run) */
	uint64_t kernel_drops;
	uint64_t iface_drops;
};

/* The counters by name, in summary order (summary.json "quality"; read back by report). */
struct quality_field {
	const char *name;
	size_t offset;		/* of a uint64_t inside struct quality */
};
extern const struct quality_field quality_fields[];
extern const size_t QUALITY_NFIELDS;

/* Records an unknown opcode; returns 1 the first time this opcode is seen, else 0. */
int quality_note_unknown_opcode(struct quality *q, int32_t opcode);

#endif
