/*
 * orgdomain.h - Organizational Domain (RFC 7489 3.2) from the Public Suffix
 * List via libpsl, and DMARC identifier alignment (RFC 7489 3.1).
 *
 * The list is loaded once per process, on first use, from the Debian
 * `publicsuffix` package (ORGDOMAIN_PSL_DAFSA, else ORGDOMAIN_PSL_DAT); if
 * neither exists, libpsl's built-in list is used and orgdomain_source()
 * says "builtin".  Thread-safe (pthread_once); the list is read-only after.
 *
 * Domains are ASCII (A-labels for IDNs), case-insensitive, one trailing
 * dot tolerated; outputs are lowercase, without the trailing dot.
 */
#ifndef CUTOVER_ORGDOMAIN_H
#define CUTOVER_ORGDOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "dmarc_record.h"

#define ORGDOMAIN_PSL_DAFSA "/usr/share/publicsuffix/public_suffix_list.dafsa"
#define ORGDOMAIN_PSL_DAT   "/usr/share/publicsuffix/public_suffix_list.dat"
#define ORGDOMAIN_MAX 253         /* RFC 1035 2.3.4, without the root dot */

/*
 * Write the organizational domain of `domain` (len bytes, no NUL needed)
 * into out (cap bytes, NUL-terminated).  A name that is itself a public
 * suffix ("co.uk", "com", a single label) is its own organizational
 * domain.  Returns the length, or -1: invalid name (empty label, a byte
 * that is not letter/digit/"-"/"_", over ORGDOMAIN_MAX), out too small,
 * or no list could be loaded.
 */
int orgdomain_get(const char *domain, size_t len, char *out, size_t cap);

/* "file:PATH", "builtin" or "none": which list orgdomain_get() uses. */
const char *orgdomain_source(void);

/*
 * Whether NUL-terminated domains a and b are aligned: strict = equal
 * (case-insensitive, trailing dot ignored), relaxed = same organizational
 * domain.  An invalid or empty name is never aligned.
 */
bool dmarc_aligned(const char *a, const char *b, enum dmarc_align mode);

#endif
