/*
 * test_upstream.c - the relay client (smtpd/upstream*.c, relay_*.c)
 * against scripted SMTP servers on 127.0.0.1 in the same process and
 * event loop.
 *
 * A fake server answers each command from its script: NULL = a default
 * success, SILENT = never answers (timeouts, 1 s here), DROP = closes the
 * connection.  Tables (got/want): a failure at every step of a transaction
 * (greeting, EHLO, MAIL, RCPT, DATA, the dot), multi-line replies, garbage,
 * over-long lines, unrequested input, drops before and during DATA, slow
 * replies; then a 2 MiB body received byte-exact with its dot-stuffing,
 * STARTTLS (may/encrypt/verify, certificate made at test time with
 * `openssl req`), idle reuse (one TCP connection for two transactions),
 * the per-hop limit, idle expiry, cancel, SMTPUTF8, the pure reply parser
 * and formatter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "tls.h"
#include "upstream.h"
#include "upstream_reply.h"

#define SILENT "!silent"
#define DROP   "!drop"

struct script {
	const char *greeting, *ehlo, *helo, *starttls, *mail, *rcpt, *data;
	const char *dot, *rset;
	size_t drop_in_body;          /* close after this many content octets */
	bool tls_garbage;             /* after 220 to STARTTLS: no TLS */
};

struct fconn;
TAILQ_HEAD(fconn_list, fconn);

struct fake {
	struct evconnlistener *lis;
	struct fconn_list conns;
	uint16_t port;
	const struct script *sc;
	SSL_CTX *ssl;
	int accepted, open, messages;
	struct evbuffer *content;     /* the last message, as on the wire */
	char cmds[2048];              /* "EHLO|MAIL|..." */
	char mail_line[256];          /* the last MAIL command */
};

struct fconn {
	struct fake *f;
	TAILQ_ENTRY(fconn) link;
	struct bufferevent *bev;
	bool in_data;
	struct evbuffer *cur;
};

static struct event_base *base;
static char tmpdir[64];
static char cert_path[128], key_path[128];

/* ---- the fake server ---- */

static void
fconn_free(struct fconn *c)
{
	c->f->open--;
	TAILQ_REMOVE(&c->f->conns, c, link);
	bufferevent_free(c->bev);
	evbuffer_free(c->cur);
	free(c);
}

/* 0: sent; 1: connection closed (c freed) */
static int
answer(struct fconn *c, const char *reply, const char *dflt)
{
	const char *r = reply != NULL ? reply : dflt;

	if (strcmp(r, DROP) == 0) {
		fconn_free(c);
		return 1;
	}
	if (strcmp(r, SILENT) != 0)
		evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\r\n", r);
	return 0;
}

