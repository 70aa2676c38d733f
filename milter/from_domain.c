/*
 * from_domain.c - the From domain for DMARC (RFC 7489 6.6.1), pure.
 *
 * Public functions: from_domain_extract(), from_domain_error_text().
 *
 * Two steps.  (1) Walk the header section line by line (RFC 5322 2.2, 3.6)
 * up to the first empty line; a line starting with WSP continues the field
 * before it; a field name may be followed by WSP before ":" (obs-optional,
 * 4.5).  A line that is neither a field nor a continuation is skipped, and
 * the walk goes on, so a junk line cannot hide a second From.  RFC 7489
 * 6.6.1 leaves messages with several From fields to the receiver; we
 * refuse them (permerror), as DESIGN.md requires.
 * (2) Parse the From value as a mailbox-list (RFC 5322 3.4, with the obs-
 * forms that matter in practice: null list members, dots in phrases, a
 * source route in the angle-addr, quoted words in the local part), CFWS
 * (nested comments, quoted-pairs, folds) skipped between tokens.  Exactly
 * one mailbox with a DNS domain is accepted; RFC 6532 UTF-8 is allowed in
 * phrases and local parts, but the domain must be ASCII (A-labels): DMARC
 * looks it up in the DNS as it stands.
 *
 * Why not policy/addrlist: that belongs to another module (and is being
 * written in parallel); this is the minimum DMARC needs, kept apart until
 * the two are merged.
 *
 * Invariants: cursors (pos, end) never pass end; nothing is copied before
 * the domain is known to be valid and to fit.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "from_domain.h"

struct cur {
	const unsigned char *p;
	const unsigned char *end;
};

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Skip CFWS; false on an unterminated comment. */
static bool
skip_cfws(struct cur *c)
{
	unsigned depth = 0;

	while (c->p < c->end) {
		unsigned char ch = *c->p;

		if (depth == 0 && is_ws(ch)) {
			c->p++;
		} else if (ch == '(') {
			depth++;
			c->p++;
		} else if (depth > 0 && ch == ')') {
			depth--;
			c->p++;
		} else if (depth > 0) {
			c->p += (ch == '\\' && c->p + 1 < c->end) ? 2 : 1;
		} else {
			break;
		}
	}
	return depth == 0;
}

/* One atom or quoted-string at c->p; false on an unterminated quote. */
static bool
skip_word(struct cur *c)
{
	if (*c->p != '"') {
		while (c->p < c->end && is_atext(*c->p))
			c->p++;
		return true;
	}
	for (c->p++; c->p < c->end; c->p++) {
		if (*c->p == '\\' && c->p + 1 < c->end)
			c->p++;
		else if (*c->p == '"') {
			c->p++;
			return true;
		}
	}
	return false;
}

/*
 * A sequence of words and dots: a phrase or a local part.  *words gets
 * the number of words, *adjacent whether two words met without a dot
 * (allowed in a phrase, not in a local part).
 */
static bool
skip_words(struct cur *c, unsigned *words, bool *adjacent)
{
	bool last_word = false;

	*words = 0;
	*adjacent = false;
	for (;;) {
		if (!skip_cfws(c))
			return false;
		if (c->p == c->end)
			return true;
		if (*c->p == '.') {
			c->p++;
			last_word = false;
		} else if (*c->p == '"' || is_atext(*c->p)) {
			if (!skip_word(c))
				return false;
			*adjacent |= last_word;
			last_word = true;
			(*words)++;
		} else {
			return true;
		}
	}
}

struct span {
	const unsigned char *p;
	size_t len;
};

