/*
 * test_received.c - received_format() and received_date().
 *
 * Tables (got/want): whole Received: fields for EHLO / HELO, with and
 * without TLS and AUTH (RFC 3848 keywords), one recipient (with "for") and
 * several (without), IPv4, IPv6 ("IPv6:" literal, RFC 5321 4.1.3) and
 * v4-mapped addresses, unknown rDNS and missing HELO, hostile HELO / rDNS
 * bytes made safe, over-long client strings cut and folded, recipients
 * that lose the "for" clause; dates in several zones (TZ set here, so the
 * test is independent of the machine); the error rows (EINVAL, ENOSPC,
 * EOVERFLOW).  A seeded random pass checks the line rules on any HELO,
 * rDNS and recipient bytes: CRLF only at line ends, continuation lines
 * start with HTAB, lines under 78 characters unless one token is longer,
 * never over 998.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "received.h"

#define S(x) x, sizeof(x) - 1
#define T0 ((time_t)1751367157)          /* Tue, 1 Jul 2025 10:52:37 UTC */
#define DATE0 "Tue, 1 Jul 2025 10:52:37 +0000"
#define H50 "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"
#define H255 H50 H50 H50 H50 H50 "hhhhh"

static void
set_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

struct row {
	const char *name;
	struct received_info ri;
	const char *want;
};

#define S2(x) .helo = x, .helo_len = sizeof(x) - 1
#define R2(x) .rdns = x, .rdns_len = sizeof(x) - 1
#define RC(x) .rcpt = x, .rcpt_len = sizeof(x) - 1
#define ID .session_id = "4f3a2b", .when = T0
#define IP4 .ip = "192.0.2.1"
#define HOST .hostname = "mx.example.net"
#define BASE IP4, HOST, ID, .esmtp = true

