/*
 * test_dkim_verify.c - the DKIM verifier's paths that need no DNS.
 *
 * The verifier library is made with no resolver (dkimv_lib_new(NULL)), so
 * every key lookup is a temporary failure; verdicts that need a key are
 * covered by tests/integration/test_dkim_{signed,vectors}.py.  Here:
 * no signature -> none; a table of malformed DKIM-Signature fields ->
 * permerror with what could be read of d=/s=/a=; unusable q= or selector
 * -> permerror without a lookup; a sound signature -> temperror; the
 * same message fed whole, byte by byte and in odd chunks, with CRLF or LF
 * folding -> the same outcome; calls out of order -> permerror, never a
 * crash; more than DKIMV_MAX_SIGS signatures; no From; a NUL in a header
 * field, an empty field (kept from libopendkim, which overflows or
 * asserts on them); an h= that selects every field and names more (the
 * library's overrun, kept away by the guard field); an i= the library
 * would read past the end of (dkim_sigmap_unsafe()); four threads sharing
 * the library, one verifier each; the summary and name tables;
 * dkim_sigmap_copy_clean().
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dkim_sigmap.h"
#include "dkim_verify.h"

#define S(x) x, sizeof(x) - 1
#define NA(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 8463 appendix A.3: the RFC 6376 example message signed twice. */
static const char RFC8463[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

static struct dkimv_lib *lib;

static int
setup(void **state)
{
	(void)state;
	lib = dkimv_lib_new(NULL);
	return lib == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	dkimv_lib_free(lib);
	return 0;
}

/* Feed msg (len bytes): header fields one by one, the body in chunks of
 * chunk bytes (0: whole).  lf: make every CRLF a bare LF first. */
static void
verify(const char *msg, size_t len, size_t chunk, bool lf,
    struct dkim_outcome *out)
{
	char *m = malloc(len + 1);
	size_t n = 0, pos = 0;
	struct dkim_verifier *v = dkimv_new(lib);

	assert_non_null(m);
	assert_non_null(v);
	for (size_t i = 0; i < len; i++)
		if (!(lf && msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			m[n++] = msg[i];
	while (pos < n && m[pos] != '\r' && m[pos] != '\n') {
		size_t start = pos, end;

		do {
			const char *nl = memchr(m + pos, '\n', n - pos);

			pos = nl != NULL ? (size_t)(nl - m) + 1 : n;
		} while (pos < n && (m[pos] == ' ' || m[pos] == '\t'));
		end = pos;
		if (end > start && m[end - 1] == '\n')
			end--;
		if (end > start && m[end - 1] == '\r')
			end--;
		dkimv_header(v, m + start, end - start);
	}
	pos += (pos < n && m[pos] == '\r') ? 2 : 1;
	dkimv_eoh(v);
	if (chunk == 0)
		chunk = n + 1;
	for (; pos < n; pos += chunk)
		dkimv_body(v, m + pos, n - pos < chunk ? n - pos : chunk);
	dkimv_eom(v, out);
	dkimv_free(v);
	free(m);
}

static void
test_no_signature(void **state)
{
	static const char msg[] = "From: a@example.com\r\nSubject: x\r\n\r\nhi\r\n";
	struct dkim_outcome out;

	(void)state;
	verify(S(msg), 0, false, &out);
	assert_int_equal(out.n, 0);
	assert_int_equal(out.nfound, 0);
	assert_int_equal(dkimv_summary(&out), AUTHRES_NONE);
}

struct bad_case {
	const char *sig;          /* the DKIM-Signature value */
	size_t len;
	const char *d, *s;        /* what must be reported */
	enum dkimv_alg alg;
};

static const struct bad_case bad_cases[] = {
	{ S(" garbage"), "", "", DKIMV_ALG_UNKNOWN },
	{ S(""), "", "", DKIMV_ALG_UNKNOWN },
	{ S(" ;;;===;"), "", "", DKIMV_ALG_UNKNOWN },
	{ S(" v=1; a=rsa-sha256; d=example.com; s=sel"), "example.com", "sel",
	  DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b="),
	  "example.com", "sel", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=2; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA"),
	  "example.com", "sel", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=foo-bar; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA"),
	  "example.com", "sel", DKIMV_ALG_UNKNOWN },
	{ S(" v=1; a=rsa-sha256; d=example.com; s=se/l; h=from; bh=AAAA; b=AAAA"),
	  "example.com", "se/l", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA;"
	    " q=http"), "example.com", "sel", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=rsa-sha256; d=exa\0mple.com; s=sel; h=from; bh=A; b=A"),
	  "exa", "sel", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=rsa-sha256; d=example.com; s=sel; h=subject; bh=AAAA;"
	    " b=AAAA"), "example.com", "sel", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=rsa-sha256; d=example.com; i=x@other.org; s=sel; h=from;"
	    " bh=AAAA; b=AAAA"), "example.com", "sel", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA;"
	    " l=99999"), "example.com", "sel", DKIMV_ALG_RSA_SHA256 },
	{ S(" v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA;"
	    " x=1"), "example.com", "sel", DKIMV_ALG_RSA_SHA256 },
};

