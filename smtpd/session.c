/*
 * session.c - one SMTP session's I/O: framing, timeouts, DATA, close.
 *
 * Public: session_start(), session_attach(), session_shutdown(), session_reply(),
 * session_replyf(), session_error(), session_close_after_reply(),
 * session_txn_reset(), session_data_begin(), session_tls_begin(),
 * session_log_limit(), session_log_common(), session_sid_str().
 *
 * Framing (RFC 5321 2.3.8, 4.5.3.1.4): a command line ends in LF with an
 * optional CR before it.  A line longer than max_line_length is never
 * buffered whole: once the input holds more than the limit without a line
 * end, the bytes are discarded as they come until the LF, then the client
 * gets one 500 5.5.2; past 4x the limit, 421 and close.  The input buffer's
 * high watermark bounds what one session can make us hold.
 *
 * DATA: bytes go to the data reader (data_reader.c), which alone decides
 * where the message ends (CRLF.CRLF only); what follows it is processed as
 * the next pipelined command.
 *
 * Closing: the last reply is queued, reading stops, and once the output is
 * flushed the write side is shut down and the input drained until the
 * client's FIN (or a short bound), so a client that is still sending does
 * not get a RST that could destroy our final reply before it reads it.
 * session_free() is the only function that frees a session.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "data_reader.h"
#include "ipcount.h"
#include "session.h"
#include "tls.h"

#define READ_HIGH_WATERMARK  16384     /* input held per session, at most */
#define OUTPUT_HIGH          65536     /* stop reading commands past this */
#define LINGER_SECONDS       2
#define REPLY_MAX            2048

static void session_readcb(struct bufferevent *bev, void *arg);
static void session_writecb(struct bufferevent *bev, void *arg);
static void session_eventcb(struct bufferevent *bev, short what, void *arg);
static void session_free(struct session *s);
static void session_process(struct session *s);

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *
session_sid_str(const struct session *s, char buf[17])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v = s->sid;

	for (int i = 15; i >= 0; i--) {
		buf[i] = hex[v & 0xf];
		v >>= 4;
	}
	buf[16] = '\0';
	return buf;
}

static void
sockaddr_text(const struct sockaddr *sa, char ip[46], uint16_t *port)
{
	ip[0] = '\0';
	*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, 46);
		*port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, 46);
		else
			inet_ntop(AF_INET6, &in6->sin6_addr, ip, 46);
		*port = ntohs(in6->sin6_port);
	}
}

/* The same text the listener keys its per-IP count with. */
void
session_peer_text(const struct sockaddr *sa, char ip[46], uint16_t *port)
{
	sockaddr_text(sa, ip, port);
}

void
session_log_common(struct session *s, struct jline *j)
{
	jline_cstr(j, "ip", s->ip);
	jline_int(j, "port", s->port);
}

static void
session_log_begin(struct session *s, struct jline *j, const char *ev)
{
	char sid[17];

	attempt_log_begin(s->srv->log, j, session_sid_str(s, sid), ev);
	session_log_common(s, j);
}

void
session_log_limit(struct session *s, const char *limit, const char *reply)
{
	struct jline j;

	session_log_begin(s, &j, "limit");
	jline_cstr(&j, "limit", limit);
	jline_cstr(&j, "reply", reply);
	attempt_log_write(s->srv->log, &j);
}

static void
session_log_connect(struct session *s)
{
	struct jline j;

	session_log_begin(s, &j, "connect");
	jline_cstr(&j, "lip", s->lip);
	jline_int(&j, "lport", s->lport);
	attempt_log_write(s->srv->log, &j);
}

static void
session_log_disconnect(struct session *s)
{
	struct jline j;

	session_log_begin(s, &j, "disconnect");
	jline_int(&j, "duration_ms", (long long)(monotonic_ms() - s->started_ms));
	jline_cstr(&j, "reason", s->close_reason ? s->close_reason : "io_error");
	jline_int(&j, "commands", s->commands);
	jline_int(&j, "transactions", s->transactions);
	jline_int(&j, "rcpts", s->nrcpts);
	jline_int(&j, "deferred", s->deferred);
	jline_int(&j, "denied", s->denied);
	jline_int(&j, "errors", s->errors);
	attempt_log_write(s->srv->log, &j);
}

