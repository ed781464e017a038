/* test_capture_reader.c - files read ahead on a thread: same packets, same order, errors kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture_reader.h"
#include "capture_testutil.h"
#include "decode.h"
#include "pcapgen.h"

#define T0 (1764108975LL * TS_NS_PER_SEC + 123456789)
/* Big enough that the reader fills every block and must wait for the caller. */
#define BIG_PACKETS 6000
#define BIG_PAYLOAD 1400

static char paths[3][64];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		if (capture_test_tmpfile(paths[i], sizeof(paths[i]), "reader") != 0)
			return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		unlink(paths[i]);
	return 0;
}

/* n packets whose payload is `len` bytes, every byte = the packet's index mod 251. */
static void write_file(const char *path, int n, size_t len, ts_ns t0)
{
	static uint8_t payload[BIG_PAYLOAD];
	struct pcapgen *g = pcapgen_open(path, DLT_EN10MB);
	assert_non_null(g);
	for (int i = 0; i < n; i++) {
		memset(payload, i % 251, len);
		assert_int_equal(pcapgen_tcp(g, t0 + i, "10.0.0.1", 40000, "10.0.0.2", 80, TCP_ACK,
					     1 + (uint32_t)(i * len), 1, payload, len), 0);
	}
	assert_int_equal(pcapgen_close(g), 0);
}

struct seen {
	int n;			/* packets, all files */
	int bad;		/* packets not as written */
	ts_ns next_ts;
	int next_index;
	size_t len;
};

/* Frames are 14 + 20 + 20 + len; the payload says which packet of its file it is. */
static void on_pkt(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		   ts_ns ts)
{
	struct seen *s = ctx;
	size_t want = 54 + s->len;
	if (dlt != DLT_EN10MB || caplen != want || wirelen != want || ts != s->next_ts ||
	    frame[54] != s->next_index % 251 || frame[want - 1] != s->next_index % 251)
		s->bad++;
	s->n++;
	s->next_ts++;
	s->next_index++;
}

static void test_files_in_order_with_errors(void **state)
{
	(void)state;
	write_file(paths[0], BIG_PACKETS, BIG_PAYLOAD, T0);
	write_file(paths[1], 5, 10, T0 + 1000000);
	/* third file cut inside its third record: 24 + 2 * (16 + 64) + 20 */
	write_file(paths[2], 5, 10, T0 + 2000000);
	assert_int_equal(truncate(paths[2], 24 + 2 * 80 + 20), 0);

	struct capture *caps[3] = { capture_test_open(paths[0]), capture_test_open(paths[1]), capture_test_open(paths[2]) };
	struct capture_reader *r = capture_reader_start(caps, 3, NULL);
	assert_non_null(r);

	struct seen s = { .next_ts = T0, .len = BIG_PAYLOAD };
	struct capture_reader_pos pos;
	int file_ends[3] = { 0 }, blocks = 0, last_file = 0, n;
	while ((n = capture_reader_next(r, on_pkt, &s, &pos)) >= 0) {
		blocks++;
		assert_true(pos.file >= last_file);	/* never back to an earlier file */
		assert_true(pos.file < 3);
		last_file = pos.file;
		if (pos.file_done) {
			file_ends[pos.file]++;
			if (pos.file < 2) {	/* the next file's packets follow */
				assert_null(pos.error);
				s.next_ts = T0 + 1000000 * (pos.file + 1);
				s.next_index = 0;
				s.len = 10;
			}
		}
	}
	assert_int_equal(s.bad, 0);
	assert_int_equal(s.n, BIG_PACKETS + 5 + 2);
	assert_true(blocks > CAPTURE_READER_BLOCKS);	/* blocks were reused */
	for (int i = 0; i < 3; i++)
		assert_int_equal(file_ends[i], 1);
	/* the last call said where and why the third file ended */
	assert_int_equal(pos.file, 2);
	assert_non_null(pos.error);
	assert_non_null(strstr(pos.error, paths[2]));
	assert_non_null(strstr(pos.error, "truncated dump file"));
	assert_int_equal(pos.offset, 24 + 2 * 80);
	assert_int_equal(capture_reader_next(r, on_pkt, &s, &pos), -1);	/* stays at the end */
	capture_reader_free(r);
	for (int i = 0; i < 3; i++)
		capture_free(caps[i]);
}

/* The caller gives up after one block: freeing must stop a reader that waits for room. */
static void test_free_midway(void **state)
{
	(void)state;
	write_file(paths[0], BIG_PACKETS, BIG_PAYLOAD, T0);
	struct capture *c = capture_test_open(paths[0]);
	struct capture_reader *r = capture_reader_start(&c, 1, NULL);
	assert_non_null(r);
	struct capture_reader_pos pos;
	int n = 0;
	assert_true(capture_reader_next(r, capture_test_count, &n, &pos) > 0);
	assert_int_equal(pos.file_done, 0);
	usleep(20000);	/* let it fill every block */
	capture_reader_free(r);
	capture_reader_free(NULL);
	capture_free(c);
	assert_true(n > 0 && n < BIG_PACKETS);
}

/* An empty file list: the first call says there is nothing. */
static void test_no_files(void **state)
{
	(void)state;
	struct capture_reader *r = capture_reader_start(NULL, 0, NULL);
	struct capture_reader_pos pos;
	int n = 0;
	assert_non_null(r);
	assert_int_equal(capture_reader_next(r, capture_test_count, &n, &pos), -1);
	capture_reader_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_files_in_order_with_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_midway, setup, teardown),
		cmocka_unit_test(test_no_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
