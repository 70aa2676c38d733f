/*
 * spf_dns.c - the DNS layer libspf2 evaluates through: an SPF_dns_server_t
 * whose lookup() and get_spf() go to milter/dns.h (our resolver, our
 * timeouts) and keep the RFC 7208 books libspf2 does not keep.
 *
 * Public functions: spf_dns_layer_new/free, spf_ctx_force, spf_domain_ok,
 * spf_domain_trim, spf_rr_add.
 *
 * lookup(): A/AAAA/MX/PTR for mechanisms, counted in ctx->tally; more than
 *   two void answers (NXDOMAIN or NODATA) force permerror (RFC 7208 4.6.4);
 *   a DNS failure forces temperror (2.6.6) - libspf2 would treat it as "no
 *   match" and go on - except in ptr and %{p}: a failed PTR lookup is no
 *   match and a failed address lookup skips that name (5.5); only the
 *   first 10 PTR names are used (4.6.4).  Names over 253 bytes lose labels
 *   on the left (4.8).  Our magic names (spf_rewrite.h) go to
 *   spf_magic.c.  Type SPF (99) is never asked (RFC 7208 3.1: TXT only).
 *   TXT through lookup() is only the exp= explanation (get_spf() fetches
 *   records itself): a failure there never changes the result, and
 *   anything but exactly one TXT record means no explanation (6.2).
 * get_spf(): spf_getspf.c.
 *
 * SPF_dns_rr_t filling follows libspf2's own layers: SPF_dns_rr_new_init()
 * with the h_errno-style status, SPF_dns_rr_buf_realloc() per record,
 * addresses as struct in_addr/in6_addr, names and TXT as NUL-terminated
 * strings, num_rr last.
 */
#include "spf_internal.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_rewrite.h"

#define RR_TTL 60

void
spf_ctx_force(struct spf_ctx *ctx, enum spf_result r, const char *what,
    const char *arg)
{
	int n;

	if (ctx->forced)
		return;
	ctx->forced = 1;
	ctx->forced_result = r;
	n = snprintf(ctx->problem, sizeof(ctx->problem), "%s%s%s", what,
	    arg ? " " : "", arg ? arg : "");
	if (n < 0 || (size_t)n >= sizeof(ctx->problem))
		ctx->problem[sizeof(ctx->problem) - 1] = '\0';
}

/* RFC 7208 4.8: an expanded name over 253 bytes loses labels on the
 * left until it fits.  Returns where the kept part starts; *len is
 * updated.  A name with no dot to cut at is returned as is (and then
 * fails spf_domain_ok). */
