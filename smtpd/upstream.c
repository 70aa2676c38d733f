/*
 * upstream.c - one SMTP client connection to a next hop (RFC 5321 client
 * side) on a bufferevent: connect, greeting, EHLO (HELO when EHLO gets a
 * 5xx), STARTTLS (RFC 3207, upstream_tls.c), EHLO again, then MAIL, RCPT,
 * DATA (content: upstream_data.c), RSET, QUIT.
 *
 * Public functions: upstream_mail(), upstream_rcpt(), upstream_data(),
 * upstream_release(), upstream_abort(), upstream_peer(),
 * upstream_tls_version(), upstream_tls_cipher(); and for the other relay
 * files up_new(), up_free(), up_fail(), up_finish(), up_defer(), up_send(),
 * up_timer(), up_setup_ready().
 *
 * Replies: a line over 512 octets with its CRLF, a line that is not a
 * reply line, or input nobody asked for (a second reply, data after the
 * 220 to STARTTLS) is a protocol error: the connection is closed and the
 * caller gets 451 4.5.0.  Timeouts: connect_timeout (-> 451 4.4.1, "no
 * answer from host"), reply_timeout for each reply and for progress while
 * content is sent, data_timeout for the reply to the final dot (-> 451
 * 4.4.2).  A lost connection is 451 4.4.2.  A 421 from the upstream is
 * passed on and the connection is closed (RFC 5321 3.8).
 *
 * Addresses are given bare (no angle brackets); one holding a control
 * octet (CR, LF, NUL...) is refused locally with 553, so nothing a client
 * sent can add a command to the upstream session.
 *
 * Callbacks run last in the handler that calls them: the callee may free
 * the upstream (upstream_abort), so nothing touches it afterwards.
 * up_free() is the only function that frees an upstream.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "upstream_internal.h"

#define UP_READ_HIGH   16384
#define UP_QUIT_WAIT   5

static const char *const state_names[] = {
	"connect", "greeting", "EHLO", "HELO", "STARTTLS", "TLS handshake",
	"EHLO", "idle", "MAIL FROM", "RCPT TO", "DATA", "message content",
	"end of data", "RSET", "idle", "QUIT", "closed",
};

static void up_readcb(struct bufferevent *bev, void *arg);
static void up_eventcb(struct bufferevent *bev, short what, void *arg);

void
up_set_callbacks(struct upstream *u)
{
	bufferevent_setcb(u->bev, up_readcb, up_body_writecb, up_eventcb, u);
	bufferevent_setwatermark(u->bev, EV_READ, 0, UP_READ_HIGH);
	bufferevent_enable(u->bev, EV_READ | EV_WRITE);
}

static void
up_close(struct upstream *u)
{
	if (u->bev != NULL)
		bufferevent_free(u->bev);
	u->bev = NULL;
	if (u->timer != NULL)
		evtimer_del(u->timer);
	u->state = UP_BROKEN;
}

void
up_free(struct upstream *u)
{
	struct relay_hop *hop = u->hop;
	bool wake = false;

	if (u->state == UP_IDLE)
		relay_hop_idle_remove(u);
	if (u->resetting) {
		hop->resetting--;
		wake = !TAILQ_EMPTY(&hop->waiters);   /* keeps hop alive below */
	}
	if (u->bev != NULL)
		bufferevent_free(u->bev);
	if (u->timer != NULL)
		event_free(u->timer);
	if (u->defer != NULL)
		event_free(u->defer);
	TAILQ_REMOVE(&u->rc->all, u, all_link);
	if (u->slot)
		relay_hop_put(u->rc, hop);
	free(u);
	if (wake)
		relay_hop_wake(hop);
}

static void
up_call(struct upstream *u, const struct upstream_reply *r)
{
	upstream_cb *cb = u->cb;
	void *arg = u->arg;

	u->cb = NULL;
	u->arg = NULL;
	if (cb != NULL)
		cb(u, r, arg);
	else if (!u->owned)
		up_free(u);
}

