/*
 * test_policy.c - policy_decide(), policy_domain_find() and the domain
 * table under them.
 *
 * The decision table runs real recipient strings through address_parse()
 * and policy_decide() against a policy loaded from a config file written
 * here, so it checks the whole RCPT path: limbo, unknown, IP literal,
 * source route, % ! and quoted @, case, trailing dot, IDN in both forms,
 * defer_at = data, and %d expansion.  A second policy, with live domains,
 * a recipient_map (tests/unit/fixtures/recipient.map) and recipient
 * overrides, checks the live side: effective state, override in both
 * directions, rewriting, a rewrite over the RFC 5321 limits, IDN.  hold
 * cannot be loaded yet, so its row uses a policy built by hand; the
 * overrides table itself is tested directly at the end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "domain_table.h"
#include "overrides.h"
#include "policy.h"

static const char conf_text[] =
    "listen = { \"127.0.0.1:2525\" }\n"
    "default_defer_reply = \"451 4.3.2 %d is moving\"\n"
    "domain \"example.com\" { state = limbo }\n"
    "domain \"Example.ORG\" {\n"
    "    defer_at = data\n"
    "    defer_reply = \"451 4.3.2 %d: try later\"\n"
    "}\n"
    "domain \"m\xc3\xbcnchen.example\" { }\n"
    "domain \"xn--bcher-kva.example\" {\n"
    "    defer_reply = \"451 4.7.1 %d moving, 100%% sure\"\n"
    "}\n";

#define FIX TEST_SOURCE_DIR "/unit/fixtures/"

static const char live_text[] =
    "listen = { \"127.0.0.1:2525\" }\n"
    "default_defer_reply = \"451 4.3.2 %d is moving\"\n"
    "domain \"live.example\" {\n"
    "    state = live\n"
    "    relay = \"[127.0.0.1]:2526\"\n"
    "    recipient_map = \"" FIX "recipient.map\"\n"
    "    recipient \"Stay@live.example\" { state = limbo }\n"
    "    recipient \"\\\"q u\\\"@live.example\" { state = limbo }\n"
    "}\n"
    "domain \"limbo.example\" {\n"
    "    defer_at = data\n"
    "    relay = \"mx.tenant.example\"\n"
    "    recipient \"moved@LIMBO.example\" { state = live }\n"
    "}\n"
    "domain \"m\xc3\xbcnchen.example\" {\n"
    "    relay = \"mx.tenant.example:2525\"\n"
    "    recipient_map = \"" FIX "recipient.map\"\n"
    "    recipient \"j\xc3\xb6rg@xn--mnchen-3ya.example\" { state = live }\n"
    "    recipient \"Anna@M\xc3\x9cNCHEN.example\" { state = live }\n"
    "}\n"
    "domain \"long.example\" {\n"
    "    state = live\n"
    "    relay = \"[::1]:25\"\n"
    "    recipient_map = \"" FIX "recipient.map\"\n"
    "}\n";

static int
load_text(void **state, const char *text, size_t len)
{
	char path[] = "/tmp/test_policy.XXXXXX", err[512];
	struct policy *p = NULL;
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	if (policy_load(path, &p, err, sizeof err) < 0) {
		print_error("%s\n", err);
		unlink(path);
		return -1;
	}
	unlink(path);
	*state = p;
	return 0;
}

static int
setup(void **state)
{
	return load_text(state, conf_text, sizeof conf_text - 1);
}

static int
setup_live(void **state)
{
	return load_text(state, live_text, sizeof live_text - 1);
}

static int
teardown(void **state)
{
	policy_unref(*state);
	return 0;
}

struct decide_case {
	const char *rcpt;
	enum decision want;
	const char *domain;   /* key of the matched domain, NULL = none */
	const char *reply;
};

#define ORG_LATER "451 4.3.2 example.org: try later"

