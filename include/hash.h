/* hash.h - 64-bit FNV-1a: stable across runs and machines (shape ids, table keys). */
#ifndef TIERPROBE_HASH_H
#define TIERPROBE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_SEED 0xcbf29ce484222325ull

/* Continues hash h over (data, len); start with HASH_FNV1A_SEED. */
static inline uint64_t hash_fnv1a(const void *data, size_t len, uint64_t h)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#endif
