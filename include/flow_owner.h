/*
 * flow_owner.h - which process on this host owns each captured connection:
 * for HTTP the server end (the web worker that accepted it), for MongoDB the
 * client end (the application process that asked).
 *
 * A sync worker may accept, answer and close a connection within a
 * millisecond, so the lookup starts as early as possible: at the server's
 * SYN-ACK, seen by a second, tiny capture that wakes for every packet
 * (flow_owner_note_synack), or at the latest at the flow's first payload
 * byte (flow_owner_on_first_data). Lookups run in the socket mapper's thread
 * and never block the packet path; answers are kept per connection (the
 * 4-tuple) in bounded tables and read when transactions are written.
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

/* A SYN-ACK from server to client: the connection exists; start looking up its owner. */
void flow_owner_note_synack(struct flow_owner *fo, enum proto proto, const struct endpoint *client,
			    const struct endpoint *server);

/* The flow table's on_first_data hook (ctx = the flow_owner): ties flow_id to its connection. */
void flow_owner_on_first_data(void *ctx, uint64_t flow_id, enum proto proto,
			      const struct endpoint *client, const struct endpoint *server);

/* Moves finished lookups into the table; call from the main loop, often. */
void flow_owner_collect(struct flow_owner *fo);

/*
 * The owner's pid as of the last flow_owner_collect(), or 0 when unknown (not
 * looked up yet, not local, or gone too fast).
 */
int flow_owner_pid(void *fo, uint64_t flow_id);

/* Processes to search first (the web role). */
void flow_owner_set_candidates(struct flow_owner *fo, const pid_t *pids, size_t n);

/* Connections looked up, and those that ended without an owner. */
void flow_owner_counts(const struct flow_owner *fo, uint64_t *lookups, uint64_t *unresolved);

void flow_owner_free(struct flow_owner *fo);

#endif