static void
start_tls(struct fconn *c)
{
	SSL *ssl = SSL_new(c->f->ssl);
	struct bufferevent *b;

	assert_non_null(ssl);
	b = bufferevent_openssl_filter_new(base, c->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(b);
	c->bev = b;
}

static void fconn_readcb(struct bufferevent *bev, void *arg);
static void fconn_eventcb(struct bufferevent *bev, short what, void *arg);

static int
command(struct fconn *c, const char *line)
{
	const struct script *sc = c->f->sc;
	char verb[5] = "";
	int r = 0;

	snprintf(verb, sizeof(verb), "%s", line);
	strncat(c->f->cmds, verb, sizeof(c->f->cmds) - strlen(c->f->cmds) - 2);
	strcat(c->f->cmds, "|");
	if (strcasecmp(verb, "EHLO") == 0)
		r = answer(c, sc->ehlo, "250-fake.test hello\r\n250-PIPELINING\r\n"
		    "250-SIZE 1000000\r\n250 8BITMIME");
	else if (strcasecmp(verb, "HELO") == 0)
		r = answer(c, sc->helo, "250 fake.test");
	else if (strcasecmp(verb, "MAIL") == 0 &&
	    snprintf(c->f->mail_line, sizeof(c->f->mail_line), "%s", line) > 0)
		r = answer(c, sc->mail, "250 2.1.0 ok");
	else if (strcasecmp(verb, "RCPT") == 0)
		r = answer(c, sc->rcpt, "250 2.1.5 ok");
	else if (strcasecmp(verb, "RSET") == 0)
		r = answer(c, sc->rset, "250 2.0.0 ok");
	else if (strcasecmp(verb, "QUIT") == 0)
		r = answer(c, DROP, DROP);
	else if (strcasecmp(verb, "DATA") == 0) {
		const char *a = sc->data != NULL ? sc->data : "354 go ahead";
		r = answer(c, a, a);
		if (r == 0 && strncmp(a, "354", 3) == 0) {
			c->in_data = true;
			evbuffer_drain(c->cur, evbuffer_get_length(c->cur));
		}
	} else if (strcasecmp(verb, "STAR") == 0) {
		const char *a = sc->starttls != NULL ? sc->starttls : "220 2.0.0 go";
		r = answer(c, a, a);
		if (r == 0 && strncmp(a, "220", 3) == 0 && sc->tls_garbage)
			evbuffer_add_printf(bufferevent_get_output(c->bev),
			    "this is not TLS\r\n");
		else if (r == 0 && strncmp(a, "220", 3) == 0) {
			start_tls(c);
			bufferevent_setcb(c->bev, fconn_readcb, NULL,
			    fconn_eventcb, c);
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
			return 2;
		}
	} else
		r = answer(c, "500 5.5.2 what", NULL);
	return r;
}

static bool
content_done(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	unsigned char *p;

	if (n < 3)
		return false;
	p = evbuffer_pullup(b, -1);
	if (n == 3)
		return memcmp(p, ".\r\n", 3) == 0;
	return n >= 5 && memcmp(p + n - 5, "\r\n.\r\n", 5) == 0;
}

/* 1 when c was freed */
static int
content(struct fconn *c, struct evbuffer *in)
{
	struct fake *f = c->f;

	evbuffer_add_buffer(c->cur, in);
	if (f->sc->drop_in_body > 0 &&
	    evbuffer_get_length(c->cur) >= f->sc->drop_in_body) {
		fconn_free(c);
		return 1;
	}
	if (!content_done(c->cur))
		return 0;
	c->in_data = false;
	f->messages++;
	evbuffer_drain(f->content, evbuffer_get_length(f->content));
	evbuffer_add_buffer(f->content, c->cur);
	return answer(c, f->sc->dot, "250 2.0.0 queued as FAKE");
}

static void
fconn_readcb(struct bufferevent *bev, void *arg)
{
	struct fconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;

	for (;;) {
		if (c->in_data) {
			if (content(c, in) != 0 || c->in_data)
				return;
			continue;
		}
		line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
		if (line == NULL)
			return;
		int r = command(c, line);
		free(line);
		if (r != 0)
			return;
	}
}

static void
fconn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fconn_free(arg);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct fake *f = arg;
	struct fconn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->f = f;
	c->cur = evbuffer_new();
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	f->accepted++;
	f->open++;
	TAILQ_INSERT_TAIL(&f->conns, c, link);
	bufferevent_setcb(c->bev, fconn_readcb, NULL, fconn_eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	answer(c, f->sc->greeting, "220 fake.test ESMTP");
}

static void
fake_start(struct fake *f, const struct script *sc)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	memset(f, 0, sizeof(*f));
	f->sc = sc;
	f->content = evbuffer_new();
	TAILQ_INIT(&f->conns);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lis = evconnlistener_new_bind(base, accept_cb, f,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(f->lis);
	getsockname(evconnlistener_get_fd(f->lis), (struct sockaddr *)&sin, &len);
	f->port = ntohs(sin.sin_port);
}

static void
fake_stop(struct fake *f)
{
	while (!TAILQ_EMPTY(&f->conns))
		fconn_free(TAILQ_FIRST(&f->conns));
	evconnlistener_free(f->lis);
	evbuffer_free(f->content);
	if (f->ssl != NULL)
		SSL_CTX_free(f->ssl);
}

/* ---- driving the client ---- */

struct result {
	bool done;
	struct upstream *u;
	struct upstream_reply r;
};

static void
got_cb(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	struct result *res = arg;

	assert_false(res->done);
	res->done = true;
	res->u = u;
	res->r = *r;
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	fail_msg("the event loop ran 15 s without the expected callback");
}

static void
wait_for(struct result *res)
{
	struct timeval tv = { 15, 0 };
	struct event *safety = evtimer_new(base, safety_cb, NULL);

	evtimer_add(safety, &tv);
	while (!res->done)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(safety);
}

static void
run_for_ms(unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static struct policy_relay
relay_cfg(void)
{
	struct policy_relay c = {
		.resolver = "127.0.0.1@1", .connect_timeout = 1,
		.reply_timeout = 1, .data_timeout = 1, .idle_time = 10,
		.per_hop_connections = 4,
	};
	return c;
}

static struct relay_client *
client(const struct policy_relay *c)
{
	char err[256] = "";
	struct relay_client *rc = relay_client_new(base, c, "cutover.test",
	    err, sizeof(err));

	if (rc == NULL)
		fail_msg("relay_client_new: %s", err);
	return rc;
}

static void
hop(char *buf, size_t len, uint16_t port)
{
	snprintf(buf, len, "[127.0.0.1]:%u", port);
}

static struct result
acquire(struct relay_client *rc, uint16_t port, enum relay_tls tls)
{
	struct result res = { 0 };
	char relay[64];

	hop(relay, sizeof(relay), port);
	assert_non_null(upstream_acquire(rc, relay, tls, got_cb, &res));
	assert_false(res.done);
	wait_for(&res);
	return res;
}

struct membody {
	const char *p;
	size_t len, off, chunk;
	bool fail;
};

static ssize_t
membody_read(void *arg, char *buf, size_t len)
{
	struct membody *m = arg;
	size_t n = m->len - m->off;

	if (m->fail && m->off > 0)
		return -1;
	if (n > len)
		n = len;
	if (m->chunk > 0 && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

enum step { S_ACQUIRE, S_MAIL, S_RCPT, S_DATA, S_DONE };

/* One transaction; the reply of the first step that did not succeed (or
 * of the dot) and that step.  *u is the upstream (NULL after acquire
 * failed). */
static enum step
transaction(struct relay_client *rc, uint16_t port, struct membody *body,
    struct result *out)
{
	struct upstream_body b = { membody_read, body };
	struct upstream *u;

	*out = acquire(rc, port, RELAY_TLS_NONE);
	if (out->u == NULL)
		return S_ACQUIRE;
	u = out->u;
	memset(out, 0, sizeof(*out));
	upstream_mail(u, "sender@example.org", NULL, got_cb, out);
	assert_false(out->done);
	wait_for(out);
	if (out->r.code != 250)
		return S_MAIL;
	memset(out, 0, sizeof(*out));
	upstream_rcpt(u, "rcpt@example.com", got_cb, out);
	wait_for(out);
	if (out->r.code != 250)
		return S_RCPT;
	memset(out, 0, sizeof(*out));
	upstream_data(u, &b, got_cb, out);
	wait_for(out);
	if (out->r.code != 250)
		return S_DATA;
	return S_DONE;
}

static void
setup_once(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_upstream.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
}

static int
group_setup(void **state)
{
	char cmd[512];

	setup_once();
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost "
	    "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s "
	    "-out %s 2>/dev/null", key_path, cert_path);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	unlink(cert_path);
	unlink(key_path);
	rmdir(tmpdir);
	return 0;
}

static int
test_setup(void **state)
{
	base = event_base_new();
	return base != NULL ? 0 : -1;
}

static int
test_teardown(void **state)
{
	event_base_free(base);
	base = NULL;
	return 0;
}

/* ---- tables ---- */

static const char LONG_LINE[] = "250 2.1.5 "
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

struct fail_case {
	const char *name;
	struct script sc;
	enum step want_step;
	int want_code;
	const char *want_ecode;
	bool want_local;
	const char *want_text;       /* substring of the first line */
	size_t want_lines;
};

static const struct fail_case fail_cases[] = {
	{ "greeting 554", { .greeting = "554 5.7.1 go away" }, S_ACQUIRE,
	  451, "4.4.0", true, "554 5.7.1 go away", 1 },
	{ "greeting silent", { .greeting = SILENT }, S_ACQUIRE,
	  451, "4.4.2", true, "timeout waiting for the reply to greeting", 1 },
	{ "greeting garbage", { .greeting = "hello there" }, S_ACQUIRE,
	  451, "4.5.0", true, "not an SMTP reply", 1 },
	{ "greeting code 199", { .greeting = "199 what" }, S_ACQUIRE,
	  451, "4.5.0", true, "not an SMTP reply", 1 },
	{ "drop at EHLO", { .ehlo = DROP }, S_ACQUIRE,
	  451, "4.4.2", true, "connection lost", 1 },
	{ "EHLO 421", { .ehlo = "421 4.3.2 busy" }, S_ACQUIRE,
	  451, "4.4.0", true, "421 4.3.2 busy", 1 },
	{ "EHLO 502 and HELO 550", { .ehlo = "502 no", .helo = "550 no" },
	  S_ACQUIRE, 451, "4.4.0", true, "at HELO", 1 },
	{ "EHLO 502, HELO works", { .ehlo = "502 5.5.1 no" }, S_DONE,
	  250, "2.0.0", false, "queued as FAKE", 1 },
	{ "MAIL 452", { .mail = "452 4.3.1 full" }, S_MAIL,
	  452, "4.3.1", false, "full", 1 },
	{ "MAIL without ecode", { .mail = "550 no such sender" }, S_MAIL,
	  550, "", false, "no such sender", 1 },
	{ "MAIL garbage", { .mail = "hello" }, S_MAIL,
	  451, "4.5.0", true, "not an SMTP reply", 1 },
	{ "MAIL two replies", { .mail = "250 ok\r\n250 ok" }, S_MAIL,
	  451, "4.5.0", true, "unexpected input", 1 },
	{ "MAIL code changes", { .mail = "250-ok\r\n251 ok" }, S_MAIL,
	  451, "4.5.0", true, "not an SMTP reply", 1 },
	{ "MAIL drop", { .mail = DROP }, S_MAIL,
	  451, "4.4.2", true, "connection lost (MAIL FROM)", 1 },
	{ "MAIL slow", { .mail = SILENT }, S_MAIL,
	  451, "4.4.2", true, "reply to MAIL FROM", 1 },
	{ "RCPT 550 multi-line", { .rcpt = "550-5.1.1 no such user\r\n"
	  "550-5.1.1 really\r\n550 5.1.1 none" }, S_RCPT,
	  550, "5.1.1", false, "no such user", 3 },
	{ "RCPT 421", { .rcpt = "421 4.7.0 closing" }, S_RCPT,
	  421, "4.7.0", false, "closing", 1 },
	{ "RCPT line too long", { .rcpt = LONG_LINE }, S_RCPT,
	  451, "4.5.0", true, "longer than 512", 1 },
	{ "RCPT bare LF line end", { .rcpt = "550 5.1.1 x\n" }, S_RCPT,
	  451, "4.5.0", true, "unexpected input", 1 },
	{ "DATA 554", { .data = "554 5.7.1 no data" }, S_DATA,
	  554, "5.7.1", false, "no data", 1 },
	{ "DATA drop", { .data = DROP }, S_DATA,
	  451, "4.4.2", true, "connection lost (DATA)", 1 },
	{ "DATA slow", { .data = SILENT }, S_DATA,
	  451, "4.4.2", true, "reply to DATA", 1 },
	{ "drop in content", { .drop_in_body = 5 }, S_DATA,
	  451, "4.4.2", true, "connection lost", 1 },
	{ "dot 451", { .dot = "451 4.7.1 greylisted" }, S_DATA,
	  451, "4.7.1", false, "greylisted", 1 },
	{ "dot 550 multi-line", { .dot = "550-5.7.1 spam\r\n550 5.7.1 go" },
	  S_DATA, 550, "5.7.1", false, "spam", 2 },
	{ "dot slow", { .dot = SILENT }, S_DATA,
	  451, "4.4.2", true, "reply to end of data", 1 },
	{ "dot drop", { .dot = DROP }, S_DATA,
	  451, "4.4.2", true, "connection lost (end of data)", 1 },
};

static void
test_failures(void **state)
{
	struct policy_relay cfg = relay_cfg();

	for (size_t i = 0; i < sizeof(fail_cases) / sizeof(fail_cases[0]); i++) {
		const struct fail_case *fc = &fail_cases[i];
		struct membody mb = { "line 1\r\n.line 2\r\n", 17, 0, 0, false };
		struct relay_client *rc = client(&cfg);
		struct fake f;
		struct result res;
		enum step got;

		fake_start(&f, &fc->sc);
		got = transaction(rc, f.port, &mb, &res);
		if (got != fc->want_step || res.r.code != fc->want_code ||
		    strcmp(res.r.ecode, fc->want_ecode) != 0 ||
		    res.r.local != fc->want_local ||
		    strstr(res.r.text[0], fc->want_text) == NULL ||
		    res.r.nlines != fc->want_lines)
			fail_msg("%s: got step %d %d %s local=%d \"%s\" lines %zu; "
			    "want step %d %d %s local=%d \"%s\" lines %zu", fc->name,
			    got, res.r.code, res.r.ecode, res.r.local, res.r.text[0],
			    res.r.nlines, fc->want_step, fc->want_code,
			    fc->want_ecode, fc->want_local, fc->want_text,
			    fc->want_lines);
		assert_non_null(strstr(res.r.peer, "127.0.0.1"));
		if (res.u != NULL)
			upstream_abort(res.u);
		relay_client_free(rc);
		fake_stop(&f);
	}
}

static uint16_t
closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	close(fd);
	return ntohs(sin.sin_port);
}

static void
test_connect_refused(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct result res = acquire(rc, closed_port(), RELAY_TLS_NONE);

	assert_null(res.u);
	assert_int_equal(res.r.code, 451);
	assert_string_equal(res.r.ecode, "4.4.1");
	assert_true(res.r.local);
	assert_non_null(strstr(res.r.text[0], "cannot connect"));
	relay_client_free(rc);
}

/* A resolver that never answers: the next hop's lookup is cut off at
 * connect_timeout with 451 4.4.3, not after libunbound's own retries. */
static void
test_dns_deadline(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char resolver[64];
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc;
	struct result res = { 0 };
	struct timespec t0, t1;
	double took;

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	snprintf(resolver, sizeof(resolver), "127.0.0.1@%u",
	    ntohs(sin.sin_port));
	cfg.resolver = resolver;
	rc = client(&cfg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_non_null(upstream_acquire(rc, "mx.example", RELAY_TLS_NONE,
	    got_cb, &res));
	wait_for(&res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_null(res.u);
	assert_int_equal(res.r.code, 451);
	assert_string_equal(res.r.ecode, "4.4.3");
	assert_true(res.r.local);
	assert_non_null(strstr(res.r.text[0], "no DNS answer within 1 s"));
	assert_true(took >= 0.9 && took < 3.0);
	/* The lookup still outstanding inside libunbound goes with the client. */
	relay_client_free(rc);
	close(fd);
}

/* What a client must send for `in`: a "." before each line-starting "."
 * (lines start after LF), CRLF added when missing, then ".\r\n". */
static char *
stuffed(const char *in, size_t len, size_t *outlen)
{
	char *out = malloc(2 * len + 8);
	size_t o = 0;
	bool bol = true;

	assert_non_null(out);
	for (size_t i = 0; i < len; i++) {
		if (bol && in[i] == '.')
			out[o++] = '.';
		out[o++] = in[i];
		bol = in[i] == '\n';
	}
	if (len < 2 || in[len - 2] != '\r' || in[len - 1] != '\n') {
		if (len > 0) {
			out[o++] = '\r';
			out[o++] = '\n';
		}
	}
	memcpy(out + o, ".\r\n", 3);
	*outlen = o + 3;
	return out;
}

static void
check_content(const char *in, size_t len, size_t chunk)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct membody mb = { in, len, 0, chunk, false };
	struct script sc = { 0 };
	struct fake f;
	struct result res;
	size_t wlen;
	char *want;

	fake_start(&f, &sc);
	assert_int_equal(transaction(rc, f.port, &mb, &res), S_DONE);
	want = stuffed(in, len, &wlen);
	assert_int_equal(evbuffer_get_length(f.content), wlen);
	assert_memory_equal(evbuffer_pullup(f.content, -1), want, wlen);
	free(want);
	assert_int_equal(f.messages, 1);
	upstream_abort(res.u);
	relay_client_free(rc);
	fake_stop(&f);
}

static void
test_content_table(void **state)
{
	static const struct { const char *in; size_t chunk; } rows[] = {
		{ "", 0 },
		{ ".\r\n", 0 },
		{ "a\r\n.\r\nb\r\n", 0 },
		{ "a\r\n.\r\nb\r\n", 1 },
		{ "..x\r\n...\r\n", 2 },
		{ "no final crlf", 0 },
		{ "no final crlf.", 3 },
		{ "bare\n.lf\r\n", 0 },
		{ "x\r\n.", 1 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_content(rows[i].in, strlen(rows[i].in), rows[i].chunk);
}

static void
test_big_body(void **state)
{
	size_t len = 2 * 1024 * 1024, o = 0;
	char *in = malloc(len);
	unsigned seed = 42;

	assert_non_null(in);
	while (o < len) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 200);
		if (o + n + 2 > len)
			n = len - o - 2;
		for (size_t i = 0; i < n; i++)
			in[o + i] = (rand_r(&seed) % 7 == 0) ? '.' :
			    (char)('a' + rand_r(&seed) % 26);
		o += n;
		in[o++] = '\r';
		in[o++] = '\n';
	}
	check_content(in, len, 0);
	free(in);
}

static void
test_body_read_error(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct membody mb = { "a\r\nb\r\n", 6, 0, 3, true };
	struct script sc = { 0 };
	struct fake f;
	struct result res;

	fake_start(&f, &sc);
	assert_int_equal(transaction(rc, f.port, &mb, &res), S_DATA);
	assert_int_equal(res.r.code, 451);
	assert_string_equal(res.r.ecode, "4.3.0");
	assert_true(res.r.local);
	assert_int_equal(f.messages, 0);
	upstream_abort(res.u);
	run_for_ms(50);
	assert_int_equal(f.open, 0);
	relay_client_free(rc);
	fake_stop(&f);
}

static void
test_after_421(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct membody mb = { "a\r\n", 3, 0, 0, false };
	struct script sc = { .rcpt = "421 4.7.0 closing" };
	struct fake f;
	struct result res, again = { 0 };

	fake_start(&f, &sc);
	assert_int_equal(transaction(rc, f.port, &mb, &res), S_RCPT);
	upstream_rcpt(res.u, "x@example.com", got_cb, &again);
	assert_false(again.done);
	wait_for(&again);
	assert_int_equal(again.r.code, 451);
	assert_string_equal(again.r.ecode, "4.4.2");
	upstream_release(res.u);
	relay_client_free(rc);
	fake_stop(&f);
}

static void
test_smtputf8_and_params(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct script sc = { 0 };
	struct upstream_mail_params mp = { .size = 1234, .body_8bit = true,
	    .smtputf8 = true };
	struct fake f;
	struct result a, res = { 0 };

	fake_start(&f, &sc);
	a = acquire(rc, f.port, RELAY_TLS_NONE);
	assert_non_null(a.u);
	upstream_mail(a.u, "s@example.org", &mp, got_cb, &res);
	assert_false(res.done);
	wait_for(&res);
	assert_int_equal(res.r.code, 553);
	assert_string_equal(res.r.ecode, "5.6.7");
	assert_true(res.r.local);
	mp.smtputf8 = false;
	memset(&res, 0, sizeof(res));
	upstream_mail(a.u, "s@example.org", &mp, got_cb, &res);
	wait_for(&res);
	assert_int_equal(res.r.code, 250);
	assert_string_equal(f.mail_line,
	    "MAIL FROM:<s@example.org> SIZE=1234 BODY=8BITMIME");
	memset(&res, 0, sizeof(res));
	upstream_rcpt(a.u, "bad\r\nRCPT TO:<x@y>", got_cb, &res);
	wait_for(&res);
	assert_int_equal(res.r.code, 553);
	assert_string_equal(f.cmds, "EHLO|MAIL|");
	upstream_release(a.u);
	relay_client_free(rc);
	fake_stop(&f);
}

/* ---- STARTTLS ---- */

struct tls_case {
	const char *name;
	enum relay_tls tls;
	bool offer, use_ca, garbage;
	const char *starttls;
	int want_code;
	const char *want_ecode;
	const char *want_text;
	bool want_tls;
};

static const struct tls_case tls_cases[] = {
	{ "may, offered", RELAY_TLS_MAY, true, false, false, NULL,
	  250, NULL, NULL, true },
	{ "may, not offered", RELAY_TLS_MAY, false, false, false, NULL,
	  250, NULL, NULL, false },
	{ "may, refused 454", RELAY_TLS_MAY, true, false, false, "454 4.7.0 no",
	  250, NULL, NULL, false },
	{ "none, offered", RELAY_TLS_NONE, true, false, false, NULL,
	  250, NULL, NULL, false },
	{ "encrypt, self-signed", RELAY_TLS_ENCRYPT, true, false, false, NULL,
	  250, NULL, NULL, true },
	{ "encrypt, not offered", RELAY_TLS_ENCRYPT, false, false, false, NULL,
	  451, "4.7.0", "STARTTLS not offered", false },
	{ "encrypt, refused", RELAY_TLS_ENCRYPT, true, false, false, "454 4.7.0 no",
	  451, "4.7.0", "STARTTLS refused", false },
	{ "verify, self-signed", RELAY_TLS_VERIFY, true, false, false, NULL,
	  451, "4.7.0", "certificate verification failed", false },
	{ "verify, ca_file", RELAY_TLS_VERIFY, true, true, false, NULL,
	  250, NULL, NULL, true },
	{ "may, handshake garbage", RELAY_TLS_MAY, true, false, true, NULL,
	  451, NULL, NULL, false },
};

static void
test_starttls(void **state)
{
	for (size_t i = 0; i < sizeof(tls_cases) / sizeof(tls_cases[0]); i++) {
		const struct tls_case *tc = &tls_cases[i];
		struct policy_relay cfg = relay_cfg();
		struct script sc = { .starttls = tc->starttls,
		    .tls_garbage = tc->garbage };
		struct relay_client *rc;
		struct fake f;
		struct result res;
		char err[256];

		if (tc->offer)
			sc.ehlo = "250-fake.test\r\n250-STARTTLS\r\n250 SMTPUTF8";
		if (tc->use_ca)
			cfg.ca_file = cert_path;
		rc = client(&cfg);
		fake_start(&f, &sc);
		f.ssl = tls_ctx_new(cert_path, key_path, err, sizeof(err));
		assert_non_null(f.ssl);
		res = acquire(rc, f.port, tc->tls);
		if (res.r.code != tc->want_code ||
		    (tc->want_ecode != NULL &&
		    strcmp(res.r.ecode, tc->want_ecode) != 0) ||
		    (tc->want_text != NULL &&
		    strstr(res.r.text[0], tc->want_text) == NULL))
			fail_msg("%s: got %d %s %s", tc->name, res.r.code,
			    res.r.ecode, res.r.text[0]);
		if (res.u != NULL) {
			bool on = upstream_tls_version(res.u)[0] != '\0';
			if (on != tc->want_tls)
				fail_msg("%s: TLS %d", tc->name, on);
			if (on)
				assert_non_null(strstr(f.cmds, "EHLO|STAR|EHLO|"));
			assert_non_null(strstr(upstream_peer(res.u), "[127.0.0.1]:"));
			upstream_abort(res.u);
		}
		relay_client_free(rc);
		fake_stop(&f);
	}
}

/* ---- pool ---- */

/* Two transactions on one next hop, the second started after the first
 * session's RSET was answered (settle) or at once, while it is in flight
 * (a client sending MAIL right after the 250): one connection either way,
 * the second acquire waiting for the session on its way back. */
static void
reuse_check(bool settle)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct membody mb = { "hello\r\n", 7, 0, 0, false };
	struct script sc = { 0 };
	struct fake f;
	struct result res;

	fake_start(&f, &sc);
	assert_int_equal(transaction(rc, f.port, &mb, &res), S_DONE);
	upstream_release(res.u);
	if (settle)
		run_for_ms(50);
	mb.off = 0;
	assert_int_equal(transaction(rc, f.port, &mb, &res), S_DONE);
	upstream_release(res.u);
	run_for_ms(50);
	assert_int_equal(f.accepted, 1);
	assert_int_equal(f.messages, 2);
	assert_string_equal(f.cmds,
	    "EHLO|MAIL|RCPT|DATA|RSET|MAIL|RCPT|DATA|RSET|");
	relay_client_free(rc);
	run_for_ms(50);
	assert_int_equal(f.open, 0);
	fake_stop(&f);
}

static void
test_reuse(void **state)
{
	(void)state;
	reuse_check(true);
}

static void
test_reuse_during_rset(void **state)
{
	(void)state;
	reuse_check(false);
}

/* The RSET waited for is refused (or the session dropped): the waiting
 * acquire connects anew; and one RSET in flight serves one waiter only,
 * a second acquire connects at once. */
static void
test_rset_waiters(void **state)
{
	static const char *rsets[] = { "500 5.5.1 no RSET here", DROP };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rsets) / sizeof(rsets[0]); i++) {
		struct policy_relay cfg = relay_cfg();
		struct relay_client *rc = client(&cfg);
		struct membody mb = { "hello\r\n", 7, 0, 0, false };
		struct script sc = { .rset = rsets[i] };
		struct result a = { 0 }, b = { 0 }, res;
		char relay[64];
		struct fake f;

		fake_start(&f, &sc);
		assert_int_equal(transaction(rc, f.port, &mb, &res), S_DONE);
		upstream_release(res.u);
		hop(relay, sizeof(relay), f.port);
		assert_non_null(upstream_acquire(rc, relay, RELAY_TLS_NONE,
		    got_cb, &a));
		assert_non_null(upstream_acquire(rc, relay, RELAY_TLS_NONE,
		    got_cb, &b));
		wait_for(&a);
		wait_for(&b);
		assert_non_null(a.u);
		assert_non_null(b.u);
		assert_int_equal(f.accepted, 3);
		upstream_release(a.u);
		upstream_release(b.u);
		run_for_ms(50);
		relay_client_free(rc);
		run_for_ms(50);
		assert_int_equal(f.open, 0);
		fake_stop(&f);
	}
}

