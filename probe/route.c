/* route.c - request path to route: query dropped, identifiers folded (DESIGN.md "route"). */
#include "route.h"

#include <string.h>

static int is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* 8-4-4-4-12 hex digits. */
static int seg_is_uuid(const unsigned char *s, size_t n)
{
	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!is_hex(s[i])) {
			return 0;
		}
	}
	return 1;
}

/*
 * Whether a path segment names one object rather than a kind of resource.
 * The thresholds err towards keeping words: "/static/app.js" and
 * "/api/v2/users" must survive, while numbers, ObjectIds, UUIDs and session
 * or API tokens must not split routes.csv into one row per object.
 */
static int seg_is_id(const unsigned char *s, size_t n)
{
	size_t digits = 0, alphas = 0, hex = 0, token = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '@')
			return 1;
		digits += is_digit(c);
		alphas += is_alpha(c);
		hex += is_hex(c);
		token += is_digit(c) || is_alpha(c) || c == '-' || c == '_';
	}
	if (digits == n)
		return 1;
	if (seg_is_uuid(s, n))
		return 1;
	if (hex == n && n >= 16)	/* also the 24-hex ObjectId */
		return 1;
	if (token == n && n >= 16 && digits > 0 && alphas > 0)
		return 1;
	return 0;
}

size_t route_normalize(const char *path, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t end = 0, o = 0, i = 0;

	if (outlen == 0)
		return 0;
	while (end < len && p[end] != '?' && p[end] != '#')
		end++;
	/* room is outlen - 1: the NUL always fits */
	while (i < end) {
		size_t j = i;
		if (p[i] == '/') {
			if (o + 1 > outlen - 1)
				break;
			out[o++] = '/';
			i++;
			continue;
		}
		while (j < end && p[j] != '/')
			j++;
		if (seg_is_id(p + i, j - i)) {
			if (o + 3 > outlen - 1)
				break;
			memcpy(out + o, ":id", 3);
			o += 3;
		} else {
			size_t n = j - i;
			if (n > outlen - 1 - o)
				n = outlen - 1 - o;
			memcpy(out + o, p + i, n);
			o += n;
			if (n < j - i)
				break;
		}
		i = j;
	}
	out[o] = '\0';
	return o;
}
