/* test_mongo_msg.c - one-message decoding: real vectors, built messages, truncations, caps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "mongo_msg.h"
#include "mongo_testutil.h"

static int decode_fixture(const char *name, enum mongo_role role, struct mongo_msg *m,
			  struct quality *q)
{
	size_t len;
	uint8_t *p = fixture_load(name, &len);
	int rc = mongo_msg_decode(p, len, role, m, q);
	free(p);
	return rc;
}

/* Packetbeat's OP_MSG vectors: 1req is find "inventory" in testdb, rid 64. */
static void test_packetbeat_vectors(void **state)
{
	struct mongo_msg m;
	struct quality q = { 0 };
	(void)state;

	assert_int_equal(decode_fixture("pb_1req.bin", MONGO_ROLE_REQUEST, &m, &q), 0);
	assert_int_equal(m.h.length, 111);
	assert_int_equal(m.h.request_id, 64);
	assert_int_equal(m.h.response_to, 0);
	assert_int_equal(m.opcode, MONGO_OP_MSG);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.expects_reply, 1);
	assert_string_equal(m.command, "find");
	assert_string_equal(m.db, "testdb");
	assert_string_equal(m.collection, "inventory");
	assert_string_equal(m.shape, "find testdb.inventory {}");
	assert_int_equal(m.shape_id, mongo_shape_id("testdb", "inventory", "find", m.shape));

	assert_int_equal(decode_fixture("pb_1res.bin", MONGO_ROLE_REPLY, &m, &q), 0);
	assert_int_equal(m.h.request_id, 67);
	assert_int_equal(m.h.response_to, 64);
	assert_int_equal(m.ok, 1);
	assert_int_equal(m.docs, 2);
	assert_int_equal(m.error_code, 0);

	static const struct { const char *f; int32_t rid, rto; int64_t docs; } v[] = {
		{ "pb_2req.bin", 65, 0, -1 }, { "pb_2res.bin", 68, 65, 2 },
		{ "pb_3req.bin", 66, 0, -1 }, { "pb_3res.bin", 69, 66, 1 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		enum mongo_role role = v[i].docs < 0 ? MONGO_ROLE_REQUEST : MONGO_ROLE_REPLY;
		assert_int_equal(decode_fixture(v[i].f, role, &m, &q), 0);
		assert_int_equal(m.h.request_id, v[i].rid);
		assert_int_equal(m.h.response_to, v[i].rto);
		if (role == MONGO_ROLE_REQUEST) {
			assert_string_equal(m.command, "find");
			assert_string_equal(m.collection, "inventory");
			assert_string_equal(m.db, "testdb");
		} else {
			assert_int_equal(m.docs, v[i].docs);
			assert_int_equal(m.ok, 1);
		}
	}
	assert_int_equal(q.mongo_bson_errors, 0);
}