static void
test_per_hop_limit(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc;
	struct script sc = { 0 };
	struct fake f;
	struct result a, b, c;

	cfg.per_hop_connections = 1;
	rc = client(&cfg);
	fake_start(&f, &sc);
	a = acquire(rc, f.port, RELAY_TLS_NONE);
	assert_non_null(a.u);
	b = acquire(rc, f.port, RELAY_TLS_NONE);
	assert_null(b.u);
	assert_int_equal(b.r.code, 451);
	assert_string_equal(b.r.ecode, "4.4.5");
	assert_non_null(strstr(b.r.text[0], "too many connections to next hop"));
	c = acquire(rc, f.port, RELAY_TLS_MAY);  /* another hop key */
	assert_non_null(c.u);
	upstream_abort(c.u);
	upstream_release(a.u);
	run_for_ms(50);
	b = acquire(rc, f.port, RELAY_TLS_NONE);
	assert_non_null(b.u);
	assert_int_equal(f.accepted, 2);
	upstream_abort(b.u);
	relay_client_free(rc);
	fake_stop(&f);
}

static void
test_idle_expiry(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc;
	struct script sc = { 0 };
	struct fake f;
	struct result a;

	cfg.idle_time = 1;
	rc = client(&cfg);
	fake_start(&f, &sc);
	a = acquire(rc, f.port, RELAY_TLS_NONE);
	upstream_release(a.u);
	run_for_ms(300);
	assert_int_equal(f.open, 1);
	run_for_ms(1200);
	assert_int_equal(f.open, 0);
	assert_string_equal(f.cmds, "EHLO|RSET|QUIT|");
	a = acquire(rc, f.port, RELAY_TLS_NONE);
	assert_non_null(a.u);
	assert_int_equal(f.accepted, 2);
	upstream_release(a.u);
	relay_client_free(rc);
	fake_stop(&f);
}

