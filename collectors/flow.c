/*
 * flow.c - the flow table: TCP connections (RFC 9293) on configured ports,
 * keyed by their canonical 4-tuple, each feeding two reassembled directions
 * into its protocol's stream parser.
 *
 * Bounded by construction: at most max_flows entries (recycled through a free
 * list, so a SYN flood allocates nothing once the table is full), LRU lists
 * per class (closed, SYN-only, active) so that lingering and never-established
 * flows are evicted before real connections, and reassembly charged to one
 * shared struct membudget.
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "reasm.h"

#define FLOW_DEFAULT_MAX 65536
#define FLOW_DEFAULT_PER_FLOW (256 * 1024)
#define FLOW_DEFAULT_GLOBAL (32 * 1024 * 1024)
#define FLOW_DEFAULT_IDLE (60 * TS_NS_PER_SEC)
#define FLOW_DEFAULT_SYN (5 * TS_NS_PER_SEC)
#define FLOW_DEFAULT_LINGER (60 * TS_NS_PER_SEC)
/* Buckets are a power of two; beyond this, chains just get longer. */
#define FLOW_MAX_BUCKETS (1u << 22)

enum flow_class {
	FLOW_SYN_ONLY = 0,	/* only the client's SYN(s) seen so far */
	FLOW_ACTIVE = 1,
	FLOW_CLOSED = 2,	/* finished; kept a while to absorb duplicates */
	FLOW_NCLASS = 3,
};

struct flow_list {
	struct flow *head;	/* least recently active */
	struct flow *tail;
};

struct flow {
	struct flow *hnext;
	struct flow *lprev, *lnext;
	uint32_t hash;
	uint8_t cls;		/* enum flow_class */
	uint8_t proto;		/* enum proto */
	uint8_t parser_open;
	uint8_t parser_failed;
	uint8_t closed;		/* FLOW_CLOSED: parser closed, reassembly released */
	uint8_t has_isn;
	uint32_t client_isn;	/* the client's SYN, to tell a duplicate from port reuse */
	ts_ns last_seen;
	struct reasm_dir dir[2];	/* indexed by enum stream_dir */
	struct stream_ctx ctx;		/* ctx.client / ctx.server are the key */
	const struct stream_parser_ops *ops;
	void *parser;
	struct flow_table *ft;
};

struct flow_table {
	struct flow_table_config cfg;
	struct reasm_config rcfg;
	struct membudget budget;
	struct flow **buckets;
	uint32_t mask;
	uint64_t seed;
	size_t count;		/* live flows */
	size_t closed;		/* FLOW_CLOSED entries */
	size_t held;		/* reassembly bytes held by all flows */
	uint64_t next_id;
	struct flow_list lru[FLOW_NCLASS];	/* by enum flow_class */
	struct flow *free_list;		/* recycled entries, chained through hnext */
};

static void list_unlink(struct flow_list *l, struct flow *f)
{
	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	else
		l->tail = f->lprev;
	f->lprev = f->lnext = NULL;
}

static void list_append(struct flow_list *l, struct flow *f)
{
	f->lnext = NULL;
	f->lprev = l->tail;
	if (l->tail)
		l->tail->lnext = f;
	else
		l->head = f;
	l->tail = f;
}

/*
 * Endpoint equality and the flow hash run for every packet, so both work on
 * whole words: an IPv4 address is its 4 bytes, an IPv6 one its 16 (bytes of
 * addr[] past the family's length are never looked at).
 */
static int ep_eq(const struct endpoint *a, const struct endpoint *b)
{
	if (a->port != b->port || a->family != b->family)
		return 0;
	if (a->family == AF_INET6)
		return memcmp(a->addr, b->addr, 16) == 0;
	return memcmp(a->addr, b->addr, 4) == 0;
}

