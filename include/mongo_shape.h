/*
 * mongo_shape.h - MongoDB query shapes: a command's filter with every literal
 * replaced by "?" (DESIGN.md "query shape"), and its stable 64-bit id.
 *
 * Shape text:  <command> <db>[.<collection>][ <filter>]
 *   find app.users {email: ?, age: {$gt: ?}}
 *   update app.users {_id: ?}
 *   aggregate app.orders [$match {status: ?, $or: [{a: ?}, {b: ?}]}, $group, $sort]
 *   insert app.users
 * Field names and operators are kept in wire order (not sorted: the order is
 * what the application sent, and sorting would merge shapes an index treats
 * differently). Arrays whose elements are all literals collapse to "[?]".
 * No BSON value is ever copied into a shape. Control bytes in field names
 * become '?'. Output longer than the buffer is cut and ends in "...".
 */
#ifndef TIERPROBE_MONGO_SHAPE_H
#define TIERPROBE_MONGO_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#define MONGO_SHAPE_MAX 512	/* == sizeof(((struct mongo_txn *)0)->shape) */

/*
 * Renders filter (a BSON document, may be NULL: writes "{}") as its shape,
 * "{a: ?, b: {$in: [?]}}", into out (always NUL-terminated when len > 0).
 * Returns the length written.
 */
size_t mongo_shape_filter(const bson_t *filter, char *out, size_t len);

/*
 * Writes the whole shape of one command into out. body is the command
 * document (OP_MSG body, OP_QUERY $cmd query, OP_COMMAND commandArgs) or NULL;
 * filter_override, when not NULL, is used as the filter instead of looking it
 * up in body (legacy OP_QUERY/OP_UPDATE/OP_DELETE selectors, or the first
 * document of an OP_MSG kind-1 "updates"/"deletes" sequence whose "q" is
 * taken). The filter is found per command: find -> filter; count, distinct,
 * findAndModify -> query; update -> updates[0].q; delete -> deletes[0].q;
 * aggregate -> pipeline stage names, with $match filters; others: none.
 * seq_first is the first document of a kind-1 sequence named "updates" or
 * "deletes" (or NULL).
 */
void mongo_shape_command(const char *command, const char *db, const char *collection,
			 const bson_t *body, const bson_t *filter_override,
			 const bson_t *seq_first, char *out, size_t len);

/* 64-bit FNV-1a of "db\0collection\0command\0shape": stable across runs and hosts. */
uint64_t mongo_shape_id(const char *db, const char *collection, const char *command,
			const char *shape);

#endif
