/*
 * test_mx.c - next-hop resolution (smtpd/mx.c, mx_dns.c) through a real
 * unbound (/usr/sbin/unbound, Debian package) started on 127.0.0.1 at a
 * free port with local-data zones, and stopped by PID at the end.
 *
 * Tables (got/want): relay string -> ordered "host addr:port" list or the
 * error; covering MX preference order, implicit MX (A/AAAA, no MX),
 * "[host]:port" (no MX lookup), IP literals, null MX (RFC 7505),
 * NXDOMAIN, no address, SERVFAIL (a resolver nobody answers at), bad
 * syntax; plus mx_relay_parse() alone, cancel, and a relay client
 * connecting through an MX to a listener on 127.0.0.1 after a first MX
 * host that refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "mx.h"
#include "upstream.h"

static char dir[64];
static char conf[128];
static pid_t unbound_pid = -1;
static uint16_t dns_port, smtp_port, dead_port;
static int smtp_fd = -1;
static struct event_base *base;

static uint16_t
free_port(int type, int *keep)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		return 0;
	getsockname(fd, (struct sockaddr *)&sin, &len);
	if (keep != NULL)
		*keep = fd;
	else
		close(fd);
	return ntohs(sin.sin_port);
}

static int
write_conf(void)
{
	FILE *f = fopen(conf, "w");

	if (f == NULL)
		return -1;
	fprintf(f,
	    "server:\n"
	    "  interface: 127.0.0.1\n  port: %u\n"
	    "  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
	    "  directory: \"%s\"\n  pidfile: \"\"\n  use-syslog: no\n"
	    "  logfile: \"\"\n  verbosity: 0\n  do-ip6: no\n"
	    "  access-control: 127.0.0.0/8 allow\n"
	    "  module-config: \"iterator\"\n"
	    "  local-zone: \"example.\" static\n"
	    "  local-data: \"mx.example. MX 20 b.mx.example.\"\n"
	    "  local-data: \"mx.example. MX 10 a.mx.example.\"\n"
	    "  local-data: \"mx.example. MX 30 c.mx.example.\"\n"
	    "  local-data: \"a.mx.example. A 127.0.0.2\"\n"
	    "  local-data: \"b.mx.example. A 127.0.0.3\"\n"
	    "  local-data: \"b.mx.example. AAAA ::1\"\n"
	    "  local-data: \"c.mx.example. AAAA ::2\"\n"
	    "  local-data: \"implicit.example. A 127.0.0.4\"\n"
	    "  local-data: \"implicit.example. TXT hello\"\n"
	    "  local-data: \"null.example. MX 0 .\"\n"
	    "  local-data: \"noaddr.example. MX 10 missing.example.\"\n"
	    "  local-data: \"relay.example. MX 10 refuse.example.\"\n"
	    "  local-data: \"relay.example. MX 20 works.example.\"\n"
	    "  local-data: \"refuse.example. A 127.0.0.9\"\n"
	    "  local-data: \"works.example. A 127.0.0.1\"\n"
	    "remote-control:\n  control-enable: no\n", dns_port, dir);
	return fclose(f);
}

static int
wait_ready(void)
{
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_STREAM, 0), r;

		sin.sin_port = htons(dns_port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
		if (r == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

static int
group_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_mx.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/unbound.conf", dir);
	dns_port = free_port(SOCK_DGRAM, NULL);
	dead_port = free_port(SOCK_DGRAM, NULL);
	if (dns_port == 0 || write_conf() != 0)
		return -1;
	unbound_pid = fork();
	if (unbound_pid == 0) {
		execl("/usr/sbin/unbound", "unbound", "-d", "-c", conf, (char *)NULL);
		_exit(127);
	}
	if (unbound_pid < 0 || wait_ready() != 0)
		return -1;
	smtp_port = free_port(SOCK_STREAM, &smtp_fd);
	return smtp_port != 0 && listen(smtp_fd, 8) == 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	if (unbound_pid > 0) {
		kill(unbound_pid, SIGTERM);
		waitpid(unbound_pid, NULL, 0);
	}
	if (smtp_fd >= 0)
		close(smtp_fd);
	unlink(conf);
	rmdir(dir);
	return 0;
}

struct got {
	bool done;
	int status;
	char text[1024];
};

static void
got_cb(int status, const char *error, const struct mx_target *t, size_t n,
    void *arg)
{
	struct got *g = arg;
	size_t off = 0;

	g->done = true;
	g->status = status;
	if (status != 0) {
		snprintf(g->text, sizeof(g->text), "%s", error);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char ip[INET6_ADDRSTRLEN];
		unsigned port;
		if (t[i].addr.ss_family == AF_INET) {
			const struct sockaddr_in *s = (const void *)&t[i].addr;
			inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
			port = ntohs(s->sin_port);
		} else {
			const struct sockaddr_in6 *s = (const void *)&t[i].addr;
			inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
			port = ntohs(s->sin6_port);
		}
		off += (size_t)snprintf(g->text + off, sizeof(g->text) - off,
		    "%s%s %s:%u", i > 0 ? ", " : "", t[i].host, ip, port);
		assert_true(off < sizeof(g->text));
	}
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	fail_msg("no answer within 20 s");
}

static void
loop_until(bool *done)
{
	struct timeval tv = { 20, 0 };
	struct event *safety = evtimer_new(base, safety_cb, NULL);

	evtimer_add(safety, &tv);
	while (!*done)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(safety);
}

static struct got
resolve(struct mx_resolver *r, const char *relay)
{
	struct got g = { 0 };

	assert_non_null(mx_resolve(r, relay, got_cb, &g));
	assert_false(g.done);
	loop_until(&g.done);
	return g;
}

static struct mx_resolver *
resolver(uint16_t port)
{
	char fwd[64], err[256] = "";
	struct mx_resolver *r;

	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", port);
	r = mx_resolver_new(base, fwd, err, sizeof(err));
	if (r == NULL)
		fail_msg("mx_resolver_new: %s", err);
	return r;
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
	return 0;
}

static void
test_resolve_table(void **state)
{
	static const struct { const char *relay; int status; const char *want; }
	rows[] = {
		{ "mx.example", 0, "a.mx.example 127.0.0.2:25, b.mx.example 127.0.0.3:25, "
		  "b.mx.example ::1:25, c.mx.example ::2:25" },
		{ "MX.Example.:2525", 0, "a.mx.example 127.0.0.2:2525, "
		  "b.mx.example 127.0.0.3:2525, b.mx.example ::1:2525, c.mx.example ::2:2525" },
		{ "implicit.example", 0, "implicit.example 127.0.0.4:25" },
		{ "[b.mx.example]:26", 0, "b.mx.example 127.0.0.3:26, b.mx.example ::1:26" },
		{ "[mx.example]", -1, "no IPv4/IPv6 address for the next hop mx.example" },
		{ "[192.0.2.7]:2525", 0, "192.0.2.7 192.0.2.7:2525" },
		{ "[2001:db8::1]", 0, "2001:db8::1 2001:db8::1:25" },
		{ "null.example", -1, "null.example has a null MX (RFC 7505): it accepts "
		  "no mail" },
		{ "absent.example", -1, "absent.example does not exist (NXDOMAIN)" },
		{ "noaddr.example", -1, "no IPv4/IPv6 address for the next hop "
		  "noaddr.example" },
		{ "[absent.example]:25", -1, "no IPv4/IPv6 address for the next hop "
		  "absent.example" },
		{ "bad host:25", -1, "bad next hop syntax \"bad host:25\"" },
		{ "host:0", -1, "bad next hop syntax \"host:0\"" },
		{ "host:65536", -1, "bad next hop syntax \"host:65536\"" },
		{ "[host", -1, "bad next hop syntax \"[host\"" },
		{ "192.0.2.1", -1, "bad next hop syntax \"192.0.2.1\"" },
	};
	struct mx_resolver *r = resolver(dns_port);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct got g = resolve(r, rows[i].relay);
		if (g.status != rows[i].status || strcmp(g.text, rows[i].want) != 0)
			fail_msg("%s: got %d \"%s\", want %d \"%s\"", rows[i].relay,
			    g.status, g.text, rows[i].status, rows[i].want);
	}
	mx_resolver_free(r);
}

static void
test_servfail(void **state)
{
	struct mx_resolver *r = resolver(dead_port);
	struct got g = resolve(r, "mx.example");

	assert_int_equal(g.status, -1);
	assert_string_equal(g.text, "MX lookup for mx.example failed (SERVFAIL or "
	    "timeout)");
	mx_resolver_free(r);
}

static void
never_cb(int status, const char *error, const struct mx_target *t, size_t n,
    void *arg)
{
	fail_msg("callback after mx_cancel");
}

static void
test_cancel(void **state)
{
	struct mx_resolver *r = resolver(dns_port);
	struct mx_query *q = mx_resolve(r, "mx.example", never_cb, NULL);
	struct got g;

	assert_non_null(q);
	mx_cancel(q);
	q = mx_resolve(r, "[192.0.2.1]", never_cb, NULL);
	mx_cancel(q);
	g = resolve(r, "implicit.example");
	assert_int_equal(g.status, 0);
	/* one left outstanding: dropped by mx_resolver_free */
	assert_non_null(mx_resolve(r, "mx.example", never_cb, NULL));
	mx_resolver_free(r);
}

