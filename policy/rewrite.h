/*
 * rewrite.h - envelope address rewriting through an address map.
 *
 * Public functions:
 *   rewrite_recipient()  recipient_map: RCPT TO address
 *   rewrite_sender()     sender_map: MAIL FROM address
 *   rewrite_result_text()
 *
 * An exact entry ("a@old b@new") replaces the whole address; a wildcard
 * ("@old @new") keeps the local part as sent and swaps the domain.  The
 * result is parsed again with address_parse(), so it always obeys RFC 5321
 * 4.5.3.1 (local 64, domain 255, path 256 octets) and carries the right
 * flags; a result over a limit is REWRITE_ERROR, never a truncation.
 * The null path "<>" and a domain-less "<postmaster>" are never rewritten.
 */
#ifndef CUTOVER_REWRITE_H
#define CUTOVER_REWRITE_H

#include "address.h"
#include "addrmap.h"

enum rewrite_result {
	REWRITE_ERROR = -1,     /* result would break RFC 5321 limits */
	REWRITE_SAME = 0,       /* no entry: *out is a copy of *in */
	REWRITE_CHANGED = 1,    /* *out is the rewritten address */
};

/* map may be NULL (no map: REWRITE_SAME).  On REWRITE_ERROR *out is a copy
 * of *in, so a caller that goes on uses the address as sent. */
enum rewrite_result rewrite_recipient(const struct addrmap *map,
    const struct address *in, struct address *out);
enum rewrite_result rewrite_sender(const struct addrmap *map,
    const struct address *in, struct address *out);
const char *rewrite_result_text(enum rewrite_result r);

#endif
