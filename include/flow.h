/*
 * flow.h - the flow table: one entry per TCP connection on a configured
 * port, each with per-direction reassembly feeding that protocol's parser.
 * Bounded: a maximum number of flows (the oldest idle ones are evicted and
 * counted), idle expiry, and per-flow / global caps on buffered bytes.
 */
#ifndef TIERPROBE_FLOW_H
#define TIERPROBE_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "membudget.h"
#include "portmap.h"
#include "quality.h"
#include "stream.h"
#include "txn.h"

struct flow_table_config {
	const struct portmap *ports;
	/* The parser for each protocol, indexed by enum proto; NULL = not decoded. */
	const struct stream_parser_ops *parser[3];
	const struct txn_sink *sink;
	struct quality *q;
	size_t max_flows;		/* default 65536 */
	size_t per_flow_buffer;		/* out-of-order bytes held per direction; default 256 KiB */
	size_t global_buffer;		/* all flows' held bytes; default 32 MiB */
	ts_ns idle_timeout;		/* default 60 s of capture time */
	ts_ns syn_timeout;		/* never-established flows; default 5 s */
	ts_ns closed_linger;		/* finished connections kept to spot duplicates; default 60 s */
	/*
	 * Optional: called once when a flow's first payload byte is seen, so the
	 * live path can map the socket to its process while it still exists.
	 */
	void (*on_first_data)(void *ctx, uint64_t flow_id, enum proto proto,
			      const struct endpoint *client, const struct endpoint *server);
	void *on_first_data_ctx;
};

struct flow_table;

/* Returns a new table (owned by the caller, freed with flow_table_free), NULL on OOM. */
struct flow_table *flow_table_new(const struct flow_table_config *cfg);

/*
 * Feeds one decoded segment. Cheap for segments on unconfigured ports (counted, ignored).
 * A flow starts on a client SYN or on the first payload (midstream). The parser is
 * opened at the first payload byte (so SYN-only flows cost no parser state). RST, or
 * FIN in both directions, closes it; the entry then lingers for syn_timeout so that
 * duplicated packets count as retransmissions instead of starting a bogus flow. A
 * client SYN with a new ISN on a used 4-tuple closes the old flow and starts a new one.
 * When the table is full, closed entries go first, then SYN-only flows, then the least
 * recently active flow (flows_evicted).
 */
void flow_table_segment(struct flow_table *ft, const struct tcp_segment *seg);

/* Expires flows idle since before now - idle_timeout. Call about once a second of capture time. */
void flow_table_expire(struct flow_table *ft, ts_ns now);

/* Closes every flow (end of input, shutdown): parsers flush pending transactions. */
void flow_table_close_all(struct flow_table *ft, ts_ns now);

/* Number of live flows (not lingering closed ones), and bytes held by reassembly. */
size_t flow_table_count(const struct flow_table *ft);
size_t flow_table_buffered(const struct flow_table *ft);

void flow_table_free(struct flow_table *ft);

#endif
