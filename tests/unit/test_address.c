/*
 * test_address.c - address_parse(), address_format(), address_error_text().
 *
 * Table-driven: each row is an input (with its exact length, so embedded
 * NULs and bytes past the path are part of the test), the SMTPUTF8 mode,
 * and what must come out.  Generated rows cover the RFC 5321 4.5.3.1
 * length limits at, and one past, each limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "address.h"

#define S(x) x, sizeof(x) - 1

struct parse_case {
	const char *in;
	size_t len;
	bool utf8;
	enum address_error err;
	unsigned flags;
	const char *local;
	const char *domain;
	size_t consumed;
};

static const struct parse_case ok_cases[] = {
	{ S("<user@example.com>"), false, ADDRESS_OK, 0, "user", "example.com", 18 },
	{ S("<user@example.com> SIZE=10"), false, ADDRESS_OK, 0, "user", "example.com", 18 },
	{ S("<USER@EXAMPLE.COM>"), false, ADDRESS_OK, 0, "USER", "EXAMPLE.COM", 18 },
	{ S("<a.b-c+d@sub-1.example.org>"), false, ADDRESS_OK, 0, "a.b-c+d", "sub-1.example.org", 27 },
	{ S("<!#$&'*+-/=?^_`{|}~@x.example>"), false, ADDRESS_OK, ADDRESS_ROUTING_CHARS, "!#$&'*+-/=?^_`{|}~", "x.example", 30 },
	{ S("<>"), false, ADDRESS_OK, ADDRESS_NULL, "", "", 2 },
	{ S("<> BODY=8BITMIME"), false, ADDRESS_OK, ADDRESS_NULL, "", "", 2 },
	{ S("<postmaster>"), false, ADDRESS_OK, ADDRESS_NO_DOMAIN, "postmaster", "", 12 },
	{ S("<Postmaster>"), false, ADDRESS_OK, ADDRESS_NO_DOMAIN, "Postmaster", "", 12 },
	{ S("<\"john doe\"@example.com>"), false, ADDRESS_OK, ADDRESS_QUOTED, "\"john doe\"", "example.com", 24 },
	{ S("<\"a\\\"b\"@x.org>"), false, ADDRESS_OK, ADDRESS_QUOTED, "\"a\\\"b\"", "x.org", 14 },
	{ S("<\"\"@x.org>"), false, ADDRESS_OK, ADDRESS_QUOTED, "\"\"", "x.org", 10 },
	{ S("<\"x\">"), false, ADDRESS_OK, ADDRESS_QUOTED | ADDRESS_NO_DOMAIN, "\"x\"", "", 5 },
	{ S("<\"a@b\"@example.com>"), false, ADDRESS_OK, ADDRESS_QUOTED | ADDRESS_ROUTING_CHARS, "\"a@b\"", "example.com", 19 },
	{ S("<\"a\\@b\"@example.com>"), false, ADDRESS_OK, ADDRESS_QUOTED | ADDRESS_ROUTING_CHARS, "\"a\\@b\"", "example.com", 20 },
	{ S("<\"a%b\"@x.org>"), false, ADDRESS_OK, ADDRESS_QUOTED | ADDRESS_ROUTING_CHARS, "\"a%b\"", "x.org", 13 },
	{ S("<a%b@example.com>"), false, ADDRESS_OK, ADDRESS_ROUTING_CHARS, "a%b", "example.com", 17 },
	{ S("<a!b@example.com>"), false, ADDRESS_OK, ADDRESS_ROUTING_CHARS, "a!b", "example.com", 17 },
	{ S("<@a.example,@b.example:user@example.com>"), false, ADDRESS_OK, ADDRESS_ROUTED, "user", "example.com", 40 },
	{ S("<@a.example:user@example.com>"), false, ADDRESS_OK, ADDRESS_ROUTED, "user", "example.com", 29 },
	{ S("<@a.example.:u@x.org>"), false, ADDRESS_OK, ADDRESS_ROUTED, "u", "x.org", 21 },
	{ S("<user@[192.0.2.1]>"), false, ADDRESS_OK, ADDRESS_IP_LITERAL, "user", "[192.0.2.1]", 18 },
	{ S("<user@[0.0.0.0]>"), false, ADDRESS_OK, ADDRESS_IP_LITERAL, "user", "[0.0.0.0]", 16 },
	{ S("<user@[IPv6:2001:db8::1]>"), false, ADDRESS_OK, ADDRESS_IP_LITERAL, "user", "[IPv6:2001:db8::1]", 25 },
	{ S("<user@[ipv6:::1]>"), false, ADDRESS_OK, ADDRESS_IP_LITERAL, "user", "[ipv6:::1]", 17 },
	{ S("<user@[IPv6:::ffff:192.0.2.1]>"), false, ADDRESS_OK, ADDRESS_IP_LITERAL, "user", "[IPv6:::ffff:192.0.2.1]", 30 },
	{ S("<user@example.com.>"), false, ADDRESS_OK, 0, "user", "example.com.", 19 },
	{ S("<user@x>>"), false, ADDRESS_OK, 0, "user", "x", 8 },
	{ S("<1@2>"), false, ADDRESS_OK, 0, "1", "2", 5 },
	{ S("<j\xc3\xb6rg@m\xc3\xbc" "nchen.example>"), true, ADDRESS_OK, ADDRESS_UTF8, "j\xc3\xb6rg", "m\xc3\xbc" "nchen.example", 24 },
	{ S("<\"j\xc3\xb6\"@x.example>"), true, ADDRESS_OK, ADDRESS_UTF8 | ADDRESS_QUOTED, "\"j\xc3\xb6\"", "x.example", 17 },
	{ S("<\xf0\x9f\x98\x80@x.example>"), true, ADDRESS_OK, ADDRESS_UTF8, "\xf0\x9f\x98\x80", "x.example", 16 },
	{ S("<\xe2\x82\xac@x.example>"), true, ADDRESS_OK, ADDRESS_UTF8, "\xe2\x82\xac", "x.example", 15 },
	{ S("<\xf4\x8f\xbf\xbf@x.example>"), true, ADDRESS_OK, ADDRESS_UTF8, "\xf4\x8f\xbf\xbf", "x.example", 16 },
	{ S("<\xed\x9f\xbf@x.example>"), true, ADDRESS_OK, ADDRESS_UTF8, "\xed\x9f\xbf", "x.example", 15 },
	{ S("<plain@x.example>"), true, ADDRESS_OK, 0, "plain", "x.example", 17 },
	{ S("<@m\xc3\xbc.example:u@x>"), true, ADDRESS_OK, ADDRESS_ROUTED, "u", "x", 18 },
};

static const struct parse_case bad_cases[] = {
	{ S(""), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S(">"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("user@example.com"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S(" <user@example.com>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@example.com"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@example.com >"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@@example.com>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<.user@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user.@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<us..er@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<a b@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<a(b)@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<a\0b@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@-x.com>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@x-.com>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@x..com>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@.x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@x.com..>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@x_y.com>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@exa mple.com>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@x.com."), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[1.2.3]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[256.1.1.1]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[1.2.3.4.5]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[1.2.3.0004]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[1..3.4]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[IPv6:zz]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[IPv6:2001:db8::1\0]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[IPv6: ::1]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[IPv6:1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:1:2:3:4:5:6:7:8]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[foo:bar]>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[1.2.3.4>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<user@[1.2.3.4]x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<@a.example:user>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<@a.example,user@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<@a.example;user@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<@a.example"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<@:user@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<@a.example,:user@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\"unterminated@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\"a\\\001\"@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\"a\\"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\"tab\there\"@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\"a\"b@x>"), false, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	/* non-ASCII without SMTPUTF8: local, quoted, domain, route */
	{ S("<j\xc3\xb6rg@x.example>"), false, ADDRESS_ERR_UTF8, 0, "", "", 0 },
	{ S("<\"j\xc3\xb6\"@x.example>"), false, ADDRESS_ERR_UTF8, 0, "", "", 0 },
	{ S("<u@m\xc3\xbc" "nchen.example>"), false, ADDRESS_ERR_UTF8, 0, "", "", 0 },
	{ S("<@m\xc3\xbc" "nchen.example:u@x>"), false, ADDRESS_ERR_UTF8, 0, "", "", 0 },
	{ S("<\xff@x>"), false, ADDRESS_ERR_UTF8, 0, "", "", 0 },
	/* ill-formed UTF-8 with SMTPUTF8 */
	{ S("<\xc3(@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xc0\xaf@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xe0\x80\xaf@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xf0\x80\x80\xaf@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xed\xa0\x80@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xf4\x90\x80\x80@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xf5\x80\x80\x80@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xe2\x82\x28@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\xf0\x9f\x98\x28@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\x80@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<a@x\xc3"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<\"\xc3\"@x>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
	{ S("<a@\xc3(>"), true, ADDRESS_ERR_SYNTAX, 0, "", "", 0 },
};

static void
check_case(const struct parse_case *c, size_t i)
{
	struct address a;
	size_t consumed = 99;
	enum address_error got;

	memset(&a, 0x5a, sizeof a);
	got = address_parse(c->in, c->len, c->utf8, &a, &consumed);
	if (got != c->err || a.flags != c->flags || consumed != c->consumed ||
	    strcmp(a.local, c->local) != 0 || strcmp(a.domain, c->domain) != 0)
		print_error("row %zu: err %d/%d flags %#x/%#x consumed %zu/%zu "
		    "local \"%s\" domain \"%s\"\n", i, got, c->err, a.flags,
		    c->flags, consumed, c->consumed, a.local, a.domain);
	assert_int_equal(got, c->err);
	assert_int_equal(a.flags, c->flags);
	assert_int_equal(consumed, c->consumed);
	assert_string_equal(a.local, c->local);
	assert_string_equal(a.domain, c->domain);
	assert_int_equal(a.local_len, strlen(c->local));
	assert_int_equal(a.domain_len, strlen(c->domain));
}

static void
test_parse_ok(void **state)
{
	size_t i;

	for (i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++)
		check_case(&ok_cases[i], i);
}

static void
test_parse_bad(void **state)
{
	size_t i;

	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
		check_case(&bad_cases[i], i);
}

/* "a.b" style names of exactly n octets, labels of at most `label`. */
static void
make_domain(char *buf, size_t n, size_t label)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (run == label && i + 1 < n) {
			buf[i] = '.';
			run = 0;
		} else {
			buf[i] = (char)('a' + i % 26);
			run++;
		}
	}
	buf[n] = '\0';
}

