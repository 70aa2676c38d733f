/*
 * jline.c - one attempt-log line as a JSON object in a fixed buffer
 * (RFC 8259 for JSON, RFC 3629 for what counts as valid UTF-8).
 *
 * Public functions:
 *   json_escape()                 escape a byte string for a JSON string
 *   jline_begin() / jline_end()   open the object / close it and add "\n"
 *   jline_str() jline_cstr() jline_int() jline_bool() jline_null()
 *   jline_obj_begin/end() jline_arr_begin/end()   nesting, up to 8 levels
 *
 * Invariants:
 * - The buffer always has room left to close every open level, to add
 *   ,"trunc":true, the final "}\n" and a NUL (RESERVE below): members end
 *   at most at LIMIT, and a closing bracket uses up exactly the byte its
 *   level had reserved, so len + open levels <= LIMIT + DEPTH_MAX.  A field is
 *   written completely or not at all (rolled back), so whatever happens the
 *   result is one valid JSON object on one line.
 * - Once a field has been dropped for lack of room (`overflow`), every later
 *   field is dropped too, so a reader never sees a line with a hole in the
 *   middle; the line gets "trunc":true.  Levels opened after that, or past
 *   the depth limit, are counted in `skipped` so that their end calls close
 *   nothing real.
 * - json_escape() output is valid UTF-8 and a valid JSON string body:
 *   '"' '\\' \n \r \t are escaped by name, other bytes < 0x20 and 0x7f as
 *   \u00XX; well-formed UTF-8 (no overlongs, no surrogates, nothing above
 *   U+10FFFF) is copied; every byte that is not part of a well-formed
 *   sequence becomes \u00XX of its value.  A reader can thus tell "\u00e9"
 *   (a stray Latin-1 byte) from "é" (UTF-8) and nothing a client sends can
 *   break the line or the file's encoding.
 * - Input is cut at max_in bytes, never inside a UTF-8 sequence, and the
 *   output is cut at a whole escape unit when dst is too small; either cut
 *   is marked with "…" (U+2026).
 */
#include <stdio.h>
#include <string.h>

#include "jline.h"
#include "limits_default.h"

#define DEPTH_MAX   ((int)sizeof(((struct jline *)0)->need_comma))
#define TRUNC_FIELD "\"trunc\":true"
#define ELLIPSIS    "\xe2\x80\xa6"
#define RESERVE     ((size_t)DEPTH_MAX + 1 + (sizeof(TRUNC_FIELD) - 1) + 2)
#define LIMIT       (JLINE_MAX - RESERVE)
#define ESC_MAX     (LOG_FIELD_MAX * 6 + sizeof(ELLIPSIS))

_Static_assert(sizeof(((struct jline *)0)->closer) == DEPTH_MAX,
    "closer[] and need_comma[] must have the same depth");

static const char hexdigits[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence starting at s (RFC 3629 4),
 * or 0 when s[0] does not start one within n bytes. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		len = 2;
	} else if (s[0] < 0xf0) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] < 0xf5) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* The escape unit for the byte string at s: its output in *out (pointing
 * either into s or into unit[]), its length in *outn.  Returns the number
 * of input bytes it covers. */
static size_t
escape_unit(const unsigned char *s, size_t n, char unit[6], const char **out,
    size_t *outn)
{
	unsigned char c = s[0];
	size_t seq;

	*out = unit;
	*outn = 2;
	unit[0] = '\\';
	switch (c) {
	case '"':  unit[1] = '"';  return 1;
	case '\\': unit[1] = '\\'; return 1;
	case '\n': unit[1] = 'n';  return 1;
	case '\r': unit[1] = 'r';  return 1;
	case '\t': unit[1] = 't';  return 1;
	default:
		break;
	}
	seq = (c >= 0x20 && c != 0x7f) ? utf8_seq(s, n) : 0;
	if (seq > 0) {
		*out = (const char *)s;
		*outn = seq;
		return seq;
	}
	memcpy(unit, "\\u00", 4);
	unit[4] = hexdigits[c >> 4];
	unit[5] = hexdigits[c & 0xf];
	*outn = 6;
	return 1;
}

size_t
json_escape(char *dst, size_t dstlen, const char *src, size_t srclen,
    size_t max_in)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, safe = 0, cap, el = sizeof(ELLIPSIS) - 1;
	bool cut = false;

	if (dstlen == 0)
		return 0;
	cap = dstlen - 1;
	while (i < srclen) {
		char unit[6];
		const char *from;
		size_t outn, in = escape_unit(s + i, srclen - i, unit, &from,
		    &outn);
		if (i + in > max_in || o + outn > cap) {
			cut = true;
			break;
		}
		memcpy(dst + o, from, outn);
		o += outn;
		i += in;
		if (o + el <= cap)
			safe = o;
	}
	if (cut) {
		if (o + el > cap)
			o = safe;
		if (o + el <= cap) {
			memcpy(dst + o, ELLIPSIS, el);
			o += el;
		}
	}
	dst[o] = '\0';
	return o;
}

