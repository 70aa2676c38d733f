/*
 * session_relay.h - the state of a transaction with live recipients.
 * PRIVATE to smtpd/session_relay*.c; sessions only hold the pointer, so a
 * limbo session pays nothing for relaying.
 */
#ifndef CUTOVER_SESSION_RELAY_H
#define CUTOVER_SESSION_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "data_reader.h"
#include "policy.h"
#include "upstream.h"

#define RELAY_ADDR_MAX   (ADDRESS_PATH_MAX * 4 + 8)
#define RELAY_REWRITES   8        /* header rewrites kept for the log */

struct session;
struct msgstore;
struct auth_job;

#define RELAY_FORGED_MAX 16       /* A-R fields with our id, removed */

struct relay_rewrite {
	const char *field;        /* "from", "sender", "reply-to" */
	char old[RELAY_ADDR_MAX];
	char new[RELAY_ADDR_MAX];
};

struct relay_txn {
	struct session *s;
	/* the next hop, fixed by the first live RCPT (owned by s->policy) */
	const char *hop;
	enum relay_tls tls;
	const struct addrmap *sender_map;
	struct upstream *up;
	struct upstream_req *req;
	bool busy;                /* an upstream operation is outstanding */
	bool mail_done;           /* MAIL accepted upstream */
	bool sender_rewritten;
	char *fail;               /* reply for every further live RCPT */
	unsigned accepted;        /* live RCPTs the upstream accepted */
	char peer[300];
	char mail_from[RELAY_ADDR_MAX];  /* as sent upstream */
	/* the RCPT being forwarded */
	struct policy_decision d;
	char rcpt[RELAY_ADDR_MAX];       /* as the client sent it */
	char sent[RELAY_ADDR_MAX];       /* after recipient_map */
	char rcpt_params[513];
	/* the message */
	struct msgstore *msg;
	bool store_failed;
	struct data_reader_result result;
	char *prefix;             /* Received + rewritten header section */
	size_t prefixlen;
	size_t body_off;          /* where the rest starts in msg */
	size_t pos;               /* octets handed to the upstream so far */
	struct upstream_body body;
	struct relay_rewrite rewrites[RELAY_REWRITES];
	size_t nrewrites;
	/* authentication checks (auth_pool.c), run before relaying */
	struct auth_job *job;
	char *head;               /* the header section, read back from msg */
	size_t hdr_end;           /* its length = where the body starts */
	char *authres;            /* "Authentication-Results: ...\r\n" or NULL */
	const char *auth_error;   /* why there is no verdict (static), or NULL */
	char spf[16], dkim[16], dmarc[16];
	size_t nforged;
	struct { size_t off, len; } forged[RELAY_FORGED_MAX];
};

#endif
