/*
 * test_spf_record.c - the SPF record pre-validator (milter/spf_record.c),
 * table-driven: record text in, valid or permerror out (RFC 7208 section
 * 12 ABNF, 4.5 selection, 6 duplicate modifiers), plus record selection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "spf_record.h"

struct check_case {
	const char *rec;
	int want;       /* 0 valid, -1 permerror */
};

static const struct check_case checks[] = {
	{ "v=spf1", 0 },
	{ "v=spf1 -all", 0 },
	{ "v=spf1  a  -all  ", 0 },
	{ "V=SPF1 MX:example.com/24//64 ~ALL", 0 },
	{ "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", 0 },
	{ "v=spf1 ip4:0.0.0.0/0 ip6:::/0", 0 },
	{ "v=spf1 a/0 a//0 mx/32//128", 0 },
	{ "v=spf1 include:_spf.example.com exists:%{i}.x.example.com", 0 },
	{ "v=spf1 ptr ptr:example.com ?all", 0 },
	{ "v=spf1 redirect=_spf.example.com", 0 },
	{ "v=spf1 exp=exp.example.com -all", 0 },
	{ "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", 0 },
	{ "v=spf1 a:%{d}", 0 },
	{ "v=spf1 a:%{l1r-}.example.com. -all", 0 },
	{ "v=spf1 x=%% y=%_ z=%-", 0 },
	{ "v=spf1 include:example.com.", 0 },
	{ "v=spf1 foo -all", -1 },
	{ "v=spf1 -all.", -1 },
	{ "v=spf1 -all:foobar", -1 },
	{ "v=spf1 include:", -1 },
	{ "v=spf1 include", -1 },
	{ "v=spf1 exists", -1 },
	{ "v=spf1 exists:", -1 },
	{ "v=spf1 a:111.222.33.44", -1 },
	{ "v=spf1 a:example.com:8080", -1 },
	{ "v=spf1 a//129 -all", -1 },
	{ "v=spf1 a/33 -all", -1 },
	{ "v=spf1 a/01 -all", -1 },
	{ "v=spf1 ip4:1.2.3.4/33", -1 },
	{ "v=spf1 ip4:1.2.3", -1 },
	{ "v=spf1 ip4:01.2.3.4", -1 },
	{ "v=spf1 ip6:1.2.3.4", -1 },
	{ "v=spf1 ip6:::1/129", -1 },
	{ "v=spf1 ip4", -1 },
	{ "v=spf1 ptr/0 -all", -1 },
	{ "v=spf1 redirect=a.example.com redirect=b.example.com", -1 },
	{ "v=spf1 exp=a.example.com exp=b.example.com", -1 },
	{ "v=spf1 redirect=", -1 },
	{ "v=spf1 a:%{q}.example.com", -1 },
	{ "v=spf1 a:%{c}.example.com", -1 },
	{ "v=spf1 a:foo%.example.com", -1 },
	{ "v=spf1 a:%{d", -1 },
	{ "v=spf1 a:example.-com", -1 },
	{ "v=spf1 a:example.123", -1 },
	{ "v=spf1 1x=y", -1 },
	{ "v=spf1 +x=y", -1 },
	{ "v=spf1 a:ex\tample.com", -1 },
	{ "v=spf1 a:ex\xc3\xa9.com", -1 },
	{ "v=spf10 -all", -1 },
	{ "spf1 -all", -1 },
	{ "", -1 },
};

static void
test_check_table(void **state)
{
	size_t i;
	char problem[128];

	(void)state;
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		int got;

		problem[0] = '\0';
		got = spf_record_check(checks[i].rec, strlen(checks[i].rec),
		    problem, sizeof(problem));
		if (got != checks[i].want)
			fail_msg("case %zu '%s': got %d want %d (%s)", i,
			    checks[i].rec, got, checks[i].want, problem);
		if (got != 0 && problem[0] == '\0')
			fail_msg("case %zu '%s': no problem text", i,
			    checks[i].rec);
	}
}

static void
test_nul_and_bounds(void **state)
{
	static const char rec[] = "v=spf1 a\0:x.example.com -all";
	char small[8];

	(void)state;
	assert_int_equal(spf_record_check(rec, sizeof(rec) - 1, NULL, 0), -1);
	/* only the first 11 bytes are the record: "v=spf1 -all" + garbage */
	assert_int_equal(spf_record_check("v=spf1 -allXYZ", 11, NULL, 0), 0);
	assert_int_equal(spf_record_check("v=spf1 foo", 10, small,
	    sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

struct sel_case {
	const char *rec;
	int want;
};

static const struct sel_case sels[] = {
	{ "v=spf1", 1 },
	{ "v=spf1 -all", 1 },
	{ "V=SpF1 -all", 1 },
	{ "v=spf10", 0 },
	{ "v=spf1-all", 0 },
	{ "v=spf", 0 },
	{ " v=spf1", 0 },
	{ "", 0 },
};

static void
test_select_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		if (spf_record_is_spf(sels[i].rec, strlen(sels[i].rec)) !=
		    sels[i].want)
			fail_msg("select case '%s': want %d", sels[i].rec,
			    sels[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_table),
		cmocka_unit_test(test_nul_and_bounds),
		cmocka_unit_test(test_select_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
