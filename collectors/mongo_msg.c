/*
 * mongo_msg.c - decodes one complete MongoDB wire-protocol message into a
 * struct mongo_msg. Spec: the MongoDB Wire Protocol (OP_MSG, OP_COMPRESSED,
 * legacy opcodes), https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
 *
 * Every message starts with a little-endian header:
 *
 *   0        4          8           12       16
 *   +--------+----------+-----------+--------+------------------ ... -+
 *   | length | requestID| responseTo| opCode | body (length - 16 bytes) |
 *   +--------+----------+-----------+--------+------------------ ... -+
 *
 * Untrusted bytes are read through struct rd only; BSON goes to libbson.
 */
#include "mongo_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

/* zlib/zstd output grows from here, doubling, never past the claimed size. */
#define DECOMP_FIRST_CHUNK 65536

/* ---- the one bounds-checked reader ---------------------------------------- */

/* cur..end is what is left; err is sticky, so a group of reads is checked once. */
struct rd {
	const uint8_t *cur;
	const uint8_t *end;
	int err;
};

static void rd_init(struct rd *r, const uint8_t *p, size_t len)
{
	r->cur = p;
	r->end = p + len;
	r->err = 0;
}

static size_t rd_left(const struct rd *r)
{
	return (size_t)(r->end - r->cur);
}

static int rd_room(struct rd *r, size_t n)
{
	if (r->err || rd_left(r) < n) {
		r->err = 1;
		return 0;
	}
	return 1;
}

static uint8_t rd_u8(struct rd *r)
{
	if (!rd_room(r, 1))
		return 0;
	return *r->cur++;
}

