/* test_roles.c - role discovery from listening sockets, descendants, restarts, and the pid/name overrides. */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "portmap.h"
#include "roles.h"

#define MAX_KIDS 8
static pid_t kids[MAX_KIDS];

static void forget(pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == pid)
			kids[i] = 0;
}

static void remember(pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == 0) {
			kids[i] = pid;
			return;
		}
	fail_msg("too many children");
}

/* Children are killed and reaped even when an assertion failed; grandchildren die with their group. */
static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_KIDS; i++) {
		if (kids[i] > 0) {
			kill(-kids[i], SIGKILL);
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	}
	return 0;
}

struct server {
	pid_t pid;		/* the listener (a "master") */
	pid_t grandchild;	/* its worker, which does not hold the listener */
	uint16_t port;
};

/*
 * Forks a "master" in its own process group that listens on
 * family's loopback (port 0 = ephemeral) and forks a "worker" that closes
 * the listener: the worker belongs to the role only as a descendant.
 */
static void start_server(int family, uint16_t port, const char *comm, struct server *out)
{
	int p[2];
	pid_t pid;
	struct { uint16_t port; pid_t grandchild; } info;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_storage ss;
		socklen_t len;
		int one = 1, ls;

		close(p[0]);
		setpgid(0, 0);
		if (comm)
			prctl(PR_SET_NAME, comm);
		ls = socket(family, SOCK_STREAM, 0);
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&ss, 0, sizeof(ss));
		if (family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = in6addr_loopback;
			s6->sin6_port = htons(port);
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			s4->sin_port = htons(port);
			len = sizeof(*s4);
		}
		if (ls < 0 || bind(ls, (struct sockaddr *)&ss, len) < 0 || listen(ls, 8) < 0 ||
		    getsockname(ls, (struct sockaddr *)&ss, &len) < 0)
			_exit(1);
		info.port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						     : ((struct sockaddr_in *)&ss)->sin_port);
		info.grandchild = fork();
		if (info.grandchild == 0) {
			close(ls);
			for (;;)
				pause();
		}
		if (write(p[1], &info, sizeof(info)) != (ssize_t)sizeof(info))
			_exit(1);
		for (;;)
			pause();
	}
	remember(pid);
	close(p[1]);
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(read(p[0], &info, sizeof(info)), (ssize_t)sizeof(info));
	close(p[0]);
	assert_true(info.grandchild > 0);
	out->pid = pid;
	out->grandchild = info.grandchild;
	out->port = info.port;
}

static void stop_server(struct server *s)
{
	kill(-s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	forget(s->pid);
	/* The grandchild is reparented; wait until it is really gone from /proc. */
	for (int i = 0; i < 500 && kill(s->grandchild, 0) == 0; i++)
		poll(NULL, 0, 2);
}

static int has(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return 1;
	return 0;
}

static struct portmap ports;

static void set_ports(uint16_t http, uint16_t mongo)
{
	char buf[16];

	portmap_init(&ports);
	snprintf(buf, sizeof(buf), "%u", http);
	assert_int_equal(portmap_add_list(&ports, buf, PROTO_HTTP), 0);
	if (mongo) {
		snprintf(buf, sizeof(buf), "%u", mongo);
		assert_int_equal(portmap_add_list(&ports, buf, PROTO_MONGO), 0);
	}
}

static void test_discover_and_follow_restart(void **state)
{
	struct server a, b;
	struct roles_config cfg = { .ports = &ports, .rediscover_every = 1000 };
	struct roles *r;
	const pid_t *v;
	size_t n;

	(void)state;
	start_server(AF_INET, 0, NULL, &a);
	set_ports(a.port, 0);
	r = roles_new(&cfg);
	assert_non_null(r);
	assert_int_equal(roles_refresh(r), 0);

	v = roles_pids(r, ROLES_WEB, &n);
	printf("web role: %zu pids (listener %d, worker %d)\n", n, (int)a.pid, (int)a.grandchild);
	assert_int_equal(n, 2);
	assert_true(has(v, n, a.pid));
	assert_true(has(v, n, a.grandchild));
	assert_false(has(v, n, getpid()));
	roles_pids(r, ROLES_MONGOD, &n);
	assert_int_equal(n, 0);		/* no local mongod */
	v = roles_pids(r, ROLES_SELF, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], getpid());
	unsigned d0 = roles_discoveries(r);

	/* Quiet refreshes re-read descendants only. */
	assert_int_equal(roles_refresh(r), 0);
	assert_int_equal(roles_discoveries(r), d0);

	/* Restart on the same port: the old pids vanish, the role follows the new ones. */
	stop_server(&a);
	start_server(AF_INET, a.port, NULL, &b);
	assert_int_equal(b.port, a.port);
	assert_int_equal(roles_refresh(r), 0);
	v = roles_pids(r, ROLES_WEB, &n);
	printf("after restart: %zu pids (listener %d, worker %d)\n", n, (int)b.pid, (int)b.grandchild);
	assert_int_equal(roles_discoveries(r), d0 + 1);
	assert_int_equal(n, 2);
	assert_true(has(v, n, b.pid));
	assert_true(has(v, n, b.grandchild));
	assert_false(has(v, n, a.pid));
	roles_free(r);
	roles_free(NULL);
}

