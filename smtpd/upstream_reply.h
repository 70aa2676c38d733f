/*
 * upstream_reply.h - pure parts of the relay client: the reply-line parser,
 * EHLO capability parsing, local replies and the reply formatting.
 *
 * Public functions:
 *   upstream_reply_parse()   one reply line (CRLF removed) into a reply
 *   upstream_caps_line()     one EHLO reply line's text into capabilities
 *   upstream_reply_local()   fill a reply that we made ourselves
 *   upstream_reply_format()  declared in upstream.h, defined here
 *
 * No I/O, no libevent: fuzzed by tests/fuzz/fuzz_upstream_reply.c.
 */
#ifndef CUTOVER_UPSTREAM_REPLY_H
#define CUTOVER_UPSTREAM_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "upstream.h"

/* Continuation lines accepted in one reply before it is a protocol error. */
#define UPSTREAM_REPLY_LINES_LIMIT 100

enum upstream_parse {
	UPSTREAM_PARSE_MORE = 0,   /* a continuation line: feed the next one */
	UPSTREAM_PARSE_DONE,       /* the last line: r is complete */
	UPSTREAM_PARSE_ERROR,      /* not a reply line: protocol error */
};

/* What the parser needs between lines; zero it before the first line. */
struct upstream_parser {
	size_t lines;              /* lines seen in this reply */
};

#define UPSTREAM_CAP_SIZE       0x01u
#define UPSTREAM_CAP_8BITMIME   0x02u
#define UPSTREAM_CAP_SMTPUTF8   0x04u
#define UPSTREAM_CAP_STARTTLS   0x08u
#define UPSTREAM_CAP_PIPELINING 0x10u

struct upstream_caps {
	unsigned flags;
	size_t size_max;           /* SIZE n; 0 = no limit given */
};

/*
 * Parse one line of a reply (without its CRLF; len <= UPSTREAM_LINE_MAX - 2
 * is the caller's check).  RFC 5321 4.2: "ddd" or "ddd text" (last line),
 * "ddd-text" (continuation), every line with the same code, code 200..599.
 * An enhanced code (RFC 3463 "c.s.d" whose class matches the code's first
 * digit) at the start of a line's text goes to r->ecode (first line) and is
 * cut from each line's text.  Control octets in the text become '?'.
 * Lines past UPSTREAM_LINES_MAX are checked and dropped.  text and textlen
 * (may be NULL) get this line's text within `line`, for EHLO keywords.
 */
enum upstream_parse upstream_reply_parse(struct upstream_parser *p,
    struct upstream_reply *r, const char *line, size_t len,
    const char **text, size_t *textlen);

/* One EHLO keyword line (RFC 5321 4.1.1.1), case-insensitive. */
void upstream_caps_line(struct upstream_caps *c, const char *text, size_t len);

/* A local reply: code, ecode ("4.4.1"), peer and a printf-style text. */
void upstream_reply_local(struct upstream_reply *r, int code, const char *ecode,
    const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
