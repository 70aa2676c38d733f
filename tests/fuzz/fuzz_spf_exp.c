/*
 * fuzz_spf_exp.c - libFuzzer target for the exp= text macro expansion
 * (milter/spf_exp.c): any bytes as the TXT text (not NUL-terminated),
 * into a large and a small output buffer; never a crash, an out-of-bounds
 * access, or an output without its terminator.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf_exp.h"

static const char *
pname(void *arg)
{
	(void)arg;
	return "mx.example.com";
}

static void
expand(const struct spf_exp_env *e, const char *text, size_t len,
    size_t outlen)
{
	char out[1024];

	if (spf_exp_expand(e, text, len, out, outlen) == 0 &&
	    memchr(out, '\0', outlen) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_exp_env e = {
		.sender = "a.b-c@d.example.com", .domain = "d.example.com",
		.helo = "h.example.org", .receiver = "r.example.net",
		.v6 = size > 0 && (data[0] & 1), .now = 1,
		.validated_name = pname, .arg = NULL,
	};
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(e.ip, 0xab, sizeof(e.ip));
	expand(&e, copy, size, 1024);
	expand(&e, copy, size, 7);
	free(copy);
	return 0;
}
