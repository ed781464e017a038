/* test_capture.c - reading pcap/pcapng through libpcap: timestamps, truncation, bad files, real captures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "capture_testutil.h"
#include "decode.h"
#include "pcapgen.h"

#define T0 (1764108975LL * TS_NS_PER_SEC + 123456789)	/* 2025-11-25T22:16:15.123456789Z */

struct got {
	int n;
	int dlt;
	ts_ns ts[16];
	size_t caplen[16];
	size_t wirelen[16];
	uint8_t first[16];	/* first byte of the IP header, to see frames are whole */
};

static void on_pkt(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		   ts_ns ts)
{
	struct got *g = ctx;
	if (g->n < 16) {
		g->ts[g->n] = ts;
		g->caplen[g->n] = caplen;
		g->wirelen[g->n] = wirelen;
		g->first[g->n] = caplen > 14 ? frame[14] : 0;
	}
	g->dlt = dlt;
	g->n++;
}

static char path[64];

static int setup(void **state)
{
	(void)state;
	return capture_test_tmpfile(path, sizeof(path), "capture");
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

/* Five segments of 10 bytes payload: frames of 14 + 20 + 20 + 10 = 64 bytes. */
static void write_five(void)
{
	struct pcapgen *g = pcapgen_open(path, DLT_EN10MB);
	assert_non_null(g);
	for (int i = 0; i < 5; i++)
		assert_int_equal(pcapgen_tcp(g, T0 + i * 1001, "10.0.0.1", 40000, "10.0.0.2", 80,
					     TCP_ACK, 1 + 10 * (uint32_t)i, 1, "0123456789", 10), 0);
	assert_int_equal(pcapgen_close(g), 0);
}

static void test_read_pcap_ns(void **state)
{
	(void)state;
	char err[512];
	struct got got = { 0 };
	write_five();
	struct capture *c = capture_open_file(path, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_dlt(c), DLT_EN10MB);
	assert_int_equal(capture_next_batch(c, 2, on_pkt, &got), 2);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), 3);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), 0);
	assert_int_equal(got.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(got.ts[i], T0 + i * 1001);	/* nanoseconds survive */
		assert_int_equal(got.caplen[i], 64);
		assert_int_equal(got.wirelen[i], 64);
		assert_int_equal(got.first[i], 0x45);
	}
	assert_int_equal(capture_file_offset(c), 24 + 5 * (16 + 64));
	assert_int_equal(capture_fd(c), -1);
	assert_string_equal(capture_error(c), "");
	struct capture_stats st;
	assert_int_equal(capture_stats(c, &st), -1);	/* files have no drop counters */
	capture_free(c);
	capture_free(NULL);
}

static void test_truncated_record(void **state)
{
	(void)state;
	char err[512];
	struct got got = { 0 };
	write_five();
	/* cut inside the third record's data */
	assert_int_equal(truncate(path, 24 + 2 * 80 + 16 + 30), 0);
	struct capture *c = capture_open_file(path, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), 2);
	assert_int_equal(got.n, 2);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), -1);
	assert_int_equal(got.n, 2);
	const char *e = capture_error(c);
	assert_non_null(strstr(e, "truncated dump file"));
	assert_non_null(strstr(e, path));
	assert_non_null(strstr(e, "offset 184"));
	assert_int_equal(capture_file_offset(c), 24 + 2 * 80);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), -1);	/* stays failed */
	capture_free(c);

	/* cut inside a record header, nothing before it */
	write_five();
	assert_int_equal(truncate(path, 24 + 7), 0);
	memset(&got, 0, sizeof(got));
	c = capture_open_file(path, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), -1);
	assert_int_equal(got.n, 0);
	assert_non_null(strstr(capture_error(c), "truncated dump file"));
	capture_free(c);

	/* cut inside the file header */
	write_five();
	assert_int_equal(truncate(path, 10), 0);
	assert_null(capture_open_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "truncated dump file"));
	assert_non_null(strstr(err, path));
}

