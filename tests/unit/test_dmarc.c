/*
 * test_dmarc.c - dmarc_discover() over a fake DNS table and the pure
 * dmarc_evaluate() over given SPF/DKIM/record inputs (RFC 7489).
 *
 * The fake DNS is a table of (name, status, up to 3 TXT records); a name
 * not in it is NXDOMAIN.  Each discovery row also counts the lookups, so
 * "no fallback to the org domain after several records" is checked, not
 * assumed.  Needs the Debian `publicsuffix` list (org domains).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc.h"

/* ---- fake DNS ----------------------------------------------------------- */

struct zone_row {
	const char *name;
	enum auth_dns_status st;
	const char *rec[3];
};

static const struct zone_row zone[] = {
	{ "_dmarc.reject.test", AUTH_DNS_OK,
	  { "v=DMARC1; p=reject; sp=quarantine", "some other txt" } },
	{ "_dmarc.example.com", AUTH_DNS_OK, { "v=DMARC1; p=quarantine" } },
	{ "_dmarc.two.test", AUTH_DNS_OK, { "v=DMARC1; p=none", "v=DMARC1; p=reject" } },
	{ "_dmarc.sub.two.test", AUTH_DNS_OK, { "v=DMARC1; p=reject", "v=DMARC1; p=none" } },
	{ "_dmarc.dup.test", AUTH_DNS_OK, { "v=DMARC1; p=none; p=reject" } },
	{ "_dmarc.nop.test", AUTH_DNS_OK, { "v=DMARC1; adkim=s" } },
	{ "_dmarc.tmp.test", AUTH_DNS_TEMPFAIL, { NULL } },
	{ "_dmarc.a.tmp2.test", AUTH_DNS_NODATA, { NULL } },
	{ "_dmarc.tmp2.test", AUTH_DNS_TEMPFAIL, { NULL } },
	{ "_dmarc.other.test", AUTH_DNS_OK, { "v=spf1 -all", "v=DMARC2; p=none" } },
	{ "_dmarc.lower.test", AUTH_DNS_OK, { "V=DMARC1; p=reject" } },
	{ "_dmarc.ver.test", AUTH_DNS_OK, { "v=DMARC1 p=reject", "v=dmarc1; p=reject" } },
	{ "_dmarc.asnone.test", AUTH_DNS_OK,
	  { "v=DMARC1; p=bogus; rua=mailto:d@asnone.test" } },
};

struct fake {
	unsigned lookups;
	char last[300];
};

static enum auth_dns_status
fake_txt(void *arg, const char *name, struct auth_dns_txt *out)
{
	static size_t lens[3];
	struct fake *f = arg;
	size_t i, n;

	f->lookups++;
	strncpy(f->last, name, sizeof f->last - 1);
	memset(out, 0, sizeof *out);
	for (i = 0; i < sizeof zone / sizeof zone[0]; i++) {
		if (strcmp(zone[i].name, name) != 0)
			continue;
		for (n = 0; n < 3 && zone[i].rec[n] != NULL; n++)
			lens[n] = strlen(zone[i].rec[n]);
		out->n = zone[i].st == AUTH_DNS_OK ? n : 0;
		out->rec = (char **)(uintptr_t)zone[i].rec;
		out->len = lens;
		return zone[i].st;
	}
	return AUTH_DNS_NXDOMAIN;
}

static void
fake_free(void *arg, struct auth_dns_txt *t)
{
	(void)arg;
	memset(t, 0, sizeof *t);
}

struct disc_case {
	const char *from;
	enum dmarc_found_status want;
	const char *domain;           /* where it ended */
	bool at_org;
	enum dmarc_policy p;          /* when RECORD */
	unsigned lookups;
};