static uint32_t rd_u32(struct rd *r)
{
	if (!rd_room(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->cur[0] | (uint32_t)r->cur[1] << 8 |
		     (uint32_t)r->cur[2] << 16 | (uint32_t)r->cur[3] << 24;
	r->cur += 4;
	return v;
}

static int32_t rd_i32(struct rd *r)
{
	return (int32_t)rd_u32(r);
}

static int64_t rd_i64(struct rd *r)
{
	uint64_t lo = rd_u32(r);
	uint64_t hi = rd_u32(r);
	return (int64_t)(lo | hi << 32);
}

/* A NUL-terminated string that must end inside the reader; returns it, sets *n. */
static const char *rd_cstring(struct rd *r, size_t *n)
{
	if (r->err || rd_left(r) == 0) {
		r->err = 1;
		return NULL;
	}
	const uint8_t *nul = memchr(r->cur, 0, rd_left(r));
	if (!nul) {
		r->err = 1;
		return NULL;
	}
	const char *s = (const char *)r->cur;
	*n = (size_t)(nul - r->cur);
	r->cur = nul + 1;
	return s;
}

/*
 * One BSON document: int32 length (5.. bytes left), then one walk over its
 * top-level elements, whose lengths libbson checks (a corrupt element stops
 * the walk with err_off set). Nested documents are checked the same way when
 * a reader recurses into them, so nothing is read out of bounds; a full
 * bson_validate() of every reply document (UTF-8 included) cost more than
 * all the rest of the decoding and is not needed for that.
 * Returns 0, -EINVAL (length lies), -EBADMSG (libbson rejects it).
 */
static int rd_doc(struct rd *r, bson_t *b)
{
	if (!rd_room(r, 4))
		return -EINVAL;
	int32_t n = (int32_t)((uint32_t)r->cur[0] | (uint32_t)r->cur[1] << 8 |
			      (uint32_t)r->cur[2] << 16 | (uint32_t)r->cur[3] << 24);
	if (n < 5 || (size_t)n > rd_left(r)) {
		r->err = 1;
		return -EINVAL;
	}
	bson_iter_t it;
	int bad = !bson_init_static(b, r->cur, (size_t)n) || !bson_iter_init(&it, b);
	while (!bad && bson_iter_next(&it))
		;
	if (bad || it.err_off != 0) {
		r->err = 1;
		return -EBADMSG;
	}
	r->cur += n;
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

int mongo_opcode_known(int32_t opcode)
{
	switch (opcode) {
	case MONGO_OP_REPLY: case MONGO_OP_LEGACY_MSG: case MONGO_OP_UPDATE:
	case MONGO_OP_INSERT: case MONGO_OP_QUERY: case MONGO_OP_GET_MORE:
	case MONGO_OP_DELETE: case MONGO_OP_KILL_CURSORS: case MONGO_OP_COMMAND:
	case MONGO_OP_COMMANDREPLY: case MONGO_OP_COMPRESSED: case MONGO_OP_MSG:
		return 1;
	}
	return 0;
}

int mongo_msg_header_read(const uint8_t *p, size_t len, struct mongo_msg_header *h)
{
	struct rd r;
	rd_init(&r, p, len);
	h->length = rd_i32(&r);
	h->request_id = rd_i32(&r);
	h->response_to = rd_i32(&r);
	h->opcode = rd_i32(&r);
	return r.err ? -EINVAL : 0;
}

/* Copies a name (db, collection, command) cut to fit; control bytes become '?'. */
static void copy_name(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[n] = '\0';
}

/* "db.coll.with.dots" -> db, coll (split at the first dot, as mongod does). */
static void split_ns(struct mongo_msg *m, const char *ns, size_t n)
{
	const char *dot = memchr(ns, '.', n);
	if (!dot) {
		copy_name(m->db, sizeof(m->db), ns, n);
		return;
	}
	copy_name(m->db, sizeof(m->db), ns, (size_t)(dot - ns));
	copy_name(m->collection, sizeof(m->collection), dot + 1, n - (size_t)(dot - ns) - 1);
}

static int iter_string(bson_iter_t *it, const char **s, size_t *n)
{
	uint32_t len;
	if (!BSON_ITER_HOLDS_UTF8(it))
		return 0;
	*s = bson_iter_utf8(it, &len);
	*n = len;
	return 1;
}

/* ok/code may be double, int32, int64 or bool depending on the server version. */
static int iter_number(bson_iter_t *it, int64_t *v)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_DOUBLE: {
		double d = bson_iter_double(it);
		if (!(d > -9.2e18 && d < 9.2e18))
			return 0;
		*v = (int64_t)d;
		return 1;
	}
	case BSON_TYPE_INT32: *v = bson_iter_int32(it); return 1;
	case BSON_TYPE_INT64: *v = bson_iter_int64(it); return 1;
	case BSON_TYPE_BOOL: *v = bson_iter_bool(it); return 1;
	default: return 0;
	}
}

static int32_t clamp_code(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* A document is a wrapper when its first key is $query or query holding a document. */
static int unwrap_query(const bson_t *doc, bson_t *inner)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t n;
	if (!bson_iter_init(&it, doc) || !bson_iter_next(&it))
		return 0;
	if (strcmp(bson_iter_key(&it), "$query") != 0 && strcmp(bson_iter_key(&it), "query") != 0)
		return 0;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it))
		return 0;
	bson_iter_document(&it, &n, &data);
	return bson_init_static(inner, data, n);
}

static void finish_shape(struct mongo_msg *m)
{
	if (m->command[0])
		m->shape_id = mongo_shape_id(m->db, m->collection, m->command, m->shape);
}

/*
 * The command document of a request (OP_MSG body, OP_QUERY on db.$cmd,
 * OP_COMMAND commandArgs). name, when not NULL, is the command name carried
 * outside the document (OP_COMMAND); db is set by the caller unless the
 * document has $db (OP_MSG).
 */