static void
test_relay_parse(void **state)
{
	static const struct { const char *in; int rc; const char *host;
	    unsigned port; bool literal, ip; } rows[] = {
		{ "mx.example", 0, "mx.example", 25, false, false },
		{ "mx.example.", 0, "mx.example", 25, false, false },
		{ "mx.example:587", 0, "mx.example", 587, false, false },
		{ "[mx.example]:2525", 0, "mx.example", 2525, true, false },
		{ "[::1]:2525", 0, "::1", 2525, true, true },
		{ "[10.0.0.1]", 0, "10.0.0.1", 25, true, true },
		{ "", -1, "", 0, false, false },
		{ "[]", -1, "", 0, false, false },
		{ "[a]x", -1, "", 0, false, false },
		{ "a:", -1, "", 0, false, false },
		{ "a:2x", -1, "", 0, false, false },
		{ "::1", -1, "", 0, false, false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct mx_relay r;
		int rc = mx_relay_parse(rows[i].in, &r);
		if (rc != rows[i].rc || (rc == 0 && (strcmp(r.host, rows[i].host) != 0 ||
		    r.port != rows[i].port || r.literal != rows[i].literal ||
		    r.is_ip != rows[i].ip)))
			fail_msg("%s: got %d %s %u %d %d", rows[i].in, rc, r.host,
			    r.port, r.literal, r.is_ip);
	}
}

/* A minimal SMTP server: 220, then 250 to every line. */
static void
tiny_read(struct bufferevent *bev, void *arg)
{
	char *line;

	while ((line = evbuffer_readln(bufferevent_get_input(bev), NULL,
	    EVBUFFER_EOL_CRLF)) != NULL) {
		evbuffer_add_printf(bufferevent_get_output(bev), "250 ok\r\n");
		free(line);
	}
}

static void
tiny_event(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
	*(int *)arg -= 1;
}

static void
tiny_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE);

	*(int *)arg += 1;
	bufferevent_setcb(bev, tiny_read, NULL, tiny_event, arg);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(bev), "220 tiny\r\n");
}