void
up_fail(struct upstream *u, int code, const char *ecode, const char *fmt, ...)
{
	struct upstream_reply r;
	char text[UPSTREAM_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		text[0] = '\0';
	va_end(ap);
	upstream_reply_local(&r, code, ecode, u->peer, "%s", text);
	up_close(u);
	up_call(u, &r);
}

void
up_finish(struct upstream *u, const struct upstream_reply *r)
{
	evtimer_del(u->timer);
	u->state = UP_READY;
	if (r->code == 421)
		up_close(u);
	up_call(u, r);
}

static void
up_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;

	up_call(u, &u->deferred);
}

void
up_defer(struct upstream *u, const struct upstream_reply *r, upstream_cb *cb,
    void *arg)
{
	u->deferred = *r;
	u->cb = cb;
	u->arg = arg;
	event_active(u->defer, 0, 0);
}

void
up_timer(struct upstream *u, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	if (seconds == 0)
		evtimer_del(u->timer);
	else
		evtimer_add(u->timer, &tv);
}

static int __attribute__((format(printf, 4, 0)))
up_vsend(struct upstream *u, enum up_state st, unsigned timeout,
    const char *fmt, va_list ap)
{
	struct evbuffer *out;

	if (u->bev == NULL)
		return -1;
	out = bufferevent_get_output(u->bev);
	if (evbuffer_add_vprintf(out, fmt, ap) < 0 ||
	    evbuffer_add(out, "\r\n", 2) != 0)
		return -1;
	memset(&u->parser, 0, sizeof(u->parser));
	u->state = st;
	if (st == UP_RSET && !u->resetting) {
		u->resetting = true;   /* until its reply or up_free() */
		u->hop->resetting++;
	}
	up_timer(u, timeout);
	return 0;
}

void
up_send(struct upstream *u, enum up_state st, unsigned timeout,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = up_vsend(u, st, timeout, fmt, ap);
	va_end(ap);
	if (r != 0)
		up_fail(u, 451, "4.3.0", "local error: cannot queue a command");
}

static void
up_timercb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;

	switch (u->state) {
	case UP_CONNECTING:
		up_fail(u, 451, "4.4.1", "cannot connect: connection timed out");
		break;
	case UP_IDLE:
		relay_hop_idle_remove(u);
		up_send(u, UP_QUIT, UP_QUIT_WAIT, "QUIT");
		break;
	case UP_QUIT:
		up_free(u);
		break;
	case UP_BODY:
		up_fail(u, 451, "4.4.2", "timeout sending message content");
		break;
	default:
		up_fail(u, 451, "4.4.2", "timeout waiting for the reply to %s",
		    state_names[u->state]);
		break;
	}
}

static void
peer_text(struct upstream *u, const char *host, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	}
	if (snprintf(u->peer, sizeof(u->peer), "%s[%s]:%u", host, ip, port) >=
	    (int)sizeof(u->peer))
		snprintf(u->peer, sizeof(u->peer), "[%s]:%u", ip, port);
}