static void request_from_command(struct mongo_msg *m, const bson_t *cmd, const char *name,
				 size_t name_len, const bson_t *seq_first)
{
	bson_iter_t it;
	const char *s;
	size_t n;

	if (!bson_iter_init(&it, cmd))
		return;
	if (bson_iter_next(&it)) {
		if (!name) {
			name = bson_iter_key(&it);
			name_len = bson_iter_key_len(&it);
		}
		if (iter_string(&it, &s, &n))
			copy_name(m->collection, sizeof(m->collection), s, n);
	}
	m->is_command = 1;
	if (name)
		copy_name(m->command, sizeof(m->command), name, name_len);
	if (bson_iter_init_find(&it, cmd, "$db") && iter_string(&it, &s, &n))
		copy_name(m->db, sizeof(m->db), s, n);
	if (strcmp(m->command, "getMore") == 0 && bson_iter_init_find(&it, cmd, "collection") &&
	    iter_string(&it, &s, &n))
		copy_name(m->collection, sizeof(m->collection), s, n);
	/*
	 * The streaming monitor protocol (MongoDB 4.4+ drivers): a hello that
	 * carries maxAwaitTimeMS is answered only when the topology changes or
	 * the time is up.
	 */
	if ((strcmp(m->command, "hello") == 0 || strcasecmp(m->command, "isMaster") == 0) &&
	    bson_iter_init_find(&it, cmd, "maxAwaitTimeMS"))
		m->awaitable = 1;
	mongo_shape_command(m->command, m->db, m->collection, cmd, NULL, seq_first,
			    m->shape, sizeof(m->shape));
	finish_shape(m);
}

/* A legacy operation on a namespace: the command is implied by the opcode. */
static void request_legacy(struct mongo_msg *m, const char *command, const char *ns, size_t ns_len,
			   const bson_t *filter)
{
	copy_name(m->command, sizeof(m->command), command, strlen(command));
	if (ns)
		split_ns(m, ns, ns_len);
	mongo_shape_command(m->command, m->db, m->collection, NULL, filter, NULL,
			    m->shape, sizeof(m->shape));
	finish_shape(m);
}

/*
 * ok, code, errmsg, writeErrors, cursor.{firstBatch,nextBatch,id} of a reply
 * document. One walk over its keys remembers where each of them is (the
 * first occurrence, as bson_iter_find() would give); they are then read in a
 * fixed order, since a writeErrors code only counts when there is no
 * top-level one, whatever order the server wrote them in.
 */
static void reply_from_doc(struct mongo_msg *m, const bson_t *doc)
{
	bson_iter_t it, ok_it, code_it, we_it, wce_it, cursor_it, sub, arr;
	int have_ok = 0, have_code = 0, have_we = 0, have_wce = 0, have_cursor = 0;
	int64_t v;

	if (!bson_iter_init(&it, doc))
		return;
	while (bson_iter_next(&it)) {
		const char *k = bson_iter_key(&it);
		if (!have_ok && strcmp(k, "ok") == 0) {
			ok_it = it;
			have_ok = 1;
		} else if (!have_code && strcmp(k, "code") == 0) {
			code_it = it;
			have_code = 1;
		} else if (strcmp(k, "errmsg") == 0 || strcmp(k, "$err") == 0) {
			m->has_errmsg = 1;
		} else if (!have_we && strcmp(k, "writeErrors") == 0) {
			we_it = it;
			have_we = 1;
		} else if (!have_wce && strcmp(k, "writeConcernError") == 0) {
			wce_it = it;
			have_wce = 1;
		} else if (!have_cursor && strcmp(k, "cursor") == 0) {
			cursor_it = it;
			have_cursor = 1;
		}
	}
	if (have_ok && iter_number(&ok_it, &v))
		m->ok = v != 0;
	if (have_code && iter_number(&code_it, &v))
		m->error_code = clamp_code(v);
	/* ok:1 with writeErrors is a failed write (Packetbeat: status Error). */
	if (have_we && BSON_ITER_HOLDS_ARRAY(&we_it) && bson_iter_recurse(&we_it, &arr) &&
	    bson_iter_next(&arr)) {
		m->has_write_errors = 1;
		m->ok = 0;
		if (!m->error_code && BSON_ITER_HOLDS_DOCUMENT(&arr) && bson_iter_recurse(&arr, &sub) &&
		    bson_iter_find(&sub, "code") && iter_number(&sub, &v))
			m->error_code = clamp_code(v);
	}
	if (!m->error_code && have_wce && BSON_ITER_HOLDS_DOCUMENT(&wce_it) &&
	    bson_iter_recurse(&wce_it, &sub) && bson_iter_find(&sub, "code") && iter_number(&sub, &v))
		m->error_code = clamp_code(v);
	if (have_cursor && BSON_ITER_HOLDS_DOCUMENT(&cursor_it) && bson_iter_recurse(&cursor_it, &sub)) {
		while (bson_iter_next(&sub)) {
			const char *k = bson_iter_key(&sub);
			if ((strcmp(k, "firstBatch") == 0 || strcmp(k, "nextBatch") == 0) &&
			    BSON_ITER_HOLDS_ARRAY(&sub) && bson_iter_recurse(&sub, &arr)) {
				int64_t count = 0;
				while (bson_iter_next(&arr))
					count++;
				m->docs = count;
			} else if (strcmp(k, "id") == 0 && iter_number(&sub, &v)) {
				m->cursor_id = v;
			}
		}
	}
}

