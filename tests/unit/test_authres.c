/*
 * test_authres.c - authres_format(), authres_is_ours() and the name tables.
 *
 * Exact expected strings: the spec example, "none", quoting of every kind
 * of value, comment escaping, folding at AUTHRES_FOLD_COL, the cap at every
 * length, and each error.  is_ours is a table of header values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "authres.h"

#define P(t, n, v) { t, n, v, sizeof(v) - 1 }
#define NP(a) (sizeof(a) / sizeof((a)[0]))

static const struct authres_prop spf_props[] = { P("smtp", "mailfrom", "example.com") };
static const struct authres_prop dkim_props[] = {
	P("header", "d", "example.com"), P("header", "s", "sel"),
	P("header", "b", "abcd1234"),
};
static const struct authres_prop dmarc_props[] = { P("header", "from", "example.com") };

static const struct authres_resinfo example[] = {
	{ AUTHRES_METHOD_SPF, AUTHRES_PASS, NULL, NULL, spf_props, NP(spf_props) },
	{ AUTHRES_METHOD_DKIM, AUTHRES_PASS, NULL, NULL, dkim_props, NP(dkim_props) },
	{ AUTHRES_METHOD_DMARC, AUTHRES_PASS, "p=reject dis=none", NULL,
	  dmarc_props, NP(dmarc_props) },
};

static void
test_example(void **state)
{
	static const char want[] =
	    "mx.example.net; spf=pass smtp.mailfrom=example.com;\r\n"
	    "\tdkim=pass header.d=example.com header.s=sel header.b=abcd1234;\r\n"
	    "\tdmarc=pass (p=reject dis=none) header.from=example.com";
	char buf[512];

	(void)state;
	assert_int_equal(authres_format("mx.example.net", example, NP(example),
	    buf, sizeof buf), (int)sizeof want - 1);
	assert_string_equal(buf, want);
}

static void
test_none(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(authres_format("mx.example.net", NULL, 0, buf, sizeof buf), 20);
	assert_string_equal(buf, "mx.example.net; none");
	assert_int_equal(authres_format("mx example", NULL, 0, buf, sizeof buf), 18);
	assert_string_equal(buf, "\"mx example\"; none");
}

struct value_case {
	const char *value;
	size_t len;
	const char *want;             /* NULL: -1 */
};

#define V(x) x, sizeof(x) - 1

static const struct value_case value_cases[] = {
	{ V("example.com"), "x; spf=fail smtp.mailfrom=example.com" },
	{ V("user@example.com"), "x; spf=fail smtp.mailfrom=user@example.com" },
	{ V("first.last@mail.example.com"), "x; spf=fail smtp.mailfrom=first.last@mail.example.com" },
	{ V("@example.com"), "x; spf=fail smtp.mailfrom=@example.com" },
	{ V("a+b=c@x.org"), "x; spf=fail smtp.mailfrom=a+b=c@x.org" },
	{ V("\"q u\"@x.org"), "x; spf=fail smtp.mailfrom=\"\\\"q u\\\"@x.org\"" },
	{ V("a..b@x.org"), "x; spf=fail smtp.mailfrom=\"a..b@x.org\"" },
	{ V(".a@x.org"), "x; spf=fail smtp.mailfrom=\".a@x.org\"" },
	{ V("a.@x.org"), "x; spf=fail smtp.mailfrom=\"a.@x.org\"" },
	{ V("a@-x.org"), "x; spf=fail smtp.mailfrom=\"a@-x.org\"" },
	{ V("a@x-.org"), "x; spf=fail smtp.mailfrom=\"a@x-.org\"" },
	{ V("a@x..org"), "x; spf=fail smtp.mailfrom=\"a@x..org\"" },
	{ V("a@"), "x; spf=fail smtp.mailfrom=\"a@\"" },
	{ V("a@b@c.org"), "x; spf=fail smtp.mailfrom=\"a@b@c.org\"" },
	{ V("a(b)@c.org"), "x; spf=fail smtp.mailfrom=\"a(b)@c.org\"" },
	{ V(""), "x; spf=fail smtp.mailfrom=\"\"" },
	{ V("with space"), "x; spf=fail smtp.mailfrom=\"with space\"" },
	{ V("tab\there"), "x; spf=fail smtp.mailfrom=\"tab\there\"" },
	{ V("semi;colon"), "x; spf=fail smtp.mailfrom=\"semi;colon\"" },
	{ V("back\\slash"), "x; spf=fail smtp.mailfrom=\"back\\\\slash\"" },
	{ V("quo\"te"), "x; spf=fail smtp.mailfrom=\"quo\\\"te\"" },
	{ V("eq=ual"), "x; spf=fail smtp.mailfrom=\"eq=ual\"" },
	{ V("b\xc3\xbc" "cher.de"), "x; spf=fail smtp.mailfrom=\"b\xc3\xbc" "cher.de\"" },
	{ V("a+/b=="), "x; spf=fail smtp.mailfrom=\"a+/b==\"" },
	{ V("cr\rlf"), NULL },
	{ V("lf\n"), NULL },
	{ V("nul\0byte"), NULL },
	{ V("del\x7f"), NULL },
	{ V("esc\x1b"), NULL },
};

