/*
 * config_text.c - the configuration file as text, before libconfuse 3.3
 * parses it: reading it, and rewriting it around five libconfuse quirks.
 *
 * Functions (private to policy/config*.c, see config_internal.h):
 *   config_read_file()     the whole file, at most CONF_FILE_MAX octets
 *   config_prepare()       the rewrite below, in place
 *   config_open_line_of()  the "{" line of a top-level pair, by its "}"
 *
 * The five quirks handled here, before libconfuse sees the text:
 *   - comments inflate its line numbers (a "#" line counts as three), and
 *     a comment inside a list is a syntax error; so comments are removed
 *     here (newlines kept) with the same lexical rules, and libconfuse
 *     never sees one;
 *   - its lexer is quadratic in the length of one token: blanks are
 *     squeezed and a word or string is limited to CONF_TOKEN_MAX;
 *   - "${VAR}" is replaced by the environment, in and out of quotes: a
 *     daemon's config must not change with the environment of whoever
 *     reloads it, so "${" is refused;
 *   - a NUL byte would silently end the text: refused;
 *   - a section left open at the end of the file is silently closed:
 *     braces are counted here, and an unclosed one is an error.
 * The top-level brace pairs counted on the way are kept (ld->spans), so
 * that an empty domain section can be named at its "{" line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"

static char *
read_all(int fd, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1), *n;
	ssize_t r;

	while (buf != NULL) {
		if (len == cap) {
			if (cap > CONF_FILE_MAX) {
				errno = EFBIG;
				break;
			}
			cap = cap * 2 > CONF_FILE_MAX ? CONF_FILE_MAX + 1 : cap * 2;
			if ((n = realloc(buf, cap + 1)) == NULL)
				break;
			buf = n;
		}
		r = read(fd, buf + len, cap - len);
		if (r == 0) {
			buf[len] = '\0';
			*lenp = len;
			return buf;
		}
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			len += (size_t)r;
	}
	free(buf);
	return NULL;
}

char *
config_read_file(struct load *ld, size_t *lenp)
{
	int fd = open(ld->path, O_RDONLY | O_CLOEXEC);
	char *buf;
	int saved;

	if (fd < 0) {
		config_error(ld, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	buf = read_all(fd, lenp);
	saved = errno;
	close(fd);
	if (buf == NULL && saved == EFBIG)
		config_error(ld, 0, "is larger than %u octets", CONF_FILE_MAX);
	else if (buf == NULL)
		config_error(ld, 0, "cannot read: %s", strerror(saved));
	return buf;
}

/*
 * The text is rewritten in place before libconfuse sees it: comments go
 * (their newlines stay), every run of blanks becomes one space, and no
 * word or quoted string may pass CONF_TOKEN_MAX octets.  The last two
 * matter because libconfuse's flex lexer rescans a token from its start
 * each time it refills its buffer: a 16 MiB run of blanks took 85 s.
 * The rewrite never writes more than it reads (w <= r), and keeps every
 * newline, so line numbers are those of the file.
 */
struct pre {
	struct load *ld;
	char *buf;
	size_t len;
	size_t r;             /* next byte to read */
	size_t w;             /* next byte to write */
	size_t word;          /* octets of the word or string being written */
	unsigned line;
	unsigned depth;       /* of { } outside quotes */
	unsigned open_line;   /* of the outermost open { */
};

static int
add_span(struct load *ld, unsigned open, unsigned close)
{
	struct span *n;

	if (ld->nspans == ld->spans_cap) {
		size_t cap = ld->spans_cap ? ld->spans_cap * 2 : 16;

		if ((n = realloc(ld->spans, cap * sizeof *n)) == NULL)
			return config_error(ld, 0, "out of memory");
		ld->spans = n;
		ld->spans_cap = cap;
	}
	ld->spans[ld->nspans].open = open;
	ld->spans[ld->nspans++].close = close;
	return 0;
}

/* Braces outside quotes: libconfuse 3.3 takes the end of the file as the
 * "}" of a section left open, so they are counted here. */
static int
count_brace(struct pre *s, char c)
{
	if (c == '{' && s->depth++ == 0)
		s->open_line = s->line;
	else if (c == '}' && s->depth > 0 && --s->depth == 0)
		return add_span(s->ld, s->open_line, s->line);
	return 0;
}

/* Write c; `plain` = outside quotes.  Blanks and newlines end a word. */
static int
emit(struct pre *s, char c, bool plain)
{
	if (plain && (c == ' ' || c == '\n'))
		s->word = 0;
	else if (++s->word > CONF_TOKEN_MAX)
		return config_error(s->ld, s->line, "a word or quoted string is "
		    "longer than %d octets", CONF_TOKEN_MAX);
	if (plain && count_brace(s, c) < 0)
		return -1;
	if (c == '\n')
		s->line++;
	s->buf[s->w++] = c;
	return 0;
}