static void
test_idle_dropped_by_peer(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct script sc = { 0 };
	struct fake f;
	struct result a;

	fake_start(&f, &sc);
	a = acquire(rc, f.port, RELAY_TLS_NONE);
	upstream_release(a.u);
	run_for_ms(50);
	fconn_free(TAILQ_FIRST(&f.conns));
	run_for_ms(50);
	a = acquire(rc, f.port, RELAY_TLS_NONE);
	assert_non_null(a.u);
	assert_int_equal(f.accepted, 2);
	upstream_abort(a.u);
	relay_client_free(rc);
	fake_stop(&f);
}

static void
never_cb(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	fail_msg("callback after cancel");
}

static void
test_cancel(void **state)
{
	struct policy_relay cfg = relay_cfg();
	struct relay_client *rc = client(&cfg);
	struct script sc = { .greeting = SILENT };
	struct fake f;
	char relay[64];
	struct upstream_req *req;

	fake_start(&f, &sc);
	hop(relay, sizeof(relay), f.port);
	req = upstream_acquire(rc, relay, RELAY_TLS_NONE, never_cb, NULL);
	assert_non_null(req);
	run_for_ms(100);
	assert_int_equal(f.open, 1);
	upstream_acquire_cancel(req);
	run_for_ms(100);
	assert_int_equal(f.open, 0);
	/* a request left pending is dropped by relay_client_free */
	req = upstream_acquire(rc, relay, RELAY_TLS_NONE, never_cb, NULL);
	assert_non_null(req);
	relay_client_free(rc);
	fake_stop(&f);
}

