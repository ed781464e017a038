/* portmap.c - port lists ("80,8000-8010") to a port -> protocol table. */
#include "portmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void portmap_init(struct portmap *m)
{
	memset(m->proto, PROTO_NONE, sizeof(m->proto));
}

static int parse_port(const char *s, const char **end, unsigned *out)
{
	char *e;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	unsigned long v = strtoul(s, &e, 10);
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = (unsigned)v;
	*end = e;
	return 0;
}

int portmap_add_list(struct portmap *m, const char *list, enum proto proto)
{
	struct portmap tmp = *m;	/* all or nothing: a bad list changes nothing */
	const char *s = list;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		unsigned lo, hi;
		if (parse_port(s, &s, &lo))
			return -EINVAL;
		hi = lo;
		if (*s == '-' && parse_port(s + 1, &s, &hi))
			return -EINVAL;
		if (hi < lo)
			return -EINVAL;
		for (unsigned p = lo; p <= hi; p++)
			tmp.proto[p] = (uint8_t)proto;
		if (*s == '\0')
			break;
		if (*s != ',')
			return -EINVAL;
		s++;
	}
	*m = tmp;
	return 0;
}

const char *proto_name(enum proto p)
{
	switch (p) {
	case PROTO_HTTP: return "http";
	case PROTO_MONGO: return "mongo";
	default: return "none";
	}
}
