/*
 * address.c - RFC 5321 Path / Mailbox parser (section 4.1.2), pure.
 *
 * Public functions: address_parse(), address_error_text(), address_format().
 *
 * Grammar (RFC 5321 4.1.2, RFC 6531 3.3 when utf8_ok):
 *   Path      = "<" [ A-d-l ":" ] Mailbox ">"      "<>" is the null path
 *   A-d-l     = "@" Domain *( "," "@" Domain )      recognised, then dropped
 *   Mailbox   = Local-part [ "@" ( Domain / address-literal ) ]
 *   Local-part = Dot-string / Quoted-string        kept as sent (quotes too)
 * A Mailbox without "@domain" is accepted ("<postmaster>") and flagged
 * ADDRESS_NO_DOMAIN; the caller decides what it may be used for.  One
 * trailing dot after the domain is tolerated (kept as sent): rejecting it
 * with a permanent 501 would bounce mail that a lookup can match anyway.
 *
 * Invariants: input travels as (pointer, length), never NUL-terminated,
 * scanned with a cursor that never passes `end`.  Outputs are always
 * NUL-terminated, also on error (then empty).  Length limits are octets
 * (RFC 5321 4.5.3.1): local part 64, domain 255, whole path 256 including
 * the brackets; they are checked once the syntax is known to be right, so
 * nothing is copied before it is known to fit.
 *
 * Non-ASCII: without utf8_ok the first byte >= 0x80 is ADDRESS_ERR_UTF8
 * (553 5.6.7); with it, every sequence must be well-formed UTF-8 (no
 * overlongs, no surrogates, nothing past U+10FFFF).
 *
 * Sender-specified routing (RFC 5321 3.6.1, appendix C): a source route is
 * dropped (flag ADDRESS_ROUTED); %, ! and a quoted @ in the local part are
 * flagged ADDRESS_ROUTING_CHARS so that policy_decide() can refuse them.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "address.h"

#define LABEL_MAX 63 /* RFC 1035 2.3.4 */

struct scan {
	const unsigned char *p;   /* next byte */
	const unsigned char *end; /* one past the last byte */
	bool utf8_ok;
	unsigned flags;
	size_t max_label;         /* longest domain label seen, octets */
};

static bool
is_alpha(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 3.2.3 atext, ASCII part. */
static bool
is_atext(unsigned c)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";

	if (is_alpha(c) || is_digit(c))
		return true;
	return c != '\0' && c < 0x80 && memchr(specials, (int)c, sizeof specials - 1);
}

