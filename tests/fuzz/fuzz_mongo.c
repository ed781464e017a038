/*
 * fuzz_mongo.c - libFuzzer target for the MongoDB decoder and stream parser.
 *
 * Input byte 0 chooses the mode:
 *   even: the rest is one message for mongo_msg_decode() (bit 1 = reply role).
 *   odd:  the rest is a script of stream events for mongo_stream_ops:
 *           op(1) | len(2, LE) | data(len)   op&3: 0 data to server, 1 data to
 *                                            client, 2 gap (len bytes, op&4 = dir),
 *                                            3 fin (op&4 = dir)
 *         so requests and replies arrive with random split points and gaps.
 * Seeds: the .bin files of tests/fixtures/mongo, prefixed with a 0x00 or 0x02 byte.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mongo_msg.h"
#include "stream.h"

static size_t emitted;

static void check_txn(void *ctx, const struct mongo_txn *t)
{
	(void)ctx;
	/* every string the CSV writer will read is terminated inside its buffer */
	assert(memchr(t->db, 0, sizeof(t->db)));
	assert(memchr(t->collection, 0, sizeof(t->collection)));
	assert(memchr(t->command, 0, sizeof(t->command)));
	assert(memchr(t->shape, 0, sizeof(t->shape)));
	assert(t->ok >= -1 && t->ok <= 1);
	emitted++;
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	struct quality q;
	struct membudget budget;
	struct txn_sink sink = { .mongo = check_txn };
	struct stream_ctx ctx;
	ts_ns ts = 1;

	memset(&q, 0, sizeof(q));
	memset(&ctx, 0, sizeof(ctx));
	membudget_init(&budget, 1 << 16);
	ctx.q = &q;
	ctx.budget = &budget;
	ctx.sink = &sink;
	ctx.midstream = size > 0 && (data[0] & 0x80);
	void *p = mongo_stream_ops.open(&ctx);
	if (!p)
		return;
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;
		data += 3;
		size -= 3;
		enum stream_dir dir = (op & 4) ? STREAM_TO_CLIENT : STREAM_TO_SERVER;
		switch (op & 3) {
		case 0:
		case 1: {
			if (len > size)
				len = size;
			/* an exact-size copy so ASan sees any read past len */
			uint8_t *chunk = malloc(len ? len : 1);
			if (!chunk)
				return;
			memcpy(chunk, data, len);
			mongo_stream_ops.data(p, (op & 3) ? STREAM_TO_CLIENT : STREAM_TO_SERVER, chunk, len, ts);
			free(chunk);
			data += len;
			size -= len;
			break;
		}
		case 2:
			mongo_stream_ops.gap(p, dir, len, ts);
			break;
		case 3:
			mongo_stream_ops.fin(p, dir, ts);
			break;
		}
		ts += op;
	}
	mongo_stream_ops.close(p, ts);
	assert(budget.used == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		fuzz_stream(data + 1, size - 1);
		return 0;
	}
	struct mongo_msg m;
	struct quality q;
	memset(&q, 0, sizeof(q));
	uint8_t *msg = malloc(size - 1 ? size - 1 : 1);
	if (!msg)
		return 0;
	memcpy(msg, data + 1, size - 1);
	int rc = mongo_msg_decode(msg, size - 1, (data[0] & 2) ? MONGO_ROLE_REPLY : MONGO_ROLE_REQUEST,
				  &m, &q);
	if (rc == 0) {
		assert(memchr(m.shape, 0, sizeof(m.shape)));
		assert(m.h.length == (int32_t)(size - 1));
	}
	free(msg);
	return 0;
}
