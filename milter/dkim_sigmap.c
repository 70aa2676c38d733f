/*
 * dkim_sigmap.c - one DKIM signature's verdict, from libopendkim's
 * per-signature state to RFC 8601 result words.
 *
 * Public functions: dkim_sigmap_from_lib(), dkim_sigmap_malformed(),
 * dkim_sigmap_unsafe(), dkim_sigmap_copy_clean().
 *
 * Why our own mapping: dkim_eom() returns one status for the message (the
 * "best" signature), but DMARC needs every signature, so each one is read
 * back with dkim_sig_geterror()/getflags()/getbh().  The order of the
 * checks matters:
 *   1. what our key lookup saw (dkim_verify.c records it per signature):
 *      a DNS failure is temperror whatever libopendkim made of it, no key
 *      (NXDOMAIN/NODATA) is permerror (RFC 6376 6.1.2, 3.9 PERMFAIL);
 *   2. libopendkim's signature error: BADSIG is fail, KEYTOOSMALL is
 *      policy (RFC 8301 3.2), KEYFAIL temperror, every other error (syntax,
 *      missing tags, expired, bad key record, revoked key, l= beyond the
 *      body) permerror;
 *   3. no error: passed with the body hash matching is pass, anything else
 *      that was processed is fail (body hash or signature mismatch);
 *   4. a pass with rsa-sha1 becomes policy (RFC 8301 3.1: verifiers MUST
 *      NOT consider rsa-sha1 signatures valid; "policy" is RFC 8601's word
 *      for a signature that verifies but is not acceptable).
 * l=: dkim_sig_getcanonlen() gives the canonicalized body length and the
 * signed length; fewer signed than present means body_partial, and such a
 * signature never has aligned_ok (DESIGN.md, Authentication rules).
 *
 * Invariants: every string written is NUL-terminated printable ASCII
 * (0x21..0x7e; reasons may hold spaces), so A-R formatting cannot fail on
 * what a sender put in a signature.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dkim_sigmap.h"

void
dkim_sigmap_copy_clean(char *dst, size_t cap, const char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && src != NULL; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c < 0x21 || c > 0x7e)
			break;
		if (o + 1 >= cap)
			break;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static void
set_reason(struct dkim_sig_outcome *o, const char *text)
{
	size_t n = strlen(text);

	if (n >= sizeof(o->reason))
		n = sizeof(o->reason) - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		o->reason[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	o->reason[n] = '\0';
}

static enum dkimv_alg
alg_from_name(const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum dkimv_alg alg;
	} names[] = {
		{ "rsa-sha256", DKIMV_ALG_RSA_SHA256 },
		{ "ed25519-sha256", DKIMV_ALG_ED25519_SHA256 },
		{ "rsa-sha1", DKIMV_ALG_RSA_SHA1 },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncasecmp(names[i].name, s, n) == 0)
			return names[i].alg;
	return DKIMV_ALG_UNKNOWN;
}

static enum dkimv_alg
alg_from_lib(DKIM_SIGINFO *sig)
{
	dkim_alg_t a = DKIM_SIGN_UNKNOWN;

	if (dkim_sig_getsignalg(sig, &a) != DKIM_STAT_OK)
		return DKIMV_ALG_UNKNOWN;
	switch (a) {
	case DKIM_SIGN_RSASHA256:
		return DKIMV_ALG_RSA_SHA256;
	case DKIM_SIGN_ED25519SHA256:
		return DKIMV_ALG_ED25519_SHA256;
	case DKIM_SIGN_RSASHA1:
		return DKIMV_ALG_RSA_SHA1;
	default:
		return DKIMV_ALG_UNKNOWN;
	}
}

static void
fill_ids(DKIM_SIGINFO *sig, struct dkim_sig_outcome *o)
{
	const char *d = (const char *)dkim_sig_getdomain(sig);
	const char *s = (const char *)dkim_sig_getselector(sig);
	const char *b = (const char *)dkim_sig_gettagvalue(sig, 0,
	    (u_char *)"b");

	if (d != NULL)
		dkim_sigmap_copy_clean(o->d, sizeof(o->d), d, strlen(d));
	if (s != NULL)
		dkim_sigmap_copy_clean(o->s, sizeof(o->s), s, strlen(s));
	if (b != NULL)
		dkim_sigmap_copy_clean(o->b, sizeof(o->b), b, strlen(b));
	o->alg = alg_from_lib(sig);
}

/* Steps 1 and 2 of the file comment; false when there is no error. */
static bool
map_error(DKIM_SIGINFO *sig, enum dkim_keylook look,
    struct dkim_sig_outcome *o)
{
	int err = dkim_sig_geterror(sig);
	const char *text;

