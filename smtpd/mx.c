/*
 * mx.c - next-hop resolution with libunbound on the server's event base.
 *
 * Public functions: mx_resolver_new(), mx_resolver_free(), mx_resolve(),
 * mx_cancel().
 *
 * ub_ctx_create_event() makes libunbound run its sockets and timers on our
 * libevent base (Debian's libunbound8 is built with libevent 2.1, the same
 * library cutoverd uses, which the event API requires); ub_resolve_event()
 * gives the raw answer, parsed by mx_dns.c.  The forwarder is set with
 * ub_ctx_set_fwd() before the first query (the context is final after it).
 *
 * Cancelling: ub_cancel() is not used, because in libunbound 1.17 it frees
 * an event-mode query that the resolver still refers to.  A cancelled
 * mx_query stays allocated, marked, until its outstanding answers arrive
 * (they are then ignored) or the resolver is freed.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <unbound.h>
#include <unbound-event.h>

#include "mx.h"

struct mx_host {
	struct mx_query *q;
	char name[MX_NAME_MAX];
	uint16_t pref;
	size_t n4, n6;
	unsigned char a4[MX_ADDRS_MAX][4];
	unsigned char a6[MX_ADDRS_MAX][16];
};

struct mx_query {
	struct mx_resolver *r;
	LIST_ENTRY(mx_query) link;
	mx_cb *cb;
	void *arg;
	struct mx_relay relay;
	struct mx_host hosts[MX_HOSTS_MAX];
	size_t nhosts;
	unsigned pending;
	bool cancelled, tempfail;
	struct event *done;
	char error[300];
};

struct mx_resolver {
	struct ub_ctx *ctx;
	struct event_base *base;
	LIST_HEAD(, mx_query) queries;
};

enum answer { ANS_OK, ANS_NODATA, ANS_NXDOMAIN, ANS_TEMPFAIL };

static void
q_free(struct mx_query *q)
{
	LIST_REMOVE(q, link);
	event_free(q->done);
	free(q);
}

static void __attribute__((format(printf, 2, 3)))
q_error(struct mx_query *q, const char *fmt, ...)
{
	va_list ap;

	if (q->error[0] != '\0')
		return;
	va_start(ap, fmt);
	if (vsnprintf(q->error, sizeof(q->error), fmt, ap) < 0)
		q->error[0] = '\0';
	va_end(ap);
}

static void
q_check_done(struct mx_query *q)
{
	if (q->pending == 0 && !q->cancelled)
		event_active(q->done, 0, 0);
}

static enum answer
answer_parse(int rcode, void *pkt, int len, int type, struct mx_dns_answer *a)
{
	if (rcode == 3)
		return ANS_NXDOMAIN;
	if (rcode != 0 || pkt == NULL || len <= 0 ||
	    mx_dns_parse(pkt, (size_t)len, type, a) != 0)
		return ANS_TEMPFAIL;
	if (a->rcode == 3)
		return ANS_NXDOMAIN;
	if (a->rcode != 0)
		return ANS_TEMPFAIL;
	return a->n > 0 ? ANS_OK : ANS_NODATA;
}

static void addr_answer(struct mx_host *h, int type, int rcode, void *pkt,
    int len);

static void
a_cb(void *arg, int rcode, void *pkt, int len, int sec, char *why, int rl)
{
	addr_answer(arg, MX_TYPE_A, rcode, pkt, len);
}

static void
aaaa_cb(void *arg, int rcode, void *pkt, int len, int sec, char *why, int rl)
{
	addr_answer(arg, MX_TYPE_AAAA, rcode, pkt, len);
}

static void
q_start(struct mx_query *q, const char *name, int type, void *data,
    ub_event_callback_type cb)
{
	int id = 0;

	q->pending++;
	if (ub_resolve_event(q->r->ctx, name, type, 1, data, cb, &id) != 0) {
		q->pending--;
		q->tempfail = true;
	}
}

static void
host_lookup(struct mx_query *q, struct mx_host *h)
{
	q_start(q, h->name, MX_TYPE_A, h, a_cb);
	q_start(q, h->name, MX_TYPE_AAAA, h, aaaa_cb);
}

static void
addr_answer(struct mx_host *h, int type, int rcode, void *pkt, int len)
{
	struct mx_query *q = h->q;
	struct mx_dns_answer a;
	enum answer st;

	q->pending--;
	if (q->cancelled) {
		if (q->pending == 0)
			q_free(q);
		return;
	}
	st = answer_parse(rcode, pkt, len, type, &a);
	if (st == ANS_TEMPFAIL)
		q->tempfail = true;
	for (size_t i = 0; st == ANS_OK && i < a.n; i++) {
		if (type == MX_TYPE_A && h->n4 < MX_ADDRS_MAX)
			memcpy(h->a4[h->n4++], a.rr[i].addr, 4);
		else if (type == MX_TYPE_AAAA && h->n6 < MX_ADDRS_MAX)
			memcpy(h->a6[h->n6++], a.rr[i].addr, 16);
	}
	q_check_done(q);
}

static int
pref_cmp(const void *x, const void *y)
{
	const struct mx_dns_rr *a = x, *b = y;

	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	return a < b ? -1 : (a > b);
}

static void
add_host(struct mx_query *q, const char *name, uint16_t pref)
{
	struct mx_host *h;

	if (q->nhosts >= MX_HOSTS_MAX)
		return;
	h = &q->hosts[q->nhosts++];
	h->q = q;
	h->pref = pref;
	snprintf(h->name, sizeof(h->name), "%s", name);
}

static void
mx_hosts_from(struct mx_query *q, struct mx_dns_answer *a)
{
	if (a->n == 1 && a->rr[0].name[0] == '\0') {
		q_error(q, "%s has a null MX (RFC 7505): it accepts no mail",
		    q->relay.host);
		return;
	}
	qsort(a->rr, a->n, sizeof(a->rr[0]), pref_cmp);
	for (size_t i = 0; i < a->n; i++)
		if (a->rr[i].name[0] != '\0')
			add_host(q, a->rr[i].name, a->rr[i].pref);
}

static void
mx_answer(void *arg, int rcode, void *pkt, int len, int sec, char *why, int rl)
{
	struct mx_query *q = arg;
	struct mx_dns_answer a;

	q->pending--;
	if (q->cancelled) {
		if (q->pending == 0)
			q_free(q);
		return;
	}
	switch (answer_parse(rcode, pkt, len, MX_TYPE_MX, &a)) {
	case ANS_NXDOMAIN:
		q_error(q, "%s does not exist (NXDOMAIN)", q->relay.host);
		break;
	case ANS_TEMPFAIL:
		q_error(q, "MX lookup for %s failed (SERVFAIL or timeout)",
		    q->relay.host);
		break;
	case ANS_NODATA:
		add_host(q, q->relay.host, 0);
		break;
	case ANS_OK:
		mx_hosts_from(q, &a);
		break;
	}
	for (size_t i = 0; q->error[0] == '\0' && i < q->nhosts; i++)
		host_lookup(q, &q->hosts[i]);
	q_check_done(q);
}

static void
target_set(struct mx_target *t, const char *host, int family,
    const unsigned char *addr, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		t->addrlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		t->addrlen = sizeof(*sin6);
	}
}

static size_t
targets_build(struct mx_query *q, struct mx_target *t)
{
	size_t n = 0;

	for (size_t i = 0; i < q->nhosts; i++) {
		struct mx_host *h = &q->hosts[i];
		for (size_t j = 0; j < h->n4; j++)
			target_set(&t[n++], h->name, AF_INET, h->a4[j], q->relay.port);
		for (size_t j = 0; j < h->n6; j++)
			target_set(&t[n++], h->name, AF_INET6, h->a6[j], q->relay.port);
	}
	return n;
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mx_query *q = arg;
	struct mx_target *t;
	char error[sizeof(q->error)];
	size_t n = 0;
	mx_cb *cb = q->cb;
	void *cbarg = q->arg;

	t = calloc(MX_HOSTS_MAX * MX_ADDRS_MAX * 2, sizeof(*t));
	if (t == NULL)
		q_error(q, "%s", "out of memory");
	else if (q->error[0] == '\0')
		n = targets_build(q, t);
	if (n == 0 && q->tempfail)
		q_error(q, "address lookup for %s failed (SERVFAIL or timeout)",
		    q->relay.host);
	else if (n == 0)
		q_error(q, "no IPv4/IPv6 address for the next hop %s",
		    q->relay.host);
	memcpy(error, q->error, sizeof(error));
	q_free(q);
	if (n > 0)
		cb(0, NULL, t, n, cbarg);
	else
		cb(-1, error, NULL, 0, cbarg);
	free(t);
}

static void
literal_ip(struct mx_query *q)
{
	struct mx_host *h = &q->hosts[0];

	q->nhosts = 1;
	h->q = q;
	snprintf(h->name, sizeof(h->name), "%s", q->relay.host);
	if (inet_pton(AF_INET, q->relay.host, h->a4[0]) == 1)
		h->n4 = 1;
	else if (inet_pton(AF_INET6, q->relay.host, h->a6[0]) == 1)
		h->n6 = 1;
}

struct mx_query *
mx_resolve(struct mx_resolver *r, const char *relay, mx_cb *cb, void *arg)
{
	struct mx_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->done = event_new(r->base, -1, 0, done_cb, q);
	if (q->done == NULL) {
		free(q);
		return NULL;
	}
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	LIST_INSERT_HEAD(&r->queries, q, link);
	if (mx_relay_parse(relay, &q->relay) != 0)
		q_error(q, "bad next hop syntax \"%s\"", relay);
	else if (q->relay.is_ip)
		literal_ip(q);
	else if (q->relay.literal) {
		add_host(q, q->relay.host, 0);
		host_lookup(q, &q->hosts[0]);
	} else
		q_start(q, q->relay.host, MX_TYPE_MX, q, mx_answer);
	q_check_done(q);
	return q;
}

void
mx_cancel(struct mx_query *q)
{
	if (q->pending == 0) {
		q_free(q);
		return;
	}
	q->cancelled = true;
	event_del(q->done);
}

/*
 * A configured resolver answers every name: libunbound's built-in local
 * zones for test. and invalid. (RFC 6761) would otherwise say NXDOMAIN
 * before asking it, and test zones on a loopback DNS server use them.
 */