struct len_case {
	size_t local, domain, label, route;
	enum address_error err;
};

static const struct len_case len_cases[] = {
	{ 64, 10, 63, 0, ADDRESS_OK },
	{ 65, 10, 63, 0, ADDRESS_ERR_TOO_LONG },
	{ 5, 63, 63, 0, ADDRESS_OK },
	{ 5, 64, 64, 0, ADDRESS_ERR_TOO_LONG },
	{ 1, 252, 63, 0, ADDRESS_OK },            /* path of exactly 256 */
	{ 1, 253, 63, 0, ADDRESS_ERR_TOO_LONG },  /* 257 */
	{ 1, 300, 63, 0, ADDRESS_ERR_TOO_LONG },  /* domain over 255 too */
	{ 64, 100, 63, 90, ADDRESS_ERR_TOO_LONG },  /* the route counts */
	{ 64, 100, 63, 40, ADDRESS_OK },
	{ 2, 10, 63, 70, ADDRESS_OK },            /* long route label: dropped */
};

static void
test_parse_lengths(void **state)
{
	char in[1024], local[300], domain[400], route[200];
	struct address a;
	size_t i, consumed;

	for (i = 0; i < sizeof len_cases / sizeof len_cases[0]; i++) {
		const struct len_case *c = &len_cases[i];
		int n;

		memset(local, 'l', c->local);
		local[c->local] = '\0';
		make_domain(domain, c->domain, c->label);
		make_domain(route, c->route, 100); /* route labels are not kept */
		n = snprintf(in, sizeof in, "<%s%s%s%s@%s>", c->route ? "@" : "",
		    route, c->route ? ":" : "", local, domain);
		assert_true(n > 0 && (size_t)n < sizeof in);
		if (address_parse(in, (size_t)n, false, &a, &consumed) != c->err)
			print_error("row %zu: %s\n", i, in);
		assert_int_equal(address_parse(in, (size_t)n, false, &a, &consumed),
		    c->err);
		assert_int_equal(consumed, c->err == ADDRESS_OK ? (size_t)n : 0);
		if (c->err == ADDRESS_OK) {
			assert_string_equal(a.local, local);
			assert_string_equal(a.domain, domain);
		}
	}
}

