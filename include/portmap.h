/* portmap.h - which TCP server port speaks which protocol (--http-ports, --mongo-ports). */
#ifndef TIERPROBE_PORTMAP_H
#define TIERPROBE_PORTMAP_H

#include <stdint.h>

enum proto {
	PROTO_NONE = 0,
	PROTO_HTTP,
	PROTO_MONGO,
};

struct portmap {
	uint8_t proto[65536];	/* enum proto per port */
};

void portmap_init(struct portmap *m);
/*
 * Parses "80,8000-8010" and marks those ports as proto. Returns 0, or -EINVAL
 * for a malformed list (a port 0, > 65535, an empty item, a reversed range).
 */
int portmap_add_list(struct portmap *m, const char *list, enum proto proto);
static inline enum proto portmap_get(const struct portmap *m, uint16_t port)
{
	return (enum proto)m->proto[port];
}
const char *proto_name(enum proto p);

#endif
