/*
 * received.c - format the Received: header (RFC 5321 4.4, RFC 5322 3.6.7
 * and 3.3 date-time, RFC 3848 protocol keywords, RFC 5321 4.1.3 address
 * literals), pure apart from the time zone database.
 *
 * Public functions: see received.h.
 *
 * The field is written as tokens with FWS between them: a token goes on
 * the current line when the line stays under 78 characters (RFC 5322
 * 2.1.1 SHOULD), else on a new line folded as CRLF HTAB; the four parts
 * (from, by, using, for/date) each start a line.  Every token is bounded
 * (client strings are cut at 255 octets, the recipient at 512, our own
 * strings checked), so no line can pass 998 octets (the MUST); the writer
 * checks it anyway and fails rather than write a longer line.
 *
 * Why client strings are cleaned, not quoted: HELO and the reverse name
 * sit inside the "from" clause and a comment; a ')' would close the
 * comment early, a ';' would move where parsers look for the date, CR/LF
 * would start a new header field.  '?' for each such octet keeps the
 * length and shows that something was there.  Rejected: leaving out a
 * bad HELO (the trace would hide what the client said).
 *
 * The date uses localtime_r() and tm_gmtoff, and English names written
 * here, never strftime()'s locale-dependent %a/%b.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "received.h"

#define LINE_SOFT 78              /* a line stays under this */
#define LINE_HARD 998
#define CLIENT_MAX 255
#define RCPT_MAX 512
#define OURS_MAX 255
#define SID_MAX 64
#define TLS_NAME_MAX 64

struct writer {
	char *buf;
	size_t cap;
	size_t len;
	size_t line;              /* octets on the current line */
	bool fresh;               /* at a line start: no space before */
	bool fail;
};

static void
put(struct writer *w, const char *p, size_t n)
{
	if (w->fail || n >= w->cap - w->len) {
		w->fail = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void
newline(struct writer *w)
{
	put(w, "\r\n\t", 3);
	w->line = 1;
	w->fresh = true;
}

/* A token, after a space or a fold. */
static void
token(struct writer *w, const char *p, size_t n)
{
	if (!w->fresh && w->line + 1 + n >= LINE_SOFT)
		newline(w);
	if (!w->fresh) {
		put(w, " ", 1);
		w->line++;
	}
	put(w, p, n);
	w->line += n;
	w->fresh = false;
	if (w->line > LINE_HARD)
		w->fail = true;
}

/* A token made from pieces, e.g. "(" name or "[" ip "])". */
static void
token3(struct writer *w, const char *a, const char *b, size_t blen,
    const char *c)
{
	char t[CLIENT_MAX + RCPT_MAX + 16];
	size_t al = strlen(a), cl = strlen(c);

	if (al + blen + cl > sizeof t) {
		w->fail = true;
		return;
	}
	memcpy(t, a, al);
	memcpy(t + al, b, blen);
	memcpy(t + al + blen, c, cl);
	token(w, t, al + blen + cl);
}

/* Printable ASCII but the comment and field breakers; cut at CLIENT_MAX. */
static size_t
clean(const char *in, size_t n, char *out)
{
	if (n > CLIENT_MAX)
		n = CLIENT_MAX;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c > ' ' && c < 127 && !strchr("()\\;\"", c)) ?
		    (char)c : '?';
	}
	return n;
}

static bool
plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 127 ||
		    strchr("()\\;\"", s[i]))
			return false;
	return n > 0;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (a v4-mapped address as IPv4). */
static int
ip_literal(const char *ip, char *out, size_t cap)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	const char *v6 = "";
	int n;

	if (ip == NULL || strnlen(ip, INET6_ADDRSTRLEN) == INET6_ADDRSTRLEN)
		return -1;
	if (inet_pton(AF_INET, ip, a) == 1) {
		if (inet_ntop(AF_INET, a, txt, sizeof txt) == NULL)
			return -1;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = { [10] = 0xff, 0xff };
		bool v4 = memcmp(a, mapped, sizeof mapped) == 0;
		if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a + 12 : a, txt,
		    sizeof txt) == NULL)
			return -1;
		v6 = v4 ? "" : "IPv6:";
	} else
		return -1;
	n = snprintf(out, cap, "[%s%s])", v6, txt);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

static const char *
protocol(const struct received_info *ri)
{
	if (!ri->esmtp)
		return "SMTP";
	if (ri->tls)
		return ri->authenticated ? "ESMTPSA" : "ESMTPS";
	return ri->authenticated ? "ESMTPA" : "ESMTP";
}

