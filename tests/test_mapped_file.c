/* test_mapped_file.c - the mapped stdio stream libpcap reads files through, and the pipe fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "capture_testutil.h"
#include "decode.h"
#include "mapped_file.h"
#include "pcapgen.h"

static char path[64];

static int setup(void **state)
{
	(void)state;
	return capture_test_tmpfile(path, sizeof(path), "mapped");
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

/* Byte i of the test file is (i * 7 + i / 65536) mod 256: no window repeats another. */
static uint8_t byte_at(size_t i)
{
	return (uint8_t)(i * 7 + i / 65536);
}

static void write_pattern(size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc(byte_at(i), f);
	assert_int_equal(fclose(f), 0);
}

/* Reads across window boundaries in odd-sized pieces; every byte is where it should be. */
static void test_reads_across_windows(void **state)
{
	(void)state;
	size_t n = 2 * MAPPED_FILE_WINDOW + 12345;
	write_pattern(n);
	FILE *f = mapped_file_open(path);
	assert_non_null(f);
	static uint8_t buf[100003];
	size_t off = 0, got, bad = 0;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t i = 0; i < got; i++)
			bad += buf[i] != byte_at(off + i);
		off += got;
	}
	assert_int_equal(off, n);
	assert_int_equal(bad, 0);
	assert_true(feof(f));

	/* ftell and fseek, which libpcap uses to say where a file went wrong */
	assert_int_equal(fseek(f, (long)MAPPED_FILE_WINDOW - 2, SEEK_SET), 0);
	assert_int_equal(ftell(f), (long)MAPPED_FILE_WINDOW - 2);
	assert_int_equal(fread(buf, 1, 4, f), 4);	/* straddles the first boundary */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(buf[i], byte_at(MAPPED_FILE_WINDOW - 2 + i));
	assert_int_equal(ftell(f), (long)MAPPED_FILE_WINDOW + 2);
	assert_int_equal(fseek(f, -10, SEEK_END), 0);
	assert_int_equal(fread(buf, 1, 100, f), 10);
	assert_int_equal(buf[9], byte_at(n - 1));
	assert_int_equal(fclose(f), 0);
}

/* A file cut shorter while it is read ends there (no SIGBUS from a page past its end). */
static void test_file_shrinks(void **state)
{
	(void)state;
	size_t n = 3 * MAPPED_FILE_WINDOW;
	write_pattern(n);
	FILE *f = mapped_file_open(path);
	assert_non_null(f);
	static uint8_t buf[4096];
	assert_int_equal(fread(buf, 1, sizeof(buf), f), sizeof(buf));
	assert_int_equal(truncate(path, MAPPED_FILE_WINDOW + 100), 0);
	size_t total = sizeof(buf), got;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		total += got;
	/* the first window was mapped before the cut: what it held may still be read */
	assert_true(total <= MAPPED_FILE_WINDOW + 100);
	assert_true(total >= MAPPED_FILE_WINDOW);
	assert_int_equal(fclose(f), 0);
}

/* Cut short inside the window being read: the stream ends (no SIGBUS kills the process), twice. */
static void test_file_cut_inside_the_window(void **state)
{
	(void)state;
	write_pattern(MAPPED_FILE_WINDOW);
	FILE *f = mapped_file_open(path);
	assert_non_null(f);
	static uint8_t buf[4096];
	assert_int_equal(fread(buf, 1, sizeof(buf), f), sizeof(buf));	/* the window is mapped */
	assert_int_equal(truncate(path, 65536), 0);
	size_t total = sizeof(buf), got;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		total += got;
	assert_int_equal(total, 65536);
	assert_int_equal(fclose(f), 0);

	write_pattern(MAPPED_FILE_WINDOW);	/* the handler still works after a first fault */
	f = mapped_file_open(path);
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf), f), sizeof(buf));
	assert_int_equal(truncate(path, 8192), 0);
	total = sizeof(buf);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		total += got;
	assert_int_equal(total, 8192);
	assert_int_equal(fclose(f), 0);
}

static void test_not_regular(void **state)
{
	(void)state;
	errno = 0;
	assert_null(mapped_file_open("/dev/null"));
	assert_int_equal(errno, ENOTSUP);
	assert_null(mapped_file_open("/nonexistent/tierprobe"));
	assert_int_equal(errno, ENOENT);
}

/* A capture in a FIFO is read the ordinary way, from its first byte. */
static void test_capture_from_a_pipe(void **state)
{
	(void)state;
	struct pcapgen *g = pcapgen_open(path, DLT_EN10MB);
	assert_non_null(g);
	for (int i = 0; i < 50; i++)
		assert_int_equal(pcapgen_tcp(g, 1000 + i, "10.0.0.1", 40000, "10.0.0.2", 80, TCP_ACK,
					     1 + 4 * (uint32_t)i, 1, "abcd", 4), 0);
	assert_int_equal(pcapgen_close(g), 0);

	char fifo[80];
	snprintf(fifo, sizeof(fifo), "%s.fifo", path);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		FILE *in = fopen(path, "rb"), *out = fopen(fifo, "wb");
		int ch;
		while (in && out && (ch = fgetc(in)) != EOF)
			fputc(ch, out);
		_exit(out && fclose(out) == 0 ? 0 : 1);
	}
	struct capture *c = capture_test_open(fifo);
	int n = 0;
	while (capture_next_batch(c, 0, capture_test_count, &n) > 0)
		;
	assert_string_equal(capture_error(c), "");
	capture_free(c);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	unlink(fifo);
	assert_int_equal(n, 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_across_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_shrinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_cut_inside_the_window, setup, teardown),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test_setup_teardown(test_capture_from_a_pipe, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