/* mongo_one_row.pcap: OP_QUERY test.restaurants with responseTo 0xFFFFFFFF, OP_REPLY nret 1. */
static void test_op_query_reply(void **state)
{
	struct mongo_msg m;
	(void)state;
	assert_int_equal(decode_fixture("one_row_req.bin", MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_int_equal(m.h.request_id, 10);
	assert_int_equal(m.h.response_to, -1);
	assert_int_equal(m.opcode, MONGO_OP_QUERY);
	assert_string_equal(m.command, "find");
	assert_string_equal(m.db, "test");
	assert_string_equal(m.collection, "restaurants");
	assert_string_equal(m.shape, "find test.restaurants {}");

	assert_int_equal(decode_fixture("one_row_res.bin", MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.h.length, 514);
	assert_int_equal(m.h.response_to, 10);
	assert_int_equal(m.opcode, MONGO_OP_REPLY);
	assert_int_equal(m.docs, 1);
	assert_int_equal(m.ok, 1);
}

/* mongodb_insert_duplicate_key.pcap: ok:1 but writeErrors[0].code 11000 is an error. */
static void test_write_errors(void **state)
{
	struct mongo_msg m;
	(void)state;
	assert_int_equal(decode_fixture("dupkey_req.bin", MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.command, "insert");
	assert_string_equal(m.db, "test");
	assert_string_equal(m.collection, "restaurants");
	assert_string_equal(m.shape, "insert test.restaurants");
	assert_int_equal(decode_fixture("dupkey_res.bin", MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.ok, 0);
	assert_int_equal(m.has_write_errors, 1);
	assert_int_equal(m.error_code, 11000);
}

/* mongoreplay compressed.pcap: snappy OP_COMPRESSED around OP_REPLY, OP_COMMAND, OP_COMMANDREPLY. */
static void test_compressed_capture(void **state)
{
	struct mongo_msg m;
	struct quality q = { 0 };
	(void)state;

	assert_int_equal(decode_fixture("compressed_f04.bin", MONGO_ROLE_REQUEST, &m, &q), 0);
	assert_int_equal(m.h.request_id, 0);
	assert_int_equal(m.opcode, MONGO_OP_QUERY);
	assert_string_equal(m.command, "isMaster");
	assert_string_equal(m.db, "admin");

	assert_int_equal(decode_fixture("compressed_f06.bin", MONGO_ROLE_REPLY, &m, &q), 0);
	assert_int_equal(m.h.opcode, MONGO_OP_COMPRESSED);
	assert_int_equal(m.h.response_to, 0);
	assert_int_equal(m.compressed, 1);
	assert_int_equal(m.compressor_id, MONGO_COMPRESSOR_SNAPPY);
	assert_int_equal(m.opcode, MONGO_OP_REPLY);
	assert_int_equal(m.ok, 1);
	assert_int_equal(m.docs, 1);

	assert_int_equal(decode_fixture("compressed_f08.bin", MONGO_ROLE_REQUEST, &m, &q), 0);
	assert_int_equal(m.opcode, MONGO_OP_COMMAND);
	assert_int_equal(m.h.request_id, 1);
	assert_string_equal(m.command, "whatsmyuri");
	assert_string_equal(m.db, "admin");

	assert_int_equal(decode_fixture("compressed_f09.bin", MONGO_ROLE_REPLY, &m, &q), 0);
	assert_int_equal(m.opcode, MONGO_OP_COMMANDREPLY);
	assert_int_equal(m.h.response_to, 1);
	assert_int_equal(m.ok, 1);

	assert_int_equal(decode_fixture("compressed_f12.bin", MONGO_ROLE_REQUEST, &m, &q), 0);
	assert_string_equal(m.command, "insert");
	assert_string_equal(m.shape, "insert mongotape.test");
	assert_int_equal(decode_fixture("compressed_f14.bin", MONGO_ROLE_REQUEST, &m, &q), 0);
	assert_string_equal(m.command, "count");
	assert_string_equal(m.collection, "test");
	assert_int_equal(decode_fixture("compressed_f16.bin", MONGO_ROLE_REQUEST, &m, &q), 0);
	assert_string_equal(m.command, "update");
	assert_int_equal(decode_fixture("compressed_f17.bin", MONGO_ROLE_REPLY, &m, &q), 0);
	assert_int_equal(m.ok, 1);
	assert_int_equal(m.h.response_to, 5);
	assert_int_equal(q.mongo_decompress_errors, 0);
}

static const char *const all_fixtures[] = {
	"pb_1req.bin", "pb_1res.bin", "pb_2req.bin", "pb_2res.bin", "pb_3req.bin", "pb_3res.bin",
	"one_row_req.bin", "one_row_res.bin", "dupkey_req.bin", "dupkey_res.bin",
	"rrr_f1.bin", "rrr_f2.bin", "rrr_f3.bin",
	"compressed_f04.bin", "compressed_f06.bin", "compressed_f08.bin", "compressed_f09.bin",
	"compressed_f10.bin", "compressed_f11.bin", "compressed_f12.bin", "compressed_f13.bin",
	"compressed_f14.bin", "compressed_f15.bin", "compressed_f16.bin", "compressed_f17.bin",
};

/*
 * Every prefix of every vector, in an exactly-sized buffer: with the original
 * length field it is always rejected; with the length field patched to the
 * prefix length the decoder must walk the body and never read past it (ASan),
 * and a cut inside the only document of an OP_MSG must be rejected.
 */
static void test_truncations(void **state)
{
	(void)state;
	for (size_t f = 0; f < sizeof(all_fixtures) / sizeof(all_fixtures[0]); f++) {
		size_t len;
		uint8_t *full = fixture_load(all_fixtures[f], &len);
		int is_msg = full[12] == 0xdd && full[13] == 0x07;
		for (size_t k = 0; k < len; k++) {
			struct mongo_msg m;
			uint8_t *p = malloc(k ? k : 1);
			memcpy(p, full, k);
			for (int role = 0; role < 2; role++) {
				assert_true(mongo_msg_decode(p, k, role, &m, NULL) < 0);
				if (k >= 4) {
					tb_patch_u32(&(struct tbuf){ p, k, k }, 0, (uint32_t)k);
					int rc = mongo_msg_decode(p, k, role, &m, NULL);
					if (is_msg)
						assert_true(rc < 0);
					memcpy(p, full, 4);
				}
			}
			free(p);
		}
		free(full);
	}
}

/* Packetbeat unit vectors: tiny buffers, a document length of 6 with 1 byte present, opcodes. */
static void test_packetbeat_unit_vectors(void **state)
{
	struct mongo_msg m;
	struct quality q = { 0 };
	struct tbuf b = { 0 };
	(void)state;

	uint8_t one = 0x10;
	assert_int_equal(mongo_msg_decode(&one, 1, MONGO_ROLE_REQUEST, &m, &q), -EINVAL);
	uint8_t len_only[4] = { 0x10, 0, 0, 0 };
	assert_int_equal(mongo_msg_decode(len_only, 4, MONGO_ROLE_REQUEST, &m, &q), -EINVAL);

	/* OP_QUERY flags 0, "a.b", skip 0, return 0, then a document claiming 6 bytes: 06 */
	tb_begin(&b, 1, 0, MONGO_OP_QUERY);
	tb_u32(&b, 0);
	tb_cstr(&b, "a.b");
	tb_u32(&b, 0);
	tb_u32(&b, 0);
	tb_u8(&b, 6);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -EINVAL);

	/* 26-byte legacy OP_MSG (1000) holding the cstring "a message": known, complete */
	tb_begin(&b, 1, 0, MONGO_OP_LEGACY_MSG);
	tb_cstr(&b, "a message");
	tb_end(&b);
	assert_int_equal(b.len, 26);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), 0);
	assert_int_equal(m.command[0], '\0');

	/* opCode 5555: unknown, counted per message, noted once per opcode */
	tb_begin(&b, 1, 0, 5555);
	tb_cstr(&b, "x");
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -ENOTSUP);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -ENOTSUP);
	assert_int_equal(q.mongo_unknown_opcode_msgs, 2);
	assert_int_equal(q.n_unknown_opcodes, 1);
	assert_int_equal(q.unknown_opcodes[0], 5555);
	assert_false(mongo_opcode_known(5555));
	assert_true(mongo_opcode_known(2013));

	/* length field says 15: below the minimum */
	uint8_t small[16] = { 15, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0 };
	assert_int_equal(mongo_msg_decode(small, 15, MONGO_ROLE_REQUEST, &m, &q), -EINVAL);
	free(b.p);
}

