/*
 * domain_table.c - hash table of configured domains, and domain keys.
 *
 * Public functions: see domain_table.h.
 *
 * The table is open addressing with linear probing over a power-of-two
 * array of slots, each holding 1 + the index of a domain in `items`
 * (0 = empty), kept at most half full so a probe sequence stays short.
 * `items` keeps insertion order, which is the order of the configuration
 * file: listings (status, logs) come out in the order the admin wrote.
 * Rejected alternative: a sorted array with bsearch, O(log n) per RCPT and
 * no better in memory; hsearch(3), one global table per process, which
 * does not fit a snapshot that is swapped on reload.
 *
 * Invariants: a key is lowercase LDH labels, <= DOMAIN_NAME_MAX octets, no
 * trailing dot; `count` <= `cap` / 2; the table is never changed after
 * policy_load() returns, so lookups from several threads are safe.
 */
#include <errno.h>
#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain_table.h"
#include "hash.h"

#define LABEL_MAX 63

struct domain_table {
	struct policy_domain **items; /* insertion order */
	size_t count;
	size_t items_cap;
	uint32_t *slots;              /* 0 = empty, else 1 + index in items */
	size_t cap;                   /* power of two */
};


struct domain_table *
domain_table_new(void)
{
	struct domain_table *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->cap = 16;
	t->slots = calloc(t->cap, sizeof *t->slots);
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
domain_free(struct policy_domain *d)
{
	if (d == NULL)
		return;
	free(d->name);
	free(d->name_utf8);
	free(d->defer_reply);
	free(d);
}

void
domain_table_free(struct domain_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->count; i++)
		domain_free(t->items[i]);
	free(t->items);
	free(t->slots);
	free(t);
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t
probe(const struct domain_table *t, const char *key, size_t len)
{
	size_t mask = t->cap - 1, i = (size_t)hash_bytes(key, len) & mask;

	for (;;) {
		uint32_t s = t->slots[i];
		const char *name;

		if (s == 0)
			return i;
		name = t->items[s - 1]->name;
		if (strncmp(name, key, len) == 0 && name[len] == '\0')
			return i;
		i = (i + 1) & mask;
	}
}

static int
grow_slots(struct domain_table *t)
{
	struct domain_table n = *t;
	size_t i;

	n.cap = t->cap * 2;
	n.slots = calloc(n.cap, sizeof *n.slots);
	if (n.slots == NULL)
		return -1;
	for (i = 0; i < t->count; i++) {
		const char *name = t->items[i]->name;

		n.slots[probe(&n, name, strlen(name))] = (uint32_t)(i + 1);
	}
	free(t->slots);
	t->slots = n.slots;
	t->cap = n.cap;
	return 0;
}

static int
grow_items(struct domain_table *t)
{
	size_t ncap = t->items_cap ? t->items_cap * 2 : 16;
	struct policy_domain **n;

	n = realloc(t->items, ncap * sizeof *n);
	if (n == NULL)
		return -1;
	t->items = n;
	t->items_cap = ncap;
	return 0;
}

int
domain_table_insert(struct domain_table *t, struct policy_domain *d)
{
	size_t len = strlen(d->name), slot;

	if (t->count >= UINT32_MAX - 1) {
		errno = ENOMEM;
		return -1;
	}
	if (t->slots[probe(t, d->name, len)] != 0) {
		errno = EEXIST;
		return -1;
	}
	if ((t->count + 1) * 2 > t->cap && grow_slots(t) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (t->count == t->items_cap && grow_items(t) < 0) {
		errno = ENOMEM;
		return -1;
	}
	slot = probe(t, d->name, len);
	t->items[t->count++] = d;
	t->slots[slot] = (uint32_t)t->count;
	return 0;
}

const struct policy_domain *
domain_table_find(const struct domain_table *t, const char *key, size_t len)
{
	uint32_t s;

	if (t == NULL)
		return NULL;
	s = t->slots[probe(t, key, len)];
	return s == 0 ? NULL : t->items[s - 1];
}

size_t
domain_table_count(const struct domain_table *t)
{
	return t == NULL ? 0 : t->count;
}

struct policy_domain *
domain_table_at(const struct domain_table *t, size_t i)
{
	return (t == NULL || i >= t->count) ? NULL : t->items[i];
}

static int
fail(const char **why, const char *text)
{
	*why = text;
	return -1;
}

static bool
is_ldh(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

int
domain_ldh_check(const char *name, size_t len, const char **why)
{
	size_t i, label = 0;

	if (len == 0)
		return fail(why, "is empty");
	if (len > DOMAIN_NAME_MAX)
		return fail(why, "is longer than 253 octets");
	for (i = 0; i < len; i++) {
		unsigned c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return fail(why, "has an empty label");
			if (name[i - 1] == '-')
				return fail(why, "has a label that ends with a hyphen");
			label = 0;
			continue;
		}
		if (!is_ldh(c))
			return fail(why, "contains a character other than a letter, "
			    "digit, hyphen or dot");
		if (label == 0 && c == '-')
			return fail(why, "has a label that starts with a hyphen");
		if (++label > LABEL_MAX)
			return fail(why, "has a label longer than 63 octets");
	}
	if (label == 0)
		return fail(why, "has an empty label");
	if (name[len - 1] == '-')
		return fail(why, "has a label that ends with a hyphen");
	return 0;
}

static int
lower_into(const char *s, size_t len, char *key, const char **why)
{
	size_t i;

	if (len > DOMAIN_NAME_MAX)
		return fail(why, "is longer than 253 octets");
	for (i = 0; i < len; i++) {
		char c = s[i];

		key[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	key[len] = '\0';
	if (domain_ldh_check(key, len, why) < 0)
		return -1;
	return (int)len;
}

/* Non-ASCII: UTS #46 mapping + IDNA2008 via libidn2 (allocates). */
static int
idn_into(const char *name, size_t len, char *key, const char **why)
{
	char in[DOMAIN_INPUT_MAX + 1];
	char *out = NULL;
	size_t n;
	int rc;

	if (len > DOMAIN_INPUT_MAX)
		return fail(why, "is longer than 253 octets");
	if (memchr(name, '\0', len) != NULL)
		return fail(why, "contains a NUL byte");
	memcpy(in, name, len);
	in[len] = '\0';
	rc = idn2_to_ascii_8z(in, &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK)
		return fail(why, idn2_strerror(rc));
	n = strlen(out);
	if (n > 0 && out[n - 1] == '.')
		n--; /* a final U+3002 and friends map to '.' */
	rc = lower_into(out, n, key, why);
	idn2_free(out);
	return rc;
}

int
domain_key(const char *name, size_t len, char *key, const char **why)
{
	size_t i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0)
		return fail(why, "is empty");
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] >= 0x80)
			return idn_into(name, len, key, why);
	return lower_into(name, len, key, why);
}

char *
domain_utf8(const char *key, const char **why)
{
	char *ascii = NULL, *u = NULL, *copy;
	int rc;

	if (strstr(key, "xn--") == NULL) {
		if ((u = strdup(key)) == NULL)
			*why = "out of memory";
		return u;
	}
	rc = idn2_to_ascii_8z(key, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	idn2_free(ascii);
	if (rc == IDN2_OK)
		rc = idn2_to_unicode_8z8z(key, &u, 0);
	if (rc != IDN2_OK) {
		*why = rc == IDN2_MALLOC ? "out of memory" : idn2_strerror(rc);
		return NULL;
	}
	copy = strdup(u); /* callers free() it; idn2 memory goes to idn2_free */
	idn2_free(u);
	if (copy == NULL)
		*why = "out of memory";
	return copy;
}
