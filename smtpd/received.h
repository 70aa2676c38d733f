/*
 * received.h - the Received: header cutoverd prepends to a relayed
 * message (RFC 5321 4.4 trace information, RFC 5322 3.6.7), pure.
 *
 * Public functions:
 *   received_format()   the whole field, folded, ending with CRLF
 *   received_date()     an RFC 5322 3.3 date-time with a numeric zone
 *
 * Shape (lines folded further only when a line would reach 78 chars):
 *   Received: from HELO (RDNS-or-unknown [IP])
 *   	by HOSTNAME (cutoverd) with PROTO id SESSION-ID
 *   	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)
 *   	for <RCPT>; Tue, 1 Jul 2025 10:52:37 +0200
 * PROTO per RFC 3848: SMTP (HELO), ESMTP, ESMTPS (TLS), ESMTPA (AUTH),
 * ESMTPSA.  The "(using ...)" line only with TLS; "for" only when the
 * transaction has exactly one recipient (RFC 5321 4.4 warns against
 * listing several: it discloses Bcc recipients); without it, ";" ends
 * the line before the date.
 */
#ifndef CUTOVER_RECEIVED_H
#define CUTOVER_RECEIVED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define RECEIVED_MAX 2048         /* a buffer this large always fits */
#define RECEIVED_DATE_MAX 40      /* received_date() buffer */

struct received_info {
	const char *helo;         /* as the client sent it (any bytes) */
	size_t helo_len;          /* 0: none given, written "unknown" */
	const char *rdns;         /* verified reverse name (any bytes) */
	size_t rdns_len;          /* 0: written "unknown" */
	const char *ip;           /* NUL-terminated numeric IPv4 / IPv6 */
	const char *hostname;     /* ours, NUL-terminated, not empty */
	const char *session_id;   /* NUL-terminated, 1..64 octets */
	bool esmtp;               /* EHLO (false: HELO) */
	bool tls;
	bool authenticated;
	const char *tls_version;  /* with tls; NULL: no "(using ...)" */
	const char *tls_cipher;
	size_t nrcpt;             /* recipients of the transaction */
	const char *rcpt;         /* the one recipient (nrcpt == 1) */
	size_t rcpt_len;
	time_t when;              /* written in the local time zone */
};

/*
 * The field into buf[0..cap), *len octets, NUL-terminated.  0, or -1 with
 * errno EINVAL (ip not an address, hostname or session_id missing or too
 * long) or ENOSPC (cap too small; RECEIVED_MAX always fits).  Client
 * strings are made safe, never refused: HELO and rDNS keep printable
 * ASCII but ( ) \ ; " (each becomes '?'), cut at 255 octets; a recipient
 * holding a control character or over 512 octets loses the "for" clause.
 */
int received_format(const struct received_info *ri, char *buf, size_t cap,
    size_t *len);

/* "Tue, 1 Jul 2025 10:52:37 +0200" for t in the local time zone into
 * buf[0..cap); its length, or -1 (EOVERFLOW: localtime failed; ENOSPC). */
int received_date(time_t t, char *buf, size_t cap);

#endif