static void
test_malformed(void **state)
{
	static const char head[] = "From: a@example.com\r\n";
	static const char tail[] = "\r\nSubject: x\r\n\r\nbody\r\n";

	(void)state;
	for (size_t i = 0; i < NA(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
		size_t nl = sizeof("DKIM-Signature:") - 1;
		size_t len = hl + nl + c->len + tl;
		char *msg = malloc(len);
		struct dkim_outcome out;

		assert_non_null(msg);
		memcpy(msg, head, hl);
		memcpy(msg + hl, "DKIM-Signature:", nl);
		memcpy(msg + hl + nl, c->sig, c->len);
		memcpy(msg + hl + nl + c->len, tail, tl);
		verify(msg, len, 0, false, &out);
		free(msg);
		print_message("case %zu: %s (%s)\n", i,
		    dkimv_result_name(out.sig[0].result), out.sig[0].reason);
		assert_int_equal(out.n, 1);
		assert_int_equal(out.nfound, 1);
		assert_int_equal(out.sig[0].result, AUTHRES_PERMERROR);
		assert_false(out.sig[0].aligned_ok);
		assert_string_equal(out.sig[0].d, c->d);
		assert_string_equal(out.sig[0].s, c->s);
		assert_int_equal(out.sig[0].alg, c->alg);
		assert_true(out.sig[0].reason[0] != '\0');
		assert_int_equal(dkimv_summary(&out), AUTHRES_PERMERROR);
	}
}

static void
test_no_resolver_is_temperror(void **state)
{
	struct dkim_outcome out;

	(void)state;
	verify(S(RFC8463), 0, false, &out);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.sig[0].result, AUTHRES_TEMPERROR);
	assert_int_equal(out.sig[0].alg, DKIMV_ALG_ED25519_SHA256);
	assert_string_equal(out.sig[0].d, "football.example.com");
	assert_string_equal(out.sig[0].s, "brisbane");
	assert_string_equal(out.sig[0].b, "/gCrinpcQOoIfuH");
	assert_int_equal(out.sig[1].result, AUTHRES_TEMPERROR);
	assert_int_equal(out.sig[1].alg, DKIMV_ALG_RSA_SHA256);
	assert_string_equal(out.sig[1].s, "test");
	assert_int_equal(dkimv_summary(&out), AUTHRES_TEMPERROR);
}

static void
test_chunking(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64 };
	struct dkim_outcome whole, lfout, got;

	(void)state;
	verify(S(RFC8463), 0, false, &whole);
	for (size_t i = 0; i < NA(chunks); i++) {
		verify(S(RFC8463), chunks[i], false, &got);
		assert_memory_equal(&got, &whole, sizeof(got));
	}
	verify(S(RFC8463), 5, true, &lfout);
	assert_memory_equal(&lfout, &whole, sizeof(lfout));
}

static void
test_out_of_order(void **state)
{
	struct dkim_verifier *v;
	struct dkim_outcome out;
	static const char sig[] = "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=example.com; s=sel; h=from; bh=AAAA; b=AAAA";

	(void)state;
	/* end of message without end of header */
	v = dkimv_new(lib);
	dkimv_header(v, S(sig));
	dkimv_header(v, S("From: a@example.com"));
	dkimv_eom(v, &out);
	dkimv_free(v);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.sig[0].result, AUTHRES_PERMERROR);
	assert_string_equal(out.sig[0].d, "example.com");
	assert_non_null(strstr(out.sig[0].reason, "before end of header"));
	/* body before the header ends, header after it, eoh twice */
	v = dkimv_new(lib);
	dkimv_body(v, S("early\r\n"));
	dkimv_header(v, S(sig));
	dkimv_eoh(v);
	dkimv_eoh(v);
	dkimv_header(v, S("From: a@example.com"));
	dkimv_eom(v, &out);
	dkimv_eom(v, &out);
	dkimv_free(v);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.sig[0].result, AUTHRES_PERMERROR);
	assert_non_null(strstr(out.sig[0].reason, "body outside"));
	/* NULLs everywhere */
	dkimv_header(NULL, S(sig));
	dkimv_eoh(NULL);
	dkimv_body(NULL, S("x"));
	dkimv_eom(NULL, &out);
	assert_int_equal(out.n, 0);
	dkimv_free(NULL);
	dkimv_lib_free(NULL);
	assert_null(dkimv_new(NULL));
}

