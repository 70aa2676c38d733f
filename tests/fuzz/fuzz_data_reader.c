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
};

static void
run(const char *buf, size_t len, size_t max_size, const uint8_t *sizes,
    struct outcome *out)
{
	struct data_reader *dr = data_reader_new(max_size);
	size_t off = 0, k = 0;
	bool done = false;

	CHECK(dr != NULL);
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
	free(buf);
	return 0;
}
