/*
 * test_addrlist.c - addrlist_rewrite(), addrlist_count(), error texts.
 *
 * Table-driven.  Good rows: a header value, the mailbox and group counts,
 * the addr-specs the callback must be handed (CFWS removed, joined by
 * '|'), and the output when the callback maps a few addresses; every good
 * row is also run with the identity callback, whose output must be the
 * input byte for byte.  Bad rows: values that are not address lists; the
 * callback must never run for them.  Then the callback's own errors, a
 * too-small output buffer and an over-long address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "addrlist.h"

#define S(x) x, sizeof(x) - 1

struct seen {
	char specs[2048];
	size_t len;
	unsigned calls;
	int mode;                 /* see map_cb() */
};

static const char *const mapping[][2] = {
	{ "old@x.example", "new@y.example" },
	{ "c@d.example", "\"e f\"@[192.0.2.7]" },
	{ "old.user@x.example", "o@x.example" },
};

enum { MAP, IDENTITY, FAIL, BAD_REPL, BAD_RC, EMPTY_REPL, LONG_REPL };

static const char *const bad_repl[] = {
	"not an address", "a@b.example (c)", " a@b.example", "a b@c.example",
	"a@b.example\r\n", "a@", "@b.example", "a@b.example, c@d.example",
	"<a@b.example>", "a..b@c.example",
};

static int
map_cb(const char *addr, size_t len, void *ctx, struct addrlist_repl *out)
{
	struct seen *s = ctx;
	size_t i;

	if (s->len + len + 1 < sizeof s->specs) {
		if (s->calls > 0)
			s->specs[s->len++] = '|';
		memcpy(s->specs + s->len, addr, len);
		s->len += len;
		s->specs[s->len] = '\0';
	}
	s->calls++;
	switch (s->mode) {
	case IDENTITY:
		return 0;
	case FAIL:
		return -1;
	case BAD_RC:
		return 2;
	case EMPTY_REPL:
		out->len = 0;
		return 1;
	case LONG_REPL:
		memset(out->addr, 'a', sizeof out->addr);
		out->len = sizeof out->addr + 1;
		return 1;
	case BAD_REPL:
		i = s->calls - 1;
		out->len = strlen(bad_repl[i]);
		memcpy(out->addr, bad_repl[i], out->len);
		return 1;
	}
	for (i = 0; i < sizeof mapping / sizeof mapping[0]; i++) {
		if (strlen(mapping[i][0]) == len &&
		    memcmp(mapping[i][0], addr, len) == 0) {
			out->len = strlen(mapping[i][1]);
			memcpy(out->addr, mapping[i][1], out->len);
			return 1;
		}
	}
	return 0;
}

struct good_case {
	const char *in;
	size_t len;
	size_t mailboxes;
	size_t groups;
	const char *specs;
	const char *out;          /* NULL: same as in */
};

