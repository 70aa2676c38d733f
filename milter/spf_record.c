/*
 * spf_record.c - syntax check of an SPF record, RFC 7208 section 12:
 *
 *   record = "v=spf1" *( 1*SP ( [qualifier] mechanism / modifier ) ) *SP
 *   mechanism: all, include:D, a[:D][cidr], mx[:D][cidr], ptr[:D],
 *              ip4:N[/0-32], ip6:N[/0-128], exists:D
 *   modifier: redirect=D, exp=D (each at most once, 6.1/6.2),
 *             name=macro-string (unknown modifiers are ignored)
 *   D = domain-spec = macro-string ending in "." toplabel ["."] or a macro
 *
 * Public functions: spf_record_is_spf, spf_record_check,
 * spf_record_cidr_start (see the header).
 * Invariants: every read is bounded by the term's end; no allocation.
 */
#include "spf_record.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct term {
	const char *p;
	size_t len;
};

static int
fail(char *problem, size_t plen, const char *what, struct term t)
{
	int n, show = t.len > 64 ? 64 : (int)t.len;

	if (problem == NULL || plen == 0)
		return -1;
	n = snprintf(problem, plen, "%s: '%.*s'", what, show, t.p);
	if (n < 0 || (size_t)n >= plen)
		problem[plen - 1] = '\0';
	return -1;
}

int
spf_record_is_spf(const char *rec, size_t len)
{
	if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0)
		return 0;
	return len == 6 || rec[6] == ' ';
}

/* RFC 7208 7.1: "%{" letter *DIGIT ["r"] *delimiter "}", "%%", "%_", "%-".
 * Returns the length of the macro at p, 0 when invalid. */
static size_t
macro_len(const char *p, size_t len, int exp_letters)
{
	size_t i = 2;

	if (len < 2)
		return 0;
	if (p[1] == '%' || p[1] == '_' || p[1] == '-')
		return 2;
	if (p[1] != '{' || len < 4)
		return 0;
	if (p[2] == '\0')
		return 0;
	if (strchr("slodiphv", tolower((unsigned char)p[2])) == NULL &&
	    !(exp_letters && strchr("crt", tolower((unsigned char)p[2]))))
		return 0;
	for (i = 3; i < len && isdigit((unsigned char)p[i]); i++)
		;
	if (i < len && (p[i] == 'r' || p[i] == 'R'))
		i++;
	while (i < len && memchr(".-+,/_=", p[i], 7) != NULL)
		i++;
	return i < len && p[i] == '}' ? i + 1 : 0;
}

/* macro-string: literals %x21-24 / %x26-7E and macros.  Sets *last_macro
 * when the string ends with a macro-expand. */
static int
macro_string_ok(const char *p, size_t len, int *last_macro)
{
	size_t i = 0, m;

	*last_macro = 0;
	while (i < len) {
		unsigned char c = (unsigned char)p[i];

		if (c == '%') {
			m = macro_len(p + i, len - i, 0);
			if (m == 0)
				return 0;
			*last_macro = p[i + 1] == '{';
			i += m;
			continue;
		}
		if (c < 0x21 || c > 0x7e)
			return 0;
		*last_macro = 0;
		i++;
	}
	return 1;
}

/* toplabel: alphanumerics and '-', not all digits, no '-' at either end. */
static int
toplabel_ok(const char *p, size_t len)
{
	size_t i;
	int alpha = 0;

	if (len == 0 || p[0] == '-' || p[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (isalpha((unsigned char)p[i]))
			alpha = 1;
		else if (!isdigit((unsigned char)p[i]) && p[i] != '-')
			return 0;
	}
	return alpha;
}

static int
domain_spec_ok(const char *p, size_t len)
{
	const char *dot;
	size_t end = len;
	int last_macro;

	if (len == 0 || !macro_string_ok(p, len, &last_macro))
		return 0;
	if (last_macro)
		return 1;
	if (p[end - 1] == '.')
		end--;
	dot = memrchr(p, '.', end);
	if (dot == NULL)
		return 0;
	return toplabel_ok(dot + 1, end - (size_t)(dot + 1 - p));
}

static int
cidr_ok(const char *p, size_t len, unsigned max)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 3 || (p[0] == '0' && len > 1))
		return 0;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return 0;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v <= max;
}

/* dual-cidr-length = [ "/" ip4-cidr ] [ "//" ip6-cidr ], at the end of t. */
static size_t
split_dual_cidr(struct term t, int *ok)
{
	const char *slash = memchr(t.p, '/', t.len);
	size_t at, rest;

	*ok = 1;
	if (slash == NULL)
		return t.len;
	at = (size_t)(slash - t.p);
	rest = t.len - at;
	if (rest >= 2 && slash[1] == '/') {
		*ok = cidr_ok(slash + 2, rest - 2, 128);
		return at;
	}
	{
		const char *dbl = memmem(slash + 1, rest - 1, "//", 2);
		size_t v4len = dbl ? (size_t)(dbl - slash - 1) : rest - 1;

		*ok = cidr_ok(slash + 1, v4len, 32);
		if (*ok && dbl != NULL)
			*ok = cidr_ok(dbl + 2, (size_t)(t.p + t.len - dbl - 2),
			    128);
	}
	return at;
}

static int
ip4_ok(const char *p, size_t len)
{
	char buf[16];
	size_t i, digits = 0;
	struct in_addr a;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '.')
			digits = 0;
		else if (isdigit((unsigned char)p[i])) {
			if (digits == 1 && p[i - 1] == '0')
				return 0;
			digits++;
		} else
			return 0;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, &a) == 1;
}

