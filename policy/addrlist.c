/*
 * addrlist.c - RFC 5322 3.4 address-list parser and addr-spec rewriter.
 *
 * Public functions: see addrlist.h.
 *
 * Grammar (RFC 5322 3.2-3.4, 4.4 obsolete forms, RFC 6532 8-bit):
 *   address-list = [obs empty elements] address *("," [address])
 *   address      = mailbox / group
 *   mailbox      = [phrase] "<" [obs-route] addr-spec ">" / addr-spec
 *   group        = phrase ":" *(mailbox / "," / CFWS) ";"
 *   phrase       = word *(word / "." / CFWS)          (obs-phrase)
 *   addr-spec    = word *("." word) "@" domain        (obs-local-part)
 *   domain       = atom *("." atom) / domain-literal  (obs-domain)
 *   word         = atom / quoted-string, CFWS allowed around each token
 * A list is parsed as a sequence of words and dots, then the byte after it
 * ('<', '@', ':') says what the sequence was: one pass, no backtracking.
 *
 * Why the bytes are never re-serialised: rewriting a From: must not touch
 * anything a DKIM signature or a human reads except the addr-spec itself,
 * so output = input with only the [raw_off, raw_off + raw_len) spans of
 * replaced addresses swapped; the identity callback gives the input back.
 * The whole list is validated before the first callback, so a callback
 * (which may log a rewrite) only ever runs for a header that is rewritten.
 *
 * Invariants: a cursor `pos` <= `end` over (pointer, length) input; no
 * recursion (comment nesting is a counter), so no input can exhaust the
 * stack; CR and LF only ever appear as part of folding.
 */
#include <stdbool.h>
#include <string.h>

#include "addrlist.h"

struct lx {
	const unsigned char *s;
	size_t pos;
	size_t end;
	addrlist_cb *cb;          /* NULL: validate and count only */
	void *ctx;
	char *out;
	size_t cap;
	size_t olen;
	size_t copied;            /* input bytes up to here are in out */
	size_t mailboxes;
	size_t groups;
	enum addrlist_error err;
};

/* A run of words and dots, with CFWS between them. */
struct seq {
	size_t first;             /* offset of the first token */
	size_t last_end;          /* one past the last token */
	unsigned words;
	bool any;                 /* at least one token (word or dot) */
	bool first_is_word;
	bool local_ok;            /* word *("." word) */
};

static int
syntax(struct lx *l)
{
	if (l->err == ADDRLIST_OK)
		l->err = ADDRLIST_ERR_SYNTAX;
	return -1;
}

static int
peek(const struct lx *l)
{
	return l->pos < l->end ? l->s[l->pos] : -1;
}

static bool
is_wsp(unsigned c)
{
	return c == ' ' || c == '\t';
}

/* Octets of white space or of a folding line break at p; 0 if none.  A
 * line break must be followed by WSP, except at the very end. */
static size_t
fold_at(const struct lx *l, size_t p)
{
	size_t n = 0;

	if (p >= l->end)
		return 0;
	if (is_wsp(l->s[p]))
		return 1;
	if (l->s[p] == '\r' && p + 1 < l->end && l->s[p + 1] == '\n')
		n = 2;
	else if (l->s[p] == '\n')
		n = 1;
	if (n == 0)
		return 0;
	if (p + n == l->end || is_wsp(l->s[p + n]))
		return n;
	return 0;
}

static bool
is_atext(unsigned c)
{
	if (c >= 0x80)
		return true;                 /* RFC 6532 UTF8-non-ascii */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", (int)c) != NULL;
}

/* Bytes allowed inside a comment, quoted string or literal besides
 * quoted-pairs and folding: anything but NUL, CR and LF (obs-ctext). */
static bool
is_inner(unsigned c)
{
	return c != '\0' && c != '\r' && c != '\n';
}

/* At l->pos a backslash: skip the quoted-pair. */
static int
quoted_pair(struct lx *l)
{
	if (l->pos + 1 >= l->end || !is_inner(l->s[l->pos + 1]))
		return syntax(l);
	l->pos += 2;
	return 0;
}

