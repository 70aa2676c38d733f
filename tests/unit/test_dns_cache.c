/*
 * test_dns_cache.c - dns_cache: what is kept, for how long, under which
 * key, and what is dropped when it is full (time is passed in, so expiry
 * is tested without waiting).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dns_cache.h"

#define T0 1000000LL

static unsigned char rd1[] = "\x04" "v=1;";
static unsigned char rd2[] = "\x03" "abc";

static struct auth_dns_rrset
two_records(void)
{
	static unsigned char *data[2] = { rd1, rd2 };
	static size_t len[2] = { sizeof rd1 - 1, sizeof rd2 - 1 };
	struct auth_dns_rrset r = { 2, data, len };

	return r;
}

static int
get(struct dns_cache *c, const char *name, int type, long long now,
    enum auth_dns_status *st, struct auth_dns_rrset *out)
{
	return dns_cache_get(c, name, type, now, st, out);
}

static void
test_ok_answer_round_trip(void **state)
{
	struct dns_cache *c = dns_cache_new(8);
	struct auth_dns_rrset in = two_records(), out;
	enum auth_dns_status st = AUTH_DNS_TEMPFAIL;

	(void)state;
	assert_non_null(c);
	assert_int_equal(get(c, "example.org", 16, T0, &st, &out), 0);
	assert_int_equal(out.n, 0);
	dns_cache_put(c, "example.org", 16, T0, 300, AUTH_DNS_OK, &in);
	assert_int_equal(get(c, "example.org", 16, T0 + 1, &st, &out), 1);
	assert_int_equal(st, AUTH_DNS_OK);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.len[0], sizeof rd1 - 1);
	assert_memory_equal(out.data[0], rd1, sizeof rd1 - 1);
	assert_int_equal(out.len[1], sizeof rd2 - 1);
	assert_memory_equal(out.data[1], rd2, sizeof rd2 - 1);
	/* The copy is the caller's: changing it leaves the cache alone. */
	out.data[0][0] = 'X';
	auth_dns_rrset_free(&out);
	assert_int_equal(get(c, "example.org", 16, T0 + 2, &st, &out), 1);
	assert_memory_equal(out.data[0], rd1, sizeof rd1 - 1);
	auth_dns_rrset_free(&out);
	dns_cache_free(c);
}

static void
test_key_folds_case_and_trailing_dot_but_not_type(void **state)
{
	struct dns_cache *c = dns_cache_new(8);
	struct auth_dns_rrset in = two_records(), out;
	enum auth_dns_status st;

	(void)state;
	dns_cache_put(c, "Sel._DomainKey.Example.ORG.", 16, T0, 60, AUTH_DNS_OK,
	    &in);
	assert_int_equal(get(c, "sel._domainkey.example.org", 16, T0, &st,
	    &out), 1);
	auth_dns_rrset_free(&out);
	assert_int_equal(get(c, "SEL._DOMAINKEY.EXAMPLE.ORG.", 16, T0, &st,
	    &out), 1);
	auth_dns_rrset_free(&out);
	assert_int_equal(get(c, "sel._domainkey.example.org", 1, T0, &st,
	    &out), 0);
	assert_int_equal(get(c, "sel._domainkey.example.or", 16, T0, &st,
	    &out), 0);
	assert_int_equal(get(c, "xsel._domainkey.example.org", 16, T0, &st,
	    &out), 0);
	dns_cache_free(c);
}

static void
test_expiry_and_ttl_cap(void **state)
{
	struct dns_cache *c = dns_cache_new(8);
	struct auth_dns_rrset in = two_records(), out;
	enum auth_dns_status st;

	(void)state;
	dns_cache_put(c, "a.example", 1, T0, 2, AUTH_DNS_OK, &in);
	assert_int_equal(get(c, "a.example", 1, T0 + 1999, &st, &out), 1);
	auth_dns_rrset_free(&out);
	assert_int_equal(get(c, "a.example", 1, T0 + 2000, &st, &out), 0);
	/* A week's TTL is kept for DNS_CACHE_TTL_MAX only. */
	dns_cache_put(c, "b.example", 1, T0, 604800, AUTH_DNS_OK, &in);
	assert_int_equal(get(c, "b.example", 1,
	    T0 + 1000LL * DNS_CACHE_TTL_MAX - 1, &st, &out), 1);
	auth_dns_rrset_free(&out);
	assert_int_equal(get(c, "b.example", 1,
	    T0 + 1000LL * DNS_CACHE_TTL_MAX, &st, &out), 0);
	dns_cache_free(c);
}

