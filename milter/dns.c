/*
 * dns.c - synchronous DNS lookups with a deadline over libunbound (see
 * dns.h for the contract and the status mapping).
 *
 * Public functions: auth_dns_new/free, auth_dns_lookup, auth_dns_rrset_free,
 * auth_dns_status_name; the typed helpers are in dns_types.c.
 *
 * How: one ub_ctx per struct auth_dns, in threaded async mode
 * (ub_ctx_async(ctx, 1): never fork() inside a threaded daemon).  A lookup
 * is ub_resolve_async() plus a wait with a deadline.  Several threads may
 * wait at once: one of them at a time is the "pump" (polls ub_fd() and runs
 * ub_process(), which calls the callbacks of every thread's queries), the
 * others sleep on a condition variable woken after each pump round.  The
 * callbacks run with d->mu held, so a waiter that times out can ub_cancel()
 * its query without racing the callback; when the result is already in
 * flight (cancel fails), the query is marked abandoned and the callback
 * frees it.  Why not ub_resolve(): it has no timeout, and an unanswering
 * authority would hold a worker thread for tens of seconds.
 *
 * In front of it, dns_cache.c keeps answers for their TTL: a repeated
 * name costs no trip to libunbound's thread.
 *
 * libunbound's built-in empty reverse zones (AS112, TEST-NET, 2001:db8::)
 * are turned off: we are a stub, the configured resolver answers those.
 * Invariants: rdata copied out of ub_result with its length; nothing here
 * treats a failure as an empty answer (RFC 7208 2.6.6, RFC 7489 6.6.3).
 */
#include "dns.h"
#include "dns_cache.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#define PUMP_SLICE_MS 50
#define CACHE_ENTRIES 1024
#define CLASS_IN 1

struct auth_dns {
	struct ub_ctx *ctx;
	unsigned timeout_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pumping;
	struct dns_cache *cache;
	unsigned long lookups, cache_hits;   /* atomic */
};

struct dns_query {
	int done;
	int abandoned;
	int err;
	struct ub_result *res;
};

static int
set_error(char *err, size_t errlen, const char *what, const char *detail)
{
	int n;

	if (err == NULL || errlen == 0)
		return -1;
	n = snprintf(err, errlen, "%s: %s", what, detail);
	if (n < 0 || (size_t)n >= errlen)
		err[errlen - 1] = '\0';
	return -1;
}

/* Reverse zones libunbound answers NXDOMAIN for by itself (its AS112 and
 * documentation-prefix defaults).  We are a stub in front of a recursive
 * resolver, which knows better (an operator's resolver may hold PTRs for
 * these ranges; the RFC 7208 suite uses 192.0.2.x and 2001:db8::), so the
 * defaults are turned off; localhost, test., invalid. and the like stay. */
static const char *const upstream_zones[] = {
	"0.in-addr.arpa.", "254.169.in-addr.arpa.", "2.0.192.in-addr.arpa.",
	"100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
	"255.255.255.255.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
	"d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.",
	"b.e.f.ip6.arpa.",
};

static int
no_local_defaults(struct ub_ctx *ctx)
{
	char zone[64];
	size_t i;
	int rc, n, octet;

	rc = ub_ctx_set_option(ctx, "unblock-lan-zones:", "yes");
	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "insecure-lan-zones:", "yes");
	for (i = 0; rc == 0 && i < sizeof(upstream_zones) /
	    sizeof(upstream_zones[0]); i++) {
		n = snprintf(zone, sizeof(zone), "%s nodefault",
		    upstream_zones[i]);
		rc = n > 0 && (size_t)n < sizeof(zone) ?
		    ub_ctx_set_option(ctx, "local-zone:", zone) : UB_SYNTAX;
	}
	for (octet = 64; rc == 0 && octet <= 127; octet++) {
		n = snprintf(zone, sizeof(zone), "%d.100.in-addr.arpa. nodefault",
		    octet);
		rc = n > 0 && (size_t)n < sizeof(zone) ?
		    ub_ctx_set_option(ctx, "local-zone:", zone) : UB_SYNTAX;
	}
	return rc;
}

