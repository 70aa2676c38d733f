/*
 * dmarc_record.c - DMARC record parser (RFC 7489 6.3, 6.4, 6.6.3; RFC 9091).
 *
 * Public functions: dmarc_record_parse(), dmarc_record_status_text(),
 * dmarc_policy_name().
 *
 * Grammar: the tag-list of RFC 6376 3.2 (tag names ALPHA *(ALNUM / "_"),
 * values of VALCHAR with inner WSP), whitespace allowed around "=" and ";",
 * a trailing ";" allowed.  Decisions, all from the RFC text:
 *   - "v=DMARC1" must be the very first tag (6.4: "MUST be the first tag"),
 *     with no leading whitespace; the value "DMARC1" is compared exactly,
 *     case-sensitively (its ABNF is %x44 %x4d ..., and 6.4 says it "MUST
 *     match precisely").  Tag names and keyword values are case-insensitive
 *     (ABNF quoted strings).  Otherwise: ERR_VERSION, not a DMARC record.
 *   - A tag named twice makes the whole tag-list invalid (RFC 6376 3.2,
 *     which 6.4 adopts): ERR_DUPLICATE.  Only the tags we know are tracked;
 *     a repeated unknown tag is ignored like any unknown tag (6.3).
 *   - p missing or invalid, or sp invalid (6.6.3): with at least one
 *     syntactically valid rua URI the record acts as "v=DMARC1; p=none"
 *     (OK_AS_NONE: p=none, sp and np unset, the rest as parsed); without,
 *     ERR_POLICY (no DMARC processing).
 *   - Any other bad value (adkim, aspf, pct outside 0..100, fo, rf, ri, np,
 *     an unusable rua/ruf) is replaced by its default and flagged in
 *     `defaulted` (6.3: "discarded in favor of default values"); malformed
 *     tag-specs after the first ("x", "=y", ";;") are ignored.
 *
 * Invariants: a cursor (pos, end) never passes end; nothing is copied: rua
 * and ruf are spans into the input.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "dmarc_record.h"

struct tag {
	const char *name;
	size_t name_len;
	const char *val;              /* value, surrounding WSP trimmed */
	size_t val_len;
	bool val_ok;                  /* only VALCHAR and inner WSP */
};

static bool
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_valchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

static bool
word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/*
 * Read one tag-spec at *pos; leaves *pos after its ";" (or at end).
 * Returns false for a malformed spec (no name or no "=").
 */
static bool
next_tag(const char *s, size_t *pos, size_t end, struct tag *t)
{
	size_t p = *pos, v, ve, semi;
	const char *sc = memchr(s + p, ';', end - p);
	bool ok = true;

	semi = sc ? (size_t)(sc - s) : end;
	*pos = sc ? semi + 1 : end;
	while (p < semi && is_wsp((unsigned char)s[p]))
		p++;
	t->name = s + p;
	if (p == semi || !isalpha((unsigned char)s[p]))
		return false;
	while (p < semi && (isalnum((unsigned char)s[p]) || s[p] == '_'))
		p++;
	t->name_len = (size_t)(s + p - t->name);
	while (p < semi && is_wsp((unsigned char)s[p]))
		p++;
	if (p == semi || s[p] != '=')
		return false;
	v = p + 1;
	while (v < semi && is_wsp((unsigned char)s[v]))
		v++;
	ve = semi;
	while (ve > v && is_wsp((unsigned char)s[ve - 1]))
		ve--;
	for (p = v; p < ve; p++)
		if (!is_valchar((unsigned char)s[p]) && !is_wsp((unsigned char)s[p]))
			ok = false;
	t->val = s + v;
	t->val_len = ve - v;
	t->val_ok = ok;
	return true;
}

static bool
parse_policy(const struct tag *t, enum dmarc_policy *out)
{
	if (!t->val_ok)
		return false;
	if (word_is(t->val, t->val_len, "none"))
		*out = DMARC_POLICY_NONE;
	else if (word_is(t->val, t->val_len, "quarantine"))
		*out = DMARC_POLICY_QUARANTINE;
	else if (word_is(t->val, t->val_len, "reject"))
		*out = DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

static bool
parse_align(const struct tag *t, enum dmarc_align *out)
{
	if (t->val_len != 1)
		return false;
	if (t->val[0] == 'r' || t->val[0] == 'R')
		*out = DMARC_ALIGN_RELAXED;
	else if (t->val[0] == 's' || t->val[0] == 'S')
		*out = DMARC_ALIGN_STRICT;
	else
		return false;
	return true;
}

/* 1*DIGIT no greater than max. */
static bool
parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > max)
			return false;
	}
	*out = (uint32_t)n;
	return true;
}