/* OP_MSG with a kind-1 "documents" sequence (insert) and an "updates" sequence (update). */
static void test_op_msg_kind1(void **state)
{
	struct mongo_msg m;
	struct tbuf b = { 0 };
	(void)state;

	bson_t *body = BCON_NEW("insert", BCON_UTF8("users"), "ordered", BCON_BOOL(true),
				"$db", BCON_UTF8("app"));
	bson_t *d1 = BCON_NEW("name", BCON_UTF8("Zanzibar-Secret"));
	bson_t *d2 = BCON_NEW("name", BCON_UTF8("Other"));
	tb_begin(&b, 7, 0, MONGO_OP_MSG);
	tb_u32(&b, 0);
	tb_u8(&b, 0);
	tb_doc(&b, body);
	tb_u8(&b, 1);
	size_t at = b.len;
	tb_u32(&b, 0);
	tb_cstr(&b, "documents");
	tb_doc(&b, d1);
	tb_doc(&b, d2);
	tb_patch_u32(&b, at, (uint32_t)(b.len - at));
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_int_equal(m.sections, 2);
	assert_string_equal(m.command, "insert");
	assert_string_equal(m.db, "app");
	assert_string_equal(m.collection, "users");
	assert_string_equal(m.shape, "insert app.users");

	/* lying kind-1 sizes: past the message, below the minimum, cutting a document */
	uint32_t good = (uint32_t)(b.len - at);
	uint32_t lies[] = { good + 1, good + 1000, 4, 0, 0xffffffffu, good - 1, good - 5 };
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		tb_patch_u32(&b, at, lies[i]);
		assert_true(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL) < 0);
	}

	/* update with its statements in a kind-1 "updates" sequence */
	bson_t *ub = BCON_NEW("update", BCON_UTF8("users"), "$db", BCON_UTF8("app"));
	bson_t *u1 = BCON_NEW("q", "{", "email", BCON_UTF8("Zanzibar-Secret"), "}",
			      "u", "{", "$set", "{", "age", BCON_INT32(41), "}", "}");
	tb_begin(&b, 8, 0, MONGO_OP_MSG);
	tb_u32(&b, 0);
	tb_u8(&b, 0);
	tb_doc(&b, ub);
	tb_u8(&b, 1);
	at = b.len;
	tb_u32(&b, 0);
	tb_cstr(&b, "updates");
	tb_doc(&b, u1);
	tb_patch_u32(&b, at, (uint32_t)(b.len - at));
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.shape, "update app.users {email: ?}");
	assert_null(strstr(m.shape, "Zanzibar"));

	/* a second kind-0 body and an unknown section kind are rejected */
	tb_begin(&b, 9, 0, MONGO_OP_MSG);
	tb_u32(&b, 0);
	tb_u8(&b, 0);
	tb_doc(&b, body);
	tb_u8(&b, 0);
	tb_doc(&b, body);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), -EINVAL);
	b.p[21 + body->len] = 2;	/* the second section's kind byte */
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), -EINVAL);

	bson_destroy(body); bson_destroy(d1); bson_destroy(d2); bson_destroy(ub); bson_destroy(u1);
	free(b.p);
}