static int
configure(struct ub_ctx *ctx, const char *resolver, char *err, size_t errlen)
{
	int rc;

	rc = ub_ctx_async(ctx, 1);
	if (rc == 0)
		rc = no_local_defaults(ctx);
	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "outgoing-range:", "64");
	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "outgoing-num-tcp:", "4");
	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
	if (rc == 0 && resolver != NULL)
		rc = ub_ctx_set_fwd(ctx, resolver);
	else if (rc == 0)
		rc = ub_ctx_resolvconf(ctx, NULL);
	if (rc != 0)
		return set_error(err, errlen, resolver ? resolver : "resolv.conf",
		    ub_strerror(rc));
	return 0;
}

struct auth_dns *
auth_dns_new(const char *resolver, unsigned timeout_ms, char *err,
    size_t errlen)
{
	struct auth_dns *d;

	if (timeout_ms == 0)
		timeout_ms = 5000;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		set_error(err, errlen, "auth_dns", strerror(errno));
		return NULL;
	}
	d->timeout_ms = timeout_ms;
	d->ctx = ub_ctx_create();
	if (d->ctx == NULL) {
		set_error(err, errlen, "auth_dns", "ub_ctx_create failed");
		free(d);
		return NULL;
	}
	if (configure(d->ctx, resolver, err, errlen) != 0) {
		ub_ctx_delete(d->ctx);
		free(d);
		return NULL;
	}
	if ((d->cache = dns_cache_new(CACHE_ENTRIES)) == NULL) {
		set_error(err, errlen, "auth_dns", "no memory for the cache");
		ub_ctx_delete(d->ctx);
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	return d;
}

