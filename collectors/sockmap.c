/* sockmap.c - TCP connection -> owning pid via netlink sock_diag (linux/inet_diag.h) or /proc/net/tcp, then /proc/PID/fd. */
#include "sockmap.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "privs.h"
#include "procnet.h"

/* Power of two; cleared wholesale at 3/4 full (a refresh: entries are only hints). */
#define CACHE_SLOTS 16384u

struct cache_entry {
	uint64_t inode;		/* 0 = empty slot */
	pid_t pid;		/* 0 = known stale */
	int fd;
};

struct sockmap {
	int nl;			/* NETLINK_SOCK_DIAG socket; -1 = use /proc/net/tcp */
	uint32_t seq;
	pid_t *cand;
	int *cand_fd;		/* per candidate: the fd its last found socket had (-1: none) */
	size_t ncand;
	struct cache_entry *cache;
	size_t cache_used;
	struct sockmap_stats st;
};

struct sockmap *sockmap_new(void)
{
	struct sockmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cache = calloc(CACHE_SLOTS, sizeof(*m->cache));
	if (!m->cache) {
		free(m);
		return NULL;
	}
	/* Without the socket (old kernel, seccomp) the /proc/net/tcp path still works. */
	m->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	return m;
}

void sockmap_free(struct sockmap *m)
{
	if (!m)
		return;
	if (m->nl >= 0)
		close(m->nl);
	free(m->cand);
	free(m->cand_fd);
	free(m->cache);
	free(m);
}

void sockmap_disable_netlink(struct sockmap *m)
{
	if (m->nl >= 0)
		close(m->nl);
	m->nl = -1;
}

int sockmap_set_candidates(struct sockmap *m, const pid_t *pids, size_t n)
{
	pid_t *v = NULL;
	int *fds = NULL;

	if (n) {
		v = malloc(n * sizeof(*v));
		fds = malloc(n * sizeof(*fds));
		if (!v || !fds) {
			free(v);
			free(fds);
			return -ENOMEM;
		}
		memcpy(v, pids, n * sizeof(*v));
		/* keep the hints of pids that stay candidates */
		for (size_t i = 0; i < n; i++) {
			fds[i] = -1;
			for (size_t j = 0; j < m->ncand; j++)
				if (m->cand[j] == v[i])
					fds[i] = m->cand_fd[j];
		}
	}
	free(m->cand);
	free(m->cand_fd);
	m->cand = v;
	m->cand_fd = fds;
	m->ncand = n;
	return 0;
}

void sockmap_get_stats(const struct sockmap *m, struct sockmap_stats *st)
{
	*st = m->st;
}

/* ---- inode cache ---- */

static size_t cache_slot(uint64_t inode)
{
	/* Inodes are handed out sequentially: a multiplicative hash spreads them. */
	return (size_t)((inode * 0x9E3779B97F4A7C15ull) >> 40) & (CACHE_SLOTS - 1);
}

static void cache_put(struct sockmap *m, uint64_t inode, pid_t pid, int fd)
{
	if (m->cache_used >= CACHE_SLOTS / 4 * 3) {
		memset(m->cache, 0, CACHE_SLOTS * sizeof(*m->cache));
		m->cache_used = 0;
	}
	for (size_t i = cache_slot(inode);; i = (i + 1) & (CACHE_SLOTS - 1)) {
		struct cache_entry *e = &m->cache[i];
		if (e->inode == inode || e->inode == 0) {
			if (e->inode == 0)
				m->cache_used++;
			e->inode = inode;
			e->pid = pid;
			e->fd = fd;
			return;
		}
	}
}

static struct cache_entry *cache_get(struct sockmap *m, uint64_t inode)
{
	for (size_t i = cache_slot(inode);; i = (i + 1) & (CACHE_SLOTS - 1)) {
		struct cache_entry *e = &m->cache[i];
		if (e->inode == inode)
			return e;
		if (e->inode == 0)
			return NULL;
	}
}

