/*
 * authres.c - Authentication-Results value (RFC 8601), pure.
 *
 * Public functions: authres_format(), authres_is_ours(),
 * authres_method_name(), authres_result_name().
 *
 * Grammar written (RFC 8601 2.2):
 *   authserv-id ( ";" "none" / 1*( ";" method "=" result
 *       [ comment ] [ "reason=" value ] *( ptype "." property "=" pvalue ) ) )
 * A value (authserv-id, reason, property value) is written bare when it is
 * an RFC 2045 token, or, for a property, when it has the
 * [ local-part ] "@" domain-name form pvalue allows (smtp.mailfrom=a@b.org);
 * otherwise as an RFC 5322 quoted-string, '"' and '\' escaped.  UTF-8 is
 * allowed inside quotes (RFC 8601 2.2 via RFC 6532); control characters
 * cannot be written in a header at all, so they are an error, not dropped:
 * the caller decides what to stamp instead.  Comment text escapes "(", ")"
 * and "\".
 *
 * Folding: a resinfo goes on the current line, after "; ", when it fits
 * whole (the line counted from column 0 of "Authentication-Results: "),
 * else after ";" CRLF TAB; a resinfo longer than a line is folded again
 * between its units (method=result, comment, reason, each propspec)
 * wherever the next unit would pass AUTHRES_FOLD_COL.  A unit longer than
 * a line stays whole: RFC 5322 2.2.3 folds only at whitespace.  A resinfo
 * is measured by a dry run of the same code (buf NULL), and an inner fold
 * is made after the fact by moving the unit two bytes on, so there is no
 * scratch buffer.
 *
 * Invariants: every write checks the cap and keeps a byte for the NUL; on
 * any error the output is "" and the return -1.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "authres.h"

#define TSPECIALS "()<>@,;:\\\"/[]?="

struct out {
	char *buf;
	size_t cap;
	size_t len;
	size_t col;
	bool err;
	bool fold_next;           /* fold before the next unit, whatever fits */
};

/* With buf NULL, only counts (measuring a resinfo before writing it). */
static void
put(struct out *o, const char *s, size_t n)
{
	if (o->err || o->cap - o->len <= n) {
		o->err = true;
		return;
	}
	if (o->buf != NULL)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static bool
is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool
is_token(const char *v, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c <= 0x20 || c >= 0x7f || strchr(TSPECIALS, c) != NULL)
			return false;
	}
	return true;
}

/* domain-name of RFC 6376 3.5: LDH labels, no "-" at either end. */
static bool
is_domain_name(const char *d, size_t len)
{
	size_t i, start = 0;

	if (len == 0)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (i == start || d[start] == '-' || d[i - 1] == '-')
				return false;
			start = i + 1;
		} else if (!isalnum((unsigned char)d[i]) && d[i] != '-') {
			return false;
		}
	}
	return true;
}

/* [ dot-atom-text ] "@" domain-name */
static bool
is_addr_form(const char *v, size_t len)
{
	const char *at = memchr(v, '@', len);
	size_t i, llen;

	if (at == NULL)
		return false;
	llen = (size_t)(at - v);
	for (i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '.') {
			if (i == 0 || i + 1 == llen || v[i - 1] == '.')
				return false;
		} else if (!isalnum(c) &&
		    (c == '\0' || strchr("!#$%&'*+-/=?^_`{|}~", c) == NULL)) {
			return false;
		}
	}
	return is_domain_name(at + 1, len - llen - 1);
}

/* Write v quoted if it is not a token (nor addr form, when allowed). */
static void
put_value(struct out *o, const char *v, size_t len, bool addr_ok)
{
	size_t i;

	if (is_token(v, len) || (addr_ok && is_addr_form(v, len))) {
		put(o, v, len);
		return;
	}
	put(o, "\"", 1);
	for (i = 0; i < len; i++) {
		if (is_ctl((unsigned char)v[i]))
			o->err = true;
		if (v[i] == '"' || v[i] == '\\')
			put(o, "\\", 1);
		put(o, v + i, 1);
	}
	put(o, "\"", 1);
}

static void
put_comment(struct out *o, const char *s)
{
	put(o, "(", 1);
	for (; *s != '\0'; s++) {
		if (is_ctl((unsigned char)*s))
			o->err = true;
		if (*s == '(' || *s == ')' || *s == '\\')
			put(o, "\\", 1);
		put(o, s, 1);
	}
	put(o, ")", 1);
}