static const struct decide_case decide_cases[] = {
	{ "<user@example.com>", DECISION_DEFER, "example.com",
	  "451 4.3.2 example.com is moving" },
	{ "<User@EXAMPLE.Com>", DECISION_DEFER, "example.com",
	  "451 4.3.2 example.com is moving" },
	{ "<user@example.com.>", DECISION_DEFER, "example.com",
	  "451 4.3.2 example.com is moving" },
	{ "<user@example.org>", DECISION_DEFER_DATA, "example.org",
	  "250 2.1.5 <user@example.org>: recipient ok" },
	{ "<user@EXAMPLE.org.>", DECISION_DEFER_DATA, "example.org",
	  "250 2.1.5 <user@EXAMPLE.org.>: recipient ok" },
	{ "<user@elsewhere.test>", DECISION_DENY, NULL,
	  "550 5.7.1 <user@elsewhere.test>: relaying denied" },
	{ "<user@sub.example.com>", DECISION_DENY, NULL,
	  "550 5.7.1 <user@sub.example.com>: relaying denied" },
	{ "<user@com>", DECISION_DENY, NULL,
	  "550 5.7.1 <user@com>: relaying denied" },
	{ "<user@[192.0.2.1]>", DECISION_DENY, NULL,
	  "550 5.7.1 <user@[192.0.2.1]>: relaying denied" },
	{ "<user@[IPv6:2001:db8::1]>", DECISION_DENY, NULL,
	  "550 5.7.1 <user@[IPv6:2001:db8::1]>: relaying denied" },
	{ "<postmaster>", DECISION_DENY, NULL,
	  "550 5.7.1 <postmaster>: relaying denied" },
	{ "<>", DECISION_DENY, NULL, "550 5.7.1 <>: relaying denied" },
	{ "<@relay.example:user@example.com>", DECISION_DEFER, "example.com",
	  "451 4.3.2 example.com is moving" },
	{ "<@example.com:user@elsewhere.test>", DECISION_DENY, NULL,
	  "550 5.7.1 <user@elsewhere.test>: relaying denied" },
	{ "<a%b@example.com>", DECISION_DENY, "example.com",
	  "550 5.7.1 <a%b@example.com>: sender-specified routing denied" },
	{ "<a!b@example.com>", DECISION_DENY, "example.com",
	  "550 5.7.1 <a!b@example.com>: sender-specified routing denied" },
	{ "<\"a@b\"@example.com>", DECISION_DENY, "example.com",
	  "550 5.7.1 <\"a@b\"@example.com>: sender-specified routing denied" },
	{ "<\"a b\"@example.com>", DECISION_DEFER, "example.com",
	  "451 4.3.2 example.com is moving" },
	{ "<a%b@elsewhere.test>", DECISION_DENY, NULL,
	  "550 5.7.1 <a%b@elsewhere.test>: relaying denied" },
	{ "<a%b@example.org>", DECISION_DENY, "example.org",
	  "550 5.7.1 <a%b@example.org>: sender-specified routing denied" },
	{ "<user@m\xc3\xbcnchen.example>", DECISION_DEFER, "xn--mnchen-3ya.example",
	  "451 4.3.2 xn--mnchen-3ya.example is moving" },
	{ "<user@M\xc3\x9c" "NCHEN.example>", DECISION_DEFER, "xn--mnchen-3ya.example",
	  "451 4.3.2 xn--mnchen-3ya.example is moving" },
	{ "<user@xn--mnchen-3ya.example>", DECISION_DEFER, "xn--mnchen-3ya.example",
	  "451 4.3.2 xn--mnchen-3ya.example is moving" },
	{ "<user@XN--MNCHEN-3YA.EXAMPLE>", DECISION_DEFER, "xn--mnchen-3ya.example",
	  "451 4.3.2 xn--mnchen-3ya.example is moving" },
	{ "<user@b\xc3\xbc" "cher.example>", DECISION_DEFER, "xn--bcher-kva.example",
	  "451 4.7.1 xn--bcher-kva.example moving, 100% sure" },
	{ "<j\xc3\xb6rg@elsewhere.test>", DECISION_DENY, NULL,
	  "550 5.7.1 <j??rg@elsewhere.test>: relaying denied" },
	{ "<j\xc3\xb6rg@example.org>", DECISION_DEFER_DATA, "example.org",
	  "250 2.1.5 <j??rg@example.org>: recipient ok" },
};

