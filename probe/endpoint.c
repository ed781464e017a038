/* endpoint.c - formatting and comparing wire endpoints. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Appends v in decimal at p; returns the new end. */
static char *put_uint(char *p, unsigned v)
{
	char tmp[8];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

char *endpoint_format(const struct endpoint *ep, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (len == 0)
		return buf;
	/* IPv4 by hand: this runs twice for every row written ("255.255.255.255:65535" fits 22). */
	if (ep->family != AF_INET6 && len >= 22) {
		char *p = buf;
		for (int i = 0; i < 4; i++) {
			p = put_uint(p, ep->addr[i]);
			*p++ = i < 3 ? '.' : ':';
		}
		p = put_uint(p, ep->port);
		*p = '\0';
		return buf;
	}
	if (!inet_ntop(ep->family == AF_INET6 ? AF_INET6 : AF_INET, ep->addr, ip, sizeof(ip)))
		ip[0] = '\0';
	if (ep->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, ep->port);
	else
		snprintf(buf, len, "%s:%u", ip, ep->port);
	return buf;
}

int endpoint_equal(const struct endpoint *a, const struct endpoint *b)
{
	size_t n = a->family == AF_INET6 ? 16 : 4;
	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, n) == 0;
}