static const struct good_case good[] = {
	{ S("old@x.example"), 1, 0, "old@x.example", "new@y.example" },
	{ S("Old User <old@x.example>"), 1, 0, "old@x.example", "Old User <new@y.example>" },
	{ S("<old@x.example>"), 1, 0, "old@x.example", "<new@y.example>" },
	{ S("\"old@x.example\" <c@d.example>"), 1, 0, "c@d.example", "\"old@x.example\" <\"e f\"@[192.0.2.7]>" },
	{ S("\"a@b\" <z@z.example>"), 1, 0, "z@z.example", NULL },
	{ S("<@route.example:old@x.example>"), 1, 0, "old@x.example", "<@route.example:new@y.example>" },
	{ S("Name <@a.example, @b.example :old@x.example>"), 1, 0, "old@x.example", "Name <@a.example, @b.example :new@y.example>" },
	{ S("undisclosed-recipients:;"), 0, 1, "", NULL },
	{ S("undisclosed-recipients: (none) ;  "), 0, 1, "", NULL },
	{ S("Team: old@x.example, B <b@c.example>;"), 2, 1, "old@x.example|b@c.example", "Team: new@y.example, B <b@c.example>;" },
	{ S("Team: , old@x.example,, ; , z@z.example"), 2, 1, "old@x.example|z@z.example", "Team: , new@y.example,, ; , z@z.example" },
	{ S("A Group:old@x.example;, c@d.example"), 2, 1, "old@x.example|c@d.example", "A Group:new@y.example;, \"e f\"@[192.0.2.7]" },
	{ S("=?utf-8?q?a@b?= <old@x.example>"), 1, 0, "old@x.example", "=?utf-8?q?a@b?= <new@y.example>" },
	{ S("=?utf-8?q?old@x.example?= <c@d.example>"), 1, 0, "c@d.example", "=?utf-8?q?old@x.example?= <\"e f\"@[192.0.2.7]>" },
	{ S("=?ISO-8859-1?B?SvZyZw==?= =?utf-8?Q?M=C3=BCller?= <z@z.example>"), 1, 0, "z@z.example", NULL },
	{ S("old@x.example (Old (nested \\) \"q\" ) comment)"), 1, 0, "old@x.example", "new@y.example (Old (nested \\) \"q\" ) comment)" },
	{ S("(c) old (c) . (c) user@x.example (t)"), 1, 0, "old.user@x.example", "(c) o@x.example (t)" },
	{ S("old @ x.example"), 1, 0, "old@x.example", "new@y.example" },
	{ S("old@x (c) . example"), 1, 0, "old@x.example", "new@y.example" },
	{ S("J\xc3\xb6rg M\xc3\xbcller <old@x.example>"), 1, 0, "old@x.example", "J\xc3\xb6rg M\xc3\xbcller <new@y.example>" },
	{ S("\"J\xc3\xb6rg\" (\xe2\x82\xac) <j\xc3\xb6rg@b\xc3\xbc" "cher.example>"), 1, 0, "j\xc3\xb6rg@b\xc3\xbc" "cher.example", NULL },
	{ S("Old User\r\n\t<old@x.example>,\r\n b@c.example"), 2, 0, "old@x.example|b@c.example", "Old User\r\n\t<new@y.example>,\r\n b@c.example" },
	{ S("a@b.example,\n c@d.example"), 2, 0, "a@b.example|c@d.example", "a@b.example,\n \"e f\"@[192.0.2.7]" },
	{ S("\tOld\t<old@x.example>\t"), 1, 0, "old@x.example", "\tOld\t<new@y.example>\t" },
	{ S("\"Quoted \\\" name\" <old@x.example>"), 1, 0, "old@x.example", "\"Quoted \\\" name\" <new@y.example>" },
	{ S("\"folded\r\n name\" <z@z.example>"), 1, 0, "z@z.example", NULL },
	{ S("old@x.example, ,b@c.example,"), 2, 0, "old@x.example|b@c.example", "new@y.example, ,b@c.example," },
	{ S(", old@x.example"), 1, 0, "old@x.example", ", new@y.example" },
	{ S("old@[192.0.2.1]"), 1, 0, "old@[192.0.2.1]", NULL },
	{ S("x@[ IPv6:2001:db8::1 ]"), 1, 0, "x@[ IPv6:2001:db8::1 ]", NULL },
	{ S("\"quoted local\"@x.example"), 1, 0, "\"quoted local\"@x.example", NULL },
	{ S("\"a\\\"b\" . c@x.example"), 1, 0, "\"a\\\"b\".c@x.example", NULL },
	{ S("Mr. Smith <old@x.example>"), 1, 0, "old@x.example", "Mr. Smith <new@y.example>" },
	{ S("old@x.example, Old <old@x.example>"), 2, 0, "old@x.example|old@x.example", "new@y.example, Old <new@y.example>" },
	{ S("j\xc3\xb6rg@x.example"), 1, 0, "j\xc3\xb6rg@x.example", NULL },
	{ S("old@x.example\r\n"), 1, 0, "old@x.example", "new@y.example\r\n" },
	{ S("\"\"@x.example"), 1, 0, "\"\"@x.example", NULL },
	{ S("=?x?q?a?=@x.example"), 1, 0, "=?x?q?a?=@x.example", NULL },
	{ S("a=?x?q?b@c?=.example"), 1, 0, "a=?x?q?b@c?=.example", NULL },
	{ S("<a(in)@(in)x.example(in)>"), 1, 0, "a@x.example", NULL },
};

