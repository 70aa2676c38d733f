/*
 * fuzz_session.c - libFuzzer target for a whole SMTP session: session.c,
 * session_cmds.c and everything they call, fed through a bufferevent_pair
 * (STYLE.md "Testing"; the model is tmux fuzz/input-fuzzer.c).
 *
 * Once per process (LLVMFuzzerInitialize) a `struct server` is built as
 * main.c builds it, minus sockets and signals: an event base, ipcount, and
 * a policy from a small configuration (two limbo domains, one defer_at =
 * data; max_recipients 5, max_message_size 2000, max_line_length 512,
 * max_errors 1000 so that errors rarely end the session early) installed
 * with server_apply_policy(); no attempt_log, so no file is written.
 *
 * Input layout: bytes 0-3 are a cycle of chunk sizes (0 = all the rest at
 * once, else 1..255 bytes), the rest is what the client sends.  Per input:
 * a pair with deferred callbacks (like a socket, no callback runs inside
 * another bufferevent's call), session_attach() on one end, each chunk
 * written into the other end and the loop run until nothing is active
 * (bounded), so split lines and pipelining both happen.  Then the client
 * end signals EOF (BEV_FINISHED) and is freed, and the loop runs until the
 * session is gone; one still waiting for a timer is ended by
 * session_free_all().
 *
 * Checked (abort() on failure): the server's output is a sequence of
 * CRLF-terminated reply lines "ddd" or "ddd text"/"ddd-text" without any
 * other CR or LF (a client can never inject a reply line), the first is
 * the 220 greeting, at most one session exists, and afterwards no session
 * is left (srv.nsessions == 0, empty list, per-IP count back to 0).
 * LeakSanitizer checks that every path frees what it allocated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ipcount.h"
#include "policy.h"
#include "server.h"
#include "session.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

#define LOOP_MAX   256      /* event loop passes per chunk, at most */
#define CLOSE_MAX  64       /* passes after the client's EOF, at most */
#define PEER_IP    "127.0.0.1"

static const char config[] =
    "listen = { \"127.0.0.1:2525\" }\n"
    "hostname = \"mx.fuzz.invalid\"\n"
    "default_defer_reply = \"451 4.3.2 %d is moving, please retry later\"\n"
    "limits {\n"
    "    max_recipients = 5\n"
    "    max_message_size = 2000\n"
    "    max_errors = 1000\n"
    "    max_line_length = 512\n"
    "}\n"
    "domain \"limbo.test\" {\n"
    "    state = limbo\n"
    "}\n"
    "domain \"data.test\" {\n"
    "    state = limbo\n"
    "    defer_at = data\n"
    "    defer_reply = \"451 4.3.2 data.test is moving, please retry later\"\n"
    "}\n";

static struct server srv;

/* What the client has read so far, checked line by line as it arrives. */
struct reply_state {
	size_t lines;
	size_t col;            /* bytes of the current line so far */
	char head[4];          /* its first four bytes */
	bool cr;               /* the last byte was the CR of CRLF */
};

