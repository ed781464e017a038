/* test_procfs.c - the sampler against known loads: one core burnt, 64 MiB written, rows as wide as the header. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "csv.h"
#include "procfs.h"

#define MAX_CHILDREN 4
static pid_t children[MAX_CHILDREN];
static char tmpfile_path[64];

/* Children are killed and reaped even when an assertion failed mid-test. */
static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	if (tmpfile_path[0]) {
		unlink(tmpfile_path);
		tmpfile_path[0] = '\0';
	}
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* utime + stime of pid in clock ticks, from /proc/PID/stat: the reference the sampler must match. */
static unsigned long long stat_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	assert_non_null(p);
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
	return ut + st;
}

/* Forks a child that waits for a byte on go[0], then runs fn, then sleeps until killed. */
static pid_t spawn(int slot, void (*fn)(int done_fd), int go[2], int done[2])
{
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char b;
		close(go[1]);
		close(done[0]);
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		fn(done[1]);
		for (;;)
			pause();
	}
	children[slot] = pid;
	close(go[0]);
	close(done[1]);
	return pid;
}

static void burn(int done_fd)
{
	volatile unsigned long x = 0;
	(void)done_fd;
	/* Spins until killed: the parent decides the window. */
	for (;;)
		x++;
}

static void check_host(const struct host_sample *h)
{
	double sum = h->cpu_user_pct + h->cpu_system_pct + h->cpu_iowait_pct + h->cpu_steal_pct +
		     h->cpu_idle_pct;
	printf("host: user %.1f system %.1f iowait %.1f steal %.1f idle %.1f (sum %.2f) busiest core %.1f\n",
	       h->cpu_user_pct, h->cpu_system_pct, h->cpu_iowait_pct, h->cpu_steal_pct, h->cpu_idle_pct,
	       sum, h->cpu_busiest_core_pct);
	printf("host: load %.2f/%.2f/%.2f running %.0f mem used %.1f avail %.1f cached %.1f swap %.1f MiB "
	       "ctxsw/s %.0f minflt/s %.0f\n",
	       h->load1, h->load5, h->load15, h->procs_running, h->mem_used_mib, h->mem_available_mib,
	       h->mem_cached_mib, h->swap_used_mib, h->ctx_switches_per_s, h->pgfault_minor_per_s);
	assert_true(fabs(sum - 100.0) < 0.5);
	assert_true(h->cpu_busiest_core_pct >= 0 && h->cpu_busiest_core_pct <= 100.0);
	assert_true(h->mem_used_mib > 0);
	assert_true(h->mem_available_mib > 0);
	assert_true(h->mem_cached_mib > 0);
	assert_false(isnan(h->swap_used_mib));
	assert_false(isnan(h->load1));
	assert_true(h->procs_running >= 1);	/* this process, at least */
	assert_true(h->ctx_switches_per_s > 0);
	assert_true(h->interval_s > 0);
	assert_false(isnan(h->net_rx_bytes_per_s));
	assert_false(isnan(h->net_lo_bytes_per_s));
}

