/*
 * spf_getspf.c - the get_spf() of our libspf2 DNS layer: fetches, selects,
 * checks and rewrites the SPF record of the current domain and compiles
 * it for libspf2.
 *
 * Public functions: spf_layer_get_spf.
 *
 * Record selection (RFC 7208 4.5: "v=spf1" then space or end; several ->
 *   permerror), our syntax check (spf_record.c) and rewrite
 *   (spf_rewrite.c) before SPF_record_compile; the first record fetched is
 *   the check's own (no record -> none), later ones are include/redirect
 *   targets (none there -> permerror, 5.2, 6.1), each counted as one of
 *   the 10 DNS-querying terms.
 *
 * Errors are added to the libspf2 response and forced on the check's
 * context (spf_internal.h), so the first one decides the result.
 */
#include "spf_internal.h"

#include <stdlib.h>
#include <string.h>

#include "spf_record.h"
#include "spf_rewrite.h"

static SPF_errcode_t
no_record(struct spf_ctx *ctx, SPF_response_t *resp, const char *domain,
    int top, const char *why)
{
	if (top) {
		spf_ctx_force(ctx, SPF_CHECK_NONE, why, domain);
		resp->result = SPF_RESULT_NONE;
	} else {
		spf_ctx_force(ctx, SPF_CHECK_PERMERROR, why, domain);
		resp->result = SPF_RESULT_PERMERROR;
	}
	resp->reason = SPF_REASON_FAILURE;
	return SPF_response_add_error(resp, SPF_E_NOT_SPF, "%s", ctx->problem);
}

static SPF_errcode_t
bad_record(struct spf_ctx *ctx, SPF_response_t *resp, const char *why,
    const char *domain)
{
	spf_ctx_force(ctx, SPF_CHECK_PERMERROR, why, domain);
	resp->result = SPF_RESULT_PERMERROR;
	resp->reason = SPF_REASON_FAILURE;
	return SPF_response_add_error(resp, SPF_E_SYNTAX, "%s", ctx->problem);
}

/* Index of the one SPF record in t, -1 for none, -2 for several. */
static int
select_record(const struct auth_dns_txt *t)
{
	size_t i;
	int found = -1;

	for (i = 0; i < t->n; i++) {
		if (!spf_record_is_spf(t->rec[i], t->len[i]))
			continue;
		if (found >= 0)
			return -2;
		found = (int)i;
	}
	return found;
}

static SPF_errcode_t
compile_record(struct spf_ctx *ctx, SPF_server_t *server,
    SPF_response_t *resp, SPF_record_t **recordp, const char *domain,
    const char *rec, size_t len)
{
	char why[SPF_TEXT_MAX - 64];
	SPF_errcode_t err;
	char *text;

	if (memchr(rec, '\0', len) != NULL)
		return bad_record(ctx, resp, "NUL byte in the SPF record of",
		    domain);
	if (spf_record_check(rec, len, why, sizeof(why)) != 0) {
		spf_ctx_force(ctx, SPF_CHECK_PERMERROR, "invalid record:",
		    why);
		return bad_record(ctx, resp, "invalid record:", why);
	}
	text = spf_rewrite(rec, len, ctx->client_v6);
	if (text == NULL) {
		spf_ctx_force(ctx, SPF_CHECK_TEMPERROR, "out of memory", NULL);
		return SPF_response_add_error(resp, SPF_E_NO_MEMORY, "%s",
		    ctx->problem);
	}
	err = SPF_record_compile(server, resp, recordp, text);
	free(text);
	if (err != SPF_E_SUCCESS) {
		if (*recordp != NULL)
			SPF_record_free(*recordp);
		*recordp = NULL;
		return bad_record(ctx, resp, "libspf2 cannot compile the record of",
		    domain);
	}
	return SPF_E_SUCCESS;
}

SPF_errcode_t
spf_layer_get_spf(SPF_server_t *server, SPF_request_t *req,
    SPF_response_t *resp, SPF_record_t **recordp)
{
	struct spf_ctx *ctx = server->resolver->hook;
	const char *domain = req->cur_dom;
	char name[SPF_NAME_MAX];
	size_t len;
	struct auth_dns_txt t;
	enum auth_dns_status st;
	SPF_errcode_t err;
	int top = ctx->records++ == 0, idx;

	*recordp = NULL;
	ctx->nptr = 0;
	if (!top && ++ctx->terms > SPF_TERM_LIMIT)
		return bad_record(ctx, resp,
		    "more than 10 DNS-querying terms (RFC 7208 4.6.4) at",
		    domain);
	len = strlen(domain);
	domain = spf_domain_trim(domain, &len);
	if (len >= sizeof(name) || !spf_domain_ok(domain, len))
		return no_record(ctx, resp, domain, top, "malformed domain");
	memcpy(name, domain, len);
	name[len] = '\0';
	domain = name;
	st = auth_dns_txt(ctx->dns, domain, &t);
	if (st == AUTH_DNS_TEMPFAIL) {
		spf_ctx_force(ctx, SPF_CHECK_TEMPERROR,
		    "DNS failure looking up the SPF record of", domain);
		resp->result = SPF_RESULT_TEMPERROR;
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "%s",
		    ctx->problem);
	}
	idx = st == AUTH_DNS_OK ? select_record(&t) : -1;
	if (idx == -1)
		err = no_record(ctx, resp, domain, top, "no SPF record at");
	else if (idx == -2)
		err = bad_record(ctx, resp, "several SPF records at",
		    domain);
	else
		err = compile_record(ctx, server, resp, recordp, domain,
		    t.rec[idx], t.len[idx]);
	auth_dns_txt_free(&t);
	return err;
}
