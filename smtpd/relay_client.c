/*
 * relay_client.c - the relay client as a whole: configuration, and
 * upstream_acquire(): an idle session from the pool, or resolve the next
 * hop (mx.c) and try its addresses in order until one gives a ready
 * session (greeting, EHLO, STARTTLS per relay_tls, EHLO again).
 *
 * Public functions: relay_client_new(), relay_client_configure(),
 * relay_client_free(), upstream_acquire(), upstream_acquire_cancel().
 *
 * Trying addresses: any failure while a session is being set up (refused,
 * timeout, TLS, a 4xx/5xx greeting or EHLO) moves on to the next address,
 * as Postfix does for MX hosts; the caller gets the last failure.  Every
 * failure is a local 451: 4.4.1 connect, 4.4.2 timeout or drop, 4.4.3 DNS,
 * 4.4.5 per_hop_connections reached ("too many connections to next hop"),
 * 4.7.0 TLS, 4.5.0 protocol error, 4.4.0 next hop refused the session,
 * 4.3.0 local error.
 *
 * The lookup of the next hop is bounded by connect_timeout too (451 4.4.3
 * "no DNS answer within N s"): with a dead resolver, libunbound's own
 * retries would otherwise hold the sender for about 17 s per lookup.
 *
 * Reuse: an acquire that finds no idle session but one of the hop with its
 * RSET in flight (the previous transaction just ended) waits for it, one
 * waiter per such session, instead of opening another connection; if that
 * RSET fails, the waiter connects.  A client that sends its next MAIL right
 * after the 250 of the previous message thus stays on one connection.
 *
 * A changed resolver on reload gets a new libunbound context; the old one
 * keeps serving the lookups already under way and is freed with the client
 * (reloads that change the resolver are rare, each costs one context).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "upstream_internal.h"

struct upstream_req {
	struct relay_client *rc;
	TAILQ_ENTRY(upstream_req) link;
	TAILQ_ENTRY(upstream_req) wait_link; /* in hop->waiters */
	bool waiting;
	struct relay_hop *hop;
	bool slot;
	enum relay_tls tls;
	char *relay;
	upstream_cb *cb;
	void *arg;
	struct mx_query *q;
	struct mx_target *targets;
	size_t ntargets, next;
	struct upstream *u;           /* connecting, or taken from the pool */
	struct event *defer;
	struct event *dns_timer;      /* the next hop's lookup deadline */
	struct upstream_reply last;   /* what the caller gets on failure */
};


static void
req_unwait(struct upstream_req *req)
{
	TAILQ_REMOVE(&req->hop->waiters, req, wait_link);
	req->hop->nwaiters--;
	req->waiting = false;
}

static void
req_free(struct upstream_req *req)
{
	TAILQ_REMOVE(&req->rc->reqs, req, link);
	if (req->waiting) {
		req_unwait(req);
		relay_hop_unused(req->hop);
	}
	if (req->slot)
		relay_hop_put(req->rc, req->hop);
	if (req->defer != NULL)
		event_free(req->defer);
	if (req->dns_timer != NULL)
		event_free(req->dns_timer);
	free(req->targets);
	free(req->relay);
	free(req);
}

/* The end of a request: the caller's callback, last. */
static void
req_done(struct upstream_req *req, struct upstream *u,
    const struct upstream_reply *r)
{
	upstream_cb *cb = req->cb;
	void *arg = req->arg;
	struct upstream_reply copy = *r;

	if (u != NULL) {
		u->owned = true;
		u->cb = NULL;
	}
	req_free(req);
	cb(u, &copy, arg);
}

static void
req_fail(struct upstream_req *req, int code, const char *ecode,
    const char *text)
{
	upstream_reply_local(&req->last, code, ecode, req->relay, "%s", text);
	event_active(req->defer, 0, 0);
}

static void req_try_next(struct upstream_req *req);

static void
req_setup_cb(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	struct upstream_req *req = arg;

	req->u = NULL;
	if (!r->local) {
		u->slot = true;
		req->slot = false;
		req_done(req, u, r);
		return;
	}
	req->last = *r;
	up_free(u);
	req_try_next(req);
}

static void
req_try_next(struct upstream_req *req)
{
	struct relay_client *rc = req->rc;

	while (req->next < req->ntargets) {
		struct mx_target *t = &req->targets[req->next++];
		req->u = up_new(rc, req->hop, req->tls, t->host,
		    (struct sockaddr *)&t->addr, t->addrlen, req_setup_cb, req);
		if (req->u != NULL)
			return;
		upstream_reply_local(&req->last, 451, "4.4.1", req->relay,
		    "cannot connect to %s: %s", t->host, strerror(errno));
	}
	req_done(req, NULL, &req->last);
}

