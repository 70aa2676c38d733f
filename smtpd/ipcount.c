/*
 * ipcount.c - open sessions per client IP.
 *
 * Chained hash (hash_bytes() over the printable address) with a fixed bucket
 * array: the table holds at most max_connections entries, and 16384
 * buckets keep chains short for any realistic client spread, without the
 * complexity of rehashing.  Entries are freed when their count drops to 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "ipcount.h"

#define IPCOUNT_BUCKETS 16384

struct ipcount_entry {
	struct ipcount_entry *next;
	size_t count;
	char ip[46];
};

struct ipcount {
	struct ipcount_entry *bucket[IPCOUNT_BUCKETS];
};

static size_t
ipcount_hash(const char *ip)
{
	return hash_bytes(ip, strlen(ip)) % IPCOUNT_BUCKETS;
}

struct ipcount *
ipcount_new(void)
{
	return calloc(1, sizeof(struct ipcount));
}

void
ipcount_free(struct ipcount *ic)
{
	struct ipcount_entry *e;

	if (ic == NULL)
		return;
	for (size_t i = 0; i < IPCOUNT_BUCKETS; i++) {
		while ((e = ic->bucket[i]) != NULL) {
			ic->bucket[i] = e->next;
			free(e);
		}
	}
	free(ic);
}

static struct ipcount_entry **
ipcount_slot(const struct ipcount *ic, const char *ip)
{
	struct ipcount_entry **pp;

	pp = (struct ipcount_entry **)&ic->bucket[ipcount_hash(ip)];
	for (; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->ip, ip) == 0)
			break;
	return pp;
}

size_t
ipcount_get(const struct ipcount *ic, const char *ip)
{
	struct ipcount_entry **pp = ipcount_slot(ic, ip);

	return *pp != NULL ? (*pp)->count : 0;
}

int
ipcount_inc(struct ipcount *ic, const char *ip)
{
	struct ipcount_entry **pp = ipcount_slot(ic, ip);
	size_t len = strlen(ip);

	if (*pp != NULL) {
		(*pp)->count++;
		return 0;
	}
	if (len >= sizeof((*pp)->ip) || (*pp = calloc(1, sizeof(**pp))) == NULL)
		return -1;
	memcpy((*pp)->ip, ip, len + 1);
	(*pp)->count = 1;
	return 0;
}

void
ipcount_dec(struct ipcount *ic, const char *ip)
{
	struct ipcount_entry **pp = ipcount_slot(ic, ip);
	struct ipcount_entry *e = *pp;

	if (e == NULL)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
	}
}