static void
test_values(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NP(value_cases); i++) {
		const struct value_case *c = &value_cases[i];
		struct authres_prop p = { "smtp", "mailfrom", c->value, c->len };
		struct authres_resinfo r = { AUTHRES_METHOD_SPF, AUTHRES_FAIL,
		    NULL, NULL, &p, 1 };
		char buf[256];
		int n;

		print_message("case %zu\n", i);
		n = authres_format("x", &r, 1, buf, sizeof buf);
		if (c->want == NULL) {
			assert_int_equal(n, -1);
			assert_string_equal(buf, "");
		} else {
			assert_int_equal(n, (int)strlen(c->want));
			assert_string_equal(buf, c->want);
		}
	}
}

static void
test_comment_reason(void **state)
{
	static const struct authres_prop pr[] = { P("policy", "dkim-rules", "x") };
	struct authres_resinfo r = { AUTHRES_METHOD_DKIM, AUTHRES_PERMERROR,
	    "bad (key) \\ here", "no key for signature", pr, 1 };
	char buf[256];

	(void)state;
	assert_true(authres_format("x", &r, 1, buf, sizeof buf) > 0);
	assert_string_equal(buf, "x;\r\n\tdkim=permerror (bad \\(key\\) \\\\ here)"
	    " reason=\"no key for signature\"\r\n\tpolicy.dkim-rules=x");
	r.reason = "token";
	r.comment = NULL;
	r.nprops = 0;
	assert_true(authres_format("x", &r, 1, buf, sizeof buf) > 0);
	assert_string_equal(buf, "x; dkim=permerror reason=token");
	r.comment = "line\r\nbreak";
	assert_int_equal(authres_format("x", &r, 1, buf, sizeof buf), -1);
	r.comment = NULL;
	r.reason = "a\nb";
	assert_int_equal(authres_format("x", &r, 1, buf, sizeof buf), -1);
}

/* Every result and method name, and out-of-range ones. */
static void
test_names(void **state)
{
	static const char *const want[] = { "none", "pass", "fail", "softfail",
	    "neutral", "policy", "temperror", "permerror" };
	size_t i;

	(void)state;
	for (i = 0; i < NP(want); i++)
		assert_string_equal(authres_result_name((enum authres_result)i), want[i]);
	assert_string_equal(authres_result_name((enum authres_result)99), "unknown");
	assert_string_equal(authres_method_name(AUTHRES_METHOD_SPF), "spf");
	assert_string_equal(authres_method_name(AUTHRES_METHOD_DKIM), "dkim");
	assert_string_equal(authres_method_name(AUTHRES_METHOD_DMARC), "dmarc");
	assert_string_equal(authres_method_name((enum authres_method)99), "unknown");
}

/* Folding: a resinfo longer than a line is folded between its units. */
static void
test_fold_long(void **state)
{
	static const struct authres_prop pr[] = {
		P("header", "d", "a-rather-long-signing-domain.example.com"),
		P("header", "s", "selector-2026-11"),
		P("header", "b", "0123456789abcdef"),
		P("header", "a", "rsa-sha256"),
	};
	static const struct authres_resinfo r[] = {
		{ AUTHRES_METHOD_DKIM, AUTHRES_PASS, NULL, NULL, pr, NP(pr) },
		{ AUTHRES_METHOD_SPF, AUTHRES_NONE, NULL, NULL, NULL, 0 },
	};
	static const char want[] =
	    "mx.example.net;\r\n"
	    "\tdkim=pass header.d=a-rather-long-signing-domain.example.com\r\n"
	    "\theader.s=selector-2026-11 header.b=0123456789abcdef header.a=rsa-sha256;\r\n"
	    "\tspf=none";
	char buf[512];

	(void)state;
	assert_int_equal(authres_format("mx.example.net", r, NP(r), buf,
	    sizeof buf), (int)sizeof want - 1);
	assert_string_equal(buf, want);
}

/* A unit longer than a line stays whole; lines otherwise stay <= 78. */
static void
test_fold_columns(void **state)
{
	char big[120], buf[4096];
	struct authres_prop pr[6];
	struct authres_resinfo r[3];
	size_t i, col;
	int n;

	(void)state;
	memset(big, 'x', sizeof big);
	for (i = 0; i < NP(pr); i++)
		pr[i] = (struct authres_prop){ "header", "b", big, 10 + 20 * i };
	for (i = 0; i < NP(r); i++)
		r[i] = (struct authres_resinfo){ AUTHRES_METHOD_DKIM,
		    AUTHRES_FAIL, NULL, NULL, pr, NP(pr) };
	n = authres_format("mx.example.net", r, NP(r), buf, sizeof buf);
	assert_true(n > 0);
	col = sizeof "Authentication-Results: " - 1;
	for (i = 0; i < (size_t)n; i++) {
		if (buf[i] == '\r') {
			assert_true(buf[i + 1] == '\n' && buf[i + 2] == '\t');
			assert_true(buf[i + 3] != ' ' && buf[i - 1] != ' ');
			col = 0;
			i++;
			continue;
		}
		assert_true(buf[i] != '\n');
		col++;
		if (col > AUTHRES_FOLD_COL) {
			/* only a single over-long unit may do that */
			const char *ls = memchr(buf + i - col + 1, 'h', col);

			assert_non_null(ls);
			assert_null(memchr(buf + i - col + 1, ' ', col));
		}
	}
}