/* Check an ASCII dot-separated DNS name (letters, digits, "-", "_"). */
static bool
valid_dns_name(const unsigned char *p, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > FROM_DOMAIN_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((isalnum(p[i]) || p[i] == '-' || p[i] == '_') &&
		    p[i] < 0x80) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* The domain after "@": dot-atom or domain-literal. */
static enum from_domain_error
parse_domain(struct cur *c, struct span *dom)
{
	if (!skip_cfws(c) || c->p == c->end)
		return FROM_DOMAIN_ERR_SYNTAX;
	if (*c->p == '[') {
		const unsigned char *rb = memchr(c->p, ']', (size_t)(c->end - c->p));

		if (rb == NULL)
			return FROM_DOMAIN_ERR_SYNTAX;
		c->p = rb + 1;
		return FROM_DOMAIN_ERR_BAD_DOMAIN;
	}
	dom->p = c->p;
	while (c->p < c->end && (is_atext(*c->p) || *c->p == '.'))
		c->p++;
	dom->len = (size_t)(c->p - dom->p);
	if (dom->len == 0)
		return FROM_DOMAIN_ERR_SYNTAX;
	return valid_dns_name(dom->p, dom->len) ? FROM_DOMAIN_OK :
	    FROM_DOMAIN_ERR_BAD_DOMAIN;
}

/* "<" already consumed: [obs-route] addr-spec ">" (RFC 5322 3.4, 4.4). */
static enum from_domain_error
parse_angle(struct cur *c, struct span *dom)
{
	struct span route;
	enum from_domain_error e;
	unsigned words;
	bool adjacent;

	if (!skip_cfws(c))
		return FROM_DOMAIN_ERR_SYNTAX;
	if (c->p < c->end && *c->p == '@') {
		do {
			c->p++;
			if (parse_domain(c, &route) == FROM_DOMAIN_ERR_SYNTAX ||
			    !skip_cfws(c) || c->p == c->end)
				return FROM_DOMAIN_ERR_SYNTAX;
			if (*c->p == ',') {
				c->p++;
				if (!skip_cfws(c) || c->p == c->end)
					return FROM_DOMAIN_ERR_SYNTAX;
			}
		} while (*c->p == '@');
		if (*c->p != ':')
			return FROM_DOMAIN_ERR_SYNTAX;
		c->p++;
	}
	if (!skip_words(c, &words, &adjacent) || adjacent)
		return FROM_DOMAIN_ERR_SYNTAX;
	if (c->p == c->end || *c->p != '@')
		return words > 0 && c->p < c->end && *c->p == '>' ?
		    FROM_DOMAIN_ERR_NO_DOMAIN : FROM_DOMAIN_ERR_SYNTAX;
	c->p++;
	e = parse_domain(c, dom);
	if (e == FROM_DOMAIN_ERR_SYNTAX)
		return e;
	if (!skip_cfws(c) || c->p == c->end || *c->p != '>')
		return FROM_DOMAIN_ERR_SYNTAX;
	c->p++;
	return e;
}

/* mailbox = name-addr / addr-spec; a group is recognised and refused. */
static enum from_domain_error
parse_mailbox(struct cur *c, struct span *dom)
{
	unsigned words;
	bool adjacent;

	if (!skip_words(c, &words, &adjacent))
		return FROM_DOMAIN_ERR_SYNTAX;
	if (c->p < c->end && *c->p == '<') {
		c->p++;
		return parse_angle(c, dom);
	}
	if (c->p < c->end && *c->p == ':')
		return words > 0 ? FROM_DOMAIN_ERR_GROUP : FROM_DOMAIN_ERR_SYNTAX;
	if (c->p < c->end && *c->p == '@') {
		if (words == 0 || adjacent)
			return FROM_DOMAIN_ERR_SYNTAX;
		c->p++;
		return parse_domain(c, dom);
	}
	if (words > 0 && !adjacent && (c->p == c->end || *c->p == ','))
		return FROM_DOMAIN_ERR_NO_DOMAIN;
	return FROM_DOMAIN_ERR_SYNTAX;
}

/* mailbox-list with obs null members; exactly one mailbox wanted. */
static enum from_domain_error
parse_from_value(struct cur *c, struct span *dom)
{
	enum from_domain_error e;
	unsigned n = 0;

	for (;;) {
		if (!skip_cfws(c))
			return FROM_DOMAIN_ERR_SYNTAX;
		if (c->p == c->end)
			break;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		e = parse_mailbox(c, dom);
		if (e != FROM_DOMAIN_OK)
			return e;
		if (++n > 1)
			return FROM_DOMAIN_ERR_MAILBOXES;
		if (!skip_cfws(c))
			return FROM_DOMAIN_ERR_SYNTAX;
		if (c->p < c->end && *c->p != ',')
			return FROM_DOMAIN_ERR_SYNTAX;
	}
	return n == 0 ? FROM_DOMAIN_ERR_EMPTY : FROM_DOMAIN_OK;
}

/*
 * Find the From field(s).  Returns how many (stops counting at 2); the
 * first one's value, folds included, goes to *val.
 */
static unsigned
find_from(const unsigned char *p, const unsigned char *end, struct span *val)
{
	unsigned count = 0;
	bool in_from = false;

	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *eol = nl ? nl : end, *q = p;
		const unsigned char *next = nl ? nl + 1 : end;

		if (eol > p && eol[-1] == '\r')
			eol--;
		if (eol == p)
			break;
		if (*p == ' ' || *p == '\t') {
			if (in_from && count == 1)
				val->len = (size_t)(eol - val->p);
			p = next;
			continue;
		}
		while (q < eol && *q > 0x20 && *q < 0x7f && *q != ':')
			q++;
		in_from = q - p == 4 && strncasecmp((const char *)p, "From", 4) == 0;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q == eol || *q != ':')
			in_from = false;
		if (in_from && ++count == 1) {
			val->p = q + 1;
			val->len = (size_t)(eol - val->p);
		}
		if (count > 1)
			break;
		p = next;
	}
	return count;
}

