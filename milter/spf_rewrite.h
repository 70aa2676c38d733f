/*
 * spf_rewrite.h - turns a checked SPF record into one libspf2 evaluates
 * the RFC 7208 way, and names the "magic" lookups the rewritten record
 * makes, which our DNS layer (spf_dns.c) answers itself.
 *
 * Public functions:
 *   spf_rewrite()        record accepted by spf_record_check() -> the
 *                        record handed to SPF_record_compile (malloc'd)
 *   spf_rewrite_magic()  is this lookup name one of ours, and which
 *
 * What is rewritten and why (libspf2 1.2.10, measured with the RFC 7208
 * suite):
 *   - every a, mx, ptr and exists term is preceded by a never-matching
 *     "?exists:cutover-term.invalid": our layer counts those lookups, so
 *     the 10-term limit (4.6.4) spans includes and redirects, which
 *     libspf2 counts per record;
 *   - a CIDR length of 0 means "no length" to libspf2.  ip4:X/0 and
 *     ip6:X/0 become the two halves of the address space (or nothing for
 *     the other family); an a or mx term whose length for the client's
 *     family is 0 becomes "exists:D.cutover-a4.invalid" (a6, mx4, mx6),
 *     which our layer answers by looking up D (5.3, 5.4: any address
 *     matches, none does not); the other family's length is dropped;
 *   - mechanisms after "all" are dropped (never evaluated, 5.1) and so is
 *     redirect when there is an "all" (6.1); modifiers go last (libspf2
 *     evaluates redirect where it stands); unknown modifiers are dropped
 *     (6: ignored; libspf2 rejects some valid ones, e.g. "a=b:c/d").
 * Names under .invalid (RFC 6761) never resolve, so a magic name cannot
 * be a real one.
 */
#ifndef CUTOVER_SPF_REWRITE_H
#define CUTOVER_SPF_REWRITE_H

#include <stddef.h>

#define SPF_MAGIC_TERM_NAME "cutover-term.invalid"

enum spf_magic {
	SPF_MAGIC_NONE = 0,
	SPF_MAGIC_TERM,       /* one DNS-querying term is about to run */
	SPF_MAGIC_A,          /* a/0 or a//0: does D have any address */
	SPF_MAGIC_MX,         /* mx/0 or mx//0: does an MX host of D */
};

char *spf_rewrite(const char *rec, size_t len, int client_v6);
enum spf_magic spf_rewrite_magic(const char *name, size_t len,
    size_t *domain_len, int *v6);

#endif