/* checksumPresent: the 4 trailing bytes are not a section (the CRC is not verified). */
static void test_op_msg_checksum_and_flags(void **state)
{
	struct mongo_msg m;
	struct tbuf b = { 0 };
	bson_t *body = BCON_NEW("ping", BCON_INT32(1), "$db", BCON_UTF8("admin"));
	(void)state;

	tb_begin(&b, 3, 0, MONGO_OP_MSG);
	tb_u32(&b, MONGO_MSG_FLAG_CHECKSUM | MONGO_MSG_FLAG_MORE_TO_COME | MONGO_MSG_FLAG_EXHAUST_ALLOWED);
	tb_u8(&b, 0);
	tb_doc(&b, body);
	tb_u32(&b, 0xdeadbeef);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_true(m.checksum_present);
	assert_true(m.more_to_come);
	assert_true(m.exhaust_allowed);
	assert_false(m.expects_reply);
	assert_int_equal(m.sections, 1);
	assert_string_equal(m.command, "ping");
	assert_string_equal(m.shape, "ping admin");

	/* without the trailer the flag eats the document's last 4 bytes */
	tb_op_msg(&b, 3, 0, MONGO_MSG_FLAG_CHECKSUM, body);
	assert_true(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL) < 0);
	/* and without the flag the trailer is a bogus section */
	tb_op_msg(&b, 3, 0, 0, body);
	tb_u32(&b, 0xdeadbeef);
	tb_end(&b);
	assert_true(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL) < 0);
	bson_destroy(body);
	free(b.p);
}

