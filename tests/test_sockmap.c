/* test_sockmap.c - socket -> pid over real loopback connections (IPv4, IPv6), latency of a lookup, the async queue. */
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockmap.h"

static pid_t server_pid = -1;

static int teardown_child(void **state)
{
	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	return 0;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void to_endpoint(const struct sockaddr_storage *ss, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		ep->family = AF_INET6;
		memcpy(ep->addr, &s6->sin6_addr, 16);
		ep->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		ep->family = AF_INET;
		memcpy(ep->addr, &s4->sin_addr, 4);
		ep->port = ntohs(s4->sin_port);
	}
}

/*
 * Forks an echo server: it accepts connections one by one, echoes each byte,
 * and closes on EOF. dual: listens on [::] and *srv is 127.0.0.1 (an IPv4
 * client of a dual-stack listener, whose accepted socket is AF_INET6 with a
 * mapped address). gate >= 0: the server reads one byte from gate before its
 * first accept(), so the test controls when the connection gets an owner.
 */
static void start_server_opts(int family, int dual, int gate, struct sockaddr_storage *srv,
			      socklen_t *len)
{
	int ls = socket(dual ? AF_INET6 : family, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	memset(srv, 0, sizeof(*srv));
	if (family == AF_INET6 || dual) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)srv;
		int off = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = dual ? in6addr_any : in6addr_loopback;
		*len = sizeof(*s6);
		assert_int_equal(setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)srv;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
	}
	assert_int_equal(bind(ls, (struct sockaddr *)srv, *len), 0);
	assert_int_equal(listen(ls, 64), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)srv, len), 0);
	if (dual) {
		uint16_t port = ((struct sockaddr_in6 *)srv)->sin6_port;
		struct sockaddr_in *s4 = (struct sockaddr_in *)srv;
		memset(srv, 0, sizeof(*srv));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = port;
		*len = sizeof(*s4);
	}

	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid == 0) {
		char b;
		if (gate >= 0 && read(gate, &b, 1) != 1)
			_exit(1);
		for (;;) {
			int c = accept(ls, NULL, NULL);
			if (c < 0)
				_exit(1);
			while (read(c, &b, 1) == 1)
				if (write(c, &b, 1) != 1)
					break;
			close(c);
		}
	}
	close(ls);
}

static void start_server(int family, struct sockaddr_storage *srv, socklen_t *len)
{
	start_server_opts(family, 0, -1, srv, len);
}

/* Connects, sends a byte and waits for the echo: the server has accepted by then. */
static int connect_echo(const struct sockaddr_storage *srv, socklen_t len, struct endpoint *client,
			struct endpoint *server)
{
	struct sockaddr_storage me;
	socklen_t mlen = sizeof(me);
	char b = 'x';
	int fd = socket(srv->ss_family, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)srv, len), 0);
	assert_int_equal(write(fd, &b, 1), 1);
	assert_int_equal(read(fd, &b, 1), 1);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &mlen), 0);
	to_endpoint(&me, client);
	to_endpoint(srv, server);
	return fd;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void both_ends(int family, int use_netlink)
{
	struct sockaddr_storage srv;
	socklen_t len;
	struct endpoint cl, sv;
	struct sockmap *m = sockmap_new();
	pid_t pid = 0;
	int fd;

	assert_non_null(m);
	if (!use_netlink)
		sockmap_disable_netlink(m);
	start_server(family, &srv, &len);
	fd = connect_echo(&srv, len, &cl, &sv);

	/* Server end: the child that accepted. Client end: this process. */
	assert_int_equal(sockmap_lookup(m, &sv, &cl, &pid), 0);
	assert_int_equal(pid, server_pid);
	pid = 0;
	assert_int_equal(sockmap_lookup(m, &cl, &sv, &pid), 0);
	assert_int_equal(pid, getpid());

	/* Again: now from the cache, re-verified against /proc/PID/fd. */
	struct sockmap_stats st0, st;
	sockmap_get_stats(m, &st0);
	pid = 0;
	assert_int_equal(sockmap_lookup(m, &cl, &sv, &pid), 0);
	assert_int_equal(pid, getpid());
	sockmap_get_stats(m, &st);
	assert_int_equal(st.cache_hits, st0.cache_hits + 1);
	assert_int_equal(st.full_scans, st0.full_scans);

	/* A tuple nobody owns (a port nobody connected from). */
	struct endpoint ghost = cl;
	ghost.port = (uint16_t)(cl.port == 65535 ? 65534 : cl.port + 1);
	assert_int_equal(sockmap_lookup(m, &ghost, &sv, &pid), -ENOENT);

	/* Closed: the server end disappears once the child has closed it too. */
	close(fd);
	sockmap_free(m);
}

