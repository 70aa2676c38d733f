/*
 * from_domain.h - the RFC5322.From domain that DMARC evaluates (RFC 7489
 * 6.6.1), from a message's raw header section.
 *
 * The input is the header section as (pointer, length): header fields
 * separated by CRLF (a bare LF is accepted), folded lines, and optionally
 * the blank line and body after it, which are ignored.  No NUL needed.
 */
#ifndef CUTOVER_FROM_DOMAIN_H
#define CUTOVER_FROM_DOMAIN_H

#include <stddef.h>

#define FROM_DOMAIN_MAX 253       /* a DNS name, without the root dot */

enum from_domain_error {
	FROM_DOMAIN_OK = 0,
	FROM_DOMAIN_ERR_MISSING,      /* no From header field */
	FROM_DOMAIN_ERR_MULTIPLE,     /* two or more From header fields */
	FROM_DOMAIN_ERR_EMPTY,        /* From holds no mailbox */
	FROM_DOMAIN_ERR_MAILBOXES,    /* From holds several mailboxes */
	FROM_DOMAIN_ERR_GROUP,        /* From holds a group ("x: a@b;") */
	FROM_DOMAIN_ERR_SYNTAX,       /* unparsable address */
	FROM_DOMAIN_ERR_NO_DOMAIN,    /* a mailbox without "@domain" */
	FROM_DOMAIN_ERR_BAD_DOMAIN,   /* domain literal, bad label, non-ASCII,
	                               * longer than FROM_DOMAIN_MAX */
};

/*
 * On FROM_DOMAIN_OK, writes the domain lowercased and NUL-terminated into
 * out (cap >= FROM_DOMAIN_MAX + 1) and its length into *out_len.  On error
 * out is "" and *out_len 0.  Every error means dmarc=permerror.
 */
enum from_domain_error from_domain_extract(const char *hdr, size_t len,
    char *out, size_t cap, size_t *out_len);
const char *from_domain_error_text(enum from_domain_error e);

#endif