/* Length of the well-formed UTF-8 sequence at p (2..4), or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;          /* overlong */
	else if (c == 0xed)
		hi = 0x9f;          /* surrogates */
	else if (c == 0xf0)
		lo = 0x90;          /* overlong */
	else if (c == 0xf4)
		hi = 0x8f;          /* past U+10FFFF */
	if ((size_t)(end - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Consume one non-ASCII character at s->p. */
static enum address_error
take_utf8(struct scan *s)
{
	size_t n;

	if (!s->utf8_ok)
		return ADDRESS_ERR_UTF8;
	n = utf8_len(s->p, s->end);
	if (n == 0)
		return ADDRESS_ERR_SYNTAX;
	s->p += n;
	s->flags |= ADDRESS_UTF8;
	return ADDRESS_OK;
}

static void
note_routing(struct scan *s, unsigned c)
{
	if (c == '%' || c == '!')
		s->flags |= ADDRESS_ROUTING_CHARS;
}

/* Dot-string = Atom *("." Atom), atoms of atext (or UTF-8). */
static enum address_error
scan_dot_string(struct scan *s)
{
	bool need_char = true; /* at the start, and after each dot */
	enum address_error e;

	while (s->p < s->end) {
		unsigned c = *s->p;

		if (c >= 0x80) {
			if ((e = take_utf8(s)) != ADDRESS_OK)
				return e;
			need_char = false;
		} else if (is_atext(c)) {
			note_routing(s, c);
			s->p++;
			need_char = false;
		} else if (c == '.' && !need_char) {
			s->p++;
			need_char = true;
		} else {
			break;
		}
	}
	return need_char ? ADDRESS_ERR_SYNTAX : ADDRESS_OK;
}

/* Quoted-string = DQUOTE *( qtextSMTP / "\" %d32-126 ) DQUOTE */
static enum address_error
scan_quoted(struct scan *s)
{
	enum address_error e;

	s->p++; /* opening quote */
	while (s->p < s->end) {
		unsigned c = *s->p;

		if (c == '"') {
			s->p++;
			s->flags |= ADDRESS_QUOTED;
			return ADDRESS_OK;
		}
		if (c >= 0x80) {
			if ((e = take_utf8(s)) != ADDRESS_OK)
				return e;
			continue;
		}
		if (c == '\\') {
			if (s->end - s->p < 2 || s->p[1] < 32 || s->p[1] > 126)
				return ADDRESS_ERR_SYNTAX;
			c = s->p[1];
			s->p++;
		} else if (c < 32 || c > 126) {
			return ADDRESS_ERR_SYNTAX;
		}
		if (c == '@')
			s->flags |= ADDRESS_ROUTING_CHARS;
		note_routing(s, c);
		s->p++;
	}
	return ADDRESS_ERR_SYNTAX;
}

/* One label: let-dig [ *(let-dig / "-") let-dig ], UTF-8 allowed. */
static enum address_error
scan_label(struct scan *s)
{
	const unsigned char *start = s->p;
	unsigned last = 0;
	enum address_error e;

	while (s->p < s->end) {
		unsigned c = *s->p;

		if (c >= 0x80) {
			if ((e = take_utf8(s)) != ADDRESS_OK)
				return e;
		} else if (is_alpha(c) || is_digit(c) || (c == '-' && s->p > start)) {
			s->p++;
		} else {
			break;
		}
		last = c;
	}
	if (s->p == start || last == '-')
		return ADDRESS_ERR_SYNTAX;
	if ((size_t)(s->p - start) > s->max_label)
		s->max_label = (size_t)(s->p - start);
	return ADDRESS_OK;
}

/* Domain = sub-domain *("." sub-domain), one trailing dot tolerated. */
static enum address_error
scan_domain_name(struct scan *s)
{
	enum address_error e;

	for (;;) {
		if ((e = scan_label(s)) != ADDRESS_OK)
			return e;
		if (s->p >= s->end || *s->p != '.')
			return ADDRESS_OK;
		s->p++;
		if (s->p < s->end && (*s->p == '>' || *s->p == ',' || *s->p == ':'))
			return ADDRESS_OK; /* the trailing dot */
	}
}

/* IPv4-address-literal = Snum 3("." Snum), Snum 0..255 in 1-3 digits. */
static bool
ipv4_literal(const unsigned char *p, size_t len)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i >= len || p[i] != '.')
				return false;
			i++;
		}
		while (i < len && is_digit(p[i]) && digits < 3) {
			v = v * 10 + (p[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return i == len;
}

static bool
ipv6_literal(const unsigned char *p, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	size_t i;

	if (len >= sizeof buf)
		return false;
	for (i = 0; i < len; i++) /* inet_pton() would stop at a NUL */
		if (!is_digit(p[i]) && !memchr("abcdefABCDEF:.", p[i], 14))
			return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, bin) == 1;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]" (RFC 5321 4.1.3). */
static enum address_error
scan_literal(struct scan *s)
{
	const unsigned char *open = s->p + 1, *close;
	size_t n;

	close = memchr(open, ']', (size_t)(s->end - open));
	if (close == NULL)
		return ADDRESS_ERR_SYNTAX;
	n = (size_t)(close - open);
	if (n > 5 && strncasecmp((const char *)open, "IPv6:", 5) == 0) {
		if (!ipv6_literal(open + 5, n - 5))
			return ADDRESS_ERR_SYNTAX;
	} else if (!ipv4_literal(open, n)) {
		return ADDRESS_ERR_SYNTAX;
	}
	s->p = close + 1;
	s->flags |= ADDRESS_IP_LITERAL;
	return ADDRESS_OK;
}

/* A-d-l ":" - each "@" Domain is checked and then forgotten. */
static enum address_error
scan_route(struct scan *s)
{
	enum address_error e;

	for (;;) {
		if (s->p >= s->end || *s->p != '@')
			return ADDRESS_ERR_SYNTAX;
		s->p++;
		if ((e = scan_domain_name(s)) != ADDRESS_OK)
			return e;
		if (s->p >= s->end)
			return ADDRESS_ERR_SYNTAX;
		if (*s->p == ':') {
			s->p++;
			/* only the mailbox counts for label length and UTF-8 */
			s->flags = (s->flags | ADDRESS_ROUTED) & ~(unsigned)ADDRESS_UTF8;
			s->max_label = 0;
			return ADDRESS_OK;
		}
		if (*s->p != ',')
			return ADDRESS_ERR_SYNTAX;
		s->p++;
	}
}

static void
clear(struct address *out)
{
	out->flags = 0;
	out->local_len = 0;
	out->domain_len = 0;
	out->local[0] = '\0';
	out->domain[0] = '\0';
}

/* Copy the validated spans; the limits were checked by the caller. */
static void
fill(struct address *out, const unsigned char *local, size_t llen,
    const unsigned char *domain, size_t dlen, unsigned flags)
{
	memcpy(out->local, local, llen);
	out->local[llen] = '\0';
	out->local_len = llen;
	memcpy(out->domain, domain, dlen);
	out->domain[dlen] = '\0';
	out->domain_len = dlen;
	out->flags = flags;
}

/* The mailbox after the optional route, up to and including '>'. */
static enum address_error
scan_mailbox(struct scan *s, const unsigned char **local, size_t *llen,
    const unsigned char **domain, size_t *dlen)
{
	enum address_error e;

	*local = s->p;
	if (s->p < s->end && *s->p == '"')
		e = scan_quoted(s);
	else
		e = scan_dot_string(s);
	if (e != ADDRESS_OK)
		return e;
	*llen = (size_t)(s->p - *local);
	*domain = s->p;
	*dlen = 0;
	if (s->p < s->end && *s->p == '@') {
		s->p++;
		*domain = s->p;
		if (s->p < s->end && *s->p == '[')
			e = scan_literal(s);
		else
			e = scan_domain_name(s);
		if (e != ADDRESS_OK)
			return e;
		*dlen = (size_t)(s->p - *domain);
	} else if (s->flags & ADDRESS_ROUTED) {
		return ADDRESS_ERR_SYNTAX; /* a route must lead to a domain */
	} else {
		s->flags |= ADDRESS_NO_DOMAIN;
	}
	if (s->p >= s->end || *s->p != '>')
		return ADDRESS_ERR_SYNTAX;
	s->p++;
	return ADDRESS_OK;
}

enum address_error
address_parse(const char *str, size_t len, bool utf8_ok, struct address *out,
    size_t *consumed)
{
	const unsigned char *start = (const unsigned char *)str;
	const unsigned char *local, *domain;
	size_t llen, dlen;
	struct scan s = { start, start + len, utf8_ok, 0, 0 };
	enum address_error e;

	clear(out);
	if (consumed != NULL)
		*consumed = 0;
	if (len < 2 || start[0] != '<')
		return ADDRESS_ERR_SYNTAX;
	s.p++;
	if (*s.p == '>') {
		out->flags = ADDRESS_NULL;
		if (consumed != NULL)
			*consumed = 2;
		return ADDRESS_OK;
	}
	if (*s.p == '@' && (e = scan_route(&s)) != ADDRESS_OK)
		return e;
	if ((e = scan_mailbox(&s, &local, &llen, &domain, &dlen)) != ADDRESS_OK)
		return e;
	if ((size_t)(s.p - start) > ADDRESS_PATH_MAX || llen > ADDRESS_LOCAL_MAX ||
	    dlen > ADDRESS_DOMAIN_MAX || s.max_label > LABEL_MAX)
		return ADDRESS_ERR_TOO_LONG;
	fill(out, local, llen, domain, dlen, s.flags);
	if (consumed != NULL)
		*consumed = (size_t)(s.p - start);
	return ADDRESS_OK;
}

const char *
address_error_text(enum address_error e)
{
	switch (e) {
	case ADDRESS_OK:
		return "ok";
	case ADDRESS_ERR_SYNTAX:
		return "bad address syntax";
	case ADDRESS_ERR_TOO_LONG:
		return "address too long";
	case ADDRESS_ERR_UTF8:
		return "non-ASCII address without SMTPUTF8";
	}
	return "unknown address error";
}

int
address_format(const struct address *a, char *buf, size_t buflen)
{
	int n;

	if (buflen == 0)
		return -1;
	if (a->flags & ADDRESS_NULL)
		n = snprintf(buf, buflen, "%s", "");
	else if (a->flags & ADDRESS_NO_DOMAIN)
		n = snprintf(buf, buflen, "%s", a->local);
	else
		n = snprintf(buf, buflen, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= buflen) {
		buf[0] = '\0';
		return -1;
	}
	return n;
}
