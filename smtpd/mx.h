/*
 * mx.h - next-hop resolution for the relay client, asynchronous, through
 * libunbound on the server's libevent base.
 *
 * Public functions:
 *   mx_resolver_new()    resolver: NULL = /etc/resolv.conf, else "IP" or
 *                        "IP@port" (a forwarder, unbound's own syntax)
 *   mx_resolver_free()   outstanding queries are dropped without callback
 *   mx_resolve()         relay string -> ordered list of addresses to try
 *   mx_cancel()          no callback will come
 *
 * Order (RFC 5321 5.1): MX preference, lowest first (answer order among
 * equal ones); per host its IPv4 addresses, then IPv6.  No MX record =
 * the implicit MX (the host's own A/AAAA).  "[host]:port" = no MX lookup.
 * Errors (text for a 451 4.4.3): NXDOMAIN, null MX (RFC 7505), SERVFAIL
 * or timeout, no address for any host.
 */
#ifndef CUTOVER_MX_H
#define CUTOVER_MX_H

#include <stddef.h>
#include <sys/socket.h>

#include "mx_dns.h"

struct event_base;
struct mx_resolver;
struct mx_query;

#define MX_HOSTS_MAX 10          /* MX hosts used, lowest preferences */
#define MX_ADDRS_MAX 4           /* addresses per host and family */

struct mx_target {
	char host[MX_NAME_MAX];      /* MX host (or the relay host) */
	struct sockaddr_storage addr;/* with the port set */
	socklen_t addrlen;
};

/* status 0: t[0..n-1] (n >= 1); -1: error is the reason. */
typedef void mx_cb(int status, const char *error, const struct mx_target *t,
    size_t n, void *arg);

struct mx_resolver *mx_resolver_new(struct event_base *base,
    const char *resolver, char *err, size_t errlen);
void mx_resolver_free(struct mx_resolver *r);
/* NULL on out of memory; cb is always called from the event loop. */
struct mx_query *mx_resolve(struct mx_resolver *r, const char *relay,
    mx_cb *cb, void *arg);
void mx_cancel(struct mx_query *q);

#endif
