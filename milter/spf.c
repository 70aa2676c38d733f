/*
 * spf.c - one SPF check (RFC 7208): identity selection and initial
 * processing (4.3), then libspf2's evaluation through our DNS layer
 * (spf_dns.c), then the result mapping.
 *
 * Public functions: spf_checker_new/free, spf_check, spf_result_name.
 *
 * What is ours and why (libspf2 1.2.10 departs from RFC 7208): the record
 * is fetched, selected and syntax-checked by us, then rewritten
 * (spf_rewrite.h: /0 lengths, the 10-term counter, modifier order) before
 * SPF_record_compile; DNS failures and the void-lookup and term limits are
 * seen by our layer, which "forces" the result RFC 7208 prescribes at the
 * first such event; libspf2 still evaluates the mechanisms and macros.
 * An IPv4-mapped IPv6 client is checked as its IPv4 address (RFC 7208 5).
 * Identity: MAIL FROM's domain; for the null sender "postmaster@HELO"
 * (2.4).  A malformed or single-label domain, or an address literal as
 * HELO, gives none without any DNS query (4.3).
 * Thread-safety: a libspf2 server, request and DNS layer per call, nothing
 * shared but the read-only checker and the thread-safe struct auth_dns.
 */
#include "spf.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spf_internal.h"

/* libspf2 counts terms per record, and our rewrite adds a counting term
 * before each (spf_rewrite.h): our layer enforces RFC 7208's 10, so
 * libspf2's own limit is set out of the way. */
#define LIBSPF2_TERM_LIMIT 100

struct spf_checker {
	struct auth_dns *dns;
	char receiver[256];
};

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void
quiet_libspf2(void)
{
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
}

struct spf_checker *
spf_checker_new(struct auth_dns *dns, const char *receiver_name)
{
	struct spf_checker *c;
	int n;

	if (dns == NULL)
		return NULL;
	pthread_once(&log_once, quiet_libspf2);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->dns = dns;
	n = snprintf(c->receiver, sizeof(c->receiver), "%s",
	    receiver_name && *receiver_name ? receiver_name : "unknown");
	if (n < 0 || (size_t)n >= sizeof(c->receiver)) {
		free(c);
		return NULL;
	}
	return c;
}

void
spf_checker_free(struct spf_checker *c)
{
	free(c);
}

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_CHECK_NONE:
		return "none";
	case SPF_CHECK_PASS:
		return "pass";
	case SPF_CHECK_FAIL:
		return "fail";
	case SPF_CHECK_SOFTFAIL:
		return "softfail";
	case SPF_CHECK_NEUTRAL:
		return "neutral";
	case SPF_CHECK_TEMPERROR:
		return "temperror";
	case SPF_CHECK_PERMERROR:
		return "permerror";
	}
	return "temperror";
}

static enum spf_result
map_result(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_NEUTRAL:
		return SPF_CHECK_NEUTRAL;
	case SPF_RESULT_PASS:
		return SPF_CHECK_PASS;
	case SPF_RESULT_FAIL:
		return SPF_CHECK_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPF_CHECK_SOFTFAIL;
	case SPF_RESULT_NONE:
		return SPF_CHECK_NONE;
	case SPF_RESULT_PERMERROR:
		return SPF_CHECK_PERMERROR;
	default:
		return SPF_CHECK_TEMPERROR;
	}
}

static void
set_text(char *dst, size_t len, const char *src)
{
	int n = snprintf(dst, len, "%s", src ? src : "");

	if (n < 0 || (size_t)n >= len)
		dst[len - 1] = '\0';
}

static enum spf_result
finish(struct spf_outcome *out, enum spf_result r, const char *problem)
{
	out->result = r;
	if (problem != NULL && out->problem[0] == '\0')
		set_text(out->problem, sizeof(out->problem), problem);
	return r;
}

/* Fills out->domain and sender ("postmaster@HELO" for the null sender). */
static int
pick_identity(const char *helo, const char *mailfrom, struct spf_outcome *out,
    char *sender, size_t slen)
{
	const char *at, *dom;
	int n;

	out->helo_identity = mailfrom == NULL || mailfrom[0] == '\0';
	if (out->helo_identity) {
		dom = helo ? helo : "";
		n = snprintf(sender, slen, "postmaster@%s", dom);
	} else {
		at = strrchr(mailfrom, '@');
		dom = at ? at + 1 : mailfrom;
		if (at == mailfrom || at == NULL)
			n = snprintf(sender, slen, "postmaster@%s", dom);
		else
			n = snprintf(sender, slen, "%s", mailfrom);
	}
	set_text(out->domain, sizeof(out->domain), dom);
	if (n < 0 || (size_t)n >= slen)
		return -1;
	return dom[0] == '[' ? -1 : spf_domain_ok(dom, strlen(dom)) ? 0 : -1;
}