static void
test_parse_null_consumed(void **state)
{
	struct address a;

	assert_int_equal(address_parse(S("<a@b>"), false, &a, NULL), ADDRESS_OK);
	assert_int_equal(address_parse(S("<>"), false, &a, NULL), ADDRESS_OK);
	assert_int_equal(address_parse(S("<a@"), false, &a, NULL),
	    ADDRESS_ERR_SYNTAX);
}

struct format_case {
	const char *in;
	size_t buflen;
	int want;
	const char *out;
};

static const struct format_case format_cases[] = {
	{ "<user@example.com>", 64, 16, "user@example.com" },
	{ "<user@example.com>", 17, 16, "user@example.com" },
	{ "<user@example.com>", 16, -1, "" },
	{ "<user@example.com>", 1, -1, "" },
	{ "<>", 8, 0, "" },
	{ "<>", 1, 0, "" },
	{ "<postmaster>", 64, 10, "postmaster" },
	{ "<postmaster>", 10, -1, "" },
	{ "<\"a b\"@x.org>", 64, 11, "\"a b\"@x.org" },
	{ "<@r.example:u@[192.0.2.1]>", 64, 13, "u@[192.0.2.1]" },
};

static void
test_format(void **state)
{
	char buf[64];
	struct address a;
	size_t i;

	for (i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
		const struct format_case *c = &format_cases[i];

		assert_int_equal(address_parse(c->in, strlen(c->in), false, &a,
		    NULL), ADDRESS_OK);
		memset(buf, 'x', sizeof buf);
		assert_int_equal(address_format(&a, buf, c->buflen), c->want);
		assert_string_equal(buf, c->out);
	}
	assert_int_equal(address_format(&a, buf, 0), -1);
}

static void
test_error_text(void **state)
{
	static const struct {
		enum address_error e;
		const char *want;
	} t[] = {
		{ ADDRESS_OK, "ok" },
		{ ADDRESS_ERR_SYNTAX, "bad address syntax" },
		{ ADDRESS_ERR_TOO_LONG, "address too long" },
		{ ADDRESS_ERR_UTF8, "non-ASCII address without SMTPUTF8" },
		{ (enum address_error)99, "unknown address error" },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		assert_string_equal(address_error_text(t[i].e), t[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_parse_null_consumed),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_error_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
