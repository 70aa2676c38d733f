/*
 * dmarc.c - DMARC evaluation (RFC 7489 3.1, 6.3, 6.6.2-6.6.4, 11.2).
 *
 * Public functions: dmarc_discover(), dmarc_evaluate(), dmarc_result_name(),
 * dmarc_disposition_name().  See dmarc.h for the decisions taken.
 *
 * Invariants: no state outside the caller's structs; every name built
 * with snprintf is checked for truncation (a name that does not fit is
 * not a DNS name: BAD_DOMAIN); records are parsed straight from the
 * lookup's buffers, which are freed before return (rua/ruf spans are not
 * used after that).
 */
#include <stdio.h>
#include <string.h>

#include "dmarc.h"
#include "orgdomain.h"

/* ---- discovery -------------------------------------------------------- */

enum pick {
	PICK_NONE = 0,
	PICK_ONE,
	PICK_MULTIPLE,
	PICK_INVALID,
	PICK_TEMPFAIL,
};

/* The DMARC records among the TXT records of "_dmarc.<domain>". */
static enum pick
lookup_at(const struct dmarc_dns *dns, const char *domain,
    struct dmarc_found *out)
{
	struct auth_dns_txt t = { 0 };
	struct dmarc_record rec;
	enum dmarc_record_status st, keep_st = DMARC_RECORD_ERR_VERSION;
	enum auth_dns_status ds;
	char name[DMARC_DOMAIN_MAX + 8];
	size_t i, found = 0;
	int n;

	n = snprintf(name, sizeof name, "_dmarc.%s", domain);
	if (n < 0 || (size_t)n >= sizeof name)
		return PICK_NONE;
	ds = dns->txt(dns->arg, name, &t);
	if (ds == AUTH_DNS_TEMPFAIL) {
		dns->txt_free(dns->arg, &t);
		return PICK_TEMPFAIL;
	}
	for (i = 0; ds == AUTH_DNS_OK && i < t.n; i++) {
		st = dmarc_record_parse(t.rec[i], t.len[i], &rec);
		if (st == DMARC_RECORD_ERR_VERSION)
			continue;
		if (found++ == 0) {
			out->rec = rec;
			keep_st = st;
		}
	}
	dns->txt_free(dns->arg, &t);
	out->rec.rua.len = out->rec.ruf.len = 0;   /* spans into freed text */
	out->rec_status = keep_st;
	if (found == 0)
		return PICK_NONE;
	if (found > 1)
		return PICK_MULTIPLE;
	return keep_st == DMARC_RECORD_OK || keep_st == DMARC_RECORD_OK_AS_NONE ?
	    PICK_ONE : PICK_INVALID;
}

static void
set_found(struct dmarc_found *out, enum pick p, const char *domain,
    bool at_org)
{
	static const enum dmarc_found_status map[] = {
		[PICK_NONE] = DMARC_FOUND_NONE,
		[PICK_ONE] = DMARC_FOUND_RECORD,
		[PICK_MULTIPLE] = DMARC_FOUND_MULTIPLE,
		[PICK_INVALID] = DMARC_FOUND_INVALID,
		[PICK_TEMPFAIL] = DMARC_FOUND_TEMPFAIL,
	};
	int n;

	out->status = map[p];
	out->at_org = at_org;
	n = snprintf(out->domain, sizeof out->domain, "%s", domain);
	if (n < 0 || (size_t)n >= sizeof out->domain)
		out->domain[0] = '\0';
}

void
dmarc_discover(const struct dmarc_dns *dns, const char *from_domain,
    struct dmarc_found *out)
{
	char org[DMARC_DOMAIN_MAX];
	size_t len = strnlen(from_domain, DMARC_DOMAIN_MAX);
	enum pick p;

	memset(out, 0, sizeof *out);
	out->rec_status = DMARC_RECORD_ERR_VERSION;
	if (len == 0 || len >= DMARC_DOMAIN_MAX ||
	    orgdomain_get(from_domain, len, org, sizeof org) < 0) {
		out->status = DMARC_FOUND_BAD_DOMAIN;
		return;
	}
	p = lookup_at(dns, from_domain, out);
	if (p != PICK_NONE || strcmp(org, from_domain) == 0) {
		set_found(out, p, from_domain, false);
		return;
	}
	p = lookup_at(dns, org, out);
	set_found(out, p, org, true);
}