static void
test_decide(void **state)
{
	const struct policy *p = *state;
	struct policy_decision d;
	struct address a;
	size_t i;

	for (i = 0; i < sizeof decide_cases / sizeof decide_cases[0]; i++) {
		const struct decide_case *c = &decide_cases[i];

		assert_int_equal(address_parse(c->rcpt, strlen(c->rcpt), true, &a,
		    NULL), ADDRESS_OK);
		memset(&d, 0x5a, sizeof d);
		policy_decide(p, &a, &d);
		if (d.decision != c->want || strcmp(d.reply, c->reply) != 0)
			print_error("row %zu %s: %s / %s\n", i, c->rcpt,
			    decision_name(d.decision), d.reply);
		assert_int_equal(d.decision, c->want);
		assert_string_equal(d.reply, c->reply);
		assert_string_equal(d.later, c->want == DECISION_DEFER_DATA ?
		    ORG_LATER : "");
		if (c->domain == NULL)
			assert_null(d.domain);
		else
			assert_string_equal(d.domain->name, c->domain);
	}
}

/* An address longer than any parser output: the reply cuts it. */
static void
test_decide_long_address(void **state)
{
	const struct policy *p = *state;
	struct policy_decision d;
	struct address a;
	char want[512];

	memset(&a, 0, sizeof a);
	memset(a.local, 'l', sizeof a.local - 1);
	a.local_len = sizeof a.local - 1;
	memset(a.domain, 'd', sizeof a.domain - 1);
	a.domain_len = sizeof a.domain - 1;
	a.local[5] = '\n';
	policy_decide(p, &a, &d);
	assert_int_equal(d.decision, DECISION_DENY);
	snprintf(want, sizeof want, "550 5.7.1 <lllll?%.247s...>: relaying denied",
	    a.local + 6);
	assert_string_equal(d.reply, want);
	assert_true(strlen(d.reply) <= 510);
}

struct find_case {
	const char *name;
	size_t len;
	const char *want;
};

#define F(x) x, sizeof(x) - 1

static const struct find_case find_cases[] = {
	{ F("example.com"), "example.com" },
	{ F("EXAMPLE.COM"), "example.com" },
	{ F("example.com."), "example.com" },
	{ F("example.org"), "example.org" },
	{ F("m\xc3\xbcnchen.example"), "xn--mnchen-3ya.example" },
	{ F("m\xc3\xbcnchen.example."), "xn--mnchen-3ya.example" },
	{ F("M\xc3\x9cNCHEN.EXAMPLE"), "xn--mnchen-3ya.example" },
	{ F("m\xc3\xbcnchen.example\xe3\x80\x82"), "xn--mnchen-3ya.example" },
	{ F("Xn--Mnchen-3ya.Example"), "xn--mnchen-3ya.example" },
	{ F("example.com.."), NULL },
	{ F(""), NULL },
	{ F("."), NULL },
	{ F("example"), NULL },
	{ F("www.example.com"), NULL },
	{ F("example.com\0x"), NULL },
	{ F("ex ample.com"), NULL },
	{ F("\xff.example"), NULL },
	{ F("m\xc3\xbcnchen.example\0"), NULL },
	{ F("xn--zz.example"), NULL },
};

static void
test_find(void **state)
{
	const struct policy *p = *state;
	char big[DOMAIN_INPUT_MAX + 10];
	size_t i;

	for (i = 0; i < sizeof find_cases / sizeof find_cases[0]; i++) {
		const struct find_case *c = &find_cases[i];
		const struct policy_domain *d = policy_domain_find(p, c->name, c->len);

		if (c->want == NULL) {
			assert_null(d);
		} else {
			assert_non_null(d);
			assert_string_equal(d->name, c->want);
		}
	}
	memset(big, 'a', sizeof big);
	memcpy(big, "\xc3\xbc", 2);
	assert_null(policy_domain_find(p, big, sizeof big));
	memset(big, 'a', sizeof big);
	assert_null(policy_domain_find(p, big, sizeof big));
	assert_int_equal(policy_domain_count(p), 4);
}

