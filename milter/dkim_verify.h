/*
 * dkim_verify.h - DKIM verification (RFC 6376, RFC 8463 ed25519-sha256,
 * RFC 8301 algorithm rules) on libopendkim, streaming, with every
 * signature of a message evaluated and key lookups through auth_dns
 * (milter/dns.h) so the resolver is configurable.
 *
 * Public functions:
 *   dkimv_lib_new/free()   one per process (or per configuration): the
 *                          shared libopendkim handle and the resolver
 *   dkimv_new()            one verifier per message
 *   dkimv_header()         each header field in message order: the whole
 *                          field, name to end of value, folding kept (CRLF
 *                          or LF), without the final line break
 *   dkimv_eoh()            end of the header
 *   dkimv_body()           body bytes in any chunking (CRLF line ends);
 *                          nothing is copied beyond libopendkim's hashing
 *   dkimv_eom()            results, one per DKIM-Signature field
 *   dkimv_free()
 *   dkimv_result_name()    RFC 8601 name of a result
 *
 * Results (RFC 8601 2.7.1 names, as enum authres_result of authres.h):
 *   none       no DKIM-Signature field at all (n == 0)
 *   pass       signature and body hash verified
 *   fail       verification failed: signature or body hash mismatch
 *   policy     cryptographically sound but not acceptable: rsa-sha1
 *              (RFC 8301 3.1: MUST NOT be considered valid) or an RSA key
 *              under 1024 bits (RFC 8301 3.2); never a pass
 *   permerror  the signature cannot be evaluated and never will: malformed
 *              field, missing tags, unknown algorithm, key record absent
 *              (NXDOMAIN/NODATA, RFC 6376 6.1.2) or malformed or revoked,
 *              expired, l= beyond the body, message without From
 *   temperror  the key lookup failed (SERVFAIL, timeout, resolver error)
 * A signature whose l= leaves part of the body unsigned can still pass,
 * with aligned_ok false: it must not count for DMARC alignment, since
 * anything appended after the signed part is unauthenticated.
 *
 * Thread safety: a struct dkimv_lib may be used by many threads at once
 * (libopendkim's library handle is, and auth_dns is); a struct
 * dkim_verifier belongs to one thread at a time.  Calls block on DNS
 * (dkimv_eoh, dkimv_eom), so never call them on an event loop.
 *
 * Calls in the wrong order, or after an error, do nothing more than
 * record it; dkimv_eom() always fills *out, with every signature found so
 * far as permerror if the message could not be processed.
 */
#ifndef CUTOVER_DKIM_VERIFY_H
#define CUTOVER_DKIM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "authres.h"

struct auth_dns;
struct dkimv_lib;
struct dkim_verifier;

#define DKIMV_MAX_SIGS 16         /* signatures reported per message */
#define DKIMV_DOMAIN_MAX 256      /* d= (a DNS name: at most 253) + NUL */
#define DKIMV_SELECTOR_MAX 128
#define DKIMV_B_MAX 16            /* header.b prefix, RFC 6008: 8+ chars */
#define DKIMV_REASON_MAX 96

enum dkimv_alg {
	DKIMV_ALG_UNKNOWN = 0,
	DKIMV_ALG_RSA_SHA256,
	DKIMV_ALG_ED25519_SHA256,
	DKIMV_ALG_RSA_SHA1,
};

struct dkim_sig_outcome {
	enum authres_result result;    /* see above; never AUTHRES_NONE */
	enum dkimv_alg alg;
	bool aligned_ok;               /* pass, and the whole body signed */
	bool body_partial;             /* l= leaves body bytes unsigned */
	char d[DKIMV_DOMAIN_MAX];      /* "" when unknown */
	char s[DKIMV_SELECTOR_MAX];
	char b[DKIMV_B_MAX];           /* first bytes of b=, FWS removed */
	char reason[DKIMV_REASON_MAX]; /* short text, e.g. "body hash mismatch" */
};

struct dkim_outcome {
	size_t n;                      /* signatures reported, <= DKIMV_MAX_SIGS */
	size_t nfound;                 /* DKIM-Signature fields seen (may be > n) */
	struct dkim_sig_outcome sig[DKIMV_MAX_SIGS];
};

/*
 * dns: used for every key lookup, not owned (must outlive the lib); NULL
 * makes every lookup a temporary failure (tests, fuzzing).  Returns NULL
 * when libopendkim cannot be set up (out of memory).
 */
struct dkimv_lib *dkimv_lib_new(struct auth_dns *dns);
void dkimv_lib_free(struct dkimv_lib *lib);

/* NULL when out of memory. */
struct dkim_verifier *dkimv_new(struct dkimv_lib *lib);
void dkimv_header(struct dkim_verifier *v, const char *field, size_t len);
void dkimv_eoh(struct dkim_verifier *v);
void dkimv_body(struct dkim_verifier *v, const char *chunk, size_t len);
void dkimv_eom(struct dkim_verifier *v, struct dkim_outcome *out);
void dkimv_free(struct dkim_verifier *v);

const char *dkimv_result_name(enum authres_result r);
const char *dkimv_alg_name(enum dkimv_alg a);

/* The overall verdict: best of the signatures (pass > fail/policy/... ),
 * none when there is none; for a one-word summary in logs. */
enum authres_result dkimv_summary(const struct dkim_outcome *out);

#endif