static const struct disc_case disc_cases[] = {
	{ "reject.test", DMARC_FOUND_RECORD, "reject.test", false,
	  DMARC_POLICY_REJECT, 1 },
	{ "mail.reject.test", DMARC_FOUND_RECORD, "reject.test", true,
	  DMARC_POLICY_REJECT, 2 },
	{ "a.b.example.com", DMARC_FOUND_RECORD, "example.com", true,
	  DMARC_POLICY_QUARANTINE, 2 },
	{ "nothing.test", DMARC_FOUND_NONE, "nothing.test", false, 0, 1 },
	{ "x.nothing.test", DMARC_FOUND_NONE, "nothing.test", true, 0, 2 },
	{ "two.test", DMARC_FOUND_MULTIPLE, "two.test", false, 0, 1 },
	{ "sub.two.test", DMARC_FOUND_MULTIPLE, "sub.two.test", false, 0, 1 },
	{ "dup.test", DMARC_FOUND_INVALID, "dup.test", false, 0, 1 },
	{ "nop.test", DMARC_FOUND_INVALID, "nop.test", false, 0, 1 },
	{ "tmp.test", DMARC_FOUND_TEMPFAIL, "tmp.test", false, 0, 1 },
	{ "a.tmp2.test", DMARC_FOUND_TEMPFAIL, "tmp2.test", true, 0, 2 },
	{ "other.test", DMARC_FOUND_NONE, "other.test", false, 0, 1 },
	{ "lower.test", DMARC_FOUND_RECORD, "lower.test", false,
	  DMARC_POLICY_REJECT, 1 },
	{ "asnone.test", DMARC_FOUND_RECORD, "asnone.test", false,
	  DMARC_POLICY_NONE, 1 },
	{ "ver.test", DMARC_FOUND_NONE, "ver.test", false, 0, 1 },
	{ "", DMARC_FOUND_BAD_DOMAIN, "", false, 0, 0 },
	{ "bad..test", DMARC_FOUND_BAD_DOMAIN, "", false, 0, 0 },
};

static void
test_discover_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof disc_cases / sizeof disc_cases[0]; i++) {
		const struct disc_case *c = &disc_cases[i];
		struct fake f = { 0 };
		struct dmarc_dns dns = { fake_txt, fake_free, &f };
		struct dmarc_found got;

		print_message("case %zu: %s\n", i, c->from);
		dmarc_discover(&dns, c->from, &got);
		assert_int_equal(got.status, c->want);
		assert_string_equal(got.domain, c->domain);
		assert_int_equal(got.at_org, c->at_org);
		assert_int_equal(f.lookups, c->lookups);
		if (c->want == DMARC_FOUND_RECORD) {
			assert_int_equal(got.rec.p, c->p);
			assert_int_equal(got.rec.rua.len, 0);
		}
	}
}

/* ---- evaluation --------------------------------------------------------- */

struct eval_case {
	const char *name;
	enum from_domain_error from_error;
	const char *from;
	const char *record;           /* NULL: found.status = fstatus */
	enum dmarc_found_status fstatus;
	bool at_org;
	bool spf_pass;
	const char *spf_domain;
	const char *d1; bool pass1; bool ok1;   /* d1 NULL: no signature */
	const char *d2; bool pass2; bool ok2;
	unsigned sample;
	enum dmarc_result want;
	enum dmarc_policy want_policy;
	enum dmarc_disposition want_disp;
	bool want_spf, want_dkim, want_sampled_out;
};

#define R_REJ  "v=DMARC1; p=reject"
#define OK     FROM_DOMAIN_OK
#define REC    DMARC_FOUND_RECORD
#define P(x)   DMARC_POLICY_##x
#define D(x)   DMARC_DISP_##x
#define RES(x) DMARC_RESULT_##x

