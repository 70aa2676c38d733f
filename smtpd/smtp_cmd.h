/*
 * smtp_cmd.h - SMTP command line parsing (RFC 5321 4.1), pure.
 *
 * The session hands over one command line WITHOUT its CRLF; this module
 * splits the verb, and parses MAIL/RCPT arguments and ESMTP parameters.
 * No NUL termination is assumed; every input travels with its length.
 */
#ifndef CUTOVER_SMTP_CMD_H
#define CUTOVER_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"

enum smtp_verb {
	VERB_UNKNOWN = 0,
	VERB_HELO, VERB_EHLO, VERB_MAIL, VERB_RCPT, VERB_DATA, VERB_RSET,
	VERB_NOOP, VERB_QUIT, VERB_VRFY, VERB_EXPN, VERB_HELP, VERB_STARTTLS,
	VERB_BDAT, VERB_AUTH,
	VERB__COUNT
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;       /* points into the line, after one SP; may be "" */
	size_t arglen;
};

/* Case-insensitive verb recognition.  Returns 0, or -1 when the line has
 * a NUL or other control byte (other than HT) – the caller replies 500. */
int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *out);
const char *smtp_verb_name(enum smtp_verb v);

enum mail_body { BODY_UNSPECIFIED = 0, BODY_7BIT, BODY_8BITMIME };

struct mail_args {
	struct address addr;
	size_t size;           /* SIZE=, 0 when absent */
	bool has_size;
	enum mail_body body;
	bool smtputf8;
	const char *params;    /* raw parameter text for the log, may be "" */
	size_t paramslen;
};

struct rcpt_args {
	struct address addr;
	const char *params;
	size_t paramslen;
};

/*
 * Parse "FROM:<path> [params]" / "TO:<path> [params]".  On error returns -1
 * and sets *reply to a static full reply line (no CRLF), e.g.
 * "501 5.5.4 Syntax: MAIL FROM:<address>", "555 5.5.4 Unsupported parameter",
 * "501 5.1.7 Bad sender address syntax", "501 5.1.3 Bad recipient address
 * syntax", "553 5.6.7 SMTPUTF8 required for non-ASCII address".
 * utf8_ok for RCPT is the transaction's SMTPUTF8 flag.
 * Known MAIL parameters: SIZE, BODY=7BIT|8BITMIME, SMTPUTF8 (no value);
 * unknown ones -> 555 5.5.4.  RCPT takes no parameters but tolerates
 * NOTIFY= and ORCPT= (DSN, ignored) – others -> 555 5.5.4.
 */
int smtp_mail_parse(const char *arg, size_t len, struct mail_args *out,
    const char **reply);
int smtp_rcpt_parse(const char *arg, size_t len, bool utf8_ok,
    struct rcpt_args *out, const char **reply);

/* HELO/EHLO argument: one domain or address literal; returns 0 or -1. */
int smtp_helo_check(const char *arg, size_t len);

#endif
