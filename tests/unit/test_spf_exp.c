/*
 * test_spf_exp.c - exp= text macro expansion (milter/spf_exp.c),
 * table-driven with the RFC 7208 7.4 examples, upper-case URL escaping,
 * the exp-only letters, and every error (bad macro, output too long).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "spf_exp.h"

static const char *
pname(void *arg)
{
	return arg;
}

static struct spf_exp_env
env4(void)
{
	struct spf_exp_env e = {
		.sender = "strong-bad@email.example.com",
		.domain = "email.example.com",
		.helo = "mx.example.org",
		.receiver = "receiver.example.net",
		.v6 = 0,
		.ip = { 192, 0, 2, 3 },
		.now = 1234567890,
	};

	return e;
}

static struct spf_exp_env
env6(void)
{
	struct spf_exp_env e = env4();
	static const unsigned char ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0xcb, 0x01 };

	e.v6 = 1;
	memcpy(e.ip, ip6, 16);
	return e;
}

struct exp_case {
	int v6;
	const char *text;
	const char *want;     /* NULL: error */
};

static const struct exp_case cases[] = {
	{ 0, "plain text, no macros", "plain text, no macros" },
	{ 0, "%{s}", "strong-bad@email.example.com" },
	{ 0, "%{o}", "email.example.com" },
	{ 0, "%{d}", "email.example.com" },
	{ 0, "%{d4}", "email.example.com" },
	{ 0, "%{d3}", "email.example.com" },
	{ 0, "%{d2}", "example.com" },
	{ 0, "%{d1}", "com" },
	{ 0, "%{dr}", "com.example.email" },
	{ 0, "%{d2r}", "example.email" },
	{ 0, "%{l}", "strong-bad" },
	{ 0, "%{l-}", "strong.bad" },
	{ 0, "%{lr}", "strong-bad" },
	{ 0, "%{lr-}", "bad.strong" },
	{ 0, "%{l1r-}", "strong" },
	{ 0, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
	{ 0, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
	{ 0, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ 0, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ 0, "%{d2}.trusted-domains.example.net",
	  "example.com.trusted-domains.example.net" },
	{ 1, "%{ir}.%{v}._spf.%{d2}", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
	  ".0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com" },
	{ 0, "%{c} %{i}", "192.0.2.3 192.0.2.3" },
	{ 1, "%{c}", "2001:db8::cb01" },
	{ 0, "%{h} %{r} %{t} %{p}",
	  "mx.example.org receiver.example.net 1234567890 mx.example.com" },
	{ 0, "%{S}", "strong-bad%40email.example.com" },
	{ 0, "%{L}=%{D1}", "strong-bad=com" },
	{ 0, "100%% %_%-", "100%  %20" },
	{ 0, "%{l+=,/_}", "strong-bad" },
	{ 0, "", "" },
	{ 0, "%", NULL },
	{ 0, "50%", NULL },
	{ 0, "%x", NULL },
	{ 0, "%{", NULL },
	{ 0, "%{d", NULL },
	{ 0, "%{q}", NULL },
	{ 0, "%{d0}", NULL },
	{ 0, "%{d2x}", NULL },
	{ 0, "%{}", NULL },
};

static void
test_expand_table(void **state)
{
	char out[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct exp_case *c = &cases[i];
		struct spf_exp_env e = c->v6 ? env6() : env4();
		int rc;

		e.validated_name = pname;
		e.arg = (void *)"mx.example.com";
		rc = spf_exp_expand(&e, c->text, strlen(c->text), out,
		    sizeof(out));
		if (c->want == NULL) {
			if (rc != -1)
				fail_msg("case %zu '%s': want an error, got '%s'",
				    i, c->text, out);
			continue;
		}
		if (rc != 0 || strcmp(out, c->want) != 0)
			fail_msg("case %zu '%s': rc %d got '%s' want '%s'", i,
			    c->text, rc, out, c->want);
	}
}

static void
test_upper_escapes(void **state)
{
	struct spf_exp_env e = env4();
	char out[128];
	const char *t = "l=%{L}";

	(void)state;
	e.sender = "~jack&jill=up-a_b3.c@e8.example.com";
	assert_int_equal(spf_exp_expand(&e, t, strlen(t), out, sizeof(out)),
	    0);
	assert_string_equal(out, "l=~jack%26jill%3Dup-a_b3.c");
}

static void
test_no_validated_name_callback(void **state)
{
	struct spf_exp_env e = env4();
	char out[64];

	(void)state;
	assert_int_equal(spf_exp_expand(&e, "%{p}", 4, out, sizeof(out)), 0);
	assert_string_equal(out, "unknown");
}

static void
test_null_sender_local_part(void **state)
{
	struct spf_exp_env e = env4();
	char out[64];

	(void)state;
	e.sender = "mx.example.org";
	assert_int_equal(spf_exp_expand(&e, "%{l}@%{o}", 9, out, sizeof(out)),
	    0);
	assert_string_equal(out, "postmaster@mx.example.org");
}

static void
test_output_too_small(void **state)
{
	struct spf_exp_env e = env4();
	char out[16];

	(void)state;
	assert_int_equal(spf_exp_expand(&e, "%{s}", 4, out, sizeof(out)), -1);
	assert_int_equal(spf_exp_expand(&e, "0123456789abcdef", 16, out,
	    sizeof(out)), -1);
	assert_int_equal(spf_exp_expand(&e, "0123456789abcde", 15, out,
	    sizeof(out)), 0);
	assert_int_equal(spf_exp_expand(&e, "x", 1, out, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_table),
		cmocka_unit_test(test_upper_escapes),
		cmocka_unit_test(test_no_validated_name_callback),
		cmocka_unit_test(test_null_sender_local_part),
		cmocka_unit_test(test_output_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
