/*
 * dkim_sigmap.h - internal to the DKIM verifier (dkim_verify.c): turning
 * one libopendkim signature into a struct dkim_sig_outcome, and reading
 * d=/s=/a=/b= out of a DKIM-Signature value that libopendkim refused.
 *
 * Public functions:
 *   dkim_sigmap_from_lib()     libopendkim's verdict for one signature
 *   dkim_sigmap_malformed()    a field libopendkim could not parse
 *   dkim_sigmap_unsafe()       a field libopendkim must not be given
 *   dkim_sigmap_copy_clean()   printable-ASCII copy, truncated, for d/s/b
 */
#ifndef CUTOVER_DKIM_SIGMAP_H
#define CUTOVER_DKIM_SIGMAP_H

#include <stddef.h>
#include <sys/types.h>

#include <opendkim/dkim.h>

#include "dkim_verify.h"

/* What our key lookup callback saw for a signature (RFC 6376 6.1.2). */
enum dkim_keylook {
	DKIM_KEYLOOK_NONE = 0,     /* never asked (error before the lookup) */
	DKIM_KEYLOOK_OK,           /* a record was handed to libopendkim */
	DKIM_KEYLOOK_NOTFOUND,     /* NXDOMAIN or NODATA: permerror */
	DKIM_KEYLOOK_TEMPFAIL,     /* SERVFAIL, timeout, no resolver */
	DKIM_KEYLOOK_BADNAME,      /* selector._domainkey.domain unusable */
	DKIM_KEYLOOK_BADREC,       /* record too long or holds a NUL */
	DKIM_KEYLOOK_BADQUERY,     /* q= names no method we know: permerror */
};

void dkim_sigmap_from_lib(DKIM *dkim, DKIM_SIGINFO *sig,
    enum dkim_keylook look, struct dkim_sig_outcome *o);

void dkim_sigmap_malformed(const char *value, size_t len,
    struct dkim_sig_outcome *o);

/*
 * Why libopendkim 2.11.0~beta2 must not be given this DKIM-Signature value,
 * or NULL.  Its i= decoder (dkim_qp_decode(), run at dkim_eoh()) reads past
 * the value's end when an '=' is not followed by two characters, and its
 * 257-octet buffer loses its terminating NUL when the value decodes to more
 * than DKIM_SIGMAP_MAX_IDENTITY octets: an i= must be dkim-quoted-printable
 * (RFC 6376 2.11: every '=' followed by two hex digits) and, white space
 * removed, at most that long.  Found by fuzz_dkim_verify against an
 * AddressSanitizer build of the library.
 */
#define DKIM_SIGMAP_MAX_IDENTITY 256
const char *dkim_sigmap_unsafe(const char *value, size_t len);

/* Copy src (n bytes) into dst (cap > 0), NUL terminated, without FWS
 * (SP, HTAB, CR, LF), up to the first other byte outside 0x21..0x7e (a
 * NUL, control or 8-bit byte ends the copy: "exa\0mple.com" must not be
 * shown as example.com). */
void dkim_sigmap_copy_clean(char *dst, size_t cap, const char *src, size_t n);

#endif
