/*
 * fuzz_address.c - libFuzzer target for address_parse() / address_format().
 *
 * Every input is parsed in both SMTPUTF8 modes.  Invariants checked:
 *   - success: consumed is within the input, covers "<...>", the outputs
 *     are NUL-terminated with the lengths reported and within the limits;
 *     without SMTPUTF8 nothing non-ASCII gets through; formatting and
 *     parsing again gives the same mailbox (the route is dropped);
 *     an address good without SMTPUTF8 is the same with it;
 *   - error: consumed is 0 and the outputs are empty.
 * A broken invariant aborts, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void
check_ok(const uint8_t *data, size_t size, bool utf8, const struct address *a,
    size_t consumed)
{
	char buf[ADDRESS_LOCAL_MAX * 4 + ADDRESS_DOMAIN_MAX + 8];
	struct address again;
	size_t i, used;
	int n;

	CHECK(consumed >= 2 && consumed <= size && consumed <= ADDRESS_PATH_MAX);
	CHECK(data[0] == '<' && data[consumed - 1] == '>');
	CHECK(strlen(a->local) == a->local_len && a->local_len <= ADDRESS_LOCAL_MAX);
	CHECK(strlen(a->domain) == a->domain_len && a->domain_len <= ADDRESS_DOMAIN_MAX);
	for (i = 0; !utf8 && i < a->local_len; i++)
		CHECK((unsigned char)a->local[i] < 0x80);
	for (i = 0; !utf8 && i < a->domain_len; i++)
		CHECK((unsigned char)a->domain[i] < 0x80);
	CHECK(utf8 || !(a->flags & ADDRESS_UTF8));
	buf[0] = '<';
	n = address_format(a, buf + 1, sizeof buf - 2);
	CHECK(n >= 0 && (size_t)n == strlen(buf + 1));
	buf[n + 1] = '>';
	CHECK(address_parse(buf, (size_t)n + 2, utf8, &again, &used) == ADDRESS_OK);
	CHECK(used == (size_t)n + 2);
	CHECK(again.flags == (a->flags & ~(unsigned)ADDRESS_ROUTED));
	CHECK(strcmp(again.local, a->local) == 0);
	CHECK(strcmp(again.domain, a->domain) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct address a[2];
	size_t consumed[2];
	enum address_error e[2];
	int m;

	for (m = 0; m < 2; m++) {
		e[m] = address_parse((const char *)data, size, m == 1, &a[m],
		    &consumed[m]);
		if (e[m] == ADDRESS_OK) {
			check_ok(data, size, m == 1, &a[m], consumed[m]);
		} else {
			CHECK(consumed[m] == 0 && a[m].flags == 0);
			CHECK(a[m].local[0] == '\0' && a[m].domain[0] == '\0');
			CHECK(address_error_text(e[m])[0] != '\0');
		}
	}
	if (e[0] == ADDRESS_OK) {
		CHECK(e[1] == ADDRESS_OK && consumed[0] == consumed[1]);
		CHECK(a[0].flags == a[1].flags);
		CHECK(strcmp(a[0].local, a[1].local) == 0);
		CHECK(strcmp(a[0].domain, a[1].domain) == 0);
	}
	return 0;
}