static int
skip_comment(struct lx *l)
{
	unsigned depth = 0;
	size_t f;

	do {
		unsigned c;

		if (l->pos >= l->end)
			return syntax(l);
		c = l->s[l->pos];
		if (c == '\\') {
			if (quoted_pair(l) < 0)
				return -1;
			continue;
		}
		if ((f = fold_at(l, l->pos)) > 0) {
			l->pos += f;
			continue;
		}
		if (!is_inner(c))
			return syntax(l);
		if (c == '(')
			depth++;
		else if (c == ')')
			depth--;
		l->pos++;
	} while (depth > 0);
	return 0;
}

static int
skip_cfws(struct lx *l)
{
	size_t f;

	for (;;) {
		if ((f = fold_at(l, l->pos)) > 0)
			l->pos += f;
		else if (peek(l) == '(') {
			if (skip_comment(l) < 0)
				return -1;
		} else
			return 0;
	}
}

/* Quoted string (at '"') or domain literal (at '['): up to `close`. */
static int
skip_quoted(struct lx *l, unsigned close)
{
	size_t f;

	for (l->pos++; l->pos < l->end; ) {
		unsigned c = l->s[l->pos];

		if (c == close) {
			l->pos++;
			return 0;
		}
		if (c == '\\') {
			if (quoted_pair(l) < 0)
				return -1;
		} else if ((f = fold_at(l, l->pos)) > 0) {
			l->pos += f;
		} else if (!is_inner(c) || (close == ']' && c == '[')) {
			return syntax(l);
		} else {
			l->pos++;
		}
	}
	return syntax(l);
}

/* RFC 2047 token / encoded-text bytes, as tolerated here. */
static bool
is_ew_char(unsigned c, bool text)
{
	if (c <= ' ' || c >= 0x7f || c == '?')
		return false;
	if (text)
		return strchr("<>,;\"()\\", (int)c) == NULL;
	return strchr("()<>@,;:\"/[]?.=", (int)c) == NULL;
}

/* Length of an encoded word "=?charset?enc?text?=" at p, or 0. */
static size_t
encoded_word(const struct lx *l, size_t p)
{
	size_t q = p + 2;
	int part;

	if (p + 2 > l->end || l->s[p] != '=' || l->s[p + 1] != '?')
		return 0;
	for (part = 0; part < 3; part++) {
		size_t start = q;

		while (q < l->end && is_ew_char(l->s[q], part == 2))
			q++;
		if (q == start || q >= l->end || l->s[q] != '?')
			return 0;
		q++;
	}
	if (q >= l->end || l->s[q] != '=')
		return 0;
	return q + 1 - p;
}

/* Skip an atom at l->pos; false if there is none. */
static bool
skip_atom(struct lx *l)
{
	size_t start = l->pos;

	l->pos += encoded_word(l, l->pos);
	while (l->pos < l->end && is_atext(l->s[l->pos]))
		l->pos++;
	return l->pos > start;
}

static int
scan_seq(struct lx *l, struct seq *q)
{
	bool prev_word = false, prev_dot = false, any = false;

	memset(q, 0, sizeof *q);
	q->local_ok = true;
	for (;;) {
		size_t at;
		int c;

		if (skip_cfws(l) < 0)
			return -1;
		at = l->pos;
		c = peek(l);
		if (c == '.') {
			l->pos++;
			if (!prev_word)
				q->local_ok = false;
			prev_word = false;
			prev_dot = true;
		} else if (c == '"' || skip_atom(l)) {
			if (c == '"' && skip_quoted(l, '"') < 0)
				return -1;
			if (prev_word)
				q->local_ok = false;
			if (!any)
				q->first_is_word = true;
			q->words++;
			prev_word = true;
			prev_dot = false;
		} else {
			break;
		}
		if (!any)
			q->first = at;
		any = true;
		q->last_end = l->pos;
	}
	q->any = any;
	if (q->words == 0 || prev_dot)
		q->local_ok = false;
	return 0;
}

/* After '@': a domain; *dend gets one past its last token. */
static int
scan_domain(struct lx *l, size_t *dend)
{
	if (skip_cfws(l) < 0)
		return -1;
	if (peek(l) == '[') {
		if (skip_quoted(l, ']') < 0)
			return -1;
		*dend = l->pos;
		return 0;
	}
	if (!skip_atom(l))
		return syntax(l);
	for (;;) {
		*dend = l->pos;
		if (skip_cfws(l) < 0)
			return -1;
		if (peek(l) != '.')
			return 0;
		l->pos++;
		if (skip_cfws(l) < 0)
			return -1;
		if (!skip_atom(l))
			return syntax(l);
	}
}