/* One sound DKIM-Signature field with the given b= and i= values. */
static void
add_sig(struct dkim_verifier *v, const char *b, const char *i)
{
	char field[512];

	snprintf(field, sizeof field, "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=example.com; s=sel; h=from; bh=AAAA; b=%s; i=%s", b, i);
	dkimv_header(v, field, strlen(field));
}

/* From, end of header, a one-line body, the outcome; frees v. */
static void
end_message(struct dkim_verifier *v, struct dkim_outcome *out)
{
	dkimv_header(v, S("From: a@example.com"));
	dkimv_eoh(v);
	dkimv_body(v, S("hi\r\n"));
	dkimv_eom(v, out);
	dkimv_free(v);
}

/*
 * DKIMV_MAX_SIGS sound signatures and then `extra` more with i=extra_i:
 * only the first DKIMV_MAX_SIGS are reported (all temperror, no
 * resolver), every one is counted.
 */
static void
check_many(size_t extra, const char *extra_i)
{
	struct dkim_verifier *v = dkimv_new(lib);
	struct dkim_outcome out;

	assert_non_null(v);
	for (size_t i = 0; i < DKIMV_MAX_SIGS + extra; i++)
		add_sig(v, "AAAA", i < DKIMV_MAX_SIGS ? "@example.com" : extra_i);
	end_message(v, &out);
	assert_int_equal(out.nfound, DKIMV_MAX_SIGS + extra);
	assert_int_equal(out.n, DKIMV_MAX_SIGS);
	for (size_t i = 0; i < out.n; i++)
		assert_int_equal(out.sig[i].result, AUTHRES_TEMPERROR);
}

static void
test_too_many(void **state)
{
	(void)state;
	check_many(4, "@example.com");
}

static void
test_no_from(void **state)
{
	static const char msg[] = "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=example.com; s=sel; h=from; bh=AAAA; b=AAAA\r\nSubject: x\r\n"
	    "\r\nhi\r\n";
	struct dkim_outcome out;

	(void)state;
	verify(S(msg), 0, false, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.sig[0].result, AUTHRES_PERMERROR);
	assert_string_equal(out.sig[0].d, "example.com");
}

static void
test_nul_in_header(void **state)
{
	static const char msg[] = "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=example.com; s=sel; h=from; bh=AAAA; b=AAAA\r\n"
	    "From: a@b.example\0\0\r\n\r\nhi\r\n";
	struct dkim_outcome out;

	(void)state;
	verify(S(msg), 0, false, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.sig[0].result, AUTHRES_PERMERROR);
	assert_non_null(strstr(out.sig[0].reason, "NUL byte"));
}

static void
test_empty_field(void **state)
{
	struct dkim_verifier *v = dkimv_new(lib);
	struct dkim_outcome out;

	(void)state;
	dkimv_header(v, S("DKIM-Signature: v=1; a=rsa-sha256; d=example.com;"
	    " s=sel; h=from; bh=AAAA; b=AAAA"));
	dkimv_header(v, "", 0);
	dkimv_header(v, S("From: a@b.example"));
	dkimv_eoh(v);
	dkimv_eom(v, &out);
	dkimv_free(v);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.sig[0].result, AUTHRES_PERMERROR);
	assert_non_null(strstr(out.sig[0].reason, "empty header field"));
}

/*
 * A signature whose h= selects every header field and names more: the
 * library once wrote past its array of fields (see guard_field()).  With
 * 1..12 fields (odd counts put the stray pointer on the next heap chunk's
 * size), the signature is sound, so without a resolver it is temperror.
 */