struct acq {
	bool done;
	struct upstream *u;
	struct upstream_reply r;
};

static void
acq_cb(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	struct acq *a = arg;

	a->done = true;
	a->u = u;
	a->r = *r;
}

static void
test_relay_through_mx(void **state)
{
	char fwd[64], relay[64], err[256] = "";
	struct policy_relay cfg = { .resolver = fwd, .connect_timeout = 2,
	    .reply_timeout = 2, .data_timeout = 2, .idle_time = 1,
	    .per_hop_connections = 2 };
	struct relay_client *rc;
	struct evconnlistener *l;
	struct acq a = { 0 };
	int open = 0;

	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", dns_port);
	rc = relay_client_new(base, &cfg, "cutover.test", err, sizeof(err));
	if (rc == NULL)
		fail_msg("%s", err);
	evutil_make_socket_nonblocking(smtp_fd);
	l = evconnlistener_new(base, tiny_accept, &open, LEV_OPT_CLOSE_ON_FREE,
	    -1, smtp_fd);
	assert_non_null(l);
	snprintf(relay, sizeof(relay), "relay.example:%u", smtp_port);
	assert_non_null(upstream_acquire(rc, relay, RELAY_TLS_NONE, acq_cb, &a));
	loop_until(&a.done);
	if (a.u == NULL)
		fail_msg("acquire: %d %s %s", a.r.code, a.r.ecode, a.r.text[0]);
	snprintf(relay, sizeof(relay), "works.example[127.0.0.1]:%u", smtp_port);
	assert_string_equal(upstream_peer(a.u), relay);
	upstream_abort(a.u);
	memset(&a, 0, sizeof(a));
	assert_non_null(upstream_acquire(rc, "null.example", RELAY_TLS_NONE,
	    acq_cb, &a));
	loop_until(&a.done);
	assert_null(a.u);
	assert_int_equal(a.r.code, 451);
	assert_string_equal(a.r.ecode, "4.4.3");
	assert_true(a.r.local);
	assert_string_equal(a.r.peer, "null.example");
	relay_client_free(rc);
	evconnlistener_free(l);
	smtp_fd = -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_parse),
		cmocka_unit_test_setup_teardown(test_resolve_table, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_relay_through_mx, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_servfail, test_setup, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