static void
test_loaded_domains(void **state)
{
	const struct policy *p = *state;
	static const struct {
		const char *name, *utf8;
		enum defer_at at;
		unsigned line;
	} want[] = {
		{ "example.com", "example.com", DEFER_AT_RCPT, 3 },
		{ "example.org", "example.org", DEFER_AT_DATA, 4 },
		{ "xn--mnchen-3ya.example", "m\xc3\xbcnchen.example", DEFER_AT_RCPT, 8 },
		{ "xn--bcher-kva.example", "b\xc3\xbc" "cher.example", DEFER_AT_RCPT, 9 },
	};
	size_t i;

	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct policy_domain *d = domain_table_at(p->domains, i);

		assert_non_null(d);
		assert_string_equal(d->name, want[i].name);
		assert_string_equal(d->name_utf8, want[i].utf8);
		assert_int_equal(d->defer_at, want[i].at);
		assert_int_equal(d->state, DOMAIN_LIMBO);
		assert_int_equal(d->config_line, want[i].line);
	}
	assert_null(domain_table_at(p->domains, i));
}

static struct policy_domain *
new_domain(const char *name, enum domain_state st, const char *reply)
{
	struct policy_domain *d = calloc(1, sizeof *d);

	assert_non_null(d);
	d->name = strdup(name);
	d->name_utf8 = strdup(name);
	d->defer_reply = strdup(reply);
	d->state = st;
	assert_non_null(d->name);
	return d;
}

/* hold cannot be configured yet: a policy made by hand (live too, with
 * no map and no overrides: the fields a hand-made domain leaves NULL). */
static void
test_decide_live_hold(void **state)
{
	struct policy p;
	struct policy_decision d;
	struct address a;

	memset(&p, 0, sizeof p);
	p.domains = domain_table_new();
	assert_non_null(p.domains);
	assert_int_equal(domain_table_insert(p.domains, new_domain("live.example",
	    DOMAIN_LIVE, "451 4.3.0 live soon")), 0);
	assert_int_equal(domain_table_insert(p.domains, new_domain("hold.example",
	    DOMAIN_HOLD, "451 4.3.0 hold soon")), 0);
	assert_int_equal(address_parse("<u@live.example>", 16, false, &a, NULL), 0);
	policy_decide(&p, &a, &d);
	assert_int_equal(d.decision, DECISION_LIVE);
	assert_int_equal(d.state, DOMAIN_LIVE);
	assert_false(d.rewritten);
	assert_false(d.overridden);
	assert_string_equal(d.later, "");
	assert_string_equal(d.reply, "");
	assert_string_equal(d.rcpt.local, "u");
	assert_int_equal(address_parse("<u@hold.example>", 16, false, &a, NULL), 0);
	policy_decide(&p, &a, &d);
	assert_int_equal(d.decision, DECISION_HOLD);
	assert_int_equal(d.state, DOMAIN_HOLD);
	assert_string_equal(d.reply, "451 4.3.0 hold soon");
	domain_table_free(p.domains);
}

struct live_case {
	const char *rcpt;
	enum decision want;
	enum domain_state state;
	bool overridden;
	bool rewritten;
	const char *out;      /* d.rcpt formatted */
	const char *reply;
};

#define LONGDOM "a123456789a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a123456789a123456789a123456789a.example"
#define LIMBO_LATER "451 4.3.2 limbo.example is moving"

