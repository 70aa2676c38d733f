/*
 * dmarc.h - DMARC evaluation (RFC 7489): policy discovery, identifier
 * alignment, result, applicable policy, pct sampling and disposition.
 *
 * Public functions:
 *   dmarc_discover()   policy discovery (6.6.3) through a TXT lookup hook
 *   dmarc_evaluate()   alignment + result + disposition, pure
 *   dmarc_result_name(), dmarc_disposition_name()
 *
 * Split in two so that the evaluation is a pure function over given SPF,
 * DKIM and record inputs (unit-tested table-driven), and discovery takes
 * its DNS through a hook (struct dmarc_dns) the caller wires to auth_dns
 * (milter/auth.c) or a test table.  Nothing here keeps state between
 * calls: thread-safe when the hook is.
 *
 * Decisions:
 *   - From-domain errors (0 or >1 From, >1 mailbox, ...) are decided by the
 *     caller with from_domain_extract() and given as from_error: permerror,
 *     never pass.
 *   - Records are the TXT strings dmarc_record_parse() does not call
 *     ERR_VERSION; several such records at a name end discovery with
 *     result none (6.6.3 step 5), no fallback to the org domain.
 *   - A record that starts "v=DMARC1" but is unusable (duplicate tag, no
 *     valid p and no rua) is permerror (RFC 7489 11.2 "syntactically
 *     incorrect DMARC record").
 *   - DNS failure at either name is temperror; NXDOMAIN and NODATA are
 *     "no record".
 *   - SPF aligns only on pass, with the SPF-checked domain (MAIL FROM, or
 *     HELO for the null sender: 3.1.2); DKIM only on a passing signature
 *     whose l= left nothing unsigned (aligned_ok).
 *   - policy: sp when the record came from the organizational domain and
 *     the From domain is a subdomain of it, else p (6.6.3, 6.3 "sp").
 *     np (RFC 9091) is not applied: it needs an NXDOMAIN probe we do not do.
 *   - pct: a message outside the sample gets the next weaker disposition
 *     (reject -> quarantine, quarantine -> none; 6.6.4).  The sample draw
 *     is the caller's number in 0..99 so tests are deterministic.
 */
#ifndef CUTOVER_DMARC_H
#define CUTOVER_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "dmarc_record.h"
#include "dns.h"
#include "from_domain.h"

#define DMARC_DOMAIN_MAX 254          /* FROM_DOMAIN_MAX + NUL */

enum dmarc_result {
	DMARC_RESULT_NONE = 0,            /* no (usable) policy published */
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,
};

enum dmarc_disposition {
	DMARC_DISP_NONE = 0,
	DMARC_DISP_QUARANTINE,
	DMARC_DISP_REJECT,
};

/* TXT lookup hook: fills *out (freed by txt_free) and returns its status. */
struct dmarc_dns {
	enum auth_dns_status (*txt)(void *arg, const char *name,
	    struct auth_dns_txt *out);
	void (*txt_free)(void *arg, struct auth_dns_txt *t);
	void *arg;
};

enum dmarc_found_status {
	DMARC_FOUND_NONE = 0,             /* no record at either name */
	DMARC_FOUND_RECORD,               /* rec is usable */
	DMARC_FOUND_MULTIPLE,             /* several records: result none */
	DMARC_FOUND_INVALID,              /* "v=DMARC1" but unusable: permerror */
	DMARC_FOUND_TEMPFAIL,             /* DNS failure: temperror */
	DMARC_FOUND_BAD_DOMAIN,           /* no org domain for the From domain */
};

/* What discovery found, input to dmarc_evaluate(). */
struct dmarc_found {
	enum dmarc_found_status status;
	struct dmarc_record rec;          /* valid when status is RECORD */
	enum dmarc_record_status rec_status;
	char domain[DMARC_DOMAIN_MAX];    /* where it was found (or looked last) */
	bool at_org;                      /* found at the org domain, not From's */
};

/*
 * Policy discovery for from_domain (NUL-terminated, lowercase): TXT at
 * "_dmarc.<from>", then, when that gave no DMARC record and the org domain
 * differs, at "_dmarc.<org>".  *out is always set.
 */
void dmarc_discover(const struct dmarc_dns *dns, const char *from_domain,
    struct dmarc_found *out);

/* One DKIM signature as DMARC sees it. */
struct dmarc_dkim_sig {
	const char *d;                    /* signing domain (d=), NUL-terminated */
	bool pass;                        /* the signature verified */
	bool aligned_ok;                  /* false when l= left body unsigned */
};

struct dmarc_input {
	enum from_domain_error from_error;  /* FROM_DOMAIN_OK or why not */
	const char *from_domain;          /* valid when from_error is OK */
	bool spf_pass;
	const char *spf_domain;           /* SPF-checked domain, NULL = none */
	const struct dmarc_dkim_sig *sigs;
	size_t nsigs;
	unsigned sample;                  /* 0..99: in the pct sample if < pct */
};

struct dmarc_verdict {
	enum dmarc_result result;
	enum dmarc_policy policy;         /* applicable p/sp; UNSET when none */
	enum dmarc_disposition disposition;
	bool spf_aligned;
	bool dkim_aligned;
	bool sampled_out;                 /* pct kept the policy from applying */
	const char *reason;               /* static text, never NULL */
	size_t dkim_sig;                  /* index of the aligned signature */
};

/* Pure: the verdict for in with what discovery found (found may be NULL
 * when in->from_error is not OK).  *out is always set. */
void dmarc_evaluate(const struct dmarc_input *in,
    const struct dmarc_found *found, struct dmarc_verdict *out);

const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_disposition_name(enum dmarc_disposition d);

#endif
