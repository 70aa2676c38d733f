/*
 * test_policy.c - policy_decide(), policy_domain_find() and the domain
 * table under them.
 *
 * The decision table runs real recipient strings through address_parse()
 * and policy_decide() against a policy loaded from a config file written
 * here, so it checks the whole RCPT path: limbo, unknown, IP literal,
 * source route, % ! and quoted @, case, trailing dot, IDN in both forms,
 * defer_at = data, and %d expansion.  live/hold cannot be loaded yet, so
 * those rows use a policy built by hand.
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

static int
setup(void **state)
{
	char path[] = "/tmp/test_policy.XXXXXX", err[512];
	struct policy *p = NULL;
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	if (write(fd, conf_text, sizeof conf_text - 1) != (ssize_t)(sizeof conf_text - 1)) {
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

/* live / hold cannot be configured yet: a policy made by hand. */
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
	assert_string_equal(d.later, "");
	assert_string_equal(d.reply, "451 4.3.0 live soon");
	assert_int_equal(address_parse("<u@hold.example>", 16, false, &a, NULL), 0);
	policy_decide(&p, &a, &d);
	assert_int_equal(d.decision, DECISION_HOLD);
	assert_string_equal(d.reply, "451 4.3.0 hold soon");
	domain_table_free(p.domains);
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
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_table_grow_and_dup),
		cmocka_unit_test(test_domain_key),
		cmocka_unit_test(test_ldh),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