/* A cached (pid, fd) still names this socket: fds get reused, pids too. */
static int cache_verify(const struct cache_entry *e)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)e->pid, e->fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	return procnet_socket_inode(target) == e->inode;
}

/* ---- connection -> inode ---- */

static int inode_netlink(struct sockmap *m, const struct endpoint *local, const struct endpoint *remote,
			 uint64_t *inode)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	size_t alen = local->family == AF_INET6 ? 16 : 4;
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} resp;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	/* No NLM_F_DUMP: the kernel looks up exactly this 4-tuple (inet_diag_find_one_icsk). */
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.nlh.nlmsg_seq = ++m->seq;
	msg.req.sdiag_family = local->family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0u;
	msg.req.id.idiag_sport = htons(local->port);
	msg.req.id.idiag_dport = htons(remote->port);
	memcpy(msg.req.id.idiag_src, local->addr, alen);
	memcpy(msg.req.id.idiag_dst, remote->addr, alen);
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	if (sendto(m->nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		n = recv(m->nl, resp.buf, sizeof(resp.buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = &resp.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != m->seq)
				continue;	/* a late answer to an earlier request */
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EIO;
				return e->error ? e->error : -ENOENT;
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
				const struct inet_diag_msg *d = NLMSG_DATA(h);
				/*
				 * The kernel's exact lookup falls back to the listening
				 * socket when it does not find the connection itself (not
				 * set up yet, or already gone). Every worker shares the
				 * listener, so it would name the wrong process: ask again.
				 */
				if (d->idiag_state == PROCNET_TCP_LISTEN || d->id.idiag_dport != htons(remote->port))
					return -EAGAIN;
				/*
				 * No inode: either finished (TIME_WAIT) or still in the
				 * listener's accept queue, which no process owns until
				 * accept() - worth asking again a little later.
				 */
				if (d->idiag_inode == 0)
					return d->idiag_state == PROCNET_TCP_ESTABLISHED ? -EAGAIN : -ENOENT;
				*inode = d->idiag_inode;
				return 0;
			}
		}
	}
}

struct tuple_match {
	const struct endpoint *local, *remote;
	uint64_t inode;
	int unowned;		/* seen established without an inode: not accepted yet */
};

static int tuple_cb(void *ctx, const struct procnet_sock *s)
{
	struct tuple_match *t = ctx;

	if (!endpoint_equal(&s->local, t->local) || !endpoint_equal(&s->remote, t->remote))
		return 0;
	if (s->inode) {
		t->inode = s->inode;
		return 1;
	}
	if (s->state == PROCNET_TCP_ESTABLISHED)
		t->unowned = 1;
	return 0;
}

/* Maps an IPv4 endpoint to its ::ffff:a.b.c.d form, as dual-stack sockets show it in tcp6. */
static void v4_mapped(const struct endpoint *in, struct endpoint *out)
{
	memset(out, 0, sizeof(*out));
	out->family = AF_INET6;
	out->addr[10] = 0xff;
	out->addr[11] = 0xff;
	memcpy(out->addr + 12, in->addr, 4);
	out->port = in->port;
}

