/*
 * flow_owner.h - which process on this host owns each captured connection:
 * for HTTP the server end (the web worker that accepted it), for MongoDB the
 * client end (the application process that asked). Lookups are queued to
 * the socket mapper's thread as soon as a flow's first byte is seen (a sync
 * worker's connection may live 5 ms) and never block the packet path;
 * answers land in a bounded table read when transactions are written.
 */
#ifndef TIERPROBE_FLOW_OWNER_H
#define TIERPROBE_FLOW_OWNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "endpoint.h"
#include "portmap.h"

struct flow_owner;

/* NULL on allocation failure or when the mapper thread cannot start (logged). */
struct flow_owner *flow_owner_new(void);

/* The flow table's on_first_data hook (ctx = the flow_owner). */
void flow_owner_on_first_data(void *ctx, uint64_t flow_id, enum proto proto,
			      const struct endpoint *client, const struct endpoint *server);

/* Moves finished lookups into the table; call from the main loop, often. */
void flow_owner_collect(struct flow_owner *fo);

/* The owner's pid, or 0 when unknown (not looked up yet, not local, or gone too fast). */
int flow_owner_pid(void *fo, uint64_t flow_id);

/* Processes to search first (the web role). */
void flow_owner_set_candidates(struct flow_owner *fo, const pid_t *pids, size_t n);

/* Lookups asked for, and those that ended without an owner. */
void flow_owner_counts(const struct flow_owner *fo, uint64_t *lookups, uint64_t *unresolved);

void flow_owner_free(struct flow_owner *fo);

#endif
