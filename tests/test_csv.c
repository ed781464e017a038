/* test_csv.c - RFC 4180 quoting, round trip through the reader, sticky errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "csv.h"

static void escape_quotes_only_when_needed(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(csv_escape("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	csv_escape("a,b", out, sizeof(out));
	assert_string_equal(out, "\"a,b\"");
	csv_escape("say \"hi\"", out, sizeof(out));
	assert_string_equal(out, "\"say \"\"hi\"\"\"");
	csv_escape("two\nlines", out, sizeof(out));
	assert_string_equal(out, "\"two\nlines\"");
	assert_int_equal(csv_escape("toolong", out, 4), -1);
}

static void write_then_read_back(void **state)
{
	(void)state;
	char path[] = "/tmp/tp-csv-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	const char *cols[] = { "id", "route", "note" };
	struct csv_writer *w = csv_writer_new(path, cols, 3);
	assert_non_null(w);
	const char *r1[] = { "1", "/a,b", "say \"x\"" };
	const char *r2[] = { "2", NULL, "" };
	assert_int_equal(csv_writer_row(w, r1, 3), 0);
	assert_int_equal(csv_writer_row(w, r2, 3), 0);
	assert_int_equal(csv_writer_row(w, r2, 2), -EINVAL);	/* wrong width never writes */
	assert_int_equal(csv_writer_free(w), 0);

	FILE *f = fopen(path, "r");
	char text[256];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_string_equal(text, "id,route,note\n1,\"/a,b\",\"say \"\"x\"\"\"\n2,,\n");

	struct csv_reader *r = csv_reader_open(path);
	char **cells;
	assert_int_equal(csv_reader_next(r, &cells), 3);
	assert_string_equal(cells[1], "route");
	assert_int_equal(csv_reader_next(r, &cells), 3);
	assert_string_equal(cells[1], "/a,b");
	assert_string_equal(cells[2], "say \"x\"");
	assert_int_equal(csv_reader_next(r, &cells), 3);
	assert_string_equal(cells[1], "");
	assert_int_equal(csv_reader_next(r, &cells), 0);
	csv_reader_free(r);
	unlink(path);
}

static char *slurp(const char *path, size_t *len);

static void full_disk_error_is_sticky(void **state)
{
	(void)state;
	const char *cols[] = { "x" };
	/* /dev/full accepts the open and fails every write with ENOSPC */
	struct csv_writer *w = csv_writer_new("/dev/full", cols, 1);
	if (!w) {
		assert_int_equal(errno, ENOSPC);
		return;
	}
	const char *row[] = { "1" };
	int rc = 0;
	for (int i = 0; i < 10000 && rc == 0; i++) {
		rc = csv_writer_row(w, row, 1);
		if (rc == 0)
			rc = csv_writer_flush(w);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(csv_writer_row(w, row, 1), -ENOSPC);
	assert_int_equal(csv_writer_free(w), -ENOSPC);
	/* a device is written to, never removed and replaced by a regular file */
	struct stat st;
	assert_int_equal(stat("/dev/full", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
}

/* A previous run's file is replaced by a new one (not truncated in place): a hard link keeps the old rows. */
static void old_file_is_replaced(void **state)
{
	(void)state;
	char path[] = "/tmp/tierprobe-test-csv-old-XXXXXX";
	char keep[64];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);
	snprintf(keep, sizeof(keep), "%s.keep", path);
	assert_int_equal(link(path, keep), 0);
	const char *cols[] = { "x" };
	struct csv_writer *w = csv_writer_new(path, cols, 1);
	assert_non_null(w);
	assert_int_equal(csv_writer_free(w), 0);
	size_t n;
	assert_string_equal(slurp(path, &n), "x\n");
	assert_string_equal(slurp(keep, &n), "old\n");
	unlink(path);
	unlink(keep);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[8192];
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* A write that fails part way (here: the file size limit, like a full disk) must not leave
 * half a row behind: the file is cut back to the last successful flush. */
static void failed_write_leaves_whole_rows_only(void **state)
{
	(void)state;
	char path[] = "/tmp/tp-csv-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 1000;	/* 6 + 21 * k never lands on 1000: the limit cuts a row */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	const char *cols[] = { "a", "b", "c" };
	struct csv_writer *w = csv_writer_new(path, cols, 3);
	assert_non_null(w);
	int rc = 0, i;
	for (i = 0; i < 1000 && rc == 0; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%04d", i);
		const char *row[] = { id, "xxxxxxxxxx", "yyyy" };
		rc = csv_writer_row(w, row, 3);
		if (rc == 0 && i % 10 == 9)
			rc = csv_writer_flush(w);
	}
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(csv_writer_free(w), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);

	size_t len;
	char *text = slurp(path, &len);
	assert_true(len >= 6 + 10 * 21);
	assert_true(len < 1000);
	assert_int_equal((len - 6) % 21, 0);
	assert_int_equal(text[len - 1], '\n');
	assert_memory_equal(text, "a,b,c\n0000,xxxxxxxxxx,yyyy\n", 27);
	unlink(path);
}

/* SIGHUP after the file was renamed away: the new file starts with the header again. */
static void reopen_after_rename_writes_the_header(void **state)
{
	(void)state;
	char path[] = "/tmp/tp-csv-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char moved[64];
	snprintf(moved, sizeof(moved), "%s.1", path);
	const char *cols[] = { "id", "v" };
	const char *r1[] = { "1", "a" }, *r2[] = { "2", "b" };
	struct csv_writer *w = csv_writer_new(path, cols, 2);
	assert_non_null(w);
	assert_int_equal(csv_writer_row(w, r1, 2), 0);
	assert_int_equal(csv_writer_flush(w), 0);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(csv_writer_reopen(w), 0);
	assert_int_equal(csv_writer_row(w, r2, 2), 0);
	assert_int_equal(csv_writer_reopen(w), 0);	/* not renamed this time: no second header */
	assert_int_equal(csv_writer_free(w), 0);
	size_t len;
	assert_string_equal(slurp(moved, &len), "id,v\n1,a\n");
	assert_string_equal(slurp(path, &len), "id,v\n2,b\n");
	unlink(path);
	unlink(moved);
}

/* The file removed while the writer has it open: the next flush says so, not silence. */
static void removed_file_is_an_error(void **state)
{
	(void)state;
	char path[] = "/tmp/tp-csv-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	const char *cols[] = { "id" }, *row[] = { "1" };
	struct csv_writer *w = csv_writer_new(path, cols, 1);
	assert_non_null(w);
	assert_int_equal(csv_writer_row(w, row, 1), 0);
	assert_int_equal(csv_writer_flush(w), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(csv_writer_row(w, row, 1), 0);
	assert_int_equal(csv_writer_flush(w), -ENOENT);
	assert_int_equal(csv_writer_row(w, row, 1), -ENOENT);
	assert_int_equal(csv_writer_free(w), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_quotes_only_when_needed),
		cmocka_unit_test(write_then_read_back),
		cmocka_unit_test(full_disk_error_is_sticky),
		cmocka_unit_test(old_file_is_replaced),
		cmocka_unit_test(failed_write_leaves_whole_rows_only),
		cmocka_unit_test(reopen_after_rename_writes_the_header),
		cmocka_unit_test(removed_file_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
