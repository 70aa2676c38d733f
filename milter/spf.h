/*
 * spf.h - SPF check (RFC 7208) for the MAIL FROM identity, or the HELO
 * identity for the null sender, with libspf2 doing the evaluation behind
 * our own DNS layer and record checks (see spf.c for what is wrapped).
 *
 * Public functions:
 *   spf_checker_new/free()  one per process or config; holds the resolver
 *                           and the receiver name (used by the %{r} macro)
 *   spf_check()             one check -> struct spf_outcome
 *   spf_result_name()       RFC 8601 2.7.2 names: none, pass, ...
 *
 * Thread-safe: spf_check() may run on several threads with one checker;
 * each call builds its own libspf2 server and request (measured: see the
 * README text, well under the cost of one DNS round trip).
 * Never a pass or none from a DNS failure: that is temperror.
 */
#ifndef CUTOVER_SPF_H
#define CUTOVER_SPF_H

#include <stddef.h>

struct auth_dns;
struct spf_checker;

/* Numerically equal to enum authres_result (authres.h) for the values SPF
 * has, so a caller may convert with a plain cast. */
enum spf_result {
	SPF_CHECK_NONE = 0,
	SPF_CHECK_PASS = 1,
	SPF_CHECK_FAIL = 2,
	SPF_CHECK_SOFTFAIL = 3,
	SPF_CHECK_NEUTRAL = 4,
	SPF_CHECK_TEMPERROR = 6,
	SPF_CHECK_PERMERROR = 7,
};

#define SPF_TEXT_MAX 512

struct spf_outcome {
	enum spf_result result;
	int helo_identity;                /* 1: the HELO name was checked */
	char domain[256];                 /* the domain checked ("" if none) */
	char explanation[SPF_TEXT_MAX];   /* exp= text on fail, else "" */
	char problem[SPF_TEXT_MAX];       /* why temperror/permerror/none */
};

struct spf_checker *spf_checker_new(struct auth_dns *dns,
    const char *receiver_name);
void spf_checker_free(struct spf_checker *c);
enum spf_result spf_check(struct spf_checker *c, const char *client_ip,
    const char *helo, const char *mailfrom, struct spf_outcome *out);
const char *spf_result_name(enum spf_result r);

#endif