static void
check_good(size_t i, const struct good_case *c)
{
	char out[4096];
	size_t olen = 99, m = 99, g = 99;
	struct seen s = { .mode = MAP };
	const char *want = c->out ? c->out : c->in;
	enum addrlist_error e;

	e = addrlist_count(c->in, c->len, &m, &g);
	if (e != ADDRLIST_OK || m != c->mailboxes || g != c->groups)
		fail_msg("case %zu: count %d %zu %zu, want %zu %zu", i, e, m, g,
		    c->mailboxes, c->groups);
	e = addrlist_rewrite(c->in, c->len, map_cb, &s, out, sizeof out, &olen);
	if (e != ADDRLIST_OK || strcmp(s.specs, c->specs) != 0 ||
	    s.calls != c->mailboxes || olen != strlen(want) ||
	    memcmp(out, want, olen) != 0)
		fail_msg("case %zu: %d specs \"%s\" out \"%.*s\"", i, e, s.specs,
		    (int)olen, out);
	memset(&s, 0, sizeof s);
	s.mode = IDENTITY;
	e = addrlist_rewrite(c->in, c->len, map_cb, &s, out, sizeof out, &olen);
	assert_int_equal(e, ADDRLIST_OK);
	assert_int_equal(olen, c->len);
	assert_memory_equal(out, c->in, c->len);
	/* the rewritten value is itself a list of the same shape */
	if (c->out != NULL) {
		assert_int_equal(addrlist_count(c->out, strlen(c->out), &m, &g), ADDRLIST_OK);
		assert_int_equal(m, c->mailboxes);
		assert_int_equal(g, c->groups);
	}
}

static void
test_good(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		check_good(i, &good[i]);
}

struct bad_case {
	const char *in;
	size_t len;
};

static const struct bad_case bad[] = {
	{ S("") }, { S("   ") }, { S(",") }, { S(" , ,") }, { S("(only comment)") },
	{ S("(unterminated") }, { S("(a (b)") }, { S("\"unterminated") },
	{ S("a@") }, { S("@x.example") }, { S("a") }, { S("Name") },
	{ S("a b@c.example") }, { S("a@b.example c@d.example") },
	{ S("<a@b.example") }, { S("Name <a@b.example> extra") },
	{ S("Name <a@b.example>>") }, { S("<>") }, { S("<postmaster>") },
	{ S("G: a@b.example") }, { S("G: H: a@b.example;;") }, { S("G: a@b.example c@d;") },
	{ S(": a@b.example;") }, { S("a@b.example;") },
	{ S("a@b.example\r\nc@d.example") }, { S("a@b.example\nc@d.example") },
	{ S("a@b.ex\0ample") }, { S("\"a\0\"@b.example") }, { S("(\0)a@b.example") },
	{ S("a..b@x.example") }, { S(".a@x.example") }, { S("a.@x.example") },
	{ S("a@x..example") }, { S("a@x.") }, { S("a@.x") }, { S("[a]@b.example") },
	{ S("\\a@b.example") }, { S("a@[x[y]") }, { S("a@[x") }, { S("a@[x\\") },
	{ S("<@route a@b.example>") }, { S("<@:a@b.example>") }, { S("<:a@b.example>") },
	{ S("<@r.example,a@b.example>") }, { S("<a@b.example (c>") },
	{ S("a@b.example\r") }, { S("a@b.example\r ") }, { S("(comment \\") },
	{ S(". <a@b.example>") }, { S("=?utf-8?q?a@b?=") }, { S("=?utf-8?q?a@b?= c") },
	{ S("a@b.example, \"x\"") }, { S("Name <a@b.example>, <") },
	{ S("a@b.example\r\n\r\n c@d.example") }, { S("\"q\r\nx\"@b.example") },
	{ S("a@b.example)") }, { S("a@b.example >") }, { S("a\x01@b.example") },
	{ S("old@x.example.\n") },
};

static void
test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const struct bad_case *c = &bad[i];
		struct seen s = { .mode = MAP };
		size_t olen = 99, m = 99, g = 99;
		char out[256];
		enum addrlist_error e;

		e = addrlist_count(c->in, c->len, &m, &g);
		if (e != ADDRLIST_ERR_SYNTAX || m != 0 || g != 0)
			fail_msg("case %zu \"%.*s\": count %d %zu %zu", i, (int)c->len,
			    c->in, e, m, g);
		e = addrlist_rewrite(c->in, c->len, map_cb, &s, out, sizeof out, &olen);
		if (e != ADDRLIST_ERR_SYNTAX || olen != 0 || s.calls != 0)
			fail_msg("case %zu: rewrite %d len %zu calls %u", i, e, olen, s.calls);
	}
}