/* The client address; an IPv4-mapped IPv6 one is the IPv4 address (RFC
 * 7208 5: it matches ip4, never ip6, and a/mx look up A records). */
static SPF_errcode_t
set_client(struct spf_ctx *ctx, SPF_request_t *req, const char *ip)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		memcpy(ctx->exp.ip, &a4.s_addr, 4);
		return SPF_request_set_ipv4(req, a4);
	}
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return SPF_E_INVALID_IP4;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4.s_addr, a6.s6_addr + 12, 4);
		memcpy(ctx->exp.ip, &a4.s_addr, 4);
		return SPF_request_set_ipv4(req, a4);
	}
	ctx->client_v6 = 1;
	ctx->exp.v6 = 1;
	memcpy(ctx->exp.ip, a6.s6_addr, 16);
	return SPF_request_set_ipv6(req, a6);
}

static int
set_request(struct spf_ctx *ctx, SPF_request_t *req, const char *ip,
    const char *helo, const char *sender)
{
	SPF_errcode_t e;

	e = set_client(ctx, req, ip);
	if (e == SPF_E_SUCCESS && helo != NULL && helo[0] != '\0')
		e = SPF_request_set_helo_dom(req, helo);
	if (e == SPF_E_SUCCESS && SPF_request_set_env_from(req, sender) != 0)
		e = SPF_E_INVALID_CHAR;
	ctx->req = req;
	ctx->exp.sender = sender;
	ctx->exp.helo = helo ? helo : "";
	ctx->exp.now = (long long)time(NULL);
	return e == SPF_E_SUCCESS ? 0 : -1;
}

static void
first_error(SPF_response_t *resp, struct spf_outcome *out)
{
	SPF_error_t *e;

	if (resp == NULL || SPF_response_messages(resp) == 0)
		return;
	e = SPF_response_message(resp, 0);
	if (e != NULL && out->problem[0] == '\0')
		set_text(out->problem, sizeof(out->problem),
		    SPF_error_message(e));
}

static enum spf_result
evaluate(struct spf_ctx *ctx, SPF_server_t *server, const char *ip,
    const char *helo, const char *sender, struct spf_outcome *out)
{
	SPF_request_t *req = SPF_request_new(server);
	SPF_response_t *resp = NULL;
	enum spf_result r;

	if (req == NULL)
		return finish(out, SPF_CHECK_TEMPERROR, "out of memory");
	if (set_request(ctx, req, ip, helo, sender) != 0) {
		SPF_request_free(req);
		return finish(out, SPF_CHECK_PERMERROR,
		    "unusable client IP, HELO or sender");
	}
	SPF_request_query_mailfrom(req, &resp);
	r = resp ? map_result(SPF_response_result(resp)) : SPF_CHECK_TEMPERROR;
	if (ctx->forced) {
		r = ctx->forced_result;
		set_text(out->problem, sizeof(out->problem), ctx->problem);
	}
	if (r == SPF_CHECK_FAIL && resp != NULL)
		set_text(out->explanation, sizeof(out->explanation),
		    SPF_response_get_explanation(resp));
	else if (r != SPF_CHECK_PASS)
		first_error(resp, out);
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	return finish(out, r, NULL);
}

enum spf_result
spf_check(struct spf_checker *c, const char *client_ip, const char *helo,
    const char *mailfrom, struct spf_outcome *out)
{
	struct spf_ctx ctx;
	SPF_dns_server_t *layer;
	SPF_server_t *server;
	char sender[1024];
	enum spf_result r;

	memset(out, 0, sizeof(*out));
	if (c == NULL || client_ip == NULL)
		return finish(out, SPF_CHECK_TEMPERROR, "no checker or client");
	if (pick_identity(helo, mailfrom, out, sender, sizeof(sender)) != 0)
		return finish(out, SPF_CHECK_NONE, "no usable domain to check");
	memset(&ctx, 0, sizeof(ctx));
	ctx.dns = c->dns;
	layer = spf_dns_layer_new(&ctx);
	server = layer ? SPF_server_new_dns(layer, 0) : NULL;
	if (server == NULL) {
		spf_dns_layer_free(layer);
		return finish(out, SPF_CHECK_TEMPERROR, "out of memory");
	}
	SPF_server_set_rec_dom(server, c->receiver);
	ctx.exp.receiver = c->receiver;
	SPF_server_set_max_dns_mech(server, LIBSPF2_TERM_LIMIT);
	r = evaluate(&ctx, server, client_ip, helo, sender, out);
	SPF_server_free(server);
	spf_dns_layer_free(layer);
	return r;
}
