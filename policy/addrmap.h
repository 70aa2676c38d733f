/*
 * addrmap.h - address maps for rewriting (recipient_map, sender_map).
 *
 * Public functions:
 *   addrmap_load()    read a map file; 0, or -1 and "FILE:LINE: what"
 *   addrmap_lookup()  O(1): exact "local@domain" first, then "@domain"
 *   addrmap_count()   number of entries
 *   addrmap_bytes()   heap bytes the map holds (arena + slots)
 *   addrmap_free()
 *
 * File format: one "key value" per line, separated by spaces or tabs;
 * blank lines and lines whose first non-blank byte is '#' are ignored.
 * A key is an address "local@domain" or a domain wildcard "@domain"; the
 * value must be of the same kind.  Domains match case-insensitively and in
 * either IDN form (domain_key()); the local part keeps its case but
 * matches case-insensitively (ASCII), like Postfix's default.  A quoted
 * local part is compared as written, quotes included: "\"a\"@x" is not
 * "a@x" (RFC 5321 4.1.2 lets both spell one mailbox; maps list the
 * spelling that senders use).
 *
 * Values come back normalised: the local part as written, the domain as
 * its lowercase A-label key.  A value starting with '@' is a wildcard.
 * A loaded map is never changed, so lookups from several threads are safe.
 */
#ifndef CUTOVER_ADDRMAP_H
#define CUTOVER_ADDRMAP_H

#include <stddef.h>

#define ADDRMAP_LINE_MAX 1024   /* octets of a map line, without the LF */

struct addrmap;

int addrmap_load(const char *path, struct addrmap **out, char *err,
    size_t errlen);

/* NUL-terminated value, or NULL when neither the address nor its domain
 * is in the map (or the domain is not a valid name). */
const char *addrmap_lookup(const struct addrmap *m, const char *local,
    size_t local_len, const char *domain, size_t domain_len);

size_t addrmap_count(const struct addrmap *m);
size_t addrmap_bytes(const struct addrmap *m);
void addrmap_free(struct addrmap *m);

#endif