/* ---- per-opcode bodies -------------------------------------------------------- */

/*
 * OP_MSG (2013):
 *   uint32 flagBits | section+ | [uint32 CRC-32C when flagBits & 0x1]
 *   section kind 0:  0x00 | BSON document (the body)
 *   section kind 1:  0x01 | int32 size | cstring identifier | BSON document*
 *                          \____ size counts itself, identifier and documents ____/
 * The checksum is excluded from the sections and not verified: a capture
 * tool gains nothing from rejecting what the server accepted.
 */
static int decode_op_msg(struct rd *r, enum mongo_role role, struct mongo_msg *m)
{
	bson_t body, seq_first, doc;
	int have_body = 0, have_seq = 0, rc;

	m->flags = rd_u32(r);
	if (r->err)
		return -EINVAL;
	m->checksum_present = !!(m->flags & MONGO_MSG_FLAG_CHECKSUM);
	m->more_to_come = !!(m->flags & MONGO_MSG_FLAG_MORE_TO_COME);
	m->exhaust_allowed = !!(m->flags & MONGO_MSG_FLAG_EXHAUST_ALLOWED);
	if (m->checksum_present) {
		if (rd_left(r) < 4)
			return -EINVAL;
		r->end -= 4;
	}
	while (rd_left(r) > 0) {
		uint8_t kind = rd_u8(r);
		m->sections++;
		if (kind == 0) {
			if (have_body)
				return -EINVAL;	/* exactly one body, as mongod requires */
			if ((rc = rd_doc(r, &body)) < 0)
				return rc;
			have_body = 1;
		} else if (kind == 1) {
			int32_t size = rd_i32(r);
			if (r->err || size < 5 || (size_t)size - 4 > rd_left(r))
				return -EINVAL;
			struct rd s;
			size_t idlen;
			rd_init(&s, r->cur, (size_t)size - 4);
			r->cur += size - 4;
			const char *id = rd_cstring(&s, &idlen);
			if (!id)
				return -EINVAL;
			int first = 1;
			while (rd_left(&s) > 0) {
				if ((rc = rd_doc(&s, &doc)) < 0)
					return rc;
				if (first && (strcmp(id, "updates") == 0 || strcmp(id, "deletes") == 0)) {
					seq_first = doc;
					have_seq = 1;
				}
				first = 0;
			}
		} else {
			return -EINVAL;
		}
	}
	if (!have_body)
		return -EINVAL;
	if (role == MONGO_ROLE_REQUEST) {
		m->expects_reply = !m->more_to_come;
		request_from_command(m, &body, NULL, 0, have_seq ? &seq_first : NULL);
	} else {
		m->docs = 0;
		reply_from_doc(m, &body);
	}
	return 0;
}

/*
 * OP_QUERY (2004):
 *   int32 flags | cstring fullCollectionName | int32 numberToSkip |
 *   int32 numberToReturn | document query | [document returnFieldsSelector]
 * "db.$cmd" queries are commands (name = first key, after unwrapping
 * {$query: ...}); anything else is a find on db.collection.
 */
