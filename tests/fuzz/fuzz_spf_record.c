/*
 * fuzz_spf_record.c - libFuzzer target for the SPF record pre-validator
 * (milter/spf_record.c): any bytes as a DNS TXT record, never a crash,
 * an out-of-bounds read (the input is not NUL-terminated) or a problem
 * text without its terminator.  A valid record without NUL bytes is also
 * rewritten (milter/spf_rewrite.c) for an IPv4 and an IPv6 client, and
 * the rewritten record must itself be valid.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf_record.h"
#include "spf_rewrite.h"

static void
check_rewrite(const char *rec, size_t len, int v6)
{
	char problem[96];
	char *out = spf_rewrite(rec, len, v6);

	if (out == NULL)
		return;
	if (spf_record_check(out, strlen(out), problem, sizeof(problem)) != 0)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char problem[96];
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	problem[0] = '\0';
	if (spf_record_check(copy, size, problem, sizeof(problem)) != 0 &&
	    memchr(problem, '\0', sizeof(problem)) == NULL)
		abort();
	(void)spf_record_is_spf(copy, size);
	if (spf_record_check(copy, size, NULL, 0) == 0 &&
	    memchr(copy, '\0', size) == NULL) {
		check_rewrite(copy, size, 0);
		check_rewrite(copy, size, 1);
	}
	free(copy);
	return 0;
}