static void test_bad_files(void **state)
{
	(void)state;
	char err[512];
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("GET / HTTP/1.1\r\nHost: example\r\n\r\nthis is not a capture file\n", f);
	fclose(f);
	assert_null(capture_open_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown file format"));
	assert_non_null(strstr(err, "cannot open capture '/tmp/tierprobe-test-capture-"));

	assert_null(capture_open_file("/nonexistent/x.pcap", err, sizeof(err)));
	assert_string_equal(err, "cannot open capture '/nonexistent/x.pcap': "
				 "No such file or directory");

	f = fopen(path, "w");	/* empty file */
	fclose(f);
	assert_null(capture_open_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
}

static void le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v) { le16(p, (uint16_t)v); le16(p + 2, (uint16_t)(v >> 16)); }

/*
 * A minimal pcapng (draft-ietf-opsawg-pcapng): a Section Header Block, an
 * Interface Description Block with if_tsresol = 9 (nanoseconds), and one
 * Enhanced Packet Block per frame.
 */
static void test_read_pcapng(void **state)
{
	(void)state;
	uint8_t buf[1024], frame[256];
	size_t n = 0;
	struct pcapgen gen = { .dlt = DLT_EN10MB };
	size_t flen = pcapgen_frame(&gen, "10.0.0.1", 40000, "10.0.0.2", 80, TCP_ACK, 1, 1,
				    "hello", 5, frame, sizeof(frame));
	assert_int_equal(flen, 59);

	/* SHB: type, length 28, byte-order magic, version 1.0, section length -1, length */
	le32(buf + n, 0x0a0d0d0a); le32(buf + n + 4, 28); le32(buf + n + 8, 0x1a2b3c4d);
	le16(buf + n + 12, 1); le16(buf + n + 14, 0);
	le32(buf + n + 16, 0xffffffff); le32(buf + n + 20, 0xffffffff); le32(buf + n + 24, 28);
	n += 28;
	/* IDB: type 1, length 32, linktype 1, snaplen, option 9 (len 1) = 9, end of options */
	le32(buf + n, 1); le32(buf + n + 4, 32); le16(buf + n + 8, 1); le16(buf + n + 10, 0);
	le32(buf + n + 12, 262144);
	le16(buf + n + 16, 9); le16(buf + n + 18, 1); le32(buf + n + 20, 9);
	le32(buf + n + 24, 0); le32(buf + n + 28, 32);
	n += 32;
	for (int i = 0; i < 2; i++) {
		/* EPB: type 6, length, interface 0, ts high, ts low, caplen, len, data, length */
		uint64_t ts = (uint64_t)(T0 + i);
		uint32_t blen = 32 + ((uint32_t)flen + 3) / 4 * 4;
		memset(buf + n, 0, blen);
		le32(buf + n, 6); le32(buf + n + 4, blen); le32(buf + n + 8, 0);
		le32(buf + n + 12, (uint32_t)(ts >> 32)); le32(buf + n + 16, (uint32_t)ts);
		le32(buf + n + 20, (uint32_t)flen); le32(buf + n + 24, (uint32_t)flen);
		memcpy(buf + n + 28, frame, flen);
		le32(buf + n + blen - 4, blen);
		n += blen;
	}
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);

	char err[512];
	struct got got = { 0 };
	struct capture *c = capture_open_file(path, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_dlt(c), DLT_EN10MB);
	assert_int_equal(capture_next_batch(c, 1, on_pkt, &got), 1);
	/* pcapng blocks vary in size: the offset (for progress) is where the stream is */
	assert_int_equal(capture_file_offset(c), 28 + 32 + 32 + (flen + 3) / 4 * 4);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), 1);
	assert_int_equal(capture_file_offset(c), (long)n);
	assert_int_equal(got.ts[0], T0);
	assert_int_equal(got.ts[1], T0 + 1);
	assert_int_equal(got.caplen[0], flen);
	assert_int_equal(got.first[1], 0x45);
	capture_free(c);

	/* cut inside the second packet block: the first, then an error */
	assert_int_equal(truncate(path, (off_t)n - 10), 0);
	memset(&got, 0, sizeof(got));
	c = capture_open_file(path, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), 1);
	assert_int_equal(capture_next_batch(c, 0, on_pkt, &got), -1);
	print_message("pcapng cut: %s\n", capture_error(c));
	assert_non_null(strstr(capture_error(c), "truncated"));
	assert_non_null(strstr(capture_error(c), path));
	capture_free(c);
}

/* ---- real captures: decode counts checked against tshark 4.x ---- */

struct count {
	int dlt;
	uint64_t frames, tcp, with_payload, payload_bytes;
	struct quality q;
};

static void on_count(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		     ts_ns ts)
{
	struct count *k = ctx;
	struct tcp_segment seg;
	k->frames++;
	k->dlt = dlt;
	if (decode_frame(dlt, frame, caplen, wirelen, ts, &seg, &k->q) == 0) {
		k->tcp++;
		if (seg.payload_wire_len) {
			k->with_payload++;
			k->payload_bytes += seg.payload_wire_len;
		}
	}
}