/* Wraps message (whole, with header) as OP_COMPRESSED with the given compressor. */
static void wrap_compressed(struct tbuf *out, const uint8_t *msg, size_t len, int comp,
			    int32_t claimed_delta)
{
	const uint8_t *body = msg + 16;
	size_t blen = len - 16;
	size_t cap = blen * 2 + 1024;
	uint8_t *c = malloc(cap);
	size_t clen = cap;
	switch (comp) {
	case 0: memcpy(c, body, blen); clen = blen; break;
	case 1: assert_int_equal(snappy_compress((const char *)body, blen, (char *)c, &clen), SNAPPY_OK); break;
	case 2: { uLongf zl = cap; assert_int_equal(compress2(c, &zl, body, blen, 6), Z_OK); clen = zl; break; }
	case 3: clen = ZSTD_compress(c, cap, body, blen, 3); assert_false(ZSTD_isError(clen)); break;
	}
	int32_t rid, rto, op;
	memcpy(&rid, msg + 4, 4);
	memcpy(&rto, msg + 8, 4);
	memcpy(&op, msg + 12, 4);
	tb_begin(out, rid, rto, MONGO_OP_COMPRESSED);
	tb_u32(out, (uint32_t)op);
	tb_u32(out, (uint32_t)((int32_t)blen + claimed_delta));
	tb_u8(out, (uint8_t)comp);
	tb_put(out, c, clen);
	tb_end(out);
	free(c);
}

static void test_op_compressed_roundtrip(void **state)
{
	struct mongo_msg m;
	struct quality q = { 0 };
	struct tbuf b = { 0 };
	size_t len;
	uint8_t *req = fixture_load("pb_1req.bin", &len);
	(void)state;

	for (int comp = 0; comp <= 3; comp++) {
		wrap_compressed(&b, req, len, comp, 0);
		assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), 0);
		assert_int_equal(m.compressed, 1);
		assert_int_equal(m.compressor_id, comp);
		assert_int_equal(m.h.opcode, MONGO_OP_COMPRESSED);
		assert_int_equal(m.opcode, MONGO_OP_MSG);
		assert_int_equal(m.h.request_id, 64);
		assert_string_equal(m.command, "find");
		assert_string_equal(m.collection, "inventory");
		assert_string_equal(m.db, "testdb");
		/* a claimed size that differs from the real output, either way */
		for (int delta = -1; delta <= 1; delta += 2) {
			uint64_t before = q.mongo_decompress_errors;
			wrap_compressed(&b, req, len, comp, delta);
			assert_true(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q) < 0);
			if (comp != 0)
				assert_int_equal(q.mongo_decompress_errors, before + 1);
		}
		/* every truncation of the compressed stream is rejected */
		wrap_compressed(&b, req, len, comp, 0);
		for (size_t k = 25; k < b.len; k++) {
			uint8_t *p = malloc(k);
			memcpy(p, b.p, k);
			tb_patch_u32(&(struct tbuf){ p, k, k }, 0, (uint32_t)k);
			assert_true(mongo_msg_decode(p, k, MONGO_ROLE_REQUEST, &m, NULL) < 0);
			free(p);
		}
	}
	/* unknown compressor 9, and nested OP_COMPRESSED */
	wrap_compressed(&b, req, len, 0, 0);
	b.p[24] = 9;
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -ENOTSUP);
	b.p[24] = 0;
	tb_patch_u32(&b, 16, MONGO_OP_COMPRESSED);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -EINVAL);
	free(req);
	free(b.p);
}