/* The finaliser of MurmurHash3: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t ep_hash(const struct endpoint *e, uint64_t seed)
{
	uint64_t lo = 0, hi = 0;
	if (e->family == AF_INET6) {
		memcpy(&lo, e->addr, 8);
		memcpy(&hi, e->addr + 8, 8);
	} else {
		uint32_t v4;
		memcpy(&v4, e->addr, 4);
		lo = v4;
	}
	uint64_t tag = (uint64_t)e->port << 8 | e->family;
	return mix64(lo ^ seed) + mix64(hi ^ tag ^ (seed << 1));
}

/*
 * Symmetric in its arguments (a sum), so both directions of a connection
 * land in one bucket without first putting the endpoints in order; keyed so
 * that a crafted set of 4-tuples cannot aim at one chain.
 */
static uint32_t flow_hash(const struct flow_table *ft, const struct endpoint *a,
			  const struct endpoint *b)
{
	uint64_t h = mix64(ep_hash(a, ft->seed) + ep_hash(b, ft->seed));
	return (uint32_t)(h ^ h >> 32);
}

struct flow_table *flow_table_new(const struct flow_table_config *cfg)
{
	struct flow_table *ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	ft->cfg = *cfg;
	if (!ft->cfg.max_flows)
		ft->cfg.max_flows = FLOW_DEFAULT_MAX;
	if (!ft->cfg.per_flow_buffer)
		ft->cfg.per_flow_buffer = FLOW_DEFAULT_PER_FLOW;
	if (!ft->cfg.global_buffer)
		ft->cfg.global_buffer = FLOW_DEFAULT_GLOBAL;
	if (ft->cfg.idle_timeout <= 0)
		ft->cfg.idle_timeout = FLOW_DEFAULT_IDLE;
	if (ft->cfg.syn_timeout <= 0)
		ft->cfg.syn_timeout = FLOW_DEFAULT_SYN;
	if (ft->cfg.closed_linger <= 0)
		ft->cfg.closed_linger = FLOW_DEFAULT_LINGER;

	uint32_t nb = 1024;
	while (nb < FLOW_MAX_BUCKETS && nb < ft->cfg.max_flows * 2)
		nb <<= 1;
	ft->buckets = calloc(nb, sizeof(*ft->buckets));
	if (!ft->buckets) {
		free(ft);
		return NULL;
	}
	ft->mask = nb - 1;
	/* Keyed so that a crafted set of 4-tuples cannot aim at one chain. */
	ft->seed = mix64((uint64_t)(uintptr_t)ft ^ (uint64_t)timestamp_now());
	ft->next_id = 1;
	membudget_init(&ft->budget, ft->cfg.global_buffer);
	ft->rcfg.per_dir_cap = ft->cfg.per_flow_buffer;
	ft->rcfg.budget = &ft->budget;
	ft->rcfg.q = ft->cfg.q;
	return ft;
}

static struct flow *flow_lookup(struct flow_table *ft, const struct endpoint *src,
				const struct endpoint *dst, uint32_t h)
{
	for (struct flow *f = ft->buckets[h & ft->mask]; f; f = f->hnext) {
		if (f->hash != h)
			continue;
		if ((ep_eq(&f->ctx.client, src) && ep_eq(&f->ctx.server, dst)) ||
		    (ep_eq(&f->ctx.client, dst) && ep_eq(&f->ctx.server, src)))
			return f;
	}
	return NULL;
}

/* Reassembly callbacks: ctx is the flow, dir an enum stream_dir. */
static void flow_on_data(void *ctx, int dir, const uint8_t *data, size_t len, ts_ns ts)
{
	struct flow *f = ctx;
	if (f->parser && f->ops->data)
		f->ops->data(f->parser, (enum stream_dir)dir, data, len, ts);
}

static void flow_on_gap(void *ctx, int dir, uint64_t len, ts_ns ts)
{
	struct flow *f = ctx;
	if (f->parser && f->ops->gap)
		f->ops->gap(f->parser, (enum stream_dir)dir, len, ts);
}

static void flow_on_fin(void *ctx, int dir, ts_ns ts)
{
	struct flow *f = ctx;
	if (f->parser && f->ops->fin)
		f->ops->fin(f->parser, (enum stream_dir)dir, ts);
}

static void flow_sink(struct flow *f, struct reasm_sink *s)
{
	s->data = flow_on_data;
	s->gap = flow_on_gap;
	s->fin = flow_on_fin;
	s->ctx = f;
}

