/*
 * test_data_reader.c - the DATA byte machine.
 *
 * Tables (got/want): every end-of-data look-alike (input bytes -> done,
 * consumed, size, bare CR / bare LF / NUL counts, body), dot-unstuffing,
 * header extraction (Message-ID / Subject: case, folding, trimming, cut,
 * first wins).  Each table row is fed whole, byte by byte and in seeded
 * random chunks, which must all give the same result.  The body hash is
 * checked against SHA-256 computed here with EVP over the expected body.
 * A seeded random round trip dot-stuffs random content the way a client
 * does and checks the reader gives back exactly that content.
 * The content sink: every run collects what the sink got, which must be
 * the same for every chunking, as long as the size count, and (after the
 * header section) hash to the body hash; a table gives the exact content
 * for each end-of-data look-alike; the round trip compares it with the
 * content before stuffing; it goes on past max_size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "data_reader.h"
#include "limits_default.h"

#define S(x) x, sizeof(x) - 1
#define SHA256_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
sha256_hex(const char *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	assert_non_null(c);
	assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(c, p, n), 1);
	assert_int_equal(EVP_DigestFinal_ex(c, md, &len), 1);
	EVP_MD_CTX_free(c);
	assert_int_equal(len, 32);
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

struct run {
	bool done;
	size_t consumed;
	struct data_reader_result res;
	char *content;          /* what the sink got */
	size_t clen;
	size_t ccap;
};

static void
sink(void *arg, const char *buf, size_t len)
{
	struct run *r = arg;

	assert_true(len > 0);
	if (r->clen + len > r->ccap) {
		r->ccap = (r->clen + len) * 2;
		r->content = realloc(r->content, r->ccap);
		assert_non_null(r->content);
	}
	memcpy(r->content + r->clen, buf, len);
	r->clen += len;
}

static void
run_free(struct run *r)
{
	free(r->content);
	r->content = NULL;
}

/* Feed `in` in chunks: chunk 0 = whole, 1 = byte by byte, otherwise
 * random sizes from `seed`.  Checks the feed contract on the way. */
static void
feed(const char *in, size_t len, size_t max_size, int mode, unsigned seed,
    struct run *out)
{
	struct data_reader *dr = data_reader_new(max_size);
	size_t off = 0;
	bool done = false;

	assert_non_null(dr);
	out->consumed = 0;
	out->content = NULL;
	out->clen = out->ccap = 0;
	data_reader_set_sink(dr, sink, out);
	while (off < len && !done) {
		size_t chunk = mode == 0 ? len - off : mode == 1 ? 1 :
		    1 + (size_t)rand_r(&seed) % 17;
		size_t n;
		if (chunk > len - off)
			chunk = len - off;
		n = data_reader_feed(dr, in + off, chunk, &done);
		assert_true(n <= chunk);
		if (!done)
			assert_int_equal(n, chunk);
		off += n;
		out->consumed += n;
	}
	if (done) {
		bool again = false;
		assert_int_equal(data_reader_feed(dr, "x\r\n", 3, &again), 0);
		assert_true(again);
	}
	out->done = done;
	out->res = *data_reader_result(dr);
	data_reader_free(dr);
}

static void
assert_same(const struct run *a, const struct run *b)
{
	assert_int_equal(a->done, b->done);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->res.size, b->res.size);
	assert_int_equal(a->res.too_big, b->res.too_big);
	assert_int_equal(a->res.bare_cr, b->res.bare_cr);
	assert_int_equal(a->res.bare_lf, b->res.bare_lf);
	assert_int_equal(a->res.nul_bytes, b->res.nul_bytes);
	assert_int_equal(a->res.line_too_long, b->res.line_too_long);
	assert_string_equal(a->res.body_sha256, b->res.body_sha256);
	assert_string_equal(a->res.message_id, b->res.message_id);
	assert_string_equal(a->res.subject, b->res.subject);
	assert_int_equal(a->clen, b->clen);
	assert_memory_equal(a->content, b->content, a->clen);
}

/* The sink got `size` octets whose part after the header section hashes
 * to the body hash. */
static void
assert_content_consistent(const struct run *r)
{
	const char *c = r->content ? r->content : "";
	size_t n = r->clen, body = n;
	char want[65];

	assert_int_equal(r->clen, r->res.size);
	if (!r->done)
		return;
	if (n >= 2 && c[0] == '\r' && c[1] == '\n')
		body = 2;
	for (size_t i = 0; body == n && i + 4 <= n; i++)
		if (memcmp(c + i, "\r\n\r\n", 4) == 0)
			body = i + 4;
	sha256_hex(c + body, n - body, want);
	assert_string_equal(r->res.body_sha256, want);
}