/* Decompression bombs: a claim over the cap, and a small zlib stream inflating far past its claim. */
static void test_decompression_bomb(void **state)
{
	struct mongo_msg m;
	struct quality q = { 0 };
	struct tbuf b = { 0 };
	(void)state;

	tb_begin(&b, 1, 0, MONGO_OP_COMPRESSED);
	tb_u32(&b, MONGO_OP_MSG);
	tb_u32(&b, MONGO_MSG_MAX_UNCOMPRESSED + 1);
	tb_u8(&b, MONGO_COMPRESSOR_ZLIB);
	tb_u32(&b, 0);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -EMSGSIZE);
	assert_int_equal(q.mongo_oversize, 1);
	tb_patch_u32(&b, 20, 0x80000000u);	/* negative */
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -EMSGSIZE);

	/* 64 MB of zeros deflate to ~64 KB; claim 1000 bytes: must stop at the claim */
	size_t big = 64u << 20;
	uint8_t *zeros = calloc(1, big);
	uLongf zl = compressBound(big);
	uint8_t *z = malloc(zl);
	assert_int_equal(compress2(z, &zl, zeros, big, 9), Z_OK);
	free(zeros);
	for (int comp = 2; comp <= 3; comp++) {
		size_t clen = zl;
		uint8_t *cz = z;
		if (comp == 3) {
			/* zstd frame without a content size: streaming, like the zlib case */
			uint8_t *zz = calloc(1, 1 << 20);
			ZSTD_CCtx *cc = ZSTD_createCCtx();
			ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
			ZSTD_outBuffer o = { zz, 1 << 20, 0 };
			uint8_t *chunk = calloc(1, 1 << 20);
			for (int i = 0; i < 64; i++) {
				ZSTD_inBuffer in = { chunk, 1 << 20, 0 };
				ZSTD_compressStream2(cc, &o, &in, ZSTD_e_continue);
			}
			ZSTD_inBuffer none = { chunk, 0, 0 };
			while (ZSTD_compressStream2(cc, &o, &none, ZSTD_e_end) != 0)
				;
			free(chunk);
			ZSTD_freeCCtx(cc);
			cz = zz;
			clen = o.pos;
		}
		for (int32_t claim = 1000; claim > 0; claim = claim == 1000 ? MONGO_MSG_MAX_UNCOMPRESSED - 16 : 0) {
			uint64_t before = q.mongo_decompress_errors;
			tb_begin(&b, 1, 0, MONGO_OP_COMPRESSED);
			tb_u32(&b, MONGO_OP_MSG);
			tb_u32(&b, (uint32_t)claim);
			tb_u8(&b, (uint8_t)comp);
			tb_put(&b, cz, clen);
			tb_end(&b);
			assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -EPROTO);
			assert_int_equal(q.mongo_decompress_errors, before + 1);
		}
		if (cz != z)
			free(cz);
	}
	free(z);

	/* snappy: the stream's own length header disagrees with the claim; rejected before allocating */
	uint8_t sn[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };	/* varint: 4 GB */
	tb_begin(&b, 1, 0, MONGO_OP_COMPRESSED);
	tb_u32(&b, MONGO_OP_MSG);
	tb_u32(&b, 1000);
	tb_u8(&b, MONGO_COMPRESSOR_SNAPPY);
	tb_put(&b, sn, sizeof(sn));
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -EPROTO);
	free(b.p);
}

