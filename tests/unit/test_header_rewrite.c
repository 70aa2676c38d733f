/*
 * test_header_rewrite.c - header_rewrite_apply() and
 * header_rewrite_section_end().
 *
 * Table-driven (got/want): one sender map is loaded from a temporary
 * file; each row is a header section (sometimes with a body), the output
 * wanted, the number of rewrites and the notes the callback must get
 * (joined as "C field old>new;" and "K field: reason;").  Rows: display
 * names with commas in quotes, comments holding '@', groups, encoded
 * words holding '@', folded fields, two From fields, field names in any
 * case and with WSP before the colon, other fields (To, Resent-From,
 * X-From) and a From in the body untouched, values that are not address
 * lists and rewrites over RFC 5321 limits kept and reported, bare LF not
 * starting a field, no blank line, no final CRLF.  Rows without a rewrite
 * must come back byte for byte.  Every row also runs with no map (always
 * identity, no notes) and without a callback (same output).  Then: output
 * buffers that must grow (many addresses, a long header), and the section
 * end table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "header_rewrite.h"

#define S(x) x, sizeof(x) - 1
#define D250 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"d.dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"d.dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"d.dddddddddddddddddddddddddddddddddddddddddddddddddddddd.examp" \
	"le"

static const char map_text[] =
	"alice@example.com alice@tenant.onmicrosoft.com\n"
	"@example.com @tenant.example\n"
	"bob@old.example robert@new.example\n"
	"@long.example @" D250 "\n"
	"@grow.example @a-much-longer-domain-name-than-before.example\n";

static struct addrmap *map;

static int
load(void **state)
{
	char path[] = "/tmp/test_header_rewrite.XXXXXX", err[512];
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0 || write(fd, map_text, sizeof map_text - 1) !=
	    (ssize_t)(sizeof map_text - 1))
		return -1;
	close(fd);
	if (addrmap_load(path, &map, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	unlink(path);
	return 0;
}

static int
unload(void **state)
{
	(void)state;
	addrmap_free(map);
	return 0;
}

struct notes {
	char s[4096];
	size_t len;
};

static void
add(struct notes *n, const char *p, size_t len)
{
	assert_true(n->len + len < sizeof n->s);
	memcpy(n->s + n->len, p, len);
	n->len += len;
	n->s[n->len] = '\0';
}

static void
note_cb(void *arg, const struct header_rewrite_note *note)
{
	struct notes *n = arg;

	if (note->what == HEADER_REWRITE_CHANGED) {
		add(n, "C ", 2);
		add(n, note->field, note->field_len);
		add(n, " ", 1);
		add(n, note->old_addr, note->old_len);
		add(n, ">", 1);
		add(n, note->new_addr, note->new_len);
	} else {
		assert_int_equal(note->what, HEADER_REWRITE_KEPT);
		add(n, "K ", 2);
		add(n, note->field, note->field_len);
		add(n, ": ", 2);
		add(n, note->reason, strlen(note->reason));
		assert_true(note->value_len > 0 || note->value != NULL);
	}
	add(n, ";", 1);
}

struct row {
	const char *in;
	size_t len;
	const char *want;         /* NULL: same as in */
	size_t want_len;
	int rewrites;
	const char *notes;
};

#define SAME NULL, 0
#define SYNTAX "not an RFC 5322 address list"
#define LIMITS "rewritten address would exceed RFC 5321 limits"

