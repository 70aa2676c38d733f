/*
 * test_from_domain.c - from_domain_extract(), from_domain_error_text().
 *
 * Table-driven: a raw header section (exact length) and the domain or the
 * error that must come out.  Covers folded From, From in the body, several
 * From fields, groups, comments, quoted local parts holding "@", obs-forms,
 * bare LF line ends and every error code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "from_domain.h"

#define S(x) x, sizeof(x) - 1

struct from_case {
	const char *in;
	size_t len;
	enum from_domain_error err;
	const char *domain;
};

#define OK FROM_DOMAIN_OK

static const struct from_case cases[] = {
	{ S("From: user@example.com\r\n"), OK, "example.com" },
	{ S("From: user@Example.COM"), OK, "example.com" },
	{ S("Subject: hi\r\nFrom: Joe <joe@example.org>\r\nTo: x@y\r\n\r\n"), OK, "example.org" },
	{ S("from:joe@example.org\n\n"), OK, "example.org" },
	{ S("FROM : joe@example.org\r\n"), OK, "example.org" },
	{ S("From: \"Doe, John\" <john@example.net>\r\n"), OK, "example.net" },
	{ S("From: \"a@b.example\" <c@d.example>\r\n"), OK, "d.example" },
	{ S("From: \"a@b\"@quoted.example\r\n"), OK, "quoted.example" },
	{ S("From: \"a\\\"@b\"@esc.example\r\n"), OK, "esc.example" },
	{ S("From: (comment, with @ and \\) and (nested)) joe@c.example (trailing)\r\n"), OK, "c.example" },
	{ S("From: Joe (x) <joe (y) @ (z) c.example (w)>\r\n"), OK, "c.example" },
	{ S("From: Joe Q. Public <john.q.public@example.com>\r\n"), OK, "example.com" },
	{ S("From: =?UTF-8?Q?J=C3=B6rg?= <j@example.de>\r\n"), OK, "example.de" },
	{ S("From: J\xc3\xb6rg <j\xc3\xb6rg@example.de>\r\n"), OK, "example.de" },
	{ S("From: Joe\r\n <joe@folded.example>\r\n"), OK, "folded.example" },
	{ S("From:\r\n\tjoe@folded.example\r\nTo: a@b\r\n"), OK, "folded.example" },
	{ S("From: joe@\r\n folded.example\r\n"), OK, "folded.example" },
	{ S("From: <@route.example,@r2.example:joe@real.example>\r\n"), OK, "real.example" },
	{ S("From: , joe@null-member.example ,\r\n"), OK, "null-member.example" },
	{ S("From: joe@sub_domain.example\r\n"), OK, "sub_domain.example" },
	{ S("From: a@xn--bcher-kva.example\r\n"), OK, "xn--bcher-kva.example" },
	{ S("From: a@b.example\r\n\r\nFrom: c@d.example\r\n"), OK, "b.example" },
	{ S("X-From: a@x.example\r\nResent-From: b@y.example\r\nFrom: c@z.example\r\n"), OK, "z.example" },
	{ S("junk line without colon\r\nFrom: c@z.example\r\n"), OK, "z.example" },
	{ S(" stray continuation\r\nFrom: c@z.example\r\n"), OK, "z.example" },
	{ S("From: c@z.example\r\nSubject: x\r\n continued: From: d@y.example\r\n"), OK, "z.example" },
	/* missing / multiple */
	{ S(""), FROM_DOMAIN_ERR_MISSING, "" },
	{ S("Subject: x\r\nTo: a@b.example\r\n"), FROM_DOMAIN_ERR_MISSING, "" },
	{ S("Subject: x\r\n\r\nFrom: a@b.example\r\n"), FROM_DOMAIN_ERR_MISSING, "" },
	{ S("\r\nFrom: a@b.example\r\n"), FROM_DOMAIN_ERR_MISSING, "" },
	{ S("Fromage: a@b.example\r\n"), FROM_DOMAIN_ERR_MISSING, "" },
	{ S("From a@b.example Mon Nov 23\r\n"), FROM_DOMAIN_ERR_MISSING, "" },
	{ S("From: a@b.example\r\nFrom: a@b.example\r\n"), FROM_DOMAIN_ERR_MULTIPLE, "" },
	{ S("From: a@b.example\r\nSubject: x\r\nfrom: c@d.example\r\n"), FROM_DOMAIN_ERR_MULTIPLE, "" },
	{ S("From: a@b.example\r\njunk\r\nFrom : c@d.example\r\n"), FROM_DOMAIN_ERR_MULTIPLE, "" },
	{ S("From: bad\r\nFrom: c@d.example\r\n"), FROM_DOMAIN_ERR_MULTIPLE, "" },
	/* content errors */
	{ S("From:\r\n"), FROM_DOMAIN_ERR_EMPTY, "" },
	{ S("From:   (only a comment)\r\n"), FROM_DOMAIN_ERR_EMPTY, "" },
	{ S("From: ,,\r\n"), FROM_DOMAIN_ERR_EMPTY, "" },
	{ S("From: a@b.example, c@d.example\r\n"), FROM_DOMAIN_ERR_MAILBOXES, "" },
	{ S("From: A <a@b.example>,\r\n B <c@b.example>\r\n"), FROM_DOMAIN_ERR_MAILBOXES, "" },
	{ S("From: undisclosed-recipients:;\r\n"), FROM_DOMAIN_ERR_GROUP, "" },
	{ S("From: Team: a@b.example;\r\n"), FROM_DOMAIN_ERR_GROUP, "" },
	{ S("From: a@b.example\x01\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: a b@c.example\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: a@b@c.example\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: a@b.example <c@d.example>\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: <a@b.example\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: <>\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: @b.example\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: a@\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: \"unterminated@b.example\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: (unterminated a@b.example\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: a@b.example (x\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: <a@b.example> x\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: <@r.example joe@b.example>\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: <@r.example,>\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: :;\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: joe\r\n"), FROM_DOMAIN_ERR_NO_DOMAIN, "" },
	{ S("From: Joe <joe>\r\n"), FROM_DOMAIN_ERR_NO_DOMAIN, "" },
	{ S("From: a@[192.0.2.1]\r\n"), FROM_DOMAIN_ERR_BAD_DOMAIN, "" },
	{ S("From: a@[192.0.2.1\r\n"), FROM_DOMAIN_ERR_SYNTAX, "" },
	{ S("From: a@b..example\r\n"), FROM_DOMAIN_ERR_BAD_DOMAIN, "" },
	{ S("From: a@b.example.\r\n"), FROM_DOMAIN_ERR_BAD_DOMAIN, "" },
	{ S("From: a@b\xc3\xbc" "cher.example\r\n"), FROM_DOMAIN_ERR_BAD_DOMAIN, "" },
	{ S("From: a@b+c.example\r\n"), FROM_DOMAIN_ERR_BAD_DOMAIN, "" },
	{ S("From: a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\r\n"), FROM_DOMAIN_ERR_BAD_DOMAIN, "" },
};

