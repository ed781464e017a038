/*
 * host_collector.c - the procfs collector: host CPU, memory, disks, network
 * and the web / mongod / probe roles, once per interval, in samples.csv.
 *
 * Sampling runs in a thread of its own because after `run --user` only that
 * thread holds the capabilities to read other users' /proc/PID/io and fds;
 * the main loop asks for a sample and waits for it (a few milliseconds).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_collector.h"
#include "log.h"
#include "privs.h"
#include "procfs.h"
#include "roles.h"

struct host_collector {
	struct roles *roles;
	struct procfs_sampler *sampler;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int want, done, stop;
	struct procfs_row row;
	pid_t web_pids[256];	/* a copy for the socket -> pid mapper */
	size_t n_web;
};

static const char *const *host_columns(size_t *n)
{
	*n = PROCFS_NCOLUMNS;
	return procfs_columns;
}

static void take_sample(struct host_collector *h)
{
	struct host_sample s;
	roles_refresh(h->roles);
	for (int r = 0; r < ROLES_COUNT; r++) {
		size_t n;
		const pid_t *pids = roles_pids(h->roles, (enum roles_role)r, &n);
		procfs_sampler_set_role(h->sampler, (enum roles_role)r, pids, n);
		if (r == ROLES_WEB) {
			h->n_web = n < 256 ? n : 256;
			memcpy(h->web_pids, pids, h->n_web * sizeof(pid_t));
		}
	}
	if (procfs_sample(h->sampler, &s) != 0)
		procfs_sample_clear(&s);
	procfs_format_row(&s, &h->row);
}

static void *host_main(void *arg)
{
	struct host_collector *h = arg;
	privs_raise_for_proc_reading();
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->want && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop)
			break;
		h->want = 0;
		pthread_mutex_unlock(&h->mu);
		take_sample(h);
		pthread_mutex_lock(&h->mu);
		h->done = 1;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void host_poll(void *state, ts_ns now, collector_cell *cells);

static int host_init(void **state, const struct options *o)
{
	struct host_collector *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	struct roles_config rc = {
		.ports = &o->ports,
		.web_pid = o->web_pid,
		.web_name = o->web_name,
		.mongod_pid = o->mongod_pid,
		.rediscover_every = 5,
	};
	h->roles = roles_new(&rc);
	h->sampler = procfs_sampler_new();
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (!h->roles || !h->sampler || pthread_create(&h->thread, NULL, host_main, h) != 0) {
		roles_free(h->roles);
		procfs_sampler_free(h->sampler);
		free(h);
		return log_error("procfs: cannot start the host sampler"), -ENOMEM;
	}
	h->started = 1;
	/*
	 * A first sample, waited for: it sets every baseline (the first row
	 * already has rates) and discovers the web workers before capture
	 * starts, so the first connections are looked up among them.
	 */
	*state = h;
	collector_cell scratch[PROCFS_NCOLUMNS];
	host_poll(h, 0, scratch);
	return 0;
}

static void host_poll(void *state, ts_ns now, collector_cell *cells)
{
	struct host_collector *h = state;
	(void)now;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;	/* a stuck /proc read must not stall capture for long */
	pthread_mutex_lock(&h->mu);
	h->done = 0;
	h->want = 1;
	pthread_cond_signal(&h->cv);
	int rc = 0;
	while (!h->done && rc == 0)
		rc = pthread_cond_timedwait(&h->cv, &h->mu, &until);
	if (h->done)
		for (size_t i = 0; i < PROCFS_NCOLUMNS; i++)
			snprintf(cells[i], COLLECTOR_CELL_MAX, "%s", h->row.cells[i]);
	pthread_mutex_unlock(&h->mu);
}

static void host_stop(void *state)
{
	struct host_collector *h = state;
	if (!h->started)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	h->started = 0;
}

static void host_free(void *state)
{
	struct host_collector *h = state;
	if (!h)
		return;
	host_stop(h);
	roles_free(h->roles);
	procfs_sampler_free(h->sampler);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

/* The web role's pids as of the last sample (for the socket -> pid mapper). */
size_t host_collector_web_pids(void *state, pid_t *out, size_t max)
{
	struct host_collector *h = state;
	pthread_mutex_lock(&h->mu);
	size_t n = h->n_web < max ? h->n_web : max;
	memcpy(out, h->web_pids, n * sizeof(pid_t));
	pthread_mutex_unlock(&h->mu);
	return n;
}

const struct collector_ops procfs_collector = {
	.name = "procfs",
	.columns = host_columns,
	.init = host_init,
	.poll = host_poll,
	.stop = host_stop,
	.free = host_free,
};