enum from_domain_error
from_domain_extract(const char *hdr, size_t len, char *out, size_t cap,
    size_t *out_len)
{
	const unsigned char *h = (const unsigned char *)hdr;
	struct span val = { NULL, 0 }, dom = { NULL, 0 };
	struct cur c;
	enum from_domain_error e;
	unsigned n;
	size_t i;

	if (cap > 0)
		out[0] = '\0';
	*out_len = 0;
	n = find_from(h, h + len, &val);
	if (n == 0)
		return FROM_DOMAIN_ERR_MISSING;
	if (n > 1)
		return FROM_DOMAIN_ERR_MULTIPLE;
	c.p = val.p;
	c.end = val.p + val.len;
	e = parse_from_value(&c, &dom);
	if (e != FROM_DOMAIN_OK)
		return e;
	if (dom.len >= cap)
		return FROM_DOMAIN_ERR_BAD_DOMAIN;
	for (i = 0; i < dom.len; i++)
		out[i] = (char)tolower(dom.p[i]);
	out[dom.len] = '\0';
	*out_len = dom.len;
	return FROM_DOMAIN_OK;
}

const char *
from_domain_error_text(enum from_domain_error e)
{
	static const char *const text[] = {
		[FROM_DOMAIN_OK] = "ok",
		[FROM_DOMAIN_ERR_MISSING] = "no From header field",
		[FROM_DOMAIN_ERR_MULTIPLE] = "more than one From header field",
		[FROM_DOMAIN_ERR_EMPTY] = "From holds no mailbox",
		[FROM_DOMAIN_ERR_MAILBOXES] = "From holds more than one mailbox",
		[FROM_DOMAIN_ERR_GROUP] = "From holds a group",
		[FROM_DOMAIN_ERR_SYNTAX] = "From address unparsable",
		[FROM_DOMAIN_ERR_NO_DOMAIN] = "From address has no domain",
		[FROM_DOMAIN_ERR_BAD_DOMAIN] = "From domain is not a DNS name",
	};

	if ((unsigned)e < sizeof text / sizeof text[0])
		return text[e];
	return "unknown error";
}
