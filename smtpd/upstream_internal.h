/*
 * upstream_internal.h - what the relay client's files share (upstream.c,
 * upstream_data.c, upstream_tls.c, relay_client.c, relay_pool.c); nothing
 * outside smtpd/upstream*.c and smtpd/relay_*.c includes it.
 *
 * Ownership: every struct upstream is on its relay_client's `all` list from
 * creation to up_free(), the only function that frees one.  An upstream
 * holds a per-hop slot (`slot`) once it is handed to a caller; a request
 * holds the slot while it is still connecting.
 */
#ifndef CUTOVER_UPSTREAM_INTERNAL_H
#define CUTOVER_UPSTREAM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <event2/event.h>
#include <event2/bufferevent.h>

#include "upstream.h"
#include "upstream_reply.h"

struct mx_resolver;

#define RELAY_RETIRED_MAX 8

enum up_state {
	UP_CONNECTING = 0,
	UP_GREETING,
	UP_EHLO,
	UP_HELO,
	UP_STARTTLS,
	UP_HANDSHAKE,
	UP_EHLO2,
	UP_READY,         /* no operation outstanding, held by a caller */
	UP_MAIL,
	UP_RCPT,
	UP_DATA,
	UP_BODY,          /* 354 received, content going out */
	UP_DOT,           /* final dot sent, waiting for its reply */
	UP_RSET,          /* released: RSET on the way to the idle pool */
	UP_IDLE,          /* in the hop's idle list */
	UP_QUIT,          /* released for good: QUIT, then free */
	UP_BROKEN,        /* connection closed after a failure */
};

TAILQ_HEAD(upstream_list, upstream);
TAILQ_HEAD(upstream_req_list, upstream_req);

struct relay_hop {
	char *key;                  /* "<relay>|<tls>" */
	size_t count;               /* slots in use (connecting + connected) */
	struct upstream_list idle;  /* most recently used first */
	size_t resetting;           /* sessions with their RSET in flight */
	struct upstream_req_list waiters; /* acquires waiting for one of them */
	size_t nwaiters;
	LIST_ENTRY(relay_hop) link;
};
LIST_HEAD(relay_hop_list, relay_hop);

struct relay_client {
	struct event_base *base;
	SSL_CTX *ssl;
	struct mx_resolver *mx;
	struct mx_resolver *retired[RELAY_RETIRED_MAX]; /* replaced by reloads */
	size_t nretired;
	char *resolver;             /* what mx was made from, NULL = resolv.conf */
	char *ca_file;
	char *helo;
	unsigned connect_timeout, reply_timeout, data_timeout, idle_time;
	size_t per_hop;
	struct relay_hop_list hops;
	struct upstream_list all;
	struct upstream_req_list reqs;
};

struct upstream {
	struct relay_client *rc;
	struct relay_hop *hop;
	bool slot;
	bool owned;                   /* handed to a caller, not yet released */
	bool resetting;               /* RSET in flight, counted in the hop */
	TAILQ_ENTRY(upstream) idle_link;
	TAILQ_ENTRY(upstream) all_link;
	struct bufferevent *bev;
	struct event *timer;
	struct event *defer;          /* a reply given from the event loop */
	enum up_state state;
	enum relay_tls tls;
	char host[256];               /* TLS name check / SNI; "" for none */
	char peer[300];
	char tls_version[32];
	char tls_cipher[128];
	struct upstream_caps caps;
	struct upstream_parser parser;
	struct upstream_reply reply;  /* being parsed */
	struct upstream_reply deferred;
	upstream_cb *cb;
	void *arg;
	/* DATA content */
	struct upstream_body body;
	bool at_bol;                  /* next content byte starts a line */
	char tail[2];                 /* last two content octets sent */
	size_t sent;                  /* content octets read from body */
};

/* upstream.c */
struct upstream *up_new(struct relay_client *rc, struct relay_hop *hop,
    enum relay_tls tls, const char *host, const struct sockaddr *sa,
    socklen_t salen, upstream_cb *cb, void *arg);
void up_free(struct upstream *u);
void up_fail(struct upstream *u, int code, const char *ecode,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void up_finish(struct upstream *u, const struct upstream_reply *r);
void up_defer(struct upstream *u, const struct upstream_reply *r,
    upstream_cb *cb, void *arg);
void up_send(struct upstream *u, enum up_state st, unsigned timeout,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void up_timer(struct upstream *u, unsigned seconds);
void up_setup_ready(struct upstream *u);
void up_set_callbacks(struct upstream *u);

/* upstream_data.c */
void up_body_start(struct upstream *u);
void up_body_writecb(struct bufferevent *bev, void *arg);

/* upstream_tls.c */
SSL_CTX *up_tls_ctx_new(const char *ca_file, char *err, size_t errlen);
int up_tls_start(struct upstream *u);
void up_tls_done(struct upstream *u);
void up_tls_error(struct upstream *u);

/* relay_pool.c */
struct relay_hop *relay_hop_get(struct relay_client *rc, const char *relay,
    enum relay_tls tls);
void relay_hop_put(struct relay_client *rc, struct relay_hop *hop);
void relay_hop_unused(struct relay_hop *hop);
void relay_hop_idle_add(struct upstream *u);
void relay_hop_idle_remove(struct upstream *u);
void relay_pool_free(struct relay_client *rc);

/* relay_client.c: hand idle sessions to waiting acquires, or let them
 * connect when no RSET in flight is left for them. */
void relay_hop_wake(struct relay_hop *hop);

#endif
