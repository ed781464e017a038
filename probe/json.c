/* json.c - streaming JSON writer (RFC 8259) for summary.json. */
#include "json.h"

#include <math.h>

void json_init(struct json_writer *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = 1;
}

static void put_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Separator, newline, indentation and "key": before any value. */
static void member(struct json_writer *j, const char *key)
{
	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		fputc('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	j->first[j->depth] = 0;
	if (key) {
		put_escaped(j->f, key);
		fputs(": ", j->f);
	}
}

static void open_scope(struct json_writer *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = 1;
}

static void close_scope(struct json_writer *j, char c)
{
	int empty = j->first[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (!empty) {
		fputc('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

void json_begin_object(struct json_writer *j, const char *key) { open_scope(j, key, '{'); }
void json_end_object(struct json_writer *j) { close_scope(j, '}'); }
void json_begin_array(struct json_writer *j, const char *key) { open_scope(j, key, '['); }
void json_end_array(struct json_writer *j) { close_scope(j, ']'); }

void json_string(struct json_writer *j, const char *key, const char *value)
{
	member(j, key);
	if (value)
		put_escaped(j->f, value);
	else
		fputs("null", j->f);
}

void json_int(struct json_writer *j, const char *key, int64_t value)
{
	member(j, key);
	fprintf(j->f, "%lld", (long long)value);
}

void json_uint(struct json_writer *j, const char *key, uint64_t value)
{
	member(j, key);
	fprintf(j->f, "%llu", (unsigned long long)value);
}

void json_double(struct json_writer *j, const char *key, double value, int decimals)
{
	member(j, key);
	if (!isfinite(value))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.*f", decimals, value);
}

void json_bool(struct json_writer *j, const char *key, int value)
{
	member(j, key);
	fputs(value ? "true" : "false", j->f);
}

void json_null(struct json_writer *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}
