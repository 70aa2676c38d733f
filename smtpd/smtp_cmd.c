/*
 * smtp_cmd.c - SMTP command line parsing (RFC 5321 4.1.1, 4.1.2, 4.1.4;
 * ESMTP parameters: RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8), pure.
 *
 * Public functions:
 *   smtp_cmd_parse()   split a command line (no CRLF) into verb + argument
 *   smtp_verb_name()   the canonical upper-case spelling of a verb
 *   smtp_mail_parse()  "FROM:<path> [params]"
 *   smtp_rcpt_parse()  "TO:<path> [params]"
 *   smtp_helo_check()  HELO/EHLO argument: a domain or an address literal
 *
 * Invariants: every input travels with its length; nothing here reads past
 * `len` or assumes a NUL.  Error replies are static strings.
 *
 * Decisions (and why):
 * - The verb runs to the first SP or the end of the line; any other byte,
 *   HT included, belongs to the verb ("DATA\t" is unknown).  The argument is
 *   everything after that one SP, untouched (a trailing SP is kept): the
 *   session decides whether a verb takes an argument.  With no SP the
 *   argument is "" (a static empty string, so it is always printable).
 * - A line holding a control byte other than HT (NUL, bare CR/LF, DEL) is
 *   refused as a whole: those bytes have no business in a command and are
 *   the raw material of smuggling and log-injection tricks.
 * - "FROM:" / "TO:" must start the argument (case-insensitive, no SP before
 *   them, RFC 5321 4.1.1.2), but any number of SP between the ':' and the
 *   path is tolerated, as Postfix does unless strict_rfc821_envelopes is set:
 *   enough real clients send "MAIL FROM: <a@b>" that refusing it would lose
 *   exactly the mail this gateway exists to account for.
 * - The whole rest of the argument is handed to address_parse(), whose
 *   `consumed` tells where the path ends (a quoted local part may hold SP
 *   or '>', so the end cannot be found here).  After the path comes the end
 *   or SP; parameters are separated by one or more SP, trailing SP allowed.
 * - "RCPT TO:<>" is a syntax error (501 5.1.3): the null path is a
 *   reverse-path only (RFC 5321 4.1.1.3).
 * - MAIL's path is parsed before its parameters are known, so first with
 *   UTF-8 allowed; when no SMTPUTF8 parameter follows it is parsed again
 *   with UTF-8 refused, which yields 553 5.6.7 for a non-ASCII address.
 * - Syntax of a parameter (RFC 5321 4.1.2 esmtp-param, values widened to
 *   UTF-8 by RFC 6531 3.3) or of a known parameter's value: 501 5.5.4;
 *   the same keyword twice: 501 5.5.4; an unknown keyword or an unsupported
 *   BODY value: 555 5.5.4 (RFC 5321 4.1.1.11).  SIZE is 1-20 digits and must
 *   fit a size_t (else 501 5.5.4); comparing it with the limit (552 5.3.4)
 *   is the session's job.
 * - HELO/EHLO: LDH labels of 1-63 octets (underscore allowed, as Postfix's
 *   valid_hostname() does, because Windows hosts send it), 255 octets at
 *   most, one trailing dot tolerated; or [IPv4] / [IPv6:...] checked with
 *   inet_pton().  Non-ASCII names and general address literals are refused.
 *   Trailing SP/HT is ignored.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "smtp_cmd.h"

static const char *const verb_names[VERB__COUNT] = {
	[VERB_UNKNOWN] = "UNKNOWN",
	[VERB_HELO] = "HELO", [VERB_EHLO] = "EHLO", [VERB_MAIL] = "MAIL",
	[VERB_RCPT] = "RCPT", [VERB_DATA] = "DATA", [VERB_RSET] = "RSET",
	[VERB_NOOP] = "NOOP", [VERB_QUIT] = "QUIT", [VERB_VRFY] = "VRFY",
	[VERB_EXPN] = "EXPN", [VERB_HELP] = "HELP",
	[VERB_STARTTLS] = "STARTTLS", [VERB_BDAT] = "BDAT", [VERB_AUTH] = "AUTH",
};

#define R_MAIL_SYNTAX   "501 5.5.4 Syntax: MAIL FROM:<address>"
#define R_RCPT_SYNTAX   "501 5.5.4 Syntax: RCPT TO:<address>"
#define R_PARAM_SYNTAX  "501 5.5.4 Syntax error in parameters"
#define R_PARAM_DUP     "501 5.5.4 Duplicate parameter"
#define R_PARAM_UNKNOWN "555 5.5.4 Unsupported parameter"
#define R_SIZE          "501 5.5.4 Bad SIZE parameter value"
#define R_BODY          "555 5.5.4 Unsupported BODY parameter value"
#define R_SENDER        "501 5.1.7 Bad sender address syntax"
#define R_SENDER_LONG   "501 5.1.7 Sender address too long"
#define R_RCPT          "501 5.1.3 Bad recipient address syntax"
#define R_RCPT_LONG     "501 5.1.3 Recipient address too long"
#define R_UTF8          "553 5.6.7 SMTPUTF8 required for non-ASCII address"

#define SIZE_DIGITS_MAX 20

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive (ASCII only, locale-free) comparison with a literal. */
static bool
ieq(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
			return false;
	return true;
}

