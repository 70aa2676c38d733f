/*
 * data_reader.c - the DATA phase byte machine (RFC 5321 4.1.1.4 end of data,
 * 4.5.2 transparency, 4.5.3.1.6 line length; RFC 5322 2.2, 2.2.3 header
 * fields and unfolding), pure apart from OpenSSL's SHA-256.
 *
 * Public functions: data_reader_new(), data_reader_free(),
 * data_reader_feed(), data_reader_result(), data_reader_set_sink().
 *
 * The machine.  A "line" ends with CRLF and only CRLF; a CR not followed by
 * LF (bare CR), an LF not preceded by CR (bare LF) and NUL are content,
 * counted, and never end anything.  States:
 *
 *   LINE_START  after CRLF (the DATA command's CRLF counts: the first byte
 *               is at line start, so ".\r\n" alone is an empty message)
 *   IN_LINE     inside a line
 *   CR          a CR inside a line, not yet known to be bare
 *   DOT         "." at line start
 *   DOT_CR      ".\r" at line start
 *   END         ".\r\n" at line start seen: the message is complete
 *
 * Byte classes are OTHER, CR, LF, DOT, NUL; `table` gives for each state and
 * class the next state and the actions, applied in this order: DROP the
 * dot held in DOT/DOT_CR (transparency, RFC 5321 4.5.2: the first "." of
 * any line that is not the end marker is deleted), BARE_CR (flush the CR
 * held in CR/DOT_CR as a bare CR), EMIT the byte as content, EOL (a CRLF
 * line end), END.  So "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n",
 * ".\n" at line start and "\r\n\0.\r\n" are all content.  In IN_LINE, runs
 * of bytes that are not CR, LF or NUL are taken in one go; the positions of
 * the next CR, LF and NUL are found with memchr and remembered for the rest
 * of the chunk, so scanning stays linear whatever the mix of bytes.
 *
 * The content (unstuffed, CRLF line ends) goes to the sink when one is set
 * (the two places content leaves the machine, emit() and emit_eol(), are
 * the only callers, so the sink sees exactly what is counted), to the size
 * count and then
 * either to the header scanner or, after the blank line ending the header
 * section, to SHA-256.  The header scanner keeps only the field name being
 * read (16 bytes) and the value of a wanted field (DATA_FIELD_MAX bytes), so
 * the reader's memory is a fixed struct whatever the message: Message-ID and
 * Subject are captured case-insensitively (WSP before the colon accepted,
 * RFC 5322 4.5 obs-hdr), unfolded (CRLF WSP -> WSP), WSP trimmed at both
 * ends, NUL bytes dropped (the results are C strings), cut at DATA_FIELD_MAX
 * bytes without leaving half a UTF-8 sequence; the first occurrence wins.
 * A message without a blank line is all header: its body is empty.
 *
 * Limits never stop the reader (the sender must be able to reach the dot to
 * hear our reply): size > max_size sets too_big (max_size 0: no limit), a
 * line longer than MAX_DATA_LINE_LENGTH octets as received, CRLF included,
 * sets line_too_long.  If SHA-256 fails, body_sha256 is "".
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "data_reader.h"
#include "limits_default.h"

enum state { S_LINE_START, S_IN_LINE, S_CR, S_DOT, S_DOT_CR, S_END };
enum cls { C_OTHER, C_CR, C_LF, C_DOT, C_NUL, C__COUNT };
enum { A_DROP = 1, A_BARE_CR = 2, A_EMIT = 4, A_EOL = 8, A_END = 16 };

struct transition {
	unsigned char next;
	unsigned char act;
};

static const struct transition table[S_END][C__COUNT] = {
	[S_LINE_START] = {
		[C_OTHER] = { S_IN_LINE, A_EMIT },
		[C_CR]    = { S_CR, 0 },
		[C_LF]    = { S_IN_LINE, A_EMIT },
		[C_DOT]   = { S_DOT, 0 },
		[C_NUL]   = { S_IN_LINE, A_EMIT },
	},
	[S_IN_LINE] = {
		[C_OTHER] = { S_IN_LINE, A_EMIT },
		[C_CR]    = { S_CR, 0 },
		[C_LF]    = { S_IN_LINE, A_EMIT },
		[C_DOT]   = { S_IN_LINE, A_EMIT },
		[C_NUL]   = { S_IN_LINE, A_EMIT },
	},
	[S_CR] = {
		[C_OTHER] = { S_IN_LINE, A_BARE_CR | A_EMIT },
		[C_CR]    = { S_CR, A_BARE_CR },
		[C_LF]    = { S_LINE_START, A_EOL },
		[C_DOT]   = { S_IN_LINE, A_BARE_CR | A_EMIT },
		[C_NUL]   = { S_IN_LINE, A_BARE_CR | A_EMIT },
	},
	[S_DOT] = {
		[C_OTHER] = { S_IN_LINE, A_DROP | A_EMIT },
		[C_CR]    = { S_DOT_CR, 0 },
		[C_LF]    = { S_IN_LINE, A_DROP | A_EMIT },
		[C_DOT]   = { S_IN_LINE, A_DROP | A_EMIT },
		[C_NUL]   = { S_IN_LINE, A_DROP | A_EMIT },
	},
	[S_DOT_CR] = {
		[C_OTHER] = { S_IN_LINE, A_DROP | A_BARE_CR | A_EMIT },
		[C_CR]    = { S_CR, A_DROP | A_BARE_CR },
		[C_LF]    = { S_END, A_END },
		[C_DOT]   = { S_IN_LINE, A_DROP | A_BARE_CR | A_EMIT },
		[C_NUL]   = { S_IN_LINE, A_DROP | A_BARE_CR | A_EMIT },
	},
};

enum field { F_NONE, F_MESSAGE_ID, F_SUBJECT };
enum hstate { H_NAME, H_AFTER_NAME, H_VALUE, H_SKIP };

#define HDR_NAME_MAX 16

struct header_scan {
	bool in_body;
	size_t line_len;            /* content bytes of this header line */
	enum hstate st;
	enum field field;           /* the field whose value is captured */
	size_t name_len;            /* may exceed HDR_NAME_MAX: no match */
	char name[HDR_NAME_MAX];
	size_t val_len;
	bool val_cut;
	char val[DATA_FIELD_MAX];
	bool got[F_SUBJECT + 1];
};

