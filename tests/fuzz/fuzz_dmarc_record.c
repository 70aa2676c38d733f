/*
 * fuzz_dmarc_record.c - libFuzzer target for dmarc_record_parse().
 *
 * Invariants checked on every input:
 *   - the status is one of the enum; the text for it is not empty;
 *   - spans lie inside the input, and a span is set iff its count is > 0;
 *   - OK: p is set; OK_AS_NONE: p=none, sp/np unset, a valid rua;
 *     errors: everything at its default;
 *   - pct <= 100; fo/rf only hold defined bits;
 *   - parsing is deterministic, and a record that parsed OK parses the
 *     same with bytes appended after a ";" (the length is honoured).
 * A broken invariant aborts, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc_record.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void
check_span(struct dmarc_span sp, unsigned count, size_t size)
{
	CHECK(sp.off <= size && sp.len <= size - sp.off);
	CHECK((sp.len > 0) == (count > 0));
}

static void
check_record(const struct dmarc_record *r, enum dmarc_record_status st,
    size_t size)
{
	CHECK(dmarc_record_status_text(st)[0] != '\0');
	CHECK(r->pct <= 100);
	CHECK((r->fo & ~0xfu) == 0 && (r->rf & ~3u) == 0);
	check_span(r->rua, r->rua_count, size);
	check_span(r->ruf, r->ruf_count, size);
	switch (st) {
	case DMARC_RECORD_OK:
		CHECK(r->p != DMARC_POLICY_UNSET);
		break;
	case DMARC_RECORD_OK_AS_NONE:
		CHECK(r->p == DMARC_POLICY_NONE && r->sp == DMARC_POLICY_UNSET &&
		    r->np == DMARC_POLICY_UNSET && r->rua_count > 0);
		break;
	case DMARC_RECORD_ERR_VERSION:
	case DMARC_RECORD_ERR_DUPLICATE:
	case DMARC_RECORD_ERR_POLICY:
		CHECK(r->p == DMARC_POLICY_UNSET && r->pct == 100 &&
		    r->rua_count == 0 && r->ri == 86400);
		break;
	default:
		CHECK(0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r, again;
	enum dmarc_record_status st;
	char *ext;

	st = dmarc_record_parse((const char *)data, size, &r);
	check_record(&r, st, size);
	CHECK(dmarc_record_parse((const char *)data, size, &again) == st);
	CHECK(memcmp(&r, &again, sizeof r) == 0);
	if (st != DMARC_RECORD_OK || size == 0 || data[size - 1] == ';')
		return 0;
	ext = malloc(size + 8);
	CHECK(ext != NULL);
	memcpy(ext, data, size);
	memcpy(ext + size, "; x=1;p=", 8);
	/* a trailing "p=" duplicates p: the record must turn invalid */
	CHECK(dmarc_record_parse(ext, size + 8, &again) ==
	    DMARC_RECORD_ERR_DUPLICATE);
	CHECK(dmarc_record_parse(ext, size + 6, &again) == DMARC_RECORD_OK);
	CHECK(again.p == r.p && again.pct == r.pct && again.rua_count == r.rua_count);
	free(ext);
	return 0;
}
