/*
 * spf_magic.c - answers the lookups of our own names that spf_rewrite()
 * puts into a record (see spf_rewrite.h):
 *
 *   cutover-term.invalid     one DNS-querying term is about to be
 *                            evaluated: count it; the 11th forces
 *                            permerror (RFC 7208 4.6.4) and answers
 *                            TEMPFAIL so libspf2 stops at once
 *   D.cutover-a4.invalid     a:D/0 (a6: a:D//0): matches when D has any
 *                            A (AAAA) record (RFC 7208 5.3)
 *   D.cutover-mx4.invalid    mx:D/0 (mx6: //0): matches when any of D's
 *                            first 10 MX hosts has an address (5.4)
 *
 * Public functions: spf_magic_lookup.
 *
 * A match is answered as one A record (127.0.0.2), libspf2's exists
 * then matches; no match is NODATA.  Real lookups go through the check's
 * tally (void lookups count, 4.6.4) and a DNS failure is TEMPFAIL, which
 * the layer turns into temperror as for any mechanism.
 */
#include "spf_internal.h"

#include <string.h>

#include "spf_rewrite.h"

static enum auth_dns_status
any_address(struct spf_ctx *ctx, const char *name, int type)
{
	struct auth_dns_addrlist a;
	enum auth_dns_status st;

	st = auth_dns_addrs(ctx->dns, name, type, &ctx->tally, &a);
	if (st == AUTH_DNS_OK && a.n == 0)
		st = AUTH_DNS_NODATA;
	auth_dns_addrs_free(&a);
	return st;
}

static enum auth_dns_status
any_mx_address(struct spf_ctx *ctx, const char *name, int type)
{
	struct auth_dns_namelist l;
	enum auth_dns_status st, hst = AUTH_DNS_NODATA;
	size_t i;

	st = auth_dns_names(ctx->dns, name, AUTH_DNS_T_MX, &ctx->tally, &l);
	if (st == AUTH_DNS_OK && l.n > SPF_MX_LIMIT)
		spf_ctx_force(ctx, SPF_CHECK_PERMERROR,
		    "more than 10 MX names (RFC 7208 4.6.4) at", name);
	for (i = 0; st == AUTH_DNS_OK && i < l.n && i < SPF_MX_LIMIT; i++) {
		hst = any_address(ctx, l.name[i], type);
		if (hst == AUTH_DNS_OK || hst == AUTH_DNS_TEMPFAIL)
			break;
	}
	auth_dns_names_free(&l);
	if (st != AUTH_DNS_OK)
		return st;
	return hst == AUTH_DNS_OK || hst == AUTH_DNS_TEMPFAIL ? hst :
	    AUTH_DNS_NODATA;
}

static enum auth_dns_status
count_term(struct spf_ctx *ctx)
{
	if (++ctx->terms <= SPF_TERM_LIMIT)
		return AUTH_DNS_NODATA;
	spf_ctx_force(ctx, SPF_CHECK_PERMERROR,
	    "more than 10 DNS-querying terms (RFC 7208 4.6.4)", NULL);
	return AUTH_DNS_TEMPFAIL;
}

/* name/len is a magic name (spf_rewrite_magic() said so). */
enum auth_dns_status
spf_magic_lookup(struct spf_ctx *ctx, SPF_dns_rr_t *rr, const char *name,
    size_t len)
{
	static const unsigned char match[4] = { 127, 0, 0, 2 };
	char domain[SPF_NAME_MAX];
	enum auth_dns_status st;
	enum spf_magic kind;
	size_t dlen;
	int v6;
	const char *d;

	kind = spf_rewrite_magic(name, len, &dlen, &v6);
	if (kind == SPF_MAGIC_TERM)
		return count_term(ctx);
	d = spf_domain_trim(name, &dlen);
	if (dlen >= sizeof(domain) || !spf_domain_ok(d, dlen))
		return AUTH_DNS_NXDOMAIN;
	memcpy(domain, d, dlen);
	domain[dlen] = '\0';
	if (kind == SPF_MAGIC_A)
		st = any_address(ctx, domain,
		    v6 ? AUTH_DNS_T_AAAA : AUTH_DNS_T_A);
	else
		st = any_mx_address(ctx, domain,
		    v6 ? AUTH_DNS_T_AAAA : AUTH_DNS_T_A);
	if (st == AUTH_DNS_OK && spf_rr_add(rr, match, sizeof(match), 0) != 0)
		st = AUTH_DNS_TEMPFAIL;
	return st;
}