static int inode_procnet(const struct endpoint *local, const struct endpoint *remote, uint64_t *inode)
{
	struct tuple_match t = { local, remote, 0, 0 };
	int r = procnet_tcp_foreach(local->family, tuple_cb, &t);

	if (r < 0)
		return r;
	if (!t.inode && local->family == AF_INET) {
		struct endpoint l6, r6;
		v4_mapped(local, &l6);
		v4_mapped(remote, &r6);
		t.local = &l6;
		t.remote = &r6;
		r = procnet_tcp_foreach(AF_INET6, tuple_cb, &t);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (!t.inode)
		return t.unowned ? -EAGAIN : -ENOENT;
	*inode = t.inode;
	return 0;
}

/* ---- inode -> pid ---- */

struct owner_scan {
	struct sockmap *m;
	uint64_t want;
	pid_t found;
};

static int owner_cb(void *ctx, pid_t pid, int fd, uint64_t inode)
{
	struct owner_scan *o = ctx;

	/* Remember every socket of the process: its next connections hit the cache. */
	cache_put(o->m, inode, pid, fd);
	if (inode == o->want && !o->found)
		o->found = pid;
	return 0;
}

static int scan_pid(struct sockmap *m, pid_t pid, uint64_t inode, pid_t *out)
{
	struct owner_scan o = { m, inode, 0 };

	procnet_pid_sockets(pid, owner_cb, &o);
	if (o.found) {
		*out = o.found;
		return 1;
	}
	return 0;
}

static int is_candidate(const struct sockmap *m, pid_t pid)
{
	for (size_t i = 0; i < m->ncand; i++)
		if (m->cand[i] == pid)
			return 1;
	return 0;
}

static int owner_of(struct sockmap *m, uint64_t inode, pid_t *out)
{
	struct cache_entry *e = cache_get(m, inode);
	pid_t *all;
	size_t nall;
	int r;

	if (e && e->pid) {
		if (cache_verify(e)) {
			m->st.cache_hits++;
			*out = e->pid;
			return 0;
		}
		e->pid = 0;
	}
	/*
	 * A sync worker accepts each connection into the same lowest free fd:
	 * one readlink per candidate at its last socket's fd usually finds the
	 * owner, where a full scan reads every fd of every worker.
	 */
	for (size_t i = 0; i < m->ncand; i++) {
		struct cache_entry hint = { inode, m->cand[i], m->cand_fd[i] };
		if (hint.fd >= 0 && cache_verify(&hint)) {
			m->st.candidate_hits++;
			*out = m->cand[i];
			return 0;
		}
	}
	for (size_t i = 0; i < m->ncand; i++) {
		if (scan_pid(m, m->cand[i], inode, out)) {
			m->st.candidate_hits++;
			const struct cache_entry *found = cache_get(m, inode);
			if (found && found->pid == m->cand[i])
				m->cand_fd[i] = found->fd;
			return 0;
		}
	}
	m->st.full_scans++;
	r = procnet_list_pids(&all, &nall);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < nall; i++) {
		if (is_candidate(m, all[i]))
			continue;
		if (scan_pid(m, all[i], inode, out)) {
			r = 0;
			break;
		}
	}
	free(all);
	return r;
}

int sockmap_lookup(struct sockmap *m, const struct endpoint *local, const struct endpoint *remote,
		   pid_t *out)
{
	uint64_t inode = 0;
	int r;

	if ((local->family != AF_INET && local->family != AF_INET6) || local->family != remote->family)
		return -EAFNOSUPPORT;
	m->st.lookups++;
	r = -ENOENT;
	if (m->nl >= 0) {
		m->st.netlink_lookups++;
		r = inode_netlink(m, local, remote, &inode);
		/* ENOENT/EAGAIN are the kernel's answers; anything else means netlink is unusable. */
		if (r < 0 && r != -ENOENT && r != -EAGAIN) {
			sockmap_disable_netlink(m);
			m->st.procnet_lookups++;
			r = inode_procnet(local, remote, &inode);
		}
	} else {
		m->st.procnet_lookups++;
		r = inode_procnet(local, remote, &inode);
	}
	if (r == 0)
		r = owner_of(m, inode, out);
	if (r == 0)
		m->st.found++;
	else
		m->st.not_found++;
	return r;
}

/* ---- asynchronous wrapper ---- */

struct sockmap_request {
	uint64_t flow_id;
	struct endpoint local, remote;
	int tries;
	double due;		/* monotonic seconds: when a deferred retry may run */
};

/*
 * A connection seen before the server accept()s it has no owner yet
 * (-EAGAIN): a sync worker may take it only when it is free, then answer and
 * close it within a millisecond. It is asked again every 100 us for 5 ms,
 * then every 500 us up to 100 ms (a worker busy with a queue of requests),
 * then after 1, 2, 4 ... 256 ms (about 1.1 s in all), without holding up the
 * requests behind it. A round trip costs ~15 us, so even the steady phase
 * costs a waiting connection about 3% of a core.
 */