/* Whole, byte by byte and 20 random chunkings agree; returns the whole. */
static void
feed_all_ways(const char *in, size_t len, size_t max_size, struct run *out)
{
	struct run other;

	feed(in, len, max_size, 0, 0, out);
	assert_content_consistent(out);
	feed(in, len, max_size, 1, 0, &other);
	assert_same(out, &other);
	run_free(&other);
	for (unsigned seed = 1; seed <= 20; seed++) {
		feed(in, len, max_size, 2, seed, &other);
		assert_same(out, &other);
		run_free(&other);
	}
}

/* ------------------------------------------------------------------ */

struct eod_case {
	const char *in;
	size_t inlen;
	bool done;
	size_t consumed;
	size_t size;
	size_t bare_cr, bare_lf, nul;
	const char *body;       /* NULL: no body hash expected (not done) */
	size_t bodylen;
};

static const struct eod_case eod_cases[] = {
	/* the real end: CRLF "." CRLF, the DATA command's CRLF counts */
	{ S(".\r\n"), true, 3, 0, 0, 0, 0, S("") },
	{ S(".\r\nQUIT\r\n"), true, 3, 0, 0, 0, 0, S("") },
	{ S("\r\n.\r\n"), true, 5, 2, 0, 0, 0, S("") },
	{ S("\r\n\r\n.\r\n"), true, 7, 4, 0, 0, 0, S("\r\n") },
	{ S("\r\nhello\r\n.\r\n"), true, 12, 9, 0, 0, 0, S("hello\r\n") },
	{ S("\r\nhello\r\n.\r\nMAIL FROM:<>\r\n"), true, 12, 9, 0, 0, 0,
	  S("hello\r\n") },
	{ S("Subject: x\r\n\r\nbody\r\n.\r\n"), true, 23, 20, 0, 0, 0,
	  S("body\r\n") },
	{ S("no header end\r\n.\r\n"), true, 18, 15, 0, 0, 0, S("") },
	/* \n.\n */
	{ S("\r\nx\n.\n"), false, 6, 6, 0, 2, 0, NULL, 0 },
	{ S("\r\nx\n.\ny\r\n.\r\n"), true, 12, 9, 0, 2, 0, S("x\n.\ny\r\n") },
	/* \r.\r */
	{ S("\r\nx\r.\r"), false, 6, 5, 1, 0, 0, NULL, 0 },
	{ S("\r\nx\r.\ry\r\n.\r\n"), true, 12, 9, 2, 0, 0, S("x\r.\ry\r\n") },
	/* \n.\r\n */
	{ S("\r\nx\n.\r\n"), false, 7, 7, 0, 1, 0, NULL, 0 },
	{ S("\r\nx\n.\r\n.\r\n"), true, 10, 7, 0, 1, 0, S("x\n.\r\n") },
	{ S("\r\nx\r\n\n.\r\n.\r\n"), true, 12, 9, 0, 1, 0,
	  S("x\r\n\n.\r\n") },
	/* \r\n.\n : the dot starts a line, so it is a stuffing dot */
	{ S("\r\nx\r\n.\n"), false, 7, 6, 0, 1, 0, NULL, 0 },
	{ S("\r\nx\r\n.\ny\r\n.\r\n"), true, 13, 9, 0, 1, 0,
	  S("x\r\n\ny\r\n") },
	/* \r.\r\n */
	{ S("\r\nx\r.\r\n"), false, 7, 7, 1, 0, 0, NULL, 0 },
	{ S("\r\nx\r.\r\n.\r\n"), true, 10, 7, 1, 0, 0, S("x\r.\r\n") },
	/* .\n at line start (the very first line) */
	{ S(".\n"), false, 2, 1, 0, 1, 0, NULL, 0 },
	{ S(".\nfoo\r\n.\r\n"), true, 10, 6, 0, 1, 0, S("") },
	/* \r\n\0.\r\n */
	{ S("\r\n\0.\r\n"), false, 6, 6, 0, 0, 1, NULL, 0 },
	{ S("\r\n\0.\r\n.\r\n"), true, 9, 6, 0, 0, 1, S("\0.\r\n") },
	/* .\r followed by something else than LF */
	{ S("\r\n.\r.\r\n.\r\n"), true, 10, 6, 1, 0, 0, S("\r.\r\n") },
	{ S("\r\n.\r\r\n.\r\n"), true, 9, 5, 1, 0, 0, S("\r\r\n") },
	{ S("\r\n.\rx\r\n.\r\n"), true, 10, 6, 1, 0, 0, S("\rx\r\n") },
	{ S("\r\n.\r\0\r\n.\r\n"), true, 10, 6, 1, 0, 1, S("\r\0\r\n") },
	{ S("\r\nab\r\r\n.\r\n"), true, 10, 7, 1, 0, 0, S("ab\r\r\n") },
	{ S("\r\n\r\r\n.\r\n"), true, 8, 5, 1, 0, 0, S("\r\r\n") },
	{ S("\r\n\n\n.\r\n"), false, 7, 7, 0, 2, 0, NULL, 0 },
	/* dot-unstuffing: the first "." of a line that is not the end */
	{ S("\r\n..\r\n...x\r\n.\r\n"), true, 15, 10, 0, 0, 0,
	  S(".\r\n..x\r\n") },
	{ S("\r\n.x\r\n.\r\n"), true, 9, 5, 0, 0, 0, S("x\r\n") },
	{ S("\r\n.\0\r\n.\r\n"), true, 9, 5, 0, 0, 1, S("\0\r\n") },
	{ S("\r\nx.\r\n.\r\n"), true, 9, 6, 0, 0, 0, S("x.\r\n") },
	/* incomplete terminators */
	{ S("\r\nx\r\n."), false, 6, 5, 0, 0, 0, NULL, 0 },
	{ S("\r\nx\r\n.\r"), false, 7, 5, 0, 0, 0, NULL, 0 },
	{ S("\r\nx\r\n"), false, 5, 5, 0, 0, 0, NULL, 0 },
	{ S(""), false, 0, 0, 0, 0, 0, NULL, 0 },
};

