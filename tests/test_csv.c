/* test_csv.c - RFC 4180 quoting, round trip through the reader, sticky errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_quotes_only_when_needed),
		cmocka_unit_test(write_then_read_back),
		cmocka_unit_test(full_disk_error_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