struct data_reader {
	enum state state;
	size_t max_size;
	size_t line_len;            /* bytes of this line as received */
	bool hash_ok;
	EVP_MD_CTX *md;
	struct header_scan hdr;
	struct data_reader_result res;
	data_reader_sink *sink;
	void *sink_arg;
};

/* ------------------------------------------------------------------ */
/* Header section: Message-ID and Subject                              */

static bool
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool
name_is(const struct header_scan *h, const char *lit)
{
	size_t n = strlen(lit);

	if (h->name_len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h->name[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + ('a' - 'A'));
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

static void
header_colon(struct header_scan *h)
{
	h->st = H_VALUE;
	h->field = F_NONE;
	if (name_is(h, "message-id") && !h->got[F_MESSAGE_ID])
		h->field = F_MESSAGE_ID;
	else if (name_is(h, "subject") && !h->got[F_SUBJECT])
		h->field = F_SUBJECT;
	h->val_len = 0;
	h->val_cut = false;
}

/* Drop a UTF-8 sequence left incomplete by the cut at DATA_FIELD_MAX. */
static size_t
utf8_cut_back(const char *s, size_t len)
{
	size_t i = len, need;

	while (i > 0 && len - i < 4 &&
	    ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return len;
	unsigned char lead = (unsigned char)s[i - 1];
	if (lead >= 0xf0)
		need = 4;
	else if (lead >= 0xe0)
		need = 3;
	else if (lead >= 0xc0)
		need = 2;
	else
		return len;
	return (len - (i - 1) < need) ? i - 1 : len;
}

static void
header_commit(struct data_reader *dr)
{
	struct header_scan *h = &dr->hdr;
	size_t n = h->val_len;
	char *dst;

	if (h->field == F_NONE)
		return;
	if (h->val_cut)
		n = utf8_cut_back(h->val, n);
	while (n > 0 && is_wsp((unsigned char)h->val[n - 1]))
		n--;
	dst = h->field == F_MESSAGE_ID ? dr->res.message_id : dr->res.subject;
	memcpy(dst, h->val, n);
	dst[n] = '\0';
	h->got[h->field] = true;
	h->field = F_NONE;
}

static void
header_value(struct header_scan *h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\0' || (h->val_len == 0 && is_wsp(c)))
			continue;
		if (h->val_len == sizeof(h->val)) {
			h->val_cut = true;
			return;
		}
		h->val[h->val_len++] = (char)c;
	}
}

/* Field name bytes; returns how many of p[0..n) it took. */
static size_t
header_name(struct header_scan *h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && (h->st == H_NAME || h->st == H_AFTER_NAME); i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == ':')
			header_colon(h);
		else if (is_wsp(c) && h->name_len > 0)
			h->st = H_AFTER_NAME;
		else if (h->st == H_NAME && c > 32 && c < 127) {
			if (h->name_len < HDR_NAME_MAX)
				h->name[h->name_len] = (char)c;
			h->name_len++;
		} else
			h->st = H_SKIP;
	}
	return i;
}