struct upstream *
up_new(struct relay_client *rc, struct relay_hop *hop, enum relay_tls tls,
    const char *host, const struct sockaddr *sa, socklen_t salen,
    upstream_cb *cb, void *arg)
{
	struct upstream *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->rc = rc;
	u->hop = hop;
	u->tls = tls;
	u->cb = cb;
	u->arg = arg;
	snprintf(u->host, sizeof(u->host), "%s", host);
	peer_text(u, host, sa);
	TAILQ_INSERT_TAIL(&rc->all, u, all_link);
	u->timer = evtimer_new(rc->base, up_timercb, u);
	u->defer = event_new(rc->base, -1, 0, up_defer_cb, u);
	u->bev = bufferevent_socket_new(rc->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (u->timer == NULL || u->defer == NULL || u->bev == NULL)
		goto fail;
	up_set_callbacks(u);
	u->state = UP_CONNECTING;
	up_timer(u, rc->connect_timeout);
	if (bufferevent_socket_connect(u->bev, sa, (int)salen) != 0)
		goto fail;
	return u;
fail:
	{
		int e = errno;
		u->cb = NULL;
		up_free(u);
		errno = e;
	}
	return NULL;
}

static void
setup_reject(struct upstream *u, const struct upstream_reply *r)
{
	up_fail(u, 451, "4.4.0", "next hop refused the session at %s: %d%s%s %s",
	    state_names[u->state], r->code, r->ecode[0] != '\0' ? " " : "",
	    r->ecode, r->text[0]);
}

static void
after_ehlo(struct upstream *u, const struct upstream_reply *r, bool ehlo)
{
	bool offered = ehlo && (u->caps.flags & UPSTREAM_CAP_STARTTLS);

	if (u->tls != RELAY_TLS_NONE && offered) {
		up_send(u, UP_STARTTLS, u->rc->reply_timeout, "STARTTLS");
		return;
	}
	if (u->tls >= RELAY_TLS_ENCRYPT) {
		up_fail(u, 451, "4.7.0", "STARTTLS not offered (relay_tls = %s)",
		    u->tls == RELAY_TLS_VERIFY ? "verify" : "encrypt");
		return;
	}
	up_setup_ready(u);
}

void
up_setup_ready(struct upstream *u)
{
	struct upstream_reply r;

	upstream_reply_local(&r, 250, "2.0.0", u->peer, "session ready%s",
	    u->tls_version[0] != '\0' ? " with TLS" : "");
	r.local = false;
	up_finish(u, &r);
}

static void
on_setup_reply(struct upstream *u, const struct upstream_reply *r)
{
	bool ok = r->code / 100 == 2;

	switch (u->state) {
	case UP_GREETING:
		if (!ok)
			setup_reject(u, r);
		else
			up_send(u, UP_EHLO, u->rc->reply_timeout, "EHLO %s",
			    u->rc->helo);
		break;
	case UP_EHLO:
		if (ok)
			after_ehlo(u, r, true);
		else if (r->code / 100 == 5 && (u->caps.flags = 0) == 0)
			up_send(u, UP_HELO, u->rc->reply_timeout, "HELO %s",
			    u->rc->helo);
		else
			setup_reject(u, r);
		break;
	case UP_HELO:
		if (ok)
			after_ehlo(u, r, false);
		else
			setup_reject(u, r);
		break;
	case UP_STARTTLS:
		if (r->code == 220 && up_tls_start(u) == 0)
			break;
		if (r->code == 220)
			up_fail(u, 451, "4.3.0", "local error: cannot start TLS");
		else if (u->tls == RELAY_TLS_MAY)
			up_setup_ready(u);
		else
			up_fail(u, 451, "4.7.0", "STARTTLS refused: %d %s",
			    r->code, r->text[0]);
		break;
	default:
		if (ok)
			up_setup_ready(u);
		else
			setup_reject(u, r);
		break;
	}
}

static void
on_reply(struct upstream *u, const struct upstream_reply *r)
{
	switch (u->state) {
	case UP_MAIL:
	case UP_RCPT:
	case UP_DOT:
		up_finish(u, r);
		break;
	case UP_DATA:
		if (r->code == 354)
			up_body_start(u);
		else
			up_finish(u, r);
		break;
	case UP_BODY:
		if (r->code / 100 < 4)
			up_fail(u, 451, "4.5.0", "protocol error: %d reply during "
			    "message content", r->code);
		else {
			up_close(u);
			up_call(u, r);
		}
		break;
	case UP_RSET:
		evtimer_del(u->timer);
		u->resetting = false;
		u->hop->resetting--;
		if (r->code / 100 == 2) {
			relay_hop_idle_add(u);
		} else {
			up_send(u, UP_QUIT, UP_QUIT_WAIT, "QUIT");
			relay_hop_wake(u->hop);
		}
		break;
	case UP_QUIT:
		up_free(u);
		break;
	default:
		on_setup_reply(u, r);
		break;
	}
}

static bool
expecting(const struct upstream *u)
{
	return u->state != UP_READY && u->state != UP_IDLE &&
	    u->state != UP_CONNECTING && u->state != UP_HANDSHAKE &&
	    u->state != UP_BROKEN;
}

static void
unexpected_input(struct upstream *u)
{
	if (u->state == UP_IDLE) {
		up_free(u);
		return;
	}
	up_fail(u, 451, "4.5.0", "protocol error: unexpected input from the "
	    "next hop");
}

/* 1: a complete reply is in u->reply, 0: need more input, -1: u failed. */
static int
read_reply(struct upstream *u, struct evbuffer *in)
{
	char line[UPSTREAM_LINE_MAX];
	const char *t;
	size_t tl, eollen = 0;

	for (;;) {
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eollen,
		    EVBUFFER_EOL_CRLF);
		if (eol.pos < 0 && evbuffer_get_length(in) <= UPSTREAM_LINE_MAX - 2)
			return 0;
		if (eol.pos < 0 || (size_t)eol.pos > UPSTREAM_LINE_MAX - 2) {
			up_fail(u, 451, "4.5.0", "protocol error: reply line "
			    "longer than %d octets", UPSTREAM_LINE_MAX);
			return -1;
		}
		evbuffer_remove(in, line, (size_t)eol.pos);
		evbuffer_drain(in, eollen);
		switch (upstream_reply_parse(&u->parser, &u->reply, line,
		    (size_t)eol.pos, &t, &tl)) {
		case UPSTREAM_PARSE_ERROR:
			up_fail(u, 451, "4.5.0", "protocol error: not an SMTP "
			    "reply line");
			return -1;
		case UPSTREAM_PARSE_MORE:
			if ((u->state == UP_EHLO || u->state == UP_EHLO2) &&
			    u->parser.lines > 1)
				upstream_caps_line(&u->caps, t, tl);
			continue;
		case UPSTREAM_PARSE_DONE:
			if ((u->state == UP_EHLO || u->state == UP_EHLO2) &&
			    u->parser.lines > 1)
				upstream_caps_line(&u->caps, t, tl);
			memset(&u->parser, 0, sizeof(u->parser));
			return 1;
		}
	}
}