static void
write_config(char *path, size_t pathlen)
{
	int fd, n;

	n = snprintf(path, pathlen, "/tmp/fuzz_session.%ld.XXXXXX",
	    (long)getpid());
	CHECK(n > 0 && (size_t)n < pathlen);
	CHECK((fd = mkstemp(path)) >= 0);
	CHECK(write(fd, config, sizeof(config) - 1) ==
	    (ssize_t)(sizeof(config) - 1));
	CHECK(close(fd) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct policy *p;
	char path[64], err[1024];

	(void)argc;
	(void)argv;
	TAILQ_INIT(&srv.sessions);
	srv.sid_base = 1;
	CHECK((srv.base = event_base_new()) != NULL);
	CHECK((srv.ipcount = ipcount_new()) != NULL);
	write_config(path, sizeof(path));
	if (policy_load(path, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_session: %s\n", err);
		abort();
	}
	unlink(path);
	CHECK(p->attempt_log == NULL || p->attempt_log[0] == '\0');
	if (server_apply_policy(&srv, p, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_session: %s\n", err);
		abort();
	}
	CHECK(srv.log != NULL && srv.tls == NULL);
	return 0;
}

static void
check_line_start(const struct reply_state *rs)
{
	for (int i = 0; i < 3; i++)
		CHECK(rs->head[i] >= '0' && rs->head[i] <= '9');
	CHECK(rs->col == 3 || rs->head[3] == ' ' || rs->head[3] == '-');
	if (rs->lines == 0)
		CHECK(memcmp(rs->head, "220 ", 4) == 0);
}

static void
check_reply_byte(struct reply_state *rs, char c)
{
	if (rs->cr) {
		CHECK(c == '\n');
		CHECK(rs->col >= 3);
		check_line_start(rs);
		rs->lines++;
		rs->col = 0;
		rs->cr = false;
		return;
	}
	CHECK(c != '\n');
	if (c == '\r') {
		rs->cr = true;
		return;
	}
	if (rs->col < sizeof(rs->head))
		rs->head[rs->col] = c;
	rs->col++;
}

/* Read and check everything the server has sent to the client. */
static void
drain_client(struct bufferevent *client, struct reply_state *rs)
{
	struct evbuffer *in = bufferevent_get_input(client);
	char buf[512];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0)
		for (int i = 0; i < n; i++)
			check_reply_byte(rs, buf[i]);
	CHECK(evbuffer_get_length(in) == 0);
}

/* Run the loop until no callback is pending (timers do not count). */
static void
run_until_quiet(struct bufferevent *client, struct reply_state *rs,
    size_t max)
{
	for (size_t i = 0; i < max; i++) {
		CHECK(event_base_loop(srv.base, EVLOOP_NONBLOCK) >= 0);
		if (client != NULL)
			drain_client(client, rs);
		CHECK(srv.nsessions <= 1);
		if (event_base_get_num_events(srv.base,
		    EVENT_BASE_COUNT_ACTIVE) == 0)
			return;
	}
}

static void
sockaddr_loopback(struct sockaddr_in *sin, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	CHECK(inet_pton(AF_INET, PEER_IP, &sin->sin_addr) == 1);
}

static struct bufferevent *
session_open(void)
{
	struct bufferevent *pair[2];
	struct sockaddr_in peer, local;

	CHECK(bufferevent_pair_new(srv.base, BEV_OPT_DEFER_CALLBACKS, pair) == 0);
	sockaddr_loopback(&peer, 40000);
	sockaddr_loopback(&local, 25);
	CHECK(session_attach(&srv, pair[0], (struct sockaddr *)&peer,
	    (struct sockaddr *)&local) != NULL);
	CHECK(srv.nsessions == 1);
	CHECK(bufferevent_enable(pair[1], EV_READ | EV_WRITE) == 0);
	return pair[1];
}

static void
session_close(struct bufferevent *client, struct reply_state *rs)
{
	/* EOF to the session, as a FIN would be (fails once it is gone). */
	(void)bufferevent_flush(client, EV_WRITE, BEV_FINISHED);
	run_until_quiet(client, rs, CLOSE_MAX);
	CHECK(rs->col == 0 && !rs->cr);     /* no reply was cut short */
	bufferevent_free(client);
	run_until_quiet(NULL, rs, CLOSE_MAX);
	if (srv.nsessions != 0)
		session_free_all(&srv);
	run_until_quiet(NULL, rs, CLOSE_MAX);
	if (srv.nsessions != 0 || !TAILQ_EMPTY(&srv.sessions) ||
	    ipcount_get(srv.ipcount, PEER_IP) != 0) {
		fprintf(stderr, "fuzz_session: leaked session(s): %zu\n",
		    srv.nsessions);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bufferevent *client;
	struct reply_state rs = { 0 };
	const uint8_t *sizes = data;
	size_t off = 4, k = 0;

	if (size < 4)
		return 0;
	client = session_open();
	run_until_quiet(client, &rs, LOOP_MAX);
	CHECK(rs.lines == 1);
	while (off < size) {
		size_t chunk = sizes[k++ % 4];

		if (chunk == 0 || chunk > size - off)
			chunk = size - off;
		CHECK(bufferevent_write(client, data + off, chunk) == 0);
		off += chunk;
		run_until_quiet(client, &rs, LOOP_MAX);
	}
	session_close(client, &rs);
	return 0;
}
