/*
 * upstream_reply.c - the relay client's pure parts: reply lines (RFC 5321
 * 4.2, 4.5.3.1.5), enhanced status codes (RFC 3463), EHLO keywords and the
 * reply given to our own client.
 *
 * Public functions: upstream_reply_parse(), upstream_caps_line(),
 * upstream_reply_local(), upstream_reply_format().
 *
 * Strictness: a line that is not "ddd", "ddd text" or "ddd-text", a code
 * outside 200..599, a code that changes inside a multi-line reply, or more
 * than UPSTREAM_REPLY_LINES_LIMIT lines is a protocol error (the caller
 * closes the connection and answers 451 4.5.0); a peer that cannot frame
 * its replies cannot be trusted with a message.  The text is forgiving:
 * control octets become '?' so they never reach our client or the log raw.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "upstream_reply.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of a leading "c.sss.ddd" matching class `cls`, followed by a space
 * or the end; 0 when there is none. */
static size_t
ecode_len(const char *p, size_t len, char cls)
{
	size_t i = 0, n;

	if (len < 5 || p[0] != cls || p[1] != '.')
		return 0;
	i = 2;
	for (n = 0; i < len && is_digit(p[i]) && n < 3; i++, n++)
		;
	if (n == 0 || i >= len || p[i] != '.')
		return 0;
	i++;
	for (n = 0; i < len && is_digit(p[i]) && n < 3; i++, n++)
		;
	if (n == 0 || (i < len && p[i] != ' '))
		return 0;
	return i;
}

static int
code_of(const char *line)
{
	if (!is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static void
keep_text(struct upstream_reply *r, size_t idx, const char *t, size_t n)
{
	char *out = r->text[idx];

	if (n > UPSTREAM_LINE_MAX - 1)
		n = UPSTREAM_LINE_MAX - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[n] = '\0';
}

enum upstream_parse
upstream_reply_parse(struct upstream_parser *p, struct upstream_reply *r,
    const char *line, size_t len, const char **text, size_t *textlen)
{
	const char *t;
	size_t tl, el;
	int code;
	bool last;

	if (len < 3 || (code = code_of(line)) < 200 || code > 599)
		return UPSTREAM_PARSE_ERROR;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return UPSTREAM_PARSE_ERROR;
	if (p->lines > 0 && code != r->code)
		return UPSTREAM_PARSE_ERROR;
	if (p->lines >= UPSTREAM_REPLY_LINES_LIMIT)
		return UPSTREAM_PARSE_ERROR;
	last = len == 3 || line[3] == ' ';
	t = len > 4 ? line + 4 : line + len;
	tl = len > 4 ? len - 4 : 0;
	if (p->lines == 0) {
		r->code = code;
		r->ecode[0] = '\0';
		r->nlines = 0;
		el = ecode_len(t, tl, line[0]);
		if (el > 0) {
			memcpy(r->ecode, t, el);
			r->ecode[el] = '\0';
		}
	}
	el = r->ecode[0] != '\0' ? strlen(r->ecode) : 0;
	if (el > 0 && tl >= el && memcmp(t, r->ecode, el) == 0 &&
	    (tl == el || t[el] == ' ')) {
		t += el < tl ? el + 1 : el;
		tl -= el < tl ? el + 1 : el;
	}
	if (text != NULL)
		*text = t;
	if (textlen != NULL)
		*textlen = tl;
	if (r->nlines < UPSTREAM_LINES_MAX)
		keep_text(r, r->nlines++, t, tl);
	p->lines++;
	return last ? UPSTREAM_PARSE_DONE : UPSTREAM_PARSE_MORE;
}

static bool
word_is(const char *t, size_t len, const char *kw, size_t *rest)
{
	size_t n = strlen(kw);

	if (len < n || strncasecmp(t, kw, n) != 0)
		return false;
	if (len > n && t[n] != ' ')
		return false;
	*rest = n;
	return true;
}

static size_t
parse_size(const char *t, size_t len)
{
	size_t v = 0, i = 0;

	while (i < len && t[i] == ' ')
		i++;
	for (; i < len && is_digit(t[i]); i++) {
		if (v > ((size_t)-1 - 9) / 10)
			return 0;
		v = v * 10 + (size_t)(t[i] - '0');
	}
	return v;
}

void
upstream_caps_line(struct upstream_caps *c, const char *text, size_t len)
{
	size_t rest;

	if (word_is(text, len, "SIZE", &rest)) {
		c->flags |= UPSTREAM_CAP_SIZE;
		c->size_max = parse_size(text + rest, len - rest);
	} else if (word_is(text, len, "8BITMIME", &rest)) {
		c->flags |= UPSTREAM_CAP_8BITMIME;
	} else if (word_is(text, len, "SMTPUTF8", &rest)) {
		c->flags |= UPSTREAM_CAP_SMTPUTF8;
	} else if (word_is(text, len, "STARTTLS", &rest)) {
		c->flags |= UPSTREAM_CAP_STARTTLS;
	} else if (word_is(text, len, "PIPELINING", &rest)) {
		c->flags |= UPSTREAM_CAP_PIPELINING;
	}
}

void
upstream_reply_local(struct upstream_reply *r, int code, const char *ecode,
    const char *peer, const char *fmt, ...)
{
	va_list ap;
	int n;

	memset(r, 0, sizeof(*r));
	r->code = code;
	r->local = true;
	r->nlines = 1;
	snprintf(r->ecode, sizeof(r->ecode), "%s", ecode);
	n = snprintf(r->peer, sizeof(r->peer), "%s", peer);
	if (n < 0 || (size_t)n >= sizeof(r->peer))
		r->peer[sizeof(r->peer) - 1] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(r->text[0], sizeof(r->text[0]), fmt, ap);
	va_end(ap);
	if (n < 0)
		r->text[0][0] = '\0';
	for (char *c = r->text[0]; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

int
upstream_reply_format(const struct upstream_reply *r, char *buf,
    size_t buflen)
{
	char ec[16];
	size_t off = 0, nlines = r->nlines == 0 ? 1 : r->nlines;
	int n;

	if (r->ecode[0] != '\0')
		snprintf(ec, sizeof(ec), "%s", r->ecode);
	else
		snprintf(ec, sizeof(ec), "%d.0.0", r->code / 100);
	for (size_t i = 0; i < nlines && i < UPSTREAM_LINES_MAX; i++) {
		const char *t = r->text[i];
		bool last = i + 1 == nlines || i + 1 == UPSTREAM_LINES_MAX;

		n = snprintf(buf + off, buflen - off, "%s%03d%c%s upstream %s:%s%s",
		    i > 0 ? "\r\n" : "", r->code, last ? ' ' : '-', ec, r->peer,
		    t[0] != '\0' ? " " : "", t);
		if (n < 0 || (size_t)n >= buflen - off)
			return -1;
		off += (size_t)n;
	}
	return (int)off;
}