static int
emit_blank(struct pre *s)
{
	if (s->w > 0 && (s->buf[s->w - 1] == ' ' || s->buf[s->w - 1] == '\n'))
		return 0;
	return emit(s, ' ', true);
}

/* Copy a quoted string; a backslash escapes the next byte (libconfuse's
 * rules for both quote kinds).  An unclosed one is reported where it
 * starts, not at the end of the file as libconfuse would. */
static int
copy_quoted(struct pre *s)
{
	unsigned start = s->line;
	char q = s->buf[s->r];

	if (emit(s, s->buf[s->r++], false) < 0)
		return -1;
	while (s->r < s->len && s->buf[s->r] != q) {
		if (s->buf[s->r] == '\\' && s->r + 1 < s->len &&
		    emit(s, s->buf[s->r++], false) < 0)
			return -1;
		if (emit(s, s->buf[s->r++], false) < 0)
			return -1;
	}
	if (s->r >= s->len)
		return config_error(s->ld, start, "quoted string is not closed");
	return emit(s, s->buf[s->r++], false);
}

/* Drop a / * ... * / comment, keeping its newlines. */
static int
skip_block(struct pre *s)
{
	unsigned start = s->line;

	for (s->r += 2; s->r < s->len; s->r++) {
		if (s->buf[s->r] == '*' && s->r + 1 < s->len &&
		    s->buf[s->r + 1] == '/') {
			s->r += 2;
			return emit_blank(s);
		}
		if (s->buf[s->r] == '\n' && emit(s, '\n', true) < 0)
			return -1;
	}
	return config_error(s->ld, start, "/* comment is not closed");
}

/* Does a comment start at r?  "//" and "/ *" only at a token start, as
 * in libconfuse ("a//b" is one word), "#" anywhere outside quotes. */
static int
comment_at(const struct pre *s)
{
	const char *b = s->buf;
	bool start = s->w == 0 || strchr(" \n={}()+,\"'", b[s->w - 1]) != NULL;

	if (b[s->r] == '#')
		return '#';
	if (b[s->r] != '/' || s->r + 1 >= s->len || !start)
		return 0;
	return b[s->r + 1] == '/' ? '#' : b[s->r + 1] == '*' ? '*' : 0;
}

static int
pre_step(struct pre *s)
{
	char c = s->buf[s->r];
	int comment = comment_at(s);

	if (c == '"' || c == '\'')
		return copy_quoted(s);
	if (comment == '*')
		return skip_block(s);
	if (comment == '#') {
		while (s->r < s->len && s->buf[s->r] != '\n')
			s->r++;
		return 0;
	}
	if (c == ' ' || c == '\t' || c == '\r') {
		while (s->r < s->len && strchr(" \t\r", s->buf[s->r]) != NULL)
			s->r++;
		return emit_blank(s);
	}
	s->r++;
	return emit(s, c, true);
}

/* Refuse `bad` (see the top of the file) and say where it is. */
static int
refuse(struct load *ld, const char *buf, size_t len, const char *bad,
    size_t badlen, const char *what)
{
	const char *at = memmem(buf, len, bad, badlen);
	unsigned line = 1;
	size_t i;

	if (at == NULL)
		return 0;
	for (i = 0; i < (size_t)(at - buf); i++)
		if (buf[i] == '\n')
			line++;
	return config_error(ld, line, "%s", what);
}

/* Rewrite buf (see struct pre); *lenp becomes the new length. */
int
config_prepare(struct load *ld, char *buf, size_t *lenp)
{
	struct pre s = { .ld = ld, .buf = buf, .len = *lenp, .line = 1 };

	if (refuse(ld, buf, s.len, "\0", 1, "NUL byte in the file") < 0)
		return -1;
	while (s.r < s.len)
		if (pre_step(&s) < 0)
			return -1;
	buf[s.w] = '\0';
	*lenp = s.w;
	if (s.depth > 0)
		return config_error(ld, s.open_line, "{ is not closed");
	ld->last_line = (s.w > 0 && buf[s.w - 1] == '\n') ? s.line - 1 : s.line;
	return refuse(ld, buf, s.w, "${", 2, "${...} (environment substitution) "
	    "is not supported");
}

/*
 * The opening line of the top-level section that closed at `close`, so
 * that an empty domain section is named at its "domain ... {" line too.
 * When pairs that close on that line opened on different lines, which
 * one is meant is unknown: then `close` itself.
 */
unsigned
config_open_line_of(const struct load *ld, unsigned close)
{
	size_t lo = 0, hi = ld->nspans, i;

	while (lo < hi) {            /* first span closing at or after `close` */
		size_t mid = lo + (hi - lo) / 2;

		if (ld->spans[mid].close < close)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ld->nspans || ld->spans[lo].close != close)
		return close;
	for (i = lo + 1; i < ld->nspans && ld->spans[i].close == close; i++)
		if (ld->spans[i].open != ld->spans[lo].open)
			return close;
	return ld->spans[lo].open;
}
