/*
 * capture_testutil.h - what the capture tests share: a temporary file name,
 * opening a capture or failing with libpcap's message, counting packets.
 * Include after <cmocka.h>.
 */
#ifndef TIERPROBE_CAPTURE_TESTUTIL_H
#define TIERPROBE_CAPTURE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "capture.h"

/* Creates an empty file /tmp/tierprobe-test-NAME-XXXXXX, its name in path. 0 or -1. */
static inline int capture_test_tmpfile(char *path, size_t len, const char *name)
{
	snprintf(path, len, "/tmp/tierprobe-test-%s-XXXXXX", name);
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* capture_open_file() that fails the test with the reason when it cannot. */
static inline struct capture *capture_test_open(const char *path)
{
	char err[512];
	struct capture *c = capture_open_file(path, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	return c;
}

/* A capture_packet_fn counting packets into the int ctx points to. */
static inline void capture_test_count(void *ctx, int dlt, const uint8_t *frame, size_t caplen,
				      size_t wirelen, ts_ns ts)
{
	(void)dlt, (void)frame, (void)caplen, (void)wirelen, (void)ts;
	(*(int *)ctx)++;
}

#endif
