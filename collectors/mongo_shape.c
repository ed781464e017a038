/* mongo_shape.c - MongoDB query shapes (field names and operators, never values); see mongo_shape.h. */
#include "mongo_shape.h"

#include <string.h>
#include <strings.h>

/* Deeper filters are legal BSON but no index cares; stop there, mark "...". */
#define SHAPE_MAX_DEPTH 16
/* A field name longer than this is cut: it is a name, but a shape is a summary. */
#define SHAPE_MAX_KEY 64

/* An append-only text buffer that remembers it ran out of room. */
struct shape_out {
	char *buf;
	size_t len;	/* capacity including the NUL */
	size_t used;
	int cut;
};

static void out_init(struct shape_out *o, char *buf, size_t len)
{
	o->buf = buf;
	o->len = len;
	o->used = 0;
	o->cut = 0;
	if (len)
		buf[0] = '\0';
}

static void out_mem(struct shape_out *o, const char *s, size_t n)
{
	if (o->len == 0 || o->cut) {
		o->cut = 1;
		return;
	}
	size_t room = o->len - 1 - o->used;
	if (n > room) {
		n = room;
		o->cut = 1;
	}
	memcpy(o->buf + o->used, s, n);
	o->used += n;
	o->buf[o->used] = '\0';
}

static void out_str(struct shape_out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

/* Field names are the application's, not values; still, no control bytes in a CSV cell. */
static void out_key(struct shape_out *o, const char *key, size_t keylen)
{
	char tmp[SHAPE_MAX_KEY];
	size_t n = keylen < sizeof(tmp) ? keylen : sizeof(tmp);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];
		tmp[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out_mem(o, tmp, n);
}

/* Marks a cut shape with "..." so a reader never mistakes it for a whole one. */
static size_t out_finish(struct shape_out *o)
{
	if (o->cut && o->len >= 4) {
		size_t at = o->used < o->len - 4 ? o->used : o->len - 4;
		memcpy(o->buf + at, "...", 4);
		o->used = at + 3;
	}
	return o->used;
}

static void shape_doc(struct shape_out *o, bson_iter_t *it, int depth);
static void shape_array(struct shape_out *o, bson_iter_t *it, int depth);

static int is_container(bson_type_t t)
{
	return t == BSON_TYPE_DOCUMENT || t == BSON_TYPE_ARRAY;
}

/* One value: containers recurse, every other type is a literal and becomes "?". */
static void shape_value(struct shape_out *o, bson_iter_t *it, int depth)
{
	bson_type_t t = bson_iter_type(it);
	bson_iter_t child;
	if (!is_container(t)) {
		out_str(o, "?");
		return;
	}
	if (depth >= SHAPE_MAX_DEPTH || !bson_iter_recurse(it, &child)) {
		out_str(o, t == BSON_TYPE_ARRAY ? "[...]" : "{...}");
		return;
	}
	if (t == BSON_TYPE_ARRAY)
		shape_array(o, &child, depth + 1);
	else
		shape_doc(o, &child, depth + 1);
}

static void shape_doc(struct shape_out *o, bson_iter_t *it, int depth)
{
	int first = 1;
	out_str(o, "{");
	while (bson_iter_next(it) && !o->cut) {
		if (!first)
			out_str(o, ", ");
		first = 0;
		out_key(o, bson_iter_key(it), bson_iter_key_len(it));
		out_str(o, ": ");
		shape_value(o, it, depth);
	}
	out_str(o, "}");
}

/*
 * An array of literals ($in: [1, 2, 3]) becomes "[?]" whatever its length,
 * so the shape does not leak the length either; an array holding documents
 * ($and/$or) shows each element's shape.
 */
static void shape_array(struct shape_out *o, bson_iter_t *it, int depth)
{
	bson_iter_t scan = *it;
	int containers = 0;
	while (bson_iter_next(&scan))
		if (is_container(bson_iter_type(&scan)))
			containers = 1;
	if (!containers) {
		out_str(o, "[?]");
		return;
	}
	int first = 1;
	out_str(o, "[");
	while (bson_iter_next(it) && !o->cut) {
		if (!first)
			out_str(o, ", ");
		first = 0;
		shape_value(o, it, depth);
	}
	out_str(o, "]");
}

static void shape_bson(struct shape_out *o, const bson_t *doc)
{
	bson_iter_t it;
	if (!doc || !bson_iter_init(&it, doc)) {
		out_str(o, "{}");
		return;
	}
	shape_doc(o, &it, 0);
}

size_t mongo_shape_filter(const bson_t *filter, char *out, size_t len)
{
	struct shape_out o;
	out_init(&o, out, len);
	shape_bson(&o, filter);
	return out_finish(&o);
}

/* Finds key in doc as a sub-document and points sub at it (static, no copy). */
static int get_doc(const bson_t *doc, const char *key, bson_t *sub)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t n;
	if (!doc || !bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return 0;
	bson_iter_document(&it, &n, &data);
	return bson_init_static(sub, data, n);
}

/* doc[key][0] as a document. */
static int get_first_of_array(const bson_t *doc, const char *key, bson_t *sub)
{
	bson_iter_t it, child;
	const uint8_t *data;
	uint32_t n;
	if (!doc || !bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &child) || !bson_iter_next(&child) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&child))
		return 0;
	bson_iter_document(&child, &n, &data);
	return bson_init_static(sub, data, n);
}

