/*
 * header_rewrite.h - sender_map applied to a message's header section:
 * the addresses in From:, Sender: and Reply-To: (RFC 5322 3.6.2), pure.
 *
 * Public functions:
 *   header_rewrite_section_end()  where the header section ends
 *   header_rewrite_apply()        rewrite; every other byte unchanged
 *
 * Each addr-spec of those fields is rewritten with rewrite_sender()
 * semantics (exact entry, else "@domain" wildcard keeping the local part)
 * through addrlist_rewrite(), which replaces only the addr-spec's bytes:
 * display names, comments, groups, encoded words, folding and every other
 * field stay byte for byte, so a DKIM signature over other fields survives
 * and one that covers From: fails the way any rewrite makes it fail.
 */
#ifndef CUTOVER_HEADER_REWRITE_H
#define CUTOVER_HEADER_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "addrmap.h"

enum header_rewrite_what {
	HEADER_REWRITE_CHANGED,   /* one address rewritten */
	HEADER_REWRITE_KEPT,      /* a field left as it was: see reason */
};

/* Handed to the callback; pointers are valid during the call only and
 * nothing is NUL-terminated. */
struct header_rewrite_note {
	enum header_rewrite_what what;
	const char *field;        /* field name as written, without ':' */
	size_t field_len;
	const char *old_addr;     /* CHANGED: the addr-spec, CFWS removed */
	size_t old_len;
	const char *new_addr;     /* CHANGED: what replaced it */
	size_t new_len;
	const char *value;        /* KEPT: the field value after ':' */
	size_t value_len;
	const char *reason;       /* KEPT: why (a static string) */
};

typedef void header_rewrite_cb(void *arg,
    const struct header_rewrite_note *note);

/*
 * The offset just past the blank line (CRLF CRLF, or CRLF at offset 0)
 * that ends the header section of buf[0..len), and true; false when there
 * is none (the message is all header: *end = len).  A body-less message
 * that has the blank line ends right after it (*end == len, true).
 */
bool header_rewrite_section_end(const char *buf, size_t len, size_t *end);

/*
 * hdr[0..len): the header section (anything after its blank line is
 * copied untouched).  map NULL: nothing is rewritten.  cb (may be NULL) is
 * called once per rewritten address, and once per From/Sender/Reply-To
 * field left unchanged because its value is not an address list or a
 * rewrite would break RFC 5321 limits; for a field that is rewritten,
 * only after the whole field succeeded.
 * Returns the number of addresses rewritten, with *out a malloc'd buffer
 * of *out_len octets (the caller frees it; identical to the input when 0),
 * or -1 with errno ENOMEM (*out NULL).
 */
int header_rewrite_apply(const char *hdr, size_t len,
    const struct addrmap *map, header_rewrite_cb *cb, void *arg,
    char **out, size_t *out_len);

#endif