static void
up_readcb(struct bufferevent *bev, void *arg)
{
	struct upstream *u = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (evbuffer_get_length(in) == 0)
		return;
	if (!expecting(u)) {
		unexpected_input(u);
		return;
	}
	if (read_reply(u, in) != 1)
		return;
	if (evbuffer_get_length(in) > 0) {
		unexpected_input(u);
		return;
	}
	snprintf(u->reply.peer, sizeof(u->reply.peer), "%s", u->peer);
	u->reply.local = false;
	on_reply(u, &u->reply);
}

static void
up_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream *u = arg;
	int e = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (u->state == UP_HANDSHAKE) {
			up_tls_done(u);
		} else if (u->state == UP_CONNECTING) {
			u->state = UP_GREETING;
			up_timer(u, u->rc->reply_timeout);
		}
		return;
	}
	if (u->state == UP_HANDSHAKE)
		up_tls_error(u);
	else if (u->state == UP_CONNECTING)
		up_fail(u, 451, "4.4.1", "cannot connect: %s",
		    e != 0 ? strerror(e) : "connection closed");
	else if (u->state == UP_IDLE || u->state == UP_QUIT)
		up_free(u);
	else if (u->state == UP_READY) {
		up_close(u);
	} else
		up_fail(u, 451, "4.4.2", "connection lost (%s)",
		    state_names[u->state]);
}

/* Start an operation; false when it was answered (deferred) already. */
static bool
op_begin(struct upstream *u, upstream_cb *cb, void *arg)
{
	struct upstream_reply r;

	if (u->state == UP_READY) {
		u->cb = cb;
		u->arg = arg;
		return true;
	}
	if (u->state != UP_BROKEN)
		abort();
	upstream_reply_local(&r, 451, "4.4.2", u->peer,
	    "connection to the next hop lost");
	up_defer(u, &r, cb, arg);
	return false;
}