static const struct eval_case eval_cases[] = {
	{ "spf relaxed pass", OK, "example.com", R_REJ, REC, false,
	  true, "mail.example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(PASS), P(REJECT), D(NONE), true, false, false },
	{ "spf strict misaligned", OK, "example.com",
	  "v=DMARC1; p=reject; aspf=s", REC, false,
	  true, "mail.example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "spf strict exact", OK, "example.com", "v=DMARC1; p=reject; aspf=s",
	  REC, false, true, "EXAMPLE.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(PASS), P(REJECT), D(NONE), true, false, false },
	{ "spf aligned but not pass", OK, "example.com", R_REJ, REC, false,
	  false, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "spf no domain", OK, "example.com", R_REJ, REC, false,
	  true, NULL, NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "dkim relaxed pass", OK, "news.example.com", R_REJ, REC, false,
	  false, NULL, "example.com", true, true, NULL, 0, 0, 0,
	  RES(PASS), P(REJECT), D(NONE), false, true, false },
	{ "dkim strict misaligned", OK, "news.example.com",
	  "v=DMARC1; p=reject; adkim=s", REC, false,
	  false, NULL, "example.com", true, true, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "dkim l= not aligned_ok", OK, "example.com", R_REJ, REC, false,
	  false, NULL, "example.com", true, false, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "dkim failing sig", OK, "example.com", R_REJ, REC, false,
	  false, NULL, "example.com", false, true, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "dkim second sig aligned", OK, "example.com", R_REJ, REC, false,
	  false, NULL, "esp.test", true, true, "example.com", true, true, 0,
	  RES(PASS), P(REJECT), D(NONE), false, true, false },
	{ "dkim other org", OK, "example.com", R_REJ, REC, false,
	  true, "example.net", "example.org", true, true, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "psl boundary not aligned", OK, "a.co.uk", R_REJ, REC, false,
	  true, "b.co.uk", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "quarantine", OK, "example.com", "v=DMARC1; p=quarantine", REC, false,
	  false, NULL, NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(QUARANTINE), D(QUARANTINE), false, false, false },
	{ "p=none", OK, "example.com", "v=DMARC1; p=none", REC, false,
	  false, NULL, NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(NONE), D(NONE), false, false, false },
	{ "sp at org", OK, "sub.example.com",
	  "v=DMARC1; p=reject; sp=none", REC, true,
	  false, NULL, NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(NONE), D(NONE), false, false, false },
	{ "sp ignored at own name", OK, "sub.example.com",
	  "v=DMARC1; p=reject; sp=none", REC, false,
	  false, NULL, NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "no sp at org: p", OK, "sub.example.com", R_REJ, REC, true,
	  false, NULL, NULL, 0, 0, NULL, 0, 0, 0,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "pct in sample", OK, "example.com", "v=DMARC1; p=reject; pct=50", REC,
	  false, false, NULL, NULL, 0, 0, NULL, 0, 0, 49,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "pct out: reject->quarantine", OK, "example.com",
	  "v=DMARC1; p=reject; pct=50", REC, false, false, NULL, NULL, 0, 0,
	  NULL, 0, 0, 50,
	  RES(FAIL), P(REJECT), D(QUARANTINE), false, false, true },
	{ "pct out: quarantine->none", OK, "example.com",
	  "v=DMARC1; p=quarantine; pct=0", REC, false, false, NULL, NULL, 0, 0,
	  NULL, 0, 0, 0,
	  RES(FAIL), P(QUARANTINE), D(NONE), false, false, true },
	{ "pct 100 sample 99", OK, "example.com", R_REJ, REC, false,
	  false, NULL, NULL, 0, 0, NULL, 0, 0, 99,
	  RES(FAIL), P(REJECT), D(REJECT), false, false, false },
	{ "no record", OK, "example.com", NULL, DMARC_FOUND_NONE, false,
	  true, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(NONE), P(UNSET), D(NONE), false, false, false },
	{ "multiple records", OK, "example.com", NULL, DMARC_FOUND_MULTIPLE,
	  false, false, NULL, NULL, 0, 0, NULL, 0, 0, 0,
	  RES(NONE), P(UNSET), D(NONE), false, false, false },
	{ "invalid record", OK, "example.com", NULL, DMARC_FOUND_INVALID, false,
	  true, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(PERMERROR), P(UNSET), D(NONE), false, false, false },
	{ "dns failure", OK, "example.com", NULL, DMARC_FOUND_TEMPFAIL, false,
	  true, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(TEMPERROR), P(UNSET), D(NONE), false, false, false },
	{ "bad domain", OK, "example.com", NULL, DMARC_FOUND_BAD_DOMAIN, false,
	  true, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(PERMERROR), P(UNSET), D(NONE), false, false, false },
	{ "multiple From", FROM_DOMAIN_ERR_MULTIPLE, NULL, R_REJ, REC, false,
	  true, "example.com", "example.com", true, true, NULL, 0, 0, 0,
	  RES(PERMERROR), P(UNSET), D(NONE), false, false, false },
	{ "missing From", FROM_DOMAIN_ERR_MISSING, NULL, R_REJ, REC, false,
	  true, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(PERMERROR), P(UNSET), D(NONE), false, false, false },
	{ "several mailboxes", FROM_DOMAIN_ERR_MAILBOXES, NULL, R_REJ, REC,
	  false, true, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(PERMERROR), P(UNSET), D(NONE), false, false, false },
	{ "OK without domain", OK, NULL, R_REJ, REC, false,
	  true, "example.com", NULL, 0, 0, NULL, 0, 0, 0,
	  RES(PERMERROR), P(UNSET), D(NONE), false, false, false },
};

static void
run_eval(const struct eval_case *c)
{
	struct dmarc_dkim_sig sigs[2] = {
		{ c->d1, c->pass1, c->ok1 }, { c->d2, c->pass2, c->ok2 },
	};
	struct dmarc_input in = {
		.from_error = c->from_error, .from_domain = c->from,
		.spf_pass = c->spf_pass, .spf_domain = c->spf_domain,
		.sigs = sigs, .nsigs = c->d2 ? 2 : c->d1 ? 1 : 0,
		.sample = c->sample,
	};
	struct dmarc_found found = { .status = c->fstatus, .at_org = c->at_org };
	struct dmarc_verdict v;

	if (c->record != NULL) {
		enum dmarc_record_status st = dmarc_record_parse(c->record,
		    strlen(c->record), &found.rec);

		assert_true(st == DMARC_RECORD_OK);
	}
	dmarc_evaluate(&in, &found, &v);
	assert_string_equal(dmarc_result_name(v.result),
	    dmarc_result_name(c->want));
	assert_int_equal(v.policy, c->want_policy);
	assert_string_equal(dmarc_disposition_name(v.disposition),
	    dmarc_disposition_name(c->want_disp));
	assert_int_equal(v.spf_aligned, c->want_spf);
	assert_int_equal(v.dkim_aligned, c->want_dkim);
	assert_int_equal(v.sampled_out, c->want_sampled_out);
	assert_non_null(v.reason);
	if (v.dkim_aligned)
		assert_string_equal(sigs[v.dkim_sig].d, "example.com");
}

static void
test_evaluate_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof eval_cases / sizeof eval_cases[0]; i++) {
		print_message("case %zu: %s\n", i, eval_cases[i].name);
		run_eval(&eval_cases[i]);
	}
}

