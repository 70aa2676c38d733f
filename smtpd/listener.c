/*
 * listener.c - accept connections and apply the connection limits.
 *
 * Limits are checked at accept, before any session exists: past
 * max_connections or the client's per_ip share the client gets one
 * "421 4.7.0" line written straight to the new socket (non-blocking,
 * best effort) and the socket is closed; a `refused` line is logged.
 *
 * When accept(2) fails for lack of descriptors or memory, every listener is
 * disabled for a moment instead of spinning on the error (OpenSMTPD
 * smtp_pause); pending connections wait in the kernel backlog, which is why
 * the backlog is large by default.  IPv6 sockets are bound IPV6_V6ONLY so
 * that "0.0.0.0:25" and "[::]:25" can both be listed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "ipcount.h"
#include "listener.h"
#include "server.h"
#include "session.h"

#define ACCEPT_PAUSE_MS 200

struct listener_set {
	struct server *srv;
	struct event *resume;
	size_t n;
	struct evconnlistener *l[];
};

static void
listener_refuse(struct server *srv, int fd, const char *ip, uint16_t port,
    const char *limit, const char *reply)
{
	struct jline j;
	char line[256], sid[17];
	int n;
	uint64_t id = srv->sid_base + srv->sid_next++;

	for (int i = 15; i >= 0; i--, id >>= 4)
		sid[i] = "0123456789abcdef"[id & 0xf];
	sid[16] = '\0';
	n = snprintf(line, sizeof(line), "%s\r\n", reply);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	attempt_log_begin(srv->log, &j, sid, "refused");
	jline_cstr(&j, "ip", ip);
	jline_int(&j, "port", port);
	jline_cstr(&j, "limit", limit);
	jline_cstr(&j, "reply", reply);
	attempt_log_write(srv->log, &j);
}

static void
listener_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server *srv = arg;
	const struct policy_limits *lim = &srv->policy->limits;
	char ip[46], reply[256];
	uint16_t port;

	(void)l;
	if (srv->stopping) {
		close(fd);
		return;
	}
	session_peer_text(sa, ip, &port);
	if (srv->nsessions >= lim->max_connections) {
		snprintf(reply, sizeof(reply),
		    "421 4.7.0 %s Error: too many connections",
		    srv->policy->hostname);
		listener_refuse(srv, fd, ip, port, "max_connections", reply);
		return;
	}
	if (ipcount_get(srv->ipcount, ip) >= lim->per_ip) {
		snprintf(reply, sizeof(reply),
		    "421 4.7.0 %s Error: too many connections from %s",
		    srv->policy->hostname, ip);
		listener_refuse(srv, fd, ip, port, "per_ip", reply);
		return;
	}
	session_start(srv, fd, sa, (socklen_t)salen);
}

static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener_set *ls = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < ls->n; i++)
		evconnlistener_enable(ls->l[i]);
}

static void
listener_error(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;               /* libevent passes the cb arg */
	struct listener_set *ls = srv->listeners;
	static const struct timeval pause = { 0, ACCEPT_PAUSE_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	(void)l;
	if (ls == NULL)
		return;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		server_notice("accept: %s", evutil_socket_error_to_string(err));
		return;
	}
	server_notice("accept: %s: pausing new connections for %d ms "
	    "(%zu sessions open)", evutil_socket_error_to_string(err),
	    ACCEPT_PAUSE_MS, ls->srv->nsessions);
	for (size_t i = 0; i < ls->n; i++)
		evconnlistener_disable(ls->l[i]);
	evtimer_add(ls->resume, &pause);
}

static struct evconnlistener *
listener_bind(struct listener_set *ls, const char *addr, int backlog,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE;
	struct evconnlistener *l;

	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(err, errlen, "listen %s: not an address:port", addr);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= LEV_OPT_BIND_IPV6ONLY;
	l = evconnlistener_new_bind(ls->srv->base, listener_accept, ls->srv,
	    flags, backlog, (struct sockaddr *)&ss, sslen);
	if (l == NULL) {
		snprintf(err, errlen, "listen %s: %s", addr, strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(l, listener_error);
	return l;
}

struct listener_set *
listener_set_open(struct server *srv, char *const *addrs, size_t naddrs,
    int backlog, char *err, size_t errlen)
{
	struct listener_set *ls;

	ls = calloc(1, sizeof(*ls) + naddrs * sizeof(ls->l[0]));
	if (ls == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->srv = srv;
	ls->resume = evtimer_new(srv->base, listener_resume, ls);
	for (size_t i = 0; i < naddrs; i++) {
		ls->l[i] = listener_bind(ls, addrs[i], backlog, err, errlen);
		if (ls->l[i] == NULL) {
			listener_set_close(ls);
			return NULL;
		}
		ls->n++;
	}
	return ls;
}

void
listener_set_close(struct listener_set *ls)
{
	if (ls == NULL)
		return;
	for (size_t i = 0; i < ls->n; i++)
		evconnlistener_free(ls->l[i]);
	if (ls->resume != NULL)
		event_free(ls->resume);
	free(ls);
}
