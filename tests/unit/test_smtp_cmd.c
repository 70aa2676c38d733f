/*
 * test_smtp_cmd.c - SMTP command line parsing, table-driven (got/want).
 *
 * Verbs (case, separators, control bytes), MAIL and RCPT arguments (the
 * "FROM:"/"TO:" prefix, SP before the path, every ESMTP parameter rule and
 * every error reply), and HELO/EHLO arguments (domains, address literals,
 * length limits).  Inputs are passed with their length, never NUL-ended,
 * by copying them into an exactly sized heap buffer so that ASan catches
 * any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

#define S(x) x, sizeof(x) - 1

/* An exact-size copy: reading one byte past it is an ASan error. */
static char *
exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

/* ------------------------------------------------------------------ */

struct verb_case {
	const char *line;
	size_t len;
	int ret;
	enum smtp_verb verb;
	const char *arg;
};

static const struct verb_case verb_cases[] = {
	{ S("HELO example.com"), 0, VERB_HELO, "example.com" },
	{ S("helo x"), 0, VERB_HELO, "x" },
	{ S("EhLo x.example"), 0, VERB_EHLO, "x.example" },
	{ S("MAIL FROM:<a@b>"), 0, VERB_MAIL, "FROM:<a@b>" },
	{ S("MAIL  FROM:<>"), 0, VERB_MAIL, " FROM:<>" },
	{ S("rcpt TO:<a@b> "), 0, VERB_RCPT, "TO:<a@b> " },
	{ S("DATA"), 0, VERB_DATA, "" },
	{ S("data"), 0, VERB_DATA, "" },
	{ S("DATA "), 0, VERB_DATA, "" },
	{ S("RSET"), 0, VERB_RSET, "" },
	{ S("NOOP"), 0, VERB_NOOP, "" },
	{ S("NOOP a\tb"), 0, VERB_NOOP, "a\tb" },
	{ S("NOOP \xc3\xa9"), 0, VERB_NOOP, "\xc3\xa9" },
	{ S("QUIT"), 0, VERB_QUIT, "" },
	{ S("VRFY postmaster"), 0, VERB_VRFY, "postmaster" },
	{ S("EXPN list"), 0, VERB_EXPN, "list" },
	{ S("HELP"), 0, VERB_HELP, "" },
	{ S("STARTTLS"), 0, VERB_STARTTLS, "" },
	{ S("StartTls"), 0, VERB_STARTTLS, "" },
	{ S("BDAT 10 LAST"), 0, VERB_BDAT, "10 LAST" },
	{ S("AUTH PLAIN AGFAYg=="), 0, VERB_AUTH, "PLAIN AGFAYg==" },
	{ S(""), 0, VERB_UNKNOWN, "" },
	{ S(" DATA"), 0, VERB_UNKNOWN, "DATA" },
	{ S("DATA\t"), 0, VERB_UNKNOWN, "" },
	{ S("DATAX"), 0, VERB_UNKNOWN, "" },
	{ S("DAT"), 0, VERB_UNKNOWN, "" },
	{ S("STARTTLSX"), 0, VERB_UNKNOWN, "" },
	{ S("XCLIENT ADDR=1.2.3.4"), 0, VERB_UNKNOWN, "ADDR=1.2.3.4" },
	{ S("M\xc3\x80IL FROM:<>"), 0, VERB_UNKNOWN, "FROM:<>" },
	/* control bytes other than HT: refused */
	{ S("NOOP \x01"), -1, VERB_UNKNOWN, "" },
	{ S("DATA\0"), -1, VERB_UNKNOWN, "" },
	{ S("\0"), -1, VERB_UNKNOWN, "" },
	{ S("QUIT\r"), -1, VERB_UNKNOWN, "" },
	{ S("QUIT\n"), -1, VERB_UNKNOWN, "" },
	{ S("NOOP \x7f"), -1, VERB_UNKNOWN, "" },
	{ S("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>"), -1, VERB_UNKNOWN, "" },
};