/* Legacy opcodes built by hand, as mongoreplay's round-trip tests do. */
static void test_legacy_opcodes(void **state)
{
	struct mongo_msg m;
	struct tbuf b = { 0 };
	bson_t *sel = BCON_NEW("email", BCON_UTF8("Zanzibar-Secret"));
	bson_t *upd = BCON_NEW("$set", "{", "x", BCON_INT32(1), "}");
	(void)state;

	tb_begin(&b, 11, 0, MONGO_OP_UPDATE);	/* 0, ns, flags, selector, update */
	tb_u32(&b, 0); tb_cstr(&b, "app.users"); tb_u32(&b, 0); tb_doc(&b, sel); tb_doc(&b, upd);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.shape, "update app.users {email: ?}");
	assert_false(m.expects_reply);

	tb_begin(&b, 12, 0, MONGO_OP_INSERT);	/* flags, ns, docs */
	tb_u32(&b, 0); tb_cstr(&b, "app.users"); tb_doc(&b, sel); tb_doc(&b, sel);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.shape, "insert app.users");

	tb_begin(&b, 13, 0, MONGO_OP_DELETE);	/* 0, ns, flags, selector */
	tb_u32(&b, 0); tb_cstr(&b, "app.users"); tb_u32(&b, 0); tb_doc(&b, sel);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.shape, "delete app.users {email: ?}");

	tb_begin(&b, 14, 0, MONGO_OP_GET_MORE);	/* 0, ns, numberToReturn, cursorID */
	tb_u32(&b, 0); tb_cstr(&b, "app.users"); tb_u32(&b, 10); tb_u32(&b, 5); tb_u32(&b, 0);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.command, "getMore");
	assert_true(m.expects_reply);
	assert_int_equal(m.cursor_id, 5);

	tb_begin(&b, 15, 0, MONGO_OP_KILL_CURSORS);	/* 0, n, ids */
	tb_u32(&b, 0); tb_u32(&b, 2); tb_u32(&b, 5); tb_u32(&b, 0); tb_u32(&b, 6); tb_u32(&b, 0);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.command, "killCursors");
	tb_patch_u32(&b, 20, 3);	/* claims 3 ids, holds 2 */
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), -EINVAL);

	/* OP_QUERY on a collection with the legacy {$query: ...} wrapper */
	bson_t *wrapped = BCON_NEW("$query", "{", "age", "{", "$gt", BCON_INT32(30), "}", "}",
				   "$orderby", "{", "age", BCON_INT32(1), "}");
	tb_begin(&b, 16, 0, MONGO_OP_QUERY);
	tb_u32(&b, 0); tb_cstr(&b, "app.users"); tb_u32(&b, 0); tb_u32(&b, 0); tb_doc(&b, wrapped);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, NULL), 0);
	assert_string_equal(m.shape, "find app.users {age: {$gt: ?}}");

	/* OP_REPLY with QueryFailure: ok 0, code from {$err, code} */
	bson_t *err = BCON_NEW("$err", BCON_UTF8("boom"), "code", BCON_INT32(13));
	tb_begin(&b, 17, 16, MONGO_OP_REPLY);
	tb_u32(&b, MONGO_REPLY_FLAG_QUERY_FAILURE); tb_u32(&b, 0); tb_u32(&b, 0); tb_u32(&b, 0);
	tb_u32(&b, 1); tb_doc(&b, err);
	tb_end(&b);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.ok, 0);
	assert_int_equal(m.error_code, 13);
	assert_true(m.has_errmsg);

	bson_destroy(sel); bson_destroy(upd); bson_destroy(wrapped); bson_destroy(err);
	free(b.p);
}