/*
 * A colon-separated list (*WSP ":" *WSP between items); calls item() on
 * each; false if an item is empty or item() refuses it.
 */
static bool
parse_list(const char *s, size_t len, char sep,
    bool (*item)(const char *, size_t, void *), void *arg)
{
	size_t p = 0;

	while (p <= len) {
		const char *e = memchr(s + p, sep, len - p);
		size_t b = p, ie = e ? (size_t)(e - s) : len;

		while (b < ie && is_wsp((unsigned char)s[b]))
			b++;
		p = ie + 1;
		while (ie > b && is_wsp((unsigned char)s[ie - 1]))
			ie--;
		if (ie == b || !item(s + b, ie - b, arg))
			return false;
		if (!e)
			break;
	}
	return true;
}

static bool
fo_item(const char *s, size_t len, void *arg)
{
	static const char opts[] = "01ds";
	const char *c;

	if (len != 1 || (c = memchr(opts, tolower((unsigned char)s[0]), 4)) == NULL)
		return false;
	*(unsigned *)arg |= 1u << (c - opts);
	return true;
}

/* Keyword = ldh-str (RFC 5321 4.1.2) */
static bool
rf_item(const char *s, size_t len, void *arg)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	*(unsigned *)arg |= word_is(s, len, "afrf") ? DMARC_RF_AFRF : DMARC_RF_OTHER;
	return true;
}

/*
 * dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]  (6.4); the
 * URI is checked for scheme ":" and a non-empty rest without WSP, "!" or
 * "," (6.2: those must be %-encoded inside a DMARC URI).
 */
static bool
uri_item(const char *s, size_t len, void *arg)
{
	const char *bang = memchr(s, '!', len);
	size_t ulen = bang ? (size_t)(bang - s) : len, i = 0;

	if (!isalpha((unsigned char)s[0]))
		return false;
	while (i < ulen && (isalnum((unsigned char)s[i]) || s[i] == '+' ||
	    s[i] == '-' || s[i] == '.'))
		i++;
	if (i == ulen || s[i] != ':' || i + 1 == ulen)
		return false;
	for (i++; i < ulen; i++)
		if (is_wsp((unsigned char)s[i]))
			return false;
	if (bang) {
		size_t n = len - ulen - 1, d = 0;
		const char *z = bang + 1;

		while (d < n && isdigit((unsigned char)z[d]))
			d++;
		if (d == 0 || (d < n && (d + 1 != n ||
		    !memchr("kmgtKMGT", z[d], 8))))
			return false;
	}
	(*(unsigned *)arg)++;
	return true;
}

static void
parse_uris(const struct tag *t, const char *base, struct dmarc_span *span,
    unsigned *count)
{
	unsigned n = 0;

	if (t->val_ok && parse_list(t->val, t->val_len, ',', uri_item, &n)) {
		span->off = (size_t)(t->val - base);
		span->len = t->val_len;
		*count = n;
	}
}

/* Apply one known tag; returns false when its value is invalid. */
static bool
apply_tag(unsigned bit, const struct tag *t, const char *base,
    struct dmarc_record *r)
{
	uint32_t n;
	unsigned bits = 0;

	switch (bit) {
	case DMARC_TAG_P:
		return parse_policy(t, &r->p);
	case DMARC_TAG_SP:
		return parse_policy(t, &r->sp);
	case DMARC_TAG_NP:
		return parse_policy(t, &r->np);
	case DMARC_TAG_ADKIM:
		return parse_align(t, &r->adkim);
	case DMARC_TAG_ASPF:
		return parse_align(t, &r->aspf);
	case DMARC_TAG_PCT:           /* 1*3DIGIT */
		if (t->val_len > 3 || !parse_uint(t->val, t->val_len, 100, &n))
			return false;
		r->pct = n;
		return true;
	case DMARC_TAG_RI:
		if (!parse_uint(t->val, t->val_len, UINT32_MAX, &n))
			return false;
		r->ri = n;
		return true;
	case DMARC_TAG_FO:
	case DMARC_TAG_RF:
		if (!t->val_ok || !parse_list(t->val, t->val_len, ':',
		    bit == DMARC_TAG_FO ? fo_item : rf_item, &bits))
			return false;
		*(bit == DMARC_TAG_FO ? &r->fo : &r->rf) = bits;
		return true;
	case DMARC_TAG_RUA:
		parse_uris(t, base, &r->rua, &r->rua_count);
		return r->rua_count > 0;
	default:
		parse_uris(t, base, &r->ruf, &r->ruf_count);
		return r->ruf_count > 0;
	}
}