/* A second server on another HTTP port, IPv6, is picked up by the periodic rediscovery; mongod by its port. */
static void test_periodic_ipv6_mongod(void **state)
{
	struct server web4, web6, mongo;
	struct roles_config cfg = { .ports = &ports, .rediscover_every = 3 };
	struct roles *r;
	const pid_t *v;
	size_t n;
	char buf[16];

	(void)state;
	start_server(AF_INET, 0, NULL, &web4);
	start_server(AF_INET, 0, NULL, &mongo);
	set_ports(web4.port, mongo.port);
	r = roles_new(&cfg);
	assert_non_null(r);
	assert_int_equal(roles_refresh(r), 0);
	roles_pids(r, ROLES_WEB, &n);
	assert_int_equal(n, 2);
	v = roles_pids(r, ROLES_MONGOD, &n);
	assert_int_equal(n, 2);
	assert_true(has(v, n, mongo.pid));
	assert_true(has(v, n, mongo.grandchild));

	start_server(AF_INET6, 0, NULL, &web6);
	snprintf(buf, sizeof(buf), "%u", web6.port);
	assert_int_equal(portmap_add_list(&ports, buf, PROTO_HTTP), 0);
	assert_int_equal(roles_refresh(r), 0);	/* call 2: not due */
	roles_pids(r, ROLES_WEB, &n);
	assert_int_equal(n, 2);
	assert_int_equal(roles_refresh(r), 0);	/* call 3: not due */
	assert_int_equal(roles_refresh(r), 0);	/* call 4: due (every 3) */
	v = roles_pids(r, ROLES_WEB, &n);
	assert_int_equal(n, 4);
	assert_true(has(v, n, web6.pid));
	assert_true(has(v, n, web6.grandchild));
	roles_free(r);
}

static void test_overrides(void **state)
{
	struct server a, other;
	struct roles *r;
	const pid_t *v;
	size_t n;

	(void)state;
	start_server(AF_INET, 0, "tp-roles-web", &a);
	start_server(AF_INET, 0, NULL, &other);
	set_ports(other.port, 0);	/* discovery would find `other`; the overrides must win */

	struct roles_config by_pid = { .ports = &ports, .web_pid = a.pid, .mongod_pid = other.pid };
	r = roles_new(&by_pid);
	assert_non_null(r);
	assert_int_equal(roles_refresh(r), 0);
	v = roles_pids(r, ROLES_WEB, &n);
	assert_int_equal(n, 2);
	assert_true(has(v, n, a.pid) && has(v, n, a.grandchild));
	v = roles_pids(r, ROLES_MONGOD, &n);
	assert_int_equal(n, 2);
	assert_true(has(v, n, other.pid) && has(v, n, other.grandchild));
	roles_free(r);

	/* By comm: the master renamed itself; its worker (same comm, inherited) and descendants follow. */
	struct roles_config by_name = { .ports = &ports, .web_name = "tp-roles-web" };
	r = roles_new(&by_name);
	assert_non_null(r);
	assert_int_equal(roles_refresh(r), 0);
	v = roles_pids(r, ROLES_WEB, &n);
	assert_int_equal(n, 2);
	assert_true(has(v, n, a.pid) && has(v, n, a.grandchild));
	assert_false(has(v, n, other.pid));
	roles_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_discover_and_follow_restart, teardown),
		cmocka_unit_test_teardown(test_periodic_ipv6_mongod, teardown),
		cmocka_unit_test_teardown(test_overrides, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