/* A whole legal command line must fit below the read high watermark. */
static size_t
session_read_high(const struct session *s)
{
	size_t line = s->policy->limits.max_line_length + 16;

	return line > READ_HIGH_WATERMARK ? line : READ_HIGH_WATERMARK;
}

void
session_start(struct server *srv, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	struct sockaddr_storage local;
	socklen_t locallen = sizeof(local);
	struct bufferevent *bev;

	(void)peerlen;
	bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &locallen) != 0)
		local.ss_family = AF_UNSPEC;
	session_attach(srv, bev, peer, (struct sockaddr *)&local);
}

/* Run a session on any bufferevent (a socket, or a pair in the fuzzer). */
struct session *
session_attach(struct server *srv, struct bufferevent *bev,
    const struct sockaddr *peer, const struct sockaddr *local)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	s->bev = bev;
	s->srv = srv;
	s->policy = policy_ref(srv->policy);
	s->sid = srv->sid_base + srv->sid_next++;
	s->started_ms = monotonic_ms();
	sockaddr_text(peer, s->ip, &s->port);
	sockaddr_text(local, s->lip, &s->lport);

	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	srv->nsessions++;
	ipcount_inc(srv->ipcount, s->ip);

	bufferevent_setcb(s->bev, session_readcb, session_writecb,
	    session_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, session_read_high(s));
	bufferevent_set_timeouts(s->bev, srv->cmd_timeout, srv->cmd_timeout);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);

	session_log_connect(s);
	session_replyf(s, "220 %s ESMTP cutoverd", s->policy->hostname);
	return s;
}

void
session_reply(struct session *s, const char *line)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char buf[REPLY_MAX];
	size_t len = strlen(line);

	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	memcpy(buf, line, len);
	buf[len++] = '\r';
	buf[len++] = '\n';
	evbuffer_add(out, buf, len);
}

void
session_replyf(struct session *s, const char *fmt, ...)
{
	char buf[REPLY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	session_reply(s, buf);   /* a truncated reply is still a valid line */
}

void
session_close_after_reply(struct session *s, const char *line,
    const char *reason)
{
	if (line != NULL)
		session_reply(s, line);
	if (s->close_reason == NULL)
		s->close_reason = reason;
	s->phase = PHASE_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_set_timeouts(s->bev, NULL, s->srv->cmd_timeout);
}

void
session_error(struct session *s, const char *line)
{
	char buf[REPLY_MAX];

	s->errors++;
	session_reply(s, line);
	if (s->errors < s->policy->limits.max_errors)
		return;
	snprintf(buf, sizeof(buf), "421 4.7.0 %s Error: too many errors",
	    s->policy->hostname);
	session_log_limit(s, "errors", buf);
	session_close_after_reply(s, buf, "errors");
}

void
session_txn_reset(struct session *s)
{
	struct rcpt_entry *r;

	while ((r = s->rcpts) != NULL) {
		s->rcpts = r->next;
		free(r);
	}
	free(s->mail_from);
	free(s->mail_params);
	free(s->data_reply);
	s->mail_from = s->mail_params = s->data_reply = NULL;
	s->txn_rcpts = s->txn_accepted = 0;
	s->flags &= ~(unsigned)(SF_SMTPUTF8 | SF_TOO_BIG | SF_8BITMIME);
	s->mail_size = 0;
	relay_txn_end(s);
	data_reader_free(s->data);
	s->data = NULL;
	if (s->phase == PHASE_MAIL || s->phase == PHASE_DATA)
		s->phase = PHASE_READY;
}

int
session_data_begin(struct session *s)
{
	s->data = data_reader_new(s->policy->limits.max_message_size);
	if (s->data == NULL)
		return -1;
	s->phase = PHASE_DATA;
	bufferevent_set_timeouts(s->bev, s->srv->data_timeout,
	    s->srv->data_timeout);
	return 0;
}

/* Called by session_cmds.c once the data reader saw the end. */
static void
session_data_end(struct session *s)
{
	bufferevent_set_timeouts(s->bev, s->srv->cmd_timeout,
	    s->srv->cmd_timeout);
	session_data_done(s);
}

static void
session_line_too_long(struct session *s)
{
	char buf[REPLY_MAX];

	if (s->discarded > 4 * s->policy->limits.max_line_length) {
		snprintf(buf, sizeof(buf), "421 4.7.0 %s Error: line too long",
		    s->policy->hostname);
		session_log_limit(s, "line_length", buf);
		session_close_after_reply(s, buf, "line_too_long");
		return;
	}
	if (s->flags & SF_DISCARD)
		return;                 /* reply once the line has ended */
	session_log_limit(s, "line_length", "500 5.5.2 Error: line too long");
	session_error(s, "500 5.5.2 Error: line too long");
}

/* Discard an over-long line up to and including its LF. */
static bool
session_discard_step(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t avail = evbuffer_get_length(in);
	struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);

	if (lf.pos < 0) {
		s->discarded += avail;
		evbuffer_drain(in, avail);
		session_line_too_long(s);
		return false;
	}
	s->discarded += (size_t)lf.pos + 1;
	evbuffer_drain(in, (size_t)lf.pos + 1);
	s->flags &= ~(unsigned)SF_DISCARD;
	session_line_too_long(s);
	s->discarded = 0;
	return true;
}