static bool
iprefix(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len >= n && ieq(s, n, lit);
}

static bool
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

int
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *out)
{
	const char *sp;
	size_t vlen;

	out->verb = VERB_UNKNOWN;
	out->arg = "";
	out->arglen = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	sp = memchr(line, ' ', len);
	vlen = sp ? (size_t)(sp - line) : len;
	if (sp) {
		out->arg = sp + 1;
		out->arglen = len - vlen - 1;
	}
	for (int v = VERB_UNKNOWN + 1; v < VERB__COUNT; v++) {
		if (ieq(line, vlen, verb_names[v])) {
			out->verb = (enum smtp_verb)v;
			break;
		}
	}
	return 0;
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	if ((int)v < 0 || v >= VERB__COUNT)
		return verb_names[VERB_UNKNOWN];
	return verb_names[v];
}

/* ------------------------------------------------------------------ */
/* ESMTP parameters: keyword[=value], RFC 5321 4.1.2.                  */

struct esmtp_param {
	const char *kw;
	size_t kwlen;
	const char *val;       /* NULL when there is no "=" */
	size_t vallen;
};

static bool
is_value_byte(unsigned char c)
{
	return (c >= 33 && c <= 126 && c != '=') || c >= 0x80;
}

/*
 * Take the next parameter from [*pos, end).  Returns 1 with *out filled,
 * 0 at the end, -1 on a syntax error.  Leading SPs are skipped.
 */
static int
param_next(const char **pos, const char *end, struct esmtp_param *out)
{
	const char *p = *pos;

	while (p < end && *p == ' ')
		p++;
	if (p == end) {
		*pos = p;
		return 0;
	}
	out->kw = p;
	if (!is_alnum((unsigned char)*p))
		return -1;
	while (p < end && (is_alnum((unsigned char)*p) || *p == '-'))
		p++;
	out->kwlen = (size_t)(p - out->kw);
	out->val = NULL;
	out->vallen = 0;
	if (p < end && *p == '=') {
		out->val = ++p;
		while (p < end && is_value_byte((unsigned char)*p))
			p++;
		out->vallen = (size_t)(p - out->val);
		if (out->vallen == 0)
			return -1;
	}
	if (p < end && *p != ' ')
		return -1;
	*pos = p;
	return 1;
}