static int
put(struct lx *l, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > l->cap - l->olen) {
		l->err = ADDRLIST_ERR_SPACE;
		return -1;
	}
	memcpy(l->out + l->olen, p, n);
	l->olen += n;
	return 0;
}

/* Copy the addr-spec at raw without its CFWS (and unfolded); the length,
 * or -1 when over cap. */
static long
strip_cfws(const unsigned char *raw, size_t n, char *buf, size_t cap)
{
	size_t i, o = 0;
	unsigned depth = 0, inq = 0;   /* inq: closing '"' or ']' awaited */

	for (i = 0; i < n; i++) {
		unsigned c = raw[i];
		bool keep;

		if (c == '\\' && i + 1 < n) {
			if (depth == 0 && (o + 2 > cap))
				return -1;
			if (depth == 0) {
				buf[o++] = (char)c;
				buf[o++] = (char)raw[i + 1];
			}
			i++;
			continue;
		}
		if (depth > 0 || (inq == 0 && c == '(')) {
			depth += c == '(';
			depth -= c == ')';
			continue;
		}
		if (inq != 0)
			keep = c != '\r' && c != '\n';
		else
			keep = c != ' ' && c != '\t' && c != '\r' && c != '\n';
		if (inq != 0 && c == inq)
			inq = 0;
		else if (inq == 0 && (c == '"' || c == '['))
			inq = c == '"' ? '"' : ']';
		if (keep && o >= cap)
			return -1;
		if (keep)
			buf[o++] = (char)c;
	}
	return (long)o;
}

/* A replacement must be exactly one addr-spec with no CFWS at all. */
static bool
valid_replacement(const struct addrlist_repl *r)
{
	char tmp[ADDRLIST_ADDR_MAX];
	struct lx v = { .s = (const unsigned char *)r->addr, .end = r->len };
	struct seq q;
	size_t dend = 0;

	if (r->len == 0 || r->len > ADDRLIST_ADDR_MAX)
		return false;
	if (scan_seq(&v, &q) < 0 || !q.local_ok || q.first != 0 ||
	    peek(&v) != '@')
		return false;
	v.pos++;
	if (scan_domain(&v, &dend) < 0 || v.pos != v.end || dend != v.end)
		return false;
	return strip_cfws(v.s, v.end, tmp, sizeof tmp) == (long)r->len;
}

/* An addr-spec spans [b, e): hand it to the callback, copy its bytes or
 * its replacement. */
static int
emit(struct lx *l, size_t b, size_t e)
{
	struct addrlist_repl r;
	char spec[ADDRLIST_ADDR_MAX];
	long n;
	int rc;

	if (l->cb == NULL)
		return 0;
	if (put(l, l->s + l->copied, b - l->copied) < 0)
		return -1;
	l->copied = e;
	n = strip_cfws(l->s + b, e - b, spec, sizeof spec);
	if (n < 0) {
		l->err = ADDRLIST_ERR_TOO_LONG;
		return -1;
	}
	memset(&r, 0, sizeof r);
	r.raw_off = b;
	r.raw_len = e - b;
	rc = l->cb(spec, (size_t)n, l->ctx, &r);
	if (rc == 0)
		return put(l, l->s + b, e - b);
	if (rc < 0 || rc > 1 || !valid_replacement(&r)) {
		l->err = ADDRLIST_ERR_CALLBACK;
		return -1;
	}
	return put(l, r.addr, r.len);
}

/* The local part q has been scanned and l->pos is at '@'. */
static int
addr_spec(struct lx *l, const struct seq *q)
{
	size_t dend = 0;

	if (!q->local_ok)
		return syntax(l);
	l->pos++;
	if (scan_domain(l, &dend) < 0)
		return -1;
	l->mailboxes++;
	return emit(l, q->first, dend);
}

