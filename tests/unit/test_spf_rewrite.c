/*
 * test_spf_rewrite.c - the record rewriting done before libspf2 compiles
 * a record (milter/spf_rewrite.c), table-driven: checked record and client
 * family in, the record libspf2 gets out; and the magic-name classifier
 * our DNS layer uses to answer the rewritten terms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spf_record.h"
#include "spf_rewrite.h"

#define CT "?exists:cutover-term.invalid "

struct rewrite_case {
	const char *rec;
	int v6;
	const char *want;
};

static const struct rewrite_case rewrites[] = {
	{ "v=spf1", 0, "v=spf1" },
	{ "v=spf1  -all  ", 0, "v=spf1 -all" },
	{ "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", 0,
	  "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all" },
	{ "v=spf1 a mx ptr exists:%{i}.x.example.com include:i.example.com",
	  0, "v=spf1 " CT "a " CT "mx " CT "ptr " CT
	  "exists:%{i}.x.example.com include:i.example.com" },
	/* /0: all of the client's family, nothing of the other */
	{ "v=spf1 -ip4:1.1.1.1/0", 0,
	  "v=spf1 -ip4:0.0.0.0/1 -ip4:128.0.0.0/1" },
	{ "v=spf1 ip4:1.1.1.1/0 ~all", 1, "v=spf1 ~all" },
	{ "v=spf1 ip6:::1.1.1.1/0", 1, "v=spf1 ip6:::/1 ip6:8000::/1" },
	{ "v=spf1 ip6:::1.1.1.1/0", 0, "v=spf1" },
	/* a and mx: only the client family's length is kept; 0 -> magic */
	{ "v=spf1 a/0 -all", 0,
	  "v=spf1 " CT "exists:%{d}.cutover-a4.invalid -all" },
	{ "v=spf1 a/0 -all", 1, "v=spf1 " CT "a -all" },
	{ "v=spf1 a//0 -all", 1,
	  "v=spf1 " CT "exists:%{d}.cutover-a6.invalid -all" },
	{ "v=spf1 a//0 -all", 0, "v=spf1 " CT "a -all" },
	{ "v=spf1 +mx:example.com./0//64", 0,
	  "v=spf1 " CT "+exists:example.com.cutover-mx4.invalid" },
	{ "v=spf1 mx:example.com/0//64", 1,
	  "v=spf1 " CT "mx:example.com//64" },
	{ "v=spf1 -mx:%{d2}//0", 1,
	  "v=spf1 " CT "-exists:%{d2}.cutover-mx6.invalid" },
	{ "v=spf1 a:foo:bar/baz.example.com/24", 0,
	  "v=spf1 " CT "a:foo:bar/baz.example.com/24" },
	{ "v=spf1 a/24//64", 1, "v=spf1 " CT "a//64" },
	/* modifiers last; redirect dropped with all; unknown ones dropped */
	{ "v=spf1 redirect=r.example.com ~all", 0, "v=spf1 ~all" },
	{ "v=spf1 redirect=r.example.com ip4:1.2.3.4", 0,
	  "v=spf1 ip4:1.2.3.4 redirect=r.example.com" },
	{ "v=spf1 exp=e.example.com -all", 0,
	  "v=spf1 -all exp=e.example.com" },
	{ "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", 0,
	  "v=spf1 ip4:1.2.3.4 -all" },
	/* nothing after all is evaluated */
	{ "v=spf1 -all a:never.example.com ip4:1.2.3.4", 0, "v=spf1 -all" },
};

static void
test_rewrite_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rewrites) / sizeof(rewrites[0]); i++) {
		const struct rewrite_case *c = &rewrites[i];
		char why[128];
		char *got;

		assert_int_equal(spf_record_check(c->rec, strlen(c->rec), why,
		    sizeof(why)), 0);
		got = spf_rewrite(c->rec, strlen(c->rec), c->v6);
		assert_non_null(got);
		if (strcmp(got, c->want) != 0)
			fail_msg("case %zu: '%s' (v6=%d)\n got  '%s'\n want '%s'",
			    i, c->rec, c->v6, got, c->want);
		free(got);
	}
}

static void
test_rewrite_long_record(void **state)
{
	char rec[4096];
	size_t len = 6, i;
	char *got;

	(void)state;
	memcpy(rec, "v=spf1", 6);
	for (i = 0; len + 3 < sizeof(rec); i++) {
		memcpy(rec + len, " a", 2);
		len += 2;
	}
	got = spf_rewrite(rec, len, 0);
	assert_non_null(got);
	assert_int_equal(strlen(got), 6 + i * (sizeof(CT) + 1));
	free(got);
}

struct magic_case {
	const char *name;
	enum spf_magic want;
	size_t dlen;
	int v6;
};

static const struct magic_case magics[] = {
	{ "cutover-term.invalid", SPF_MAGIC_TERM, 0, 0 },
	{ "CUTOVER-TERM.invalid.", SPF_MAGIC_TERM, 0, 0 },
	{ "x.cutover-term.invalid", SPF_MAGIC_NONE, 0, 0 },
	{ "example.com.cutover-a4.invalid", SPF_MAGIC_A, 11, 0 },
	{ "example.com.cutover-a6.invalid", SPF_MAGIC_A, 11, 1 },
	{ "e.example.com.cutover-mx4.invalid", SPF_MAGIC_MX, 13, 0 },
	{ "e.example.com.cutover-mx6.invalid.", SPF_MAGIC_MX, 13, 1 },
	{ "cutover-a4.invalid", SPF_MAGIC_NONE, 0, 0 },
	{ "example.com", SPF_MAGIC_NONE, 0, 0 },
	{ "", SPF_MAGIC_NONE, 0, 0 },
};

static void
test_magic_table(void **state)
{
	size_t i, dlen;
	int v6;

	(void)state;
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		const struct magic_case *c = &magics[i];
		enum spf_magic got = spf_rewrite_magic(c->name,
		    strlen(c->name), &dlen, &v6);

		if (got != c->want)
			fail_msg("case %zu: '%s' got %d want %d", i, c->name,
			    (int)got, (int)c->want);
		if (got == SPF_MAGIC_A || got == SPF_MAGIC_MX) {
			assert_int_equal(dlen, c->dlen);
			assert_int_equal(v6, c->v6);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite_table),
		cmocka_unit_test(test_rewrite_long_record),
		cmocka_unit_test(test_magic_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