static void
header_bytes(struct data_reader *dr, const char *p, size_t n)
{
	struct header_scan *h = &dr->hdr;

	if (n == 0)
		return;
	if (h->line_len == 0) {
		if (is_wsp((unsigned char)p[0])) {
			if (h->st != H_VALUE)
				h->st = H_SKIP;
		} else {
			header_commit(dr);
			h->st = H_NAME;
			h->name_len = 0;
		}
	}
	h->line_len += n;
	if (h->st == H_NAME || h->st == H_AFTER_NAME) {
		size_t used = header_name(h, p, n);
		p += used;
		n -= used;
	}
	if (h->st == H_VALUE && h->field != F_NONE)
		header_value(h, p, n);
}

static void
header_eol(struct data_reader *dr)
{
	struct header_scan *h = &dr->hdr;

	if (h->line_len == 0) {
		header_commit(dr);
		h->in_body = true;
		return;
	}
	h->line_len = 0;
}

/* ------------------------------------------------------------------ */
/* Content: size, header or body hash                                  */

static void
count_size(struct data_reader *dr, size_t n)
{
	struct data_reader_result *r = &dr->res;

	r->size = (r->size > SIZE_MAX - n) ? SIZE_MAX : r->size + n;
	if (dr->max_size > 0 && r->size > dr->max_size)
		r->too_big = true;
}

static void
hash(struct data_reader *dr, const void *p, size_t n)
{
	if (dr->hash_ok && EVP_DigestUpdate(dr->md, p, n) != 1)
		dr->hash_ok = false;
}

static void
emit(struct data_reader *dr, const char *p, size_t n)
{
	if (dr->sink)
		dr->sink(dr->sink_arg, p, n);
	count_size(dr, n);
	if (dr->hdr.in_body)
		hash(dr, p, n);
	else
		header_bytes(dr, p, n);
}

static void
emit_eol(struct data_reader *dr)
{
	if (dr->sink)
		dr->sink(dr->sink_arg, "\r\n", 2);
	count_size(dr, 2);
	if (dr->hdr.in_body)
		hash(dr, "\r\n", 2);
	else
		header_eol(dr);
}

static void
count_line(struct data_reader *dr, size_t n)
{
	dr->line_len += n;
	if (dr->line_len > MAX_DATA_LINE_LENGTH)
		dr->res.line_too_long = true;
}