/* obs-route: "@a,@b:" before the addr-spec of an angle-addr. */
static int
skip_route(struct lx *l)
{
	size_t dend;
	unsigned domains = 0;

	for (;;) {
		int c = peek(l);

		if (c == '@') {
			l->pos++;
			if (scan_domain(l, &dend) < 0)
				return -1;
			domains++;
		} else if (c == ',') {
			l->pos++;
			if (skip_cfws(l) < 0)
				return -1;
		} else if (c == ':' && domains > 0) {
			l->pos++;
			return 0;
		} else {
			return syntax(l);
		}
	}
}

/* At '<'. */
static int
angle_addr(struct lx *l)
{
	struct seq q;

	l->pos++;
	if (skip_cfws(l) < 0)
		return -1;
	if (peek(l) == '@' && skip_route(l) < 0)
		return -1;
	if (scan_seq(l, &q) < 0)
		return -1;
	if (peek(l) != '@' || addr_spec(l, &q) < 0)
		return syntax(l);
	if (skip_cfws(l) < 0)
		return -1;
	if (peek(l) != '>')
		return syntax(l);
	l->pos++;
	return 0;
}

static int address(struct lx *l, bool in_group);

/* At ':' after the group's display name. */
static int
group(struct lx *l)
{
	l->pos++;
	l->groups++;
	for (;;) {
		int c;

		if (skip_cfws(l) < 0)
			return -1;
		c = peek(l);
		if (c == ';') {
			l->pos++;
			return 0;
		}
		if (c == ',') {
			l->pos++;
			continue;
		}
		if (c < 0 || address(l, true) < 0)
			return syntax(l);
		if (skip_cfws(l) < 0)
			return -1;
		c = peek(l);
		if (c == ',')
			l->pos++;
		else if (c != ';')
			return syntax(l);
	}
}

static int
address(struct lx *l, bool in_group)
{
	struct seq q;
	int c;

	if (scan_seq(l, &q) < 0)
		return -1;
	c = peek(l);
	if (c == '<' && (!q.any || q.first_is_word))
		return angle_addr(l);
	if (c == '@')
		return addr_spec(l, &q);
	if (c == ':' && !in_group && q.first_is_word)
		return group(l);
	return syntax(l);
}

static int
address_list(struct lx *l)
{
	size_t addresses = 0;

	for (;;) {
		int c;

		if (skip_cfws(l) < 0)
			return -1;
		c = peek(l);
		if (c < 0)
			break;
		if (c == ',') {
			l->pos++;
			continue;
		}
		if (address(l, false) < 0)
			return -1;
		addresses++;
		if (skip_cfws(l) < 0)
			return -1;
		c = peek(l);
		if (c < 0)
			break;
		if (c != ',')
			return syntax(l);
		l->pos++;
	}
	return addresses > 0 ? 0 : syntax(l);
}

enum addrlist_error
addrlist_count(const char *in, size_t len, size_t *mailboxes, size_t *groups)
{
	struct lx l = { .s = (const unsigned char *)in, .end = len };

	*mailboxes = 0;
	*groups = 0;
	if (address_list(&l) < 0)
		return l.err;
	*mailboxes = l.mailboxes;
	*groups = l.groups;
	return ADDRLIST_OK;
}

enum addrlist_error
addrlist_rewrite(const char *in, size_t len, addrlist_cb *cb, void *ctx,
    char *out_buf, size_t out_cap, size_t *out_len)
{
	struct lx l = { .s = (const unsigned char *)in, .end = len, .cb = cb,
	    .ctx = ctx, .out = out_buf, .cap = out_cap };
	size_t m, g;
	enum addrlist_error e;

	*out_len = 0;
	if ((e = addrlist_count(in, len, &m, &g)) != ADDRLIST_OK)
		return e;
	if (address_list(&l) < 0 || put(&l, l.s + l.copied, len - l.copied) < 0)
		return l.err;
	*out_len = l.olen;
	return ADDRLIST_OK;
}

const char *
addrlist_error_text(enum addrlist_error e)
{
	switch (e) {
	case ADDRLIST_OK:
		return "ok";
	case ADDRLIST_ERR_SYNTAX:
		return "not an RFC 5322 address list";
	case ADDRLIST_ERR_TOO_LONG:
		return "address longer than 1024 octets";
	case ADDRLIST_ERR_CALLBACK:
		return "address rewrite failed";
	case ADDRLIST_ERR_SPACE:
		return "rewritten header does not fit";
	}
	return "unknown address list error";
}