static const struct row rows[] = {
	{ S(""), SAME, 0, "" },
	{ S("Subject: x\r\nTo: alice@example.com\r\n\r\nbody\r\n"), SAME, 0,
	  "" },
	{ S("From: alice@example.com\r\n\r\n"),
	  S("From: alice@tenant.onmicrosoft.com\r\n\r\n"), 1,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;" },
	{ S("From: \"Doe, Alice\" <alice@example.com>\r\nTo: x@y\r\n\r\n"),
	  S("From: \"Doe, Alice\" <alice@tenant.onmicrosoft.com>\r\n"
	    "To: x@y\r\n\r\n"), 1,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;" },
	{ S("From: alice@example.com (alice@example.com, bob@old.example)"
	    "\r\n\r\n"),
	  S("From: alice@tenant.onmicrosoft.com (alice@example.com, "
	    "bob@old.example)\r\n\r\n"), 1,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;" },
	{ S("Reply-To: team: bob@old.example, \"C, D\" <carol@example.com>;"
	    ", x@elsewhere.example\r\n\r\n"),
	  S("Reply-To: team: robert@new.example, \"C, D\" "
	    "<carol@tenant.example>;, x@elsewhere.example\r\n\r\n"), 2,
	  "C Reply-To bob@old.example>robert@new.example;"
	  "C Reply-To carol@example.com>carol@tenant.example;" },
	{ S("Reply-To: undisclosed-recipients:;\r\n\r\n"), SAME, 0, "" },
	{ S("From: =?utf-8?q?bob@old.example?= <x@example.com>\r\n\r\n"),
	  S("From: =?utf-8?q?bob@old.example?= <x@tenant.example>\r\n\r\n"),
	  1, "C From x@example.com>x@tenant.example;" },
	{ S("From: \"Alice\"\r\n <alice@example.com>,\r\n\tbob@old.example\r\n"
	    "Subject: s\r\n\r\n"),
	  S("From: \"Alice\"\r\n <alice@tenant.onmicrosoft.com>,\r\n"
	    "\trobert@new.example\r\nSubject: s\r\n\r\n"), 2,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;"
	  "C From bob@old.example>robert@new.example;" },
	{ S("From: a@example.com\r\nFrom: b@example.com\r\n\r\n"),
	  S("From: a@tenant.example\r\nFrom: b@tenant.example\r\n\r\n"), 2,
	  "C From a@example.com>a@tenant.example;"
	  "C From b@example.com>b@tenant.example;" },
	{ S("Subject: s\r\n\r\nFrom: alice@example.com\r\n\r\n"
	    "Sender: bob@old.example\r\n"), SAME, 0, "" },
	{ S("FROM: a@example.com\r\nsender : b@example.com\r\n"
	    "rEpLy-To\t: c@example.com\r\n\r\n"),
	  S("FROM: a@tenant.example\r\nsender : b@tenant.example\r\n"
	    "rEpLy-To\t: c@tenant.example\r\n\r\n"), 3,
	  "C FROM a@example.com>a@tenant.example;"
	  "C sender b@example.com>b@tenant.example;"
	  "C rEpLy-To c@example.com>c@tenant.example;" },
	{ S("To: a@example.com\r\nCc: a@example.com\r\n"
	    "Resent-From: a@example.com\r\nX-From: a@example.com\r\n"
	    "Senders: a@example.com\r\nFrom-X: a@example.com\r\n"
	    "Return-Path: <a@example.com>\r\n\r\n"), SAME, 0, "" },
	{ S("From: alice@example.com <\r\n\r\n"), SAME, 0,
	  "K From: " SYNTAX ";" },
	{ S("From:\r\nSender: bob@old.example\r\n\r\n"),
	  S("From:\r\nSender: robert@new.example\r\n\r\n"), 1,
	  "K From: " SYNTAX ";C Sender bob@old.example>robert@new.example;" },
	{ S("From: a@example.com, abcd@long.example\r\n\r\n"), SAME, 0,
	  "K From: " LIMITS ";" },
	{ S("From: alice@example.com\r\n"),
	  S("From: alice@tenant.onmicrosoft.com\r\n"), 1,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;" },
	{ S("From: alice@example.com"),
	  S("From: alice@tenant.onmicrosoft.com"), 1,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;" },
	{ S(" From: alice@example.com\r\nFrom: bob@old.example\r\n\r\n"),
	  S(" From: alice@example.com\r\nFrom: robert@new.example\r\n\r\n"), 1,
	  "C From bob@old.example>robert@new.example;" },
	{ S("X-A: a\nFrom: alice@example.com\r\n\r\n"), SAME, 0, "" },
	{ S("From: a@example.com\nTo: b@c\r\n\r\n"), SAME, 0,
	  "K From: " SYNTAX ";" },
	{ S("From: a@example.com\rx\r\n\r\n"), SAME, 0, "K From: " SYNTAX ";" },
	{ S("From: a@exa\0mple.com\r\n\r\n"), SAME, 0, "K From: " SYNTAX ";" },
	{ S("\r\nFrom: alice@example.com\r\n"), SAME, 0, "" },
	{ S("From: alice@example.com,\r\n bob@old.example\r\n"
	    "To: bob@old.example\r\n\r\n"),
	  S("From: alice@tenant.onmicrosoft.com,\r\n robert@new.example\r\n"
	    "To: bob@old.example\r\n\r\n"), 2,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;"
	  "C From bob@old.example>robert@new.example;" },
	{ S("Received: from x\r\nFrom: \"Nobody\" <n@elsewhere.example> (c)"
	    "\r\nSender: =?utf-8?b?w6k=?= <s@nowhere.example>\r\n"
	    "Reply-To: g: ;\r\nDKIM-Signature: v=1; h=from\r\n\r\nb\r\n"),
	  SAME, 0, "" },
	{ S("From: \"a b\"@example.com\r\n\r\n"),
	  S("From: \"a b\"@tenant.example\r\n\r\n"), 1,
	  "C From \"a b\"@example.com>\"a b\"@tenant.example;" },
	{ S("From: alice (x) @ example.com\r\n\r\n"),
	  S("From: alice@tenant.onmicrosoft.com\r\n\r\n"), 1,
	  "C From alice@example.com>alice@tenant.onmicrosoft.com;" },
	{ S("From: Alice@EXAMPLE.COM\r\n\r\n"),
	  S("From: alice@tenant.onmicrosoft.com\r\n\r\n"), 1,
	  "C From Alice@EXAMPLE.COM>alice@tenant.onmicrosoft.com;" },
	{ S("From: J\xc3\xb6rg <j@example.com>\r\n\r\n"),
	  S("From: J\xc3\xb6rg <j@tenant.example>\r\n\r\n"), 1,
	  "C From j@example.com>j@tenant.example;" },
	{ S(": x\r\nFrom a@example.com\r\nFrom: <@r.example:a@example.com>"
	    "\r\n\r\n"),
	  S(": x\r\nFrom a@example.com\r\nFrom: <@r.example:a@tenant.example>"
	    "\r\n\r\n"), 1, "C From a@example.com>a@tenant.example;" },
	{ S("From: " "llllllllllllllllllllllllllllllllllllllllllllllllllllllll"
	    "lllllllllllll@example.com\r\n\r\n"), SAME, 0, "" },
	{ S("From: user@[192.0.2.1]\r\n\r\n"), SAME, 0, "" },
};

static void
run(const struct row *r, const struct addrmap *m, bool with_cb,
    char **out, size_t *out_len, struct notes *n)
{
	int got;

	n->len = 0;
	n->s[0] = '\0';
	got = header_rewrite_apply(r->in, r->len, m, with_cb ? note_cb : NULL,
	    n, out, out_len);
	assert_non_null(*out);
	if (m == NULL)
		assert_int_equal(got, 0);
	else
		assert_int_equal(got, r->rewrites);
}

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		const char *want = r->want ? r->want : r->in;
		size_t want_len = r->want ? r->want_len : r->len;
		struct notes n;
		char *out, *out2;
		size_t olen, olen2;

		print_message("row %zu\n", i);
		run(r, map, true, &out, &olen, &n);
		assert_int_equal(olen, want_len);
		assert_memory_equal(out, want, olen);
		assert_string_equal(n.s, r->notes);
		run(r, map, false, &out2, &olen2, &n);
		assert_int_equal(olen2, olen);
		assert_memory_equal(out2, out, olen);
		free(out2);
		run(r, NULL, true, &out2, &olen2, &n);
		assert_int_equal(olen2, r->len);
		assert_memory_equal(out2, r->in, r->len);
		assert_string_equal(n.s, "");
		free(out2);
		free(out);
	}
}

/* Many addresses that each get longer: the per-field buffer must grow;
 * a long header: the output buffer must grow. */
static void
test_growth(void **state)
{
	static const char a[] = "someone@grow.example, ";
	static const char b[] = "someone@a-much-longer-domain-name-than-before"
	    ".example, ";
	size_t cap = 400 * sizeof b + 64, len = 0, wlen = 0, olen;
	char *in = malloc(cap), *want = malloc(cap), *out;
	int i;

	(void)state;
	assert_non_null(in);
	assert_non_null(want);
	memcpy(in, "From: ", 6);
	memcpy(want, "From: ", 6);
	len = wlen = 6;
	for (i = 0; i < 300; i++) {
		memcpy(in + len, a, sizeof a - 1);
		len += sizeof a - 1;
		memcpy(want + wlen, b, sizeof b - 1);
		wlen += sizeof b - 1;
	}
	memcpy(in + len, "x@y\r\n\r\n", 7);
	len += 7;
	memcpy(want + wlen, "x@y\r\n\r\n", 7);
	wlen += 7;
	assert_int_equal(header_rewrite_apply(in, len, map, NULL, NULL, &out,
	    &olen), 300);
	assert_int_equal(olen, wlen);
	assert_memory_equal(out, want, olen);
	free(out);
	in[4] = '-';              /* "From-": not a wanted field */
	assert_int_equal(header_rewrite_apply(in, len, map, NULL, NULL, &out,
	    &olen), 0);
	assert_int_equal(olen, len);
	assert_memory_equal(out, in, len);
	free(out);
	free(in);
	free(want);
}

static void
test_section_end(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		bool found;
		size_t end;
	} cases[] = {
		{ S(""), false, 0 },
		{ S("\r"), false, 1 },
		{ S("\r\n"), true, 2 },
		{ S("\r\nbody\r\n\r\n"), true, 2 },
		{ S("a: b\r\n"), false, 6 },
		{ S("a: b"), false, 4 },
		{ S("a: b\r\n\r\n"), true, 8 },
		{ S("a: b\r\n\r\nbody\r\n\r\nmore\r\n"), true, 8 },
		{ S("a: b\n\n"), false, 6 },
		{ S("a: b\r\n\n\r\n"), false, 9 },
		{ S("a: b\r\n \r\n\r\n"), true, 11 },
		{ S("a: b\r\r\n\r\n"), true, 9 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t end = 12345;
		print_message("case %zu\n", i);
		assert_int_equal(header_rewrite_section_end(cases[i].in,
		    cases[i].len, &end), cases[i].found);
		assert_int_equal(end, cases[i].end);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_section_end),
	};

	return cmocka_run_group_tests(tests, load, unload);
}