/* Reply fields: ok as double/int/bool, code, cursor.nextBatch, writeConcernError. */
static void test_reply_fields(void **state)
{
	struct mongo_msg m;
	struct tbuf b = { 0 };
	(void)state;

	bson_t *r1 = BCON_NEW("cursor", "{", "nextBatch", "[", "{", "a", BCON_INT32(1), "}",
			      "{", "a", BCON_INT32(2), "}", "{", "a", BCON_INT32(3), "}", "]",
			      "id", BCON_INT64(77), "ns", BCON_UTF8("a.b"), "}", "ok", BCON_DOUBLE(1.0));
	tb_op_msg(&b, 1, 2, 0, r1);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.docs, 3);
	assert_int_equal(m.cursor_id, 77);
	assert_int_equal(m.ok, 1);

	bson_t *r2 = BCON_NEW("ok", BCON_INT32(0), "errmsg", BCON_UTF8("no"), "code", BCON_INT64(26));
	tb_op_msg(&b, 1, 2, 0, r2);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.ok, 0);
	assert_int_equal(m.error_code, 26);
	assert_true(m.has_errmsg);
	assert_int_equal(m.docs, 0);

	bson_t *r3 = BCON_NEW("n", BCON_INT32(1), "writeConcernError", "{", "code", BCON_INT32(64), "}",
			      "ok", BCON_BOOL(true));
	tb_op_msg(&b, 1, 2, 0, r3);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.ok, 1);
	assert_int_equal(m.error_code, 64);
	assert_int_equal(m.docs, 0);

	/*
	 * Key order does not matter: a top-level code wins over a writeErrors
	 * code written before it; a repeated key counts the first time; a
	 * writeErrors array makes ok:1 a failure.
	 */
	bson_t *r4 = BCON_NEW("writeErrors", "[", "{", "index", BCON_INT32(0), "code", BCON_INT32(11000),
			      "}", "]", "ok", BCON_INT32(1), "code", BCON_INT32(5), "ok", BCON_INT32(0),
			      "code", BCON_INT32(7));
	tb_op_msg(&b, 1, 2, 0, r4);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.ok, 0);
	assert_true(m.has_write_errors);
	assert_int_equal(m.error_code, 5);
	assert_false(m.has_errmsg);

	/* without a top-level code, the first write error's code; $err counts as an errmsg */
	bson_t *r5 = BCON_NEW("$err", BCON_UTF8("x"), "writeConcernError", "{", "code", BCON_INT32(64), "}",
			      "writeErrors", "[", "{", "code", BCON_INT32(11000), "}", "]", "ok", BCON_INT32(1));
	tb_op_msg(&b, 1, 2, 0, r5);
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REPLY, &m, NULL), 0);
	assert_int_equal(m.ok, 0);
	assert_int_equal(m.error_code, 11000);
	assert_true(m.has_errmsg);

	bson_destroy(r1); bson_destroy(r2); bson_destroy(r3); bson_destroy(r4); bson_destroy(r5);
	free(b.p);
}

/* A document libbson rejects (a string element whose length lies) is a BSON error. */
static void test_bad_bson(void **state)
{
	struct mongo_msg m;
	struct quality q = { 0 };
	struct tbuf b = { 0 };
	(void)state;
	/* {a: "x"} with the string length patched from 2 to 200 */
	bson_t *d = BCON_NEW("a", BCON_UTF8("x"));
	tb_op_msg(&b, 1, 0, 0, d);
	assert_int_equal(b.p[21 + 4 + 1 + 2], 2);
	b.p[21 + 4 + 1 + 2] = 200;
	assert_int_equal(mongo_msg_decode(b.p, b.len, MONGO_ROLE_REQUEST, &m, &q), -EBADMSG);
	assert_int_equal(q.mongo_bson_errors, 1);
	bson_destroy(d);
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packetbeat_vectors),
		cmocka_unit_test(test_op_query_reply),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_compressed_capture),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_packetbeat_unit_vectors),
		cmocka_unit_test(test_op_msg_kind1),
		cmocka_unit_test(test_op_msg_checksum_and_flags),
		cmocka_unit_test(test_op_compressed_roundtrip),
		cmocka_unit_test(test_decompression_bomb),
		cmocka_unit_test(test_legacy_opcodes),
		cmocka_unit_test(test_reply_fields),
		cmocka_unit_test(test_bad_bson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