static void
finish(struct data_reader *dr)
{
	static const char hexdigits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!dr->hdr.in_body)
		header_commit(dr);
	if (!dr->hash_ok || EVP_DigestFinal_ex(dr->md, md, &mdlen) != 1 ||
	    mdlen != 32) {
		dr->res.body_sha256[0] = '\0';
		return;
	}
	for (unsigned i = 0; i < mdlen; i++) {
		dr->res.body_sha256[2 * i] = hexdigits[md[i] >> 4];
		dr->res.body_sha256[2 * i + 1] = hexdigits[md[i] & 0xf];
	}
	dr->res.body_sha256[64] = '\0';
}

/* ------------------------------------------------------------------ */
/* The machine                                                          */

static enum cls
classify(unsigned char c)
{
	switch (c) {
	case '\r': return C_CR;
	case '\n': return C_LF;
	case '.':  return C_DOT;
	case '\0': return C_NUL;
	default:   return C_OTHER;
	}
}

static void
step(struct data_reader *dr, unsigned char c)
{
	enum cls k = classify(c);
	struct transition t = table[dr->state][k];

	count_line(dr, 1);
	if (t.act & A_BARE_CR) {
		dr->res.bare_cr++;
		emit(dr, "\r", 1);
	}
	if (t.act & A_EMIT) {
		if (k == C_LF)
			dr->res.bare_lf++;
		else if (k == C_NUL)
			dr->res.nul_bytes++;
		emit(dr, (const char *)&c, 1);
	}
	if (t.act & A_EOL) {
		emit_eol(dr);
		dr->line_len = 0;
	}
	dr->state = (enum state)t.next;
	if (t.act & A_END)
		finish(dr);
}

/* Next CR, LF and NUL at or after a position, found once per chunk. */
struct scan {
	const char *buf;
	size_t len;
	size_t at[3];               /* SIZE_MAX: not searched yet */
};

static size_t
next_of(struct scan *sc, int which, size_t from)
{
	static const int bytes[3] = { '\r', '\n', '\0' };
	const char *q;

	if (sc->at[which] == SIZE_MAX || sc->at[which] < from) {
		q = memchr(sc->buf + from, bytes[which], sc->len - from);
		sc->at[which] = q ? (size_t)(q - sc->buf) : sc->len;
	}
	return sc->at[which];
}

static size_t
run_end(struct scan *sc, size_t from)
{
	size_t stop = next_of(sc, 0, from);
	size_t lf = next_of(sc, 1, from);
	size_t nul;

	if (lf < stop)
		stop = lf;
	nul = next_of(sc, 2, from);
	return nul < stop ? nul : stop;
}

size_t
data_reader_feed(struct data_reader *dr, const char *buf, size_t len,
    bool *done)
{
	struct scan sc = { buf, len, { SIZE_MAX, SIZE_MAX, SIZE_MAX } };
	size_t i = 0;

	while (i < len && dr->state != S_END) {
		if (dr->state == S_IN_LINE) {
			size_t stop = run_end(&sc, i);
			if (stop > i) {
				count_line(dr, stop - i);
				emit(dr, buf + i, stop - i);
				i = stop;
				continue;
			}
		}
		step(dr, (unsigned char)buf[i++]);
	}
	if (done)
		*done = dr->state == S_END;
	return i;
}

struct data_reader *
data_reader_new(size_t max_size)
{
	struct data_reader *dr = calloc(1, sizeof(*dr));

	if (!dr)
		return NULL;
	dr->state = S_LINE_START;
	dr->max_size = max_size;
	dr->md = EVP_MD_CTX_new();
	if (!dr->md || EVP_DigestInit_ex(dr->md, EVP_sha256(), NULL) != 1) {
		data_reader_free(dr);
		return NULL;
	}
	dr->hash_ok = true;
	return dr;
}

void
data_reader_free(struct data_reader *dr)
{
	if (!dr)
		return;
	EVP_MD_CTX_free(dr->md);
	free(dr);
}

void
data_reader_set_sink(struct data_reader *dr, data_reader_sink *sink,
    void *arg)
{
	dr->sink = sink;
	dr->sink_arg = arg;
}

const struct data_reader_result *
data_reader_result(const struct data_reader *dr)
{
	return &dr->res;
}
