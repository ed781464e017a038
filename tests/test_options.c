/* test_options.c - the command line and config file: defaults, overrides, every bad value named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "options.h"
#include "summary.h"

static int parse(struct options *o, const char *const *args, int n)
{
	char *argv[32];
	for (int i = 0; i < n; i++)
		argv[i] = (char *)args[i];
	argv[n] = NULL;
	return options_parse(o, n, argv);
}

static void defaults_follow_design(void **state)
{
	(void)state;
	struct options o;
	const char *a[] = { "tierprobe", "run" };
	assert_int_equal(parse(&o, a, 2), 0);
	assert_string_equal(o.out_dir, "tierprobe-out");
	assert_string_equal(o.iface, "any");
	assert_true(o.interval_s == 1.0);
	assert_int_equal(portmap_get(&o.ports, 80), PROTO_HTTP);
	assert_int_equal(portmap_get(&o.ports, 5000), PROTO_HTTP);
	assert_int_equal(portmap_get(&o.ports, 8080), PROTO_HTTP);
	assert_int_equal(portmap_get(&o.ports, 27017), PROTO_MONGO);
	assert_int_equal(portmap_get(&o.ports, 443), PROTO_NONE);
	options_release(&o);
}

static void config_file_then_command_line(void **state)
{
	(void)state;
	char path[] = "/tmp/tp-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "[tierprobe]\nout = /tmp/from-config\ninterval = 2.5\nhttp-ports = 9000-9002\n";
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	struct options o;
	const char *a[] = { "tierprobe", "run", "-c", path, "--interval", "0.5" };
	assert_int_equal(parse(&o, a, 6), 0);
	assert_string_equal(o.out_dir, "/tmp/from-config");
	assert_true(o.interval_s == 0.5);	/* the command line wins */
	assert_int_equal(portmap_get(&o.ports, 9001), PROTO_HTTP);
	assert_int_equal(portmap_get(&o.ports, 80), PROTO_NONE);
	options_release(&o);
	unlink(path);
}

static void bad_usage_is_exit_2(void **state)
{
	(void)state;
	struct options o;
	const char *cases[][6] = {
		{ "tierprobe", "frobnicate" },
		{ "tierprobe", "analyze" },				/* no file */
		{ "tierprobe", "analyze", "--http-ports", "0", "x" },	/* port 0 */
		{ "tierprobe", "analyze", "--mongo-ports", "9-1", "x" },	/* reversed range */
		{ "tierprobe", "run", "--interval", "abc" },
		{ "tierprobe", "analyze", "--interval", "1", "x" },	/* a run-only option */
		{ "tierprobe", "compare", "a" },			/* needs two */
		{ "tierprobe", "run", "-c", "/nonexistent/tp.conf" },
	};
	const int n[] = { 2, 2, 5, 5, 4, 5, 3, 4 };
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		assert_int_equal(parse(&o, cases[i], n[i]), 2);
		options_release(&o);
	}
}

static void sig_figs(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(fmt_sig(1234.5, 2, b, sizeof(b)), "1200");
	assert_string_equal(fmt_sig(0.012345, 2, b, sizeof(b)), "0.012");
	assert_string_equal(fmt_sig(12.345, 2, b, sizeof(b)), "12");
	assert_string_equal(fmt_sig(1.0, 2, b, sizeof(b)), "1.0");
	assert_string_equal(fmt_sig(0, 2, b, sizeof(b)), "0");
	assert_string_equal(fmt_sig(-3.456, 2, b, sizeof(b)), "-3.5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_follow_design),
		cmocka_unit_test(config_file_then_command_line),
		cmocka_unit_test(bad_usage_is_exit_2),
		cmocka_unit_test(sig_figs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
