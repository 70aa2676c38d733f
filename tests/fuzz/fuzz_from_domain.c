/*
 * fuzz_from_domain.c - libFuzzer target for from_domain_extract().
 *
 * Each input is tried twice: as a whole header section, and as the value
 * of a single "From:" field (so the mailbox parser gets most of the runs).
 * Invariants checked:
 *   - OK: the domain is NUL-terminated with the length reported, at most
 *     FROM_DOMAIN_MAX, lowercase letters/digits/"-"/"_"/"." only, no empty
 *     label, and it occurs (case-insensitively) in the input;
 *   - error: the output is "" with length 0, and the text is not empty;
 *   - the same input gives the same answer twice.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "from_domain.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static bool
occurs(const char *hay, size_t n, const char *needle, size_t m)
{
	size_t i;

	for (i = 0; i + m <= n; i++)
		if (strncasecmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

static void
run(const char *in, size_t len)
{
	char out[FROM_DOMAIN_MAX + 1], again[FROM_DOMAIN_MAX + 1];
	size_t olen, alen, i;
	enum from_domain_error e;

	e = from_domain_extract(in, len, out, sizeof out, &olen);
	CHECK(from_domain_extract(in, len, again, sizeof again, &alen) == e);
	CHECK(alen == olen && strcmp(out, again) == 0);
	CHECK(from_domain_error_text(e)[0] != '\0');
	if (e != FROM_DOMAIN_OK) {
		CHECK(olen == 0 && out[0] == '\0');
		return;
	}
	CHECK(olen > 0 && olen <= FROM_DOMAIN_MAX && strlen(out) == olen);
	CHECK(out[0] != '.' && out[olen - 1] != '.' && strstr(out, "..") == NULL);
	for (i = 0; i < olen; i++)
		CHECK(islower((unsigned char)out[i]) || isdigit((unsigned char)out[i]) ||
		    out[i] == '-' || out[i] == '_' || out[i] == '.');
	CHECK(occurs(in, len, out, olen));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *field;

	run((const char *)data, size);
	field = malloc(size + 6);
	CHECK(field != NULL);
	memcpy(field, "From: ", 6);
	memcpy(field + 6, data, size);
	run(field, size + 6);
	free(field);
	return 0;
}