#define ASYNC_FAST_TRIES 20
#define ASYNC_FAST_RETRY_S 0.0001
#define ASYNC_STEADY_TRIES 190
#define ASYNC_STEADY_RETRY_S 0.0005
#define ASYNC_TRIES (ASYNC_FAST_TRIES + ASYNC_STEADY_TRIES + 9)
#define ASYNC_RETRY_S 0.001

static double async_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct sockmap_async {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct sockmap *m;		/* used by the worker only, outside mu */
	size_t cap;
	struct sockmap_request *req;	/* ring: req_head is the oldest */
	size_t req_head, req_len;
	struct sockmap_result *res;
	size_t res_head, res_len;
	struct sockmap_request *def;	/* deferred retries, unordered */
	size_t ndef;
	uint64_t dropped;
	uint64_t retries;
	pid_t *new_cand;		/* set by the caller, taken by the worker */
	size_t new_ncand;
	int cand_pending;
};

/* Index of the earliest deferred retry, or -1. */
static long earliest_deferred(const struct sockmap_async *a)
{
	long best = -1;

	for (size_t i = 0; i < a->ndef; i++)
		if (best < 0 || a->def[i].due < a->def[best].due)
			best = (long)i;
	return best;
}

static void push_result(struct sockmap_async *a, const struct sockmap_result *rs)
{
	if (a->res_len == a->cap) {
		a->dropped++;
		return;
	}
	a->res[(a->res_head + a->res_len) % a->cap] = *rs;
	a->res_len++;
}

/*
 * A sync worker may accept, answer and close a connection within a
 * millisecond or two, so the first retries come every 100 us (a netlink
 * round trip costs ~15 us); then the steady phase; then the delay doubles.
 */
static double retry_delay_s(int tries)
{
	if (tries < ASYNC_FAST_TRIES)
		return ASYNC_FAST_RETRY_S;
	if (tries < ASYNC_FAST_TRIES + ASYNC_STEADY_TRIES)
		return ASYNC_STEADY_RETRY_S;
	int k = tries - ASYNC_FAST_TRIES - ASYNC_STEADY_TRIES;
	return ASYNC_RETRY_S * (double)(1u << (k < 8 ? k : 8));
}