static const struct live_case live_cases[] = {
	/* a live domain: the map's wildcard, an exact entry, an identity */
	{ "<user@live.example>", DECISION_LIVE, DOMAIN_LIVE, false, true,
	  "user@tenant.onmicrosoft.example", "" },
	{ "<User@LIVE.example.>", DECISION_LIVE, DOMAIN_LIVE, false, true,
	  "User@tenant.onmicrosoft.example", "" },
	{ "<Boss@live.example>", DECISION_LIVE, DOMAIN_LIVE, false, true,
	  "ceo@tenant.example", "" },
	{ "<same@live.example>", DECISION_LIVE, DOMAIN_LIVE, false, false,
	  "same@live.example", "" },
	{ "<@a.example:x@live.example>", DECISION_LIVE, DOMAIN_LIVE, false, true,
	  "x@tenant.onmicrosoft.example", "" },
	/* limbo inside the live domain, in any ASCII case; quoted as written */
	{ "<stay@live.example>", DECISION_DEFER, DOMAIN_LIMBO, true, false,
	  "stay@live.example", "451 4.3.2 live.example is moving" },
	{ "<STAY@Live.Example>", DECISION_DEFER, DOMAIN_LIMBO, true, false,
	  "STAY@Live.Example", "451 4.3.2 live.example is moving" },
	{ "<\"q u\"@live.example>", DECISION_DEFER, DOMAIN_LIMBO, true, false,
	  "\"q u\"@live.example", "451 4.3.2 live.example is moving" },
	{ "<\"Q U\"@live.example>", DECISION_DEFER, DOMAIN_LIMBO, true, false,
	  "\"Q U\"@live.example", "451 4.3.2 live.example is moving" },
	{ "<stay2@live.example>", DECISION_LIVE, DOMAIN_LIVE, false, true,
	  "stay2@tenant.onmicrosoft.example", "" },
	/* routing characters are denied before any override or rewrite */
	{ "<a%b@live.example>", DECISION_DENY, DOMAIN_LIVE, false, false,
	  "a%b@live.example", "550 5.7.1 <a%b@live.example>: sender-specified routing denied" },
	{ "<x@unknown.example>", DECISION_DENY, DOMAIN_LIMBO, false, false,
	  "x@unknown.example", "550 5.7.1 <x@unknown.example>: relaying denied" },
	/* live inside a limbo domain (defer_at = data) */
	{ "<moved@limbo.example>", DECISION_LIVE, DOMAIN_LIVE, true, false,
	  "moved@limbo.example", "" },
	{ "<MOVED@limbo.EXAMPLE>", DECISION_LIVE, DOMAIN_LIVE, true, false,
	  "MOVED@limbo.EXAMPLE", "" },
	{ "<other@limbo.example>", DECISION_DEFER_DATA, DOMAIN_LIMBO, false, false,
	  "other@limbo.example", "250 2.1.5 <other@limbo.example>: recipient ok" },
	/* IDN domain: override by U- or A-label title, rewrite by the map */
	{ "<j\xc3\xb6rg@m\xc3\xbcnchen.example>", DECISION_LIVE, DOMAIN_LIVE, true, true,
	  "joerg@tenant.example", "" },
	{ "<j\xc3\xb6rg@xn--mnchen-3ya.example>", DECISION_LIVE, DOMAIN_LIVE, true, true,
	  "joerg@tenant.example", "" },
	{ "<anna@xn--MNCHEN-3ya.example>", DECISION_LIVE, DOMAIN_LIVE, true, false,
	  "anna@xn--MNCHEN-3ya.example", "" },
	{ "<ANNA@m\xc3\xbcnchen.example>", DECISION_LIVE, DOMAIN_LIVE, true, false,
	  "ANNA@m\xc3\xbcnchen.example", "" },
	{ "<bob@m\xc3\xbcnchen.example>", DECISION_DEFER, DOMAIN_LIMBO, false, false,
	  "bob@m\xc3\xbcnchen.example", "451 4.3.2 xn--mnchen-3ya.example is moving" },
	/* a rewrite that fits, and one that would break RFC 5321 limits */
	{ "<a@long.example>", DECISION_LIVE, DOMAIN_LIVE, false, true,
	  "a@" LONGDOM, "" },
	{ "<abcdefghijklmnopqrst@long.example>", DECISION_DEFER, DOMAIN_LIVE, false, false,
	  "abcdefghijklmnopqrst@long.example", "451 4.3.0 recipient rewriting failed" },
};

