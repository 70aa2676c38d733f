/*
 * overrides.h - per-recipient state overrides of one domain
 * (`recipient "a@example.com" { state = live }` inside a domain section),
 * so mailboxes can move in batches while the rest of the domain stays put.
 *
 * Public functions:
 *   overrides_new/free()
 *   overrides_add()     one recipient; refuses a duplicate (EEXIST)
 *   overrides_find()    O(1), allocation-free: the override of a local part
 *   overrides_count()
 *
 * Keys are local parts only: the domain is the one the table belongs to,
 * already matched by the domain table.  They match case-insensitively per
 * ASCII (like address maps and Postfix), anything else byte for byte; a
 * quoted local part is compared as written, quotes included (addrmap.h
 * explains why).  A table is built by policy_load() and never changed
 * afterwards, so lookups from several threads are safe.
 */
#ifndef CUTOVER_OVERRIDES_H
#define CUTOVER_OVERRIDES_H

#include <stddef.h>

#include "policy.h"

#define OVERRIDES_LOCAL_MAX (ADDRESS_LOCAL_MAX * 4 + 2) /* octets, as parsed */

struct policy_override {
	enum domain_state state;
	unsigned line;          /* of the recipient section in the config */
};

struct policy_overrides *overrides_new(void);
void overrides_free(struct policy_overrides *o);

/*
 * Add `local` (`len` octets, no NUL needed).  Returns 0; or -1 with errno
 * EEXIST (the same local part, in any ASCII case, is present: *first gets
 * its line when first != NULL), E2BIG (len > OVERRIDES_LOCAL_MAX or the
 * table is full) or ENOMEM.
 */
int overrides_add(struct policy_overrides *o, const char *local, size_t len,
    enum domain_state state, unsigned line, unsigned *first);

/* The override of `local`, or NULL (also for o == NULL). */
const struct policy_override *overrides_find(const struct policy_overrides *o,
    const char *local, size_t len);

size_t overrides_count(const struct policy_overrides *o);

#endif