static void
test_evaluate_null_found(void **state)
{
	struct dmarc_input in = { .from_error = OK, .from_domain = "example.com" };
	struct dmarc_verdict v;

	(void)state;
	dmarc_evaluate(&in, NULL, &v);
	assert_int_equal(v.result, DMARC_RESULT_PERMERROR);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(dmarc_result_name(DMARC_RESULT_NONE), "none");
	assert_string_equal(dmarc_result_name(DMARC_RESULT_PASS), "pass");
	assert_string_equal(dmarc_result_name(DMARC_RESULT_FAIL), "fail");
	assert_string_equal(dmarc_result_name(DMARC_RESULT_TEMPERROR), "temperror");
	assert_string_equal(dmarc_result_name(DMARC_RESULT_PERMERROR), "permerror");
	assert_string_equal(dmarc_result_name((enum dmarc_result)99), "unknown");
	assert_string_equal(dmarc_disposition_name(DMARC_DISP_NONE), "none");
	assert_string_equal(dmarc_disposition_name(DMARC_DISP_QUARANTINE),
	    "quarantine");
	assert_string_equal(dmarc_disposition_name(DMARC_DISP_REJECT), "reject");
	assert_string_equal(dmarc_disposition_name((enum dmarc_disposition)99),
	    "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discover_table),
		cmocka_unit_test(test_evaluate_table),
		cmocka_unit_test(test_evaluate_null_found),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