static int decode_op_query(struct rd *r, struct mongo_msg *m)
{
	bson_t query, inner, fields;
	size_t ns_len = 0;
	int rc;

	m->flags = rd_u32(r);
	const char *ns = rd_cstring(r, &ns_len);
	(void)rd_i32(r);
	(void)rd_i32(r);
	if (r->err)
		return -EINVAL;
	if ((rc = rd_doc(r, &query)) < 0)
		return rc;
	if (rd_left(r) > 0 && (rc = rd_doc(r, &fields)) < 0)
		return rc;
	const bson_t *q = unwrap_query(&query, &inner) ? &inner : &query;
	m->expects_reply = 1;
	const char *dot = memchr(ns, '.', ns_len);
	if (dot && (size_t)(ns + ns_len - dot) == 5 && memcmp(dot, ".$cmd", 5) == 0) {
		copy_name(m->db, sizeof(m->db), ns, (size_t)(dot - ns));
		request_from_command(m, q, NULL, 0, NULL);
	} else {
		request_legacy(m, "find", ns, ns_len, q);
	}
	return 0;
}

/*
 * OP_REPLY (1):
 *   int32 responseFlags | int64 cursorID | int32 startingFrom |
 *   int32 numberReturned | document*
 */
static int decode_op_reply(struct rd *r, struct mongo_msg *m)
{
	bson_t doc, first;
	int ndocs = 0, rc;

	m->flags = rd_u32(r);
	m->cursor_id = rd_i64(r);
	(void)rd_i32(r);
	int32_t nret = rd_i32(r);
	if (r->err)
		return -EINVAL;
	while (rd_left(r) > 0) {
		if ((rc = rd_doc(r, &doc)) < 0)
			return rc;
		if (ndocs++ == 0)
			first = doc;
	}
	m->number_returned = nret;
	m->docs = nret < 0 ? 0 : nret;
	m->ok = 1;
	/*
	 * A command answers with one document carrying ok/code; a query failure
	 * sets the flag and sends {$err, code}. Data documents of a plain query
	 * are not looked at beyond the single-document case.
	 */
	if (m->flags & MONGO_REPLY_FLAG_QUERY_FAILURE) {
		m->ok = 0;
		if (ndocs)
			reply_from_doc(m, &first);
		m->ok = 0;
	} else if (ndocs == 1) {
		/* a command's answer, or one data document: only the caller knows (see mongo.c) */
		reply_from_doc(m, &first);
		m->single_doc_fields = 1;
	}
	return 0;
}

/* Whether doc's first key is name (case-insensitively: findandmodify). */
static int first_key_is(const bson_t *doc, const char *name, size_t n)
{
	bson_iter_t it;
	return bson_iter_init(&it, doc) && bson_iter_next(&it) &&
	       bson_iter_key_len(&it) == n && strncasecmp(bson_iter_key(&it), name, n) == 0;
}

/*
 * OP_COMMAND (2010, MongoDB 3.2-3.6):
 *   cstring database | cstring commandName | document | document | document*
 * The spec says metadata then commandArgs, servers wrote commandArgs then
 * metadata; commandArgs is the one whose first key is the command name.
 */
static int decode_op_command(struct rd *r, struct mongo_msg *m)
{
	bson_t a, b, doc;
	size_t db_len, name_len;
	int rc;

	const char *db = rd_cstring(r, &db_len);
	const char *name = rd_cstring(r, &name_len);
	if (r->err)
		return -EINVAL;
	if ((rc = rd_doc(r, &a)) < 0 || (rc = rd_doc(r, &b)) < 0)
		return rc;
	while (rd_left(r) > 0)
		if ((rc = rd_doc(r, &doc)) < 0)
			return rc;
	m->expects_reply = 1;
	copy_name(m->db, sizeof(m->db), db, db_len);
	const bson_t *args = first_key_is(&b, name, name_len) && !first_key_is(&a, name, name_len)
				     ? &b : &a;
	request_from_command(m, args, name, name_len, NULL);
	return 0;
}

