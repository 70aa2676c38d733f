/*
 * dns_cache.h - answers kept for their TTL in front of libunbound, so that
 * the lookups every message repeats (the sender domain's SPF record, the
 * DKIM key, the _dmarc record) cost a hash lookup rather than a round trip
 * through libunbound's thread.  Private to milter/dns*.c.
 *
 * Public functions: dns_cache_new/free, dns_cache_get, dns_cache_put.
 *
 * What is kept: OK, NXDOMAIN and NODATA answers with a TTL above 0, for at
 * most DNS_CACHE_TTL_MAX seconds, whose rdata totals at most
 * DNS_CACHE_RDATA_MAX bytes; never TEMPFAIL (a failure is asked again).
 * Keys are the name without a trailing dot, ASCII letters folded, and the
 * type.  At most max_entries answers; the oldest stored goes first.
 * Thread-safe (one mutex); time is the caller's monotonic milliseconds.
 */
#ifndef CUTOVER_DNS_CACHE_H
#define CUTOVER_DNS_CACHE_H

#include <stddef.h>

#include "dns.h"

#define DNS_CACHE_TTL_MAX   3600u
#define DNS_CACHE_RDATA_MAX 4096u

struct dns_cache;

struct dns_cache *dns_cache_new(size_t max_entries);
void dns_cache_free(struct dns_cache *c);

/* 1: a fresh answer for NAME/TYPE, *st set and (for OK) *out a copy the
 * caller frees with auth_dns_rrset_free(); 0: not held, or expired, or no
 * memory for the copy (*out empty). */
int dns_cache_get(struct dns_cache *c, const char *name, int rrtype,
    long long now_ms, enum auth_dns_status *st, struct auth_dns_rrset *out);

/* Keeps the answer (rr only read for OK) when it qualifies (see above);
 * replaces an older answer for the same key. */
void dns_cache_put(struct dns_cache *c, const char *name, int rrtype,
    long long now_ms, unsigned ttl_s, enum auth_dns_status st,
    const struct auth_dns_rrset *rr);

#endif
