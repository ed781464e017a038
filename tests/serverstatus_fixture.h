/*
 * serverstatus_fixture.h - test support (header-only): loads serverStatus fixtures written as
 * BSON, relaxed/canonical extended JSON, or mongo-shell syntax (NumberLong(1), ISODate("..."),
 * Timestamp(a, b), ObjectId("..."), NumberInt(1), NumberDecimal("...")) into a bson_t.
 */
#ifndef TIERPROBE_TEST_SERVERSTATUS_FIXTURE_H
#define TIERPROBE_TEST_SERVERSTATUS_FIXTURE_H

#include <bson/bson.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file; malloc'd, NUL-terminated (*len excludes the NUL). NULL on error. */
static inline char *ssfx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		char *bigger = cap < (1u << 26) ? realloc(buf, cap * 2 + 1) : NULL;
		if (!bigger) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* Appends one shell-constructor argument: a quoted string (unquoted here) or a bare token. */
static inline const char *ssfx_shell_arg(const char *p, const char *end, bson_string_t *arg)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && (*p == '"' || *p == '\'')) {
		char q = *p++;
		while (p < end && *p != q) {
			char c[2] = { *p, '\0' };
			bson_string_append(arg, c);
			p++;
		}
		if (p < end)
			p++;
	} else {
		while (p < end && *p != ',' && *p != ')' && !isspace((unsigned char)*p)) {
			char c[2] = { *p, '\0' };
			bson_string_append(arg, c);
			p++;
		}
	}
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

/*
 * Rewrites mongo-shell constructors to extended JSON, leaving string contents alone. Returns a
 * malloc'd string (free with bson_free), or NULL when a constructor is malformed.
 */
static inline char *ssfx_shell_to_json(const char *in, size_t len)
{
	static const struct {
		const char *name;
		int nargs;
	} ctors[] = {
		{ "NumberLong", 1 }, { "NumberInt", 1 }, { "NumberDecimal", 1 },
		{ "ISODate", 1 },    { "ObjectId", 1 },  { "Timestamp", 2 },
	};
	const char *p = in, *end = in + len;
	bson_string_t *out = bson_string_new(NULL);
	while (p < end) {
		if (*p == '"') {
			/* Copy a JSON string verbatim, escapes included. */
			const char *s = p++;
			while (p < end && *p != '"')
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			if (p < end)
				p++;
			char *piece = bson_strndup(s, (size_t)(p - s));
			bson_string_append(out, piece);
			bson_free(piece);
			continue;
		}
		if (isalpha((unsigned char)*p)) {
			const char *s = p;
			while (p < end && isalnum((unsigned char)*p))
				p++;
			size_t n = (size_t)(p - s);
			const char *q = p;
			while (q < end && isspace((unsigned char)*q))
				q++;
			int which = -1;
			for (size_t i = 0; i < sizeof(ctors) / sizeof(ctors[0]); i++)
				if (strlen(ctors[i].name) == n && strncmp(s, ctors[i].name, n) == 0)
					which = (int)i;
			if (which < 0 || q >= end || *q != '(') {
				char *piece = bson_strndup(s, n);
				bson_string_append(out, piece);
				bson_free(piece);
				continue;
			}
			bson_string_t *a = bson_string_new(NULL), *b = bson_string_new(NULL);
			q = ssfx_shell_arg(q + 1, end, a);
			if (ctors[which].nargs == 2) {
				if (q < end && *q == ',')
					q = ssfx_shell_arg(q + 1, end, b);
			}
			bool ok = q < end && *q == ')' && a->len > 0 &&
				  (ctors[which].nargs == 1 || b->len > 0);
			if (ok) {
				const char *name = ctors[which].name;
				if (strcmp(name, "NumberLong") == 0)
					bson_string_append_printf(out, "{\"$numberLong\": \"%s\"}", a->str);
				else if (strcmp(name, "NumberInt") == 0)
					bson_string_append_printf(out, "{\"$numberInt\": \"%s\"}", a->str);
				else if (strcmp(name, "NumberDecimal") == 0)
					bson_string_append_printf(out, "{\"$numberDecimal\": \"%s\"}", a->str);
				else if (strcmp(name, "ISODate") == 0)
					bson_string_append_printf(out, "{\"$date\": \"%s\"}", a->str);
				else if (strcmp(name, "ObjectId") == 0)
					bson_string_append_printf(out, "{\"$oid\": \"%s\"}", a->str);
				else
					bson_string_append_printf(out, "{\"$timestamp\": {\"t\": %s, \"i\": %s}}",
								  a->str, b->str);
				p = q + 1;
			}
			bson_string_free(a, true);
			bson_string_free(b, true);
			if (!ok) {
				bson_string_free(out, true);
				return NULL;
			}
			continue;
		}
		char c[2] = { *p++, '\0' };
		bson_string_append(out, c);
	}
	return bson_string_free(out, false);
}

/*
 * Loads path into *doc (initialised here; bson_destroy it). A file whose first four bytes are
 * its own length (little-endian) is BSON; anything else is JSON or shell syntax. A document that
 * wraps the status in a "serverStatus" field (getDiagnosticData, FTDC) yields that sub-document.
 * Returns 0, or -1 with a reason printed to stderr.
 */
static inline int ssfx_load(const char *path, bson_t *doc)
{
	size_t len = 0;
	char *text = ssfx_read_file(path, &len);
	bson_init(doc);
	if (!text) {
		fprintf(stderr, "fixture %s: cannot read\n", path);
		return -1;
	}
	bson_t *whole = NULL;
	bson_error_t err;
	memset(&err, 0, sizeof(err));
	if (len >= 5 && (uint32_t)((unsigned char)text[0] | (unsigned char)text[1] << 8 |
				   (unsigned char)text[2] << 16 | (uint32_t)(unsigned char)text[3] << 24) == len) {
		whole = bson_new_from_data((const uint8_t *)text, len);
		if (whole && !bson_validate(whole, 0, NULL)) {
			bson_destroy(whole);
			whole = NULL;
		}
		if (!whole)
			snprintf(err.message, sizeof(err.message), "invalid BSON");
	} else {
		char *json = ssfx_shell_to_json(text, len);
		if (json)
			whole = bson_new_from_json((const uint8_t *)json, -1, &err);
		else
			snprintf(err.message, sizeof(err.message), "malformed shell constructor");
		bson_free(json);
	}
	free(text);
	if (!whole) {
		fprintf(stderr, "fixture %s: %s\n", path, err.message);
		return -1;
	}
	bson_iter_t it;
	uint32_t n = 0;
	const uint8_t *data = NULL;
	bson_t sub;
	bson_destroy(doc);
	if (bson_iter_init_find(&it, whole, "serverStatus") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_document(&it, &n, &data);
		if (bson_init_static(&sub, data, n)) {
			bson_copy_to(&sub, doc);
			bson_destroy(whole);
			return 0;
		}
	}
	bson_copy_to(whole, doc);
	bson_destroy(whole);
	return 0;
}

#endif
