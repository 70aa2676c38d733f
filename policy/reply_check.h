/*
 * reply_check.h - validate configured SMTP reply lines, expand %d.
 *
 * Public functions:
 *   reply_check()   is this a reply line we may send (syntax, class, size)?
 *   reply_expand()  replace %d by a domain and %% by %, bounded
 *
 * A configured reply goes to every client verbatim, so it is checked once,
 * at load, against RFC 5321 4.2 (code), RFC 3463 (enhanced status code,
 * its class equal to the reply's first digit) and RFC 5321 4.5.3.1.5
 * (512 octets including CRLF); printable ASCII only, so a reply can never
 * carry a CR, LF or a byte a client could misread.
 */
#ifndef CUTOVER_REPLY_CHECK_H
#define CUTOVER_REPLY_CHECK_H

#include <stddef.h>

#define REPLY_LINE_MAX 512                   /* octets incl. CRLF */
#define REPLY_TEXT_MAX (REPLY_LINE_MAX - 2)  /* octets without CRLF */

/*
 * Check `len` bytes of `reply` (no CRLF): "^[245][0-9][0-9] [245].d{1,3}.d{1,3}
 * text$", text non-empty, <= REPLY_TEXT_MAX octets, printable ASCII, a %
 * only as %d or %%.  required_class is '2', '4', '5', or 0 for any.
 * Returns 0, or -1 with a one-line reason (no trailing period) in err.
 */
int reply_check(const char *reply, size_t len, char required_class,
    char *err, size_t errlen);

/*
 * Expand `len` bytes of template `tmpl` into buf: %d -> the `dlen` bytes of
 * `domain`, %% -> %.  Returns the length written (buf NUL-terminated), or
 * -1 when the result does not fit in buflen or the template has another %
 * sequence.
 */
int reply_expand(const char *tmpl, size_t len, const char *domain,
    size_t dlen, char *buf, size_t buflen);

#endif
