/*
 * test_rewrite.c - rewrite_recipient(), rewrite_sender(), and their
 * result texts.
 *
 * Table-driven: one map is loaded from a temporary file; each row parses
 * an envelope path with address_parse(), rewrites it with the recipient
 * or sender function and compares result, local part, domain and flags.
 * Rows cover exact and wildcard entries, case and IDN matching, the null
 * path and <postmaster>, a mapping to itself, results over the RFC 5321
 * limits (which must be an error and leave the address as it was).
 * test_header() puts addrlist_rewrite() and rewrite_sender() together the
 * way the relay will rewrite a From: header.
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

#include "addrlist.h"
#include "rewrite.h"

#define D250 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"d.dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"d.dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"d.dddddddddddddddddddddddddddddddddddddddddddddddddddddd.examp" \
	"le"
#define L64 "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"

static const char map_text[] =
	"alice@example.com alice@tenant.onmicrosoft.com\n"
	"Same@example.com same@example.com\n"
	"@example.com @tenant.onmicrosoft.com\n"
	"@b\xc3\xbc" "cher.example @neu.example\n"
	"@long.example @" D250 "\n"
	"utf@exact.example j\xc3\xb6rg@exact.example\n";

enum which { RCPT, SENDER };

struct rw_case {
	enum which which;
	const char *in;
	enum rewrite_result want;
	const char *local;
	const char *domain;
	unsigned flags;
};

static const struct rw_case cases[] = {
	{ RCPT, "<alice@example.com>", REWRITE_CHANGED, "alice", "tenant.onmicrosoft.com", 0 },
	{ RCPT, "<ALICE@Example.Com>", REWRITE_CHANGED, "alice", "tenant.onmicrosoft.com", 0 },
	{ SENDER, "<alice@example.com>", REWRITE_CHANGED, "alice", "tenant.onmicrosoft.com", 0 },
	{ RCPT, "<Carol.X@example.com>", REWRITE_CHANGED, "Carol.X", "tenant.onmicrosoft.com", 0 },
	{ RCPT, "<carol@example.com.>", REWRITE_CHANGED, "carol", "tenant.onmicrosoft.com", 0 },
	{ RCPT, "<\"carol x\"@example.com>", REWRITE_CHANGED, "\"carol x\"", "tenant.onmicrosoft.com", ADDRESS_QUOTED },
	{ RCPT, "<@relay.example:carol@example.com>", REWRITE_CHANGED, "carol", "tenant.onmicrosoft.com", 0 },
	{ RCPT, "<same@example.com>", REWRITE_SAME, "same", "example.com", 0 },
	{ RCPT, "<x@b\xc3\xbc" "cher.example>", REWRITE_CHANGED, "x", "neu.example", 0 },
	{ RCPT, "<x@xn--bcher-kva.example>", REWRITE_CHANGED, "x", "neu.example", 0 },
	{ RCPT, "<j\xc3\xb6@xn--bcher-kva.example>", REWRITE_CHANGED, "j\xc3\xb6", "neu.example", ADDRESS_UTF8 },
	{ RCPT, "<utf@exact.example>", REWRITE_CHANGED, "j\xc3\xb6rg", "exact.example", ADDRESS_UTF8 },
	{ RCPT, "<nobody@elsewhere.example>", REWRITE_SAME, "nobody", "elsewhere.example", 0 },
	{ RCPT, "<postmaster>", REWRITE_SAME, "postmaster", "", ADDRESS_NO_DOMAIN },
	{ SENDER, "<>", REWRITE_SAME, "", "", ADDRESS_NULL },
	{ RCPT, "<user@[192.0.2.1]>", REWRITE_SAME, "user", "[192.0.2.1]", ADDRESS_IP_LITERAL },
	/* 1 + 1 + 1 + 250 + 1 = 254 octets: fits */
	{ RCPT, "<a@long.example>", REWRITE_CHANGED, "a", D250, 0 },
	/* 1 + 4 + 1 + 250 + 1 = 257 > 256 (RFC 5321 4.5.3.1.3) */
	{ RCPT, "<abcd@long.example>", REWRITE_ERROR, "abcd", "long.example", 0 },
	{ SENDER, "<" L64 "@long.example>", REWRITE_ERROR, L64, "long.example", 0 },
};

static struct addrmap *
load(void)
{
	char path[] = "/tmp/test_rewrite.XXXXXX", err[512];
	struct addrmap *m = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, map_text, sizeof map_text - 1),
	    (ssize_t)(sizeof map_text - 1));
	close(fd);
	if (addrmap_load(path, &m, err, sizeof err) != 0)
		fail_msg("%s", err);
	unlink(path);
	return m;
}

