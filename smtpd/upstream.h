/*
 * upstream.h - the relay client: SMTP sessions from cutoverd to a live
 * domain's next hop (RFC 5321 client side), on the server's event base.
 *
 * cutoverd is a proxy, not a queue (DESIGN.md "Key decisions"): the session
 * asks for an upstream session when the first live RCPT arrives, forwards
 * MAIL and each RCPT, and after the client's final dot sends the whole
 * message; every verdict the client gets comes from here.  Any failure
 * (connect, TLS, timeout, drop, garbage) is turned into a local 4xx reply
 * (`local` set), so the caller never has to guess.
 *
 * Public functions:
 *   relay_client_new/free()       one per server: resolver, TLS context, pool
 *   relay_client_configure()      apply a reloaded `relay { }` section
 *   upstream_acquire()            a ready session (greeting, EHLO, STARTTLS
 *                                 per relay_tls, EHLO again) to a next hop,
 *                                 reused from the idle pool when possible
 *   upstream_acquire_cancel()     the client went away while waiting
 *   upstream_mail/rcpt/data()     one command each; exactly one callback
 *   upstream_release()            RSET and back to the pool (or QUIT)
 *   upstream_abort()              close now, no callback
 *   upstream_reply_format()       the reply line(s) the client gets
 *
 * Invariants: at most one operation is outstanding per upstream; callbacks
 * are never called from inside the call that started the operation (always
 * from the event loop), so the caller's state is settled when they run; an
 * upstream whose operation failed is never put back in the pool.
 */
#ifndef CUTOVER_UPSTREAM_H
#define CUTOVER_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

struct event_base;

#define UPSTREAM_LINE_MAX  512    /* one reply line, RFC 5321 4.5.3.1.5 */
#define UPSTREAM_LINES_MAX 8      /* reply lines kept (the rest dropped) */

struct upstream_reply {
	int code;                          /* 200..599 */
	char ecode[16];                    /* "5.1.1", or "" when none given */
	size_t nlines;                     /* >= 1 */
	char text[UPSTREAM_LINES_MAX][UPSTREAM_LINE_MAX]; /* each line's text
	                                      after code and ecode */
	bool local;                        /* made by us (connect failure,
	                                      timeout, TLS, drop), not upstream */
	char peer[300];                    /* "host[ip]:port" we talked to, or
	                                      the next hop when none was reached */
};

/* Message content for upstream_data(): called until it returns 0 (end) or
 * -1 (error: the transfer is aborted, the upstream closed, and the callback
 * gets a local 451 4.3.0).  Content is the unstuffed message as CRLF lines;
 * upstream_data() does the dot-stuffing and the final ".". */
struct upstream_body {
	ssize_t (*read)(void *arg, char *buf, size_t len);
	void *arg;
};

/* What the client's MAIL asked for; kept only when the upstream's EHLO
 * offers the extension (BODY=8BITMIME dropped silently as Postfix does;
 * SMTPUTF8 needed but not offered -> local 553 5.6.7 at MAIL). */
struct upstream_mail_params {
	size_t size;                       /* 0 = no SIZE= */
	bool body_8bit;
	bool smtputf8;
};

struct relay_client;
struct upstream;
struct upstream_req;

typedef void upstream_cb(struct upstream *u, const struct upstream_reply *r,
    void *arg);

struct relay_client *relay_client_new(struct event_base *base,
    const struct policy_relay *cfg, const char *helo_name, char *err,
    size_t errlen);
int relay_client_configure(struct relay_client *rc,
    const struct policy_relay *cfg, const char *helo_name, char *err,
    size_t errlen);
void relay_client_free(struct relay_client *rc);

/* cb gets (u, 250 reply) when ready, or (NULL, local 4xx) on failure.
 * The returned handle is valid until cb runs; NULL means cb will not run
 * (out of memory). */
struct upstream_req *upstream_acquire(struct relay_client *rc,
    const char *relay, enum relay_tls tls, upstream_cb *cb, void *arg);
void upstream_acquire_cancel(struct upstream_req *req);

void upstream_mail(struct upstream *u, const char *from,
    const struct upstream_mail_params *mp, upstream_cb *cb, void *arg);
void upstream_rcpt(struct upstream *u, const char *to, upstream_cb *cb,
    void *arg);
/* DATA; when 354, the body, dot-stuffed, then "."; cb gets the reply to
 * DATA when it is not 354, else the reply to the final dot. */
void upstream_data(struct upstream *u, const struct upstream_body *body,
    upstream_cb *cb, void *arg);
void upstream_release(struct upstream *u);
void upstream_abort(struct upstream *u);

/* "host[ip]:port", TLS version and cipher ("" when plaintext), for logs. */
const char *upstream_peer(const struct upstream *u);
const char *upstream_tls_version(const struct upstream *u);
const char *upstream_tls_cipher(const struct upstream *u);

/*
 * The reply the client gets for r: every line keeps the code and the
 * enhanced code (a default X.0.0 when the upstream gave none) and its text
 * is prefixed with "upstream <peer>: " so the sender can tell whose verdict
 * it is; lines joined with CRLF, no final CRLF.  Returns the length, or -1
 * when buflen is too small.
 */
int upstream_reply_format(const struct upstream_reply *r, char *buf,
    size_t buflen);

#endif
