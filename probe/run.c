/*
 * run.c - `tierprobe run`: the daemon. Live capture feeds the same decode,
 * flow and parser path as `analyze`; every interval the collectors (host and
 * processes, serverStatus) are sampled onto the same clock and samples.csv
 * gets a row; SIGINT/SIGTERM (or --duration) end the run with every file
 * complete and the summary written. SIGHUP reopens the output files (log
 * rotation), SIGUSR1 logs an interim summary.
 *
 * Everything that can be wrong with the command line (unknown interface,
 * unwritable folder, unreadable URI file) is found before capture starts:
 * exit 2 and nothing running.
 */
#include "run.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "capture.h"
#include "collector.h"
#include "decode.h"
#include "flow.h"
#include "flow_owner.h"
#include "host_collector.h"
#include "log.h"
#include "outputs.h"
#include "privs.h"
#include "quality.h"
#include "samples.h"

/* The collectors sampled every interval, in samples.csv column order. */
extern const struct collector_ops serverstatus_collector;
static const struct collector_ops *const collectors[] = {
	&procfs_collector,
	&serverstatus_collector,
};
#define N_COLLECTORS (sizeof(collectors) / sizeof(collectors[0]))

static volatile sig_atomic_t stop_requested, reopen_requested, interim_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_requested = 1;
	else if (sig == SIGUSR1)
		interim_requested = 1;
	else
		stop_requested = 1;
}

struct run_state {
	const struct options *o;
	struct quality q;
	struct capture *cap;
	struct capture *synack;	/* SYN-ACKs only, delivered at once: early owner lookups */
	struct flow_table *flows;
	struct outputs *out;
	struct samples *samples;
	struct flow_owner *owners;
	void *cstate[N_COLLECTORS];
	size_t ccols[N_COLLECTORS];	/* columns per collector (0 when skipped) */
	size_t ncols;
	ts_ns last_packet;
};

static void on_packet(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		      ts_ns ts)
{
	struct run_state *st = ctx;
	struct tcp_segment seg;

	/* decode_frame() counts packets and bytes itself. */
	st->last_packet = ts;
	if (decode_frame(dlt, frame, caplen, wirelen, ts, &seg, &st->q) == 0)
		flow_table_segment(st->flows, &seg);
}

/*
 * "<prefix> (port 80 or portrange 8000-8010 or ...)" from the configured
 * ports; dir is "" or "src " (only packets sent by a server port).
 */
static int build_filter(const struct portmap *m, const char *prefix, const char *dir, char *buf,
			size_t len)
{
	size_t used = 0;
	int n = snprintf(buf, len, "%s (", prefix);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	used = (size_t)n;
	int first = 1;
	for (unsigned p = 1; p <= 65535; p++) {
		if (portmap_get(m, (uint16_t)p) == PROTO_NONE)
			continue;
		unsigned q = p;
		while (q < 65535 && portmap_get(m, (uint16_t)(q + 1)) != PROTO_NONE)
			q++;
		if (q == p)
			n = snprintf(buf + used, len - used, "%s%sport %u", first ? "" : " or ", dir, p);
		else
			n = snprintf(buf + used, len - used, "%s%sportrange %u-%u", first ? "" : " or ", dir, p, q);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += (size_t)n;
		first = 0;
		p = q;
	}
	n = snprintf(buf + used, len - used, ")");
	return n < 0 || (size_t)n >= len - used ? -ENOSPC : 0;
}

/* A SYN-ACK from a server port (the second capture): start the owner lookup right away. */
static void on_synack(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		      ts_ns ts)
{
	struct run_state *st = ctx;
	struct tcp_segment seg;
	struct quality scratch;	/* these packets are counted by the main capture */
	memset(&scratch, 0, sizeof(scratch));
	if (decode_frame(dlt, frame, caplen, wirelen, ts, &seg, &scratch) != 0)
		return;
	enum proto proto = portmap_get(&st->o->ports, seg.src.port);
	if (proto != PROTO_NONE && st->owners)
		flow_owner_note_synack(st->owners, proto, &seg.dst, &seg.src);
}

