/*
 * address.h - RFC 5321 Path / Mailbox parsing (section 4.1.2), pure.
 *
 * address_parse() takes the bytes between "FROM:"/"TO:" and the first
 * parameter, i.e. "<...>" (angle brackets required; a bare address without
 * brackets is accepted as Postfix does only when strict == false).
 * The source route of an A-d-l ("@a,@b:user@dom") is recognised and dropped
 * (RFC 5321 appendix C: use the final mailbox).  Quoted local parts are
 * validated and kept quoted.  UTF-8 is allowed when utf8_ok (SMTPUTF8).
 */
#ifndef CUTOVER_ADDRESS_H
#define CUTOVER_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define ADDRESS_LOCAL_MAX  64     /* RFC 5321 4.5.3.1.1 */
#define ADDRESS_DOMAIN_MAX 255    /* RFC 5321 4.5.3.1.2 */
#define ADDRESS_PATH_MAX   256    /* RFC 5321 4.5.3.1.3 */

enum address_flags {
	ADDRESS_NULL        = 1 << 0, /* "<>" */
	ADDRESS_QUOTED      = 1 << 1, /* local part was a quoted-string */
	ADDRESS_ROUTED      = 1 << 2, /* had a source route (dropped) */
	ADDRESS_IP_LITERAL  = 1 << 3, /* domain is [1.2.3.4] / [IPv6:...] */
	ADDRESS_UTF8        = 1 << 4, /* contains non-ASCII */
	ADDRESS_NO_DOMAIN   = 1 << 5, /* "<postmaster>" form */
	ADDRESS_ROUTING_CHARS = 1 << 6, /* local part holds % ! or (quoted) @ */
};

struct address {
	unsigned flags;
	size_t local_len;
	size_t domain_len;
	char local[ADDRESS_LOCAL_MAX * 4 + 3];   /* NUL-terminated, as sent */
	char domain[ADDRESS_DOMAIN_MAX + 1];     /* NUL-terminated, as sent */
};

enum address_error {
	ADDRESS_OK = 0,
	ADDRESS_ERR_SYNTAX,      /* 501 5.1.3 (RCPT) / 501 5.1.7 (MAIL) */
	ADDRESS_ERR_TOO_LONG,    /* 501 5.1.3, path/local/domain over limits */
	ADDRESS_ERR_UTF8,        /* 553 5.6.7 non-ASCII without SMTPUTF8 */
};

/*
 * Parse `len` bytes at `s` (no NUL needed).  Returns ADDRESS_OK and fills
 * *out, or an error code.  `*consumed` gets the number of bytes used, so the
 * caller can parse ESMTP parameters after it.
 */
enum address_error address_parse(const char *s, size_t len, bool utf8_ok,
    struct address *out, size_t *consumed);
const char *address_error_text(enum address_error e);

/* Write "local@domain" (or "" for the null path) into buf; returns length,
 * or -1 when it does not fit. */
int address_format(const struct address *a, char *buf, size_t buflen);

#endif
