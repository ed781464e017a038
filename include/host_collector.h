/* host_collector.h - the procfs collector (collectors/host_collector.c) beyond its vtable. */
#ifndef TIERPROBE_HOST_COLLECTOR_H
#define TIERPROBE_HOST_COLLECTOR_H

#include <stddef.h>
#include <sys/types.h>

#include "collector.h"

extern const struct collector_ops procfs_collector;

/* Copies up to max pids of the web role as of the last sample; returns how many. */
size_t host_collector_web_pids(void *state, pid_t *out, size_t max);

#endif