/* The output folder and what is already in it become the --user's, so it can write and rotate. */
static int give_folder_to(const char *dir, const char *user)
{
	static const char *const files[] = { "", "/http.csv", "/mongo.csv" };
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return log_error("run: --user '%s': no such user", user);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) != 0)
			return log_error("run: cannot give '%s' to user '%s': %s", path, user, strerror(errno));
	}
	return 0;
}

static int interface_exists(const char *iface)
{
	return strcmp(iface, "any") == 0 || if_nametoindex(iface) != 0;
}

/* One samples.csv row's worth of collector cells. */
static void sample_collectors(struct run_state *st, ts_ns now, collector_cell *cells)
{
	size_t off = 0;
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		if (st->ccols[i] == 0)
			continue;
		for (size_t k = 0; k < st->ccols[i]; k++)
			cells[off + k][0] = '\0';
		collectors[i]->poll(st->cstate[i], now, cells + off);
		off += st->ccols[i];
	}
}

static void observe_http(void *ctx, const struct joined_http *h)
{
	samples_http(ctx, h);
}

static void observe_mongo(void *ctx, const struct joined_mongo *m)
{
	samples_mongo(ctx, m);
}

static int setup_collectors(struct run_state *st, const char ***names)
{
	size_t total = 0;
	const char **all = NULL;
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		int rc = collectors[i]->init(&st->cstate[i], st->o);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			st->cstate[i] = NULL;
			continue;
		}
		size_t n;
		const char *const *cols = collectors[i]->columns(&n);
		const char **grown = realloc(all, (total + n) * sizeof(*all));
		if (!grown) {
			free(all);
			return -ENOMEM;
		}
		all = grown;
		memcpy(all + total, cols, n * sizeof(*cols));
		st->ccols[i] = n;
		total += n;
	}
	st->ncols = total;
	*names = all;
	return 0;
}

static void teardown_collectors(struct run_state *st)
{
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		if (!st->cstate[i])
			continue;
		collectors[i]->stop(st->cstate[i]);
		collectors[i]->free(st->cstate[i]);
		st->cstate[i] = NULL;
	}
}