static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct from_case *c = &cases[i];
		char out[FROM_DOMAIN_MAX + 1];
		size_t olen = 99;

		print_message("case %zu: %.*s\n", i, (int)c->len, c->in);
		assert_int_equal(from_domain_extract(c->in, c->len, out, sizeof out,
		    &olen), c->err);
		assert_string_equal(out, c->domain);
		assert_int_equal(olen, strlen(c->domain));
	}
}

/* 253 octets fit, 254 do not; the output cap is honoured. */
static void
test_limits(void **state)
{
	char hdr[300], out[FROM_DOMAIN_MAX + 1];
	size_t i, olen;

	(void)state;
	memcpy(hdr, "From: a@", 8);
	for (i = 0; i < 252; i += 2)
		memcpy(hdr + 8 + i, "a.", 2);
	hdr[8 + 252] = 'b';
	assert_int_equal(from_domain_extract(hdr, 8 + 253, out, sizeof out, &olen),
	    FROM_DOMAIN_OK);
	assert_int_equal(olen, 253);
	assert_int_equal(from_domain_extract(hdr, 8 + 253, out, 253, &olen),
	    FROM_DOMAIN_ERR_BAD_DOMAIN);
	assert_string_equal(out, "");
	hdr[8 + 253] = 'c';
	assert_int_equal(from_domain_extract(hdr, 8 + 254, out, sizeof out, &olen),
	    FROM_DOMAIN_ERR_BAD_DOMAIN);
	/* the length is honoured: bytes after it are not read */
	assert_int_equal(from_domain_extract("From: a@b.example, c@d", 17, out,
	    sizeof out, &olen), FROM_DOMAIN_OK);
	assert_string_equal(out, "b.example");
}

static void
test_texts(void **state)
{
	unsigned i, j;

	(void)state;
	for (i = FROM_DOMAIN_OK; i <= FROM_DOMAIN_ERR_BAD_DOMAIN; i++)
		for (j = i + 1; j <= FROM_DOMAIN_ERR_BAD_DOMAIN; j++)
			assert_string_not_equal(from_domain_error_text(i),
			    from_domain_error_text(j));
	assert_string_equal(from_domain_error_text((enum from_domain_error)99),
	    "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
