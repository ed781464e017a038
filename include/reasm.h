/*
 * reasm.h - TCP reassembly of one direction of a connection: in-order bytes
 * to a callback, out-of-order segments held in a bounded sorted list,
 * retransmissions trimmed, holes reported as explicit gaps (RFC 9293
 * sequence space, modulo 2^32).
 *
 * Memory: each held segment costs reasm_seg_cost(len) bytes, charged to the
 * direction's cap and to the shared struct membudget before it is allocated.
 * When either refuses, the oldest hole is given up: a gap is reported and the
 * held bytes behind it are delivered, so memory stays bounded and the parser
 * learns exactly how many bytes it missed.
 */
#ifndef TIERPROBE_REASM_H
#define TIERPROBE_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "membudget.h"
#include "quality.h"
#include "timestamp.h"

/* Bookkeeping charged per held segment on top of its bytes. */
#define REASM_SEG_OVERHEAD 64

static inline size_t reasm_seg_cost(size_t len)
{
	return len + REASM_SEG_OVERHEAD;
}

/*
 * Where a direction's stream goes. dir is the value given to reasm_dir_init.
 * data() bytes are only valid during the call; ts is the capture time at
 * which they became contiguous. gap() says len bytes are missing here.
 * fin() is called once, when the stream has reached the sender's FIN.
 */
struct reasm_sink {
	void (*data)(void *ctx, int dir, const uint8_t *data, size_t len, ts_ns ts);
	void (*gap)(void *ctx, int dir, uint64_t len, ts_ns ts);
	void (*fin)(void *ctx, int dir, ts_ns ts);
	void *ctx;
};

struct reasm_config {
	size_t per_dir_cap;		/* bytes (reasm_seg_cost) held per direction */
	struct membudget *budget;	/* shared by every direction of every flow */
	struct quality *q;
};

struct reasm_seg;

/* One direction. Plain data: embed it, reasm_dir_init it, reasm_dir_release it. */
struct reasm_dir {
	uint32_t next_seq;		/* the next byte the parser expects */
	uint32_t fin_seq;		/* sequence number of the FIN, when fin_seen */
	uint8_t dir;
	uint8_t have_base;		/* next_seq is meaningful */
	uint8_t fin_seen;
	uint8_t fin_done;		/* sink->fin() was called */
	struct reasm_seg *held;		/* out-of-order segments, sorted by seq */
	size_t held_cost;		/* sum of reasm_seg_cost() of held segments */
	uint64_t delivered;		/* bytes given to data() */
	uint64_t gap_bytes;		/* bytes reported through gap() */
};

void reasm_dir_init(struct reasm_dir *d, int dir);

/* Frees held segments and gives their cost back to the budget. */
void reasm_dir_release(struct reasm_dir *d, struct membudget *budget);

/* A SYN with this initial sequence number: data starts at isn + 1. */
void reasm_dir_syn(struct reasm_dir *d, uint32_t isn);

/*
 * One segment of this direction: len bytes of data present at seq, out of
 * wire_len sent (wire_len > len when the snaplen cut the segment: the rest
 * becomes a gap). fin nonzero when the segment carries FIN. Without a SYN,
 * the first segment seen sets the base (midstream pickup).
 */
void reasm_dir_segment(struct reasm_dir *d, const struct reasm_config *cfg, uint32_t seq,
		       const uint8_t *data, size_t len, size_t wire_len, int fin, ts_ns ts,
		       const struct reasm_sink *sink);

/*
 * Gives up every hole (end of the connection, idle): reports each as a gap,
 * delivers all held data, and calls fin() if a FIN was seen. Held memory is
 * released.
 */
void reasm_dir_flush(struct reasm_dir *d, const struct reasm_config *cfg, ts_ns ts,
		     const struct reasm_sink *sink);

/* Bytes currently held (reasm_seg_cost units). */
static inline size_t reasm_dir_held(const struct reasm_dir *d)
{
	return d->held_cost;
}

#endif