const char *
spf_domain_trim(const char *name, size_t *len)
{
	const char *p = name, *dot;
	size_t left = *len;

	while (left > 253 && (dot = memchr(p, '.', left)) != NULL) {
		left -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	*len = left;
	return p;
}

/* RFC 7208 4.3: labels of 1..63 bytes, at least two labels, <= 253. */
int
spf_domain_ok(const char *name, size_t len)
{
	size_t pos = 0, labels = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	while (pos <= len) {
		const char *dot = memchr(name + pos, '.', len - pos);
		size_t end = dot ? (size_t)(dot - name) : len;

		if (end == pos || end - pos > 63)
			return 0;
		labels++;
		pos = end + 1;
	}
	return labels >= 2;
}

static SPF_dns_stat_t
herrno_of(enum auth_dns_status st)
{
	switch (st) {
	case AUTH_DNS_OK:
		return NETDB_SUCCESS;
	case AUTH_DNS_NXDOMAIN:
		return HOST_NOT_FOUND;
	case AUTH_DNS_NODATA:
		return NO_DATA;
	case AUTH_DNS_TEMPFAIL:
		break;
	}
	return TRY_AGAIN;
}

int
spf_rr_add(SPF_dns_rr_t *rr, const void *p, size_t len, int nul)
{
	int i = rr->num_rr;

	if (SPF_dns_rr_buf_realloc(rr, i, len + (nul ? 1 : 0)) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[i], p, len);
	if (nul)
		((char *)rr->rr[i])[len] = '\0';
	rr->num_rr = i + 1;
	return 0;
}

static enum auth_dns_status
fill_addrs(struct spf_ctx *ctx, SPF_dns_rr_t *rr, const char *domain,
    int type)
{
	struct auth_dns_addrlist a;
	enum auth_dns_status st;
	size_t i;

	st = auth_dns_addrs(ctx->dns, domain, type, &ctx->tally, &a);
	for (i = 0; st == AUTH_DNS_OK && i < a.n; i++)
		if (spf_rr_add(rr, a.addr[i].a, type == AUTH_DNS_T_A ? 4 : 16,
		    0) != 0)
			st = AUTH_DNS_TEMPFAIL;
	auth_dns_addrs_free(&a);
	return st;
}

/* Remembers a PTR answer's names for validating_lookup(). */
static void
note_ptr_name(struct spf_ctx *ctx, const char *name)
{
	size_t len = strlen(name);

	if (ctx->nptr >= SPF_PTR_LIMIT || len >= SPF_NAME_MAX)
		return;
	memcpy(ctx->ptr_names[ctx->nptr], name, len + 1);
	ctx->nptr++;
}

/* MX: more than 10 names is permerror.  PTR: only the first 10 names are
 * looked at (RFC 7208 4.6.4), and a failed PTR lookup is no match (5.5). */
static enum auth_dns_status
fill_names(struct spf_ctx *ctx, SPF_dns_rr_t *rr, const char *domain,
    int type)
{
	struct auth_dns_namelist l;
	enum auth_dns_status st;
	size_t i;

	st = auth_dns_names(ctx->dns, domain, type, &ctx->tally, &l);
	if (st == AUTH_DNS_OK && type == AUTH_DNS_T_MX && l.n > SPF_MX_LIMIT)
		spf_ctx_force(ctx, SPF_CHECK_PERMERROR,
		    "more than 10 MX names (RFC 7208 4.6.4) at", domain);
	for (i = 0; st == AUTH_DNS_OK && i < l.n; i++) {
		if (type == AUTH_DNS_T_PTR && i >= SPF_PTR_LIMIT)
			break;
		if (spf_rr_add(rr, l.name[i], strlen(l.name[i]), 1) != 0)
			st = AUTH_DNS_TEMPFAIL;
		else if (type == AUTH_DNS_T_PTR)
			note_ptr_name(ctx, l.name[i]);
	}
	auth_dns_names_free(&l);
	if (type == AUTH_DNS_T_PTR && st == AUTH_DNS_TEMPFAIL)
		return AUTH_DNS_NXDOMAIN;
	return st;
}

/* Is this A/AAAA lookup one validating a name of the last PTR answer?
 * Any other lookup ends that run of validations. */
static int
validating_lookup(struct spf_ctx *ctx, const char *domain, ns_type type)
{
	size_t i;

	if (type == ns_t_a || type == ns_t_aaaa)
		for (i = 0; i < ctx->nptr; i++)
			if (strcasecmp(ctx->ptr_names[i], domain) == 0)
				return 1;
	ctx->nptr = 0;
	return 0;
}

/* Appends the exp text, already expanded by us (spf_exp.c), as a literal
 * for libspf2, which compiles it as a macro-string: '%' becomes "%%" and
 * a space "%_" (libspf2 turns a literal space into '%', measured with the
 * RFC 7208 suite). */
static int
add_exp_text(SPF_dns_rr_t *rr, const char *p, size_t len)
{
	char buf[2 * SPF_EXP_MAX + 1];
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (o + 2 >= sizeof(buf))
			return -1;
		if (p[i] == ' ' || p[i] == '%') {
			buf[o++] = '%';
			buf[o++] = p[i] == ' ' ? '_' : '%';
		} else
			buf[o++] = p[i];
	}
	return spf_rr_add(rr, buf, o, 1);
}

static const char *
validated_name(void *arg)
{
	struct spf_ctx *ctx = arg;
	const char *name = SPF_request_get_client_dom(ctx->req);

	return name ? name : "unknown";
}

/* exp= text: exactly one TXT record, else "no explanation" (NODATA); its
 * macros expanded by us (spf_exp.h says why); a bad macro is no
 * explanation too (RFC 7208 6.2). */
