/* flow_owner.c - captured connection -> owning process, looked up off the packet path. */
#include "flow_owner.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sockmap.h"

#define TABLE_SIZE 65536	/* power of two; a flow id's slot is id % size (newest wins) */

struct owner_slot {
	uint64_t flow_id;
	int pid;
};

struct flow_owner {
	struct sockmap_async *mapper;
	struct owner_slot *table;
	struct sockmap_result buf[256];
	uint64_t lookups, unresolved;
};

struct flow_owner *flow_owner_new(void)
{
	struct flow_owner *fo = calloc(1, sizeof(*fo));
	if (!fo)
		return NULL;
	fo->table = calloc(TABLE_SIZE, sizeof(*fo->table));
	fo->mapper = sockmap_async_new(8192);
	if (!fo->table || !fo->mapper) {
		log_error("run: cannot start the socket -> process mapper");
		flow_owner_free(fo);
		return NULL;
	}
	return fo;
}

void flow_owner_on_first_data(void *ctx, uint64_t flow_id, enum proto proto,
			      const struct endpoint *client, const struct endpoint *server)
{
	struct flow_owner *fo = ctx;
	/* HTTP: the worker holds the server end; MongoDB: the application holds the client end. */
	int rc;
	if (proto == PROTO_MONGO)
		rc = sockmap_async_submit(fo->mapper, flow_id, client, server);
	else
		rc = sockmap_async_submit(fo->mapper, flow_id, server, client);
	fo->lookups++;
	if (rc != 0)
		fo->unresolved++;	/* the queue was full */
}

void flow_owner_collect(struct flow_owner *fo)
{
	size_t n;
	while ((n = sockmap_async_poll(fo->mapper, fo->buf, sizeof(fo->buf) / sizeof(fo->buf[0]))) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (fo->buf[i].err != 0) {
				fo->unresolved++;
				continue;
			}
			struct owner_slot *s = &fo->table[fo->buf[i].flow_id & (TABLE_SIZE - 1)];
			s->flow_id = fo->buf[i].flow_id;
			s->pid = (int)fo->buf[i].pid;
		}
	}
}

int flow_owner_pid(void *ctx, uint64_t flow_id)
{
	struct flow_owner *fo = ctx;
	flow_owner_collect(fo);
	const struct owner_slot *s = &fo->table[flow_id & (TABLE_SIZE - 1)];
	return s->flow_id == flow_id ? s->pid : 0;
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
	free(fo->table);
	free(fo);
}