/* "[$match {a: ?}, $group, $sort]": the pipeline's stages, with only $match's fields. */
static void shape_pipeline(struct shape_out *o, const bson_t *body)
{
	bson_iter_t it, stages, stage, inner;
	if (!body || !bson_iter_init_find(&it, body, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &stages)) {
		out_str(o, "[]");
		return;
	}
	int first = 1;
	out_str(o, "[");
	while (bson_iter_next(&stages) && !o->cut) {
		if (!first)
			out_str(o, ", ");
		first = 0;
		if (!BSON_ITER_HOLDS_DOCUMENT(&stages) || !bson_iter_recurse(&stages, &stage) ||
		    !bson_iter_next(&stage)) {
			out_str(o, "?");
			continue;
		}
		out_key(o, bson_iter_key(&stage), bson_iter_key_len(&stage));
		if (strcmp(bson_iter_key(&stage), "$match") == 0 && BSON_ITER_HOLDS_DOCUMENT(&stage) &&
		    bson_iter_recurse(&stage, &inner)) {
			out_str(o, " ");
			shape_doc(o, &inner, 1);
		}
	}
	out_str(o, "]");
}

void mongo_shape_command(const char *command, const char *db, const char *collection,
			 const bson_t *body, const bson_t *filter_override,
			 const bson_t *seq_first, char *out, size_t len)
{
	struct shape_out o;
	bson_t filter, entry;
	int have = 0;

	out_init(&o, out, len);
	out_str(&o, command && *command ? command : "?");
	out_str(&o, " ");
	out_str(&o, db && *db ? db : "?");
	if (collection && *collection) {
		out_str(&o, ".");
		out_key(&o, collection, strlen(collection));
	}
	if (!command)
		goto done;

	if (filter_override) {
		out_str(&o, " ");
		shape_bson(&o, filter_override);
		goto done;
	}
	if (strcmp(command, "find") == 0) {
		have = get_doc(body, "filter", &filter);
		out_str(&o, " ");
		shape_bson(&o, have ? &filter : NULL);
	} else if (strcmp(command, "count") == 0 || strcmp(command, "distinct") == 0 ||
		   strcasecmp(command, "findAndModify") == 0) {
		have = get_doc(body, "query", &filter);
		out_str(&o, " ");
		shape_bson(&o, have ? &filter : NULL);
	} else if (strcmp(command, "update") == 0 || strcmp(command, "delete") == 0) {
		const char *arr = command[0] == 'u' ? "updates" : "deletes";
		if (get_first_of_array(body, arr, &entry))
			have = get_doc(&entry, "q", &filter);
		else if (seq_first)
			have = get_doc(seq_first, "q", &filter);
		out_str(&o, " ");
		shape_bson(&o, have ? &filter : NULL);
	} else if (strcmp(command, "aggregate") == 0) {
		out_str(&o, " ");
		shape_pipeline(&o, body);
	}
done:
	out_finish(&o);
}

uint64_t mongo_shape_id(const char *db, const char *collection, const char *command,
			const char *shape)
{
	const char *parts[4] = { db, collection, command, shape };
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a 64 offset basis */
	for (int i = 0; i < 4; i++) {
		const char *s = parts[i] ? parts[i] : "";
		for (; *s; s++) {
			h ^= (unsigned char)*s;
			h *= 1099511628211ULL;	/* FNV-1a 64 prime */
		}
		if (i < 3) {	/* the "\0" separators, so ("ab","c") != ("a","bc") */
			h ^= 0;
			h *= 1099511628211ULL;
		}
	}
	return h;
}