void
auth_dns_free(struct auth_dns *d)
{
	if (d == NULL)
		return;
	ub_ctx_delete(d->ctx);
	dns_cache_free(d->cache);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

const char *
auth_dns_status_name(enum auth_dns_status s)
{
	switch (s) {
	case AUTH_DNS_OK:
		return "ok";
	case AUTH_DNS_NXDOMAIN:
		return "nxdomain";
	case AUTH_DNS_NODATA:
		return "nodata";
	case AUTH_DNS_TEMPFAIL:
		return "tempfail";
	}
	return "unknown";
}

/* Called by ub_process() with d->mu held (see the file comment). */
static void
query_done(void *arg, int err, struct ub_result *res)
{
	struct dns_query *q = arg;

	if (q->abandoned) {
		if (res != NULL)
			ub_resolve_free(res);
		free(q);
		return;
	}
	q->done = 1;
	q->err = err;
	q->res = res;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One round as the pump; d->mu held on entry and on return. */
static void
pump_once(struct auth_dns *d, long long left)
{
	struct pollfd pfd;

	d->pumping = 1;
	pthread_mutex_unlock(&d->mu);
	pfd.fd = ub_fd(d->ctx);
	pfd.events = POLLIN;
	pfd.revents = 0;
	poll(&pfd, 1, (int)(left < PUMP_SLICE_MS ? left : PUMP_SLICE_MS));
	pthread_mutex_lock(&d->mu);
	if (pfd.revents != 0)
		ub_process(d->ctx);
	d->pumping = 0;
	pthread_cond_broadcast(&d->cv);
}

static void
sleep_once(struct auth_dns *d, long long left)
{
	struct timespec ts;
	long long ms = left < PUMP_SLICE_MS ? left : PUMP_SLICE_MS;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&d->cv, &d->mu, &ts);
}

/* Waits for q until the deadline; returns the result or NULL (q freed or
 * handed to the callback either way). */
static struct ub_result *
wait_result(struct auth_dns *d, struct dns_query *q, int id, int *err)
{
	long long deadline = now_ms() + d->timeout_ms, left;
	struct ub_result *res;

	pthread_mutex_lock(&d->mu);
	while (!q->done && (left = deadline - now_ms()) > 0) {
		if (!d->pumping)
			pump_once(d, left);
		else
			sleep_once(d, left);
	}
	if (!q->done) {
		if (ub_cancel(d->ctx, id) != 0)
			q->abandoned = 1;
		else
			free(q);
		pthread_mutex_unlock(&d->mu);
		*err = UB_NOERROR;
		return NULL;
	}
	pthread_mutex_unlock(&d->mu);
	res = q->res;
	*err = q->err;
	free(q);
	return res;
}

static enum auth_dns_status
classify(int err, const struct ub_result *res)
{
	if (err != 0 || res == NULL)
		return AUTH_DNS_TEMPFAIL;
	if (res->nxdomain || res->rcode == 3)
		return AUTH_DNS_NXDOMAIN;
	if (res->rcode != 0 || res->bogus)
		return AUTH_DNS_TEMPFAIL;
	return res->havedata ? AUTH_DNS_OK : AUTH_DNS_NODATA;
}

static int
copy_rrset(const struct ub_result *res, struct auth_dns_rrset *out)
{
	size_t n = 0, i;

	while (res->data[n] != NULL)
		n++;
	out->data = calloc(n ? n : 1, sizeof(*out->data));
	out->len = calloc(n ? n : 1, sizeof(*out->len));
	if (out->data == NULL || out->len == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		size_t len = (size_t)res->len[i];

		out->data[i] = malloc(len ? len : 1);
		if (out->data[i] == NULL)
			return -1;
		memcpy(out->data[i], res->data[i], len);
		out->len[i] = len;
		out->n = i + 1;
	}
	return 0;
}

static void
tally_add(struct auth_dns_tally *tally, enum auth_dns_status st)
{
	if (tally == NULL)
		return;
	tally->queries++;
	if (st == AUTH_DNS_NXDOMAIN || st == AUTH_DNS_NODATA)
		tally->voids++;
}

enum auth_dns_status
auth_dns_lookup(struct auth_dns *d, const char *name, int rrtype,
    struct auth_dns_tally *tally, struct auth_dns_rrset *out)
{
	struct dns_query *q;
	struct ub_result *res;
	enum auth_dns_status st;
	int id, err;

	__atomic_add_fetch(&d->lookups, 1, __ATOMIC_RELAXED);
	if (dns_cache_get(d->cache, name, rrtype, now_ms(), &st, out)) {
		__atomic_add_fetch(&d->cache_hits, 1, __ATOMIC_RELAXED);
		tally_add(tally, st);
		return st;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return AUTH_DNS_TEMPFAIL;
	if (ub_resolve_async(d->ctx, name, rrtype, CLASS_IN, q, query_done,
	    &id) != 0) {
		free(q);
		tally_add(tally, AUTH_DNS_TEMPFAIL);
		return AUTH_DNS_TEMPFAIL;
	}
	res = wait_result(d, q, id, &err);
	st = classify(err, res);
	if (st == AUTH_DNS_OK && copy_rrset(res, out) != 0) {
		auth_dns_rrset_free(out);
		st = AUTH_DNS_TEMPFAIL;
	}
	if (res != NULL) {
		dns_cache_put(d->cache, name, rrtype, now_ms(),
		    res->ttl > 0 ? (unsigned)res->ttl : 0, st, out);
		ub_resolve_free(res);
	}
	tally_add(tally, st);
	return st;
}

void
auth_dns_stats(struct auth_dns *d, unsigned long *lookups,
    unsigned long *cache_hits)
{
	*lookups = __atomic_load_n(&d->lookups, __ATOMIC_RELAXED);
	*cache_hits = __atomic_load_n(&d->cache_hits, __ATOMIC_RELAXED);
}

void
auth_dns_rrset_free(struct auth_dns_rrset *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		free(r->data[i]);
	free(r->data);
	free(r->len);
	memset(r, 0, sizeof(*r));
}