static void
test_h_selects_every_field(void **state)
{
	char h[512], sig[1024];
	size_t nfields;

	(void)state;
	for (nfields = 1; nfields <= 12; nfields++) {
		struct dkim_verifier *v = dkimv_new(lib);
		struct dkim_outcome out;
		size_t i;

		assert_non_null(v);
		snprintf(h, sizeof h, "dkim-signature:from");
		for (i = 2; i < nfields; i++)
			snprintf(h + strlen(h), sizeof h - strlen(h), ":x%zu", i);
		snprintf(h + strlen(h), sizeof h - strlen(h), ":from:to:from");
		snprintf(sig, sizeof sig, "DKIM-Signature: v=1; a=rsa-sha256; "
		    "d=example.com; s=sel; h=%s; bh=AAAA; b=AAAA", h);
		dkimv_header(v, sig, strlen(sig));
		if (nfields > 1)
			dkimv_header(v, S("From: a@example.com"));
		for (i = 2; i < nfields; i++) {
			char f[32];

			snprintf(f, sizeof f, "X%zu: %zu", i, i);
			dkimv_header(v, f, strlen(f));
		}
		dkimv_eoh(v);
		dkimv_body(v, S("hi\r\n"));
		dkimv_eom(v, &out);
		dkimv_free(v);
		print_message("%zu fields: %s\n", nfields, out.sig[0].reason);
		assert_int_equal(out.n, 1);
		assert_int_equal(out.sig[0].result, nfields > 1 ?
		    AUTHRES_TEMPERROR : AUTHRES_PERMERROR);
	}
}

/*
 * An i= libopendkim would read past the end of (see dkim_sigmap_unsafe()):
 * that signature is permerror with the reason, and the signatures before
 * and after it are still evaluated (temperror: sound, no resolver).
 */
static void
test_unsafe_identity(void **state)
{
	static const char *const bad[] = {
		"@example.com=", "@example.com=4", "@example.com=4 ",
		"@exa=\r\n mple.com", "=G1@example.com",
	};

	(void)state;
	for (size_t i = 0; i < NA(bad); i++) {
		struct dkim_verifier *v = dkimv_new(lib);
		struct dkim_outcome out;

		assert_non_null(v);
		add_sig(v, "AAAA", "@example.com");
		add_sig(v, "BBBB", bad[i]);
		add_sig(v, "CCCC", "=40example.com");
		end_message(v, &out);
		assert_int_equal(out.n, 3);
		assert_int_equal(out.sig[0].result, AUTHRES_TEMPERROR);
		assert_int_equal(out.sig[1].result, AUTHRES_PERMERROR);
		assert_string_equal(out.sig[1].reason,
		    "i= not dkim-quoted-printable");
		assert_string_equal(out.sig[1].b, "BBBB");
		assert_int_equal(out.sig[2].result, AUTHRES_TEMPERROR);
		assert_string_equal(out.sig[2].b, "CCCC");
	}
}

/* Past DKIMV_MAX_SIGS an unsafe field is still kept from the library. */
static void
test_unsafe_past_max(void **state)
{
	(void)state;
	check_many(1, "=");
}

static void
test_sigmap_unsafe(void **state)
{
	char long_i[400];
	static const struct {
		const char *in;
		size_t len;
		const char *want;    /* NULL: may be given to the library */
	} cases[] = {
		{ S("v=1; d=example.com; i=@example.com"), NULL },
		{ S("v=1; i=a=40b@example.com"), NULL },
		{ S("v=1; i=a=4a=4Fb@example.com"), NULL },
		{ S("v=1; i = @exa mple.com ; d=example.com"), NULL },
		{ S("v=1; i=;"), NULL },
		{ S("v=1; d=a=; s=="), NULL },          /* only i= is decoded */
		{ S("v=1; i=@example.com="), "i= not dkim-quoted-printable" },
		{ S("v=1; i=@example.com=4;"), "i= not dkim-quoted-printable" },
		{ S("v=1; i=@example.com=\r\n 4"),
		    "i= not dkim-quoted-printable" },
		{ S("v=1; i=x=ZZ@example.com"), "i= not dkim-quoted-printable" },
		{ S("v=1; i=@a.example; i=="), "i= not dkim-quoted-printable" },
		/* libopendkim drops any white space around a tag name */
		{ S("v=1; i\v=@example.com="), "i= not dkim-quoted-printable" },
		{ S("v=1;\f i =x=4"), "i= not dkim-quoted-printable" },
	};

	(void)state;
	for (size_t i = 0; i < NA(cases); i++) {
		const char *got = dkim_sigmap_unsafe(cases[i].in, cases[i].len);

		if (cases[i].want == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].want);
	}
	/* 256 octets once white space is gone: accepted; 257: not */
	memset(long_i, 'a', sizeof long_i);
	memcpy(long_i, "i=", 2);
	memcpy(long_i + 2 + 256 - 12, "@example.com", 12);
	assert_null(dkim_sigmap_unsafe(long_i, 2 + 256));
	long_i[10] = ' ';
	long_i[11] = '\t';
	assert_null(dkim_sigmap_unsafe(long_i, 2 + 256));
	memcpy(long_i + 2 + 257 - 12, "@example.com", 12);
	long_i[10] = long_i[11] = 'a';
	assert_string_equal(dkim_sigmap_unsafe(long_i, 2 + 257),
	    "i= longer than 256 octets");
}