static void
test_negative_answers_kept_failures_not(void **state)
{
	struct dns_cache *c = dns_cache_new(8);
	struct auth_dns_rrset in = two_records(), out;
	enum auth_dns_status st;

	(void)state;
	dns_cache_put(c, "nx.example", 16, T0, 30, AUTH_DNS_NXDOMAIN, NULL);
	dns_cache_put(c, "nd.example", 16, T0, 30, AUTH_DNS_NODATA, &in);
	dns_cache_put(c, "tf.example", 16, T0, 30, AUTH_DNS_TEMPFAIL, &in);
	dns_cache_put(c, "zero.example", 16, T0, 0, AUTH_DNS_OK, &in);
	assert_int_equal(get(c, "nx.example", 16, T0, &st, &out), 1);
	assert_int_equal(st, AUTH_DNS_NXDOMAIN);
	assert_int_equal(out.n, 0);
	assert_null(out.data);               /* nothing for the caller to free */
	assert_null(out.len);
	assert_int_equal(get(c, "nd.example", 16, T0, &st, &out), 1);
	assert_int_equal(st, AUTH_DNS_NODATA);
	assert_int_equal(out.n, 0);          /* rdata only for OK */
	assert_null(out.data);
	assert_int_equal(get(c, "tf.example", 16, T0, &st, &out), 0);
	assert_int_equal(get(c, "zero.example", 16, T0, &st, &out), 0);
	dns_cache_free(c);
}

static void
test_size_limits(void **state)
{
	static unsigned char big[DNS_CACHE_RDATA_MAX + 1];
	unsigned char *data[1] = { big };
	size_t len[1] = { sizeof big };
	struct auth_dns_rrset in = { 1, data, len }, out;
	enum auth_dns_status st;
	struct dns_cache *c = dns_cache_new(8);
	char name[300];

	(void)state;
	dns_cache_put(c, "big.example", 16, T0, 30, AUTH_DNS_OK, &in);
	assert_int_equal(get(c, "big.example", 16, T0, &st, &out), 0);
	len[0] = DNS_CACHE_RDATA_MAX;
	dns_cache_put(c, "edge.example", 16, T0, 30, AUTH_DNS_OK, &in);
	assert_int_equal(get(c, "edge.example", 16, T0, &st, &out), 1);
	assert_int_equal(out.len[0], DNS_CACHE_RDATA_MAX);
	auth_dns_rrset_free(&out);
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	dns_cache_put(c, name, 16, T0, 30, AUTH_DNS_NXDOMAIN, NULL);
	assert_int_equal(get(c, name, 16, T0, &st, &out), 0);
	assert_int_equal(get(c, "", 16, T0, &st, &out), 0);
	assert_int_equal(get(c, ".", 16, T0, &st, &out), 0);
	dns_cache_free(c);
}

static void
test_full_cache_drops_oldest_and_replace_keeps_one(void **state)
{
	struct dns_cache *c = dns_cache_new(3);
	struct auth_dns_rrset in = two_records(), out;
	enum auth_dns_status st;
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "n%d.example", i);
		dns_cache_put(c, name, 16, T0, 30, AUTH_DNS_OK, &in);
	}
	assert_int_equal(get(c, "n0.example", 16, T0, &st, &out), 0);
	for (i = 1; i < 4; i++) {
		snprintf(name, sizeof name, "n%d.example", i);
		assert_int_equal(get(c, name, 16, T0, &st, &out), 1);
		auth_dns_rrset_free(&out);
	}
	/* A newer answer replaces the older one under the same key. */
	dns_cache_put(c, "n3.example", 16, T0, 30, AUTH_DNS_NXDOMAIN, NULL);
	assert_int_equal(get(c, "n3.example", 16, T0, &st, &out), 1);
	assert_int_equal(st, AUTH_DNS_NXDOMAIN);
	/* 200 stores into 3 slots: no leak, the last three are there. */
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "m%d.example", i);
		dns_cache_put(c, name, 16, T0, 30, AUTH_DNS_OK, &in);
	}
	for (i = 197; i < 200; i++) {
		snprintf(name, sizeof name, "m%d.example", i);
		assert_int_equal(get(c, name, 16, T0, &st, &out), 1);
		auth_dns_rrset_free(&out);
	}
	assert_int_equal(get(c, "m196.example", 16, T0, &st, &out), 0);
	dns_cache_free(c);
}

static void
test_null_and_zero(void **state)
{
	struct auth_dns_rrset in = two_records(), out;
	enum auth_dns_status st;

	(void)state;
	assert_null(dns_cache_new(0));
	assert_int_equal(get(NULL, "a.example", 1, T0, &st, &out), 0);
	dns_cache_put(NULL, "a.example", 1, T0, 30, AUTH_DNS_OK, &in);
	dns_cache_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_answer_round_trip),
		cmocka_unit_test(test_key_folds_case_and_trailing_dot_but_not_type),
		cmocka_unit_test(test_expiry_and_ttl_cap),
		cmocka_unit_test(test_negative_answers_kept_failures_not),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_full_cache_drops_oldest_and_replace_keeps_one),
		cmocka_unit_test(test_null_and_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
