/*
 * spf_record.h - SPF record text checks done before libspf2 sees a record
 * (RFC 7208 section 12 ABNF, 4.5 record selection, 6 modifiers).
 *
 * Public functions:
 *   spf_record_is_spf()  does this TXT string select as an SPF record
 *                        ("v=spf1" then a space or the end, RFC 7208 4.5)
 *   spf_record_check()   syntax of a whole record: 0 = valid, -1 =
 *                        permerror with the reason in problem
 *   spf_record_cidr_start() where the trailing "/N" or "//N" of an a or mx
 *                        term's rest begins (len when it has none)
 *
 * Pure functions over (buffer, length): the record came from DNS and may
 * hold any byte, including NUL.  Why ours: libspf2 accepts records RFC 7208
 * calls permerror (unknown mechanisms in some spellings, bad macros, a
 * domain-spec not ending in a top label, duplicate redirect/exp, CIDR
 * lengths out of range or with leading zeros) and turns some into neutral.
 */
#ifndef CUTOVER_SPF_RECORD_H
#define CUTOVER_SPF_RECORD_H

#include <stddef.h>

int spf_record_is_spf(const char *rec, size_t len);
int spf_record_check(const char *rec, size_t len, char *problem,
    size_t plen);
size_t spf_record_cidr_start(const char *p, size_t len);

#endif
