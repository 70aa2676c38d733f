/*
 * auth.h - the one facade of the authentication library: SPF (RFC 7208),
 * DKIM (RFC 6376/8463), DMARC (RFC 7489) and the Authentication-Results
 * value (RFC 8601) for one message at a time.  Used by cutover-milter and
 * cutoverd alike, so both stamp the same verdicts.
 *
 * Public functions:
 *   auth_ctx_new/free()     resolver, SPF checker, DKIM library, authserv-id
 *   auth_ctx_authserv_id()
 *   auth_msg_new()          one message: client IP, HELO, MAIL FROM
 *   auth_msg_header()       each header field, in order; says whether it is
 *                           an Authentication-Results claiming our
 *                           authserv-id (a forgery the caller removes)
 *   auth_msg_eoh()          end of header
 *   auth_msg_body()         body bytes, any chunking, CRLF line ends
 *   auth_msg_finish()       run SPF, finish DKIM, evaluate DMARC, format A-R
 *   auth_msg_free()
 *
 * Blocking: auth_msg_new/header/body never touch DNS; auth_msg_eoh (DKIM
 * keys) and auth_msg_finish (SPF, DKIM, DMARC) do, so cutoverd calls them
 * on worker threads, the milter on libmilter's threads.
 * Thread safety: a struct auth_ctx is read-only after auth_ctx_new() and
 * shared by any number of threads; a struct auth_msg belongs to one thread
 * at a time.
 * Never crashes or hangs on what a message holds: anything unparsable
 * ends up as a permerror verdict (bounded buffers, DNS with a timeout).
 */
#ifndef CUTOVER_AUTH_H
#define CUTOVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "authres.h"
#include "dkim_verify.h"
#include "dmarc.h"

#define AUTH_AR_MAX 4096              /* the A-R value, NUL included */
#define AUTH_FROM_MAX 65536           /* octets of From fields kept */
#define AUTH_ADDR_MAX 512             /* MAIL FROM / HELO kept */

struct auth_config {
	const char *authserv_id;          /* required: our A-R authserv-id */
	const char *resolver;             /* NULL = /etc/resolv.conf; "IP[@port]" */
	unsigned dns_timeout_ms;          /* per lookup; 0 = 5000 */
	/* pct sampling draw in 0..99; NULL = random.  Tests fix it. */
	unsigned (*sample)(void *arg);
	void *sample_arg;
};

enum auth_header_kind {
	AUTH_HEADER_KEEP = 0,
	AUTH_HEADER_FORGED,               /* A-R with our authserv-id: remove */
};

struct auth_verdicts {
	enum authres_result spf;
	bool spf_helo;                    /* identity was HELO (null sender) */
	char spf_domain[DMARC_DOMAIN_MAX];
	struct dkim_outcome dkim;
	enum authres_result dkim_summary;
	enum from_domain_error from_error;
	char from_domain[DMARC_DOMAIN_MAX];
	struct dmarc_verdict dmarc;
	char dmarc_policy_domain[DMARC_DOMAIN_MAX];
	char authres[AUTH_AR_MAX];        /* value, folded with CRLF TAB */
};

struct auth_ctx;
struct auth_msg;

/* NULL with one line in err (bad resolver, out of memory, ...). */
struct auth_ctx *auth_ctx_new(const struct auth_config *cfg, char *err,
    size_t errlen);
void auth_ctx_free(struct auth_ctx *ctx);
const char *auth_ctx_authserv_id(const struct auth_ctx *ctx);

/* client_ip: numeric; helo may be NULL; mailfrom: "<a@b>", "a@b", "<>" or
 * "" (the null sender).  NULL only when out of memory. */
struct auth_msg *auth_msg_new(struct auth_ctx *ctx, const char *client_ip,
    const char *helo, const char *mailfrom);

/* field: the whole header field "Name: value", folding kept (CRLF or LF),
 * no final line break, len octets (no NUL needed). */
enum auth_header_kind auth_msg_header(struct auth_msg *m, const char *field,
    size_t len);
void auth_msg_eoh(struct auth_msg *m);
void auth_msg_body(struct auth_msg *m, const char *chunk, size_t len);

/* Always fills *out completely (out is large: keep it off small stacks). */
void auth_msg_finish(struct auth_msg *m, struct auth_verdicts *out);
void auth_msg_free(struct auth_msg *m);

#endif