/*
 * OP_COMMANDREPLY (2011):  document | document | document*
 * (metadata and commandReply, in either order: the reply is the one with "ok").
 */
static int decode_op_commandreply(struct rd *r, struct mongo_msg *m)
{
	bson_t a, b, doc;
	bson_iter_t it;
	int rc;

	if ((rc = rd_doc(r, &a)) < 0 || (rc = rd_doc(r, &b)) < 0)
		return rc;
	while (rd_left(r) > 0)
		if ((rc = rd_doc(r, &doc)) < 0)
			return rc;
	m->docs = 0;
	reply_from_doc(m, bson_iter_init_find(&it, &a, "ok") ? &a : &b);
	return 0;
}

/*
 * Legacy writes and cursors (no reply except OP_GET_MORE):
 *   OP_UPDATE  2001: int32 0 | cstring ns | int32 flags | doc selector | doc update
 *   OP_INSERT  2002: int32 flags | cstring ns | doc+
 *   OP_GET_MORE 2005: int32 0 | cstring ns | int32 numberToReturn | int64 cursorID
 *   OP_DELETE  2006: int32 0 | cstring ns | int32 flags | doc selector
 *   OP_KILL_CURSORS 2007: int32 0 | int32 n | int64 cursorIDs[n]
 */
static int decode_legacy(struct rd *r, struct mongo_msg *m)
{
	bson_t sel, doc;
	size_t ns_len = 0;
	const char *ns = NULL;
	int rc;

	m->flags = rd_u32(r);
	if (m->opcode != MONGO_OP_KILL_CURSORS)
		ns = rd_cstring(r, &ns_len);
	if (r->err)
		return -EINVAL;
	switch (m->opcode) {
	case MONGO_OP_UPDATE:
	case MONGO_OP_DELETE:
		(void)rd_i32(r);
		if (r->err)
			return -EINVAL;
		if ((rc = rd_doc(r, &sel)) < 0)
			return rc;
		if (m->opcode == MONGO_OP_UPDATE && (rc = rd_doc(r, &doc)) < 0)
			return rc;
		request_legacy(m, m->opcode == MONGO_OP_UPDATE ? "update" : "delete", ns, ns_len, &sel);
		return 0;
	case MONGO_OP_INSERT:
		do {
			if ((rc = rd_doc(r, &doc)) < 0)
				return rc;
		} while (rd_left(r) > 0);
		request_legacy(m, "insert", ns, ns_len, NULL);
		return 0;
	case MONGO_OP_GET_MORE:
		(void)rd_i32(r);
		m->cursor_id = rd_i64(r);
		if (r->err)
			return -EINVAL;
		m->expects_reply = 1;
		request_legacy(m, "getMore", ns, ns_len, NULL);
		return 0;
	case MONGO_OP_KILL_CURSORS: {
		int32_t n = rd_i32(r);
		if (r->err || n < 0 || rd_left(r) / 8 < (size_t)n)
			return -EINVAL;
		request_legacy(m, "killCursors", NULL, 0, NULL);
		return 0;
	}
	}
	return -EINVAL;
}

/* The body of a message whose (possibly unwrapped) opcode is m->opcode. */
static int decode_body(const uint8_t *p, size_t len, enum mongo_role role, struct mongo_msg *m)
{
	struct rd r;
	size_t n;
	rd_init(&r, p, len);
	switch (m->opcode) {
	case MONGO_OP_MSG: return decode_op_msg(&r, role, m);
	case MONGO_OP_QUERY: return decode_op_query(&r, m);
	case MONGO_OP_REPLY: return decode_op_reply(&r, m);
	case MONGO_OP_COMMAND: return decode_op_command(&r, m);
	case MONGO_OP_COMMANDREPLY: return decode_op_commandreply(&r, m);
	case MONGO_OP_UPDATE: case MONGO_OP_INSERT: case MONGO_OP_GET_MORE:
	case MONGO_OP_DELETE: case MONGO_OP_KILL_CURSORS:
		return decode_legacy(&r, m);
	case MONGO_OP_LEGACY_MSG:
		/* a cstring message; known, content-free, never answered */
		return rd_cstring(&r, &n) ? 0 : -EINVAL;
	}
	return -ENOTSUP;
}