static void
test_end_of_data_table(void **state)
{
	for (size_t i = 0; i < sizeof(eod_cases) / sizeof(eod_cases[0]); i++) {
		const struct eod_case *c = &eod_cases[i];
		struct run r;
		char want[65];

		print_message("case %zu\n", i);
		feed_all_ways(c->in, c->inlen, 0, &r);
		assert_int_equal(r.done, c->done);
		assert_int_equal(r.consumed, c->consumed);
		assert_int_equal(r.res.size, c->size);
		assert_int_equal(r.res.bare_cr, c->bare_cr);
		assert_int_equal(r.res.bare_lf, c->bare_lf);
		assert_int_equal(r.res.nul_bytes, c->nul);
		assert_false(r.res.too_big);
		assert_false(r.res.line_too_long);
		if (c->body) {
			sha256_hex(c->body, c->bodylen, want);
			assert_string_equal(r.res.body_sha256, want);
		} else {
			assert_string_equal(r.res.body_sha256, "");
		}
		run_free(&r);
	}
}

static void
test_empty_body_hash(void **state)
{
	struct run r;

	feed_all_ways(S(".\r\n"), 0, &r);
	assert_string_equal(r.res.body_sha256, SHA256_EMPTY);
	assert_int_equal(r.clen, 0);
	run_free(&r);
}

/* ------------------------------------------------------------------ */

struct hdr_case {
	const char *in;
	size_t inlen;
	const char *msgid;
	const char *subject;
};

#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A61 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A255 A64 A64 A64 A61 "aa"

