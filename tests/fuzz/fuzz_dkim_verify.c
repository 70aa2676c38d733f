/*
 * fuzz_dkim_verify.c - libFuzzer target for the DKIM verifier
 * (milter/dkim_verify.h) fed arbitrary messages.
 *
 * The first input byte picks the body chunk size (1..64, or whole) and
 * whether line ends stay bare LF (as libmilter gives them) or not; the
 * rest is the message: header fields split at LF with folding as an MTA
 * would, then the body.  No DNS: the library has no resolver, so every key
 * lookup is a temporary failure (the signature parsing, canonicalization
 * and body hashing still run).  Invariants checked:
 *   - no crash, leak or hang (ASan/UBSan, libFuzzer's timeouts);
 *   - n <= DKIMV_MAX_SIGS and n == min(nfound, DKIMV_MAX_SIGS);
 *   - no DKIM-Signature field (nfound 0) <=> summary none;
 *   - every result is one of the RFC 8601 words, never pass without a
 *     key (so never pass here), never none for a signature;
 *   - d, s, b, reason NUL-terminated; d/s/b printable without spaces;
 *   - the same message fed whole gives the same outcome.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_verify.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static struct dkimv_lib *lib;

static void
feed(const char *m, size_t n, size_t chunk, struct dkim_outcome *out)
{
	struct dkim_verifier *v = dkimv_new(lib);
	size_t pos = 0;

	CHECK(v != NULL);
	while (pos < n && m[pos] != '\n' &&
	    !(m[pos] == '\r' && pos + 1 < n && m[pos + 1] == '\n')) {
		size_t start = pos, end;

		do {
			const char *nl = memchr(m + pos, '\n', n - pos);

			pos = nl != NULL ? (size_t)(nl - m) + 1 : n;
		} while (pos < n && (m[pos] == ' ' || m[pos] == '\t'));
		end = pos;
		if (end > start && m[end - 1] == '\n')
			end--;
		if (end > start && m[end - 1] == '\r')
			end--;
		dkimv_header(v, m + start, end - start);
	}
	if (pos < n)
		pos += m[pos] == '\r' ? 2 : 1;
	dkimv_eoh(v);
	for (; pos < n; pos += chunk)
		dkimv_body(v, m + pos, n - pos < chunk ? n - pos : chunk);
	dkimv_eom(v, out);
	dkimv_free(v);
}

static bool
clean(const char *s, size_t cap, bool spaces)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < (spaces ? 0x20 : 0x21) ||
		    (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void
check(const struct dkim_outcome *o)
{
	size_t want = o->nfound < DKIMV_MAX_SIGS ? o->nfound : DKIMV_MAX_SIGS;

	CHECK(o->n == want);
	CHECK((o->nfound == 0) == (dkimv_summary(o) == AUTHRES_NONE));
	for (size_t i = 0; i < o->n; i++) {
		const struct dkim_sig_outcome *s = &o->sig[i];

		CHECK(s->result == AUTHRES_FAIL || s->result == AUTHRES_POLICY ||
		    s->result == AUTHRES_TEMPERROR ||
		    s->result == AUTHRES_PERMERROR);
		CHECK(!s->aligned_ok);
		CHECK(clean(s->d, sizeof(s->d), false));
		CHECK(clean(s->s, sizeof(s->s), false));
		CHECK(clean(s->b, sizeof(s->b), false));
		CHECK(clean(s->reason, sizeof(s->reason), true));
		CHECK(s->reason[0] != '\0');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_outcome a, b;
	size_t chunk;
	char *m;
	size_t n = 0;
	bool lf;

	if (lib == NULL && (lib = dkimv_lib_new(NULL)) == NULL)
		abort();
	if (size < 1)
		return 0;
	chunk = (data[0] & 0x3f) + 1;
	lf = (data[0] & 0x40) != 0;
	if ((data[0] & 0x80) != 0)
		chunk = size;
	if ((m = malloc(size)) == NULL)
		return 0;
	for (size_t i = 1; i < size; i++)
		if (!(lf && data[i] == '\r' && i + 1 < size && data[i + 1] == '\n'))
			m[n++] = (char)data[i];
	feed(m, n, chunk, &a);
	check(&a);
	feed(m, n, n + 1, &b);
	check(&b);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	free(m);
	return 0;
}