static void
test_decide_live(void **state)
{
	const struct policy *p = *state;
	struct policy_decision d;
	struct address a;
	char out[1024];
	size_t i;

	for (i = 0; i < sizeof live_cases / sizeof live_cases[0]; i++) {
		const struct live_case *c = &live_cases[i];

		assert_int_equal(address_parse(c->rcpt, strlen(c->rcpt), true, &a,
		    NULL), ADDRESS_OK);
		memset(&d, 0x5a, sizeof d);
		policy_decide(p, &a, &d);
		assert_true(address_format(&d.rcpt, out, sizeof out) >= 0);
		if (d.decision != c->want || strcmp(d.reply, c->reply) != 0 ||
		    d.state != c->state || d.overridden != c->overridden ||
		    d.rewritten != c->rewritten || strcmp(out, c->out) != 0)
			print_error("row %zu %s: %s %s o=%d r=%d %s / %s\n", i,
			    c->rcpt, decision_name(d.decision),
			    domain_state_name(d.state), d.overridden, d.rewritten,
			    out, d.reply);
		assert_int_equal(d.decision, c->want);
		assert_string_equal(d.reply, c->reply);
		assert_int_equal(d.state, c->state);
		assert_int_equal(d.overridden, c->overridden);
		assert_int_equal(d.rewritten, c->rewritten);
		assert_string_equal(out, c->out);
		assert_string_equal(d.later, c->want == DECISION_DEFER_DATA ?
		    LIMBO_LATER : "");
	}
}

/* ---- the overrides table ----------------------------------------------- */

