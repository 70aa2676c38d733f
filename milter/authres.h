/*
 * authres.h - Authentication-Results header field (RFC 8601): formatting
 * our value, and recognising fields that claim our authserv-id.
 *
 * authres_format() writes the field VALUE (what follows
 * "Authentication-Results:"), e.g.
 *   mx.example.net; spf=pass smtp.mailfrom=example.com;
 *   <CRLF><TAB>dkim=pass header.d=example.com header.s=sel header.b=abcd1234
 * folded with CRLF TAB so that no line passes AUTHRES_FOLD_COL columns when
 * "Authentication-Results: " is put in front.  Nothing else in it is a CR
 * or LF.  The caller turns CRLF into LF if its API wants that (libmilter).
 */
#ifndef CUTOVER_AUTHRES_H
#define CUTOVER_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHRES_FOLD_COL 78
#define AUTHRES_FIELD_NAME "Authentication-Results"

enum authres_method {
	AUTHRES_METHOD_SPF = 0,
	AUTHRES_METHOD_DKIM,
	AUTHRES_METHOD_DMARC,
};

enum authres_result {         /* RFC 8601 2.7; not every one fits every method */
	AUTHRES_NONE = 0,
	AUTHRES_PASS,
	AUTHRES_FAIL,
	AUTHRES_SOFTFAIL,
	AUTHRES_NEUTRAL,
	AUTHRES_POLICY,
	AUTHRES_TEMPERROR,
	AUTHRES_PERMERROR,
};

/* One propspec: ptype "." property "=" value, e.g. header.from=x.org. */
struct authres_prop {
	const char *ptype;        /* "smtp", "header", "body", "policy" */
	const char *property;     /* "mailfrom", "d", "s", "b", "from", ... */
	const char *value;        /* any bytes but CTLs; quoted when needed */
	size_t value_len;
};

struct authres_resinfo {
	enum authres_method method;
	enum authres_result result;
	const char *comment;      /* NULL or text put in "( )", e.g. "p=reject" */
	const char *reason;       /* NULL or the reasonspec value */
	const struct authres_prop *props;
	size_t nprops;
};

/*
 * Write the value into buf (cap bytes, NUL-terminated).  n == 0 gives
 * "authserv-id; none".  Returns the length, or -1: does not fit, a value
 * holds a control character (CR, LF, NUL, ... ; HTAB is fine), or a
 * ptype/property is not a keyword.  On -1 buf is "".
 */
int authres_format(const char *authserv_id, const struct authres_resinfo *ri,
    size_t n, char *buf, size_t cap);

/*
 * Whether the value of an existing Authentication-Results field (len
 * bytes, no NUL needed) names authserv_id: CFWS, then the authserv-id as a
 * token or quoted-string, compared case-insensitively (RFC 8601 2.5, 5).
 */
bool authres_is_ours(const char *value, size_t len, const char *authserv_id);

const char *authres_method_name(enum authres_method m);
const char *authres_result_name(enum authres_result r);

#endif