/* ---- pure parts ---- */

struct parse_case {
	const char *lines;            /* "\n"-separated */
	int want;                     /* last parse result */
	int code;
	const char *ecode;
	size_t nlines;
	const char *text0;
};

static const struct parse_case parse_cases[] = {
	{ "250 ok", UPSTREAM_PARSE_DONE, 250, "", 1, "ok" },
	{ "250", UPSTREAM_PARSE_DONE, 250, "", 1, "" },
	{ "250 2.1.0 ok", UPSTREAM_PARSE_DONE, 250, "2.1.0", 1, "ok" },
	{ "250 2.1.0", UPSTREAM_PARSE_DONE, 250, "2.1.0", 1, "" },
	{ "550 2.1.0 class mismatch", UPSTREAM_PARSE_DONE, 550, "", 1,
	  "2.1.0 class mismatch" },
	{ "550 5.1234.1 too long", UPSTREAM_PARSE_DONE, 550, "", 1,
	  "5.1234.1 too long" },
	{ "550 5.1.1x no", UPSTREAM_PARSE_DONE, 550, "", 1, "5.1.1x no" },
	{ "550-5.1.1 a\n550 5.1.1 b", UPSTREAM_PARSE_DONE, 550, "5.1.1", 2, "a" },
	{ "550-5.1.1 a\n550 b", UPSTREAM_PARSE_DONE, 550, "5.1.1", 2, "a" },
	{ "250-a", UPSTREAM_PARSE_MORE, 250, "", 1, "a" },
	{ "250-a\n251 b", UPSTREAM_PARSE_ERROR, 250, "", 1, "a" },
	{ "25", UPSTREAM_PARSE_ERROR, 0, "", 0, "" },
	{ "2500 x", UPSTREAM_PARSE_ERROR, 0, "", 0, "" },
	{ "abc x", UPSTREAM_PARSE_ERROR, 0, "", 0, "" },
	{ "199 x", UPSTREAM_PARSE_ERROR, 0, "", 0, "" },
	{ "600 x", UPSTREAM_PARSE_ERROR, 0, "", 0, "" },
	{ "354 go", UPSTREAM_PARSE_DONE, 354, "", 1, "go" },
	{ "250 a\tb\x01" "c", UPSTREAM_PARSE_DONE, 250, "", 1, "a?b?c" },
	{ "250-1\n250-2\n250-3\n250-4\n250-5\n250-6\n250-7\n250-8\n250-9\n"
	  "250 10", UPSTREAM_PARSE_DONE, 250, "", 8, "1" },
};

