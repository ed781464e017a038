/* mongo_testutil.h - helpers shared by the MongoDB tests: fixtures and a wire-message builder. */
#ifndef TIERPROBE_MONGO_TESTUTIL_H
#define TIERPROBE_MONGO_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bson/bson.h>

#define MONGO_FIXTURES "tests/fixtures/mongo/"

/*
 * The fixture's path: relative to the working directory (the repository root,
 * as `make` runs tests), else to the test binary (BUILD/tests/test_x).
 */
static inline void fixture_path(const char *name, char *path, size_t len)
{
	snprintf(path, len, MONGO_FIXTURES "%s", name);
	if (access(path, R_OK) == 0)
		return;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {	/* test_x, tests, BUILD */
		char *slash = strrchr(exe, '/');
		if (!slash)
			return;
		*slash = '\0';
	}
	snprintf(path, len, "%s/" MONGO_FIXTURES "%s", exe, name);
}

/* Reads a fixture into an exactly-sized heap buffer (so ASan sees any over-read). */
static inline uint8_t *fixture_load(const char *name, size_t *len)
{
	char path[4600];
	fixture_path(name, path, sizeof(path));
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open fixture '%s' (run from the repository root)\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)n);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* A growable byte buffer for building wire messages in tests. */
struct tbuf {
	uint8_t *p;
	size_t len, cap;
};

static inline void tb_put(struct tbuf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void tb_u32(struct tbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	tb_put(b, x, 4);
}

static inline void tb_u8(struct tbuf *b, uint8_t v) { tb_put(b, &v, 1); }
static inline void tb_cstr(struct tbuf *b, const char *s) { tb_put(b, s, strlen(s) + 1); }
static inline void tb_doc(struct tbuf *b, const bson_t *d) { tb_put(b, bson_get_data(d), d->len); }

static inline void tb_patch_u32(struct tbuf *b, size_t at, uint32_t v)
{
	b->p[at] = (uint8_t)v;
	b->p[at + 1] = (uint8_t)(v >> 8);
	b->p[at + 2] = (uint8_t)(v >> 16);
	b->p[at + 3] = (uint8_t)(v >> 24);
}

/* Starts a message: a header whose length is patched by tb_end(). */
static inline void tb_begin(struct tbuf *b, int32_t rid, int32_t rto, int32_t opcode)
{
	b->len = 0;
	tb_u32(b, 0);
	tb_u32(b, (uint32_t)rid);
	tb_u32(b, (uint32_t)rto);
	tb_u32(b, (uint32_t)opcode);
}

static inline void tb_end(struct tbuf *b)
{
	tb_patch_u32(b, 0, (uint32_t)b->len);
}

/* OP_MSG with one kind-0 body; flags as given (checksum bytes not added). */
static inline void tb_op_msg(struct tbuf *b, int32_t rid, int32_t rto, uint32_t flags, const bson_t *body)
{
	tb_begin(b, rid, rto, 2013);
	tb_u32(b, flags);
	tb_u8(b, 0);
	tb_doc(b, body);
	tb_end(b);
}

#endif