static const struct hdr_case hdr_cases[] = {
	{ S("Subject: hello\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n.\r\n"),
	  "<a@b>", "hello" },
	{ S("SUBJECT: x\r\nmessage-id: <m>\r\n\r\n.\r\n"), "<m>", "x" },
	{ S("sUbJeCt:no-space\r\n\r\n.\r\n"), "", "no-space" },
	{ S("Subject: a\r\n b\r\n\tc\r\n\r\n.\r\n"), "", "a b\tc" },
	{ S("Subject: \t  hi there \t\r\n\r\n.\r\n"), "", "hi there" },
	{ S("Subject:\r\n   folded\r\n\r\n.\r\n"), "", "folded" },
	{ S("Subject:   \r\n \r\n\t\r\n\r\n.\r\n"), "", "" },
	{ S("Message-ID:\r\n <x@y>\r\n\r\n.\r\n"), "<x@y>", "" },
	{ S("Subject: one\r\nSubject: two\r\n\r\n.\r\n"), "", "one" },
	{ S("Subject:\r\nSubject: two\r\n\r\n.\r\n"), "", "" },
	{ S("Message-ID: <1>\r\nMessage-Id: <2>\r\n\r\n.\r\n"), "<1>", "" },
	{ S("Subject : obs\r\n\r\n.\r\n"), "", "obs" },
	{ S("Subject \t: obs2\r\n\r\n.\r\n"), "", "obs2" },
	{ S("Subjects: x\r\nX-Subject: y\r\nSub ject: z\r\n\r\n.\r\n"),
	  "", "" },
	{ S("From: a\r\n\r\nSubject: in body\r\n.\r\n"), "", "" },
	{ S("\r\nSubject: in body\r\n.\r\n"), "", "" },
	{ S("Subject: only headers\r\n.\r\n"), "", "only headers" },
	{ S("Subject: a\0b\r\n\r\n.\r\n"), "", "ab" },
	{ S("Subject: a\nb\r\n\r\n.\r\n"), "", "a\nb" },
	{ S("Subject: a\rb\r\n\r\n.\r\n"), "", "a\rb" },
	{ S("X-Very-Long-Header-Name-Beyond-Sixteen: y\r\nSubject: z\r\n"
	    "\r\n.\r\n"), "", "z" },
	{ S("garbage line\r\n Subject: no\r\nSubject: yes\r\n\r\n.\r\n"),
	  "", "yes" },
	{ S(": empty name\r\nSubject: s\r\n\r\n.\r\n"), "", "s" },
	{ S(" Subject: leading wsp\r\n\r\n.\r\n"), "", "" },
	{ S("X-A: 1\r\n Subject: continuation\r\n\r\n.\r\n"), "", "" },
	{ S("..Subject: stuffed\r\n\r\n.\r\n"), "", "" },
	{ S(".Subject: stuffed\r\n\r\n.\r\n"), "", "stuffed" },
	{ S("Subject: a\r\n .b\r\n\r\n.\r\n"), "", "a .b" },
	{ S("Subject: \xc3\xa9t\xc3\xa9\r\n\r\n.\r\n"), "", "\xc3\xa9t\xc3\xa9" },
	/* cut at DATA_FIELD_MAX bytes, never inside a UTF-8 sequence */
	{ S("Subject: " A255 "aaaaaaaaaa\r\n\r\n.\r\n"), "", A255 "a" },
	{ S("Subject: " A255 "\xc3\xa9\r\n\r\n.\r\n"), "", A255 },
	{ S("Subject: " A255 "a\xe2\x82\xac\r\n\r\n.\r\n"), "", A255 "a" },
	{ S("Subject: " A64 "\r\n " A64 "\r\n " A64 "\r\n " A64 "\r\n\r\n.\r\n"),
	  "", A64 " " A64 " " A64 " " A61 },
};

static void
test_header_table(void **state)
{
	for (size_t i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		struct run r;

		print_message("case %zu\n", i);
		feed_all_ways(c->in, c->inlen, 0, &r);
		assert_true(r.done);
		assert_int_equal(r.consumed, c->inlen);
		assert_string_equal(r.res.message_id, c->msgid);
		assert_string_equal(r.res.subject, c->subject);
		run_free(&r);
	}
}

/* ------------------------------------------------------------------ */

static void
test_size_limit(void **state)
{
	static const char msg[] = "\r\n12345678\r\n.\r\nQUIT\r\n";
	static const struct { size_t max; bool too_big; } cases[] = {
		{ 0, false }, { 12, false }, { 100, false }, { 11, true },
		{ 1, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;
		char want[65];

		feed_all_ways(msg, sizeof(msg) - 1, cases[i].max, &r);
		assert_true(r.done);
		assert_int_equal(r.consumed, 15);
		assert_int_equal(r.res.size, 12);
		assert_int_equal(r.res.too_big, cases[i].too_big);
		sha256_hex(S("12345678\r\n"), want);
		assert_string_equal(r.res.body_sha256, want);
		assert_int_equal(r.clen, 12);
		assert_memory_equal(r.content, "\r\n12345678\r\n", 12);
		run_free(&r);
	}
}

/* A line of MAX_DATA_LINE_LENGTH octets with its CRLF is fine; one more
 * is flagged, and the reader still reads to the end. */
static void
test_line_length(void **state)
{
	size_t n = MAX_DATA_LINE_LENGTH + 16;
	char *buf = malloc(n);
	static const struct { size_t line; bool flagged; } cases[] = {
		{ MAX_DATA_LINE_LENGTH, false },
		{ MAX_DATA_LINE_LENGTH + 1, true },
		{ 1000, false },
	};

	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0, line = cases[i].line;
		struct run r;

		memcpy(buf, "\r\n", 2);
		len = 2;
		memset(buf + len, 'x', line - 2);
		len += line - 2;
		memcpy(buf + len, "\r\n.\r\n", 5);
		len += 5;
		feed(buf, len, 0, 0, 0, &r);
		assert_true(r.done);
		assert_int_equal(r.consumed, len);
		assert_int_equal(r.res.size, line + 2);
		assert_int_equal(r.res.line_too_long, cases[i].flagged);
		assert_int_equal(r.clen, len - 3);
		assert_memory_equal(r.content, buf, len - 3);
		run_free(&r);
		feed(buf, len, 0, 2, 7, &r);
		assert_int_equal(r.res.line_too_long, cases[i].flagged);
		assert_int_equal(r.clen, len - 3);
		assert_memory_equal(r.content, buf, len - 3);
		run_free(&r);
	}
	free(buf);
}

