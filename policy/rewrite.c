/*
 * rewrite.c - envelope address rewriting through an address map.
 *
 * Public functions: see rewrite.h.
 *
 * The new address is built as "<local@domain>" and handed to
 * address_parse() (SMTPUTF8 allowed: the map may hold U-labels turned into
 * A-labels, a local part may be UTF-8 as sent): one place decides what an
 * address is and what its limits are, so a rewritten address can never be
 * one that cutoverd would have refused from a client.  The "changed" test
 * compares the bytes, so an entry mapping an address to itself is SAME.
 */
#include <stdio.h>
#include <string.h>

#include "rewrite.h"

#define PATH_BUF (ADDRESS_PATH_MAX * 4 + 8)

static enum rewrite_result
build(const struct address *in, const char *val, struct address *out)
{
	char path[PATH_BUF];
	size_t used;
	int n;

	if (val[0] == '@')
		n = snprintf(path, sizeof path, "<%s%s>", in->local, val);
	else
		n = snprintf(path, sizeof path, "<%s>", val);
	if (n < 0 || (size_t)n >= sizeof path)
		return REWRITE_ERROR;
	if (address_parse(path, (size_t)n, true, out, &used) != ADDRESS_OK ||
	    used != (size_t)n)
		return REWRITE_ERROR;
	if (strcmp(out->local, in->local) == 0 &&
	    strcmp(out->domain, in->domain) == 0)
		return REWRITE_SAME;
	return REWRITE_CHANGED;
}

static enum rewrite_result
rewrite(const struct addrmap *map, const struct address *in,
    struct address *out)
{
	enum rewrite_result r;
	const char *val;

	*out = *in;
	if (map == NULL || (in->flags & (ADDRESS_NULL | ADDRESS_NO_DOMAIN)))
		return REWRITE_SAME;
	val = addrmap_lookup(map, in->local, in->local_len, in->domain,
	    in->domain_len);
	if (val == NULL)
		return REWRITE_SAME;
	r = build(in, val, out);
	if (r != REWRITE_CHANGED)
		*out = *in;
	return r;
}

enum rewrite_result
rewrite_recipient(const struct addrmap *map, const struct address *in,
    struct address *out)
{
	return rewrite(map, in, out);
}

enum rewrite_result
rewrite_sender(const struct addrmap *map, const struct address *in,
    struct address *out)
{
	return rewrite(map, in, out);
}

const char *
rewrite_result_text(enum rewrite_result r)
{
	switch (r) {
	case REWRITE_ERROR:
		return "rewritten address would exceed RFC 5321 limits";
	case REWRITE_SAME:
		return "not rewritten";
	case REWRITE_CHANGED:
		return "rewritten";
	}
	return "unknown rewrite result";
}