static void test_ipv4_netlink(void **state)
{
	(void)state;
	both_ends(AF_INET, 1);
}

static void test_ipv6_netlink(void **state)
{
	(void)state;
	both_ends(AF_INET6, 1);
}

static void test_ipv4_procnet(void **state)
{
	(void)state;
	both_ends(AF_INET, 0);
}

static void test_ipv6_procnet(void **state)
{
	(void)state;
	both_ends(AF_INET6, 0);
}

/*
 * Connections that live ~5 ms: each is looked up (server end, cold: a new
 * inode every time) while alive, then closed. Prints the median latency.
 */
static void short_lived(int family, int with_candidates, const char *label, double max_median_ms)
{
	enum { N = 40 };
	struct sockaddr_storage srv;
	socklen_t len;
	double lat[N];
	struct sockmap *m = sockmap_new();
	int ok = 0;

	assert_non_null(m);
	start_server(family, &srv, &len);
	if (with_candidates)
		assert_int_equal(sockmap_set_candidates(m, &server_pid, 1), 0);
	for (int i = 0; i < N; i++) {
		struct endpoint cl, sv;
		pid_t pid = 0;
		double t0 = now_ms();
		int fd = connect_echo(&srv, len, &cl, &sv);
		double t1 = now_ms();
		int r = sockmap_lookup(m, &sv, &cl, &pid);
		double t2 = now_ms();

		lat[i] = t2 - t1;
		if (r == 0 && pid == server_pid)
			ok++;
		/* Keep the connection's whole life near 5 ms. */
		while (now_ms() - t0 < 5.0)
			;
		close(fd);
	}
	qsort(lat, N, sizeof(lat[0]), cmp_double);
	printf("sockmap %s: %d/%d resolved, lookup median %.3f ms, max %.3f ms\n", label, ok, N,
	       lat[N / 2], lat[N - 1]);
	struct sockmap_stats st;
	sockmap_get_stats(m, &st);
	printf("  stats: lookups %llu cache %llu candidate %llu full-scans %llu netlink %llu\n",
	       (unsigned long long)st.lookups, (unsigned long long)st.cache_hits,
	       (unsigned long long)st.candidate_hits, (unsigned long long)st.full_scans,
	       (unsigned long long)st.netlink_lookups);
	assert_int_equal(ok, N);
	/* Fast enough to beat a 5 ms connection (a full /proc scan is the slow, rare path). */
	assert_true(lat[N / 2] < max_median_ms);
	sockmap_free(m);
}

static void test_short_lived_v4_candidates(void **state)
{
	(void)state;
	short_lived(AF_INET, 1, "ipv4 5ms conns, candidates", 1.0);
}

static void test_short_lived_v4_fullscan(void **state)
{
	(void)state;
	short_lived(AF_INET, 0, "ipv4 5ms conns, no candidates", 5.0);
}

static void test_short_lived_v6(void **state)
{
	(void)state;
	short_lived(AF_INET6, 1, "ipv6 5ms conns, candidates", 1.0);
}

/* An IPv4 client of a [::] listener: the server's socket is AF_INET6 (::ffff:127.0.0.1). */
static void dual_stack(int use_netlink)
{
	struct sockaddr_storage srv;
	socklen_t len;
	struct endpoint cl, sv;
	struct sockmap *m = sockmap_new();
	pid_t pid = 0;

	assert_non_null(m);
	if (!use_netlink)
		sockmap_disable_netlink(m);
	start_server_opts(AF_INET, 1, -1, &srv, &len);
	int fd = connect_echo(&srv, len, &cl, &sv);
	assert_int_equal(cl.family, AF_INET);
	assert_int_equal(sockmap_lookup(m, &sv, &cl, &pid), 0);
	assert_int_equal(pid, server_pid);
	close(fd);
	sockmap_free(m);
}

static void test_dual_stack_netlink(void **state)
{
	(void)state;
	dual_stack(1);
}

static void test_dual_stack_procnet(void **state)
{
	(void)state;
	dual_stack(0);
}

/*
 * Data before accept(): the connection exists but nobody owns it yet. The
 * synchronous lookup says -EAGAIN; the async worker retries and resolves it
 * once the server has accepted.
 */
