/*
 * spf_internal.h - state shared by spf.c, spf_dns.c, spf_getspf.c and
 * spf_magic.c for one SPF check.
 *
 * struct spf_ctx lives on the stack of spf_check(); libspf2 reaches it
 * through SPF_dns_server_t.hook.  "forced" records the first event after
 * which RFC 7208 stops evaluating (DNS failure -> temperror; void-lookup
 * or term limit, missing/duplicate/invalid include or redirect target ->
 * permerror); libspf2 may carry on past it, so spf_check() lets the first
 * forced result win over whatever libspf2 returns.
 */
#ifndef CUTOVER_SPF_INTERNAL_H
#define CUTOVER_SPF_INTERNAL_H

#include <netinet/in.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "dns.h"
#include "spf.h"
#include "spf_exp.h"

#define SPF_VOID_LIMIT 2     /* RFC 7208 4.6.4 */
#define SPF_MX_LIMIT 10      /* RFC 7208 4.6.4 */
#define SPF_TERM_LIMIT 10    /* RFC 7208 4.6.4: DNS-querying terms */
#define SPF_PTR_LIMIT 10     /* RFC 7208 4.6.4: PTR names looked at */
#define SPF_NAME_MAX 256
#define SPF_EXP_MAX 1024     /* an expanded exp= text */

struct spf_ctx {
	struct auth_dns *dns;
	struct auth_dns_tally tally;   /* lookups made by mechanisms */
	unsigned records;              /* SPF records fetched so far */
	unsigned terms;                /* DNS-querying terms evaluated */
	int client_v6;                 /* the client is IPv6 (not mapped) */
	SPF_request_t *req;            /* for %{d} and %{p} in exp= text */
	struct spf_exp_env exp;        /* the rest of the exp= macros */
	/* Names of the last PTR answer: the address lookups right after it
	 * validate them (ptr, %{p}); a DNS error there skips the name
	 * (RFC 7208 5.5) instead of giving temperror. */
	size_t nptr;
	char ptr_names[SPF_PTR_LIMIT][SPF_NAME_MAX];
	int forced;                    /* 1 once forced_result is set */
	enum spf_result forced_result;
	char problem[SPF_TEXT_MAX];
};

SPF_dns_server_t *spf_dns_layer_new(struct spf_ctx *ctx);
SPF_errcode_t spf_layer_get_spf(SPF_server_t *server, SPF_request_t *req,
    SPF_response_t *resp, SPF_record_t **recordp);
void spf_dns_layer_free(SPF_dns_server_t *d);
void spf_ctx_force(struct spf_ctx *ctx, enum spf_result r, const char *what,
    const char *arg);
int spf_domain_ok(const char *name, size_t len);
const char *spf_domain_trim(const char *name, size_t *len);
enum auth_dns_status spf_magic_lookup(struct spf_ctx *ctx, SPF_dns_rr_t *rr,
    const char *name, size_t len);
int spf_rr_add(SPF_dns_rr_t *rr, const void *p, size_t len, int nul);

#endif
