/* test_mongo_shape.c - query shapes keep field names and operators, never a value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mongo_shape.h"

static void shape_of(bson_t *cmd, const char *command, char *out, size_t len)
{
	bson_iter_t it;
	const char *coll = "";
	uint32_t n;
	if (bson_iter_init(&it, cmd) && bson_iter_next(&it) && BSON_ITER_HOLDS_UTF8(&it))
		coll = bson_iter_utf8(&it, &n);
	mongo_shape_command(command, "app", coll, cmd, NULL, NULL, out, len);
	bson_destroy(cmd);
}

static void test_literals_removed(void **state)
{
	char s[MONGO_SHAPE_MAX];
	(void)state;
	shape_of(BCON_NEW("find", BCON_UTF8("users"),
			  "filter", "{", "email", BCON_UTF8("Zanzibar-Secret@example.org"),
			  "age", "{", "$gt", BCON_INT32(31337), "}", "}",
			  "limit", BCON_INT32(5)), "find", s, sizeof(s));
	assert_string_equal(s, "find app.users {email: ?, age: {$gt: ?}}");
	assert_null(strstr(s, "Zanzibar"));
	assert_null(strstr(s, "31337"));
}

static void test_nested_and_arrays(void **state)
{
	char s[MONGO_SHAPE_MAX];
	(void)state;
	shape_of(BCON_NEW("find", BCON_UTF8("users"),
			  "filter", "{",
			  "$or", "[", "{", "name", BCON_UTF8("Zanzibar-Alpha"), "}",
			  "{", "tags", "{", "$in", "[", BCON_UTF8("Zanzibar-Beta"), BCON_UTF8("Zanzibar-Gamma"),
			  BCON_INT32(7), "]", "}", "}", "]",
			  "$and", "[", "{", "a.b", "{", "$exists", BCON_BOOL(true), "}", "}",
			  "{", "addr", "{", "city", BCON_UTF8("Zanzibar-City"), "zip", BCON_NULL, "}", "}", "]",
			  "loc", "[", BCON_DOUBLE(1.5), BCON_DOUBLE(2.5), "]",
			  "}"), "find", s, sizeof(s));
	assert_string_equal(s, "find app.users {$or: [{name: ?}, {tags: {$in: [?]}}], "
			       "$and: [{a.b: {$exists: ?}}, {addr: {city: ?, zip: ?}}], loc: [?]}");
	assert_null(strstr(s, "Zanzibar"));
}

static void test_commands(void **state)
{
	char s[MONGO_SHAPE_MAX];
	(void)state;
	shape_of(BCON_NEW("update", BCON_UTF8("users"), "updates", "[",
			  "{", "q", "{", "_id", BCON_INT64(424242), "}", "u", "{", "$set", "{",
			  "pw", BCON_UTF8("Zanzibar-Pw"), "}", "}", "}", "]"), "update", s, sizeof(s));
	assert_string_equal(s, "update app.users {_id: ?}");
	shape_of(BCON_NEW("delete", BCON_UTF8("users"), "deletes", "[",
			  "{", "q", "{", "status", BCON_UTF8("Zanzibar-Old"), "}", "limit", BCON_INT32(0), "}",
			  "]"), "delete", s, sizeof(s));
	assert_string_equal(s, "delete app.users {status: ?}");
	shape_of(BCON_NEW("count", BCON_UTF8("users"), "query", "{", "x", BCON_INT32(1), "}"),
		 "count", s, sizeof(s));
	assert_string_equal(s, "count app.users {x: ?}");
	shape_of(BCON_NEW("findandmodify", BCON_UTF8("users"), "query", "{", "x", BCON_INT32(1), "}",
			  "update", "{", "$inc", "{", "n", BCON_INT32(1), "}", "}"),
		 "findandmodify", s, sizeof(s));
	assert_string_equal(s, "findandmodify app.users {x: ?}");
	shape_of(BCON_NEW("insert", BCON_UTF8("users"), "documents", "[", "{", "a",
			  BCON_UTF8("Zanzibar"), "}", "]"), "insert", s, sizeof(s));
	assert_string_equal(s, "insert app.users");
	shape_of(BCON_NEW("isMaster", BCON_INT32(1)), "isMaster", s, sizeof(s));
	assert_string_equal(s, "isMaster app");
	shape_of(BCON_NEW("find", BCON_UTF8("users")), "find", s, sizeof(s));
	assert_string_equal(s, "find app.users {}");
}

static void test_aggregate(void **state)
{
	char s[MONGO_SHAPE_MAX];
	(void)state;
	shape_of(BCON_NEW("aggregate", BCON_UTF8("orders"), "pipeline", "[",
			  "{", "$match", "{", "status", BCON_UTF8("Zanzibar-A"),
			  "total", "{", "$gte", BCON_INT32(100), "}", "}", "}",
			  "{", "$group", "{", "_id", BCON_UTF8("$cust"), "sum", "{", "$sum", BCON_UTF8("$total"), "}", "}", "}",
			  "{", "$sort", "{", "sum", BCON_INT32(-1), "}", "}",
			  "{", "$limit", BCON_INT32(10), "}", "]",
			  "cursor", "{", "}"), "aggregate", s, sizeof(s));
	assert_string_equal(s, "aggregate app.orders [$match {status: ?, total: {$gte: ?}}, $group, $sort, $limit]");
	assert_null(strstr(s, "Zanzibar"));
	assert_null(strstr(s, "cust"));
}

/* Output is capped: a huge filter is cut and marked, never overflows. */
static void test_cap_and_id(void **state)
{
	char s[64];
	bson_t *f = bson_new();
	(void)state;
	for (int i = 0; i < 200; i++) {
		char k[32];
		snprintf(k, sizeof(k), "field%d", i);
		BSON_APPEND_UTF8(f, k, "Zanzibar");
	}
	bson_t *cmd = BCON_NEW("find", BCON_UTF8("users"));
	BSON_APPEND_DOCUMENT(cmd, "filter", f);
	memset(s, 'X', sizeof(s));
	mongo_shape_command("find", "app", "users", cmd, NULL, NULL, s, sizeof(s));
	assert_int_equal(strlen(s), sizeof(s) - 1);
	assert_string_equal(s + sizeof(s) - 4, "...");
	assert_null(strstr(s, "Zanzibar"));
	char big[MONGO_SHAPE_MAX];
	mongo_shape_command("find", "app", "users", cmd, NULL, NULL, big, sizeof(big));
	assert_true(strlen(big) < sizeof(big));
	assert_string_equal(big + strlen(big) - 3, "...");
	bson_destroy(cmd);
	bson_destroy(f);

	/* deep nesting stops at the depth limit */
	bson_t *deep = bson_new();
	for (int i = 0; i < 40; i++) {
		bson_t *outer = bson_new();
		BSON_APPEND_DOCUMENT(outer, "a", deep);
		bson_destroy(deep);
		deep = outer;
	}
	mongo_shape_filter(deep, big, sizeof(big));
	assert_non_null(strstr(big, "{...}"));
	bson_destroy(deep);

	/* FNV-1a 64 over "db\0coll\0cmd\0shape": fixed value, and the separators matter */
	uint64_t id = mongo_shape_id("app", "users", "find", "find app.users {email: ?}");
	assert_int_equal(id, mongo_shape_id("app", "users", "find", "find app.users {email: ?}"));
	assert_int_not_equal(mongo_shape_id("ap", "pusers", "find", "x"), mongo_shape_id("app", "users", "find", "x"));
	/* reference values computed independently (Python) over the same bytes */
	assert_int_equal(mongo_shape_id("", "", "", ""), 0xd94d12186c0f2fb7ULL);
	assert_int_equal(id, 0xdfc04680fa3feadcULL);
	assert_int_equal(mongo_shape_filter(NULL, big, sizeof(big)), 2);
	assert_string_equal(big, "{}");
	/* control bytes in field names do not reach the CSV */
	bson_t *ctl = bson_new();
	BSON_APPEND_INT32(ctl, "a\nb", 1);
	mongo_shape_filter(ctl, big, sizeof(big));
	assert_string_equal(big, "{a?b: ?}");
	bson_destroy(ctl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literals_removed),
		cmocka_unit_test(test_nested_and_arrays),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_aggregate),
		cmocka_unit_test(test_cap_and_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