static int
mx_forwarder(struct ub_ctx *ctx, const char *resolver)
{
	int rc = ub_ctx_set_option(ctx, "local-zone:", "test. transparent");

	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "local-zone:", "invalid. transparent");
	if (rc == 0)
		rc = ub_ctx_set_fwd(ctx, resolver);
	return rc;
}

struct mx_resolver *
mx_resolver_new(struct event_base *base, const char *resolver, char *err,
    size_t errlen)
{
	struct mx_resolver *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->base = base;
	LIST_INIT(&r->queries);
	r->ctx = ub_ctx_create_event(base);
	if (r->ctx == NULL) {
		snprintf(err, errlen, "cannot create a libunbound event context");
		free(r);
		return NULL;
	}
	if (resolver != NULL && resolver[0] != '\0')
		rc = mx_forwarder(r->ctx, resolver);
	else
		rc = ub_ctx_resolvconf(r->ctx, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "resolver %s: %s",
		    resolver != NULL ? resolver : "/etc/resolv.conf",
		    ub_strerror(rc));
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	return r;
}

void
mx_resolver_free(struct mx_resolver *r)
{
	struct mx_query *q;

	if (r == NULL)
		return;
	ub_ctx_delete(r->ctx);
	while ((q = LIST_FIRST(&r->queries)) != NULL)
		q_free(q);
	free(r);
}
