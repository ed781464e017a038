/*
 * json.h - a small streaming JSON writer (RFC 8259) for summary.json: nested
 * objects and arrays, escaped strings, finite numbers only (NAN -> null),
 * two-space indentation so a person can read it.
 */
#ifndef TIERPROBE_JSON_H
#define TIERPROBE_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	FILE *f;
	int depth;
	int first[JSON_MAX_DEPTH];	/* no member written yet at this depth */
};

void json_init(struct json_writer *j, FILE *f);
/* key is NULL inside arrays and for the top level. */
void json_begin_object(struct json_writer *j, const char *key);
void json_end_object(struct json_writer *j);
void json_begin_array(struct json_writer *j, const char *key);
void json_end_array(struct json_writer *j);
void json_string(struct json_writer *j, const char *key, const char *value);	/* NULL -> null */
void json_int(struct json_writer *j, const char *key, int64_t value);
void json_uint(struct json_writer *j, const char *key, uint64_t value);
/* Written with up to `decimals` decimals, trailing zeros kept; NAN/inf -> null. */
void json_double(struct json_writer *j, const char *key, double value, int decimals);
void json_bool(struct json_writer *j, const char *key, int value);
void json_null(struct json_writer *j, const char *key);

#endif