static void __attribute__((format(printf, 4, 5)))
op_send(struct upstream *u, enum up_state st, unsigned timeout,
    const char *fmt, ...)
{
	struct upstream_reply r;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = up_vsend(u, st, timeout, fmt, ap);
	va_end(ap);
	if (rc == 0)
		return;
	up_close(u);
	upstream_reply_local(&r, 451, "4.3.0", u->peer,
	    "local error: cannot queue a command");
	up_defer(u, &r, u->cb, u->arg);
}

static bool
addr_ok(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f)
			return false;
	return true;
}

static bool
reject_addr(struct upstream *u, const char *a, const char *ecode)
{
	struct upstream_reply r;

	if (addr_ok(a))
		return false;
	upstream_reply_local(&r, 553, ecode, u->peer,
	    "address not acceptable for relaying");
	up_defer(u, &r, u->cb, u->arg);
	return true;
}

static void
mail_params(const struct upstream *u, const struct upstream_mail_params *mp,
    char *buf, size_t len)
{
	unsigned f = u->caps.flags;
	int n = 0;

	buf[0] = '\0';
	if (mp == NULL)
		return;
	if (mp->size > 0 && (f & UPSTREAM_CAP_SIZE))
		n = snprintf(buf, len, " SIZE=%zu", mp->size);
	if (n < 0 || (size_t)n >= len)
		n = 0;
	snprintf(buf + n, len - (size_t)n, "%s%s",
	    mp->body_8bit && (f & UPSTREAM_CAP_8BITMIME) ? " BODY=8BITMIME" : "",
	    mp->smtputf8 ? " SMTPUTF8" : "");
}

void
upstream_mail(struct upstream *u, const char *from,
    const struct upstream_mail_params *mp, upstream_cb *cb, void *arg)
{
	struct upstream_reply r;
	char params[64];

	if (!op_begin(u, cb, arg) || reject_addr(u, from, "5.1.7"))
		return;
	if (mp != NULL && mp->smtputf8 &&
	    !(u->caps.flags & UPSTREAM_CAP_SMTPUTF8)) {
		upstream_reply_local(&r, 553, "5.6.7", u->peer,
		    "next hop does not support SMTPUTF8");
		up_defer(u, &r, cb, arg);
		return;
	}
	mail_params(u, mp, params, sizeof(params));
	op_send(u, UP_MAIL, u->rc->reply_timeout, "MAIL FROM:<%s>%s", from,
	    params);
}

void
upstream_rcpt(struct upstream *u, const char *to, upstream_cb *cb, void *arg)
{
	if (!op_begin(u, cb, arg) || reject_addr(u, to, "5.1.3"))
		return;
	op_send(u, UP_RCPT, u->rc->reply_timeout, "RCPT TO:<%s>", to);
}

void
upstream_data(struct upstream *u, const struct upstream_body *body,
    upstream_cb *cb, void *arg)
{
	if (!op_begin(u, cb, arg))
		return;
	u->body = *body;
	op_send(u, UP_DATA, u->rc->reply_timeout, "DATA");
}

void
upstream_release(struct upstream *u)
{
	u->owned = false;
	u->cb = NULL;
	event_del(u->defer);
	if (u->state == UP_READY && u->rc->idle_time > 0)
		up_send(u, UP_RSET, u->rc->reply_timeout, "RSET");
	else if (u->state == UP_READY)
		up_send(u, UP_QUIT, UP_QUIT_WAIT, "QUIT");
	else
		up_free(u);
}

void
upstream_abort(struct upstream *u)
{
	up_free(u);
}

const char *
upstream_peer(const struct upstream *u)
{
	return u->peer;
}

const char *
upstream_tls_version(const struct upstream *u)
{
	return u->tls_version;
}

const char *
upstream_tls_cipher(const struct upstream *u)
{
	return u->tls_cipher;
}