static void
test_callback_errors(void **state)
{
	static const char in[] = "Old <old@x.example>, c@d.example";
	struct seen s;
	char out[256];
	size_t olen, i;
	int modes[] = { FAIL, BAD_RC, EMPTY_REPL, LONG_REPL };

	(void)state;
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		memset(&s, 0, sizeof s);
		s.mode = modes[i];
		olen = 99;
		assert_int_equal(addrlist_rewrite(S(in), map_cb, &s, out, sizeof out,
		    &olen), ADDRLIST_ERR_CALLBACK);
		assert_int_equal(olen, 0);
		assert_int_equal(s.calls, 1);
	}
	for (i = 0; i < sizeof bad_repl / sizeof bad_repl[0]; i++) {
		memset(&s, 0, sizeof s);
		s.mode = BAD_REPL;
		s.calls = (unsigned)i;
		olen = 99;
		if (addrlist_rewrite("x@y.example", 11, map_cb, &s, out, sizeof out,
		    &olen) != ADDRLIST_ERR_CALLBACK || olen != 0)
			fail_msg("bad replacement \"%s\" accepted", bad_repl[i]);
	}
}

static void
test_space(void **state)
{
	static const char in[] = "Old <old@x.example> (c)";
	static const char want[] = "Old <new@y.example> (c)";
	struct seen s = { .mode = MAP };
	char out[64];
	size_t olen, cap;

	(void)state;
	for (cap = 0; cap < sizeof want - 1; cap++) {
		olen = 99;
		assert_int_equal(addrlist_rewrite(S(in), map_cb, &s, out, cap, &olen),
		    ADDRLIST_ERR_SPACE);
		assert_int_equal(olen, 0);
	}
	assert_int_equal(addrlist_rewrite(S(in), map_cb, &s, out, cap, &olen),
	    ADDRLIST_OK);
	assert_int_equal(olen, sizeof want - 1);
	assert_memory_equal(out, want, olen);
	assert_int_equal(addrlist_rewrite(S(in), NULL, NULL, out, cap, &olen),
	    ADDRLIST_OK);
	assert_memory_equal(out, in, olen);
}

static void
test_too_long(void **state)
{
	char in[ADDRLIST_ADDR_MAX + 64], out[sizeof in + 64];
	struct seen s = { .mode = IDENTITY };
	size_t m, g, olen = 99, n = ADDRLIST_ADDR_MAX - 10;

	(void)state;
	/* at the limit: local part of n octets + "@x.example" = 1024 */
	memset(in, 'a', n);
	memcpy(in + n, "@x.example", 10);
	assert_int_equal(addrlist_rewrite(in, n + 10, map_cb, &s, out, sizeof out,
	    &olen), ADDRLIST_OK);
	assert_int_equal(olen, n + 10);
	/* one more octet: syntactically fine, too long for a callback */
	memset(in, 'a', n + 1);
	memcpy(in + n + 1, "@x.example", 10);
	assert_int_equal(addrlist_count(in, n + 11, &m, &g), ADDRLIST_OK);
	assert_int_equal(m, 1);
	assert_int_equal(addrlist_rewrite(in, n + 11, map_cb, &s, out, sizeof out,
	    &olen), ADDRLIST_ERR_TOO_LONG);
	assert_int_equal(olen, 0);
	/* a long comment inside the address is not part of its length */
	memset(in, ' ', sizeof in);
	memcpy(in, "a(", 2);
	memcpy(in + ADDRLIST_ADDR_MAX + 10, ")@x.example", 11);
	assert_int_equal(addrlist_rewrite(in, ADDRLIST_ADDR_MAX + 21, map_cb, &s,
	    out, sizeof out, &olen), ADDRLIST_OK);
}

static void
test_texts(void **state)
{
	(void)state;
	assert_string_equal(addrlist_error_text(ADDRLIST_OK), "ok");
	assert_string_equal(addrlist_error_text(ADDRLIST_ERR_SYNTAX),
	    "not an RFC 5322 address list");
	assert_string_equal(addrlist_error_text(ADDRLIST_ERR_TOO_LONG),
	    "address longer than 1024 octets");
	assert_string_equal(addrlist_error_text(ADDRLIST_ERR_CALLBACK),
	    "address rewrite failed");
	assert_string_equal(addrlist_error_text(ADDRLIST_ERR_SPACE),
	    "rewritten header does not fit");
	assert_string_equal(addrlist_error_text((enum addrlist_error)42),
	    "unknown address list error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_callback_errors),
		cmocka_unit_test(test_space),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
