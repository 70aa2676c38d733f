/*
 * domain_table.h - the configured domains: an opaque hash table of
 * struct policy_domain keyed by the lowercase A-label, no trailing dot.
 *
 * Public functions:
 *   domain_table_new/free()    the table owns the domains inserted into it
 *   domain_table_insert()      rejects a key that is already present
 *   domain_table_find()        O(1) lookup by key (see domain_key())
 *   domain_table_count/at()    the domains in insertion (= config) order
 *   domain_key()               any spelling of a name -> its lookup key
 *   domain_ldh_check()         RFC 1035/5890 LDH syntax of an ASCII name
 *   domain_utf8()              the U-label form of a key (config time)
 *   domain_free()              free one struct policy_domain
 *
 * Why a key: a domain matches case-insensitively and in either IDN form
 * (README "Configuration"), so both the table and every lookup go through
 * domain_key().  It runs for every RCPT: for ASCII input it only lowercases
 * into the caller's buffer (no allocation, no libidn2); only non-ASCII
 * input goes through idn2_to_ascii_8z() (UTS #46 non-transitional, NFC).
 */
#ifndef CUTOVER_DOMAIN_TABLE_H
#define CUTOVER_DOMAIN_TABLE_H

#include <stddef.h>

#include "policy.h"

#define DOMAIN_NAME_MAX 253                 /* RFC 1035 2.3.4, no final dot */
#define DOMAIN_KEY_SIZE (DOMAIN_NAME_MAX + 1)
#define DOMAIN_INPUT_MAX 1024               /* octets of a U-label spelling */

struct domain_table;

struct domain_table *domain_table_new(void);
void domain_table_free(struct domain_table *t);

/* Takes ownership of d (d->name must be a key) on success.  Returns 0, or
 * -1 with errno EEXIST (key present; d not taken) or ENOMEM. */
int domain_table_insert(struct domain_table *t, struct policy_domain *d);

/* `key` as made by domain_key(); NULL when absent. */
const struct policy_domain *domain_table_find(const struct domain_table *t,
    const char *key, size_t len);
size_t domain_table_count(const struct domain_table *t);
struct policy_domain *domain_table_at(const struct domain_table *t, size_t i);

/*
 * Write the lookup key of `name` (`len` bytes, any case, A- or U-labels,
 * at most one trailing dot, no NUL needed) into key[DOMAIN_KEY_SIZE].
 * Returns the key length, or -1 and sets *why to a static text saying
 * what is wrong with the name.
 */
int domain_key(const char *name, size_t len, char *key, const char **why);

/* 0 when name is LDH labels of 1-63 octets, <= 253 octets; else -1, *why. */
int domain_ldh_check(const char *name, size_t len, const char **why);

/* Allocated U-label form of a key; checks its xn-- labels.  NULL + *why
 * on a bad A-label, NULL + *why "out of memory" on allocation failure. */
char *domain_utf8(const char *key, const char **why);

void domain_free(struct policy_domain *d);

#endif