static int
parse_size(const char *s, size_t len, size_t *out)
{
	size_t v = 0;

	if (len == 0 || len > SIZE_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9)
			return -1;
		if (v > (SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

enum { P_SIZE = 1, P_BODY = 2, P_SMTPUTF8 = 4, P_NOTIFY = 8, P_ORCPT = 16 };

static const char *
mail_param(const struct esmtp_param *pa, struct mail_args *out, unsigned *seen)
{
	unsigned bit;

	if (ieq(pa->kw, pa->kwlen, "SIZE"))
		bit = P_SIZE;
	else if (ieq(pa->kw, pa->kwlen, "BODY"))
		bit = P_BODY;
	else if (ieq(pa->kw, pa->kwlen, "SMTPUTF8"))
		bit = P_SMTPUTF8;
	else
		return R_PARAM_UNKNOWN;
	if (*seen & bit)
		return R_PARAM_DUP;
	*seen |= bit;
	switch (bit) {
	case P_SIZE:
		if (!pa->val || parse_size(pa->val, pa->vallen, &out->size) < 0)
			return R_SIZE;
		out->has_size = true;
		return NULL;
	case P_BODY:
		if (!pa->val)
			return R_PARAM_SYNTAX;
		if (ieq(pa->val, pa->vallen, "7BIT"))
			out->body = BODY_7BIT;
		else if (ieq(pa->val, pa->vallen, "8BITMIME"))
			out->body = BODY_8BITMIME;
		else
			return R_BODY;
		return NULL;
	default:
		if (pa->val)
			return R_PARAM_SYNTAX;
		out->smtputf8 = true;
		return NULL;
	}
}

/* DSN parameters (RFC 3461) are tolerated and ignored: DSN is not offered,
 * but refusing a RCPT for them would only make the sender retry without. */
static const char *
rcpt_param(const struct esmtp_param *pa, unsigned *seen)
{
	unsigned bit;

	if (ieq(pa->kw, pa->kwlen, "NOTIFY"))
		bit = P_NOTIFY;
	else if (ieq(pa->kw, pa->kwlen, "ORCPT"))
		bit = P_ORCPT;
	else
		return R_PARAM_UNKNOWN;
	if (*seen & bit)
		return R_PARAM_DUP;
	*seen |= bit;
	return pa->val ? NULL : R_PARAM_SYNTAX;
}

/* ------------------------------------------------------------------ */
/* MAIL / RCPT                                                          */

/* Where the path starts: after the (case-insensitive) prefix and any SPs.
 * Returns the offset, or -1 when the prefix is missing. */
static long
path_start(const char *arg, size_t len, const char *prefix)
{
	size_t off = strlen(prefix);

	if (!iprefix(arg, len, prefix))
		return -1;
	while (off < len && arg[off] == ' ')
		off++;
	return (long)off;
}

/* Set *params to the text after the path (SPs around it removed); returns
 * -1 when the path is not followed by SP or the end. */
static int
split_params(const char *p, const char *end, const char **params, size_t *plen)
{
	*params = "";
	*plen = 0;
	if (p < end && *p != ' ')
		return -1;
	while (p < end && *p == ' ')
		p++;
	while (end > p && end[-1] == ' ')
		end--;
	if (end > p) {
		*params = p;
		*plen = (size_t)(end - p);
	}
	return 0;
}

static const char *
addr_reply(enum address_error e, bool sender)
{
	switch (e) {
	case ADDRESS_OK:
		return NULL;
	case ADDRESS_ERR_TOO_LONG:
		return sender ? R_SENDER_LONG : R_RCPT_LONG;
	case ADDRESS_ERR_UTF8:
		return R_UTF8;
	case ADDRESS_ERR_SYNTAX:
	default:
		return sender ? R_SENDER : R_RCPT;
	}
}

/* Parse the path at arg + off, then split off the parameters after it. */
static enum address_error
parse_path(const char *arg, size_t len, size_t off, bool utf8_ok,
    struct address *addr, const char **params, size_t *paramslen)
{
	size_t used = 0, plen = len - off;
	enum address_error e;

	e = address_parse(arg + off, plen, utf8_ok, addr, &used);
	if (e != ADDRESS_OK)
		return e;
	if (used > plen ||
	    split_params(arg + off + used, arg + len, params, paramslen) < 0)
		return ADDRESS_ERR_SYNTAX;
	return ADDRESS_OK;
}

static const char *
mail_params(struct mail_args *out)
{
	const char *p = out->params, *end = p + out->paramslen;
	struct esmtp_param pa;
	unsigned seen = 0;
	int r;

	while ((r = param_next(&p, end, &pa)) > 0) {
		const char *err = mail_param(&pa, out, &seen);
		if (err)
			return err;
	}
	return r < 0 ? R_PARAM_SYNTAX : NULL;
}

int
smtp_mail_parse(const char *arg, size_t len, struct mail_args *out,
    const char **reply)
{
	long off = path_start(arg, len, "FROM:");
	const char *err;
	size_t used;

	memset(out, 0, sizeof(*out));
	out->params = "";
	*reply = NULL;
	if (off < 0) {
		*reply = R_MAIL_SYNTAX;
		return -1;
	}
	err = addr_reply(parse_path(arg, len, (size_t)off, true, &out->addr,
	    &out->params, &out->paramslen), true);
	if (!err)
		err = mail_params(out);
	if (!err && !out->smtputf8)
		err = addr_reply(address_parse(arg + off, len - (size_t)off,
		    false, &out->addr, &used), true);
	if (err) {
		*reply = err;
		return -1;
	}
	return 0;
}

int
smtp_rcpt_parse(const char *arg, size_t len, bool utf8_ok,
    struct rcpt_args *out, const char **reply)
{
	long off = path_start(arg, len, "TO:");
	const char *p, *end, *err;
	enum address_error e;
	struct esmtp_param pa;
	unsigned seen = 0;
	int r;

	memset(out, 0, sizeof(*out));
	out->params = "";
	*reply = NULL;
	if (off < 0) {
		*reply = R_RCPT_SYNTAX;
		return -1;
	}
	e = parse_path(arg, len, (size_t)off, utf8_ok, &out->addr,
	    &out->params, &out->paramslen);
	if (e == ADDRESS_OK && (out->addr.flags & ADDRESS_NULL))
		e = ADDRESS_ERR_SYNTAX;
	err = addr_reply(e, false);
	p = out->params;
	end = p + out->paramslen;
	while (!err && (r = param_next(&p, end, &pa)) != 0)
		err = r < 0 ? R_PARAM_SYNTAX : rcpt_param(&pa, &seen);
	if (err) {
		*reply = err;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* HELO / EHLO                                                          */

#define HELO_DOMAIN_MAX 255
#define HELO_LABEL_MAX  63
#define HELO_LITERAL_MAX 64     /* "IPv6:" + INET6_ADDRSTRLEN, generous */

static int
helo_domain(const char *s, size_t len)
{
	size_t label = 0;

	if (len > 1 && s[len - 1] == '.')
		len--;
	if (len > HELO_DOMAIN_MAX)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return -1;
			label = 0;
		} else if (is_alnum(c) || c == '_' || (c == '-' && label > 0)) {
			if (++label > HELO_LABEL_MAX)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int
helo_literal(const char *s, size_t len)
{
	char buf[HELO_LITERAL_MAX + 1];
	unsigned char addr[16];
	int af = AF_INET;

	if (len < 2 || s[len - 1] != ']')
		return -1;
	s++;
	len -= 2;
	if (iprefix(s, len, "IPv6:")) {
		af = AF_INET6;
		s += 5;
		len -= 5;
	}
	if (len == 0 || len > HELO_LITERAL_MAX || memchr(s, '\0', len))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(af, buf, addr) == 1 ? 0 : -1;
}

int
smtp_helo_check(const char *arg, size_t len)
{
	while (len > 0 && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		len--;
	if (len == 0)
		return -1;
	if (arg[0] == '[')
		return helo_literal(arg, len);
	return helo_domain(arg, len);
}