static bool
is_keyword(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

/* Start a unit: a space that end_unit() may turn into a fold. */
static size_t
begin_unit(struct out *o)
{
	size_t sep = o->len;

	put(o, " ", 1);
	return sep;
}

static void
end_unit(struct out *o, size_t sep)
{
	size_t ulen;

	if (o->err || o->buf == NULL)
		return;
	ulen = o->len - sep - 1;
	if (!o->fold_next && o->col + 1 + ulen <= AUTHRES_FOLD_COL) {
		o->col += 1 + ulen;
		return;
	}
	if (o->cap - o->len <= 2) {
		o->err = true;
		return;
	}
	memmove(o->buf + sep + 3, o->buf + sep + 1, ulen);
	memcpy(o->buf + sep, "\r\n\t", 3);
	o->len += 2;
	o->col = 1 + ulen;
	o->fold_next = false;
}

static void
put_semicolon(struct out *o)
{
	put(o, ";", 1);
	o->col++;
}

/* The units of one resinfo, each after a space or a fold. */
static void
put_units(struct out *o, const struct authres_resinfo *r)
{
	size_t sep, i;

	sep = begin_unit(o);
	puts_(o, authres_method_name(r->method));
	put(o, "=", 1);
	puts_(o, authres_result_name(r->result));
	end_unit(o, sep);
	if (r->comment != NULL) {
		sep = begin_unit(o);
		put_comment(o, r->comment);
		end_unit(o, sep);
	}
	if (r->reason != NULL) {
		sep = begin_unit(o);
		puts_(o, "reason=");
		put_value(o, r->reason, strlen(r->reason), false);
		end_unit(o, sep);
	}
	for (i = 0; i < r->nprops; i++) {
		const struct authres_prop *p = &r->props[i];

		if (!is_keyword(p->ptype) || !is_keyword(p->property) ||
		    (p->value == NULL && p->value_len > 0)) {
			o->err = true;
			return;
		}
		sep = begin_unit(o);
		puts_(o, p->ptype);
		put(o, ".", 1);
		puts_(o, p->property);
		put(o, "=", 1);
		put_value(o, p->value != NULL ? p->value : "", p->value_len, true);
		end_unit(o, sep);
	}
}

/*
 * ";" then the resinfo: on this line if it fits whole, else from a new
 * line (folds inside it only when it is longer than a line).
 */
static void
put_resinfo(struct out *o, const struct authres_resinfo *r)
{
	struct out m = { NULL, SIZE_MAX, 0, 0, false, false };

	put_semicolon(o);
	put_units(&m, r);
	if (m.err)
		o->err = true;
	o->fold_next = o->col + m.len > AUTHRES_FOLD_COL;
	put_units(o, r);
}

int
authres_format(const char *authserv_id, const struct authres_resinfo *ri,
    size_t n, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0, sizeof AUTHRES_FIELD_NAME ": " - 1, false,
	    false };
	size_t i, sep;

	if (cap == 0)
		return -1;
	if (authserv_id == NULL || *authserv_id == '\0' || (n > 0 && ri == NULL))
		o.err = true;
	else
		put_value(&o, authserv_id, strlen(authserv_id), false);
	o.col += o.len;
	if (n == 0) {
		put_semicolon(&o);
		sep = begin_unit(&o);
		puts_(&o, "none");
		end_unit(&o, sep);
	}
	for (i = 0; i < n && !o.err; i++)
		put_resinfo(&o, &ri[i]);
	if (o.err || o.len > INT_MAX) {
		buf[0] = '\0';
		return -1;
	}
	buf[o.len] = '\0';
	return (int)o.len;
}

/* Skip CFWS from *p; false on an unterminated comment. */
static bool
skip_cfws(const char **p, const char *end)
{
	unsigned depth = 0;

	for (; *p < end; (*p)++) {
		char c = **p;

		if (c == '(')
			depth++;
		else if (depth > 0 && c == ')')
			depth--;
		else if (depth > 0 && c == '\\' && *p + 1 < end)
			(*p)++;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
		    c != '\n')
			break;
	}
	return depth == 0;
}

/* Compare the quoted-string at p (after the '"') with id; moves p. */
static bool
quoted_equals(const char **p, const char *end, const char *id)
{
	size_t k = 0, idlen = strlen(id);
	bool same = true;

	for (; *p < end; (*p)++) {
		char c = **p;

		if (c == '"') {
			(*p)++;
			return same && k == idlen;
		}
		if (c == '\\' && *p + 1 < end)
			c = *++(*p);
		if (k >= idlen || tolower((unsigned char)c) !=
		    tolower((unsigned char)id[k]))
			same = false;
		k++;
	}
	return false;
}

bool
authres_is_ours(const char *value, size_t len, const char *authserv_id)
{
	const char *p = value, *end = value + len, *tok;
	bool same;

	if (authserv_id == NULL || *authserv_id == '\0' || !skip_cfws(&p, end) ||
	    p == end)
		return false;
	if (*p == '"') {
		p++;
		same = quoted_equals(&p, end, authserv_id);
	} else {
		tok = p;
		while (p < end && (unsigned char)*p > 0x20 &&
		    (unsigned char)*p < 0x7f && strchr(TSPECIALS, *p) == NULL)
			p++;
		same = (size_t)(p - tok) == strlen(authserv_id) &&
		    strncasecmp(tok, authserv_id, (size_t)(p - tok)) == 0;
	}
	return same && (p == end || *p == ';' || *p == '(' || *p == ' ' ||
	    *p == '\t' || *p == '\r' || *p == '\n');
}

const char *
authres_method_name(enum authres_method m)
{
	switch (m) {
	case AUTHRES_METHOD_SPF:
		return "spf";
	case AUTHRES_METHOD_DKIM:
		return "dkim";
	case AUTHRES_METHOD_DMARC:
		return "dmarc";
	}
	return "unknown";
}

const char *
authres_result_name(enum authres_result r)
{
	static const char *const names[] = {
		[AUTHRES_NONE] = "none", [AUTHRES_PASS] = "pass",
		[AUTHRES_FAIL] = "fail", [AUTHRES_SOFTFAIL] = "softfail",
		[AUTHRES_NEUTRAL] = "neutral", [AUTHRES_POLICY] = "policy",
		[AUTHRES_TEMPERROR] = "temperror",
		[AUTHRES_PERMERROR] = "permerror",
	};

	if ((unsigned)r < sizeof names / sizeof names[0])
		return names[r];
	return "unknown";
}