/* ------------------------------------------------------------------ */

static bool
put(struct jline *j, const char *s, size_t n)
{
	if (j->len > LIMIT || n > LIMIT - j->len)
		return false;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	return true;
}

static bool
put_string(struct jline *j, const char *s, size_t n)
{
	char esc[ESC_MAX];
	size_t e = json_escape(esc, sizeof(esc), s, n, LOG_FIELD_MAX);

	return put(j, "\"", 1) && put(j, esc, e) && put(j, "\"", 1);
}

static bool
writable(const struct jline *j)
{
	return j->depth > 0 && j->skipped == 0 && !j->overflow;
}

/* Comma and key for a new member of the innermost open level. */
static bool
put_prefix(struct jline *j, const char *key)
{
	int d = j->depth - 1;

	if (j->need_comma[d] && !put(j, ",", 1))
		return false;
	if (j->closer[d] == ']')
		return true;
	if (!key)
		key = "";
	return put_string(j, key, strlen(key)) && put(j, ":", 1);
}

/* Commit or roll back the member started at `save`. */
static void
finish(struct jline *j, size_t save, bool ok)
{
	if (!ok) {
		j->len = save;
		j->overflow = true;
		return;
	}
	j->need_comma[j->depth - 1] = true;
}

static void
put_raw_member(struct jline *j, const char *key, const char *raw)
{
	size_t save = j->len;

	if (!writable(j))
		return;
	finish(j, save, put_prefix(j, key) && put(j, raw, strlen(raw)));
}

void
jline_begin(struct jline *j)
{
	j->len = 1;
	j->buf[0] = '{';
	j->overflow = false;
	j->depth = 1;
	j->skipped = 0;
	j->need_comma[0] = false;
	j->closer[0] = '}';
}

void
jline_str(struct jline *j, const char *key, const char *val, size_t len)
{
	size_t save = j->len;

	if (!val) {
		jline_null(j, key);
		return;
	}
	if (!writable(j))
		return;
	finish(j, save, put_prefix(j, key) && put_string(j, val, len));
}

void
jline_cstr(struct jline *j, const char *key, const char *val)
{
	if (!val)
		jline_null(j, key);
	else
		jline_str(j, key, val, strlen(val));
}

void
jline_int(struct jline *j, const char *key, long long v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", v);

	if (n < 0 || (size_t)n >= sizeof(num)) {
		if (writable(j))
			j->overflow = true;
		return;
	}
	put_raw_member(j, key, num);
}

void
jline_bool(struct jline *j, const char *key, bool v)
{
	put_raw_member(j, key, v ? "true" : "false");
}

void
jline_null(struct jline *j, const char *key)
{
	put_raw_member(j, key, "null");
}

static void
open_level(struct jline *j, const char *key, char open, char close)
{
	size_t save = j->len;
	bool ok;

	if (j->depth == 0)
		return;
	if (!writable(j) || j->depth == DEPTH_MAX) {
		j->overflow = true;
		j->skipped++;
		return;
	}
	ok = put_prefix(j, key) && put(j, &open, 1);
	finish(j, save, ok);
	if (!ok) {
		j->skipped++;
		return;
	}
	j->depth++;
	j->need_comma[j->depth - 1] = false;
	j->closer[j->depth - 1] = close;
}

/* Closing never fails: RESERVE keeps a byte for every open level. */
static void
close_level(struct jline *j)
{
	if (j->depth == 0)
		return;
	if (j->skipped > 0) {
		j->skipped--;
		return;
	}
	if (j->depth == 1)
		return;
	j->buf[j->len++] = j->closer[j->depth - 1];
	j->depth--;
}

void
jline_obj_begin(struct jline *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void
jline_obj_end(struct jline *j)
{
	close_level(j);
}

void
jline_arr_begin(struct jline *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void
jline_arr_end(struct jline *j)
{
	close_level(j);
}

size_t
jline_end(struct jline *j)
{
	if (j->depth == 0)
		return j->len;
	j->skipped = 0;
	while (j->depth > 1)
		close_level(j);
	if (j->overflow) {
		if (j->need_comma[0])
			j->buf[j->len++] = ',';
		memcpy(j->buf + j->len, TRUNC_FIELD, sizeof(TRUNC_FIELD) - 1);
		j->len += sizeof(TRUNC_FIELD) - 1;
	}
	j->buf[j->len++] = '}';
	j->buf[j->len++] = '\n';
	j->buf[j->len] = '\0';
	j->depth = 0;
	return j->len;
}