static void
parse(const char *s, struct address *a)
{
	size_t used;

	assert_int_equal(address_parse(s, strlen(s), true, a, &used), ADDRESS_OK);
}

static void
test_table(void **state)
{
	struct addrmap *m = load();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct rw_case *c = &cases[i];
		struct address in, out;
		enum rewrite_result r;

		parse(c->in, &in);
		memset(&out, 0x5a, sizeof out);
		r = c->which == RCPT ? rewrite_recipient(m, &in, &out) :
		    rewrite_sender(m, &in, &out);
		if (r != c->want || strcmp(out.local, c->local) != 0 ||
		    strcmp(out.domain, c->domain) != 0 ||
		    (out.flags & ~(unsigned)ADDRESS_ROUTED) != c->flags)
			fail_msg("case %zu %s: got %d %s@%s flags %#x, want %d %s@%s "
			    "flags %#x", i, c->in, r, out.local, out.domain,
			    out.flags, c->want, c->local, c->domain, c->flags);
		assert_int_equal(out.local_len, strlen(c->local));
		assert_int_equal(out.domain_len, strlen(c->domain));
	}
	addrmap_free(m);
}

static void
test_no_map(void **state)
{
	struct address in, out;

	(void)state;
	parse("<alice@example.com>", &in);
	assert_int_equal(rewrite_recipient(NULL, &in, &out), REWRITE_SAME);
	assert_memory_equal(&in, &out, sizeof in);
	assert_int_equal(rewrite_sender(NULL, &in, &out), REWRITE_SAME);
	assert_memory_equal(&in, &out, sizeof in);
}

static void
test_texts(void **state)
{
	(void)state;
	assert_string_equal(rewrite_result_text(REWRITE_ERROR),
	    "rewritten address would exceed RFC 5321 limits");
	assert_string_equal(rewrite_result_text(REWRITE_SAME), "not rewritten");
	assert_string_equal(rewrite_result_text(REWRITE_CHANGED), "rewritten");
	assert_string_equal(rewrite_result_text((enum rewrite_result)7),
	    "unknown rewrite result");
}

/* How the relay will rewrite From:/Sender:/Reply-To: with sender_map:
 * each addr-spec of the header goes through address_parse() and
 * rewrite_sender(); every other byte stays. */
static int
header_cb(const char *addr, size_t len, void *ctx, struct addrlist_repl *out)
{
	char path[ADDRLIST_ADDR_MAX + 2];
	struct address in, res;
	size_t used;
	int n;

	if (len + 2 > sizeof path)
		return -1;
	path[0] = '<';
	memcpy(path + 1, addr, len);
	path[len + 1] = '>';
	if (address_parse(path, len + 2, true, &in, &used) != ADDRESS_OK)
		return 0;
	switch (rewrite_sender(ctx, &in, &res)) {
	case REWRITE_SAME:
		return 0;
	case REWRITE_ERROR:
		return -1;
	case REWRITE_CHANGED:
		break;
	}
	n = address_format(&res, out->addr, sizeof out->addr);
	if (n < 0)
		return -1;
	out->len = (size_t)n;
	return 1;
}

static void
test_header(void **state)
{
	static const char in[] =
	    "\"Alice (HQ)\" <alice@EXAMPLE.com> (primary),\r\n"
	    "\tteam: bob@example.com, x@elsewhere.example;";
	static const char want[] =
	    "\"Alice (HQ)\" <alice@tenant.onmicrosoft.com> (primary),\r\n"
	    "\tteam: bob@tenant.onmicrosoft.com, x@elsewhere.example;";
	static const char too_long[] = "Someone <" L64 "@long.example>";
	struct addrmap *m = load();
	char out[512];
	size_t olen;

	(void)state;
	assert_int_equal(addrlist_rewrite(in, sizeof in - 1, header_cb, m, out,
	    sizeof out, &olen), ADDRLIST_OK);
	assert_int_equal(olen, sizeof want - 1);
	assert_memory_equal(out, want, olen);
	assert_int_equal(addrlist_rewrite(too_long, sizeof too_long - 1,
	    header_cb, m, out, sizeof out, &olen), ADDRLIST_ERR_CALLBACK);
	addrmap_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_no_map),
		cmocka_unit_test(test_texts),
		cmocka_unit_test(test_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