	switch (look) {
	case DKIM_KEYLOOK_TEMPFAIL:
		o->result = AUTHRES_TEMPERROR;
		set_reason(o, "key lookup failed");
		return true;
	case DKIM_KEYLOOK_NOTFOUND:
		o->result = AUTHRES_PERMERROR;
		set_reason(o, "no key for signature");
		return true;
	case DKIM_KEYLOOK_BADNAME:
		o->result = AUTHRES_PERMERROR;
		set_reason(o, "unusable key name");
		return true;
	case DKIM_KEYLOOK_BADREC:
		o->result = AUTHRES_PERMERROR;
		set_reason(o, "key record too long or not text");
		return true;
	case DKIM_KEYLOOK_BADQUERY:
		o->result = AUTHRES_PERMERROR;
		set_reason(o, "no known key query method in q=");
		return true;
	default:
		break;
	}
	if (err == DKIM_SIGERROR_OK || err == DKIM_SIGERROR_UNKNOWN)
		return false;
	text = dkim_sig_geterrorstr(err);
	set_reason(o, text != NULL ? text : "signature error");
	switch (err) {
	case DKIM_SIGERROR_BADSIG:
		o->result = AUTHRES_FAIL;
		break;
	case DKIM_SIGERROR_KEYTOOSMALL:
		o->result = AUTHRES_POLICY;
		break;
	case DKIM_SIGERROR_KEYFAIL:
		o->result = AUTHRES_TEMPERROR;
		break;
	default:
		o->result = AUTHRES_PERMERROR;
		break;
	}
	return true;
}

static void
map_partial(DKIM *dkim, DKIM_SIGINFO *sig, struct dkim_sig_outcome *o)
{
	ssize_t msglen = -1, canonlen = -1, signlen = -1;

	if (dkim_sig_getcanonlen(dkim, sig, &msglen, &canonlen, &signlen) !=
	    DKIM_STAT_OK)
		return;
	if (signlen >= 0 && canonlen < msglen)
		o->body_partial = true;
}

void
dkim_sigmap_from_lib(DKIM *dkim, DKIM_SIGINFO *sig, enum dkim_keylook look,
    struct dkim_sig_outcome *o)
{
	unsigned int flags = dkim_sig_getflags(sig);

	memset(o, 0, sizeof(*o));
	fill_ids(sig, o);
	if (map_error(sig, look, o))
		return;
	if ((flags & DKIM_SIGFLAG_PROCESSED) == 0) {
		o->result = AUTHRES_PERMERROR;
		set_reason(o, "signature not evaluated");
		return;
	}
	if ((flags & DKIM_SIGFLAG_PASSED) == 0) {
		o->result = AUTHRES_FAIL;
		set_reason(o, "signature did not verify");
		return;
	}
	if (dkim_sig_getbh(sig) != DKIM_SIGBH_MATCH) {
		o->result = AUTHRES_FAIL;
		set_reason(o, "body hash did not verify");
		return;
	}
	if (o->alg == DKIMV_ALG_RSA_SHA1) {
		o->result = AUTHRES_POLICY;
		set_reason(o, "rsa-sha1 not acceptable (RFC 8301)");
		return;
	}
	o->result = AUTHRES_PASS;
	map_partial(dkim, sig, o);
	o->aligned_ok = !o->body_partial;
	set_reason(o, o->body_partial ? "l= leaves body unsigned" : "good");
}

