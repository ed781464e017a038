/* test_route.c - route_normalize(): query dropped, identifiers folded, output capped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"
#include "txn.h"

static void check(const char *path, const char *want)
{
	char out[HTTP_ROUTE_MAX];
	size_t n = route_normalize(path, strlen(path), out, sizeof(out));
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_numeric_and_query(void **state)
{
	(void)state;
	check("/user/123/profile?x=1", "/user/:id/profile");
	check("/user/123", "/user/:id");
	check("/a?b/123", "/a");
	check("/a#frag/1", "/a");
	check("/orders/7/items/0012", "/orders/:id/items/:id");
}

static void test_uuid_objectid_tokens(void **state)
{
	(void)state;
	check("/item/123e4567-e89b-12d3-a456-426614174000/edit", "/item/:id/edit");
	check("/item/123E4567-E89B-12D3-A456-426614174000", "/item/:id");
	check("/users/5f1d7a2b9c8e4d3f2a1b0c9d", "/users/:id");
	check("/reset/aZ3kP9qL2mN8xW4v", "/reset/:id");		/* 16-char token */
	check("/blob/deadbeefdeadbeef", "/blob/:id");		/* long hex */
	check("/u/bob@example.com/x", "/u/:id/x");
	/* words, even long ones, and short mixed ones survive */
	check("/static/app.js", "/static/app.js");
	check("/api/v2/users", "/api/v2/users");
	check("/internationalization/page", "/internationalization/page");
	check("/img/logo-2x.png", "/img/logo-2x.png");
	/* long, but letters only: a name, not an identifier */
	check("/x/not-a-uuid-but-words-here", "/x/not-a-uuid-but-words-here");
	/* mixed but short */
	check("/v1/abc123", "/v1/abc123");
}

static void test_edges(void **state)
{
	(void)state;
	check("/", "/");
	check("", "");
	check("//a//", "//a//");
	check("/a%20b/12", "/a%20b/:id");		/* percent-encoding left as is */
	check("/comment/", "/comment/");
}

static void test_not_nul_terminated(void **state)
{
	(void)state;
	const char buf[] = { '/', 'a', '/', '1', '2', 'Z', 'Z' };
	char out[32];
	/* only the first 5 bytes are the path */
	assert_int_equal(route_normalize(buf, 5, out, sizeof(out)), 6);
	assert_string_equal(out, "/a/:id");
}

static void test_capped(void **state)
{
	(void)state;
	char path[2000];
	char out[HTTP_ROUTE_MAX];
	memset(path, 'z', sizeof(path));	/* 'a' would be hex */
	path[0] = '/';
	size_t n = route_normalize(path, sizeof(path), out, sizeof(out));
	assert_int_equal(n, HTTP_ROUTE_MAX - 1);
	assert_int_equal(strlen(out), HTTP_ROUTE_MAX - 1);

	/* a cap never cuts ":id" in half */
	char small[6];
	assert_int_equal(route_normalize("/ab/123", 7, small, sizeof(small)), 4);
	assert_string_equal(small, "/ab/");
	char tiny[1];
	assert_int_equal(route_normalize("/abc", 4, tiny, sizeof(tiny)), 0);
	assert_string_equal(tiny, "");
	assert_int_equal(route_normalize("/abc", 4, tiny, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numeric_and_query),
		cmocka_unit_test(test_uuid_objectid_tokens),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