static void
req_resolved(int status, const char *error, const struct mx_target *t,
    size_t n, void *arg)
{
	struct upstream_req *req = arg;

	req->q = NULL;
	evtimer_del(req->dns_timer);
	if (status != 0) {
		upstream_reply_local(&req->last, 451, "4.4.3", req->relay,
		    "cannot resolve the next hop: %s", error);
		req_done(req, NULL, &req->last);
		return;
	}
	req->targets = calloc(n, sizeof(*t));
	if (req->targets == NULL) {
		upstream_reply_local(&req->last, 451, "4.3.0", req->relay,
		    "local error: out of memory");
		req_done(req, NULL, &req->last);
		return;
	}
	memcpy(req->targets, t, n * sizeof(*t));
	req->ntargets = n;
	req_try_next(req);
}

static void
req_dns_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_req *req = arg;

	(void)fd;
	(void)what;
	if (req->q == NULL)
		return;
	mx_cancel(req->q);
	req->q = NULL;
	upstream_reply_local(&req->last, 451, "4.4.3", req->relay,
	    "cannot resolve the next hop: no DNS answer within %u s",
	    req->rc->connect_timeout);
	req_done(req, NULL, &req->last);
}

/* Looks up the next hop, the answer due within connect_timeout. */
static void
req_resolve(struct upstream_req *req)
{
	struct timeval tv = { (time_t)req->rc->connect_timeout, 0 };

	if (req->dns_timer == NULL)
		req->dns_timer = evtimer_new(req->rc->base, req_dns_timeout, req);
	if (req->dns_timer == NULL) {
		req_fail(req, 451, "4.3.0", "local error: out of memory");
		return;
	}
	req->q = mx_resolve(req->rc->mx, req->relay, req_resolved, req);
	if (req->q == NULL) {
		req_fail(req, 451, "4.3.0", "local error: out of memory");
		return;
	}
	evtimer_add(req->dns_timer, &tv);
}

static void
req_connect(struct upstream_req *req)
{
	struct relay_client *rc = req->rc;
	char text[UPSTREAM_LINE_MAX];

	if (req->hop->count >= rc->per_hop) {
		snprintf(text, sizeof(text), "too many connections to next hop "
		    "%s (per_hop_connections = %zu)", req->relay, rc->per_hop);
		req_fail(req, 451, "4.4.5", text);
		return;
	}
	req->hop->count++;
	req->slot = true;
	req_resolve(req);
}

/* Deferred end: a pooled session, or a failure decided at once. */
static void
req_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_req *req = arg;
	struct upstream *u = req->u;

	if (u == NULL) {
		req_done(req, NULL, &req->last);
		return;
	}
	req->u = NULL;
	if (u->state != UP_READY) {
		u->slot = false;
		req->slot = true;
		up_free(u);
		req_resolve(req);
		return;
	}
	upstream_reply_local(&req->last, 250, "2.0.0", u->peer,
	    "session reused");
	req->last.local = false;
	req_done(req, u, &req->last);
}

/* An idle session of the hop for req, answered from the event loop. */
static void
req_take(struct upstream_req *req, struct upstream *u)
{
	relay_hop_idle_remove(u);
	u->owned = true;
	req->u = u;
	event_active(req->defer, 0, 0);
}

struct upstream_req *
upstream_acquire(struct relay_client *rc, const char *relay,
    enum relay_tls tls, upstream_cb *cb, void *arg)
{
	struct upstream_req *req = calloc(1, sizeof(*req));
	struct upstream *u;

	if (req == NULL)
		return NULL;
	req->rc = rc;
	req->tls = tls;
	req->cb = cb;
	req->arg = arg;
	req->relay = strdup(relay);
	req->defer = event_new(rc->base, -1, 0, req_defer_cb, req);
	req->hop = relay_hop_get(rc, relay, tls);
	TAILQ_INSERT_TAIL(&rc->reqs, req, link);
	if (req->relay == NULL || req->defer == NULL || req->hop == NULL) {
		if (req->hop != NULL)
			relay_hop_unused(req->hop);
		req_free(req);
		return NULL;
	}
	if ((u = TAILQ_FIRST(&req->hop->idle)) != NULL) {
		req_take(req, u);
		return req;
	}
	if (req->hop->resetting > req->hop->nwaiters) {
		/* A session of this hop is on its way back to the pool. */
		TAILQ_INSERT_TAIL(&req->hop->waiters, req, wait_link);
		req->hop->nwaiters++;
		req->waiting = true;
		return req;
	}
	req_connect(req);
	return req;
}

