/*
 * analyze.c - `tierprobe analyze FILE...`: every file is opened and checked
 * before anything is written (a bad file is exit 2 with nothing half-made),
 * then all are read as one capture through decode -> flows -> parsers ->
 * outputs. A file truncated mid-record is analysed up to its last whole
 * packet, and the summary says where it ended.
 */
#include "analyze.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "capture_reader.h"
#include "decode.h"
#include "flow.h"
#include "log.h"
#include "outputs.h"
#include "quality.h"
#include "txn_queue.h"

struct analyze_state {
	struct quality q;
	struct flow_table *flows;
	struct txn_queue *queue;	/* transactions to the output thread */
	ts_ns last_ts;		/* newest capture time seen */
	ts_ns next_expiry;	/* capture time of the next idle sweep */
};

static void on_packet(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		      ts_ns ts)
{
	struct analyze_state *st = ctx;
	struct tcp_segment seg;

	/* decode_frame() counts packets and bytes itself. */
	if (ts > st->last_ts)
		st->last_ts = ts;
	if (decode_frame(dlt, frame, caplen, wirelen, ts, &seg, &st->q) == 0)
		flow_table_segment(st->flows, &seg);
	/* Idle expiry runs on capture time so a replayed file behaves like the live run. */
	if (st->last_ts >= st->next_expiry) {
		flow_table_expire(st->flows, st->last_ts);
		txn_queue_advance(st->queue, st->last_ts);
		st->next_expiry = st->last_ts + TS_NS_PER_SEC;
	}
}

/* SIGINT or SIGTERM: stop reading, write what was read, say so (see analyze_main). */
static volatile sig_atomic_t analyze_stop_signal;

static void on_stop_signal(int sig)
{
	analyze_stop_signal = sig;
}

/*
 * Ctrl-C on a long analysis keeps its work: the handler only sets a flag the
 * reader thread and this thread look at. The signals are left unblocked in
 * the reader thread alone, so a read blocked on a pipe is the one they cut
 * short (no SA_RESTART); every thread started after it has them blocked.
 */
static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void block_stop_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void advance_outputs(void *ctx, ts_ns now)
{
	outputs_advance(ctx, now);
}

static long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

int analyze_main(const struct options *o)
{
	int nfiles = o->nargs;
	struct capture **caps = calloc((size_t)nfiles, sizeof(*caps));
	char err[512];
	int status = 0;

	if (!caps)
		return log_error("out of memory"), 1;
	/* Open everything first: a bad input must not leave a half-written folder. */
	for (int i = 0; i < nfiles; i++) {
		caps[i] = capture_open_file(o->args[i], err, sizeof(err));
		if (!caps[i]) {
			log_error("%s", err);	/* names the file and the reason */
			status = 2;
			break;
		}
		int dlt = capture_dlt(caps[i]);
		if (!decode_linktype_supported(dlt)) {
			log_error("cannot analyze '%s': unsupported link type %d (supported: Ethernet, "
				  "Linux cooked v1/v2, BSD loopback, raw IP)", o->args[i], dlt);
			status = 2;
			break;
		}
	}
	/*
	 * The reader thread starts before the output folder is prepared (removing
	 * a previous run's files takes a while): reading the files changes nothing
	 * on disk, and if the folder cannot be made the reader is simply stopped.
	 */
	if (!status)
		catch_stop_signals();
	struct capture_reader *reader =
		status ? NULL : capture_reader_start(caps, nfiles, &analyze_stop_signal);
	block_stop_signals();	/* from here on only the reader thread takes them */
	if (!status && !reader) {
		log_error("out of memory starting the capture reader");
		status = 1;
	}
	struct outputs *out = status ? NULL : outputs_open(o->out_dir);
	if (!status && !out)
		status = 2;
	if (status) {
		capture_reader_free(reader);
		for (int i = 0; i < nfiles; i++)
			capture_free(caps[i]);
		free(caps);
		return status;
	}

	struct analyze_state st;
	memset(&st, 0, sizeof(st));
	st.last_ts = TS_NONE;
	/*
	 * Three stages on two cores: a reader thread reads the files ahead
	 * (capture_reader.h), this thread decodes and parses, and an output
	 * thread attributes, aggregates and writes the rows.
	 */
	struct txn_queue_consumer consumer = {
		.sink = outputs_sink(out),
		.advance = advance_outputs,
		.ctx = out,
	};
	st.queue = txn_queue_new(&consumer);
	struct flow_table_config fc = {
		.ports = &o->ports,
		.parser = { [PROTO_HTTP] = &http_stream_ops, [PROTO_MONGO] = &mongo_stream_ops },
		.sink = st.queue ? txn_queue_sink(st.queue) : NULL,
		.q = &st.q,
	};
	st.flows = st.queue ? flow_table_new(&fc) : NULL;
	if (!st.flows) {
		log_error("out of memory creating the flow table");
		status = 1;
		goto done;
	}

	char input_error[768] = "";
	int show_progress = !o->quiet && isatty(STDERR_FILENO);
	struct capture_reader_pos pos;
	ts_ns last_report = timestamp_now();
	while (capture_reader_next(reader, on_packet, &st, &pos) >= 0) {
		if (show_progress && timestamp_now() - last_report > 2 * TS_NS_PER_SEC) {
			long size = file_size(o->args[pos.file]);
			fprintf(stderr, "\rtierprobe: %s: %ld%% (%llu packets)", o->args[pos.file],
				size > 0 && pos.offset >= 0 ? pos.offset * 100 / size : 0,
				(unsigned long long)st.q.packets);
			last_report = timestamp_now();
		}
		if (pos.file_done && pos.error) {
			/* A cut-off file is still worth its whole packets: say so, keep going. */
			snprintf(input_error, sizeof(input_error), "%s", pos.error);
			log_warning("%s; analysed the packets before it", input_error);
		}
	}
	capture_reader_free(reader);
	reader = NULL;
	if (show_progress)
		fprintf(stderr, "\r\033[K");
	if (analyze_stop_signal) {
		snprintf(input_error, sizeof(input_error),
			 "interrupted by %s after %llu packets; the results cover those",
			 analyze_stop_signal == SIGINT ? "SIGINT" : "SIGTERM",
			 (unsigned long long)st.q.packets);
		log_warning("%s", input_error);
		status = 128 + analyze_stop_signal;
	}
	flow_table_close_all(st.flows, st.last_ts == TS_NONE ? 0 : st.last_ts);
	txn_queue_finish(st.queue);	/* every transaction handed over and written */

	struct run_info info = {
		.mode = "analyze",
		.inputs = (const char *const *)o->args,
		.ninputs = nfiles,
		.input_error = input_error[0] ? input_error : NULL,
	};
	if (outputs_finish(out, &st.q, &info, !o->quiet) != 0 && !status)
		status = 1;
done:
	capture_reader_free(reader);	/* before the captures it reads */
	flow_table_free(st.flows);
	txn_queue_free(st.queue);
	outputs_free(out);
	for (int i = 0; i < nfiles; i++)
		capture_free(caps[i]);
	free(caps);
	return status;
}