/* ---- OP_COMPRESSED ------------------------------------------------------------ */

/*
 * Grows *buf (capacity *cap) towards want, doubling; returns 0 or -ENOMEM.
 * Memory follows real output, so a 20-byte message claiming 48 MB costs 64 KB.
 */
static int grow(uint8_t **buf, size_t *cap, size_t want)
{
	size_t ncap = *cap ? *cap * 2 : DECOMP_FIRST_CHUNK;
	if (ncap > want)
		ncap = want;
	uint8_t *nb = realloc(*buf, ncap ? ncap : 1);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int inflate_zlib(const uint8_t *src, size_t srclen, size_t want, uint8_t **out)
{
	z_stream z;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = -EPROTO, zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)src;	/* zlib's API is not const-correct */
	z.avail_in = (uInt)srclen;
	for (;;) {
		if (z.total_out == cap) {
			if (cap == want) {
				/* room for one byte more tells "exactly want" from "more" */
				uint8_t extra;
				z.next_out = &extra;
				z.avail_out = 1;
				zr = inflate(&z, Z_FINISH);
				rc = (zr == Z_STREAM_END && z.total_out == want) ? 0 : -EPROTO;
				break;
			}
			if ((rc = grow(&buf, &cap, want)) < 0)
				break;
			rc = -EPROTO;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			rc = z.total_out == want ? 0 : -EPROTO;
			break;
		}
		if (zr != Z_OK)
			break;	/* corrupt, or input ended before the stream did */
	}
	inflateEnd(&z);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

static int inflate_zstd(const uint8_t *src, size_t srclen, size_t want, uint8_t **out)
{
	ZSTD_DStream *zs = ZSTD_createDStream();
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = -EPROTO;
	ZSTD_inBuffer in = { src, srclen, 0 };
	ZSTD_outBuffer ob = { NULL, 0, 0 };

	if (!zs)
		return -ENOMEM;
	unsigned long long content = ZSTD_getFrameContentSize(src, srclen);
	if (content == ZSTD_CONTENTSIZE_ERROR ||
	    (content != ZSTD_CONTENTSIZE_UNKNOWN && content != want))
		goto out;
	ZSTD_initDStream(zs);
	for (;;) {
		if (ob.pos == cap) {
			if (cap == want) {
				uint8_t extra;
				ZSTD_outBuffer one = { &extra, 1, 0 };
				size_t zr = ZSTD_decompressStream(zs, &one, &in);
				rc = (!ZSTD_isError(zr) && zr == 0 && one.pos == 0) ? 0 : -EPROTO;
				break;
			}
			if ((rc = grow(&buf, &cap, want)) < 0)
				break;
			rc = -EPROTO;
		}
		ob.dst = buf;
		ob.size = cap;
		size_t zr = ZSTD_decompressStream(zs, &ob, &in);
		if (ZSTD_isError(zr))
			break;
		if (zr == 0) {	/* frame complete */
			rc = ob.pos == want ? 0 : -EPROTO;
			break;
		}
		if (in.pos == in.size && ob.pos < cap)
			break;	/* input ran out mid-frame */
	}
out:
	ZSTD_freeDStream(zs);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

static int inflate_snappy(const uint8_t *src, size_t srclen, size_t want, uint8_t **out)
{
	size_t ulen;
	/* snappy states its output length up front: check it before allocating */
	if (snappy_uncompressed_length((const char *)src, srclen, &ulen) != SNAPPY_OK || ulen != want)
		return -EPROTO;
	/* a stream that merely claims 48 MB must not cost 48 MB: validate without output first */
	if (snappy_validate_compressed_buffer((const char *)src, srclen) != SNAPPY_OK)
		return -EPROTO;
	uint8_t *buf = malloc(want ? want : 1);
	if (!buf)
		return -ENOMEM;
	size_t olen = want;
	if (snappy_uncompress((const char *)src, srclen, (char *)buf, &olen) != SNAPPY_OK ||
	    olen != want) {
		free(buf);
		return -EPROTO;
	}
	*out = buf;
	return 0;
}

/*
 * OP_COMPRESSED (2012):
 *   header | int32 originalOpcode | int32 uncompressedSize | uint8 compressorId | bytes
 * uncompressedSize is the size of the original body, header excluded.
 */
static int decode_compressed(struct rd *r, enum mongo_role role, struct mongo_msg *m,
			     struct quality *q)
{
	m->opcode = rd_i32(r);
	m->uncompressed_size = rd_i32(r);
	m->compressor_id = rd_u8(r);
	m->compressed = 1;
	if (r->err)
		return -EINVAL;
	if (m->opcode == MONGO_OP_COMPRESSED)
		return -EINVAL;	/* no nesting */
	if (!mongo_opcode_known(m->opcode))
		return -ENOTSUP;
	if (m->uncompressed_size < 0 || m->uncompressed_size > MONGO_MSG_MAX_UNCOMPRESSED - MONGO_MSG_HEADER_LEN) {
		if (q)
			q->mongo_oversize++;
		return -EMSGSIZE;
	}
	if (m->uncompressed_size == 0)
		return -EINVAL;	/* every known opcode has a body */
	size_t want = (size_t)m->uncompressed_size;
	const uint8_t *src = r->cur;
	size_t srclen = rd_left(r);
	uint8_t *plain = NULL;
	int rc;

	switch (m->compressor_id) {
	case MONGO_COMPRESSOR_NOOP:
		if (srclen != want) {
			rc = -EPROTO;
			break;
		}
		return decode_body(src, srclen, role, m);
	case MONGO_COMPRESSOR_SNAPPY: rc = inflate_snappy(src, srclen, want, &plain); break;
	case MONGO_COMPRESSOR_ZLIB: rc = inflate_zlib(src, srclen, want, &plain); break;
	case MONGO_COMPRESSOR_ZSTD: rc = inflate_zstd(src, srclen, want, &plain); break;
	default:
		if (q)
			q->mongo_decompress_errors++;
		return -ENOTSUP;
	}
	if (rc < 0) {
		if (q && rc == -EPROTO)
			q->mongo_decompress_errors++;
		return rc;
	}
	rc = decode_body(plain, want, role, m);
	free(plain);
	return rc;
}

int mongo_msg_decode(const uint8_t *buf, size_t len, enum mongo_role role,
		     struct mongo_msg *m, struct quality *q)
{
	struct rd r;
	int rc;

	memset(m, 0, sizeof(*m));
	m->ok = -1;
	m->docs = -1;
	m->number_returned = -1;
	if (mongo_msg_header_read(buf, len, &m->h) < 0)
		return -EINVAL;
	if (m->h.length < MONGO_MSG_MIN_LEN || (size_t)m->h.length != len)
		return -EINVAL;
	if (m->h.length > MONGO_MSG_MAX_LEN) {
		if (q)
			q->mongo_oversize++;
		return -EMSGSIZE;
	}
	m->opcode = m->h.opcode;
	rd_init(&r, buf + MONGO_MSG_HEADER_LEN, len - MONGO_MSG_HEADER_LEN);
	if (m->opcode == MONGO_OP_COMPRESSED)
		rc = decode_compressed(&r, role, m, q);
	else
		rc = decode_body(r.cur, rd_left(&r), role, m);
	if (rc == -ENOTSUP && !mongo_opcode_known(m->opcode) && q) {
		q->mongo_unknown_opcode_msgs++;
		quality_note_unknown_opcode(q, m->opcode);
	}
	if (rc == -EBADMSG && q)
		q->mongo_bson_errors++;
	return rc;
}