void
relay_hop_wake(struct relay_hop *hop)
{
	struct upstream_req *req;
	struct upstream *u;

	while ((req = TAILQ_FIRST(&hop->waiters)) != NULL) {
		if ((u = TAILQ_FIRST(&hop->idle)) != NULL) {
			req_unwait(req);
			req_take(req, u);
		} else if (hop->resetting < hop->nwaiters) {
			/* More waiters than sessions coming back: connect. */
			req_unwait(req);
			req_connect(req);
		} else {
			break;
		}
	}
}

void
upstream_acquire_cancel(struct upstream_req *req)
{
	struct upstream *u = req->u;

	if (req->q != NULL)
		mx_cancel(req->q);
	if (u != NULL && u->slot && u->state == UP_READY) {
		u->owned = false;
		relay_hop_idle_add(u);
	} else if (u != NULL) {
		up_free(u);
	}
	req_free(req);
}

static int
set_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src != NULL && (c = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
configure_resolver(struct relay_client *rc, const char *resolver, char *err,
    size_t errlen)
{
	struct mx_resolver *mx;

	if (rc->mx != NULL && same_str(rc->resolver, resolver))
		return 0;
	mx = mx_resolver_new(rc->base, resolver, err, errlen);
	if (mx == NULL)
		return -1;
	if (set_str(&rc->resolver, resolver) != 0) {
		mx_resolver_free(mx);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (rc->mx != NULL) {
		if (rc->nretired == RELAY_RETIRED_MAX)
			mx_resolver_free(rc->retired[--rc->nretired]);
		rc->retired[rc->nretired++] = rc->mx;
	}
	rc->mx = mx;
	return 0;
}

int
relay_client_configure(struct relay_client *rc, const struct policy_relay *cfg,
    const char *helo_name, char *err, size_t errlen)
{
	SSL_CTX *ssl = NULL;

	if (rc->ssl == NULL || !same_str(rc->ca_file, cfg->ca_file)) {
		if ((ssl = up_tls_ctx_new(cfg->ca_file, err, errlen)) == NULL)
			return -1;
	}
	if (configure_resolver(rc, cfg->resolver, err, errlen) != 0 ||
	    set_str(&rc->ca_file, cfg->ca_file) != 0 ||
	    set_str(&rc->helo, helo_name) != 0) {
		if (ssl != NULL)
			SSL_CTX_free(ssl);
		if (err[0] == '\0')
			snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (ssl != NULL) {
		SSL_CTX_free(rc->ssl);
		rc->ssl = ssl;
	}
	rc->connect_timeout = cfg->connect_timeout;
	rc->reply_timeout = cfg->reply_timeout;
	rc->data_timeout = cfg->data_timeout;
	rc->idle_time = cfg->idle_time;
	rc->per_hop = cfg->per_hop_connections;
	return 0;
}

struct relay_client *
relay_client_new(struct event_base *base, const struct policy_relay *cfg,
    const char *helo_name, char *err, size_t errlen)
{
	struct relay_client *rc = calloc(1, sizeof(*rc));

	if (rc == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc->base = base;
	LIST_INIT(&rc->hops);
	TAILQ_INIT(&rc->all);
	TAILQ_INIT(&rc->reqs);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (relay_client_configure(rc, cfg, helo_name, err, errlen) != 0) {
		relay_client_free(rc);
		return NULL;
	}
	return rc;
}

void
relay_client_free(struct relay_client *rc)
{
	struct upstream_req *req;
	struct relay_hop *h;

	if (rc == NULL)
		return;
	while ((req = TAILQ_FIRST(&rc->reqs)) != NULL)
		upstream_acquire_cancel(req);
	relay_pool_free(rc);
	while ((h = LIST_FIRST(&rc->hops)) != NULL) {
		h->count = 0;
		relay_hop_put(rc, h);
	}
	mx_resolver_free(rc->mx);
	for (size_t i = 0; i < rc->nretired; i++)
		mx_resolver_free(rc->retired[i]);
	if (rc->ssl != NULL)
		SSL_CTX_free(rc->ssl);
	free(rc->resolver);
	free(rc->ca_file);
	free(rc->helo);
	free(rc);
}
