/*
 * dns_cache.c - the answer cache in front of libunbound (see dns_cache.h).
 *
 * Layout: a hash table of chained entries and a ring of the same entries
 * in the order they were stored; storing into a full ring drops the entry
 * in the slot it reuses (first in, first out: no bookkeeping on a hit, so
 * a hit only reads under the mutex).  An entry is one allocation: the
 * struct, the record lengths, the rdata bytes, the key name.
 *
 * Why a cache of our own when libunbound has one: an answer from
 * libunbound's cache still crosses to its worker thread and back through
 * a pipe (two context switches, about ten system calls); the milter asks
 * three or four names per message, most of them the same few domains.
 */
#include "dns_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 254                   /* a name of 253 octets + NUL */

struct entry {
	struct entry *next;           /* hash chain */
	size_t slot;                  /* index in the ring */
	uint32_t hash;
	int type;
	enum auth_dns_status st;
	long long expires_ms;
	size_t n;                     /* records (OK only) */
	size_t *len;                  /* n lengths, inside this allocation */
	unsigned char *data;          /* the n rdata back to back, likewise */
	char *name;                   /* the key name, likewise */
	size_t namelen;
};

struct dns_cache {
	pthread_mutex_t mu;
	size_t max;                   /* ring slots = most entries kept */
	size_t nbuckets;
	size_t next;                  /* the ring slot stored into next */
	struct entry **bucket;
	struct entry **ring;
};

struct dns_cache *
dns_cache_new(size_t max_entries)
{
	struct dns_cache *c;

	if (max_entries == 0 || (c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->max = max_entries;
	c->nbuckets = max_entries * 2;
	c->bucket = calloc(c->nbuckets, sizeof *c->bucket);
	c->ring = calloc(c->max, sizeof *c->ring);
	if (c->bucket == NULL || c->ring == NULL) {
		free(c->bucket);
		free(c->ring);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void
dns_cache_free(struct dns_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->max; i++)
		free(c->ring[i]);
	free(c->ring);
	free(c->bucket);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* NAME without one trailing dot, ASCII letters lower-cased, into key;
 * its length, or 0 when it does not fit (such a name is not cached). */
static size_t
make_key(const char *name, char key[KEY_MAX])
{
	size_t n = strnlen(name, KEY_MAX), i;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= KEY_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		key[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	key[n] = '\0';
	return n;
}

/* FNV-1a over the key and the type. */
static uint32_t
key_hash(const char *key, size_t n, int type)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return (h ^ (uint32_t)type) * 16777619u;
}

/* The link that points at the entry for the key (at NULL when none). */
static struct entry **
find_link(struct dns_cache *c, const char *key, size_t n, int type,
    uint32_t h)
{
	struct entry **p = &c->bucket[h % c->nbuckets];

	for (; *p != NULL; p = &(*p)->next)
		if ((*p)->hash == h && (*p)->type == type &&
		    (*p)->namelen == n && memcmp((*p)->name, key, n) == 0)
			break;
	return p;
}

static void
drop(struct dns_cache *c, struct entry *e)
{
	struct entry **p = find_link(c, e->name, e->namelen, e->type, e->hash);

	if (*p == e)
		*p = e->next;
	c->ring[e->slot] = NULL;
	free(e);
}

static int
copy_out(const struct entry *e, struct auth_dns_rrset *out)
{
	const unsigned char *p = e->data;
	size_t i, k = e->n ? e->n : 1;

	out->data = calloc(k, sizeof *out->data);
	out->len = calloc(k, sizeof *out->len);
	if (out->data == NULL || out->len == NULL)
		return -1;
	for (i = 0; i < e->n; i++) {
		if ((out->data[i] = malloc(e->len[i] ? e->len[i] : 1)) == NULL)
			return -1;
		memcpy(out->data[i], p, e->len[i]);
		out->len[i] = e->len[i];
		out->n = i + 1;
		p += e->len[i];
	}
	return 0;
}

int
dns_cache_get(struct dns_cache *c, const char *name, int rrtype,
    long long now_ms, enum auth_dns_status *st, struct auth_dns_rrset *out)
{
	char key[KEY_MAX];
	size_t n = make_key(name, key);
	struct entry *e;
	int hit = 0;

	memset(out, 0, sizeof *out);
	if (c == NULL || n == 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	e = *find_link(c, key, n, rrtype, key_hash(key, n, rrtype));
	if (e != NULL && e->expires_ms > now_ms) {
		/* Records only for OK: callers free *out for OK answers only. */
		hit = e->st != AUTH_DNS_OK || copy_out(e, out) == 0;
		*st = e->st;
	}
	pthread_mutex_unlock(&c->mu);
	if (!hit)
		auth_dns_rrset_free(out);
	return hit;
}

/* One allocation holding the answer; NULL when it does not qualify. */
static struct entry *
make_entry(const char *key, size_t n, enum auth_dns_status st,
    const struct auth_dns_rrset *rr)
{
	size_t nrec = st == AUTH_DNS_OK && rr != NULL ? rr->n : 0, total = 0, i;
	struct entry *e;
	unsigned char *p;

	for (i = 0; i < nrec; i++) {
		if (rr->len[i] > DNS_CACHE_RDATA_MAX - total)
			return NULL;
		total += rr->len[i];
	}
	e = malloc(sizeof *e + nrec * sizeof(size_t) + total + n + 1);
	if (e == NULL)
		return NULL;
	e->len = (size_t *)(void *)(e + 1);
	e->data = (unsigned char *)(e->len + nrec);
	e->name = (char *)e->data + total;
	memcpy(e->name, key, n + 1);
	e->namelen = n;
	e->n = nrec;
	e->st = st;
	for (i = 0, p = e->data; i < nrec; i++) {
		e->len[i] = rr->len[i];
		memcpy(p, rr->data[i], rr->len[i]);
		p += rr->len[i];
	}
	return e;
}

void
dns_cache_put(struct dns_cache *c, const char *name, int rrtype,
    long long now_ms, unsigned ttl_s, enum auth_dns_status st,
    const struct auth_dns_rrset *rr)
{
	char key[KEY_MAX];
	size_t n;
	struct entry *e, *old;

	if (c == NULL || st == AUTH_DNS_TEMPFAIL || ttl_s == 0 ||
	    (n = make_key(name, key)) == 0 ||
	    (e = make_entry(key, n, st, rr)) == NULL)
		return;
	e->type = rrtype;
	e->hash = key_hash(key, n, rrtype);
	e->expires_ms = now_ms + 1000LL * (ttl_s < DNS_CACHE_TTL_MAX ?
	    ttl_s : DNS_CACHE_TTL_MAX);
	pthread_mutex_lock(&c->mu);
	if ((old = *find_link(c, key, n, rrtype, e->hash)) != NULL)
		drop(c, old);
	if (c->ring[c->next] != NULL)
		drop(c, c->ring[c->next]);
	e->slot = c->next;
	c->ring[e->slot] = e;
	c->next = (c->next + 1) % c->max;
	e->next = c->bucket[e->hash % c->nbuckets];
	c->bucket[e->hash % c->nbuckets] = e;
	pthread_mutex_unlock(&c->mu);
}