static const struct row rows[] = {
	{ "esmtp one rcpt",
	  { BASE, S2("mail.example.org"), R2("mail.example.org"), .nrcpt = 1,
	    RC("bob@example.com") },
	  "Received: from mail.example.org (mail.example.org [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b\r\n"
	  "\tfor <bob@example.com>; " DATE0 "\r\n" },
	{ "esmtps one rcpt",
	  { BASE, S2("mail.example.org"), R2("mail.example.org"), .tls = true,
	    .tls_version = "TLSv1.3", .tls_cipher = "TLS_AES_256_GCM_SHA384",
	    .nrcpt = 1, RC("bob@example.com") },
	  "Received: from mail.example.org (mail.example.org [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTPS id 4f3a2b\r\n"
	  "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
	  "\tfor <bob@example.com>; " DATE0 "\r\n" },
	{ "helo two rcpts",
	  { IP4, HOST, ID, S2("client"), .nrcpt = 2,
	    RC("bob@example.com") },
	  "Received: from client (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with SMTP id 4f3a2b;\r\n"
	  "\t" DATE0 "\r\n" },
	{ "tls no for",
	  { BASE, S2("c.example"), .tls = true, .tls_version = "TLSv1.2",
	    .tls_cipher = "ECDHE-RSA-AES128-GCM-SHA256", .nrcpt = 3 },
	  "Received: from c.example (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTPS id 4f3a2b\r\n"
	  "\t(using TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256);\r\n"
	  "\t" DATE0 "\r\n" },
	{ "tls without names",
	  { BASE, S2("c.example"), .tls = true, .nrcpt = 0 },
	  "Received: from c.example (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTPS id 4f3a2b;\r\n"
	  "\t" DATE0 "\r\n" },
	{ "esmtpsa",
	  { BASE, S2("c.example"), .tls = true, .authenticated = true,
	    .tls_version = "TLSv1.3", .tls_cipher = "X", .nrcpt = 1,
	    RC("a@b.example") },
	  "Received: from c.example (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTPSA id 4f3a2b\r\n"
	  "\t(using TLSv1.3 with cipher X)\r\n"
	  "\tfor <a@b.example>; " DATE0 "\r\n" },
	{ "esmtpa",
	  { BASE, S2("c.example"), .authenticated = true, .nrcpt = 1,
	    RC("a@b.example") },
	  "Received: from c.example (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTPA id 4f3a2b\r\n"
	  "\tfor <a@b.example>; " DATE0 "\r\n" },
	{ "ipv6",
	  { HOST, ID, .esmtp = true, .ip = "2001:DB8:0:0::1", S2("v6.example"),
	    R2("v6.example"), .nrcpt = 1, RC("a@b.example") },
	  "Received: from v6.example (v6.example [IPv6:2001:db8::1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b\r\n"
	  "\tfor <a@b.example>; " DATE0 "\r\n" },
	{ "v4-mapped",
	  { HOST, ID, .esmtp = true, .ip = "::ffff:198.51.100.7", S2("[198.51.100.7]"),
	    .nrcpt = 1, RC("a@b.example") },
	  "Received: from [198.51.100.7] (unknown [198.51.100.7])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b\r\n"
	  "\tfor <a@b.example>; " DATE0 "\r\n" },
	{ "no helo, loopback v6",
	  { HOST, ID, .esmtp = true, .ip = "::1", .nrcpt = 1, RC("a@b.example") },
	  "Received: from unknown (unknown [IPv6:::1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b\r\n"
	  "\tfor <a@b.example>; " DATE0 "\r\n" },
	{ "hostile helo and rdns",
	  { BASE, S2("evil)\r\nX-Injected: yes; (\"\\\x01\xff"),
	    R2("a b(c)"), .nrcpt = 1, RC("a@b.example") },
	  "Received: from evil???X-Injected:?yes??????? (a?b?c? [192.0.2.1])"
	  "\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b\r\n"
	  "\tfor <a@b.example>; " DATE0 "\r\n" },
	{ "long helo cut",
	  { BASE, S2(H255 "cut-off-here"), .nrcpt = 2 },
	  "Received: from\r\n"
	  "\t" H255 "\r\n"
	  "\t(unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b;\r\n"
	  "\t" DATE0 "\r\n" },
	{ "folding by line",
	  { IP4, ID, .esmtp = true, S2("c"), .hostname = H50 ".example.net", .nrcpt = 0 },
	  "Received: from c (unknown [192.0.2.1])\r\n"
	  "\tby " H50 ".example.net (cutoverd)\r\n"   /* 77 chars */
	  "\twith ESMTP id 4f3a2b;\r\n"
	  "\t" DATE0 "\r\n" },
	{ "long recipient",
	  { BASE, S2("c"), .nrcpt = 1, RC(H50 "@" H50 ".example") },
	  "Received: from c (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b\r\n"
	  "\tfor\r\n"
	  "\t<" H50 "@" H50 ".example>;\r\n"
	  "\t" DATE0 "\r\n" },
	{ "recipient with control",
	  { BASE, S2("c"), .nrcpt = 1, RC("a\r\nb@c.example") },
	  "Received: from c (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b;\r\n"
	  "\t" DATE0 "\r\n" },
	{ "one rcpt but none given",
	  { BASE, S2("c"), .nrcpt = 1 },
	  "Received: from c (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b;\r\n"
	  "\t" DATE0 "\r\n" },
	{ "utf-8 recipient kept",
	  { BASE, S2("c"), .nrcpt = 1, RC("j\xc3\xb6rg@b.example") },
	  "Received: from c (unknown [192.0.2.1])\r\n"
	  "\tby mx.example.net (cutoverd) with ESMTP id 4f3a2b\r\n"
	  "\tfor <j\xc3\xb6rg@b.example>; " DATE0 "\r\n" },
};

static void
test_table(void **state)
{
	char buf[RECEIVED_MAX];
	size_t len;

	(void)state;
	set_tz("UTC0");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		print_message("%s\n", rows[i].name);
		assert_int_equal(received_format(&rows[i].ri, buf, sizeof buf,
		    &len), 0);
		assert_string_equal(buf, rows[i].want);
		assert_int_equal(len, strlen(rows[i].want));
	}
}