static void
test_pipelined_across_chunks(void **state)
{
	struct data_reader *dr = data_reader_new(0);
	bool done = true;

	assert_non_null(dr);
	assert_int_equal(data_reader_feed(dr, "\r\nhi\r\n.\r", 8, &done), 8);
	assert_false(done);
	assert_int_equal(data_reader_feed(dr, "\nRSET\r\n", 7, &done), 1);
	assert_true(done);
	assert_int_equal(data_reader_result(dr)->size, 6);
	assert_int_equal(data_reader_feed(dr, "RSET\r\n", 6, &done), 0);
	assert_true(done);
	data_reader_free(dr);
	data_reader_free(NULL);

	dr = data_reader_new(0);
	assert_non_null(dr);
	assert_int_equal(data_reader_feed(dr, ".\r\n", 3, NULL), 3);
	assert_string_equal(data_reader_result(dr)->body_sha256, SHA256_EMPTY);
	data_reader_free(dr);
}

/* ------------------------------------------------------------------ */

/* Content made of a few interesting bytes, dot-stuffed as a client must
 * (RFC 5321 4.5.2: a "." is added to every CRLF line starting with "."),
 * then terminated: the reader must return exactly the content. */
static size_t
make_content(char *c, size_t max, unsigned *seed)
{
	static const char alphabet[] = "ab. :\r\n\r\n\r\n\0";
	size_t n = (size_t)rand_r(seed) % (max - 2);

	for (size_t i = 0; i < n; i++)
		c[i] = alphabet[rand_r(seed) % (sizeof(alphabet) - 1)];
	if (n > 0 && c[n - 1] == '\r')
		c[n++] = '\n';
	else {
		c[n++] = '\r';
		c[n++] = '\n';
	}
	return n;
}

static size_t
stuff(const char *c, size_t n, char *w)
{
	size_t o = 0;
	bool ls = true;

	for (size_t i = 0; i < n; i++) {
		if (ls && c[i] == '.')
			w[o++] = '.';
		w[o++] = c[i];
		ls = c[i] == '\n' && i > 0 && c[i - 1] == '\r';
	}
	memcpy(w + o, ".\r\nNEXT", 7);
	return o + 7;
}

static void
expected(const char *c, size_t n, size_t *cr, size_t *lf, size_t *nul,
    char hex[65])
{
	const char *body = NULL;

	*cr = *lf = *nul = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i] == '\r' && (i + 1 == n || c[i + 1] != '\n'))
			(*cr)++;
		if (c[i] == '\n' && (i == 0 || c[i - 1] != '\r'))
			(*lf)++;
		if (c[i] == '\0')
			(*nul)++;
	}
	/* the header section ends at the first empty CRLF line */
	for (size_t i = 0; i < n && !body;) {
		const char *e = memmem(c + i, n - i, "\r\n", 2);
		if (!e)
			break;
		if ((size_t)(e - c) == i)
			body = e + 2;
		i = (size_t)(e - c) + 2;
	}
	if (body)
		sha256_hex(body, n - (size_t)(body - c), hex);
	else
		sha256_hex("", 0, hex);
}

