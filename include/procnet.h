/*
 * procnet.h - TCP sockets as /proc/net/tcp and /proc/net/tcp6 list them
 * (proc(5)), and which processes own them (/proc/PID/fd links "socket:[N]").
 * Shared by role discovery (listening sockets) and the socket -> pid mapper
 * (its fallback when netlink sock_diag is unavailable).
 */
#ifndef TIERPROBE_PROCNET_H
#define TIERPROBE_PROCNET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "endpoint.h"

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
#define PROCNET_TCP_ESTABLISHED 0x01
#define PROCNET_TCP_LISTEN 0x0A

struct procnet_sock {
	struct endpoint local;
	struct endpoint remote;
	int state;		/* PROCNET_TCP_* */
	uint64_t inode;		/* 0 for TIME_WAIT and embryonic sockets */
};

/* Called once per socket; a nonzero return stops the walk. */
typedef int (*procnet_sock_fn)(void *ctx, const struct procnet_sock *s);

/*
 * Walks /proc/net/tcp (family AF_INET) or /proc/net/tcp6 (AF_INET6) of this
 * network namespace. Returns 0 after the whole table, 1 if fn stopped it,
 * -errno if the file cannot be read (a missing tcp6 means no IPv6: -ENOENT).
 * IPv4-mapped addresses in tcp6 stay AF_INET6 (::ffff:a.b.c.d).
 */
int procnet_tcp_foreach(int family, procnet_sock_fn fn, void *ctx);

/*
 * Like procnet_tcp_foreach() but only LISTEN sockets (remote is unset),
 * through a netlink sock_diag dump; /proc/net/tcp when netlink is refused.
 */
int procnet_tcp_listeners(int family, procnet_sock_fn fn, void *ctx);

/* Parses a /proc/PID/fd link target "socket:[12345]"; returns the inode or 0. */
uint64_t procnet_socket_inode(const char *link);

/* Called once per socket fd of a process; a nonzero return stops the walk. */
typedef int (*procnet_fd_fn)(void *ctx, pid_t pid, int fd, uint64_t inode);

/*
 * Walks the socket fds of pid. Returns 0, 1 if fn stopped it, or -errno
 * (-ENOENT: the process is gone; -EACCES: not ours and not root).
 */
int procnet_pid_sockets(pid_t pid, procnet_fd_fn fn, void *ctx);

/*
 * Lists the processes (thread group ids) in /proc. On success *out is a
 * malloc'd array the caller frees, *n its length; returns 0 or -errno.
 */
int procnet_list_pids(pid_t **out, size_t *n);

#endif