static void
test_dates(void **state)
{
	static const struct {
		const char *tz;
		time_t t;
		const char *want;
	} cases[] = {
		{ "UTC0", T0, "Tue, 1 Jul 2025 10:52:37 +0000" },
		{ "<+0530>-5:30", T0, "Tue, 1 Jul 2025 16:22:37 +0530" },
		{ "EST5", T0, "Tue, 1 Jul 2025 05:52:37 -0500" },
		{ "<-0330>3:30", T0, "Tue, 1 Jul 2025 07:22:37 -0330" },
		{ "<+1345>-13:45", T0, "Wed, 2 Jul 2025 00:37:37 +1345" },
		{ "UTC0", 1709251199, "Thu, 29 Feb 2024 23:59:59 +0000" },
		{ "UTC0", 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
	};
	char buf[RECEIVED_DATE_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		set_tz(cases[i].tz);
		assert_int_equal(received_date(cases[i].t, buf, sizeof buf),
		    (int)strlen(cases[i].want));
		assert_string_equal(buf, cases[i].want);
	}
	set_tz("UTC0");
	errno = 0;
	assert_int_equal(received_date(T0, buf, 30), -1);
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_int_equal(received_date((time_t)LLONG_MAX, buf, sizeof buf), -1);
	assert_int_equal(errno, EOVERFLOW);
}

static void
expect_error(const struct received_info *ri, size_t cap, int want)
{
	char buf[RECEIVED_MAX];
	size_t len = 99;

	errno = 0;
	assert_int_equal(received_format(ri, buf, cap, &len), -1);
	assert_int_equal(errno, want);
	assert_int_equal(len, 0);
}

static void
test_errors(void **state)
{
	static const char *const bad_ips[] = { NULL, "", "1.2.3", "1.2.3.4 ",
	    "[1.2.3.4]", "IPv6:::1", "::1::2", "example.org",
	    "1111:2222:3333:4444:5555:6666:7777:8888:9999" };
	static const char *const bad_ours[] = { NULL, "", "a b", "a(b)",
	    "a;b", H255 "h" };
	struct received_info ri = { BASE, S2("c"), .nrcpt = 1, RC("a@b.c") };
	char buf[RECEIVED_MAX];
	size_t len;

	(void)state;
	set_tz("UTC0");
	for (size_t i = 0; i < sizeof bad_ips / sizeof bad_ips[0]; i++) {
		struct received_info r = ri;
		r.ip = bad_ips[i];
		expect_error(&r, sizeof buf, EINVAL);
	}
	for (size_t i = 0; i < sizeof bad_ours / sizeof bad_ours[0]; i++) {
		struct received_info r = ri;
		r.hostname = bad_ours[i];
		expect_error(&r, sizeof buf, EINVAL);
		r = ri;
		r.session_id = bad_ours[i];
		expect_error(&r, sizeof buf, EINVAL);
	}
	ri.session_id = H50 "12345678901234";          /* 64: fine */
	assert_int_equal(received_format(&ri, buf, sizeof buf, &len), 0);
	ri.session_id = H50 "123456789012345";         /* 65 */
	expect_error(&ri, sizeof buf, EINVAL);
	ri.session_id = "id";
	assert_int_equal(received_format(&ri, buf, sizeof buf, &len), 0);
	assert_int_equal(received_format(&ri, buf, len + 1, &len), 0);
	expect_error(&ri, len, ENOSPC);
	expect_error(&ri, 10, ENOSPC);
	expect_error(&ri, 0, ENOSPC);
	ri.when = (time_t)LLONG_MAX;
	expect_error(&ri, sizeof buf, EOVERFLOW);
}

/* Line rules on any client bytes. */
static void
check_lines(const char *s, size_t len)
{
	size_t start = 0;
	bool first = true;

	assert_true(len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
		if (s[i] == '\r')
			assert_true(i + 1 < len && s[i + 1] == '\n');
		if (s[i] != '\n')
			continue;
		size_t line = i - 1 - start;
		assert_true(line <= 998);
		assert_true(first || s[start] == '\t');
		if (line >= 78) {   /* only a single over-long token */
			assert_false(first);
			assert_null(memchr(s + start + 1, ' ', line - 1));
		}
		first = false;
		start = i + 1;
	}
}

static void
test_random(void **state)
{
	char helo[400], rdns[400], rcpt[600], buf[RECEIVED_MAX];
	unsigned seed = 99;
	size_t len;

	(void)state;
	set_tz("UTC0");
	for (int round = 0; round < 5000; round++) {
		struct received_info ri = { BASE, .helo = helo, .rdns = rdns,
		    .rcpt = rcpt, .nrcpt = 1, .tls = round & 1,
		    .tls_version = "TLSv1.3", .tls_cipher = "C" };
		ri.helo_len = (size_t)rand_r(&seed) % sizeof helo;
		ri.rdns_len = (size_t)rand_r(&seed) % sizeof rdns;
		ri.rcpt_len = (size_t)rand_r(&seed) % sizeof rcpt;
		for (size_t i = 0; i < sizeof rcpt; i++) {
			int r = rand_r(&seed);
			char c = (char)(r % 4 == 0 ? ' ' : 33 + r % 94);
			if (i < sizeof helo)
				helo[i] = (char)(r % 7 == 0 ? r >> 8 : c);
			if (i < sizeof rdns)
				rdns[i] = c;
			rcpt[i] = (char)(33 + (r >> 4) % 94);
		}
		assert_int_equal(received_format(&ri, buf, sizeof buf, &len), 0);
		assert_int_equal(strlen(buf), len);
		check_lines(buf, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
