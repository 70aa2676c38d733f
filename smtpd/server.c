/*
 * server.c - process-wide state changes: applying a configuration snapshot
 * (start and reload), operational notices, and the end of a graceful stop.
 *
 * A reload is all or nothing: the new snapshot is fully parsed by
 * policy_load() before we get here, and anything that can still fail with
 * it (the TLS files, a new attempt-log path) is prepared before the swap,
 * so on any error the running configuration stays untouched.  Listen
 * addresses and `user` are bound at start; a change to them is reported and
 * takes effect at the next restart.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "auth_pool.h"
#include "server.h"
#include "tls.h"
#include "upstream.h"

void
server_notice(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cutoverd: %s\n", buf);
}

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static bool
listen_differs(const struct policy *a, const struct policy *b)
{
	if (a->nlisten != b->nlisten)
		return true;
	for (size_t i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i], b->listen[i]) != 0)
			return true;
	return false;
}

/* Prepare the TLS context the new snapshot asks for (NULL: none). */
static int
server_tls_for(const struct policy *p, SSL_CTX **out, char *err, size_t errlen)
{
	*out = NULL;
	if (p->tls_cert == NULL)
		return 0;
	*out = tls_ctx_new(p->tls_cert, p->tls_key, err, errlen);
	return *out != NULL ? 0 : -1;
}

static void
server_set_timeouts(struct server *srv, const struct policy *p)
{
	struct timeval cmd = { (time_t)p->limits.command_timeout, 0 };
	struct timeval data = { (time_t)p->limits.data_timeout, 0 };

	/* Common timeouts keep 10,000 identical timers O(1) to re-arm. */
	srv->cmd_timeout = event_base_init_common_timeout(srv->base, &cmd);
	srv->data_timeout = event_base_init_common_timeout(srv->base, &data);
}

/* The relay client follows the `relay { }` section; on failure the old
 * one keeps running unchanged. */
static int
server_relay_for(struct server *srv, const struct policy *p, char *err,
    size_t errlen)
{
	if (srv->relay == NULL) {
		srv->relay = relay_client_new(srv->base, &p->relay, p->hostname,
		    err, errlen);
		return srv->relay != NULL ? 0 : -1;
	}
	return relay_client_configure(srv->relay, &p->relay, p->hostname, err,
	    errlen);
}

/* The check workers follow the `auth { }` section (the old keep running
 * on failure; jobs in flight finish with what they started with). */
static int
server_auth_for(struct server *srv, const struct policy *p, char *err,
    size_t errlen)
{
	if (srv->auth == NULL) {
		srv->auth = auth_pool_new(srv->base, &p->auth, err, errlen);
		return srv->auth != NULL ? 0 : -1;
	}
	return auth_pool_configure(srv->auth, &p->auth, err, errlen);
}

int
server_apply_policy(struct server *srv, struct policy *p, char *err,
    size_t errlen)
{
	struct attempt_log *newlog = NULL;
	SSL_CTX *tls;
	struct policy *old = srv->policy;

	if (server_tls_for(p, &tls, err, errlen) != 0)
		goto fail;
	if (server_relay_for(srv, p, err, errlen) != 0 ||
	    server_auth_for(srv, p, err, errlen) != 0) {
		SSL_CTX_free(tls);
		goto fail;
	}
	if (srv->log == NULL || str_differs(old->attempt_log, p->attempt_log)) {
		if (attempt_log_open(p->attempt_log, p->hostname, &newlog, err,
		    errlen) != 0) {
			SSL_CTX_free(tls);
			goto fail;
		}
		attempt_log_close(srv->log);
		srv->log = newlog;
	}
	attempt_log_set_hostname(srv->log, p->hostname);
	if (old != NULL && listen_differs(old, p))
		server_notice("%s: listen addresses changed; they take effect at "
		    "the next restart", p->path);
	SSL_CTX_free(srv->tls);
	srv->tls = tls;
	server_set_timeouts(srv, p);
	srv->policy = p;
	if (old != NULL)
		policy_unref(old);
	return 0;
fail:
	policy_unref(p);
	return -1;
}

void
server_session_gone(struct server *srv)
{
	if (srv->stopping && srv->nsessions == 0)
		event_base_loopexit(srv->base, NULL);
}