static enum auth_dns_status
fill_exp(struct spf_ctx *ctx, SPF_dns_rr_t *rr, const char *domain)
{
	struct auth_dns_txt t;
	enum auth_dns_status st;
	char text[SPF_EXP_MAX];

	st = auth_dns_txt(ctx->dns, domain, &t);
	if (st == AUTH_DNS_OK && (t.n != 1 || memchr(t.rec[0], '\0',
	    t.len[0]) != NULL))
		st = AUTH_DNS_NODATA;
	ctx->exp.domain = ctx->req->cur_dom ? ctx->req->cur_dom : "";
	ctx->exp.validated_name = validated_name;
	ctx->exp.arg = ctx;
	if (st == AUTH_DNS_OK && spf_exp_expand(&ctx->exp, t.rec[0],
	    t.len[0], text, sizeof(text)) != 0)
		st = AUTH_DNS_NODATA;
	if (st == AUTH_DNS_OK && add_exp_text(rr, text, strlen(text)) != 0)
		st = AUTH_DNS_NODATA;
	auth_dns_txt_free(&t);
	return st == AUTH_DNS_TEMPFAIL ? AUTH_DNS_NODATA : st;
}

static enum auth_dns_status
real_lookup(struct spf_ctx *ctx, SPF_dns_rr_t *rr, const char *name,
    ns_type type)
{
	char domain[SPF_NAME_MAX];
	size_t len = strlen(name);
	const char *d = spf_domain_trim(name, &len);
	int validating;
	enum auth_dns_status st = AUTH_DNS_NODATA;

	if (len >= sizeof(domain) || !spf_domain_ok(d, len))
		return AUTH_DNS_NXDOMAIN;
	memcpy(domain, d, len);
	domain[len] = '\0';
	validating = validating_lookup(ctx, domain, type);
	if (type == ns_t_a)
		st = fill_addrs(ctx, rr, domain, AUTH_DNS_T_A);
	else if (type == ns_t_aaaa)
		st = fill_addrs(ctx, rr, domain, AUTH_DNS_T_AAAA);
	else if (type == ns_t_mx)
		st = fill_names(ctx, rr, domain, AUTH_DNS_T_MX);
	else if (type == ns_t_ptr)
		st = fill_names(ctx, rr, domain, AUTH_DNS_T_PTR);
	else if (type == ns_t_txt)
		st = fill_exp(ctx, rr, domain);
	if (validating && st == AUTH_DNS_TEMPFAIL)
		st = AUTH_DNS_NODATA;      /* RFC 7208 5.5: skip that name */
	return st;
}

static SPF_dns_rr_t *
layer_lookup(SPF_dns_server_t *server, const char *domain, ns_type type,
    int should_cache)
{
	struct spf_ctx *ctx = server->hook;
	SPF_dns_rr_t *rr;
	enum auth_dns_status st;
	unsigned voids = ctx->tally.voids;
	size_t dlen;
	int v6;

	rr = SPF_dns_rr_new_init(server, domain, type, RR_TTL, NETDB_SUCCESS);
	if (rr == NULL)
		return NULL;
	if (type == ns_t_a && spf_rewrite_magic(domain, strlen(domain), &dlen,
	    &v6) != SPF_MAGIC_NONE) {
		ctx->nptr = 0;
		st = spf_magic_lookup(ctx, rr, domain, strlen(domain));
	} else
		st = real_lookup(ctx, rr, domain, type);
	if (st != AUTH_DNS_OK)
		rr->num_rr = 0;
	rr->herrno = herrno_of(st);
	if (st == AUTH_DNS_TEMPFAIL)
		spf_ctx_force(ctx, SPF_CHECK_TEMPERROR,
		    "DNS failure looking up", domain);
	else if (ctx->tally.voids > SPF_VOID_LIMIT && voids <= SPF_VOID_LIMIT)
		spf_ctx_force(ctx, SPF_CHECK_PERMERROR,
		    "more than 2 void lookups, at", domain);
	return rr;
}

SPF_dns_server_t *
spf_dns_layer_new(struct spf_ctx *ctx)
{
	SPF_dns_server_t *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->destroy = NULL;          /* ours: freed by spf_dns_layer_free */
	d->lookup = layer_lookup;
	d->get_spf = spf_layer_get_spf;
	d->get_exp = NULL;
	d->add_cache = NULL;
	d->layer_below = NULL;
	d->name = "cutover";
	d->hook = ctx;
	return d;
}

void
spf_dns_layer_free(SPF_dns_server_t *d)
{
	free(d);
}