static void
test_overrides(void **state)
{
	struct policy_overrides *o = overrides_new();
	char big[OVERRIDES_LOCAL_MAX + 2];
	unsigned first = 0;

	assert_non_null(o);
	assert_null(overrides_find(NULL, "a", 1));
	assert_null(overrides_find(o, "a", 1));
	assert_int_equal(overrides_count(NULL), 0);
	assert_int_equal(overrides_add(o, "Ab", 2, DOMAIN_LIVE, 7, &first), 0);
	assert_int_equal(overrides_add(o, "\"a b\"", 5, DOMAIN_LIMBO, 8, NULL), 0);
	errno = 0;
	assert_int_equal(overrides_add(o, "aB", 2, DOMAIN_LIMBO, 9, &first), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(first, 7);
	errno = 0;
	assert_int_equal(overrides_add(o, "AB", 2, DOMAIN_LIMBO, 9, NULL), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(overrides_find(o, "ab", 2)->state, DOMAIN_LIVE);
	assert_int_equal(overrides_find(o, "AB", 2)->line, 7);
	assert_int_equal(overrides_find(o, "\"A B\"", 5)->line, 8);
	assert_null(overrides_find(o, "a b", 3));
	assert_null(overrides_find(o, "abc", 3));
	assert_null(overrides_find(o, "a", 1));
	assert_null(overrides_find(o, "", 0));
	memset(big, 'a', sizeof big);
	errno = 0;
	assert_int_equal(overrides_add(o, big, OVERRIDES_LOCAL_MAX + 1,
	    DOMAIN_LIVE, 1, NULL), -1);
	assert_int_equal(errno, E2BIG);
	assert_null(overrides_find(o, big, OVERRIDES_LOCAL_MAX + 1));
	assert_int_equal(overrides_add(o, big, OVERRIDES_LOCAL_MAX,
	    DOMAIN_LIVE, 10, NULL), 0);
	assert_int_equal(overrides_find(o, big, OVERRIDES_LOCAL_MAX)->line, 10);
	assert_int_equal(overrides_count(o), 3);
	overrides_free(o);
	overrides_free(NULL);
}

/* 100,000 entries: every one found after the table has grown. */
static void
test_overrides_many(void **state)
{
	struct policy_overrides *o = overrides_new();
	char local[32];
	size_t i;

	assert_non_null(o);
	for (i = 0; i < 100000; i++) {
		int n = snprintf(local, sizeof local, "User.%zu", i);

		assert_int_equal(overrides_add(o, local, (size_t)n,
		    i % 3 ? DOMAIN_LIVE : DOMAIN_LIMBO, (unsigned)i + 1, NULL), 0);
	}
	assert_int_equal(overrides_count(o), 100000);
	for (i = 0; i < 100000; i++) {
		int n = snprintf(local, sizeof local, "USER.%zu", i);
		const struct policy_override *ov = overrides_find(o, local, (size_t)n);

		assert_non_null(ov);
		assert_int_equal(ov->line, i + 1);
		assert_int_equal(ov->state, i % 3 ? DOMAIN_LIVE : DOMAIN_LIMBO);
	}
	assert_null(overrides_find(o, "user.100000", 11));
	overrides_free(o);
}

static void
test_names(void **state)
{
	assert_string_equal(decision_name(DECISION_DEFER), "defer");
	assert_string_equal(decision_name(DECISION_DEFER_DATA), "defer_data");
	assert_string_equal(decision_name(DECISION_DENY), "deny");
	assert_string_equal(decision_name(DECISION_LIVE), "live");
	assert_string_equal(decision_name(DECISION_HOLD), "hold");
	assert_string_equal(decision_name((enum decision)42), "unknown");
	assert_string_equal(domain_state_name(DOMAIN_LIMBO), "limbo");
	assert_string_equal(domain_state_name(DOMAIN_LIVE), "live");
	assert_string_equal(domain_state_name(DOMAIN_HOLD), "hold");
	assert_string_equal(domain_state_name((enum domain_state)42), "unknown");
}

/* ---- domain table ------------------------------------------------------ */

static void
test_table_grow_and_dup(void **state)
{
	struct domain_table *t = domain_table_new();
	struct policy_domain *dup;
	char name[64];
	size_t i;

	assert_non_null(t);
	assert_null(domain_table_find(t, "a.example", 9));
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "d%zu.example", i);
		assert_int_equal(domain_table_insert(t, new_domain(name,
		    DOMAIN_LIMBO, "451 4.3.2 x")), 0);
	}
	assert_int_equal(domain_table_count(t), 1000);
	for (i = 0; i < 1000; i++) {
		const struct policy_domain *d;

		snprintf(name, sizeof name, "d%zu.example", i);
		d = domain_table_find(t, name, strlen(name));
		assert_non_null(d);
		assert_string_equal(d->name, name);
		assert_ptr_equal(domain_table_at(t, i), d);
	}
	assert_null(domain_table_find(t, "d1000.example", 13));
	assert_null(domain_table_find(t, "d1.exampl", 9));
	dup = new_domain("d7.example", DOMAIN_LIMBO, "451 4.3.2 x");
	errno = 0;
	assert_int_equal(domain_table_insert(t, dup), -1);
	assert_int_equal(errno, EEXIST);
	domain_free(dup);
	domain_free(NULL);
	domain_table_free(t);
	domain_table_free(NULL);
	assert_int_equal(domain_table_count(NULL), 0);
	assert_null(domain_table_at(NULL, 0));
	assert_null(domain_table_find(NULL, "x", 1));
}

struct key_case {
	const char *name;
	size_t len;
	int want;           /* key length or -1 */
	const char *out;    /* key, or the reason */
};

static const struct key_case key_cases[] = {
	{ F("Example.COM"), 11, "example.com" },
	{ F("example.com."), 11, "example.com" },
	{ F("a-b.c0"), 6, "a-b.c0" },
	{ F("M\xc3\x9cNCHEN.example"), 22, "xn--mnchen-3ya.example" },
	{ F("\xef\xbd\x81\xef\xbd\x82\xef\xbd\x83.com"), 7, "abc.com" },
	{ F(""), -1, "is empty" },
	{ F("."), -1, "is empty" },
	{ F("a..b"), -1, "has an empty label" },
	{ F(".a"), -1, "has an empty label" },
	{ F("a.com.."), -1, "has an empty label" },
	{ F("-a.com"), -1, "has a label that starts with a hyphen" },
	{ F("a-.com"), -1, "has a label that ends with a hyphen" },
	{ F("a.com-"), -1, "has a label that ends with a hyphen" },
	{ F("a_b.com"), -1, "contains a character other than a letter, digit, hyphen or dot" },
	{ F("a\0b.com"), -1, "contains a character other than a letter, digit, hyphen or dot" },
	{ F("\xc3\xbc\0.com"), -1, "contains a NUL byte" },
	{ F("\xff.com"), -1, "string encoding error" },
	{ F("xn--a.example\xc3\xbc"), -1, "domain label has character forbidden in non-transitional mode (TR46)" },
	{ F("\xc3\xbc_x.com"), -1, "contains a character other than a letter, digit, hyphen or dot" },
};

