/*
 * test_dmarc_record.c - dmarc_record_parse() and its texts.
 *
 * Table-driven: each row is a record (exact length, so embedded NULs count)
 * and the struct that must come out.  Includes the records of RFC 7489
 * Appendix B.2 and the 6.6.3 fallback (invalid p with/without rua).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc_record.h"

#define S(x) x, sizeof(x) - 1
#define R DMARC_ALIGN_RELAXED
#define ST DMARC_ALIGN_STRICT
#define NONE DMARC_POLICY_NONE
#define QUAR DMARC_POLICY_QUARANTINE
#define REJ DMARC_POLICY_REJECT
#define UNSET DMARC_POLICY_UNSET

struct rec_case {
	const char *in;
	size_t len;
	enum dmarc_record_status st;
	enum dmarc_policy p, sp, np;
	enum dmarc_align adkim, aspf;
	unsigned pct, fo, rf;
	uint32_t ri;
	const char *rua;              /* expected span text, "" when absent */
	unsigned rua_count;
	const char *ruf;
	unsigned ruf_count;
	unsigned defaulted;
};

#define DEF_FO DMARC_FO_0
#define DEF_RF DMARC_RF_AFRF

static const struct rec_case cases[] = {
	/* RFC 7489 B.2.1 */
	{ S("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com"),
	  DMARC_RECORD_OK, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400,
	  "mailto:dmarc-feedback@example.com", 1, "", 0, 0 },
	/* B.2.2 */
	{ S("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net"),
	  DMARC_RECORD_OK, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400,
	  "mailto:dmarc-feedback@example.com", 1,
	  "mailto:auth-reports@thirdparty.example.net", 1, 0 },
	/* B.2.3 */
	{ S("v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net; pct=10"),
	  DMARC_RECORD_OK, QUAR, UNSET, UNSET, R, R, 10, DEF_FO, DEF_RF, 86400,
	  "mailto:dmarc-feedback@example.com", 1,
	  "mailto:auth-reports@thirdparty.example.net", 1, 0 },
	/* B.2.4 */
	{ S("v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m; pct=25"),
	  DMARC_RECORD_OK, QUAR, UNSET, UNSET, R, R, 25, DEF_FO, DEF_RF, 86400,
	  "mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m", 2, "", 0, 0 },
	/* 6.3 examples, every tag, odd spacing and case */
	{ S("v=DMARC1;p=reject;sp=none;np=quarantine;adkim=s;aspf=s;pct=0;fo=1:d:s;rf=afrf;ri=3600"),
	  DMARC_RECORD_OK, REJ, NONE, QUAR, ST, ST, 0, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S, DEF_RF, 3600,
	  "", 0, "", 0, 0 },
	{ S("v = DMARC1 ;  P = Reject ; ADKIM = S\t;fo = 0 : 1 ; rf=afrf:iodef;"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, ST, R, 100, DMARC_FO_0 | DMARC_FO_1,
	  DMARC_RF_AFRF | DMARC_RF_OTHER, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none; x-future=whatever; zz = 1 2 3"),
	  DMARC_RECORD_OK, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none; x=1; x=2"),
	  DMARC_RECORD_OK, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none;; junk ; =x ;"),
	  DMARC_RECORD_OK, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none; pct=100; pct2=5"),
	  DMARC_RECORD_OK, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=reject; pct=050"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 50, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=reject; rua=mailto:a@example.com!1"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400,
	  "mailto:a@example.com!1", 1, "", 0, 0 },
	{ S("v=DMARC1; p=reject; rua=mailto:a@x.example , https://r.example/x"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400,
	  "mailto:a@x.example , https://r.example/x", 2, "", 0, 0 },
	/* bad optional values: defaults, flagged */
	{ S("v=DMARC1; p=reject; pct=101; adkim=x; aspf=; fo=2; rf=-x; ri=4294967296; np=maybe"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_PCT | DMARC_TAG_ADKIM | DMARC_TAG_ASPF | DMARC_TAG_FO |
	  DMARC_TAG_RF | DMARC_TAG_RI | DMARC_TAG_NP },
	{ S("v=DMARC1; p=reject; pct=-1; ri=4294967295; fo=1:; rf=afrf:"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 4294967295u, "", 0, "", 0,
	  DMARC_TAG_PCT | DMARC_TAG_FO | DMARC_TAG_RF },
	{ S("v=DMARC1; p=reject; rua=foo; ruf=mailto:a@b!10x"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_RUA | DMARC_TAG_RUF },
	{ S("v=DMARC1; p=reject; rua=mailto:a@b,; ruf=1mailto:x"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_RUA | DMARC_TAG_RUF },
	{ S("v=DMARC1; p=reject; rua=mailto:; ruf=mailto:a b"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_RUA | DMARC_TAG_RUF },
	{ S("v=DMARC1; p=reject; pct=0100"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_PCT },
	{ S("v=DMARC1; p=reject; pct=5\x80"),
	  DMARC_RECORD_OK, REJ, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_PCT },
	/* 6.6.3: p missing/invalid or sp invalid */
	{ S("v=DMARC1; p=bogus; sp=reject; np=reject; rua=mailto:r@example.com"),
	  DMARC_RECORD_OK_AS_NONE, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400,
	  "mailto:r@example.com", 1, "", 0, DMARC_TAG_P },
	{ S("v=DMARC1; rua=mailto:r@example.com; pct=20"),
	  DMARC_RECORD_OK_AS_NONE, NONE, UNSET, UNSET, R, R, 20, DEF_FO, DEF_RF, 86400,
	  "mailto:r@example.com", 1, "", 0, 0 },
	{ S("v=DMARC1; p=reject; sp=hard; rua=mailto:r@example.com"),
	  DMARC_RECORD_OK_AS_NONE, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400,
	  "mailto:r@example.com", 1, "", 0, DMARC_TAG_SP },
	{ S("v=DMARC1; p=bogus"),
	  DMARC_RECORD_ERR_POLICY, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_P },
	{ S("v=DMARC1; p=reject; sp=hard"),
	  DMARC_RECORD_ERR_POLICY, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_SP },
	{ S("v=DMARC1"),
	  DMARC_RECORD_ERR_POLICY, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none\0"),
	  DMARC_RECORD_ERR_POLICY, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_P },
	{ S("v=DMARC1; rua=nope; p=quarantine2"),
	  DMARC_RECORD_ERR_POLICY, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0,
	  DMARC_TAG_P | DMARC_TAG_RUA },
	/* version */
	{ S(""), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=dmarc1; p=none"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC2; p=none"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("p=none; v=DMARC1"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S(" v=DMARC1; p=none"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1p=none"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=spf1 -all"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("vv=DMARC1; p=none"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("; v=DMARC1; p=none"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v DMARC1; p=none"), DMARC_RECORD_ERR_VERSION, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("V=DMARC1 ; p=none"), DMARC_RECORD_OK, NONE, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	/* duplicates (RFC 6376 3.2) */
	{ S("v=DMARC1; p=none; p=reject"), DMARC_RECORD_ERR_DUPLICATE, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none; v=DMARC1"), DMARC_RECORD_ERR_DUPLICATE, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none; PCT=5; pct=6"), DMARC_RECORD_ERR_DUPLICATE, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
	{ S("v=DMARC1; p=none; pct=x; pct=6"), DMARC_RECORD_ERR_DUPLICATE, UNSET, UNSET, UNSET, R, R, 100, DEF_FO, DEF_RF, 86400, "", 0, "", 0, 0 },
};

static void
check_span(const struct rec_case *c, struct dmarc_span sp, const char *want)
{
	size_t wl = strlen(want);

	assert_int_equal(sp.len, wl);
	if (wl > 0) {
		assert_true(sp.off + sp.len <= c->len);
		assert_memory_equal(c->in + sp.off, want, wl);
	}
}

static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct rec_case *c = &cases[i];
		struct dmarc_record r;
		enum dmarc_record_status st;

		print_message("case %zu: %.*s\n", i, (int)c->len, c->in);
		st = dmarc_record_parse(c->in, c->len, &r);
		assert_int_equal(st, c->st);
		assert_int_equal(r.p, c->p);
		assert_int_equal(r.sp, c->sp);
		assert_int_equal(r.np, c->np);
		assert_int_equal(r.adkim, c->adkim);
		assert_int_equal(r.aspf, c->aspf);
		assert_int_equal(r.pct, c->pct);
		assert_int_equal(r.fo, c->fo);
		assert_int_equal(r.rf, c->rf);
		assert_int_equal(r.ri, c->ri);
		check_span(c, r.rua, c->rua);
		check_span(c, r.ruf, c->ruf);
		assert_int_equal(r.rua_count, c->rua_count);
		assert_int_equal(r.ruf_count, c->ruf_count);
		assert_int_equal(r.defaulted, c->defaulted);
	}
}

/* No NUL is read past len: a record cut in the middle of a tag. */
static void
test_prefix_lengths(void **state)
{
	static const char rec[] = "v=DMARC1; p=reject; pct=50";
	struct dmarc_record r;
	size_t n;

	(void)state;
	for (n = 0; n < sizeof rec - 1; n++) {
		char *copy = test_malloc(n + 1);

		memcpy(copy, rec, n);
		dmarc_record_parse(copy, n, &r);
		test_free(copy);
	}
	assert_int_equal(dmarc_record_parse(rec, 14, &r), DMARC_RECORD_ERR_POLICY);
	assert_int_equal(dmarc_record_parse(rec, 17, &r), DMARC_RECORD_ERR_POLICY);
	assert_int_equal(dmarc_record_parse(rec, 18, &r), DMARC_RECORD_OK);
	assert_int_equal(dmarc_record_parse(rec, 25, &r), DMARC_RECORD_OK);
	assert_int_equal(r.pct, 5);
}

static void
test_texts(void **state)
{
	static const enum dmarc_record_status all[] = {
		DMARC_RECORD_OK, DMARC_RECORD_OK_AS_NONE, DMARC_RECORD_ERR_VERSION,
		DMARC_RECORD_ERR_DUPLICATE, DMARC_RECORD_ERR_POLICY,
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof all / sizeof all[0]; i++)
		for (j = i + 1; j < sizeof all / sizeof all[0]; j++)
			assert_string_not_equal(dmarc_record_status_text(all[i]),
			    dmarc_record_status_text(all[j]));
	assert_string_equal(dmarc_record_status_text((enum dmarc_record_status)99),
	    "unknown status");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_NONE), "none");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_REJECT), "reject");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_UNSET), "unset");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_prefix_lengths),
		cmocka_unit_test(test_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
