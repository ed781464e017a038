/*
 * route.h - the "route" column of http.csv: a request path with its query
 * string dropped and identifiers folded to ":id", so that requests for
 * /user/17 and /user/42 aggregate into one row of routes.csv.
 */
#ifndef TIERPROBE_ROUTE_H
#define TIERPROBE_ROUTE_H

#include <stddef.h>

/*
 * Writes the normalized form of path[0..len) into out (always NUL-terminated
 * when outlen > 0) and returns its length. The path ends at the first '?' or
 * '#'; nothing after it is ever copied. A segment becomes ":id" when it is
 * all digits, a UUID (8-4-4-4-12 hex), a 24-hex ObjectId, a hex string of 16
 * or more characters, a token of 16 or more [A-Za-z0-9_-] mixing letters and
 * digits, or contains '@' (an e-mail address is a value, not a route).
 * Percent-encoding is left as is. The result is cut to outlen - 1 bytes,
 * never in the middle of ":id". path need not be NUL-terminated.
 */
size_t route_normalize(const char *path, size_t len, char *out, size_t outlen);

#endif