int run_main(const struct options *o)
{
	struct run_state st;
	char err[512], filter[4096], synack_filter[4200];
	int status = 0;

	memset(&st, 0, sizeof(st));
	st.o = o;
	st.last_packet = TS_NONE;

	if (!interface_exists(o->iface)) {
		log_error("run: unknown interface '%s' (see 'ip link')", o->iface);
		return 2;
	}
	if (o->mongo_uri_file && access(o->mongo_uri_file, R_OK) != 0) {
		log_error("run: cannot read --mongo-uri-file '%s': %s", o->mongo_uri_file, strerror(errno));
		return 2;
	}
	if (o->user && !getpwnam(o->user)) {
		log_error("run: --user '%s': no such user", o->user);
		return 2;
	}
	if (build_filter(&o->ports, "tcp and", "", filter, sizeof(filter)) != 0 ||
	    build_filter(&o->ports, "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) and", "src ",
			 synack_filter, sizeof(synack_filter)) != 0) {
		log_error("run: the port lists make a capture filter too long");
		return 2;
	}
	struct capture_live_config lc = {
		.iface = o->iface,
		.bpf = filter,
		.buffer_bytes = o->buffer_mib * 1024 * 1024,
		.timeout_ms = 10,	/* the loop below already waited in poll() */
	};
	/* The capture first: when it cannot open, no output folder has been made. */
	st.cap = capture_open_live(&lc, err, sizeof(err));
	if (!st.cap) {
		log_error("run: %s", err);
		return 1;
	}
	struct capture_live_config sc = {
		.iface = o->iface,
		.bpf = synack_filter,
		.snaplen = 256,
		.buffer_bytes = 2 * 1024 * 1024,
		.timeout_ms = 1,
		.immediate = 1,
	};
	st.synack = capture_open_live(&sc, err, sizeof(err));
	if (!st.synack)	/* not fatal: lookups then start at the first payload byte */
		log_warning("run: no early socket lookups: %s", err);
	if (!decode_linktype_supported(capture_dlt(st.cap))) {
		log_error("run: interface '%s' has link type %d, which tierprobe does not decode",
			  o->iface, capture_dlt(st.cap));
		status = 2;
		goto out;
	}
	st.out = outputs_open(o->out_dir);
	if (!st.out || (o->user && give_folder_to(o->out_dir, o->user) != 0)) {
		status = 2;
		goto out;
	}
	if (o->user && privs_drop_to_user(o->user) != 0) {
		status = 1;
		goto out;
	}

	const char **names = NULL;
	int rc = setup_collectors(&st, &names);
	if (rc < 0) {
		status = 1;
		goto out;
	}
	ts_ns start = timestamp_now();
	st.samples = samples_new(o->out_dir, start, names, st.ncols);
	free(names);
	if (!st.samples) {
		status = 1;
		goto out;
	}
	outputs_set_observer(st.out, observe_http, observe_mongo, st.samples);
	st.owners = flow_owner_new();
	if (!st.owners) {
		status = 1;
		goto out;
	}
	outputs_set_pid_resolver(st.out, flow_owner_pid, st.owners);
	if (st.cstate[0]) {
		pid_t web[256];
		size_t n = host_collector_web_pids(st.cstate[0], web, 256);
		flow_owner_set_candidates(st.owners, web, n);
	}

	struct flow_table_config fc = {
		.ports = &o->ports,
		.parser = { [PROTO_HTTP] = &http_stream_ops, [PROTO_MONGO] = &mongo_stream_ops },
		.sink = outputs_sink(st.out),
		.q = &st.q,
		.on_first_data = flow_owner_on_first_data,
		.on_first_data_ctx = st.owners,
	};
	st.flows = flow_table_new(&fc);
	if (!st.flows) {
		log_error("run: out of memory creating the flow table");
		status = 1;
		goto out;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	log_info("run: capturing on '%s' (%s), interval %.3g s, output '%s'", o->iface, filter,
		 o->interval_s, o->out_dir);
	/*
	 * The loop wakes for every SYN-ACK to start an owner lookup that races a
	 * connection living a millisecond; on a busy host it must get the CPU
	 * first. Best effort (needs CAP_SYS_NICE); the probe's own CPU is small
	 * and reported in samples.csv (self_cpu_pct).
	 */
	if (setpriority(PRIO_PROCESS, 0, -5) != 0)
		log_debug("run: could not raise the probe's priority: %s", strerror(errno));
	sd_notify(0, "READY=1\nSTATUS=capturing");

	ts_ns interval = (ts_ns)llround(o->interval_s * 1e9);
	ts_ns next_tick = start + interval;
	ts_ns deadline = o->duration_s > 0 ? start + (ts_ns)llround(o->duration_s * 1e9) : INT64_MAX;
	collector_cell *cells = calloc(st.ncols ? st.ncols : 1, sizeof(*cells));
	struct pollfd pfd[2] = {
		{ .fd = capture_fd(st.cap), .events = POLLIN },
		{ .fd = st.synack ? capture_fd(st.synack) : -1, .events = POLLIN },
	};
	if (!cells) {
		status = 1;
		goto out;
	}

	while (!stop_requested) {
		ts_ns now = timestamp_now();
		if (now >= next_tick || now >= deadline) {
			ts_ns tick = now < deadline ? next_tick : now;
			struct capture_stats cs = { 0 };
			capture_stats(st.cap, &cs);
			st.q.kernel_drops = cs.dropped_kernel;
			st.q.iface_drops = cs.dropped_iface;
			sample_collectors(&st, tick, cells);
			if (st.cstate[0]) {
				/* Look for connection owners among the web workers first. */
				pid_t web[256];
				size_t n = host_collector_web_pids(st.cstate[0], web, 256);
				flow_owner_set_candidates(st.owners, web, n);
			}
			samples_close_interval(st.samples, tick, cells, st.q.packets, cs.dropped_kernel,
					       cs.dropped_iface);
			flow_table_expire(st.flows, tick);
			outputs_advance(st.out, tick);
			/* a row is complete once the join has judged everything up to its end */
			int werr = samples_write_until(st.samples, tick - 5 * TS_NS_PER_SEC);
			if (!werr)
				werr = outputs_flush(st.out);
			if (werr) {
				log_error("run: stopping: an output file cannot be written");
				status = 1;
				break;
			}
			while (next_tick <= now)
				next_tick += interval;
			if (now >= deadline)
				break;
		}
		if (reopen_requested) {
			reopen_requested = 0;
			if (outputs_reopen(st.out) != 0 || samples_reopen(st.samples) != 0)
				log_error("run: cannot reopen the output files in '%s'", o->out_dir);
			else
				log_notice("run: output files reopened (SIGHUP)");
		}
		if (interim_requested) {
			interim_requested = 0;
			log_notice("run: interim: %" PRIu64 " packets, %" PRIu64 " HTTP and %" PRIu64
				   " MongoDB transactions so far, %" PRIu64 " kernel drops",
				   st.q.packets, outputs_aggregate(st.out)->http_count,
				   outputs_aggregate(st.out)->mongo_count, st.q.kernel_drops);
		}
		ts_ns wake = next_tick < deadline ? next_tick : deadline;
		int timeout = (int)((wake - timestamp_now()) / TS_NS_PER_MS);
		if (timeout < 0)
			timeout = 0;
		if (timeout > 200)
			timeout = 200;
		int pr = pfd[0].fd >= 0 ? poll(pfd, 2, timeout) : (usleep((useconds_t)timeout * 1000), 1);
		if (pr < 0 && errno != EINTR) {
			log_error("run: poll: %s", strerror(errno));
			status = 1;
			break;
		}
		/* SYN-ACKs first: their lookups race the connection's short life. */
		if (pr > 0 && pfd[1].fd >= 0 && (pfd[1].revents & POLLIN))
			capture_next_batch(st.synack, 256, on_synack, &st);
		flow_owner_collect(st.owners);
		if ((pr > 0 && (pfd[0].revents & (POLLIN | POLLERR))) || pfd[0].fd < 0) {
			int n = capture_next_batch(st.cap, 10000, on_packet, &st);
			if (n < 0) {
				log_error("run: capture on '%s' failed: %s", o->iface, capture_error(st.cap));
				status = 1;
				break;
			}
		}
	}
	free(cells);
	sd_notify(0, "STOPPING=1\nSTATUS=writing the summary");

	/* Drain: every flow closes, every held transaction is judged, every row written. */
	ts_ns end = timestamp_now();
	flow_table_close_all(st.flows, end);
	flow_owner_collect(st.owners);	/* the last answers, before the last rows are judged */
	outputs_drain(st.out);
	flow_owner_counts(st.owners, &st.q.pid_lookups, &st.q.pid_unresolved);
	if (samples_finish(st.samples) != 0)
		status = 1;
	const char *inputs[] = { o->iface };
	struct run_info info = {
		.mode = "run",
		.inputs = inputs,
		.ninputs = 1,
		.started = start,
		.ended = end,
		.cores = (int)sysconf(_SC_NPROCESSORS_ONLN),
	};
	info.intervals = samples_stats(st.samples, &info.nintervals);
	sd_notify(0, "STATUS=done");
	if (outputs_finish(st.out, &st.q, &info, !o->quiet) != 0)
		status = 1;
out:
	teardown_collectors(&st);
	flow_table_free(st.flows);
	flow_owner_free(st.owners);
	samples_free(st.samples);
	outputs_free(st.out);
	capture_free(st.synack);
	capture_free(st.cap);
	return status;
}