/* Handle one command line if a whole one is buffered; false = need more. */
static bool
session_line_step(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t avail = evbuffer_get_length(in);
	size_t max = s->policy->limits.max_line_length - 2;
	struct evbuffer_ptr eol;
	size_t eol_len = 0;
	unsigned char *line;

	if (avail == 0)
		return false;
	if (s->flags & SF_DISCARD)
		return session_discard_step(s);
	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		if (avail <= max + 1)   /* +1: a CR waiting for its LF */
			return false;
		s->flags |= SF_DISCARD;
		return session_discard_step(s);
	}
	if ((size_t)eol.pos > max) {
		s->discarded = (size_t)eol.pos + eol_len;
		evbuffer_drain(in, (size_t)eol.pos + eol_len);
		session_line_too_long(s);
		s->discarded = 0;
		return true;
	}
	line = evbuffer_pullup(in, eol.pos + (ssize_t)eol_len);
	if (line == NULL)
		return false;
	session_command(s, (const char *)line, (size_t)eol.pos);
	evbuffer_drain(in, (size_t)eol.pos + eol_len);
	return true;
}

static bool
session_data_step(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[8];
	size_t total = 0;
	bool done = false;
	int n;

	if (evbuffer_get_length(in) == 0)
		return false;
	n = evbuffer_peek(in, -1, NULL, v, 8);
	for (int i = 0; i < n && i < 8 && !done; i++)
		total += data_reader_feed(s->data, v[i].iov_base, v[i].iov_len,
		    &done);
	evbuffer_drain(in, total);
	if (done)
		session_data_end(s);
	return done || (total > 0 && evbuffer_get_length(in) > 0);
}

/*
 * STARTTLS: once the 220 is on the wire, drop whatever was pipelined after
 * the command and move the socket to a TLS bufferevent.
 */
static void
session_starttls_step(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return;                 /* resumed by session_writecb */
	evbuffer_drain(in, evbuffer_get_length(in));
	if (session_tls_begin(s) != 0) {
		s->close_reason = "tls_error";
		session_free(s);        /* the caller returns at once */
	}
}

static void
session_process(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	bool more = true;

	while (more) {
		if (s->phase == PHASE_CLOSING || (s->flags & SF_WAIT))
			return;
		if (s->phase == PHASE_STARTTLS) {
			session_starttls_step(s);
			return;
		}
		if (evbuffer_get_length(out) > OUTPUT_HIGH)
			return;         /* resumed by session_writecb */
		if (s->phase == PHASE_DATA)
			more = session_data_step(s);
		else
			more = session_line_step(s);
	}
}

void
session_wait(struct session *s)
{
	s->flags |= SF_WAIT;
	bufferevent_set_timeouts(s->bev, NULL, s->srv->cmd_timeout);
}

void
session_resume(struct session *s)
{
	s->flags &= ~(unsigned)SF_WAIT;
	if (s->phase == PHASE_CLOSING)
		return;
	if (s->phase == PHASE_DATA)
		bufferevent_set_timeouts(s->bev, s->srv->data_timeout,
		    s->srv->data_timeout);
	else
		bufferevent_set_timeouts(s->bev, s->srv->cmd_timeout,
		    s->srv->cmd_timeout);
	session_process(s);
}