#define NTHREADS 4

static void *
verify_many(void *arg)
{
	struct dkim_outcome *first = arg, out;

	verify(S(RFC8463), 0, false, first);
	for (int i = 0; i < 25; i++) {
		verify(S(RFC8463), (size_t)i + 1, false, &out);
		if (memcmp(&out, first, sizeof(out)) != 0)
			return arg;
	}
	return NULL;
}

/* One library, several threads, one verifier each (as libmilter runs). */
static void
test_threads(void **state)
{
	pthread_t t[NTHREADS];
	static struct dkim_outcome outs[NTHREADS];

	(void)state;
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_many,
		    &outs[i]), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *ret = &outs[i];

		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
		assert_int_equal(outs[i].n, 2);
		assert_int_equal(outs[i].sig[1].result, AUTHRES_TEMPERROR);
	}
}

struct sum_case {
	enum authres_result r[3];
	size_t n, nfound;
	enum authres_result want;
};

static void
test_summary(void **state)
{
	static const struct sum_case cases[] = {
		{ { 0 }, 0, 0, AUTHRES_NONE },
		{ { 0 }, 0, 20, AUTHRES_PERMERROR },
		{ { AUTHRES_FAIL, AUTHRES_PASS }, 2, 2, AUTHRES_PASS },
		{ { AUTHRES_PERMERROR, AUTHRES_TEMPERROR, AUTHRES_FAIL }, 3, 3,
		  AUTHRES_TEMPERROR },
		{ { AUTHRES_POLICY, AUTHRES_FAIL }, 2, 2, AUTHRES_FAIL },
		{ { AUTHRES_PERMERROR, AUTHRES_POLICY }, 2, 2, AUTHRES_POLICY },
		{ { AUTHRES_PERMERROR }, 1, 1, AUTHRES_PERMERROR },
	};

	(void)state;
	for (size_t i = 0; i < NA(cases); i++) {
		struct dkim_outcome out;

		memset(&out, 0, sizeof(out));
		out.n = cases[i].n;
		out.nfound = cases[i].nfound;
		for (size_t k = 0; k < cases[i].n; k++)
			out.sig[k].result = cases[i].r[k];
		assert_int_equal(dkimv_summary(&out), cases[i].want);
	}
}

static void
test_names(void **state)
{
	static const struct {
		enum dkimv_alg a;
		const char *want;
	} algs[] = {
		{ DKIMV_ALG_RSA_SHA256, "rsa-sha256" },
		{ DKIMV_ALG_ED25519_SHA256, "ed25519-sha256" },
		{ DKIMV_ALG_RSA_SHA1, "rsa-sha1" },
		{ DKIMV_ALG_UNKNOWN, "unknown" },
		{ (enum dkimv_alg)99, "unknown" },
	};

	(void)state;
	for (size_t i = 0; i < NA(algs); i++)
		assert_string_equal(dkimv_alg_name(algs[i].a), algs[i].want);
	assert_string_equal(dkimv_result_name(AUTHRES_PASS), "pass");
	assert_string_equal(dkimv_result_name(AUTHRES_POLICY), "policy");
	assert_string_equal(dkimv_result_name(AUTHRES_PERMERROR), "permerror");
}

static void
test_copy_clean(void **state)
{
	static const struct {
		const char *in;
		size_t len, cap;
		const char *want;
	} cases[] = {
		{ S("example.com"), 64, "example.com" },
		{ S(" ex am\r\n\tple "), 64, "example" },
		{ S("a\0b"), 64, "a" },
		{ S("ab\x01" "c"), 64, "ab" },
		{ S("abc\xff" "d"), 64, "abc" },
		{ S("abcdef"), 4, "abc" },
		{ S("abc"), 1, "" },
		{ S(""), 8, "" },
	};

	(void)state;
	for (size_t i = 0; i < NA(cases); i++) {
		char buf[64];

		memset(buf, 'X', sizeof(buf));
		dkim_sigmap_copy_clean(buf, cases[i].cap, cases[i].in,
		    cases[i].len);
		assert_string_equal(buf, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_signature),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_no_resolver_is_temperror),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_no_from),
		cmocka_unit_test(test_nul_in_header),
		cmocka_unit_test(test_empty_field),
		cmocka_unit_test(test_h_selects_every_field),
		cmocka_unit_test(test_unsafe_identity),
		cmocka_unit_test(test_unsafe_past_max),
		cmocka_unit_test(test_sigmap_unsafe),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_copy_clean),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
