/*
 * server.h - cutoverd's process-wide state: the event base, the current
 * configuration snapshot, the attempt log, the TLS context, the listeners
 * and the set of live sessions.
 *
 * There is exactly one `struct server`, owned by main.c.  Sessions point at
 * it; nothing else is global.  The configuration is swapped whole on reload
 * (server_reload()); a session keeps the snapshot it started with.
 */
#ifndef CUTOVER_SERVER_H
#define CUTOVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <openssl/ssl.h>
#include <event2/event.h>

#include "policy.h"
#include "attempt_log.h"

struct session;
struct listener_set;
struct ipcount;
struct relay_client;
struct auth_pool;

TAILQ_HEAD(session_list, session);

struct server {
	struct event_base *base;
	struct policy *policy;              /* current snapshot (one ref held) */
	struct attempt_log *log;
	SSL_CTX *tls;                       /* NULL: no STARTTLS */
	struct listener_set *listeners;
	struct ipcount *ipcount;
	struct relay_client *relay;         /* upstream sessions (live domains) */
	struct auth_pool *auth;             /* SPF/DKIM/DMARC workers */
	struct session_list sessions;
	size_t nsessions;
	uint64_t sid_base;                  /* random per process */
	uint64_t sid_next;
	bool stopping;
	const struct timeval *cmd_timeout;  /* libevent common timeouts */
	const struct timeval *data_timeout;
	unsigned cmd_timeout_s, data_timeout_s;
	struct event *stop_timer;
};

/* Log one operational line to stderr: "cutoverd: <text>". */
void server_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Apply a freshly loaded snapshot (takes over the caller's reference).
 * Returns 0, or -1 with err filled and the old configuration untouched. */
int server_apply_policy(struct server *srv, struct policy *p, char *err,
    size_t errlen);

/* A session ended; called by session_free(). */
void server_session_gone(struct server *srv);

#endif
