/*
 * session.h - one SMTP server session (RFC 5321 section 4), from accept to
 * close: its bufferevent, its state machine and its counters.
 *
 * Public functions:
 *   session_start()      create and greet a session on an accepted socket
 *   session_attach()     the same on any bufferevent (the session fuzzer)
 *   session_shutdown()   421 and close (SIGTERM)
 * Command handling lives in session_cmds.c (a command table); I/O, timeouts,
 * line framing, DATA and the one-and-only free live in session.c.
 *
 * Invariants: every reply goes through session_reply(); a session is freed
 * only by session_free(), never inside libevent's own call stack for
 * another bufferevent; per-connection memory stays small (a few hundred
 * bytes plus libevent's) so that 10,000 idle sessions cost little.
 */
#ifndef CUTOVER_SESSION_H
#define CUTOVER_SESSION_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "server.h"
#include "smtp_cmd.h"

enum session_phase {
	PHASE_GREETING = 0,    /* waiting for HELO/EHLO */
	PHASE_READY,           /* HELO done, no transaction */
	PHASE_MAIL,            /* MAIL accepted */
	PHASE_DATA,            /* reading message content */
	PHASE_STARTTLS,        /* 220 sent, handshake pending */
	PHASE_CLOSING,         /* last reply queued, closing after flush */
};

enum session_flag {
	SF_EHLO      = 1 << 0,
	SF_TLS       = 1 << 1,
	SF_SMTPUTF8  = 1 << 2,  /* MAIL had SMTPUTF8 */
	SF_DISCARD   = 1 << 3,  /* discarding an over-long command line */
	SF_TOO_BIG   = 1 << 4,  /* MAIL SIZE= / data over the limit */
	SF_WAIT      = 1 << 5,  /* waiting for the upstream: input stays queued */
	SF_8BITMIME  = 1 << 6,  /* MAIL had BODY=8BITMIME */
};

struct relay_txn;
struct jline;
struct rcpt_args;
struct policy_decision;
struct data_reader_result;

struct rcpt_entry {
	struct rcpt_entry *next;
	char addr[];             /* "local@domain" */
};

struct session {
	TAILQ_ENTRY(session) entry;
	struct server *srv;
	struct policy *policy;        /* the snapshot this session runs under */
	struct bufferevent *bev;
	struct data_reader *data;     /* only while PHASE_DATA */
	uint64_t sid;
	uint64_t started_ms;
	enum session_phase phase;
	unsigned flags;
	const char *close_reason;
	/* the client, printable */
	char ip[46];
	uint16_t port;
	char lip[46];
	uint16_t lport;
	/* transaction and session strings, heap, NULL when unset */
	char *helo;
	char *mail_from;
	char *mail_params;
	char *tls_version;
	char *tls_cipher;
	char *data_reply;              /* the 4xx after DATA (defer_at=data) */
	size_t mail_size;              /* MAIL SIZE=, 0 when none */
	struct rcpt_entry *rcpts;      /* accepted recipients (defer_at=data,
	                                  or relayed) */
	struct relay_txn *relay;       /* live recipients of this transaction
	                                  (session_relay.c), NULL when none */
	size_t discarded;              /* bytes of the over-long line so far */
	/* counters */
	unsigned txn_rcpts;            /* RCPT commands in this transaction */
	unsigned txn_accepted;
	unsigned commands, transactions, nrcpts, deferred, denied, errors;
};

void session_start(struct server *srv, int fd, const struct sockaddr *peer,
    socklen_t peerlen);
struct session *session_attach(struct server *srv, struct bufferevent *bev,
    const struct sockaddr *peer, const struct sockaddr *local);
void session_shutdown(struct session *s);
void session_free_all(struct server *srv);
/* Printable client address as used for logging and per-IP counting. */
void session_peer_text(const struct sockaddr *sa, char ip[46], uint16_t *port);

/* Used by session_cmds.c */
void session_reply(struct session *s, const char *line);
void session_replyf(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A client error: reply, count, and past max_errors, 421 and close. */
void session_error(struct session *s, const char *line);
void session_close_after_reply(struct session *s, const char *line,
    const char *reason);
void session_txn_reset(struct session *s);
int session_data_begin(struct session *s);
int session_tls_begin(struct session *s);
void session_log_limit(struct session *s, const char *limit, const char *reply);
void session_log_common(struct session *s, struct jline *j);
char *session_sid_str(const struct session *s, char buf[17]);

/* Stop processing input until session_resume() (an upstream reply is
 * awaited); the client's timeouts are suspended meanwhile, the upstream's
 * own timeouts bound the wait. */
void session_wait(struct session *s);
void session_resume(struct session *s);

/* session_cmds.c */
void session_command(struct session *s, const char *line, size_t len);
void session_data_done(struct session *s);
void session_rcpt_remember(struct session *s, const char *addr, size_t len,
    const char *later);
/* Log lines: everything but "reply" (the caller adds what it knows, then
 * jline_cstr(j, "reply", ...) and attempt_log_write()). */
void session_rcpt_log_open(struct session *s, struct jline *j,
    const char *rcpt, size_t rcptlen, const struct rcpt_args *ra,
    const struct policy_decision *d, const char *decision);
void session_data_log_open(struct session *s, struct jline *j,
    const struct data_reader_result *r);

/* session_relay.c: live recipients, proxied to the next hop */
void relay_rcpt(struct session *s, const struct rcpt_args *ra,
    const struct policy_decision *d);
bool relay_txn_active(const struct session *s);   /* a live RCPT accepted */
/* NULL, or the reply to DATA when the message cannot go upstream. */
const char *relay_data_begin(struct session *s);
void relay_data_done(struct session *s, const struct data_reader_result *r);
void relay_txn_end(struct session *s);    /* release or abort the upstream */

#endif
