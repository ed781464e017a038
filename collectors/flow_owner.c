/* flow_owner.c - captured connection -> owning process, looked up off the packet path. */
#include "flow_owner.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#include "hash.h"
#include "log.h"
#include "sockmap.h"

/*
 * Bounded tables, no allocation after start. Flow ids are sequential, so the
 * flow table is direct-mapped. Connection keys are hashes: that table probes
 * CONN_PROBE slots and, when all are taken, reuses the oldest of them, so two
 * live connections whose hashes share low bits do not evict each other.
 */
#define CONN_SLOTS 65536
#define CONN_PROBE 16
#define FLOW_SLOTS 65536

/* One connection, by its 4-tuple. key 0 marks an empty slot. */
struct conn_slot {
	uint64_t key;
	uint64_t born;		/* insertion counter: the oldest is reused first */
	int pid;		/* 0 while the lookup is pending or failed */
	int pending;
	int linked;		/* a flow points here: the slot is no longer reset by a SYN-ACK */
};

struct flow_slot {
	uint64_t flow_id;
	uint64_t key;		/* the connection of this flow */
};

struct flow_owner {
	struct sockmap_async *mapper;
	struct conn_slot *conns;
	struct flow_slot *flows;
	struct sockmap_result buf[256];
	uint64_t lookups, unresolved;
	uint64_t inserts;
};

/* The slot holding key, or NULL. */
static struct conn_slot *conn_find(struct flow_owner *fo, uint64_t key)
{
	for (size_t i = 0; i < CONN_PROBE; i++) {
		struct conn_slot *c = &fo->conns[(key + i) & (CONN_SLOTS - 1)];
		if (c->key == key)
			return c;
	}
	return NULL;
}

/* The slot for a new connection: its own, an empty one, or the oldest in reach. */
static struct conn_slot *conn_place(struct flow_owner *fo, uint64_t key)
{
	struct conn_slot *oldest = NULL;
	for (size_t i = 0; i < CONN_PROBE; i++) {
		struct conn_slot *c = &fo->conns[(key + i) & (CONN_SLOTS - 1)];
		if (c->key == key || c->key == 0)
			return c;
		if (!oldest || c->born < oldest->born)
			oldest = c;
	}
	return oldest;
}

struct flow_owner *flow_owner_new(void)
{
	struct flow_owner *fo = calloc(1, sizeof(*fo));
	if (!fo)
		return NULL;
	fo->conns = calloc(CONN_SLOTS, sizeof(*fo->conns));
	fo->flows = calloc(FLOW_SLOTS, sizeof(*fo->flows));
	fo->mapper = sockmap_async_new(8192);
	if (!fo->conns || !fo->flows || !fo->mapper) {
		log_error("run: cannot start the socket -> process mapper");
		flow_owner_free(fo);
		return NULL;
	}
	return fo;
}

/* A stable, nonzero key for the (client, server) pair. */
static uint64_t conn_key(const struct endpoint *client, const struct endpoint *server)
{
	size_t alen = client->family == AF_INET6 ? 16 : 4;
	uint64_t h = hash_fnv1a(&client->family, 1, HASH_FNV1A_SEED);
	h = hash_fnv1a(client->addr, alen, h);
	h = hash_fnv1a(&client->port, sizeof(client->port), h);
	h = hash_fnv1a(server->addr, alen, h);
	h = hash_fnv1a(&server->port, sizeof(server->port), h);
	return h ? h : 1;
}

static void lookup(struct flow_owner *fo, uint64_t key, enum proto proto, const struct endpoint *client,
		   const struct endpoint *server)
{
	struct conn_slot *c = conn_place(fo, key);
	c->key = key;
	c->born = ++fo->inserts;
	c->pid = 0;
	c->pending = 1;
	c->linked = 0;
	fo->lookups++;
	/* HTTP: the worker holds the server end; MongoDB: the application holds the client end. */
	int rc = proto == PROTO_MONGO ? sockmap_async_submit(fo->mapper, key, client, server)
				      : sockmap_async_submit(fo->mapper, key, server, client);
	if (rc != 0) {
		c->pending = 0;
		fo->unresolved++;	/* the mapper's queue was full */
	}
}

void flow_owner_note_synack(struct flow_owner *fo, enum proto proto, const struct endpoint *client,
			    const struct endpoint *server)
{
	uint64_t key = conn_key(client, server);
	const struct conn_slot *c = conn_find(fo, key);
	/*
	 * A SYN-ACK starts a connection: look it up now. Not over a slot an
	 * earlier connection on the same 4-tuple still uses (its flow may not be
	 * written yet): that rare reuse is looked up at its first byte instead.
	 */
	if (c && c->linked)
		return;
	lookup(fo, key, proto, client, server);
}

void flow_owner_on_first_data(void *ctx, uint64_t flow_id, enum proto proto,
			      const struct endpoint *client, const struct endpoint *server)
{
	struct flow_owner *fo = ctx;
	uint64_t key = conn_key(client, server);
	struct flow_slot *f = &fo->flows[flow_id & (FLOW_SLOTS - 1)];
	struct conn_slot *c = conn_find(fo, key);
	f->flow_id = flow_id;
	if (c && !c->linked && (c->pending || c->pid > 0)) {
		/* looked up since its SYN-ACK (or already answered): adopt it */
		c->linked = 1;
		f->key = key;
		return;
	}
	if (c && c->linked) {
		/* the 4-tuple was used before: this connection gets a slot of its own */
		key ^= flow_id * 0x9E3779B97F4A7C15ull;
		key |= 1;
	}
	f->key = key;
	lookup(fo, key, proto, client, server);
	c = conn_find(fo, key);
	if (c)
		c->linked = 1;
}

void flow_owner_collect(struct flow_owner *fo)
{
	size_t n;
	while ((n = sockmap_async_poll(fo->mapper, fo->buf, sizeof(fo->buf) / sizeof(fo->buf[0]))) > 0) {
		for (size_t i = 0; i < n; i++) {
			uint64_t key = fo->buf[i].flow_id;	/* submitted as the connection key */
			struct conn_slot *c = conn_find(fo, key);
			if (!c)
				continue;	/* the slot went to a newer connection */
			c->pending = 0;
			if (fo->buf[i].err != 0) {
				fo->unresolved++;
				continue;
			}
			c->pid = (int)fo->buf[i].pid;
		}
	}
}

int flow_owner_pid(void *ctx, uint64_t flow_id)
{
	struct flow_owner *fo = ctx;
	/* answers are collected by the main loop (flow_owner_collect), not once per row */
	const struct flow_slot *f = &fo->flows[flow_id & (FLOW_SLOTS - 1)];
	if (f->flow_id != flow_id)
		return 0;
	const struct conn_slot *c = conn_find(fo, f->key);
	return c ? c->pid : 0;
}

void flow_owner_set_candidates(struct flow_owner *fo, const pid_t *pids, size_t n)
{
	sockmap_async_set_candidates(fo->mapper, pids, n);
}

void flow_owner_counts(const struct flow_owner *fo, uint64_t *lookups, uint64_t *unresolved)
{
	*lookups = fo->lookups;
	*unresolved = fo->unresolved;
}

void flow_owner_free(struct flow_owner *fo)
{
	if (!fo)
		return;
	sockmap_async_free(fo->mapper);
	free(fo->conns);
	free(fo->flows);
	free(fo);
}
