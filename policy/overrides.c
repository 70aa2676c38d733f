/*
 * overrides.c - hash table of per-recipient state overrides.
 *
 * Public functions: see overrides.h.
 *
 * Storage, as in addrmap.c: every key (the ASCII-lowercased local part) is
 * appended to ONE growable arena, NUL-terminated; the table is open
 * addressing with linear probing over a power-of-two array of slots
 * {hash, 1 + arena offset, state, line}, at most half full.  No allocation
 * per entry, so 100,000 recipients are three allocations and a lookup is a
 * fold into a stack buffer plus, on average, about one probe.
 * Rejected alternative: a sorted array with bsearch, O(log n) per RCPT and
 * a sort at load for no gain in memory.
 *
 * Invariants: arena offsets and the count fit 32 bits; count <= nslots / 2;
 * a key is at most OVERRIDES_LOCAL_MAX octets; the table is immutable once
 * policy_load() returns.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "overrides.h"

struct slot {
	uint32_t hash;
	uint32_t off;               /* 1 + arena offset of the key; 0 = empty */
	struct policy_override ov;
};

struct policy_overrides {
	char *arena;                /* "key\0key\0..." */
	size_t used;
	size_t cap;
	struct slot *slots;
	size_t nslots;              /* power of two */
	size_t count;
};

struct policy_overrides *
overrides_new(void)
{
	struct policy_overrides *o = calloc(1, sizeof *o);

	if (o == NULL)
		return NULL;
	o->nslots = 16;
	o->slots = calloc(o->nslots, sizeof *o->slots);
	if (o->slots == NULL) {
		free(o);
		return NULL;
	}
	return o;
}

void
overrides_free(struct policy_overrides *o)
{
	if (o == NULL)
		return;
	free(o->arena);
	free(o->slots);
	free(o);
}

/* ASCII-lowercase `len` octets into key; -1 when too long. */
static int
fold(const char *local, size_t len, char key[OVERRIDES_LOCAL_MAX + 1])
{
	size_t i;

	if (len > OVERRIDES_LOCAL_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		char c = local[i];

		key[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	key[len] = '\0';
	return 0;
}

/* The slot holding the key, or the empty slot where it would go. */
static struct slot *
probe(const struct policy_overrides *o, const char *key, size_t len,
    uint32_t h)
{
	size_t mask = o->nslots - 1, i = h & mask;

	for (;;) {
		struct slot *s = &o->slots[i];
		const char *k;

		if (s->off == 0)
			return s;
		k = o->arena + s->off - 1;
		if (s->hash == h && memcmp(k, key, len) == 0 && k[len] == '\0')
			return s;
		i = (i + 1) & mask;
	}
}

static int
grow_slots(struct policy_overrides *o)
{
	struct policy_overrides n = *o;
	size_t i;

	n.nslots = o->nslots * 2;
	n.slots = calloc(n.nslots, sizeof *n.slots);
	if (n.slots == NULL)
		return -1;
	for (i = 0; i < o->nslots; i++) {
		const struct slot *s = &o->slots[i];
		size_t j = s->hash & (n.nslots - 1);

		if (s->off == 0)
			continue;
		while (n.slots[j].off != 0)  /* keys are unique: no compare */
			j = (j + 1) & (n.nslots - 1);
		n.slots[j] = *s;
	}
	free(o->slots);
	o->slots = n.slots;
	o->nslots = n.nslots;
	return 0;
}

/* Append key + NUL; the offset, or -1 (errno set). */
static int64_t
arena_append(struct policy_overrides *o, const char *key, size_t len)
{
	size_t need = o->used + len + 1, ncap;
	size_t off = o->used;
	char *n;

	if (need >= UINT32_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (need > o->cap) {
		ncap = o->cap ? o->cap : 1024;
		while (ncap < need)
			ncap *= 2;
		if ((n = realloc(o->arena, ncap)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		o->arena = n;
		o->cap = ncap;
	}
	memcpy(o->arena + off, key, len + 1);
	o->used = need;
	return (int64_t)off;
}

int
overrides_add(struct policy_overrides *o, const char *local, size_t len,
    enum domain_state state, unsigned line, unsigned *first)
{
	char key[OVERRIDES_LOCAL_MAX + 1];
	struct slot *s;
	int64_t off;
	uint32_t h;

	if (fold(local, len, key) < 0 || o->count >= UINT32_MAX / 4) {
		errno = E2BIG;
		return -1;
	}
	h = (uint32_t)hash_bytes(key, len);
	s = probe(o, key, len, h);
	if (s->off != 0) {
		if (first != NULL)
			*first = s->ov.line;
		errno = EEXIST;
		return -1;
	}
	if ((o->count + 1) * 2 > o->nslots) {
		if (grow_slots(o) < 0) {
			errno = ENOMEM;
			return -1;
		}
		s = probe(o, key, len, h);
	}
	if ((off = arena_append(o, key, len)) < 0)
		return -1;
	s->hash = h;
	s->off = (uint32_t)off + 1;
	s->ov.state = state;
	s->ov.line = line;
	o->count++;
	return 0;
}

const struct policy_override *
overrides_find(const struct policy_overrides *o, const char *local, size_t len)
{
	char key[OVERRIDES_LOCAL_MAX + 1];
	const struct slot *s;

	if (o == NULL || o->count == 0 || fold(local, len, key) < 0)
		return NULL;
	s = probe(o, key, len, (uint32_t)hash_bytes(key, len));
	return s->off == 0 ? NULL : &s->ov;
}

size_t
overrides_count(const struct policy_overrides *o)
{
	return o == NULL ? 0 : o->count;
}