/* ---- evaluation ------------------------------------------------------- */

static void
align(const struct dmarc_input *in, const struct dmarc_record *rec,
    struct dmarc_verdict *out)
{
	size_t i;

	out->spf_aligned = in->spf_pass && in->spf_domain != NULL &&
	    dmarc_aligned(in->spf_domain, in->from_domain, rec->aspf);
	for (i = 0; i < in->nsigs; i++) {
		const struct dmarc_dkim_sig *s = &in->sigs[i];

		if (s->pass && s->aligned_ok && s->d != NULL &&
		    dmarc_aligned(s->d, in->from_domain, rec->adkim)) {
			out->dkim_aligned = true;
			out->dkim_sig = i;
			return;
		}
	}
}

static enum dmarc_disposition
disposition_of(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_REJECT:
		return DMARC_DISP_REJECT;
	case DMARC_POLICY_QUARANTINE:
		return DMARC_DISP_QUARANTINE;
	default:
		return DMARC_DISP_NONE;
	}
}

/* 6.6.4: outside the pct sample, the next weaker disposition applies. */
static void
apply_policy(const struct dmarc_input *in, const struct dmarc_found *f,
    struct dmarc_verdict *out)
{
	enum dmarc_disposition d;

	out->policy = f->rec.p;
	if (f->at_org && f->rec.sp != DMARC_POLICY_UNSET)
		out->policy = f->rec.sp;
	d = disposition_of(out->policy);
	if (d != DMARC_DISP_NONE && in->sample >= f->rec.pct) {
		out->sampled_out = true;
		d = d == DMARC_DISP_REJECT ? DMARC_DISP_QUARANTINE : DMARC_DISP_NONE;
	}
	out->disposition = d;
}

static bool
found_result(const struct dmarc_found *f, struct dmarc_verdict *out)
{
	switch (f->status) {
	case DMARC_FOUND_RECORD:
		return false;
	case DMARC_FOUND_NONE:
		out->reason = "no DMARC record";
		break;
	case DMARC_FOUND_MULTIPLE:
		out->reason = "several DMARC records";
		break;
	case DMARC_FOUND_INVALID:
		out->result = DMARC_RESULT_PERMERROR;
		out->reason = dmarc_record_status_text(f->rec_status);
		break;
	case DMARC_FOUND_TEMPFAIL:
		out->result = DMARC_RESULT_TEMPERROR;
		out->reason = "DNS failure looking up the DMARC record";
		break;
	case DMARC_FOUND_BAD_DOMAIN:
		out->result = DMARC_RESULT_PERMERROR;
		out->reason = "From domain has no organizational domain";
		break;
	}
	return true;
}

void
dmarc_evaluate(const struct dmarc_input *in, const struct dmarc_found *found,
    struct dmarc_verdict *out)
{
	memset(out, 0, sizeof *out);
	out->result = DMARC_RESULT_NONE;
	out->reason = "";
	if (in->from_error != FROM_DOMAIN_OK || in->from_domain == NULL ||
	    found == NULL) {
		out->result = DMARC_RESULT_PERMERROR;
		out->reason = in->from_error != FROM_DOMAIN_OK ?
		    from_domain_error_text(in->from_error) : "no From domain";
		return;
	}
	if (found_result(found, out))
		return;
	align(in, &found->rec, out);
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_RESULT_PASS;
		out->policy = found->at_org && found->rec.sp != DMARC_POLICY_UNSET ?
		    found->rec.sp : found->rec.p;
		out->reason = out->dkim_aligned ? "DKIM aligned" : "SPF aligned";
		return;
	}
	out->result = DMARC_RESULT_FAIL;
	out->reason = "neither SPF nor DKIM aligned";
	apply_policy(in, found, out);
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RESULT_NONE:
		return "none";
	case DMARC_RESULT_PASS:
		return "pass";
	case DMARC_RESULT_FAIL:
		return "fail";
	case DMARC_RESULT_TEMPERROR:
		return "temperror";
	case DMARC_RESULT_PERMERROR:
		return "permerror";
	}
	return "unknown";
}

const char *
dmarc_disposition_name(enum dmarc_disposition d)
{
	switch (d) {
	case DMARC_DISP_NONE:
		return "none";
	case DMARC_DISP_QUARANTINE:
		return "quarantine";
	case DMARC_DISP_REJECT:
		return "reject";
	}
	return "unknown";
}