/* Every cap from 0 to the full length: -1 and "" below, exact above. */
static void
test_cap(void **state)
{
	char full[512], buf[512];
	int n, m;
	size_t cap;

	(void)state;
	n = authres_format("mx.example.net", example, NP(example), full, sizeof full);
	assert_true(n > 0);
	assert_int_equal(authres_format("mx.example.net", example, NP(example),
	    buf, 0), -1);
	for (cap = 1; cap <= (size_t)n + 1; cap++) {
		memset(buf, 'Z', sizeof buf);
		m = authres_format("mx.example.net", example, NP(example), buf, cap);
		if (cap <= (size_t)n) {
			assert_int_equal(m, -1);
			assert_string_equal(buf, "");
		} else {
			assert_int_equal(m, n);
			assert_string_equal(buf, full);
		}
		assert_int_equal(buf[cap], 'Z');
	}
}

static void
test_format_errors(void **state)
{
	struct authres_prop p = { "smtp", "mailfrom", "a", 1 };
	struct authres_resinfo r = { AUTHRES_METHOD_SPF, AUTHRES_PASS, NULL,
	    NULL, &p, 1 };
	char buf[128];

	(void)state;
	assert_int_equal(authres_format(NULL, NULL, 0, buf, sizeof buf), -1);
	assert_int_equal(authres_format("", NULL, 0, buf, sizeof buf), -1);
	assert_int_equal(authres_format("x", NULL, 1, buf, sizeof buf), -1);
	assert_int_equal(authres_format("a\r\nb", NULL, 0, buf, sizeof buf), -1);
	p.ptype = "smtp mail";
	assert_int_equal(authres_format("x", &r, 1, buf, sizeof buf), -1);
	p.ptype = "";
	assert_int_equal(authres_format("x", &r, 1, buf, sizeof buf), -1);
	p.ptype = NULL;
	assert_int_equal(authres_format("x", &r, 1, buf, sizeof buf), -1);
	p.ptype = "smtp";
	p.property = "mail=from";
	assert_int_equal(authres_format("x", &r, 1, buf, sizeof buf), -1);
	assert_string_equal(buf, "");
	p.property = "mailfrom";
	p.value = NULL;
	assert_int_equal(authres_format("x", &r, 1, buf, sizeof buf), -1);
	p.value_len = 0;
	assert_true(authres_format("x", &r, 1, buf, sizeof buf) > 0);
	assert_string_equal(buf, "x; spf=pass smtp.mailfrom=\"\"");
}

struct ours_case {
	const char *value;
	size_t len;
	bool want;
};

#define O(x, w) { x, sizeof(x) - 1, w }

static const struct ours_case ours_cases[] = {
	O("mx.example.net; spf=pass smtp.mailfrom=a.org", true),
	O(" mx.example.net; none", true),
	O("MX.Example.NET;dkim=pass", true),
	O("mx.example.net", true),
	O("mx.example.net 1; none", true),
	O("mx.example.net (comment); none", true),
	O("\r\n\tmx.example.net;\r\n\tspf=pass", true),
	O("(a (nested) comment \\) ) mx.example.net; none", true),
	O("\"mx.example.net\"; none", true),
	O("\"mx.exa\\mple.net\"; none", true),
	O("mx.example.net.evil; none", false),
	O("evil.mx.example.net; none", false),
	O("mx.example.ne; none", false),
	O("mx.example.net@evil; none", false),
	O("mx.example.net/x; none", false),
	O("\"mx.example.net \"; none", false),
	O("\"mx.example.net", false),
	O("\"mx.example.netx\"", false),
	O("(unterminated mx.example.net; none", false),
	O("other.example; spf=pass (mx.example.net)", false),
	O("", false),
	O("   ", false),
	O("; mx.example.net", false),
};

static void
test_is_ours(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NP(ours_cases); i++) {
		print_message("case %zu: %s\n", i, ours_cases[i].value);
		assert_int_equal(authres_is_ours(ours_cases[i].value,
		    ours_cases[i].len, "mx.example.net"), ours_cases[i].want);
	}
	assert_false(authres_is_ours("x; none", 7, ""));
	assert_false(authres_is_ours("x; none", 7, NULL));
	/* the length is honoured */
	assert_true(authres_is_ours("mx.example.netx", 14, "mx.example.net"));
	assert_false(authres_is_ours("mx.example.net", 13, "mx.example.net"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_comment_reason),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_fold_long),
		cmocka_unit_test(test_fold_columns),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_is_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
