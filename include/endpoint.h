/* endpoint.h - an IP address and TCP port, as seen on the wire. */
#ifndef TIERPROBE_ENDPOINT_H
#define TIERPROBE_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

/* family is AF_INET or AF_INET6; an IPv4 address uses addr[0..3]. */
struct endpoint {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
};

/* Longest text endpoint_format() writes: "[ipv6]:65535" plus NUL. */
#define ENDPOINT_STRLEN 56

/*
 * Writes "1.2.3.4:80" or "[::1]:80" into buf (always NUL-terminated) and
 * returns buf, so it can sit inside a printf argument list.
 */
char *endpoint_format(const struct endpoint *ep, char *buf, size_t len);

/* Nonzero when both address and port are equal. */
int endpoint_equal(const struct endpoint *a, const struct endpoint *b);

#endif