static void
test_verbs(void **state)
{
	for (size_t i = 0; i < sizeof(verb_cases) / sizeof(verb_cases[0]); i++) {
		const struct verb_case *c = &verb_cases[i];
		char *line = exact(c->line, c->len);
		struct smtp_cmd cmd;
		int r = smtp_cmd_parse(line, c->len, &cmd);

		if (r != c->ret || cmd.verb != c->verb ||
		    cmd.arglen != strlen(c->arg) ||
		    memcmp(cmd.arg, c->arg, cmd.arglen) != 0)
			fail_msg("case %zu: got %d %s [%.*s]", i, r,
			    smtp_verb_name(cmd.verb), (int)cmd.arglen, cmd.arg);
		free(line);
	}
}

static void
test_verb_names(void **state)
{
	static const char *const want[VERB__COUNT] = {
		"UNKNOWN", "HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET",
		"NOOP", "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "BDAT",
		"AUTH",
	};

	for (int v = 0; v < VERB__COUNT; v++)
		assert_string_equal(smtp_verb_name((enum smtp_verb)v), want[v]);
	assert_string_equal(smtp_verb_name(VERB__COUNT), "UNKNOWN");
	assert_string_equal(smtp_verb_name((enum smtp_verb)-1), "UNKNOWN");
}

/* ------------------------------------------------------------------ */

#define R_MAIL_SYNTAX   "501 5.5.4 Syntax: MAIL FROM:<address>"
#define R_RCPT_SYNTAX   "501 5.5.4 Syntax: RCPT TO:<address>"
#define R_PARAM_SYNTAX  "501 5.5.4 Syntax error in parameters"
#define R_PARAM_DUP     "501 5.5.4 Duplicate parameter"
#define R_PARAM_UNKNOWN "555 5.5.4 Unsupported parameter"
#define R_SIZE          "501 5.5.4 Bad SIZE parameter value"
#define R_BODY          "555 5.5.4 Unsupported BODY parameter value"
#define R_SENDER        "501 5.1.7 Bad sender address syntax"
#define R_SENDER_LONG   "501 5.1.7 Sender address too long"
#define R_RCPT          "501 5.1.3 Bad recipient address syntax"
#define R_RCPT_LONG     "501 5.1.3 Recipient address too long"
#define R_UTF8          "553 5.6.7 SMTPUTF8 required for non-ASCII address"

#define L65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct mail_case {
	const char *arg;
	size_t len;
	const char *reply;          /* NULL: success */
	const char *local, *domain;
	unsigned flags;
	bool has_size;
	size_t size;
	enum mail_body body;
	bool smtputf8;
	const char *params;
};