static void
test_domain_key(void **state)
{
	char key[DOMAIN_KEY_SIZE], name[DOMAIN_INPUT_MAX + 1];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof key_cases / sizeof key_cases[0]; i++) {
		const struct key_case *c = &key_cases[i];
		int n;

		why = NULL;
		n = domain_key(c->name, c->len, key, &why);
		if (n != c->want)
			print_error("row %zu: %d %s\n", i, n, why ? why : key);
		assert_int_equal(n, c->want);
		assert_string_equal(n < 0 ? why : key, c->out);
	}
	/* 63-octet labels: 253 is the limit, 254 is over it */
	memset(name, 'a', sizeof name);
	name[63] = name[127] = name[191] = '.';
	assert_int_equal(domain_key(name, 253, key, &why), 253);
	assert_int_equal(domain_key(name, 254, key, &why), -1);
	assert_string_equal(why, "is longer than 253 octets");
	name[63] = 'a';
	assert_int_equal(domain_key(name, 100, key, &why), -1);
	assert_string_equal(why, "has a label longer than 63 octets");
	memcpy(name, "\xc3\xbc", 2);
	assert_int_equal(domain_key(name, 300, key, &why), -1);
	memset(name, 'a', sizeof name);
	memcpy(name, "\xc3\xbc", 2);
	name[60] = name[120] = name[180] = name[240] = '.';
	assert_int_equal(domain_key(name, 300, key, &why), -1);
	assert_string_equal(why, "domain name longer than 255 characters");
	assert_int_equal(domain_key(name, DOMAIN_INPUT_MAX + 1, key, &why), -1);
	assert_string_equal(why, "is longer than 253 octets");
}

struct ldh_case {
	const char *name;
	int want;
	const char *why;
};

static const struct ldh_case ldh_cases[] = {
	{ "mx.example.net", 0, NULL },
	{ "localhost", 0, NULL },
	{ "MX-1.Example.NET", 0, NULL },
	{ "", -1, "is empty" },
	{ "mx.example.net.", -1, "has an empty label" },
	{ "mx example", -1, "contains a character other than a letter, digit, hyphen or dot" },
	{ "m\xc3\xbc.example", -1, "contains a character other than a letter, digit, hyphen or dot" },
};

static void
test_ldh(void **state)
{
	size_t i;

	for (i = 0; i < sizeof ldh_cases / sizeof ldh_cases[0]; i++) {
		const char *why = NULL;

		assert_int_equal(domain_ldh_check(ldh_cases[i].name,
		    strlen(ldh_cases[i].name), &why), ldh_cases[i].want);
		if (ldh_cases[i].why != NULL)
			assert_string_equal(why, ldh_cases[i].why);
	}
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *key, *want;
	} t[] = {
		{ "example.com", "example.com" },
		{ "xn--mnchen-3ya.example", "m\xc3\xbcnchen.example" },
		{ "xn--zz.example", NULL },
		{ "xn--a.example", NULL },
	};
	const char *why;
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *u = domain_utf8(t[i].key, &why);

		if (t[i].want == NULL) {
			assert_null(u);
			assert_non_null(why);
		} else {
			assert_non_null(u);
			assert_string_equal(u, t[i].want);
		}
		free(u);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_long_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loaded_domains, setup, teardown),
		cmocka_unit_test(test_decide_live_hold),
		cmocka_unit_test_setup_teardown(test_decide_live, setup_live, teardown),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_overrides_many),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_table_grow_and_dup),
		cmocka_unit_test(test_domain_key),
		cmocka_unit_test(test_ldh),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