static void *async_main(void *arg)
{
	struct sockmap_async *a = arg;

	/* After `run --user`, only this thread reads other users' /proc/PID/fd. */
	privs_raise_for_proc_reading();
	/*
	 * A sync worker's connection lives a millisecond or two: on a busy host
	 * this mostly idle thread must get the CPU at once to see it. Best
	 * effort (needs CAP_SYS_NICE); failing leaves the default priority.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10);

	pthread_mutex_lock(&a->mu);
	for (;;) {
		long d;

		for (;;) {
			if (a->stop || a->req_len || a->cand_pending)
				break;
			d = earliest_deferred(a);
			if (d < 0) {
				pthread_cond_wait(&a->cv, &a->mu);
				continue;
			}
			double due = a->def[d].due;
			if (due <= async_now())
				break;
			struct timespec ts;
			ts.tv_sec = (time_t)due;
			ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&a->cv, &a->mu, &ts);
		}
		if (a->stop)
			break;
		if (a->cand_pending) {
			pid_t *c = a->new_cand;
			size_t n = a->new_ncand;
			a->new_cand = NULL;
			a->cand_pending = 0;
			pthread_mutex_unlock(&a->mu);
			sockmap_set_candidates(a->m, c, n);
			free(c);
			pthread_mutex_lock(&a->mu);
			continue;
		}
		struct sockmap_request rq;
		d = earliest_deferred(a);
		if (d >= 0 && a->def[d].due <= async_now()) {
			rq = a->def[d];
			a->def[d] = a->def[--a->ndef];
		} else if (a->req_len) {
			rq = a->req[a->req_head];
			a->req_head = (a->req_head + 1) % a->cap;
			a->req_len--;
		} else {
			continue;
		}
		pthread_mutex_unlock(&a->mu);

		struct sockmap_result rs = { .flow_id = rq.flow_id };
		rs.err = sockmap_lookup(a->m, &rq.local, &rq.remote, &rs.pid);

		pthread_mutex_lock(&a->mu);
		/*
		 * -ENOENT is retried too: right after the handshake the kernel may
		 * not show the socket yet, or its fd may not be installed yet.
		 */
		if ((rs.err == -EAGAIN || rs.err == -ENOENT) && rq.tries + 1 < ASYNC_TRIES &&
		    a->ndef < a->cap) {
			double delay = retry_delay_s(rq.tries);
			/*
			 * A long accept queue (starved workers) must not turn the
			 * retries into a busy loop: with n connections waiting, each
			 * is asked n times less often, so together they stay near one
			 * lookup per base delay (100 us fast, 500 us steady).
			 */
			if (rq.tries < ASYNC_FAST_TRIES + ASYNC_STEADY_TRIES && a->ndef > 1)
				delay *= (double)a->ndef;
			rq.due = async_now() + delay;
			rq.tries++;
			a->def[a->ndef++] = rq;
			a->retries++;
			continue;
		}
		push_result(a, &rs);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

struct sockmap_async *sockmap_async_new(size_t queue_len)
{
	struct sockmap_async *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return NULL;
	a->cap = queue_len ? queue_len : 4096;
	a->req = calloc(a->cap, sizeof(*a->req));
	a->res = calloc(a->cap, sizeof(*a->res));
	a->def = calloc(a->cap, sizeof(*a->def));
	a->m = sockmap_new();
	if (!a->req || !a->res || !a->def || !a->m) {
		sockmap_free(a->m);
		free(a->def);
		free(a->req);
		free(a->res);
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	/* Retry deadlines are monotonic: a wall-clock step must not stall or rush them. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&a->thread, NULL, async_main, a);
	if (r) {
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		sockmap_free(a->m);
		free(a->def);
		free(a->req);
		free(a->res);
		free(a);
		errno = r;
		return NULL;
	}
	return a;
}

void sockmap_async_free(struct sockmap_async *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	sockmap_free(a->m);
	free(a->new_cand);
	free(a->def);
	free(a->req);
	free(a->res);
	free(a);
}

int sockmap_async_set_candidates(struct sockmap_async *a, const pid_t *pids, size_t n)
{
	pid_t *v = malloc((n ? n : 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (n)
		memcpy(v, pids, n * sizeof(*v));
	pthread_mutex_lock(&a->mu);
	free(a->new_cand);
	a->new_cand = v;
	a->new_ncand = n;
	a->cand_pending = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int sockmap_async_submit(struct sockmap_async *a, uint64_t flow_id, const struct endpoint *local,
			 const struct endpoint *remote)
{
	int r = 0;

	pthread_mutex_lock(&a->mu);
	if (a->req_len == a->cap) {
		a->dropped++;
		r = -EAGAIN;
	} else {
		struct sockmap_request *rq = &a->req[(a->req_head + a->req_len) % a->cap];
		rq->flow_id = flow_id;
		rq->local = *local;
		rq->remote = *remote;
		a->req_len++;
		pthread_cond_signal(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	return r;
}

size_t sockmap_async_poll(struct sockmap_async *a, struct sockmap_result *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&a->mu);
	while (n < max && a->res_len > 0) {
		out[n++] = a->res[a->res_head];
		a->res_head = (a->res_head + 1) % a->cap;
		a->res_len--;
	}
	pthread_mutex_unlock(&a->mu);
	return n;
}

uint64_t sockmap_async_dropped(struct sockmap_async *a)
{
	uint64_t d;

	pthread_mutex_lock(&a->mu);
	d = a->dropped;
	pthread_mutex_unlock(&a->mu);
	return d;
}

uint64_t sockmap_async_retries(struct sockmap_async *a)
{
	uint64_t r;

	pthread_mutex_lock(&a->mu);
	r = a->retries;
	pthread_mutex_unlock(&a->mu);
	return r;
}