static const struct mail_case mail_cases[] = {
	{ S("FROM:<a@b.example>"), NULL, "a", "b.example", 0, false, 0,
	  BODY_UNSPECIFIED, false, "" },
	{ S("from:<a@b.example>"), NULL, "a", "b.example", 0, false, 0,
	  BODY_UNSPECIFIED, false, "" },
	{ S("FROM:<>"), NULL, "", "", ADDRESS_NULL, false, 0,
	  BODY_UNSPECIFIED, false, "" },
	{ S("FROM: <a@b>"), NULL, "a", "b", 0, false, 0,
	  BODY_UNSPECIFIED, false, "" },
	{ S("FROM:   <>   "), NULL, "", "", ADDRESS_NULL, false, 0,
	  BODY_UNSPECIFIED, false, "" },
	{ S("FROM:<@relay.example:a@b.example>"), NULL, "a", "b.example",
	  ADDRESS_ROUTED, false, 0, BODY_UNSPECIFIED, false, "" },
	{ S("FROM:<a@b> SIZE=1000"), NULL, "a", "b", 0, true, 1000,
	  BODY_UNSPECIFIED, false, "SIZE=1000" },
	{ S("FROM:<a@b>  SIZE=1000  BODY=8BITMIME  "), NULL, "a", "b", 0,
	  true, 1000, BODY_8BITMIME, false, "SIZE=1000  BODY=8BITMIME" },
	{ S("FROM:<a@b> size=0 body=7bit smtputf8"), NULL, "a", "b", 0,
	  true, 0, BODY_7BIT, true, "size=0 body=7bit smtputf8" },
	{ S("FROM:<a@b> SIZE=18446744073709551615"), NULL, "a", "b", 0,
	  true, SIZE_MAX, BODY_UNSPECIFIED, false,
	  "SIZE=18446744073709551615" },
	{ S("FROM:<a@b> SIZE=00000000000000000042"), NULL, "a", "b", 0,
	  true, 42, BODY_UNSPECIFIED, false, "SIZE=00000000000000000042" },
	{ S("FROM:<\xc3\xbc@b.example> SMTPUTF8"), NULL, "\xc3\xbc",
	  "b.example", ADDRESS_UTF8, false, 0, BODY_UNSPECIFIED, true,
	  "SMTPUTF8" },
	{ S("FROM:<a@b.example> SMTPUTF8"), NULL, "a", "b.example", 0,
	  false, 0, BODY_UNSPECIFIED, true, "SMTPUTF8" },
	/* errors: the prefix */
	{ S(""), .reply = R_MAIL_SYNTAX },
	{ S("FROM"), .reply = R_MAIL_SYNTAX },
	{ S("TO:<a@b>"), .reply = R_MAIL_SYNTAX },
	{ S(" FROM:<a@b>"), .reply = R_MAIL_SYNTAX },
	{ S("FROM :<a@b>"), .reply = R_MAIL_SYNTAX },
	{ S("FROM<a@b>"), .reply = R_MAIL_SYNTAX },
	/* errors: the path */
	{ S("FROM:"), .reply = R_SENDER },
	{ S("FROM:   "), .reply = R_SENDER },
	{ S("FROM:a@b"), .reply = R_SENDER },
	{ S("FROM:<a@b"), .reply = R_SENDER },
	{ S("FROM:<a@b>x"), .reply = R_SENDER },
	{ S("FROM:<a@b>SIZE=1"), .reply = R_SENDER },
	{ S("FROM:<a@b>\tSIZE=1"), .reply = R_SENDER },
	{ S("FROM:<a b@c>"), .reply = R_SENDER },
	{ S("FROM:<" L65 "@b.example>"), .reply = R_SENDER_LONG },
	{ S("FROM:<\xc3\xbc@b.example>"), .reply = R_UTF8 },
	{ S("FROM:<\xc3\xbc@b.example> SIZE=1"), .reply = R_UTF8 },
	{ S("FROM:<a@b.\xc3\xbc> BODY=8BITMIME"), .reply = R_UTF8 },
	/* errors: parameters */
	{ S("FROM:<a@b> SIZE=18446744073709551616"), .reply = R_SIZE },
	{ S("FROM:<a@b> SIZE=123456789012345678901"), .reply = R_SIZE },
	{ S("FROM:<a@b> SIZE"), .reply = R_SIZE },
	{ S("FROM:<a@b> SIZE=12a"), .reply = R_SIZE },
	{ S("FROM:<a@b> SIZE=-1"), .reply = R_SIZE },
	{ S("FROM:<a@b> SIZE=+1"), .reply = R_SIZE },
	{ S("FROM:<a@b> SIZE="), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> BODY=BINARYMIME"), .reply = R_BODY },
	{ S("FROM:<a@b> BODY=8BIT"), .reply = R_BODY },
	{ S("FROM:<a@b> BODY"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> SMTPUTF8=yes"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> SIZE=1 SIZE=2"), .reply = R_PARAM_DUP },
	{ S("FROM:<a@b> SMTPUTF8 smtputf8"), .reply = R_PARAM_DUP },
	{ S("FROM:<a@b> BODY=7BIT body=8bitmime"), .reply = R_PARAM_DUP },
	{ S("FROM:<a@b> AUTH=<>"), .reply = R_PARAM_UNKNOWN },
	{ S("FROM:<a@b> X-FOO"), .reply = R_PARAM_UNKNOWN },
	{ S("FROM:<a@b> SIZE=10 RET=HDRS"), .reply = R_PARAM_UNKNOWN },
	{ S("FROM:<\xc3\xbc@b> X"), .reply = R_PARAM_UNKNOWN },
	{ S("FROM:<a@b> =x"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> -X"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> X_Y"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> A=b=c"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> A=\x01"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> A=x\ty"), .reply = R_PARAM_SYNTAX },
	{ S("FROM:<a@b> SIZE=1\t"), .reply = R_PARAM_SYNTAX },
};

static void
test_mail(void **state)
{
	for (size_t i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		const struct mail_case *c = &mail_cases[i];
		char *arg = exact(c->arg, c->len);
		struct mail_args m;
		const char *reply = "unset";
		int r = smtp_mail_parse(arg, c->len, &m, &reply);

		print_message("case %zu: %d %s\n", i, r, reply ? reply : "-");
		if (c->reply) {
			assert_int_equal(r, -1);
			assert_non_null(reply);
			assert_string_equal(reply, c->reply);
			free(arg);
			continue;
		}
		assert_int_equal(r, 0);
		assert_null(reply);
		assert_string_equal(m.addr.local, c->local);
		assert_string_equal(m.addr.domain, c->domain);
		assert_int_equal(m.addr.flags, c->flags);
		assert_int_equal(m.has_size, c->has_size);
		assert_int_equal(m.size, c->size);
		assert_int_equal(m.body, c->body);
		assert_int_equal(m.smtputf8, c->smtputf8);
		assert_int_equal(m.paramslen, strlen(c->params));
		assert_memory_equal(m.params, c->params, m.paramslen);
		free(arg);
	}
}

struct rcpt_case {
	const char *arg;
	size_t len;
	bool utf8_ok;
	const char *reply;
	const char *local, *domain;
	unsigned flags;
	const char *params;
};

#define D64 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static const struct rcpt_case rcpt_cases[] = {
	{ S("TO:<a@b.example>"), false, NULL, "a", "b.example", 0, "" },
	{ S("to: <a@b.example>"), false, NULL, "a", "b.example", 0, "" },
	{ S("To:<a@b.example>   "), false, NULL, "a", "b.example", 0, "" },
	{ S("TO:<postmaster>"), false, NULL, "postmaster", "",
	  ADDRESS_NO_DOMAIN, "" },
	{ S("TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b"), false, NULL,
	  "a", "b", 0, "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b" },
	{ S("TO:<\xc3\xbc@b.example>"), true, NULL, "\xc3\xbc", "b.example",
	  ADDRESS_UTF8, "" },
	{ S("TO:<a%c@b.example>"), false, NULL, "a%c", "b.example",
	  ADDRESS_ROUTING_CHARS, "" },
	{ S("TO:<\xc3\xbc@b.example>"), false, .reply = R_UTF8 },
	{ S("FROM:<a@b>"), false, .reply = R_RCPT_SYNTAX },
	{ S("TO"), false, .reply = R_RCPT_SYNTAX },
	{ S(""), false, .reply = R_RCPT_SYNTAX },
	{ S(" TO:<a@b>"), false, .reply = R_RCPT_SYNTAX },
	{ S("TO:"), false, .reply = R_RCPT },
	{ S("TO:<>"), false, .reply = R_RCPT },
	{ S("TO:<a@b>x"), false, .reply = R_RCPT },
	{ S("TO:a@b"), false, .reply = R_RCPT },
	{ S("TO:<a@" D64 ".example>"), false, .reply = R_RCPT_LONG },
	{ S("TO:<a@b> NOTIFY"), false, .reply = R_PARAM_SYNTAX },
	{ S("TO:<a@b> ORCPT="), false, .reply = R_PARAM_SYNTAX },
	{ S("TO:<a@b> NOTIFY=NEVER notify=NEVER"), false, .reply = R_PARAM_DUP },
	{ S("TO:<a@b> ORCPT=x ORCPT=y"), false, .reply = R_PARAM_DUP },
	{ S("TO:<a@b> SIZE=1"), false, .reply = R_PARAM_UNKNOWN },
	{ S("TO:<a@b> SMTPUTF8"), false, .reply = R_PARAM_UNKNOWN },
	{ S("TO:<a@b> X=\x7f"), false, .reply = R_PARAM_SYNTAX },
	{ S("TO:<a@b> NOTIFY=NEVER ="), false, .reply = R_PARAM_SYNTAX },
};

static void
test_rcpt(void **state)
{
	for (size_t i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
		const struct rcpt_case *c = &rcpt_cases[i];
		char *arg = exact(c->arg, c->len);
		struct rcpt_args a;
		const char *reply = "unset";
		int r = smtp_rcpt_parse(arg, c->len, c->utf8_ok, &a, &reply);

		print_message("case %zu: %d %s\n", i, r, reply ? reply : "-");
		if (c->reply) {
			assert_int_equal(r, -1);
			assert_non_null(reply);
			assert_string_equal(reply, c->reply);
			free(arg);
			continue;
		}
		assert_int_equal(r, 0);
		assert_null(reply);
		assert_string_equal(a.addr.local, c->local);
		assert_string_equal(a.addr.domain, c->domain);
		assert_int_equal(a.addr.flags, c->flags);
		assert_int_equal(a.paramslen, strlen(c->params));
		assert_memory_equal(a.params, c->params, a.paramslen);
		free(arg);
	}
}

/* ------------------------------------------------------------------ */

struct helo_case {
	const char *arg;
	size_t len;
	int want;
};

#define L63 "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"

static const struct helo_case helo_cases[] = {
	{ S("example.com"), 0 },
	{ S("localhost"), 0 },
	{ S("a"), 0 },
	{ S("mail-1.Example.COM"), 0 },
	{ S("example.com."), 0 },
	{ S("my_pc.corp"), 0 },
	{ S("1.2.3.4"), 0 },
	{ S("example.com "), 0 },
	{ S("x\t"), 0 },
	{ S(L63 ".example"), 0 },
	{ S("[1.2.3.4]"), 0 },
	{ S("[IPv6:::1]"), 0 },
	{ S("[ipv6:2001:db8::1]"), 0 },
	{ S("[IPv6:::ffff:1.2.3.4]"), 0 },
	{ S(""), -1 },
	{ S("   "), -1 },
	{ S("\t"), -1 },
	{ S("-a.com"), -1 },
	{ S("a-.com"), -1 },
	{ S("a.-b"), -1 },
	{ S("a..b"), -1 },
	{ S(".a"), -1 },
	{ S("."), -1 },
	{ S("a.com.."), -1 },
	{ S("exa mple"), -1 },
	{ S("a@b"), -1 },
	{ S("m\xc3\xbcnchen.de"), -1 },
	{ S("a\0b"), -1 },
	{ S(L63 "l.example"), -1 },
	{ S("[1.2.3]"), -1 },
	{ S("[1.2.3.4"), -1 },
	{ S("[1.2.3.4]x"), -1 },
	{ S("[]"), -1 },
	{ S("["), -1 },
	{ S("[IPv6:]"), -1 },
	{ S("[IPv6:1.2.3.4]"), -1 },
	{ S("[256.1.1.1]"), -1 },
	{ S("[::1]"), -1 },
	{ S("[tag:content]"), -1 },
	{ S("[1.2.3.4\0]"), -1 },
	{ S("[IPv6:" "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]"),
	  -1 },
};

static void
test_helo(void **state)
{
	for (size_t i = 0; i < sizeof(helo_cases) / sizeof(helo_cases[0]); i++) {
		const struct helo_case *c = &helo_cases[i];
		char *arg = exact(c->arg, c->len);
		int r = smtp_helo_check(arg, c->len);

		if (r != c->want)
			fail_msg("case %zu [%s]: got %d", i, c->arg, r);
		free(arg);
	}
}

/* 255 octets is the longest domain; one trailing dot does not count. */
static void
test_helo_length(void **state)
{
	static const struct { size_t pairs; bool last; bool dot; int want; }
	cases[] = {
		{ 127, true, false, 0 },     /* a.a. ... a    = 255 */
		{ 127, true, true, 0 },      /* 255 + "."     */
		{ 128, true, false, -1 },    /* 257 */
		{ 128, false, false, 0 },    /* 256 ending in "." = 255 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[300];
		size_t n = 0;
		for (size_t k = 0; k < cases[i].pairs; k++) {
			buf[n++] = 'a';
			buf[n++] = '.';
		}
		if (cases[i].last)
			buf[n++] = 'a';
		if (cases[i].dot)
			buf[n++] = '.';
		char *arg = exact(buf, n);
		if (smtp_helo_check(arg, n) != cases[i].want)
			fail_msg("case %zu (len %zu)", i, n);
		free(arg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_helo_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