static const struct {
	const char *file;
	uint64_t frames, tcp, with_payload, payload_bytes;
} real[] = {
	/* tshark -r F | wc -l; -Y tcp; -Y 'tcp.len>0'; sum of tcp.len */
	{ "gap_in_stream.pcap", 26, 26, 10, 28159 },
	{ "hide_secret_GET.pcap", 8, 8, 8, 9215 },
	{ "http_100_continue.pcap", 66, 66, 5, 475 },
	{ "http_10_connection_close.pcap", 61, 61, 38, 18804 },
	{ "http_basicauth.pcap", 23, 21, 9, 3180 },
	{ "http_get_2k_file.pcap", 33, 33, 11, 2357 },
	{ "http_minitwit.pcap", 104, 104, 34, 8564 },
	{ "http_over_vlan.pcap", 2, 2, 2, 1774 },
	{ "http_post_json.pcap", 2, 2, 2, 11043 },
	{ "http_realip.pcap", 14, 14, 4, 30886 },
	{ "mongo_3.0_session.pcap", 71, 71, 48, 6244 },
	{ "mongodb_insert_duplicate_key.pcap", 9, 9, 6, 987 },
	{ "mongodb_more_rows.pcap", 3, 3, 3, 46221 },
	{ "mongodb_op_msg_opcode.pcap", 202, 202, 202, 77281 },
	{ "wsgi_drum.pcap", 1105, 1105, 559, 746390 },
	{ "wsgi_loopback.pcap", 48, 48, 15, 80844 },
};

static void test_real_captures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		char p[256], err[512];
		struct count k = { 0 };
		snprintf(p, sizeof(p), "../shared/peer/packetbeat/%s", real[i].file);
		struct capture *c = capture_open_file(p, err, sizeof(err));
		if (!c)
			fail_msg("%s", err);
		int rc;
		while ((rc = capture_next_batch(c, 64, on_count, &k)) > 0)
			;
		assert_int_equal(rc, 0);
		print_message("%-36s dlt %3d frames %4llu tcp %4llu payload %4llu / %llu B\n",
			      real[i].file, k.dlt, (unsigned long long)k.frames,
			      (unsigned long long)k.tcp, (unsigned long long)k.with_payload,
			      (unsigned long long)k.payload_bytes);
		assert_int_equal(k.frames, real[i].frames);
		assert_int_equal(k.tcp, real[i].tcp);
		assert_int_equal(k.with_payload, real[i].with_payload);
		assert_int_equal(k.payload_bytes, real[i].payload_bytes);
		assert_int_equal(k.q.packets, real[i].frames);
		assert_int_equal(k.q.packets_truncated + k.q.packets_bad_header + k.q.ip_fragments, 0);
		capture_free(c);
	}
}

static void test_op_msg_port_9991(void **state)
{
	(void)state;
	/* 202 segments with payload, all on port 9991, over BSD loopback */
	char err[512];
	struct capture *c = capture_open_file("../shared/peer/packetbeat/mongodb_op_msg_opcode.pcap",
					      err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(capture_dlt(c), DLT_NULL);
	struct count k = { 0 };
	assert_int_equal(capture_next_batch(c, 0, on_count, &k), 202);
	assert_int_equal(k.with_payload, 202);
	capture_free(c);
}

/* As root, drop to nobody in a child to see the unprivileged message. */
static void live_unprivileged(void)
{
	if (geteuid() != 0)
		return;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[512];
		struct capture_live_config cfg = { .iface = "lo", .buffer_bytes = 1 << 20 };
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		struct capture *c = capture_open_live(&cfg, err, sizeof(err));
		if (c)
			_exit(4);
		_exit(strcmp(err, "cannot activate capture on 'lo': permission denied "
				  "(needs CAP_NET_RAW)") == 0 ? 0 : 5);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_live_errors(void **state)
{
	live_unprivileged();
	(void)state;
	char err[512];
	struct capture_live_config cfg = { .iface = "tp-no-such0", .timeout_ms = 10,
					   .buffer_bytes = 1 << 20 };
	assert_null(capture_open_live(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "'tp-no-such0'"));

	cfg.iface = "lo";
	cfg.bpf = "tcp port 1 and";	/* does not compile */
	struct capture *c = capture_open_live(&cfg, err, sizeof(err));
	if (!c && strstr(err, "permission denied")) {
		/* an unprivileged run: the message must name the capability */
		assert_non_null(strstr(err, "CAP_NET_RAW"));
		return;
	}
	assert_null(c);
	assert_non_null(strstr(err, "cannot compile capture filter 'tcp port 1 and'"));

	cfg.bpf = "tcp port 1";
	c = capture_open_live(&cfg, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	struct got got = { 0 };
	assert_true(capture_fd(c) >= 0);
	assert_int_equal(capture_file_offset(c), -1);
	assert_true(capture_next_batch(c, 0, on_pkt, &got) >= 0);
	struct capture_stats st;
	assert_int_equal(capture_stats(c, &st), 0);
	capture_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_pcap_ns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_pcapng, setup, teardown),
		cmocka_unit_test(test_real_captures),
		cmocka_unit_test(test_op_msg_port_9991),
		cmocka_unit_test(test_live_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
