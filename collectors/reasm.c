/*
 * reasm.c - per-direction TCP reassembly (RFC 9293 sequence space, modulo
 * 2^32): in-order delivery, a bounded sorted out-of-order list, trimming of
 * retransmissions and overlaps, and explicit gaps for holes given up.
 *
 * A held segment covers [seq, seq + wire) of sequence space and carries the
 * first len bytes of it (len < wire when the snaplen cut it). Held segments
 * never overlap one another: overlaps are trimmed when a segment is inserted.
 */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

struct reasm_seg {
	struct reasm_seg *next;
	uint32_t seq;
	uint32_t len;		/* bytes present in data[] */
	uint32_t wire;		/* sequence space covered (>= len) */
	uint8_t data[];
};

/* Signed distance a - b in sequence space: negative when a is before b. */
static int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

void reasm_dir_init(struct reasm_dir *d, int dir)
{
	memset(d, 0, sizeof(*d));
	d->dir = (uint8_t)dir;
}

static void seg_free(struct reasm_dir *d, struct membudget *budget, struct reasm_seg *s)
{
	size_t cost = reasm_seg_cost(s->len);
	d->held_cost -= cost;
	if (budget)
		membudget_give(budget, cost);
	free(s);
}

void reasm_dir_release(struct reasm_dir *d, struct membudget *budget)
{
	while (d->held) {
		struct reasm_seg *s = d->held;
		d->held = s->next;
		seg_free(d, budget, s);
	}
}

void reasm_dir_syn(struct reasm_dir *d, uint32_t isn)
{
	/* A SYN only sets the base while nothing has been taken from this direction. */
	if (d->have_base && (d->delivered || d->gap_bytes || d->held))
		return;
	d->have_base = 1;
	d->next_seq = isn + 1;
}

static void emit_gap(struct reasm_dir *d, const struct reasm_config *cfg, uint64_t n, ts_ns ts,
		     const struct reasm_sink *sink)
{
	if (n == 0)
		return;
	cfg->q->tcp_gaps++;
	cfg->q->tcp_gap_bytes += n;
	d->gap_bytes += n;
	if (sink->gap)
		sink->gap(sink->ctx, d->dir, n, ts);
}

/* Hands over a piece that starts exactly at next_seq; its missing tail is a gap. */
static void deliver(struct reasm_dir *d, const struct reasm_config *cfg, const uint8_t *data,
		    uint32_t len, uint32_t wire, ts_ns ts, const struct reasm_sink *sink)
{
	if (len) {
		d->delivered += len;
		if (sink->data)
			sink->data(sink->ctx, d->dir, data, len, ts);
	}
	if (wire > len)
		emit_gap(d, cfg, wire - len, ts, sink);
	d->next_seq += wire;
}

static void check_fin(struct reasm_dir *d, ts_ns ts, const struct reasm_sink *sink)
{
	/* At or past the FIN: a sender may (wrongly) send data beyond its own FIN. */
	if (d->fin_seen && !d->fin_done && seq_diff(d->next_seq, d->fin_seq) >= 0) {
		d->fin_done = 1;
		if (sink->fin)
			sink->fin(sink->ctx, d->dir, ts);
	}
}

/* Delivers held segments that are now contiguous, stamped with this moment. */
static void drain(struct reasm_dir *d, const struct reasm_config *cfg, ts_ns ts,
		  const struct reasm_sink *sink)
{
	struct reasm_seg *s;

	while ((s = d->held) && seq_diff(s->seq, d->next_seq) <= 0) {
		uint32_t k = d->next_seq - s->seq;	/* already delivered */
		d->held = s->next;
		if (k < s->wire) {
			uint32_t skip = k < s->len ? k : s->len;
			deliver(d, cfg, s->data + skip, s->len - skip, s->wire - k, ts, sink);
		} else {
			cfg->q->tcp_retransmits++;
		}
		seg_free(d, cfg->budget, s);
	}
}

/* Gives up the first hole: reports it as a gap and delivers what follows it. */
static void skip_hole(struct reasm_dir *d, const struct reasm_config *cfg, ts_ns ts,
		      const struct reasm_sink *sink)
{
	struct reasm_seg *s = d->held;
	if (!s)
		return;
	int32_t hole = seq_diff(s->seq, d->next_seq);
	if (hole > 0) {
		emit_gap(d, cfg, (uint64_t)hole, ts, sink);
		d->next_seq = s->seq;
	}
	drain(d, cfg, ts, sink);
}

/*
 * Trims [*seq, *seq + *wire) against the held list so it overlaps nothing,
 * dropping held segments it fully replaces. Returns the link where it belongs,
 * or NULL when nothing new is left. *overlap is set when anything was trimmed.
 */