static size_t flow_held(const struct flow *f)
{
	return reasm_dir_held(&f->dir[0]) + reasm_dir_held(&f->dir[1]);
}

/* Remaining holes become gaps, the parser flushes and is freed. */
static void flow_end_parser(struct flow_table *ft, struct flow *f, ts_ns ts)
{
	struct reasm_sink sink;
	size_t held = flow_held(f);

	flow_sink(f, &sink);
	if (f->parser) {
		reasm_dir_flush(&f->dir[STREAM_TO_SERVER], &ft->rcfg, ts, &sink);
		reasm_dir_flush(&f->dir[STREAM_TO_CLIENT], &ft->rcfg, ts, &sink);
		if (f->ops->close)
			f->ops->close(f->parser, ts);
		f->parser = NULL;
	}
	reasm_dir_release(&f->dir[0], &ft->budget);
	reasm_dir_release(&f->dir[1], &ft->budget);
	ft->held -= held;
}

/* Ends a flow and recycles its entry. */
static void flow_destroy(struct flow_table *ft, struct flow *f, ts_ns ts)
{
	flow_end_parser(ft, f, ts);

	struct flow **pp = &ft->buckets[f->hash & ft->mask];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	list_unlink(&ft->lru[f->cls], f);
	if (f->closed)
		ft->closed--;
	else
		ft->count--;
	f->hnext = ft->free_list;
	ft->free_list = f;
}

/*
 * A finished connection (both FINs, or RST) stays in the table as a closed
 * entry for closed_linger (60 s, TCP's TIME_WAIT is 60 s on Linux):
 * duplicated packets (a capture on "any" sees a bridged packet twice, some
 * captures replay whole connections later) and late retransmissions are then
 * recognised instead of starting a bogus midstream flow. Closed entries are
 * the first to go when the table is full, so lingering costs no capacity.
 */
static void flow_finish(struct flow_table *ft, struct flow *f, ts_ns ts)
{
	flow_end_parser(ft, f, ts);
	list_unlink(&ft->lru[f->cls], f);
	f->cls = FLOW_CLOSED;
	f->closed = 1;
	list_append(&ft->lru[FLOW_CLOSED], f);
	ft->count--;
	ft->closed++;
}

/*
 * Makes room: closed entries go first (nothing is lost), then SYN-only flows,
 * so a flood cannot push real connections out.
 */
static void flow_evict_one(struct flow_table *ft, ts_ns now)
{
	struct flow *victim = ft->lru[FLOW_CLOSED].head;
	if (victim) {
		flow_destroy(ft, victim, now);
		return;
	}
	victim = ft->lru[FLOW_SYN_ONLY].head;
	if (!victim)
		victim = ft->lru[FLOW_ACTIVE].head;
	if (!victim)
		return;
	ft->cfg.q->flows_evicted++;
	flow_destroy(ft, victim, now);
}

static struct flow *flow_create(struct flow_table *ft, const struct endpoint *client,
				const struct endpoint *server, enum proto proto, int midstream,
				uint32_t h, ts_ns ts)
{
	struct flow *f;

	while (ft->count + ft->closed >= ft->cfg.max_flows)
		flow_evict_one(ft, ts);
	if (ft->free_list) {
		f = ft->free_list;
		ft->free_list = f->hnext;
	} else {
		f = malloc(sizeof(*f));
		if (!f)
			return NULL;
	}
	memset(f, 0, sizeof(*f));
	f->hash = h;
	f->proto = (uint8_t)proto;
	f->ops = ft->cfg.parser[proto];
	f->ft = ft;
	f->last_seen = ts;
	f->cls = midstream ? FLOW_ACTIVE : FLOW_SYN_ONLY;
	reasm_dir_init(&f->dir[STREAM_TO_SERVER], STREAM_TO_SERVER);
	reasm_dir_init(&f->dir[STREAM_TO_CLIENT], STREAM_TO_CLIENT);
	f->ctx.flow_id = ft->next_id++;
	f->ctx.client = *client;
	f->ctx.server = *server;
	f->ctx.midstream = midstream;
	f->ctx.q = ft->cfg.q;
	f->ctx.budget = &ft->budget;
	f->ctx.sink = ft->cfg.sink;

	f->hnext = ft->buckets[h & ft->mask];
	ft->buckets[h & ft->mask] = f;
	list_append(&ft->lru[f->cls], f);
	ft->count++;
	ft->cfg.q->flows++;
	if (midstream)
		ft->cfg.q->flows_midstream++;
	return f;
}