static int
ip6_ok(const char *p, size_t len)
{
	char buf[48];
	struct in6_addr a;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

static int
ip_mech_ok(struct term arg, int v6)
{
	const char *slash = memchr(arg.p, '/', arg.len);
	size_t at = slash ? (size_t)(slash - arg.p) : arg.len;

	if (slash && !cidr_ok(slash + 1, arg.len - at - 1, v6 ? 128 : 32))
		return 0;
	return v6 ? ip6_ok(arg.p, at) : ip4_ok(arg.p, at);
}

/* Start of the trailing cidr part of (p, len): the first '/' outside a
 * macro after which only digits and '/' follow ('/' is also a
 * macro-literal, so "a:foo:bar/baz.example.com" has no cidr), or len. */
size_t
spf_record_cidr_start(const char *p, size_t len)
{
	size_t i, j;
	int in_macro = 0;

	for (i = 0; i < len; i++) {
		if (p[i] == '{' && i > 0 && p[i - 1] == '%')
			in_macro = 1;
		else if (p[i] == '}')
			in_macro = 0;
		if (p[i] != '/' || in_macro)
			continue;
		for (j = i; j < len && (p[j] == '/' ||
		    isdigit((unsigned char)p[j])); j++)
			;
		if (j == len)
			return i;
	}
	return len;
}

/* a / mx: [":" domain-spec] [dual-cidr-length]; rest starts after the name. */
static int
a_mx_ok(struct term rest)
{
	size_t at = spf_record_cidr_start(rest.p, rest.len);
	struct term cidr = { rest.p + at, rest.len - at };
	int ok = 1;

	if (cidr.len > 0) {
		split_dual_cidr(cidr, &ok);
		if (!ok)
			return 0;
	}
	if (at == 0)
		return 1;
	return rest.p[0] == ':' && domain_spec_ok(rest.p + 1, at - 1);
}

static int
name_is(struct term n, const char *want)
{
	return n.len == strlen(want) && strncasecmp(n.p, want, n.len) == 0;
}

/* Mechanism name n, rest = what follows it (may be empty). */
static int
mechanism_ok(struct term n, struct term rest)
{
	int colon = rest.len > 0 && rest.p[0] == ':';
	struct term arg = { rest.p + 1, rest.len ? rest.len - 1 : 0 };

	if (name_is(n, "all"))
		return rest.len == 0;
	if (name_is(n, "include") || name_is(n, "exists"))
		return colon && domain_spec_ok(arg.p, arg.len);
	if (name_is(n, "a") || name_is(n, "mx"))
		return a_mx_ok(rest);
	if (name_is(n, "ptr"))
		return rest.len == 0 || (colon && domain_spec_ok(arg.p,
		    arg.len));
	if (name_is(n, "ip4"))
		return colon && ip_mech_ok(arg, 0);
	if (name_is(n, "ip6"))
		return colon && ip_mech_ok(arg, 1);
	return 0;
}

static int
modifier_name_ok(struct term n)
{
	size_t i;

	if (n.len == 0 || !isalpha((unsigned char)n.p[0]))
		return 0;
	for (i = 1; i < n.len; i++)
		if (!isalnum((unsigned char)n.p[i]) &&
		    memchr("-_.", n.p[i], 3) == NULL)
			return 0;
	return 1;
}

struct seen {
	int redirect;
	int exp;
};

static int
modifier_ok(struct term n, struct term val, struct seen *seen,
    const char **why)
{
	int last_macro;

	if (name_is(n, "redirect") || name_is(n, "exp")) {
		int *count = name_is(n, "exp") ? &seen->exp : &seen->redirect;

		if (++*count > 1) {
			*why = "duplicate modifier";
			return 0;
		}
		*why = "bad domain-spec";
		return domain_spec_ok(val.p, val.len);
	}
	*why = "bad modifier";
	return modifier_name_ok(n) && macro_string_ok(val.p, val.len,
	    &last_macro);
}

static int
term_ok(struct term t, struct seen *seen, const char **why)
{
	struct term n, rest;
	size_t i = 0;
	int qualified = 0;

	if (memchr("+-~?", t.p[0], 4) != NULL) {
		qualified = 1;
		i = 1;
	}
	n.p = t.p + i;
	while (i < t.len && memchr(":/=", t.p[i], 3) == NULL)
		i++;
	n.len = (size_t)(t.p + i - n.p);
	rest.p = t.p + i;
	rest.len = t.len - i;
	if (rest.len > 0 && rest.p[0] == '=' && !qualified) {
		struct term val = { rest.p + 1, rest.len - 1 };

		return modifier_ok(n, val, seen, why);
	}
	*why = "unknown mechanism or bad argument";
	return mechanism_ok(n, rest);
}

int
spf_record_check(const char *rec, size_t len, char *problem, size_t plen)
{
	struct seen seen = { 0, 0 };
	struct term t;
	size_t pos = 6;
	const char *why = "";

	if (!spf_record_is_spf(rec, len)) {
		t.p = rec;
		t.len = len;
		return fail(problem, plen, "not an SPF record", t);
	}
	while (pos < len) {
		const char *sp;

		if (rec[pos] == ' ') {
			pos++;
			continue;
		}
		sp = memchr(rec + pos, ' ', len - pos);
		t.p = rec + pos;
		t.len = sp ? (size_t)(sp - t.p) : len - pos;
		if (!term_ok(t, &seen, &why))
			return fail(problem, plen, why, t);
		pos += t.len;
	}
	return 0;
}