static void test_not_yet_accepted(void **state)
{
	struct sockaddr_storage srv, me;
	socklen_t len, mlen = sizeof(me);
	struct endpoint cl, sv;
	struct sockmap *m = sockmap_new();
	struct sockmap_async *a = sockmap_async_new(16);
	struct sockmap_result res;
	int gate[2];
	pid_t pid;
	char b = 'x';

	(void)state;
	assert_non_null(m);
	assert_non_null(a);
	assert_int_equal(pipe(gate), 0);
	start_server_opts(AF_INET, 0, gate[0], &srv, &len);
	close(gate[0]);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&srv, len), 0);
	assert_int_equal(write(fd, &b, 1), 1);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &mlen), 0);
	to_endpoint(&me, &cl);
	to_endpoint(&srv, &sv);

	assert_int_equal(sockmap_lookup(m, &sv, &cl, &pid), -EAGAIN);
	sockmap_disable_netlink(m);
	assert_int_equal(sockmap_lookup(m, &sv, &cl, &pid), -EAGAIN);

	/* The first try is made while the gate is shut; a retry catches the accept. */
	assert_int_equal(sockmap_async_submit(a, 1, &sv, &cl), 0);
	double t0 = now_ms();
	while (sockmap_async_retries(a) == 0 && now_ms() - t0 < 2000)
		poll(NULL, 0, 1);
	assert_true(sockmap_async_retries(a) >= 1);
	assert_int_equal(write(gate[1], "g", 1), 1);
	t0 = now_ms();
	size_t got = 0;
	while (got == 0 && now_ms() - t0 < 2000) {
		got = sockmap_async_poll(a, &res, 1);
		if (!got)
			poll(NULL, 0, 1);
	}
	printf("not yet accepted: answer %.1f ms after the accept was allowed, %llu retries, err %d\n",
	       now_ms() - t0,
	       (unsigned long long)sockmap_async_retries(a), res.err);
	assert_int_equal(got, 1);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.pid, server_pid);
	assert_true(sockmap_async_retries(a) >= 1);
	close(fd);
	close(gate[1]);
	sockmap_async_free(a);
	sockmap_free(m);
}

static void test_async(void **state)
{
	struct sockaddr_storage srv;
	socklen_t len;
	struct endpoint cl, sv;
	struct sockmap_async *a = sockmap_async_new(2);
	struct sockmap_result res[4];
	size_t got = 0;
	int fd;

	(void)state;
	assert_non_null(a);
	start_server(AF_INET, &srv, &len);
	fd = connect_echo(&srv, len, &cl, &sv);
	assert_int_equal(sockmap_async_set_candidates(a, &server_pid, 1), 0);
	assert_int_equal(sockmap_async_submit(a, 7, &sv, &cl), 0);
	assert_int_equal(sockmap_async_submit(a, 8, &cl, &sv), 0);

	double t0 = now_ms();
	while (got < 2 && now_ms() - t0 < 2000) {
		got += sockmap_async_poll(a, res + got, 2 - got);
		if (got < 2)
			poll(NULL, 0, 1);
	}
	assert_int_equal(got, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(res[i].err, 0);
		if (res[i].flow_id == 7)
			assert_int_equal(res[i].pid, server_pid);
		else
			assert_int_equal(res[i].pid, getpid());
	}

	/* Bounded: with the worker busy or not, a burst beyond the queue is refused, never waited on. */
	int refused = 0;
	for (int i = 0; i < 64; i++)
		if (sockmap_async_submit(a, 100 + (uint64_t)i, &sv, &cl) == -EAGAIN)
			refused++;
	assert_true(refused > 0);
	assert_true(sockmap_async_dropped(a) >= (uint64_t)refused);
	close(fd);
	sockmap_async_free(a);
	sockmap_async_free(NULL);
	sockmap_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_ipv4_netlink, teardown_child),
		cmocka_unit_test_teardown(test_ipv6_netlink, teardown_child),
		cmocka_unit_test_teardown(test_ipv4_procnet, teardown_child),
		cmocka_unit_test_teardown(test_ipv6_procnet, teardown_child),
		cmocka_unit_test_teardown(test_short_lived_v4_candidates, teardown_child),
		cmocka_unit_test_teardown(test_short_lived_v4_fullscan, teardown_child),
		cmocka_unit_test_teardown(test_short_lived_v6, teardown_child),
		cmocka_unit_test_teardown(test_dual_stack_netlink, teardown_child),
		cmocka_unit_test_teardown(test_dual_stack_procnet, teardown_child),
		cmocka_unit_test_teardown(test_not_yet_accepted, teardown_child),
		cmocka_unit_test_teardown(test_async, teardown_child),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