/*
 * Decides who is the server of a new connection, or returns PROTO_NONE.
 * The configured port wins; when both ports are configured, the SYN's
 * destination (or the SYN-ACK's source), else the lower port.
 */
static enum proto pick_server(const struct flow_table *ft, const struct tcp_segment *seg,
			      int *server_is_dst)
{
	enum proto pd = portmap_get(ft->cfg.ports, seg->dst.port);
	enum proto ps = portmap_get(ft->cfg.ports, seg->src.port);
	int syn = seg->flags & TCP_SYN, ack = seg->flags & TCP_ACK;

	if (pd != PROTO_NONE && ps != PROTO_NONE) {
		if (syn)
			*server_is_dst = !ack;
		else
			*server_is_dst = seg->dst.port <= seg->src.port;
	} else if (pd != PROTO_NONE) {
		*server_is_dst = 1;
	} else if (ps != PROTO_NONE) {
		*server_is_dst = 0;
	} else {
		return PROTO_NONE;
	}
	return *server_is_dst ? pd : ps;
}

static void flow_touch(struct flow_table *ft, struct flow *f, ts_ns ts, int now_active)
{
	if (ts > f->last_seen)
		f->last_seen = ts;
	list_unlink(&ft->lru[f->cls], f);
	if (now_active)
		f->cls = FLOW_ACTIVE;
	list_append(&ft->lru[f->cls], f);
}

void flow_table_segment(struct flow_table *ft, const struct tcp_segment *seg)
{
	struct quality *q = ft->cfg.q;
	uint32_t h = flow_hash(ft, &seg->src, &seg->dst);
	struct flow *f = flow_lookup(ft, &seg->src, &seg->dst, h);
	int syn = seg->flags & TCP_SYN;

	if (f && f->closed) {
		/* Only a client SYN with a new ISN is a new connection on this 4-tuple. */
		if (syn && !(seg->flags & TCP_ACK) && ep_eq(&seg->src, &f->ctx.client) &&
		    (!f->has_isn || seg->seq != f->client_isn)) {
			flow_destroy(ft, f, seg->ts);
			f = NULL;
		} else {
			if (seg->payload_wire_len)
				q->tcp_retransmits++;
			return;
		}
	}

	if (!f) {
		int server_is_dst = 1;
		enum proto proto = pick_server(ft, seg, &server_is_dst);
		if (proto == PROTO_NONE || !ft->cfg.parser[proto]) {
			q->packets_ignored_port++;
			return;
		}
		/* Only a SYN or data starts a flow; a stray ACK, FIN or RST does not. */
		if ((seg->flags & TCP_RST) || (!syn && seg->payload_wire_len == 0))
			return;
		f = flow_create(ft, server_is_dst ? &seg->src : &seg->dst,
				server_is_dst ? &seg->dst : &seg->src, proto, !syn, h, seg->ts);
		if (!f)
			return;
	}

	enum stream_dir dir = ep_eq(&seg->src, &f->ctx.client) ? STREAM_TO_SERVER
							       : STREAM_TO_CLIENT;
	/*
	 * A client SYN with a new ISN on a connection that already carried data
	 * or a FIN is the 4-tuple being reused (busy clients recycle ephemeral
	 * ports quickly): end the old connection and start a new one. The same
	 * ISN again is a duplicate.
	 */
	if (syn && !(seg->flags & TCP_ACK) && dir == STREAM_TO_SERVER &&
	    (f->parser || f->dir[0].fin_seen || f->dir[1].fin_seen) &&
	    (!f->has_isn || seg->seq != f->client_isn)) {
		flow_destroy(ft, f, seg->ts);
		flow_table_segment(ft, seg);	/* once: the lookup now finds nothing */
		return;
	}
	/* Anything beyond the client's own SYNs proves the connection is real. */
	int active = !(syn && !(seg->flags & TCP_ACK) && dir == STREAM_TO_SERVER &&
		       seg->payload_wire_len == 0);
	int was_syn_only = f->cls == FLOW_SYN_ONLY;
	flow_touch(ft, f, seg->ts, active);

	if (seg->flags & TCP_RST) {
		if (was_syn_only)	/* refused (port closed) or aborted half-open */
			q->flows_never_established++;
		flow_finish(ft, f, seg->ts);
		return;
	}

	uint32_t seq = seg->seq;
	if (syn && !(seg->flags & TCP_ACK) && dir == STREAM_TO_SERVER) {
		f->has_isn = 1;
		f->client_isn = seq;
	}
	if (syn) {
		reasm_dir_syn(&f->dir[dir], seq);
		seq++;		/* the SYN itself occupies one sequence number */
	}

	if (seg->payload_wire_len > 0 && !f->parser && !f->parser_failed) {
		if (ft->cfg.on_first_data)
			ft->cfg.on_first_data(ft->cfg.on_first_data_ctx, f->ctx.flow_id,
					      (enum proto)f->proto, &f->ctx.client, &f->ctx.server);
		f->parser = f->ops->open ? f->ops->open(&f->ctx) : NULL;
		if (!f->parser) {
			f->parser_failed = 1;
			q->flows_parser_failed++;
		}
	}

	if (seg->payload_wire_len > 0 || (seg->flags & TCP_FIN)) {
		struct reasm_sink sink;
		struct reasm_dir *d = &f->dir[dir];
		size_t before = reasm_dir_held(d);

		flow_sink(f, &sink);
		reasm_dir_segment(d, &ft->rcfg, seq, seg->payload, seg->payload_len,
				  seg->payload_wire_len, seg->flags & TCP_FIN, seg->ts, &sink);
		ft->held = ft->held - before + reasm_dir_held(d);
	}

	if (f->dir[0].fin_done && f->dir[1].fin_done)
		flow_finish(ft, f, seg->ts);
}

