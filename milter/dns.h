/*
 * dns.h - synchronous DNS lookups for the authentication checks (SPF, DKIM
 * keys, DMARC records) through libunbound, with a configurable resolver so
 * tests use a DNS server on loopback.  Blocking: called on worker threads
 * (cutoverd) or libmilter's threads, never on an event loop.
 *
 * Public functions:
 *   auth_dns_new/free()   resolver: NULL = /etc/resolv.conf, else "IP" or
 *                         "IP@port" (forwarder, recursion by it)
 *   auth_dns_txt()        TXT records, each record's strings joined
 *   auth_dns_txt_free()
 *   auth_dns_lookup()     any type: raw rdata of each record, with an
 *                         optional per-check tally (the SPF limits hook)
 *   auth_dns_rrset_free()
 *   auth_dns_addrs()      A or AAAA addresses (for SPF a/mx/ip checks)
 *   auth_dns_names()      MX (with preference) or PTR target names
 *   auth_dns_names_free()
 *   auth_dns_rdata_name() one uncompressed wire name -> text, bounded
 *   auth_dns_stats()      lookups asked, and how many the cache answered
 *
 * Tally: every lookup given a struct auth_dns_tally counts one query, and
 * one void answer when the status is NXDOMAIN or NODATA (RFC 7208 4.6.4).
 * The tally belongs to one check (one thread); auth_dns itself keeps none.
 * Cache: answers (not TEMPFAIL) are kept for their TTL, at most an hour,
 * in front of libunbound (dns_cache.h); a cached answer still counts in
 * the tally, as RFC 7208's limits count lookups, not packets.
 * Timeouts: each lookup gives up after timeout_ms (TEMPFAIL); the query is
 * cancelled inside libunbound.
 *
 * One struct auth_dns may be used from several threads at once.
 * Status mapping: NOERROR with answers = OK; NXDOMAIN; NOERROR without
 * answers of the type = NODATA; SERVFAIL, timeout, REFUSED, malformed =
 * TEMPFAIL (never turned into "no record").
 */
#ifndef CUTOVER_AUTH_DNS_H
#define CUTOVER_AUTH_DNS_H

#include <stddef.h>

enum auth_dns_status {
	AUTH_DNS_OK = 0,
	AUTH_DNS_NXDOMAIN,
	AUTH_DNS_NODATA,
	AUTH_DNS_TEMPFAIL,
};

struct auth_dns;

struct auth_dns_txt {
	size_t n;          /* records */
	char **rec;        /* each NUL-terminated (strings joined, RFC 7208 3.3) */
	size_t *len;       /* each record's length (may hold NUL bytes) */
};

struct auth_dns_rrset {
	size_t n;                /* records of the asked type (CNAMEs followed) */
	unsigned char **data;    /* each record's rdata, wire format */
	size_t *len;
};

struct auth_dns_tally {
	unsigned queries;        /* lookups made */
	unsigned voids;          /* of which NXDOMAIN or NODATA */
};

struct auth_dns_addr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char a[16];     /* 4 or 16 bytes used, network order */
};

struct auth_dns_addrlist {
	size_t n;
	struct auth_dns_addr *addr;
};

struct auth_dns_namelist {
	size_t n;
	char **name;             /* presentation form, no trailing dot */
	unsigned *pref;          /* MX preference (0 for PTR) */
};

/* DNS types the helpers know (values are the IANA RR type numbers). */
#define AUTH_DNS_T_A     1
#define AUTH_DNS_T_PTR   12
#define AUTH_DNS_T_MX    15
#define AUTH_DNS_T_TXT   16
#define AUTH_DNS_T_AAAA  28

struct auth_dns *auth_dns_new(const char *resolver, unsigned timeout_ms,
    char *err, size_t errlen);
void auth_dns_free(struct auth_dns *d);
enum auth_dns_status auth_dns_txt(struct auth_dns *d, const char *name,
    struct auth_dns_txt *out);
void auth_dns_txt_free(struct auth_dns_txt *t);
const char *auth_dns_status_name(enum auth_dns_status s);

enum auth_dns_status auth_dns_lookup(struct auth_dns *d, const char *name,
    int rrtype, struct auth_dns_tally *tally, struct auth_dns_rrset *out);
void auth_dns_rrset_free(struct auth_dns_rrset *r);
enum auth_dns_status auth_dns_addrs(struct auth_dns *d, const char *name,
    int rrtype, struct auth_dns_tally *tally, struct auth_dns_addrlist *out);
void auth_dns_addrs_free(struct auth_dns_addrlist *a);
enum auth_dns_status auth_dns_names(struct auth_dns *d, const char *name,
    int rrtype, struct auth_dns_tally *tally, struct auth_dns_namelist *out);
void auth_dns_names_free(struct auth_dns_namelist *l);
void auth_dns_stats(struct auth_dns *d, unsigned long *lookups,
    unsigned long *cache_hits);
int auth_dns_rdata_name(const unsigned char *p, size_t len, size_t *used,
    char *out, size_t outlen);

#endif