static void
session_readcb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->phase == PHASE_CLOSING) {        /* lingering: drain */
		struct evbuffer *in = bufferevent_get_input(bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	session_process(s);
}

/* The final reply is out: half-close and wait briefly for the client. */
static void
session_linger(struct session *s)
{
	static const struct timeval linger = { LINGER_SECONDS, 0 };
	int fd = bufferevent_getfd(s->bev);

	if ((s->flags & SF_TLS) || fd < 0 || shutdown(fd, SHUT_WR) != 0) {
		session_free(s);
		return;
	}
	bufferevent_setcb(s->bev, session_readcb, NULL, session_eventcb, s);
	bufferevent_set_timeouts(s->bev, &linger, NULL);
	bufferevent_enable(s->bev, EV_READ);
}

static void
session_writecb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->phase == PHASE_CLOSING) {
		session_linger(s);
		return;
	}
	if (s->phase == PHASE_STARTTLS ||
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		session_process(s);
}

static void
session_timeout(struct session *s, short what)
{
	char buf[REPLY_MAX];
	const char *limit;

	if (s->phase == PHASE_CLOSING || (what & BEV_EVENT_WRITING)) {
		if (s->close_reason == NULL)
			s->close_reason = "timeout";
		session_free(s);
		return;
	}
	limit = s->phase == PHASE_DATA ? "data_timeout" : "command_timeout";
	snprintf(buf, sizeof(buf), "421 4.4.2 %s Error: timeout exceeded",
	    s->policy->hostname);
	session_log_limit(s, limit, buf);
	session_close_after_reply(s, buf, "timeout");
}

static void
session_tls_ready(struct session *s)
{
	struct jline j;

	s->flags |= SF_TLS;
	tls_describe(s->bev, &s->tls_version, &s->tls_cipher);
	session_log_begin(s, &j, "tls");
	jline_cstr(&j, "version", s->tls_version);
	jline_cstr(&j, "cipher", s->tls_cipher);
	attempt_log_write(s->srv->log, &j);
	s->phase = PHASE_GREETING;
	s->flags &= ~(unsigned)SF_EHLO;
}

static void
session_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		session_tls_ready(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		session_timeout(s, what);
		return;
	}
	if (s->close_reason == NULL) {
		if (what & BEV_EVENT_EOF)
			s->close_reason = "client_closed";
		else if (s->phase == PHASE_STARTTLS)
			s->close_reason = "tls_error";
		else
			s->close_reason = "io_error";
	}
	session_free(s);
}

int
session_tls_begin(struct session *s)
{
	struct bufferevent *tls;
	int fd = bufferevent_getfd(s->bev);

	/* Detach the socket from the plaintext bufferevent, keep it open. */
	bufferevent_setfd(s->bev, -1);
	bufferevent_free(s->bev);
	s->bev = NULL;
	tls = tls_wrap(s->srv->base, fd, s->srv->tls);
	if (tls == NULL) {
		close(fd);
		return -1;
	}
	s->bev = tls;
	bufferevent_setcb(s->bev, session_readcb, session_writecb,
	    session_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, session_read_high(s));
	bufferevent_set_timeouts(s->bev, s->srv->cmd_timeout,
	    s->srv->cmd_timeout);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return 0;
}

void
session_shutdown(struct session *s)
{
	char buf[REPLY_MAX];

	if (s->phase == PHASE_CLOSING)
		return;
	snprintf(buf, sizeof(buf), "421 4.3.2 %s Service shutting down",
	    s->policy->hostname);
	session_close_after_reply(s, buf, "shutdown");
}

static void
session_free(struct session *s)
{
	struct server *srv = s->srv;

	session_log_disconnect(s);
	TAILQ_REMOVE(&srv->sessions, s, entry);
	srv->nsessions--;
	ipcount_dec(srv->ipcount, s->ip);
	session_txn_reset(s);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	free(s->helo);
	free(s->tls_version);
	free(s->tls_cipher);
	policy_unref(s->policy);
	free(s);
	server_session_gone(srv);
}

/* Shutdown grace expired or the loop ended: free what is left. */
void
session_free_all(struct server *srv)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&srv->sessions)) != NULL) {
		if (s->close_reason == NULL)
			s->close_reason = "shutdown";
		session_free(s);
	}
}
