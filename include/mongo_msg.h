/*
 * mongo_msg.h - decodes ONE complete MongoDB wire-protocol message (header and
 * body, as framed by collectors/mongo.c) into a summary: the header, the
 * opcode after OP_COMPRESSED is unwrapped, and for a request its command, db,
 * collection and query shape, for a reply its ok/code/writeErrors/docs.
 * Spec: https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
 *
 * Every value stays inside the library: only names and shapes are copied out.
 */
#ifndef TIERPROBE_MONGO_MSG_H
#define TIERPROBE_MONGO_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "mongo_shape.h"
#include "quality.h"
#include "txn.h"

#define MONGO_MSG_HEADER_LEN 16
#define MONGO_MSG_MIN_LEN 16
/* mongod's maxMessageSizeBytes; the cap for a wire message and for a decompressed one. */
#define MONGO_MSG_MAX_LEN 48000000
#define MONGO_MSG_MAX_UNCOMPRESSED MONGO_MSG_MAX_LEN

enum mongo_opcode {
	MONGO_OP_REPLY = 1,
	MONGO_OP_LEGACY_MSG = 1000,	/* pre-2011 OP_MSG: a cstring, no reply; known, content-free */
	MONGO_OP_UPDATE = 2001,
	MONGO_OP_INSERT = 2002,
	MONGO_OP_QUERY = 2004,
	MONGO_OP_GET_MORE = 2005,
	MONGO_OP_DELETE = 2006,
	MONGO_OP_KILL_CURSORS = 2007,
	MONGO_OP_COMMAND = 2010,
	MONGO_OP_COMMANDREPLY = 2011,
	MONGO_OP_COMPRESSED = 2012,
	MONGO_OP_MSG = 2013,
};

/* OP_MSG flagBits */
#define MONGO_MSG_FLAG_CHECKSUM 0x1u
#define MONGO_MSG_FLAG_MORE_TO_COME 0x2u
#define MONGO_MSG_FLAG_EXHAUST_ALLOWED 0x10000u
/* OP_QUERY flags */
#define MONGO_QUERY_FLAG_EXHAUST 0x40u
/* OP_REPLY responseFlags */
#define MONGO_REPLY_FLAG_QUERY_FAILURE 0x2u

/* OP_COMPRESSED compressorId */
enum mongo_compressor {
	MONGO_COMPRESSOR_NOOP = 0,
	MONGO_COMPRESSOR_SNAPPY = 1,
	MONGO_COMPRESSOR_ZLIB = 2,
	MONGO_COMPRESSOR_ZSTD = 3,
};

/* Which side sent the message: the stream direction decides, never the header. */
enum mongo_role {
	MONGO_ROLE_REQUEST = 0,
	MONGO_ROLE_REPLY = 1,
};

struct mongo_msg_header {
	int32_t length;		/* messageLength, header included */
	int32_t request_id;
	int32_t response_to;
	int32_t opcode;
};

struct mongo_msg {
	struct mongo_msg_header h;	/* as on the wire (opcode 2012 if compressed) */
	int32_t opcode;			/* after unwrapping OP_COMPRESSED */
	int compressed;
	int32_t compressor_id;		/* when compressed */
	int32_t uncompressed_size;	/* when compressed: claimed, and checked */
	uint32_t flags;			/* OP_MSG flagBits, OP_QUERY flags, OP_REPLY responseFlags */
	int more_to_come;		/* OP_MSG flag 0x2 */
	int exhaust_allowed;		/* OP_MSG flag 0x10000 */
	int checksum_present;		/* OP_MSG flag 0x1: CRC-32C excluded, not verified */
	int sections;			/* OP_MSG sections seen */

	/* request side (role REQUEST) */
	int expects_reply;		/* 0: OP_MSG moreToCome, legacy writes, kill cursors */
	int is_command;			/* a command document (OP_MSG, db.$cmd, OP_COMMAND), not a legacy op */
	int awaitable;			/* hello/isMaster with maxAwaitTimeMS: a server monitor's long wait */
	char command[64];		/* "" when none */
	char db[MONGO_NAME_MAX];
	char collection[MONGO_NAME_MAX];
	char shape[MONGO_SHAPE_MAX];
	uint64_t shape_id;		/* 0 when there is no command */

	/* reply side (role REPLY) */
	int ok;				/* 1, 0, -1 unknown; 0 also when writeErrors is present */
	int32_t error_code;		/* "code", else first writeErrors[].code, else writeConcernError.code */
	int has_errmsg;
	int has_write_errors;
	int64_t docs;			/* cursor.firstBatch/nextBatch length, else OP_REPLY numberReturned, else 0 */
	int64_t cursor_id;
	int32_t number_returned;	/* OP_REPLY numberReturned; -1 for other opcodes */
	int single_doc_fields;		/* OP_REPLY: ok/code/docs were read from its one document */
};

/* Nonzero for the opcodes this decoder knows (the framing's plausibility test too). */
int mongo_opcode_known(int32_t opcode);

/* Reads the 16-byte header at p; returns 0, or -EINVAL when len < 16. Checks nothing else. */
int mongo_msg_header_read(const uint8_t *p, size_t len, struct mongo_msg_header *h);

/*
 * Decodes the complete message buf[0..len) (len must equal messageLength).
 * Counts in q (may be NULL): mongo_bson_errors, mongo_decompress_errors,
 * mongo_oversize (decompressed size over the cap), mongo_unknown_opcode_msgs
 * (and quality_note_unknown_opcode once per opcode). Returns 0, or
 *   -EINVAL   malformed (lengths that lie, missing fields, bad sections)
 *   -EBADMSG  a BSON document that libbson rejects
 *   -ENOTSUP  unknown opcode, or unknown compressor (skipped, counted)
 *   -EMSGSIZE over a size cap
 *   -EPROTO   decompression failed or produced a size other than claimed
 *   -ENOMEM
 * Decompression never allocates more than min(claimed size, the 48 MB cap)
 * and grows its buffer only as real output arrives (zlib, zstd).
 * m is fully initialised even on error (header fields when they were read).
 */
int mongo_msg_decode(const uint8_t *buf, size_t len, enum mongo_role role,
		     struct mongo_msg *m, struct quality *q);

#endif