static void test_cpu_burn(void **state)
{
	struct procfs_sampler *s = procfs_sampler_new();
	struct host_sample *h = malloc(sizeof(*h));
	int go[2], done[2];
	pid_t pid;
	unsigned long long t0, t1;
	long hz = sysconf(_SC_CLK_TCK);

	(void)state;
	assert_non_null(s);
	assert_non_null(h);
	pid = spawn(0, burn, go, done);
	assert_int_equal(procfs_sampler_set_role(s, ROLES_WEB, &pid, 1), 0);

	/* First sight of the pid: a baseline, so CPU is unknown but RSS is known. */
	assert_int_equal(procfs_sample(s, h), 0);
	assert_true(isnan(h->role[ROLES_WEB].cpu_pct));
	assert_true(h->role[ROLES_WEB].rss_mib > 0);
	assert_true(h->role[ROLES_WEB].pids == 1);
	assert_true(isnan(h->role[ROLES_MONGOD].pids));	/* no processes: unknown, not 0 */
	t0 = stat_ticks(pid);

	assert_int_equal(write(go[1], "g", 1), 1);
	sleep_ms(1500);
	assert_int_equal(procfs_sample(s, h), 0);
	t1 = stat_ticks(pid);

	double ref = (double)(t1 - t0) / (double)hz / h->interval_s * 100.0;
	double got = h->role[ROLES_WEB].cpu_pct;
	printf("cpu burn: role web %.1f%% of a core, reference /proc/PID/stat %.1f%%, interval %.3f s\n",
	       got, ref, h->interval_s);
	assert_false(isnan(got));
	assert_true(fabs(got - ref) <= 10.0);
	/* One thread can use at most one core; under heavy sharing it still gets a good part of one. */
	assert_true(got <= 110.0);
	assert_true(got >= 30.0);
	assert_true(h->role[ROLES_WEB].threads == 1);
	assert_true(h->role[ROLES_WEB].ivcsw_per_s >= 0);
	check_host(h);

	/* The pid vanishes: the role has no processes left, so everything is unknown. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	children[0] = 0;
	assert_int_equal(procfs_sample(s, h), 0);
	assert_true(isnan(h->role[ROLES_WEB].pids));
	assert_true(isnan(h->role[ROLES_WEB].cpu_pct));

	close(go[1]);
	close(done[0]);
	procfs_sampler_free(s);
	procfs_sampler_free(NULL);
	free(h);
}

/* A role of two processes where one leaves: the other's rate still counts. */
static void test_pid_leaves(void **state)
{
	struct procfs_sampler *s = procfs_sampler_new();
	struct host_sample *h = malloc(sizeof(*h));
	int go[2][2], done[2][2];
	pid_t pids[2];

	(void)state;
	assert_non_null(s);
	assert_non_null(h);
	pids[0] = spawn(0, burn, go[0], done[0]);
	pids[1] = spawn(1, burn, go[1], done[1]);
	assert_int_equal(procfs_sampler_set_role(s, ROLES_MONGOD, pids, 2), 0);
	assert_int_equal(procfs_sample(s, h), 0);
	assert_true(h->role[ROLES_MONGOD].pids == 2);
	assert_int_equal(write(go[0][1], "g", 1), 1);
	kill(pids[1], SIGKILL);
	waitpid(pids[1], NULL, 0);
	children[1] = 0;
	sleep_ms(500);
	assert_int_equal(procfs_sample(s, h), 0);
	printf("one of two left: pids %.0f cpu %.1f%%\n", h->role[ROLES_MONGOD].pids,
	       h->role[ROLES_MONGOD].cpu_pct);
	assert_true(h->role[ROLES_MONGOD].pids == 1);
	assert_true(h->role[ROLES_MONGOD].cpu_pct > 20.0);
	for (int i = 0; i < 2; i++) {
		close(go[i][1]);
		close(done[i][0]);
	}
	procfs_sampler_free(s);
	free(h);
}

#define NAPS 200

static void napper(int done_fd)
{
	/* Each nap blocks once: one voluntary context switch apiece. */
	for (int i = 0; i < NAPS; i++)
		sleep_ms(1);
	if (write(done_fd, "d", 1) != 1)
		_exit(5);
}

static void test_voluntary_switches(void **state)
{
	struct procfs_sampler *s = procfs_sampler_new();
	struct host_sample *h = malloc(sizeof(*h));
	int go[2], done[2];
	pid_t pid;
	char b;

	(void)state;
	assert_non_null(s);
	assert_non_null(h);
	pid = spawn(0, napper, go, done);
	assert_int_equal(procfs_sampler_set_role(s, ROLES_WEB, &pid, 1), 0);
	assert_int_equal(procfs_sample(s, h), 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	struct pollfd pfd = { .fd = done[0], .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(read(done[0], &b, 1), 1);
	assert_int_equal(procfs_sample(s, h), 0);
	double v = h->role[ROLES_WEB].vcsw_per_s * h->interval_s;
	printf("naps: %d sleeps -> %.0f voluntary switches, %.0f involuntary\n", NAPS, v,
	       h->role[ROLES_WEB].ivcsw_per_s * h->interval_s);
	/* The naps, plus the pipe read and write around them. */
	assert_true(v >= NAPS && v <= NAPS + 20);
	close(go[1]);
	close(done[0]);
	procfs_sampler_free(s);
	free(h);
}

/*
 * After privileges are dropped (--user), another user's /proc/PID/io cannot
 * be read: libproc2 then gives 0, which must come out as unknown, not 0.
 */
static void test_io_unreadable(void **state)
{
	int go[2], done[2], status;
	pid_t target, probe;

	(void)state;
	if (geteuid() != 0)
		skip();
	target = spawn(0, burn, go, done);
	assert_int_equal(write(go[1], "g", 1), 1);
	probe = fork();
	assert_true(probe >= 0);
	if (probe == 0) {
		static struct host_sample h;
		struct procfs_sampler *s;
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(10);
		s = procfs_sampler_new();
		if (!s || procfs_sampler_set_role(s, ROLES_WEB, &target, 1) != 0)
			_exit(11);
		procfs_sample(s, &h);
		sleep_ms(200);
		procfs_sample(s, &h);
		/* CPU comes from /proc/PID/stat, readable by all; the IO must be unknown. */
		if (isnan(h.role[ROLES_WEB].cpu_pct))
			_exit(12);
		if (!isnan(h.role[ROLES_WEB].write_bytes_per_s) || !isnan(h.role[ROLES_WEB].read_bytes_per_s))
			_exit(13);
		procfs_sampler_free(s);
		_exit(0);
	}
	children[1] = probe;
	assert_int_equal(waitpid(probe, &status, 0), probe);
	children[1] = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(go[1]);
	close(done[0]);
}

#define WRITE_MIB 64

static void writer(int done_fd)
{
	static char buf[1 << 20];
	int fd = open(tmpfile_path, O_WRONLY | O_TRUNC);

	if (fd < 0)
		_exit(2);
	memset(buf, 'w', sizeof(buf));
	for (int i = 0; i < WRITE_MIB; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			_exit(3);
	if (fsync(fd) != 0)
		_exit(4);
	close(fd);
	if (write(done_fd, "d", 1) != 1)
		_exit(5);
}

static void test_write_bytes(void **state)
{
	struct procfs_sampler *s = procfs_sampler_new();
	struct host_sample *h = malloc(sizeof(*h));
	int go[2], done[2];
	pid_t pid;
	char b;

	(void)state;
	assert_non_null(s);
	assert_non_null(h);
	/* /var/tmp is disk-backed (tmpfs writes never reach write_bytes or a disk). */
	snprintf(tmpfile_path, sizeof(tmpfile_path), "/var/tmp/tierprobe-procfs-XXXXXX");
	int tfd = mkstemp(tmpfile_path);
	assert_true(tfd >= 0);
	close(tfd);

	pid = spawn(0, writer, go, done);
	assert_int_equal(procfs_sampler_set_role(s, ROLES_SELF, &pid, 1), 0);
	assert_int_equal(procfs_sample(s, h), 0);
	assert_int_equal(write(go[1], "g", 1), 1);

	struct pollfd pfd = { .fd = done[0], .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(read(done[0], &b, 1), 1);
	assert_int_equal(procfs_sample(s, h), 0);

	double written = h->role[ROLES_SELF].write_bytes_per_s * h->interval_s;
	double want = (double)WRITE_MIB * 1048576.0;
	double disk = h->disk_write_bytes_per_s * h->interval_s;
	printf("write: role %.2f MiB written (want %d), host disks %.2f MiB, busiest %s %.1f%% await %.3f ms, "
	       "interval %.3f s\n",
	       written / 1048576.0, WRITE_MIB, disk / 1048576.0, h->disk_util_max_dev,
	       h->disk_util_max_pct, h->disk_util_max_await_ms, h->interval_s);
	assert_true(fabs(written - want) <= want * 0.05);
	/* fsync put it on a disk: the host's disks saw at least most of it. */
	assert_true(disk >= want * 0.9);
	assert_true(h->disk_util_max_pct > 0);
	assert_true(h->disk_util_max_dev[0] != '\0');
	assert_true(h->ndisks >= 1);

	close(go[1]);
	close(done[0]);
	procfs_sampler_free(s);
	free(h);
}

static void test_format(void **state)
{
	struct procfs_sampler *s = procfs_sampler_new();
	struct host_sample *h = malloc(sizeof(*h));
	struct procfs_row *row = malloc(sizeof(*row));
	pid_t self = getpid();
	char path[] = "/var/tmp/tierprobe-samples-XXXXXX";
	int fd;

	(void)state;
	assert_non_null(s);
	assert_non_null(h);
	assert_non_null(row);

	/* Column names: unique, lower snake case. */
	for (size_t i = 0; i < PROCFS_NCOLUMNS; i++) {
		assert_non_null(procfs_columns[i]);
		assert_int_equal(strspn(procfs_columns[i], "abcdefghijklmnopqrstuvwxyz0123456789_"),
				 strlen(procfs_columns[i]));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(procfs_columns[i], procfs_columns[j]);
	}

	assert_int_equal(procfs_sampler_set_role(s, ROLES_SELF, &self, 1), 0);
	sleep_ms(100);
	assert_int_equal(procfs_sample(s, h), 0);
	procfs_format_row(h, row);
	size_t known = 0, unknown = 0;
	for (size_t i = 0; i < PROCFS_NCOLUMNS; i++) {
		assert_non_null(row->cells[i]);
		if (row->cells[i][0])
			known++;
		else
			unknown++;
	}
	printf("row: %d cells, %zu known, %zu empty\n", PROCFS_NCOLUMNS, known, unknown);
	/* No web or mongod role set: their 16 cells are empty, never "0". */
	size_t web = 0;
	while (strcmp(procfs_columns[web], "web_pids") != 0)
		web++;
	for (size_t i = web; i < web + 16; i++)
		assert_string_equal(row->cells[i], "");
	assert_string_not_equal(row->cells[web + 16], "");	/* self_pids */
	assert_string_equal(row->cells[web + 16], "1");

	/* An all-unknown sample is a row of empty cells, still as wide as the header. */
	procfs_sample_clear(h);
	procfs_format_row(h, row);
	for (size_t i = 0; i < PROCFS_NCOLUMNS; i++)
		assert_string_equal(row->cells[i], "");

	/* The CSV writer takes the header and a row of exactly that width. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct csv_writer *w = csv_writer_new(path, procfs_columns, PROCFS_NCOLUMNS);
	assert_non_null(w);
	assert_int_equal(csv_writer_row(w, row->cells, PROCFS_NCOLUMNS), 0);
	assert_int_equal(csv_writer_free(w), 0);
	unlink(path);

	procfs_sampler_free(s);
	free(row);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_cpu_burn, teardown),
		cmocka_unit_test_teardown(test_pid_leaves, teardown),
		cmocka_unit_test_teardown(test_voluntary_switches, teardown),
		cmocka_unit_test_teardown(test_write_bytes, teardown),
		cmocka_unit_test_teardown(test_io_unreadable, teardown),
		cmocka_unit_test_teardown(test_format, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
