/*
 * fuzz_spf_eval.c - libFuzzer target for what libspf2 is given by the SPF
 * check: a record that passed our syntax check (milter/spf_record.c) and
 * was rewritten (milter/spf_rewrite.c), compiled by SPF_record_compile()
 * and evaluated for a sender whose local part is any bytes (it comes from
 * MAIL FROM), so that libspf2's compiler and macro expansion see every
 * record and sender an attacker could send us.  Never a crash.
 *
 * Input: one flag byte (bit 0: IPv6 client, bit 1: the null sender, HELO
 * identity), the local part up to the first LF, then the record.  DNS is
 * libspf2's in-memory zone holding only that record at the sender's
 * domain (every other name has no records), so no lookup leaves the
 * process; the production path differs only in its DNS layer
 * (milter/spf_dns.c), which is exercised by the integration tests.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include "spf_record.h"
#include "spf_rewrite.h"

#define DOMAIN "spf.example"
#define HELO "mx.spf.example"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	return 0;
}

static void
evaluate(const char *record, const char *sender, int v6, int null_sender)
{
	SPF_server_t *server = SPF_server_new(SPF_DNS_ZONE, 0);
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	struct in_addr a4;
	struct in6_addr a6;

	if (server == NULL)
		return;
	SPF_server_set_rec_dom(server, "receiver.example");
	SPF_server_set_max_dns_mech(server, 10);
	if (SPF_dns_zone_add_str(server->resolver, null_sender ? HELO : DOMAIN,
	    ns_t_txt, NETDB_SUCCESS, record) != SPF_E_SUCCESS)
		goto out;
	req = SPF_request_new(server);
	if (req == NULL)
		goto out;
	if (v6) {
		inet_pton(AF_INET6, "2001:db8::25", &a6);
		SPF_request_set_ipv6(req, a6);
	} else {
		inet_pton(AF_INET, "192.0.2.25", &a4);
		SPF_request_set_ipv4(req, a4);
	}
	SPF_request_set_helo_dom(req, HELO);
	if (SPF_request_set_env_from(req, null_sender ? "" : sender) == 0) {
		SPF_request_query_mailfrom(req, &resp);
		if (resp != NULL) {
			(void)SPF_response_get_explanation(resp);
			SPF_response_free(resp);
		}
	}
	SPF_request_free(req);
out:
	SPF_server_free(server);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *lf;
	size_t llen, rlen;
	char *sender, *rec;

	if (size < 1 || memchr(data, '\0', size) != NULL)
		return 0;
	lf = memchr(p + 1, '\n', size - 1);
	if (lf == NULL)
		return 0;
	llen = (size_t)(lf - (p + 1));
	rlen = size - llen - 2;
	if (spf_record_check(lf + 1, rlen, NULL, 0) != 0)
		return 0;
	rec = spf_rewrite(lf + 1, rlen, data[0] & 1);
	sender = malloc(llen + sizeof("@" DOMAIN));
	if (rec != NULL && sender != NULL) {
		memcpy(sender, p + 1, llen);
		memcpy(sender + llen, "@" DOMAIN, sizeof("@" DOMAIN));
		evaluate(rec, sender, data[0] & 1, data[0] & 2);
	}
	free(sender);
	free(rec);
	return 0;
}