static void
test_random_round_trip(void **state)
{
	enum { MAXC = 600 };
	char content[MAXC], wire[2 * MAXC + 8], hex[65];
	unsigned seed = 4242;

	for (int round = 0; round < 3000; round++) {
		size_t n = make_content(content, MAXC, &seed);
		size_t w = stuff(content, n, wire), cr, lf, nul;
		struct run r, other;

		feed(wire, w, 0, 0, 0, &r);
		feed(wire, w, 0, 2, (unsigned)round, &other);
		assert_same(&r, &other);
		expected(content, n, &cr, &lf, &nul, hex);
		assert_true(r.done);
		assert_int_equal(r.consumed, w - 4);
		assert_int_equal(r.res.size, n);
		assert_int_equal(r.res.bare_cr, cr);
		assert_int_equal(r.res.bare_lf, lf);
		assert_int_equal(r.res.nul_bytes, nul);
		assert_string_equal(r.res.body_sha256, hex);
		assert_int_equal(r.clen, n);
		assert_memory_equal(r.content, content, n);
		run_free(&r);
		run_free(&other);
	}
}

/* ------------------------------------------------------------------ */

struct sink_case {
	const char *in;
	size_t inlen;
	const char *content;    /* what the sink must get, in all */
	size_t clen;
};

static const struct sink_case sink_cases[] = {
	{ S(".\r\n"), S("") },
	{ S("\r\n.\r\n"), S("\r\n") },
	{ S("a\r\n.\r\nMAIL"), S("a\r\n") },
	{ S("..\r\n.\r\n"), S(".\r\n") },
	{ S("..a\r\n...b\r\nc..\r\n.\r\n"), S(".a\r\n..b\r\nc..\r\n") },
	{ S("x\n.\ny\r\n.\r\n"), S("x\n.\ny\r\n") },
	{ S("x\r.\ry\r\n.\r\n"), S("x\r.\ry\r\n") },
	{ S("x\n.\r\n.\r\n"), S("x\n.\r\n") },
	{ S("x\r\n.\ny\r\n.\r\n"), S("x\r\n\ny\r\n") },
	{ S("x\r.\r\n.\r\n"), S("x\r.\r\n") },
	{ S(".\nfoo\r\n.\r\n"), S("\nfoo\r\n") },
	{ S("\r\n\0.\r\n.\r\n"), S("\r\n\0.\r\n") },
	{ S(".\r.\r\n.\r\n"), S("\r.\r\n") },
	{ S(".\r\r\n.\r\n"), S("\r\r\n") },
	{ S("a\r\r\r\n.\r\n"), S("a\r\r\r\n") },
	{ S("no end\r\n.\r"), S("no end\r\n") },
	{ S("no end\r\n."), S("no end\r\n") },
	{ S("no end\r"), S("no end") },
	{ S("Subject: s\r\n\r\nbody\r\n.\r\n"),
	  S("Subject: s\r\n\r\nbody\r\n") },
};

static void
test_sink_table(void **state)
{
	for (size_t i = 0; i < sizeof(sink_cases) / sizeof(sink_cases[0]); i++) {
		const struct sink_case *c = &sink_cases[i];
		struct run r;

		print_message("case %zu\n", i);
		feed_all_ways(c->in, c->inlen, 0, &r);
		assert_int_equal(r.clen, c->clen);
		assert_memory_equal(r.content, c->content, c->clen);
		run_free(&r);
	}
}

/* Unset sink: nothing is called; the sink keeps getting content past
 * max_size. */
static void
test_sink_set_and_limit(void **state)
{
	static const char msg[] = "0123456789\r\n0123456789\r\n.\r\n";
	struct data_reader *dr = data_reader_new(5);
	struct run r = { 0 };
	bool done = false;

	assert_non_null(dr);
	data_reader_set_sink(dr, sink, &r);
	assert_int_equal(data_reader_feed(dr, msg, 12, &done), 12);
	assert_true(data_reader_result(dr)->too_big);
	data_reader_set_sink(dr, NULL, NULL);
	assert_int_equal(data_reader_feed(dr, msg + 12, 12, &done), 12);
	data_reader_set_sink(dr, sink, &r);
	assert_int_equal(data_reader_feed(dr, msg + 24, sizeof msg - 25, &done),
	    sizeof msg - 25);
	assert_true(done);
	assert_int_equal(r.clen, 12);
	assert_memory_equal(r.content, msg, 12);
	assert_int_equal(data_reader_result(dr)->size, 24);
	run_free(&r);
	data_reader_free(dr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_of_data_table),
		cmocka_unit_test(test_empty_body_hash),
		cmocka_unit_test(test_header_table),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_pipelined_across_chunks),
		cmocka_unit_test(test_random_round_trip),
		cmocka_unit_test(test_sink_table),
		cmocka_unit_test(test_sink_set_and_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