/* One tag of a tag-list (RFC 6376 3.2): name and value, trimmed of white
 * space as libopendkim trims it (so that we read the tags it reads). */
struct sig_tag {
	const char *name, *val;
	size_t nlen, vlen;
};

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* libopendkim's isspace() in the C locale: what dkim_collapse() drops */
static bool
is_space(char c)
{
	return is_fws(c) || c == '\v' || c == '\f';
}

/* The next tag from *p (a "tag=value" up to ';' or end), moving *p past
 * it; false at the end.  A part without '=' gives an empty name. */
static bool
next_tag(const char **p, const char *end, struct sig_tag *t)
{
	const char *semi, *tend, *eq, *n0, *n1, *v0, *v1;

	if (*p >= end)
		return false;
	semi = memchr(*p, ';', (size_t)(end - *p));
	tend = semi != NULL ? semi : end;
	eq = memchr(*p, '=', (size_t)(tend - *p));
	n0 = *p;
	n1 = eq != NULL ? eq : n0;
	v0 = eq != NULL ? eq + 1 : n0;
	v1 = eq != NULL ? tend : n0;
	while (n0 < n1 && is_space(*n0))
		n0++;
	while (n1 > n0 && is_space(n1[-1]))
		n1--;
	while (v0 < v1 && is_space(*v0))
		v0++;
	while (v1 > v0 && is_space(v1[-1]))
		v1--;
	*t = (struct sig_tag){ n0, v0, (size_t)(n1 - n0), (size_t)(v1 - v0) };
	*p = semi != NULL ? semi + 1 : end;
	return true;
}

static void
tag_found(const struct sig_tag *t, struct dkim_sig_outcome *o)
{
	if (t->nlen != 1)
		return;
	switch (t->name[0]) {
	case 'd':
		dkim_sigmap_copy_clean(o->d, sizeof(o->d), t->val, t->vlen);
		break;
	case 's':
		dkim_sigmap_copy_clean(o->s, sizeof(o->s), t->val, t->vlen);
		break;
	case 'b':
		dkim_sigmap_copy_clean(o->b, sizeof(o->b), t->val, t->vlen);
		break;
	case 'a':
		o->alg = alg_from_name(t->val, t->vlen);
		break;
	default:
		break;
	}
}

void
dkim_sigmap_malformed(const char *value, size_t len,
    struct dkim_sig_outcome *o)
{
	const char *p = value;
	struct sig_tag t;

	memset(o, 0, sizeof(*o));
	o->result = AUTHRES_PERMERROR;
	set_reason(o, "malformed signature field");
	while (next_tag(&p, value + len, &t))
		tag_found(&t, o);
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
	    (c >= 'a' && c <= 'f');
}

/* An i= value as libopendkim keeps it (white space removed): at most
 * DKIM_SIGMAP_MAX_IDENTITY octets, every '=' followed by two hex digits. */
static const char *
identity_problem(const char *val, size_t vlen)
{
	size_t n = 0, after_eq = 0;

	for (size_t i = 0; i < vlen; i++) {
		if (is_space(val[i]))
			continue;
		if (++n > DKIM_SIGMAP_MAX_IDENTITY)
			return "i= longer than 256 octets";
		if (after_eq > 0) {
			if (!is_hex(val[i]))
				return "i= not dkim-quoted-printable";
			after_eq--;
		} else if (val[i] == '=') {
			after_eq = 2;
		}
	}
	return after_eq > 0 ? "i= not dkim-quoted-printable" : NULL;
}

const char *
dkim_sigmap_unsafe(const char *value, size_t len)
{
	const char *p = value, *why = NULL;
	struct sig_tag t;

	while (why == NULL && next_tag(&p, value + len, &t))
		if (t.nlen == 1 && t.name[0] == 'i')
			why = identity_problem(t.val, t.vlen);
	return why;
}