static unsigned
tag_bit(const struct tag *t)
{
	static const struct { const char *name; unsigned bit; } known[] = {
		{ "p", DMARC_TAG_P }, { "sp", DMARC_TAG_SP },
		{ "adkim", DMARC_TAG_ADKIM }, { "aspf", DMARC_TAG_ASPF },
		{ "pct", DMARC_TAG_PCT }, { "rua", DMARC_TAG_RUA },
		{ "ruf", DMARC_TAG_RUF }, { "fo", DMARC_TAG_FO },
		{ "rf", DMARC_TAG_RF }, { "ri", DMARC_TAG_RI },
		{ "np", DMARC_TAG_NP },
	};
	size_t i;

	for (i = 0; i < sizeof known / sizeof known[0]; i++)
		if (word_is(t->name, t->name_len, known[i].name))
			return known[i].bit;
	return 0;
}

static void
set_defaults(struct dmarc_record *r)
{
	memset(r, 0, sizeof *r);
	r->adkim = DMARC_ALIGN_RELAXED;
	r->aspf = DMARC_ALIGN_RELAXED;
	r->pct = 100;
	r->fo = DMARC_FO_0;
	r->rf = DMARC_RF_AFRF;
	r->ri = 86400;
}

/* 6.6.3: what a record with an unusable p or sp still counts as. */
static enum dmarc_record_status
finish(struct dmarc_record *r)
{
	if (r->p != DMARC_POLICY_UNSET && !(r->defaulted & DMARC_TAG_SP))
		return DMARC_RECORD_OK;
	if (r->rua_count == 0) {
		struct dmarc_record fresh;

		set_defaults(&fresh);
		fresh.defaulted = r->defaulted;
		*r = fresh;
		return DMARC_RECORD_ERR_POLICY;
	}
	r->p = DMARC_POLICY_NONE;
	r->sp = DMARC_POLICY_UNSET;
	r->np = DMARC_POLICY_UNSET;
	return DMARC_RECORD_OK_AS_NONE;
}

enum dmarc_record_status
dmarc_record_parse(const char *s, size_t len, struct dmarc_record *out)
{
	struct tag t;
	size_t pos = 0;
	unsigned seen = 0, bit;
	bool first = true;

	set_defaults(out);
	while (pos < len) {
		if (!next_tag(s, &pos, len, &t)) {
			if (first)
				return DMARC_RECORD_ERR_VERSION;
			continue;
		}
		if (first) {
			if (s[0] != 'v' && s[0] != 'V')
				return DMARC_RECORD_ERR_VERSION;
			if (t.name_len != 1 || t.val_len != 6 ||
			    memcmp(t.val, "DMARC1", 6) != 0)
				return DMARC_RECORD_ERR_VERSION;
			first = false;
			continue;
		}
		bit = tag_bit(&t);
		if (word_is(t.name, t.name_len, "v") || (seen & bit)) {
			set_defaults(out);
			return DMARC_RECORD_ERR_DUPLICATE;
		}
		seen |= bit;
		if (bit != 0 && !apply_tag(bit, &t, s, out))
			out->defaulted |= bit;
	}
	if (first)
		return DMARC_RECORD_ERR_VERSION;
	return finish(out);
}

const char *
dmarc_record_status_text(enum dmarc_record_status st)
{
	switch (st) {
	case DMARC_RECORD_OK:
		return "ok";
	case DMARC_RECORD_OK_AS_NONE:
		return "no valid p, acting as p=none for the valid rua";
	case DMARC_RECORD_ERR_VERSION:
		return "not a DMARC record (v=DMARC1 must come first)";
	case DMARC_RECORD_ERR_DUPLICATE:
		return "tag given more than once";
	case DMARC_RECORD_ERR_POLICY:
		return "p missing or invalid and no valid rua";
	}
	return "unknown status";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	case DMARC_POLICY_UNSET:
		break;
	}
	return "unset";
}
