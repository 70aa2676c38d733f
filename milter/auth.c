/*
 * auth.c - the authentication facade: one message through SPF, DKIM and
 * DMARC, and the Authentication-Results value (RFC 8601) that says so.
 *
 * Public functions: see auth.h.
 *
 * What is kept per message: the envelope (bounded copies), the DKIM
 * verifier (streaming: the body is hashed, never stored) and the From
 * header fields only (at most AUTH_FROM_MAX octets; more makes the From
 * check a permerror), since from_domain_extract() needs just those.
 * Every header field still goes to DKIM, forged A-R fields included: the
 * verifier must see the message as it arrived; removing them is the
 * caller's edit for the next hop.
 *
 * A-R value (RFC 8601 2.7, RFC 7489 11.2), e.g.
 *   mx.example.net; spf=pass smtp.mailfrom=a@example.com;
 *     dkim=pass header.d=example.com header.s=sel header.b=abcdEFGH;
 *     dmarc=pass (p=reject dis=none) header.from=example.com
 *     policy.dmarc=reject
 * A null sender is reported as smtp.helo.  A dkim= pass whose l= left
 * body unsigned carries the comment "partial body, not used for DMARC".
 * If a value cannot be written (a control byte in MAIL FROM, too long),
 * the resinfo is written without its properties rather than not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "auth.h"
#include "dns.h"
#include "spf.h"

#define AUTH_DNS_TIMEOUT_DEFAULT 5000

struct auth_ctx {
	char *authserv_id;
	struct auth_dns *dns;
	struct spf_checker *spf;
	struct dkimv_lib *dkim;
	unsigned (*sample)(void *arg);
	void *sample_arg;
};

struct auth_msg {
	struct auth_ctx *ctx;
	struct dkim_verifier *dkim;
	char ip[64];
	char helo[AUTH_ADDR_MAX];
	char mailfrom[AUTH_ADDR_MAX];     /* without <>; "" = null sender */
	bool envelope_cut;                /* an envelope value was too long */
	char *from;                       /* the From fields, CRLF-separated */
	size_t from_len;
	bool from_overflow;
};

/* ---- context ------------------------------------------------------------ */

static enum auth_dns_status
dmarc_txt(void *arg, const char *name, struct auth_dns_txt *out)
{
	return auth_dns_txt(arg, name, out);
}

static void
dmarc_txt_free(void *arg, struct auth_dns_txt *t)
{
	(void)arg;
	auth_dns_txt_free(t);
}

static unsigned
random_sample(void *arg)
{
	unsigned v = 0;

	(void)arg;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		return 0;                 /* in the sample: the stricter outcome */
	return v % 100;
}

struct auth_ctx *
auth_ctx_new(const struct auth_config *cfg, char *err, size_t errlen)
{
	struct auth_ctx *c = calloc(1, sizeof *c);
	unsigned ms = cfg->dns_timeout_ms ? cfg->dns_timeout_ms :
	    AUTH_DNS_TIMEOUT_DEFAULT;

	if (c == NULL || cfg->authserv_id == NULL ||
	    (c->authserv_id = strdup(cfg->authserv_id)) == NULL) {
		snprintf(err, errlen, "%s", c ? "authserv_id is not set" :
		    "out of memory");
		free(c);
		return NULL;
	}
	c->sample = cfg->sample ? cfg->sample : random_sample;
	c->sample_arg = cfg->sample_arg;
	if ((c->dns = auth_dns_new(cfg->resolver, ms, err, errlen)) == NULL)
		goto fail;
	if ((c->spf = spf_checker_new(c->dns, c->authserv_id)) == NULL ||
	    (c->dkim = dkimv_lib_new(c->dns)) == NULL) {
		snprintf(err, errlen, "cannot set up the %s library",
		    c->spf ? "DKIM" : "SPF");
		goto fail;
	}
	return c;
fail:
	auth_ctx_free(c);
	return NULL;
}

void
auth_ctx_free(struct auth_ctx *c)
{
	if (c == NULL)
		return;
	dkimv_lib_free(c->dkim);
	spf_checker_free(c->spf);
	auth_dns_free(c->dns);
	free(c->authserv_id);
	free(c);
}

const char *
auth_ctx_authserv_id(const struct auth_ctx *c)
{
	return c->authserv_id;
}

/* ---- message -------------------------------------------------------------- */

/* Copy src into dst (cap) without <> around it; false when cut. */
static bool
copy_addr(char *dst, size_t cap, const char *src, bool strip)
{
	size_t n = src ? strnlen(src, cap) : 0;

	if (strip && n >= 2 && src[0] == '<' && src[n - 1] == '>') {
		src++;
		n -= 2;
	}
	if (n >= cap) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return true;
}

