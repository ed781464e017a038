/* procnet.c - TCP socket tables from /proc/net/tcp{,6} and socket owners from /proc/PID/fd (proc(5)). */
#include "procnet.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <unistd.h>

/*
 * The kernel prints each 32-bit word of an address with %08X as the CPU
 * holds it, so the word's in-memory bytes are already in network order:
 * copying the parsed value back into memory restores the address.
 */
static int parse_addr(const char *hex, int family, struct endpoint *ep)
{
	size_t words = family == AF_INET6 ? 4 : 1;

	if (strlen(hex) != words * 8)
		return -1;
	memset(ep, 0, sizeof(*ep));
	ep->family = (uint8_t)family;
	for (size_t i = 0; i < words; i++) {
		char w[9];
		char *end;

		memcpy(w, hex + i * 8, 8);
		w[8] = '\0';
		uint32_t v = (uint32_t)strtoul(w, &end, 16);
		if (*end != '\0')
			return -1;
		memcpy(ep->addr + i * 4, &v, 4);
	}
	return 0;
}

int procnet_tcp_foreach(int family, procnet_sock_fn fn, void *ctx)
{
	const char *path = family == AF_INET6 ? "/proc/net/tcp6" : "/proc/net/tcp";
	FILE *f = fopen(path, "re");
	char line[512];
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {	/* the column titles */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char la[40], ra[40];
		unsigned lport, rport, state;
		unsigned long long inode;
		struct procnet_sock s;

		/* "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 12345 ..." */
		if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %*u %*d %llu",
			   la, &lport, ra, &rport, &state, &inode) != 6)
			continue;
		if (parse_addr(la, family, &s.local) < 0 || parse_addr(ra, family, &s.remote) < 0)
			continue;
		s.local.port = (uint16_t)lport;
		s.remote.port = (uint16_t)rport;
		s.state = (int)state;
		s.inode = inode;
		if (fn(ctx, &s)) {
			ret = 1;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * Listening sockets only, from a netlink sock_diag dump restricted to the
 * LISTEN state: the kernel walks its listening hash instead of printing
 * every connection (a busy host's /proc/net/tcp has thousands of lines, and
 * roles are re-discovered every few seconds). Falls back to /proc/net/tcp.
 */
int procnet_tcp_listeners(int family, procnet_sock_fn fn, void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return procnet_tcp_foreach(family, fn, ctx);
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = 1u << PROCNET_TCP_LISTEN;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		close(fd);
		return procnet_tcp_foreach(family, fn, ctx);
	}
	union {
		struct nlmsghdr nlh;
		char buf[16384];
	} resp;
	int ret = 0;
	for (;;) {
		ssize_t n = recv(fd, resp.buf, sizeof(resp.buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		for (struct nlmsghdr *h = &resp.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				goto done;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				continue;
			const struct inet_diag_msg *d = NLMSG_DATA(h);
			struct procnet_sock sk;
			memset(&sk, 0, sizeof(sk));
			sk.local.family = (uint8_t)family;
			sk.remote.family = (uint8_t)family;
			memcpy(sk.local.addr, d->id.idiag_src, family == AF_INET6 ? 16 : 4);
			sk.local.port = ntohs(d->id.idiag_sport);
			sk.state = d->idiag_state;
			sk.inode = d->idiag_inode;
			if (fn(ctx, &sk)) {
				ret = 1;
				goto done;
			}
		}
	}
done:
	close(fd);
	return ret;
}

uint64_t procnet_socket_inode(const char *link)
{
	static const char prefix[] = "socket:[";
	uint64_t v = 0;
	const char *p;

	if (strncmp(link, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	for (p = link + sizeof(prefix) - 1; isdigit((unsigned char)*p); p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return *p == ']' && p[1] == '\0' ? v : 0;
}

int procnet_pid_sockets(pid_t pid, procnet_fd_fn fn, void *ctx)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char target[64];
		ssize_t n;
		uint64_t inode;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		/* readlinkat on the directory avoids rebuilding the path per fd. */
		n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		inode = procnet_socket_inode(target);
		if (inode && fn(ctx, pid, atoi(de->d_name), inode)) {
			ret = 1;
			break;
		}
	}
	closedir(d);
	return ret;
}

int procnet_list_pids(pid_t **out, size_t *n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t *v = NULL;
	size_t len = 0, cap = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			pid_t *nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		v[len++] = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	*out = v;
	*n = len;
	return 0;
}
