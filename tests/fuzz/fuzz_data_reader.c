/*
 * fuzz_data_reader.c - libFuzzer target for data_reader.c.
 *
 * Input layout: byte 0 picks max_size (0 = no limit, else 1..255 * 16),
 * bytes 1-4 are a cycle of chunk sizes (1..256), the rest is the DATA
 * stream.  The stream is fed whole and in those chunks; both must consume
 * the same bytes and give the same result.  Checked too: consumed <= len,
 * a reader that is not done consumed everything it was given, a done
 * reader stopped right after CRLF "." CRLF (or ".\r\n" at the start) and
 * has a 64-hex-digit hash, size <= consumed, counts <= size, header values
 * NUL-terminated within DATA_FIELD_MAX and without NUL or edge WSP.
 * The content sink: both runs hand it the same bytes, as many as the size
 * count; when the consumed stream has no bare CR or LF, they equal an
 * unstuffing done here line by line (drop the first "." of every CRLF
 * line, stop at the line "."; an unfinished last line loses its leading
 * "." and a trailing CR, which the reader still holds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_reader.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

struct outcome {
	bool done;
	size_t consumed;
	struct data_reader_result res;
	char *content;          /* what the sink got; as long as the input */
	size_t clen;
};

static void
sink(void *arg, const char *buf, size_t len)
{
	struct outcome *o = arg;

	CHECK(len > 0);
	memcpy(o->content + o->clen, buf, len);
	o->clen += len;
}

static void
run(const char *buf, size_t len, size_t max_size, const uint8_t *sizes,
    struct outcome *out)
{
	struct data_reader *dr = data_reader_new(max_size);
	size_t off = 0, k = 0;
	bool done = false;

	CHECK(dr != NULL);
	out->clen = 0;
	out->content = malloc(len ? len : 1);
	CHECK(out->content != NULL);
	data_reader_set_sink(dr, sink, out);
	while (off < len && !done) {
		size_t chunk = sizes ? (size_t)sizes[k++ % 4] + 1 : len - off;
		size_t n;
		if (chunk > len - off)
			chunk = len - off;
		n = data_reader_feed(dr, buf + off, chunk, &done);
		CHECK(n <= chunk);
		CHECK(done || n == chunk);
		off += n;
	}
	out->done = done;
	out->consumed = off;
	out->res = *data_reader_result(dr);
	data_reader_free(dr);
}

static void
check_field(const char *f)
{
	size_t n = strlen(f);

	CHECK(n <= DATA_FIELD_MAX);
	if (n > 0) {
		CHECK(f[0] != ' ' && f[0] != '\t');
		CHECK(f[n - 1] != ' ' && f[n - 1] != '\t');
	}
}

static void
check(const char *buf, size_t len, const struct outcome *o)
{
	const struct data_reader_result *r = &o->res;

	CHECK(o->consumed <= len);
	CHECK(r->size <= o->consumed);
	CHECK(r->bare_cr + r->bare_lf + r->nul_bytes <= r->size);
	check_field(r->message_id);
	check_field(r->subject);
	if (!o->done) {
		CHECK(o->consumed == len);
		CHECK(r->body_sha256[0] == '\0');
		return;
	}
	CHECK(o->consumed >= 3);
	CHECK(memcmp(buf + o->consumed - 3, ".\r\n", 3) == 0);
	CHECK(o->consumed == 3 ||
	    memcmp(buf + o->consumed - 5, "\r\n", 2) == 0);
	CHECK(strlen(r->body_sha256) == 64);
	CHECK(strspn(r->body_sha256, "0123456789abcdef") == 64);
}

/* No LF without CR before it, no CR without LF after it (a CR ending the
 * span is not yet known to be bare). */
static bool
crlf_only(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return false;
		if (p[i] == '\r' && i + 1 < n && p[i + 1] != '\n')
			return false;
	}
	return true;
}

/* The content of p[0..n), which has CRLF line ends only, unstuffed. */
static size_t
unstuff(const char *p, size_t n, char *out)
{
	size_t pos = 0, o = 0;

	while (pos < n) {
		const char *eol = memmem(p + pos, n - pos, "\r\n", 2);
		size_t end = eol ? (size_t)(eol - p) + 2 : n;
		size_t from = pos;
		if (eol && end - pos == 3 && p[pos] == '.')
			break;
		if (p[from] == '.')
			from++;
		if (!eol && end > from && p[end - 1] == '\r')
			end--;
		memcpy(out + o, p + from, end - from);
		o += end - from;
		pos = eol ? (size_t)(eol - p) + 2 : n;
	}
	return o;
}

static void
check_content(const char *buf, const struct outcome *whole,
    const struct outcome *chunked)
{
	char *ref;
	size_t rlen;

	CHECK(whole->clen == whole->res.size);
	CHECK(whole->clen == chunked->clen);
	CHECK(memcmp(whole->content, chunked->content, whole->clen) == 0);
	if (!crlf_only(buf, whole->consumed))
		return;
	ref = malloc(whole->consumed ? whole->consumed : 1);
	CHECK(ref != NULL);
	rlen = unstuff(buf, whole->consumed, ref);
	CHECK(rlen == whole->clen);
	CHECK(memcmp(ref, whole->content, rlen) == 0);
	free(ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, chunked;
	size_t max_size;
	char *buf;

	if (size < 5)
		return 0;
	max_size = (size_t)data[0] * 16;
	size -= 5;
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 5, size);
	run(buf, size, max_size, NULL, &whole);
	run(buf, size, max_size, data + 1, &chunked);
	check(buf, size, &whole);
	CHECK(whole.done == chunked.done);
	CHECK(whole.consumed == chunked.consumed);
	CHECK(memcmp(&whole.res, &chunked.res, sizeof(whole.res)) == 0);
	if (max_size > 0)
		CHECK(whole.res.too_big == (whole.res.size > max_size));
	check_content(buf, &whole, &chunked);
	free(whole.content);
	free(chunked.content);
	free(buf);
	return 0;
}
