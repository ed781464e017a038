/*
 * sockmap.h - which process on this host owns one end of a TCP connection.
 *
 * Method: the connection's socket inode comes from netlink sock_diag
 * (NETLINK_SOCK_DIAG, an exact 4-tuple inet_diag_req_v2 lookup: one round
 * trip, no table walk), or from /proc/net/tcp{,6} when netlink is not
 * available; the inode's owner from the /proc/PID/fd links "socket:[N]" of
 * the candidate pids first (the role processes), then of every process.
 * Every socket fd seen during a scan is cached (inode -> pid, fd) and a hit is
 * re-checked with one readlink, so a stale entry is never returned.
 *
 * The synchronous API touches /proc and may take milliseconds on a full scan:
 * the packet path uses the sockmap_async wrapper instead, whose worker thread
 * takes requests from a bounded queue (submit never blocks: a full queue is
 * refused and counted) and hands back results to poll.
 */
#ifndef TIERPROBE_SOCKMAP_H
#define TIERPROBE_SOCKMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "endpoint.h"

struct sockmap;

struct sockmap_stats {
	uint64_t lookups;
	uint64_t found;
	uint64_t not_found;		/* no such connection, or no owner we can see */
	uint64_t cache_hits;		/* owner from the cache (verified) */
	uint64_t candidate_hits;	/* owner found among the candidate pids */
	uint64_t full_scans;		/* every /proc/PID/fd walked */
	uint64_t netlink_lookups;
	uint64_t procnet_lookups;	/* /proc/net/tcp fallback */
};

/* Returns a new mapper (free with sockmap_free), NULL on allocation failure. */
struct sockmap *sockmap_new(void);

/* NULL is a no-op. */
void sockmap_free(struct sockmap *m);

/*
 * Sets the pids searched first (the web and mongod role processes); the
 * array is copied. Returns 0 or -ENOMEM (the old list is then kept).
 */
int sockmap_set_candidates(struct sockmap *m, const pid_t *pids, size_t n);

/*
 * Finds the process owning the socket whose local address is `local` and
 * whose peer is `remote` (both the same family). For an HTTP connection pass
 * the server end as local (the worker that accepted it); for MongoDB pass the
 * client end (the application process). Returns 0 and *out, -ENOENT when no
 * such socket exists (already closed, TIME_WAIT, not on this host) or no
 * visible process owns it, -EAGAIN when the connection exists but no process
 * owns it yet (still in the listener's accept queue: ask again shortly),
 * -EAFNOSUPPORT for a bad family, or another -errno.
 */
int sockmap_lookup(struct sockmap *m, const struct endpoint *local, const struct endpoint *remote,
		   pid_t *out);

/* Forces the /proc/net/tcp path even when netlink works (tests, comparison). */
void sockmap_disable_netlink(struct sockmap *m);

void sockmap_get_stats(const struct sockmap *m, struct sockmap_stats *st);

/* ---- asynchronous wrapper: one worker thread, bounded queues ---- */

struct sockmap_async;

struct sockmap_result {
	uint64_t flow_id;	/* as submitted */
	pid_t pid;		/* valid when err == 0 */
	int err;		/* 0 or the -errno sockmap_lookup returned */
};

/*
 * Starts the worker. queue_len bounds the request queue, the result queue
 * and the deferred retries (default 4096 when 0). A lookup that answers
 * -EAGAIN (not accepted yet) is retried after 1, 2, 4 ... 128 ms (9 tries,
 * ~255 ms in all) without delaying other requests; its result is then the
 * last answer. Returns NULL
 * on failure (errno set).
 */
struct sockmap_async *sockmap_async_new(size_t queue_len);

/* Stops and joins the worker, drops what is queued. NULL is a no-op. */
void sockmap_async_free(struct sockmap_async *a);

/* As sockmap_set_candidates; applied before the worker's next lookup. Returns 0 or -ENOMEM. */
int sockmap_async_set_candidates(struct sockmap_async *a, const pid_t *pids, size_t n);

/*
 * Queues one lookup (local/remote as in sockmap_lookup; copied). Never blocks
 * on /proc. Returns 0, or -EAGAIN when the queue is full (counted in dropped).
 */
int sockmap_async_submit(struct sockmap_async *a, uint64_t flow_id, const struct endpoint *local,
			 const struct endpoint *remote);

/* Moves up to max finished results into out; returns how many. Never blocks. */
size_t sockmap_async_poll(struct sockmap_async *a, struct sockmap_result *out, size_t max);

/* Requests refused because a queue was full (request queue or result queue). */
uint64_t sockmap_async_dropped(struct sockmap_async *a);

/* Lookups deferred and asked again because the connection was not accepted yet. */
uint64_t sockmap_async_retries(struct sockmap_async *a);

#endif
