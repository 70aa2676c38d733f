/*
 * fuzz_addrlist.c - libFuzzer target for addrlist_rewrite() /
 * addrlist_count().
 *
 * Invariants checked on every input:
 *   - count and rewrite agree on validity; on error the output is empty
 *     and a syntax error never reaches the callback;
 *   - the identity callback (and no callback) gives the input back byte
 *     for byte;
 *   - a callback replacing every address with one fixed, longer address:
 *     the output is the input with exactly the reported spans replaced
 *     (so removing the replacements gives the input back), in order and
 *     without overlap, and it is again a list of the same shape.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define MAX_IN   8192
#define MAX_SPANS 4096

static const char repl[] = "replacement.address@fuzz.example.invalid";

struct spans {
	size_t n;
	size_t off[MAX_SPANS];
	size_t len[MAX_SPANS];
	bool replace;
};

static int
cb(const char *addr, size_t len, void *ctx, struct addrlist_repl *out)
{
	struct spans *s = ctx;

	CHECK(len > 0 && len <= ADDRLIST_ADDR_MAX && memchr(addr, '@', len));
	CHECK(s->n < MAX_SPANS);
	s->off[s->n] = out->raw_off;
	s->len[s->n] = out->raw_len;
	s->n++;
	if (!s->replace)
		return 0;
	memcpy(out->addr, repl, sizeof repl - 1);
	out->len = sizeof repl - 1;
	return 1;
}

static void
check_replaced(const uint8_t *in, size_t size, const char *out, size_t olen,
    const struct spans *s)
{
	size_t i, ip = 0, op = 0;

	for (i = 0; i < s->n; i++) {
		size_t gap = s->off[i] - ip;

		CHECK(s->off[i] >= ip && s->off[i] + s->len[i] <= size);
		CHECK(op + gap + sizeof repl - 1 <= olen);
		CHECK(memcmp(out + op, in + ip, gap) == 0);
		op += gap;
		CHECK(memcmp(out + op, repl, sizeof repl - 1) == 0);
		op += sizeof repl - 1;
		ip = s->off[i] + s->len[i];
	}
	CHECK(olen - op == size - ip);
	CHECK(memcmp(out + op, in + ip, size - ip) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[MAX_IN * 16 + 64];
	static struct spans s;
	const char *in = (const char *)data;
	size_t m, g, m2, g2, olen = 1;
	enum addrlist_error ec, er;

	if (size > MAX_IN)
		return 0;
	ec = addrlist_count(in, size, &m, &g);
	CHECK(ec == ADDRLIST_OK || ec == ADDRLIST_ERR_SYNTAX);
	memset(&s, 0, sizeof s);
	er = addrlist_rewrite(in, size, cb, &s, out, sizeof out, &olen);
	if (ec != ADDRLIST_OK) {
		CHECK(er == ec && olen == 0 && s.n == 0 && m == 0 && g == 0);
		return 0;
	}
	if (er == ADDRLIST_ERR_TOO_LONG)
		return 0;
	CHECK(er == ADDRLIST_OK && s.n == m);
	CHECK(olen == size && memcmp(out, in, size) == 0);
	CHECK(addrlist_rewrite(in, size, NULL, NULL, out, sizeof out, &olen) ==
	    ADDRLIST_OK && olen == size && memcmp(out, in, size) == 0);
	memset(&s, 0, sizeof s);
	s.replace = true;
	CHECK(addrlist_rewrite(in, size, cb, &s, out, sizeof out, &olen) ==
	    ADDRLIST_OK && s.n == m);
	check_replaced(data, size, out, olen, &s);
	CHECK(addrlist_count(out, olen, &m2, &g2) == ADDRLIST_OK);
	CHECK(m2 == m && g2 == g);
	return 0;
}