static struct reasm_seg **trim_against_held(struct reasm_dir *d, const struct reasm_config *cfg,
					    uint32_t *seq, const uint8_t **data, uint32_t *len,
					    uint32_t *wire, int *overlap)
{
	struct reasm_seg **pp = &d->held;
	struct reasm_seg *s;

	while ((s = *pp)) {
		uint32_t end = *seq + *wire;
		uint32_t s_end = s->seq + s->wire;

		if (seq_diff(s_end, *seq) <= 0) {	/* s wholly before */
			pp = &s->next;
			continue;
		}
		if (seq_diff(s->seq, end) >= 0)		/* s wholly after */
			break;
		*overlap = 1;
		if (seq_diff(s->seq, *seq) <= 0) {
			/* s covers our front: keep s, cut ours to start at s_end. */
			uint32_t k = s_end - *seq;
			if (k >= *wire)
				return NULL;
			uint32_t skip = k < *len ? k : *len;
			*data += skip;
			*len -= skip;
			*wire -= k;
			*seq = s_end;
			pp = &s->next;
			continue;
		}
		if (seq_diff(s_end, end) <= 0 && seq_diff(*seq + *len, s_end) >= 0) {
			/* Ours has real bytes for all of s: ours replaces s. */
			*pp = s->next;
			seg_free(d, cfg->budget, s);
			continue;
		}
		/* s starts inside ours: ours ends where s begins. */
		*wire = s->seq - *seq;
		if (*len > *wire)
			*len = *wire;
		break;
	}
	return pp;
}

void reasm_dir_segment(struct reasm_dir *d, const struct reasm_config *cfg, uint32_t seq,
		       const uint8_t *data, size_t len_in, size_t wire_in, int fin, ts_ns ts,
		       const struct reasm_sink *sink)
{
	/* A TCP segment never exceeds 64 KiB (no jumbograms); clamp crafted input. */
	uint32_t wire = wire_in > 0xffff ? 0xffff : (uint32_t)wire_in;
	uint32_t len = len_in > wire ? wire : (uint32_t)len_in;
	int retrans = 0;

	if (!d->have_base) {
		d->have_base = 1;
		d->next_seq = seq;
	}
	if (fin && !d->fin_seen) {
		d->fin_seen = 1;
		d->fin_seq = seq + wire;
	}

	for (;;) {
		if (wire == 0)
			break;
		int32_t off = seq_diff(seq, d->next_seq);
		if (off < 0) {
			uint32_t k = d->next_seq - seq;
			retrans = 1;
			if (k >= wire)
				break;
			uint32_t skip = k < len ? k : len;
			data += skip;
			len -= skip;
			wire -= k;
			seq = d->next_seq;
			off = 0;
		}
		if (off == 0) {
			deliver(d, cfg, data, len, wire, ts, sink);
			drain(d, cfg, ts, sink);
			break;
		}

		/* Out of order: hold it, within the caps. */
		uint32_t h_seq = seq, h_len = len, h_wire = wire;
		const uint8_t *h_data = data;
		struct reasm_seg **pp = trim_against_held(d, cfg, &h_seq, &h_data, &h_len,
							  &h_wire, &retrans);
		if (!pp)
			break;
		size_t cost = reasm_seg_cost(h_len);
		int flow_full = d->held_cost + cost > cfg->per_dir_cap;
		if (!flow_full && (!cfg->budget || membudget_take(cfg->budget, cost) == 0)) {
			struct reasm_seg *s = malloc(sizeof(*s) + h_len);
			if (s) {
				s->seq = h_seq;
				s->len = h_len;
				s->wire = h_wire;
				if (h_len)
					memcpy(s->data, h_data, h_len);
				s->next = *pp;
				*pp = s;
				d->held_cost += cost;
				cfg->q->tcp_out_of_order++;
				break;
			}
			if (cfg->budget)
				membudget_give(cfg->budget, cost);
		}
		if (flow_full)
			cfg->q->reasm_flow_cap_hits++;
		else
			cfg->q->reasm_global_cap_hits++;
		if (d->held && seq_diff(d->held->seq, seq) < 0) {
			/* Give up the oldest hole, then look at this segment again. */
			skip_hole(d, cfg, ts, sink);
			continue;
		}
		/* Nothing held before this segment: give up the hole up to it. */
		emit_gap(d, cfg, (uint32_t)off, ts, sink);
		d->next_seq = seq;
	}
	if (retrans)
		cfg->q->tcp_retransmits++;
	check_fin(d, ts, sink);
}

void reasm_dir_flush(struct reasm_dir *d, const struct reasm_config *cfg, ts_ns ts,
		     const struct reasm_sink *sink)
{
	while (d->held)
		skip_hole(d, cfg, ts, sink);
	if (d->fin_seen && !d->fin_done) {
		int32_t hole = seq_diff(d->fin_seq, d->next_seq);
		if (hole > 0) {
			emit_gap(d, cfg, (uint64_t)hole, ts, sink);
			d->next_seq = d->fin_seq;
		}
		check_fin(d, ts, sink);
	}
}
