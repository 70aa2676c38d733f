/*
 * addrlist.h - RFC 5322 3.4 address lists in From:/Sender:/Reply-To:
 * header values: find every addr-spec and optionally replace it, copying
 * every other byte unchanged.
 *
 * Public functions:
 *   addrlist_rewrite()     rewrite through a callback into a caller buffer
 *   addrlist_count()       mailboxes and groups of a list, or a syntax error
 *   addrlist_error_text()
 *
 * Input is the header VALUE (after "From:"), folded or unfolded, without
 * NUL; one line ending at its very end is tolerated.  Accepted: display
 * names (atoms, quoted strings, obs-phrase dots), angle addresses with an
 * obsolete route, bare addr-specs, comments (nested, quoted-pairs)
 * wherever CFWS may be, groups ("name: a@b, c@d;", empty ones included),
 * obs-local-part / obs-domain with CFWS around the dots, empty list
 * elements (obs-addr-list), 8-bit UTF-8 in atoms, quoted strings and
 * comments (RFC 6532).  RFC 2047 encoded words are one word even when
 * their text holds '@' (which RFC 2047 5(3) forbids but senders do), so
 * "=?utf-8?q?a@b?=" is never taken for an address.
 */
#ifndef CUTOVER_ADDRLIST_H
#define CUTOVER_ADDRLIST_H

#include <stddef.h>

#define ADDRLIST_ADDR_MAX 1024  /* octets of an addr-spec given to a callback */

enum addrlist_error {
	ADDRLIST_OK = 0,
	ADDRLIST_ERR_SYNTAX,    /* not an RFC 5322 address-list */
	ADDRLIST_ERR_TOO_LONG,  /* an addr-spec over ADDRLIST_ADDR_MAX */
	ADDRLIST_ERR_CALLBACK,  /* callback failed or gave a bad replacement */
	ADDRLIST_ERR_SPACE,     /* output does not fit out_cap */
};

/* One addr-spec found.  In: where it is in the input (raw_off, raw_len:
 * the bytes that a replacement replaces; they may hold CFWS in obsolete
 * forms).  Out: the replacement, which must itself be a plain addr-spec
 * (no CFWS) of `len` octets. */
struct addrlist_repl {
	size_t raw_off;
	size_t raw_len;
	char addr[ADDRLIST_ADDR_MAX];
	size_t len;
};

/*
 * addr/len: the addr-spec with its CFWS removed ("john.doe@example.com"
 * for "john (x) . doe@example.com"), quoted strings as written, not
 * NUL-terminated.  Return 1 when out->addr/out->len hold a replacement,
 * 0 to keep the address, -1 to abandon the rewrite (ADDRLIST_ERR_CALLBACK).
 */
typedef int addrlist_cb(const char *addr, size_t len, void *ctx,
    struct addrlist_repl *out);

/*
 * The whole input is checked first: on a syntax error the callback is
 * never called.  On success out_buf holds *out_len bytes (not
 * NUL-terminated); on any error *out_len is 0 and the caller leaves the
 * header as it was.
 */
enum addrlist_error addrlist_rewrite(const char *in, size_t len,
    addrlist_cb *cb, void *ctx, char *out_buf, size_t out_cap,
    size_t *out_len);

/* ADDRLIST_OK with the number of mailboxes (those inside groups included)
 * and of groups, or ADDRLIST_ERR_SYNTAX with both 0. */
enum addrlist_error addrlist_count(const char *in, size_t len,
    size_t *mailboxes, size_t *groups);

const char *addrlist_error_text(enum addrlist_error e);

#endif
