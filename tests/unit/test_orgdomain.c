/*
 * test_orgdomain.c - orgdomain_get(), orgdomain_source(), dmarc_aligned().
 *
 * Needs the Debian `publicsuffix` list (the test fails without it, it does
 * not fall back): the rows below depend on its wildcard and exception
 * rules (*.ck / !www.ck, *.kawasaki.jp / !city.kawasaki.jp), an IDN rule
 * (公司.cn = xn--55qx5d.cn) and the private section (blogspot.com).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "orgdomain.h"

struct org_case {
	const char *in;
	const char *want;             /* NULL: -1 expected */
};

static const struct org_case org_cases[] = {
	{ "example.com", "example.com" },
	{ "mail.example.com", "example.com" },
	{ "a.b.example.co.uk", "example.co.uk" },
	{ "example.co.uk", "example.co.uk" },
	{ "co.uk", "co.uk" },
	{ "com", "com" },
	{ "localhost", "localhost" },
	{ "EXAMPLE.COM", "example.com" },
	{ "Mail.Example.Com.", "example.com" },
	{ "foo.ck", "foo.ck" },
	{ "a.foo.ck", "a.foo.ck" },
	{ "b.a.foo.ck", "a.foo.ck" },
	{ "www.ck", "www.ck" },
	{ "x.www.ck", "www.ck" },
	{ "a.b.c.kawasaki.jp", "b.c.kawasaki.jp" },
	{ "x.city.kawasaki.jp", "city.kawasaki.jp" },
	{ "foo.bar.xn--55qx5d.cn", "bar.xn--55qx5d.cn" },
	{ "xn--55qx5d.cn", "xn--55qx5d.cn" },
	{ "www.XN--55QX5D.CN", "www.xn--55qx5d.cn" },
	{ "a.blogspot.com", "a.blogspot.com" },
	{ "b.a.blogspot.com", "a.blogspot.com" },
	{ "_dmarc.example.org", "example.org" },
	{ "", NULL },
	{ ".", NULL },
	{ "example..com", NULL },
	{ ".example.com", NULL },
	{ "example.com..", NULL },
	{ "exa mple.com", NULL },
	{ "b\xc3\xbc" "cher.de", NULL },
	{ "a@b.com", NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL },
};

static void
test_org_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof org_cases / sizeof org_cases[0]; i++) {
		const struct org_case *c = &org_cases[i];
		char out[ORGDOMAIN_MAX + 1];
		int n;

		print_message("case %zu: %s\n", i, c->in);
		n = orgdomain_get(c->in, strlen(c->in), out, sizeof out);
		if (c->want == NULL) {
			assert_int_equal(n, -1);
			assert_string_equal(out, "");
		} else {
			assert_int_equal(n, (int)strlen(c->want));
			assert_string_equal(out, c->want);
		}
	}
}

static void
test_org_limits(void **state)
{
	char name[300], out[ORGDOMAIN_MAX + 1];
	size_t i;

	(void)state;
	/* 63-octet label is fine, 253 octets is fine, 254 is not */
	memset(name, 'a', 63);
	memcpy(name + 63, ".com", 5);
	assert_int_equal(orgdomain_get(name, 67, out, sizeof out), 67);
	for (i = 0; i < 250; i += 2)
		memcpy(name + i, "a.", 2);
	memcpy(name + 250, "com", 3);
	assert_int_equal(orgdomain_get(name, 253, out, sizeof out), 5);
	assert_string_equal(out, "a.com");
	name[253] = '.';
	assert_int_equal(orgdomain_get(name, 254, out, sizeof out), 5);
	memmove(name + 1, name, 253);
	name[0] = 'b';
	assert_int_equal(orgdomain_get(name, 254, out, sizeof out), -1);
	/* length is honoured, no NUL needed; output cap is checked */
	assert_int_equal(orgdomain_get("example.com.evil", 11, out, sizeof out), 11);
	assert_string_equal(out, "example.com");
	assert_int_equal(orgdomain_get("example.com", 11, out, 12), 11);
	assert_int_equal(orgdomain_get("example.com", 11, out, 11), -1);
	assert_string_equal(out, "");
	assert_int_equal(orgdomain_get("example.com", 11, out, 0), -1);
}

static void
test_source(void **state)
{
	(void)state;
	assert_int_equal(access(ORGDOMAIN_PSL_DAFSA, R_OK), 0);
	assert_string_equal(orgdomain_source(), "file:" ORGDOMAIN_PSL_DAFSA);
}

struct align_case {
	const char *a, *b;
	bool relaxed, strict;
};

static const struct align_case align_cases[] = {
	{ "example.com", "example.com", true, true },
	{ "EXAMPLE.com", "example.COM.", true, true },
	{ "mail.example.com", "example.com", true, false },
	{ "a.example.com", "b.example.com", true, false },
	{ "example.com", "example.org", false, false },
	{ "example.co.uk", "other.co.uk", false, false },
	{ "x.example.co.uk", "example.co.uk", true, false },
	{ "co.uk", "co.uk", true, true },
	{ "a.co.uk", "co.uk", false, false },
	{ "a.foo.ck", "b.foo.ck", false, false },
	{ "x.a.foo.ck", "a.foo.ck", true, false },
	{ "x.www.ck", "y.www.ck", true, false },
	{ "a.blogspot.com", "b.blogspot.com", false, false },
	{ "bar.xn--55qx5d.cn", "mail.bar.xn--55qx5d.cn", true, false },
	{ "example.com", "", false, false },
	{ "", "", false, false },
	{ "example..com", "example..com", false, false },
	{ "example.com.", "example.com..", false, false },
};

static void
test_align_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof align_cases / sizeof align_cases[0]; i++) {
		const struct align_case *c = &align_cases[i];

		print_message("case %zu: %s ~ %s\n", i, c->a, c->b);
		assert_int_equal(dmarc_aligned(c->a, c->b, DMARC_ALIGN_RELAXED), c->relaxed);
		assert_int_equal(dmarc_aligned(c->b, c->a, DMARC_ALIGN_RELAXED), c->relaxed);
		assert_int_equal(dmarc_aligned(c->a, c->b, DMARC_ALIGN_STRICT), c->strict);
		assert_int_equal(dmarc_aligned(c->b, c->a, DMARC_ALIGN_STRICT), c->strict);
	}
	assert_false(dmarc_aligned(NULL, "example.com", DMARC_ALIGN_RELAXED));
	assert_false(dmarc_aligned("example.com", NULL, DMARC_ALIGN_STRICT));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_org_table),
		cmocka_unit_test(test_org_limits),
		cmocka_unit_test(test_align_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