void flow_table_expire(struct flow_table *ft, ts_ns now)
{
	struct flow *f;

	while ((f = ft->lru[FLOW_SYN_ONLY].head) && f->last_seen < now - ft->cfg.syn_timeout) {
		ft->cfg.q->flows_never_established++;
		flow_destroy(ft, f, now);
	}
	while ((f = ft->lru[FLOW_ACTIVE].head) && f->last_seen < now - ft->cfg.idle_timeout) {
		ft->cfg.q->flows_expired_idle++;
		flow_destroy(ft, f, now);
	}
	while ((f = ft->lru[FLOW_CLOSED].head) && f->last_seen < now - ft->cfg.closed_linger)
		flow_destroy(ft, f, now);
}

void flow_table_close_all(struct flow_table *ft, ts_ns now)
{
	struct flow *f;

	/* Oldest first, so transactions come out roughly in capture order. */
	while ((f = ft->lru[FLOW_ACTIVE].head))
		flow_destroy(ft, f, now);
	while ((f = ft->lru[FLOW_SYN_ONLY].head))
		flow_destroy(ft, f, now);
	while ((f = ft->lru[FLOW_CLOSED].head))
		flow_destroy(ft, f, now);
}

size_t flow_table_count(const struct flow_table *ft)
{
	return ft->count;
}

size_t flow_table_buffered(const struct flow_table *ft)
{
	return ft->held;
}

void flow_table_free(struct flow_table *ft)
{
	if (!ft)
		return;
	/* Normally empty (flow_table_close_all came first); else close at last activity. */
	for (int c = 0; c < FLOW_NCLASS; c++)
		while (ft->lru[c].head)
			flow_destroy(ft, ft->lru[c].head, ft->lru[c].head->last_seen);
	while (ft->free_list) {
		struct flow *f = ft->free_list;
		ft->free_list = f->hnext;
		free(f);
	}
	free(ft->buckets);
	free(ft);
}
