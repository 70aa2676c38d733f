/*
 * hash.h - the one string hash of the project: FNV-1a, 64 bit, with a final
 * avalanche so that keys differing only in their last bytes (addresses of
 * one domain, IPs of one subnet) still spread over the low bits used by
 * power-of-two tables.  Keys are ours or bounded per client (the per-IP
 * table), so a keyed hash is not needed.
 */
#ifndef CUTOVER_HASH_H
#define CUTOVER_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

#endif