static void
test_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *pc = &parse_cases[i];
		struct upstream_parser p = { 0 };
		struct upstream_reply r;
		const char *s = pc->lines;
		int got = UPSTREAM_PARSE_ERROR;

		memset(&r, 0, sizeof(r));
		while (*s != '\0') {
			const char *nl = strchr(s, '\n');
			size_t n = nl != NULL ? (size_t)(nl - s) : strlen(s);
			got = upstream_reply_parse(&p, &r, s, n, NULL, NULL);
			if (got != UPSTREAM_PARSE_MORE || nl == NULL)
				break;
			s = nl + 1;
		}
		if (got != pc->want || r.code != pc->code ||
		    strcmp(r.ecode, pc->ecode) != 0 || r.nlines != pc->nlines ||
		    (pc->nlines > 0 && strcmp(r.text[0], pc->text0) != 0))
			fail_msg("row %zu \"%s\": got %d %d \"%s\" %zu \"%s\"", i,
			    pc->lines, got, r.code, r.ecode, r.nlines, r.text[0]);
	}
}

static void
test_parse_line_limit(void **state)
{
	struct upstream_parser p = { 0 };
	struct upstream_reply r;

	memset(&r, 0, sizeof(r));
	for (int i = 0; i < UPSTREAM_REPLY_LINES_LIMIT; i++)
		assert_int_equal(upstream_reply_parse(&p, &r, "250-x", 5, NULL,
		    NULL), UPSTREAM_PARSE_MORE);
	assert_int_equal(upstream_reply_parse(&p, &r, "250 x", 5, NULL, NULL),
	    UPSTREAM_PARSE_ERROR);
}

