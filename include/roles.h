/*
 * roles.h - which processes are the web tier, mongod and the probe itself.
 *
 * A role is a set of pids: its root processes plus all their descendants.
 * Web roots are the owners of LISTENING TCP sockets on the HTTP ports
 * (/proc/net/tcp{,6} state 0A -> inode -> /proc/PID/fd "socket:[inode]"): the
 * gunicorn master and its workers, the Apache parent and its children all hold
 * the listener. mongod's root owns a listening MongoDB port (empty when the
 * database is remote). self is getpid() alone (its threads are inside it).
 * Overrides replace discovery: --web-pid, --web-name (comm or argv[0]
 * basename), --mongod-pid.
 *
 * roles_refresh() runs once per sampling interval: descendants are re-read
 * every time (one pass over /proc with libproc2), the listening-socket owners
 * every `rediscover_every` calls or as soon as all of a role's roots are gone
 * (workers restarting: the role follows the new pids).
 */
#ifndef TIERPROBE_ROLES_H
#define TIERPROBE_ROLES_H

#include <stddef.h>
#include <sys/types.h>

#include "portmap.h"

enum roles_role {
	ROLES_WEB = 0,
	ROLES_MONGOD,
	ROLES_SELF,
	ROLES_COUNT,
};

/* "web", "mongod", "self": the samples.csv column prefixes. */
const char *roles_name(enum roles_role role);

struct roles_config {
	const struct portmap *ports;	/* PROTO_HTTP ports -> web, PROTO_MONGO -> mongod; borrowed */
	pid_t web_pid;			/* > 0: the web root, no discovery */
	const char *web_name;		/* non-NULL: roots are processes of this comm/argv[0]; copied */
	pid_t mongod_pid;		/* > 0: the mongod root, no discovery */
	unsigned rediscover_every;	/* refreshes between socket scans; 0 = 10 */
};

struct roles;

/* Returns a new role tracker (free with roles_free), or NULL on allocation failure. */
struct roles *roles_new(const struct roles_config *cfg);

/* NULL is a no-op. */
void roles_free(struct roles *r);

/*
 * Re-reads the process tree (and, when due, the listening sockets) and
 * recomputes every role's pid set. Returns 0 or -errno (the previous sets are
 * kept on failure).
 */
int roles_refresh(struct roles *r);

/*
 * The pids of a role, sorted ascending; *n gets the count (0: not found, e.g.
 * no local mongod). The array belongs to r and is valid until the next
 * roles_refresh() or roles_free().
 */
const pid_t *roles_pids(const struct roles *r, enum roles_role role, size_t *n);

/* Number of listening-socket scans done so far (tests, debug logging). */
unsigned roles_discoveries(const struct roles *r);

#endif
