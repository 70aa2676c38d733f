/*
 * policy.h - cutover's configuration snapshot and the RCPT decision.
 *
 * policy/ decides, smtpd/ does I/O.  Everything here is a pure function over
 * plain values: no sockets, no libevent, no logging.  A `struct policy` is
 * built once by policy_load(), never changed afterwards, and shared by
 * reference count: a reload builds a new snapshot and swaps it in, while
 * sessions that started under the old one keep their reference.
 *
 * Public functions:
 *   policy_load()        parse + validate a config file (file:line errors)
 *   policy_ref/unref()   reference counting of a snapshot
 *   policy_domain_find() domain lookup (case-insensitive, IDN A/U-label)
 *   policy_decide()      the RCPT decision (see decide.c)
 */
#ifndef CUTOVER_POLICY_H
#define CUTOVER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "limits_default.h"

enum domain_state {
	DOMAIN_LIMBO = 0,
	DOMAIN_LIVE,
	DOMAIN_HOLD,
};

enum defer_at {
	DEFER_AT_RCPT = 0,
	DEFER_AT_DATA,
};

/* Upstream TLS for a live domain's relay (Postfix smtp_tls_security_level). */
enum relay_tls {
	RELAY_TLS_NONE = 0,       /* never STARTTLS */
	RELAY_TLS_MAY,            /* STARTTLS when offered, no checks (default) */
	RELAY_TLS_ENCRYPT,        /* STARTTLS required, no certificate checks */
	RELAY_TLS_VERIFY,         /* STARTTLS required, chain + name verified */
};

struct addrmap;
struct policy_overrides;

struct policy_domain {
	char *name;               /* lowercase A-label, no trailing dot */
	char *name_utf8;          /* U-label form as configured, for logs */
	enum domain_state state;
	enum defer_at defer_at;
	char *defer_reply;        /* validated: "4xy 4.x.y text" */
	unsigned config_line;
	/* relaying (state = live, or a recipient override to live) */
	char *relay;              /* "[host]:port" (no MX lookup), "host" or
	                             "host:port" (MX lookup, port 25 default);
	                             NULL when the domain never relays */
	enum relay_tls relay_tls;
	char *recipient_map_path; /* NULL = none */
	char *sender_map_path;
	struct addrmap *recipient_map;   /* loaded at (re)load; NULL = none */
	struct addrmap *sender_map;
	struct policy_overrides *overrides; /* recipient "a@x" { state = ... } */
};

struct policy_limits {
	size_t max_connections;   /* total sessions; 421 4.7.0 at accept */
	size_t per_ip;            /* sessions per client IP; 421 4.7.0 */
	size_t max_recipients;    /* per transaction; 452 4.5.3 */
	size_t max_message_size;  /* octets; SIZE= and 552 5.3.4 */
	size_t max_line_length;   /* command line incl. CRLF; 500 5.5.2 */
	size_t max_errors;        /* client errors before 421 4.7.0 */
	unsigned command_timeout; /* seconds idle between commands; 421 4.4.2 */
	unsigned data_timeout;    /* seconds idle inside DATA; 421 4.4.2 */
	int backlog;              /* listen(2) backlog */
};

/* The relay client (issue 3): `relay { }` section, all optional. */
struct policy_relay {
	char *resolver;           /* NULL = /etc/resolv.conf; else "IP" or
	                             "IP@port" (IPv6 allowed), e.g. "127.0.0.1@5353" */
	char *ca_file;            /* NULL = system store, for relay_tls = verify */
	char *spill_dir;          /* where messages over spill_threshold go
	                             (unlinked temp files); default "/var/tmp" */
	size_t spill_threshold;   /* octets kept in RAM per message, default 262144 */
	unsigned connect_timeout; /* seconds, default 30 */
	unsigned reply_timeout;   /* seconds per upstream reply, default 300 */
	unsigned data_timeout;    /* seconds for the reply to the dot, default 600 */
	unsigned idle_time;       /* seconds an idle upstream session is kept, default 10 */
	size_t per_hop_connections; /* upstream sessions per next hop, default 50 */
};

/* Sender authentication of relayed mail (issue 4): `auth { }` section, all
 * optional.  SPF/DKIM/DMARC run on a worker pool (smtpd/auth_pool.h). */
struct policy_auth {
	bool enabled;             /* default true */
	char *authserv_id;        /* A-R authserv-id; default: hostname */
	char *resolver;           /* NULL = /etc/resolv.conf; "IP" or "IP@port";
	                             default: relay.resolver */
	unsigned workers;         /* threads, 1..64, default 4 */
	unsigned timeout;         /* seconds for the whole check, default 20 */
	unsigned dns_timeout;     /* seconds per DNS lookup, default 5 */
};

struct policy {
	unsigned refs;
	char *path;               /* the file it was loaded from */
	char *hostname;
	char **listen;            /* "127.0.0.1:2525", "[::1]:2525" */
	size_t nlisten;
	char *attempt_log;        /* NULL or "" = no file (stderr is not used) */
	char *user;               /* NULL = do not drop privileges */
	char *tls_cert;           /* NULL = no STARTTLS */
	char *tls_key;
	char *default_defer_reply;
	struct policy_limits limits;
	struct policy_relay relay;
	struct policy_auth auth;
	struct domain_table *domains;
};

/*
 * Load and validate the configuration in `path`.  On success returns 0 and
 * sets *out (refs = 1).  On failure returns -1 and writes one line
 * "FILE:LINE: what is wrong" (or "FILE: what is wrong" when no line applies)
 * into err; *out is untouched.
 */
int policy_load(const char *path, struct policy **out, char *err, size_t errlen);
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);

/* Domain lookup: `domain` may be any case, A-label or U-label (UTF-8), with
 * or without one trailing dot.  NULL when not configured. */
const struct policy_domain *policy_domain_find(const struct policy *p,
    const char *domain, size_t len);
size_t policy_domain_count(const struct policy *p);
const char *domain_state_name(enum domain_state s);

enum decision {
	DECISION_DEFER = 0,     /* limbo, defer_at = rcpt: reply is the 4xx */
	DECISION_DEFER_DATA,    /* limbo, defer_at = data: 250 now, 4xx after the dot */
	DECISION_DENY,          /* not ours / not acceptable: reply is 5xx */
	DECISION_LIVE,          /* relay: forward to `relay` as `rcpt` */
	DECISION_HOLD,          /* spool (later); until then the reply is a 4xx */
};

struct policy_decision {
	enum decision decision;
	const struct policy_domain *domain;   /* NULL when not configured */
	char reply[512];                      /* full reply line, no CRLF */
	char later[512];                      /* DEFER_DATA: the domain's 4xx (with
	                                         %d expanded) to give after the
	                                         message; "" otherwise */
	/* DECISION_LIVE only: where and as what the recipient goes upstream */
	enum domain_state state;              /* the effective state (override
	                                         applied); LIMBO when domain NULL */
	bool overridden;                      /* a recipient override decided */
	bool rewritten;                       /* recipient_map changed it */
	struct address rcpt;                  /* after recipient_map */
};

/*
 * The RCPT decision for one parsed recipient path.  Pure: same inputs, same
 * output.  Never accepts an address whose final destination is not a
 * configured domain, nor one carrying sender-specified routing (% ! or a
 * quoted @ in the local part).
 */
void policy_decide(const struct policy *p, const struct address *rcpt,
    struct policy_decision *out);
const char *decision_name(enum decision d);

#endif