struct auth_msg *
auth_msg_new(struct auth_ctx *ctx, const char *client_ip, const char *helo,
    const char *mailfrom)
{
	struct auth_msg *m = calloc(1, sizeof *m);

	if (m == NULL)
		return NULL;
	m->ctx = ctx;
	if (!copy_addr(m->ip, sizeof m->ip, client_ip, false) ||
	    !copy_addr(m->helo, sizeof m->helo, helo, false) ||
	    !copy_addr(m->mailfrom, sizeof m->mailfrom, mailfrom, true))
		m->envelope_cut = true;
	if ((m->dkim = dkimv_new(ctx->dkim)) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
auth_msg_free(struct auth_msg *m)
{
	if (m == NULL)
		return;
	dkimv_free(m->dkim);
	free(m->from);
	free(m);
}

/* The field name (before ':', trailing WSP dropped) equals name. */
static bool
field_is(const char *f, size_t len, const char *name, const char **value)
{
	const char *colon = memchr(f, ':', len);
	size_t n, want = strlen(name);

	if (colon == NULL)
		return false;
	n = (size_t)(colon - f);
	while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\t'))
		n--;
	*value = colon + 1;
	return n == want && strncasecmp(f, name, n) == 0;
}

static void
keep_from(struct auth_msg *m, const char *field, size_t len)
{
	char *n;

	if (m->from_overflow || len + 2 > AUTH_FROM_MAX - m->from_len) {
		m->from_overflow = true;
		return;
	}
	if ((n = realloc(m->from, m->from_len + len + 2)) == NULL) {
		m->from_overflow = true;
		return;
	}
	m->from = n;
	memcpy(m->from + m->from_len, field, len);
	memcpy(m->from + m->from_len + len, "\r\n", 2);
	m->from_len += len + 2;
}

enum auth_header_kind
auth_msg_header(struct auth_msg *m, const char *field, size_t len)
{
	const char *value;

	dkimv_header(m->dkim, field, len);
	if (field_is(field, len, "From", &value))
		keep_from(m, field, len);
	else if (field_is(field, len, AUTHRES_FIELD_NAME, &value) &&
	    authres_is_ours(value, len - (size_t)(value - field),
	    m->ctx->authserv_id))
		return AUTH_HEADER_FORGED;
	return AUTH_HEADER_KEEP;
}

void
auth_msg_eoh(struct auth_msg *m)
{
	dkimv_eoh(m->dkim);
}

void
auth_msg_body(struct auth_msg *m, const char *chunk, size_t len)
{
	dkimv_body(m->dkim, chunk, len);
}

/* ---- finishing -------------------------------------------------------------- */

static void
run_spf(struct auth_msg *m, struct auth_verdicts *v)
{
	struct spf_outcome o;
	const char *at = strrchr(m->mailfrom, '@');

	v->spf_helo = m->mailfrom[0] == '\0';
	copy_addr(v->spf_domain, sizeof v->spf_domain,
	    v->spf_helo ? m->helo : at ? at + 1 : "", false);
	if (m->envelope_cut) {
		v->spf = AUTHRES_PERMERROR;
		return;
	}
	spf_check(m->ctx->spf, m->ip, m->helo, m->mailfrom, &o);
	v->spf = (enum authres_result)o.result;   /* equal values: spf.h */
	v->spf_helo = o.helo_identity != 0;
	if (o.domain[0] != '\0')
		copy_addr(v->spf_domain, sizeof v->spf_domain, o.domain, false);
}

static void
run_dmarc(struct auth_msg *m, struct auth_verdicts *v)
{
	struct dmarc_dkim_sig sigs[DKIMV_MAX_SIGS];
	struct dmarc_dns dns = { dmarc_txt, dmarc_txt_free, m->ctx->dns };
	struct dmarc_found found;
	struct dmarc_input in = { 0 };
	size_t i, len;

	for (i = 0; i < v->dkim.n; i++) {
		sigs[i].d = v->dkim.sig[i].d;
		sigs[i].pass = v->dkim.sig[i].result == AUTHRES_PASS;
		sigs[i].aligned_ok = v->dkim.sig[i].aligned_ok;
	}
	v->from_error = m->from_overflow ? FROM_DOMAIN_ERR_SYNTAX :
	    from_domain_extract(m->from ? m->from : "", m->from_len,
	    v->from_domain, sizeof v->from_domain, &len);
	in.from_error = v->from_error;
	in.from_domain = v->from_domain;
	in.spf_pass = v->spf == AUTHRES_PASS;
	in.spf_domain = v->spf_domain[0] ? v->spf_domain : NULL;
	in.sigs = sigs;
	in.nsigs = v->dkim.n;
	in.sample = m->ctx->sample(m->ctx->sample_arg) % 100;
	if (v->from_error == FROM_DOMAIN_OK) {
		dmarc_discover(&dns, v->from_domain, &found);
		copy_addr(v->dmarc_policy_domain, sizeof v->dmarc_policy_domain,
		    found.domain, false);
	}
	dmarc_evaluate(&in, v->from_error == FROM_DOMAIN_OK ? &found : NULL,
	    &v->dmarc);
}

/* ---- the Authentication-Results value ------------------------------------- */

#define AR_MAX_RI (DKIMV_MAX_SIGS + 2)

struct ar_build {
	struct authres_resinfo ri[AR_MAX_RI];
	struct authres_prop props[AR_MAX_RI][3];
	char dmarc_comment[64];
	size_t n;
};

static void
add_prop(struct ar_build *b, const char *ptype, const char *property,
    const char *value)
{
	struct authres_resinfo *r = &b->ri[b->n];
	struct authres_prop *p = &b->props[b->n][r->nprops++];

	p->ptype = ptype;
	p->property = property;
	p->value = value;
	p->value_len = strlen(value);
}

static struct authres_resinfo *
add_ri(struct ar_build *b, enum authres_method meth, enum authres_result res)
{
	struct authres_resinfo *r = &b->ri[b->n];

	memset(r, 0, sizeof *r);
	r->method = meth;
	r->result = res;
	r->props = b->props[b->n];
	return r;
}

static void
ar_spf(struct ar_build *b, const struct auth_msg *m,
    const struct auth_verdicts *v)
{
	add_ri(b, AUTHRES_METHOD_SPF, v->spf);
	if (!v->spf_helo && m->mailfrom[0] != '\0')
		add_prop(b, "smtp", "mailfrom", m->mailfrom);
	else if (m->helo[0] != '\0')
		add_prop(b, "smtp", "helo", m->helo);
	b->n++;
}

static void
ar_dkim(struct ar_build *b, const struct auth_verdicts *v)
{
	size_t i;

	if (v->dkim.n == 0) {
		add_ri(b, AUTHRES_METHOD_DKIM, v->dkim_summary);
		b->n++;
		return;
	}
	for (i = 0; i < v->dkim.n; i++) {
		const struct dkim_sig_outcome *s = &v->dkim.sig[i];
		struct authres_resinfo *r = add_ri(b, AUTHRES_METHOD_DKIM, s->result);

		if (s->result == AUTHRES_PASS && !s->aligned_ok)
			r->comment = "partial body, not used for DMARC";
		else if (s->result != AUTHRES_PASS && s->reason[0] != '\0')
			r->reason = s->reason;
		if (s->d[0] != '\0')
			add_prop(b, "header", "d", s->d);
		if (s->s[0] != '\0')
			add_prop(b, "header", "s", s->s);
		if (s->b[0] != '\0')
			add_prop(b, "header", "b", s->b);
		b->n++;
	}
}

static void
ar_dmarc(struct ar_build *b, const struct auth_verdicts *v)
{
	const struct dmarc_verdict *d = &v->dmarc;
	static const enum authres_result map[] = {
		[DMARC_RESULT_NONE] = AUTHRES_NONE,
		[DMARC_RESULT_PASS] = AUTHRES_PASS,
		[DMARC_RESULT_FAIL] = AUTHRES_FAIL,
		[DMARC_RESULT_TEMPERROR] = AUTHRES_TEMPERROR,
		[DMARC_RESULT_PERMERROR] = AUTHRES_PERMERROR,
	};
	struct authres_resinfo *r = add_ri(b, AUTHRES_METHOD_DMARC, map[d->result]);
	int n;

	if (d->policy != DMARC_POLICY_UNSET) {
		n = snprintf(b->dmarc_comment, sizeof b->dmarc_comment,
		    "p=%s dis=%s", dmarc_policy_name(d->policy),
		    dmarc_disposition_name(d->disposition));
		if (n > 0 && (size_t)n < sizeof b->dmarc_comment)
			r->comment = b->dmarc_comment;
	}
	if (d->result == DMARC_RESULT_PERMERROR ||
	    d->result == DMARC_RESULT_TEMPERROR)
		r->reason = d->reason;
	if (v->from_domain[0] != '\0')
		add_prop(b, "header", "from", v->from_domain);
	if (d->policy != DMARC_POLICY_UNSET)
		add_prop(b, "policy", "dmarc", dmarc_policy_name(d->policy));
	b->n++;
}

static void
format_ar(const struct auth_msg *m, struct auth_verdicts *v)
{
	struct ar_build b;
	const char *id = m->ctx->authserv_id;
	size_t i;

	memset(&b, 0, sizeof b);
	ar_spf(&b, m, v);
	ar_dkim(&b, v);
	ar_dmarc(&b, v);
	if (authres_format(id, b.ri, b.n, v->authres, sizeof v->authres) >= 0)
		return;
	for (i = 0; i < b.n; i++) {   /* a value could not be written */
		b.ri[i].nprops = 0;
		b.ri[i].reason = NULL;
	}
	if (authres_format(id, b.ri, b.n, v->authres, sizeof v->authres) < 0)
		authres_format(id, NULL, 0, v->authres, sizeof v->authres);
}

void
auth_msg_finish(struct auth_msg *m, struct auth_verdicts *out)
{
	memset(out, 0, sizeof *out);
	run_spf(m, out);
	dkimv_eom(m->dkim, &out->dkim);
	out->dkim_summary = dkimv_summary(&out->dkim);
	run_dmarc(m, out);
	format_ar(m, out);
}
