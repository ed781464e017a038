/*
 * byte_reader.h - a bounds-checked cursor over untrusted bytes (packets, wire
 * messages), in the manner of netdissect's extract.h: read a group of fields,
 * then check the sticky error flag once.
 *
 * Any read past the end sets err, returns 0 and leaves cur at end, so later
 * reads also fail; nothing is ever read outside [start, end).
 */
#ifndef TIERPROBE_BYTE_READER_H
#define TIERPROBE_BYTE_READER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct byte_reader {
	const uint8_t *cur;
	const uint8_t *end;
	int err;		/* sticky: set by the first out-of-bounds read */
};

static inline void byte_reader_init(struct byte_reader *r, const uint8_t *p, size_t len)
{
	r->cur = p;
	r->end = p + len;
	r->err = 0;
}

static inline size_t byte_reader_left(const struct byte_reader *r)
{
	return (size_t)(r->end - r->cur);
}

/* Nonzero (and err set) when fewer than n bytes remain. */
static inline int byte_reader_need(struct byte_reader *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->cur) < n) {
		r->err = 1;
		r->cur = r->end;
		return 1;
	}
	return 0;
}

static inline uint8_t byte_reader_u8(struct byte_reader *r)
{
	if (byte_reader_need(r, 1))
		return 0;
	return *r->cur++;
}

static inline uint16_t byte_reader_be16(struct byte_reader *r)
{
	if (byte_reader_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)((unsigned)r->cur[0] << 8 | r->cur[1]);
	r->cur += 2;
	return v;
}

static inline uint16_t byte_reader_le16(struct byte_reader *r)
{
	if (byte_reader_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)((unsigned)r->cur[1] << 8 | r->cur[0]);
	r->cur += 2;
	return v;
}

static inline uint32_t byte_reader_be32(struct byte_reader *r)
{
	if (byte_reader_need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->cur[0] << 24 | (uint32_t)r->cur[1] << 16 |
		     (uint32_t)r->cur[2] << 8 | r->cur[3];
	r->cur += 4;
	return v;
}

static inline uint32_t byte_reader_le32(struct byte_reader *r)
{
	if (byte_reader_need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->cur[3] << 24 | (uint32_t)r->cur[2] << 16 |
		     (uint32_t)r->cur[1] << 8 | r->cur[0];
	r->cur += 4;
	return v;
}

static inline void byte_reader_skip(struct byte_reader *r, size_t n)
{
	if (byte_reader_need(r, n))
		return;
	r->cur += n;
}

/* Copies n bytes into out (zero-filled on failure). */
static inline void byte_reader_copy(struct byte_reader *r, void *out, size_t n)
{
	if (byte_reader_need(r, n)) {
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->cur, n);
	r->cur += n;
}

#endif