static void
test_caps(void **state)
{
	static const struct { const char *line; unsigned flags; size_t size; }
	rows[] = {
		{ "SIZE 35882577", UPSTREAM_CAP_SIZE, 35882577 },
		{ "size", UPSTREAM_CAP_SIZE, 0 },
		{ "SIZE 99999999999999999999999", UPSTREAM_CAP_SIZE, 0 },
		{ "8bitmime", UPSTREAM_CAP_8BITMIME, 0 },
		{ "SMTPUTF8", UPSTREAM_CAP_SMTPUTF8, 0 },
		{ "STARTTLS", UPSTREAM_CAP_STARTTLS, 0 },
		{ "PIPELINING", UPSTREAM_CAP_PIPELINING, 0 },
		{ "STARTTLSX", 0, 0 },
		{ "SIZEX 5", 0, 0 },
		{ "AUTH PLAIN", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct upstream_caps c = { 0 };
		upstream_caps_line(&c, rows[i].line, strlen(rows[i].line));
		if (c.flags != rows[i].flags || c.size_max != rows[i].size)
			fail_msg("%s: got %x %zu", rows[i].line, c.flags, c.size_max);
	}
}

static void
test_format(void **state)
{
	struct upstream_reply r;
	char buf[2048];
	int n;

	memset(&r, 0, sizeof(r));
	r.code = 550;
	r.nlines = 2;
	snprintf(r.ecode, sizeof(r.ecode), "5.1.1");
	snprintf(r.text[0], sizeof(r.text[0]), "no such user");
	snprintf(r.text[1], sizeof(r.text[1]), "bye");
	snprintf(r.peer, sizeof(r.peer), "mx.test[192.0.2.1]:25");
	n = upstream_reply_format(&r, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "550-5.1.1 upstream mx.test[192.0.2.1]:25: "
	    "no such user\r\n550 5.1.1 upstream mx.test[192.0.2.1]:25: bye");
	r.ecode[0] = '\0';
	r.nlines = 1;
	r.text[0][0] = '\0';
	assert_true(upstream_reply_format(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "550 5.0.0 upstream mx.test[192.0.2.1]:25:");
	assert_int_equal(upstream_reply_format(&r, buf, 10), -1);
	upstream_reply_local(&r, 451, "4.4.1", "[h]:25", "cannot %s", "connect");
	assert_true(r.local);
	assert_int_equal(upstream_reply_format(&r, buf, sizeof(buf)),
	    (int)strlen("451 4.4.1 upstream [h]:25: cannot connect"));
	assert_string_equal(buf, "451 4.4.1 upstream [h]:25: cannot connect");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_line_limit),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_format),
		cmocka_unit_test_setup_teardown(test_failures, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_dns_deadline, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_content_table, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_big_body, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_body_read_error, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_after_421, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_smtputf8_and_params, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_starttls, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_reuse, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_reuse_during_rset, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_rset_waiters, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_per_hop_limit, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_idle_expiry, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_idle_dropped_by_peer, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, test_setup, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