/* "from HELO (RDNS [IP])" */
static int
part_from(struct writer *w, const struct received_info *ri)
{
	char helo[CLIENT_MAX], rdns[CLIENT_MAX], lit[INET6_ADDRSTRLEN + 16];
	size_t hl, rl;
	int n = ip_literal(ri->ip, lit, sizeof lit);

	if (n < 0)
		return -1;
	hl = ri->helo_len ? clean(ri->helo, ri->helo_len, helo) : 0;
	rl = ri->rdns_len ? clean(ri->rdns, ri->rdns_len, rdns) : 0;
	token(w, "Received:", 9);
	token(w, "from", 4);
	if (hl)
		token(w, helo, hl);
	else
		token(w, "unknown", 7);
	if (rl)
		token3(w, "(", rdns, rl, "");
	else
		token(w, "(unknown", 8);
	token(w, lit, (size_t)n);
	return 0;
}

/* "by HOST (cutoverd) with PROTO id SID" */
static int
part_by(struct writer *w, const struct received_info *ri, bool semi)
{
	const char *host = ri->hostname, *sid = ri->session_id, *p;
	size_t hn, sn;

	if (host == NULL || sid == NULL)
		return -1;
	hn = strnlen(host, OURS_MAX + 1);
	sn = strnlen(sid, SID_MAX + 1);
	if (hn > OURS_MAX || sn > SID_MAX || !plain(host, hn) || !plain(sid, sn))
		return -1;
	newline(w);
	token(w, "by", 2);
	token(w, host, hn);
	token(w, "(cutoverd)", 10);
	token(w, "with", 4);
	p = protocol(ri);
	token(w, p, strlen(p));
	token(w, "id", 2);
	token3(w, "", sid, sn, semi ? ";" : "");
	return 0;
}

/* "(using VERSION with cipher CIPHER)" */
static void
part_tls(struct writer *w, const struct received_info *ri, bool semi)
{
	char ver[CLIENT_MAX], ciph[CLIENT_MAX];
	size_t vl, cl;

	vl = clean(ri->tls_version, strnlen(ri->tls_version, TLS_NAME_MAX),
	    ver);
	cl = clean(ri->tls_cipher, strnlen(ri->tls_cipher, TLS_NAME_MAX),
	    ciph);
	newline(w);
	token(w, "(using", 6);
	token(w, ver, vl);
	token(w, "with", 4);
	token(w, "cipher", 6);
	token3(w, "", ciph, cl, semi ? ");" : ")");
}

static bool
rcpt_ok(const struct received_info *ri)
{
	if (ri->nrcpt != 1 || ri->rcpt == NULL || ri->rcpt_len == 0 ||
	    ri->rcpt_len > RCPT_MAX)
		return false;
	for (size_t i = 0; i < ri->rcpt_len; i++)
		if ((unsigned char)ri->rcpt[i] < ' ' || ri->rcpt[i] == 127)
			return false;
	return true;
}

int
received_format(const struct received_info *ri, char *buf, size_t cap,
    size_t *len)
{
	struct writer w = { buf, cap, 0, 0, true, cap == 0 };
	char date[RECEIVED_DATE_MAX];
	bool for_ok = rcpt_ok(ri);
	bool tls_line = ri->tls && ri->tls_version && ri->tls_cipher;
	int dl = received_date(ri->when, date, sizeof date);

	*len = 0;
	if (dl < 0)
		return -1;
	if (part_from(&w, ri) < 0 ||
	    part_by(&w, ri, !for_ok && !tls_line) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (tls_line)
		part_tls(&w, ri, !for_ok);
	newline(&w);
	if (for_ok) {
		token(&w, "for", 3);
		token3(&w, "<", ri->rcpt, ri->rcpt_len, ">;");
	}
	token(&w, date, (size_t)dl);
	put(&w, "\r\n", 2);
	if (w.fail) {
		errno = ENOSPC;
		return -1;
	}
	*len = w.len;
	return 0;
}

int
received_date(time_t t, char *buf, size_t cap)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off, aoff;
	int n;

	if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		errno = EOVERFLOW;
		return -1;
	}
	off = tm.tm_gmtoff / 60;
	aoff = off < 0 ? -off : off;
	n = snprintf(buf, cap, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', aoff / 60 % 100, aoff % 60);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}
