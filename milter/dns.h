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
 * (the SPF layer adds what libspf2 needs: A, AAAA, MX, PTR.)
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

struct auth_dns *auth_dns_new(const char *resolver, unsigned timeout_ms,
    char *err, size_t errlen);
void auth_dns_free(struct auth_dns *d);
enum auth_dns_status auth_dns_txt(struct auth_dns *d, const char *name,
    struct auth_dns_txt *out);
void auth_dns_txt_free(struct auth_dns_txt *t);
const char *auth_dns_status_name(enum auth_dns_status s);

#endif
