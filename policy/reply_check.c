/*
 * reply_check.c - validate configured SMTP reply lines, expand %d.
 *
 * Public functions: reply_check(), reply_expand() (see reply_check.h).
 *
 * The grammar is small enough that a straight scan with (pos, end) reads
 * better than a regex: regcomp() would need a NUL-terminated copy and
 * could not say *what* is wrong, which is what an admin fixing a config
 * file needs.  Every error names the first problem found, left to right.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "reply_check.h"

static int
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
	/* n >= errlen: vsnprintf cut it and terminated it; a diagnostic cut
	 * short is still a useful diagnostic, so it is kept as it is. */
	return -1;
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* 1 to 3 digits at *pos; false when there are none or more than 3. */
static bool
digits3(const char *s, size_t len, size_t *pos)
{
	size_t start = *pos;

	while (*pos < len && is_digit((unsigned char)s[*pos]))
		(*pos)++;
	return *pos > start && *pos - start <= 3;
}

/* Printable ASCII, and % only in %d / %%.  Returns the bad offset or -1. */
static long
bad_char(const char *s, size_t len, bool *bad_percent)
{
	size_t i;

	*bad_percent = false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e)
			return (long)i;
		if (c == '%') {
			if (i + 1 >= len || (s[i + 1] != 'd' && s[i + 1] != '%')) {
				*bad_percent = true;
				return (long)i;
			}
			i++;
		}
	}
	return -1;
}

/* "Xyz X.y.z text" after the character checks. */
static int
check_codes(const char *s, size_t len, char required_class, char *err,
    size_t errlen)
{
	static const char bad_enhanced[] = "has a malformed enhanced status "
	    "code (class.subject.detail, 1 to 3 digits each)";
	size_t pos = 4;

	if (len < 3 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    !is_digit((unsigned char)s[1]) || !is_digit((unsigned char)s[2]))
		return fail(err, errlen, "does not start with a 2xx, 4xx or 5xx reply code");
	if (len < 4 || s[3] != ' ')
		return fail(err, errlen, "needs a space after the reply code %.3s", s);
	if (required_class != 0 && s[0] != required_class)
		return fail(err, errlen, "must be a %cxx reply, not %.3s",
		    required_class, s);
	if (pos + 2 > len || (s[pos] != '2' && s[pos] != '4' && s[pos] != '5') ||
	    s[pos + 1] != '.')
		return fail(err, errlen, "needs an enhanced status code (RFC 3463) "
		    "such as %c.3.2 after the reply code", s[0]);
	if (s[pos] != s[0])
		return fail(err, errlen, "enhanced status code class %c does not "
		    "match reply code %.3s", s[pos], s);
	pos += 2;
	if (!digits3(s, len, &pos) || pos >= len || s[pos] != '.')
		return fail(err, errlen, "%s", bad_enhanced);
	pos++;
	if (!digits3(s, len, &pos))
		return fail(err, errlen, "%s", bad_enhanced);
	if (pos >= len || s[pos] != ' ' || pos + 1 >= len)
		return fail(err, errlen, "needs a text after the enhanced status code");
	return 0;
}

int
reply_check(const char *reply, size_t len, char required_class, char *err,
    size_t errlen)
{
	bool bad_percent;
	long bad;

	if (len > REPLY_TEXT_MAX)
		return fail(err, errlen, "is %zu octets long, the limit is %d "
		    "(512 with CRLF)", len, REPLY_TEXT_MAX);
	bad = bad_char(reply, len, &bad_percent);
	if (bad >= 0 && bad_percent)
		return fail(err, errlen, "has %% at offset %ld: only %%d (the "
		    "domain) and %%%% are allowed", bad);
	if (bad >= 0)
		return fail(err, errlen, "has a byte that is not printable "
		    "ASCII at offset %ld", bad);
	return check_codes(reply, len, required_class, err, errlen);
}

int
reply_expand(const char *tmpl, size_t len, const char *domain, size_t dlen,
    char *buf, size_t buflen)
{
	size_t i, o = 0;

	if (buflen == 0)
		return -1;
	for (i = 0; i < len; i++) {
		const char *add = &tmpl[i];
		size_t n = 1;

		if (tmpl[i] == '%') {
			if (i + 1 >= len || (tmpl[i + 1] != 'd' && tmpl[i + 1] != '%'))
				goto fail;
			i++;
			if (tmpl[i] == 'd') {
				add = domain;
				n = dlen;
			}
		}
		if (n >= buflen - o || o + n > INT_MAX)
			goto fail;
		memcpy(buf + o, add, n);
		o += n;
	}
	buf[o] = '\0';
	return (int)o;
fail:
	buf[0] = '\0';
	return -1;
}
