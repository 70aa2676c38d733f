/*
 * dkim_verify.c - streaming DKIM verification of one message on
 * libopendkim, every signature reported (see dkim_verify.h).
 *
 * Public functions: dkimv_lib_new/free(), dkimv_new/free(), dkimv_header(),
 * dkimv_eoh(), dkimv_body(), dkimv_eom(); the per-signature mapping to
 * result words is dkim_sigmap.c, the key lookup dkim_keylookup.c.
 *
 * How libopendkim is driven:
 *  - DKIM_LIBFLAGS_FIXCRLF: libmilter hands header folds and body lines
 *    with bare LF; the library canonicalizes them as CRLF (header fields
 *    are also made CRLF here first, see header_crlf()).
 *  - DKIM_LIBFLAGS_DELAYSIGPROC: no key lookup at end of header, so one
 *    failing lookup cannot turn dkim_eoh() into an error for the whole
 *    message; after dkim_eom() every signature the library left
 *    unprocessed (it stops at the first good one) is processed with
 *    dkim_sig_process(), so each has its own verdict.
 *  - keys come from our callback (dkim_set_key_lookup), which asks
 *    auth_dns_txt() and records per signature what DNS said, so a DNS
 *    failure is temperror and a missing key permerror whatever the
 *    library makes of them (RFC 6376 6.1.2).
 *  - a prescreen callback ignores signatures past DKIMV_MAX_SIGS: a
 *    message with a thousand signatures costs at most that many lookups.
 *  - minimum RSA key size 1024 bits (RFC 8301 3.2).
 * A DKIM-Signature field libopendkim drops as unparsable (it would report
 * "no signature") is caught here: each such field is checked with
 * dkim_sig_syntax() as it arrives and reported as permerror, with whatever
 * d=/s= could be read from it.  Library signatures are matched back to the
 * fields in header order by d=, s= and b=.  A header field holding a NUL
 * byte is not given to libopendkim at all (it overflows a heap buffer on a
 * From with NULs), nor an empty field (it asserts): the message is
 * permerror.  Both found by fuzz_dkim_verify, as was an h= overrun in the
 * library kept away by one extra field (guard_field()), and an i= it reads
 * past the end of (dkim_sigmap_unsafe()): such a signature field is not
 * given to the library, that signature is permerror and the others are
 * evaluated (one that signed the withheld field then fails).
 *
 * Invariants: a verifier never holds a copy of the body (nor of the
 * header, beyond one field for a moment in header_crlf()); all per-message
 * state is in struct dkim_verifier (the library handle is shared and
 * read-only after dkimv_lib_new()); any libopendkim error marks the message
 * broken and every signature permerror, never pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_internal.h"

static const char SIG_NAME[] = "DKIM-Signature";

struct dkimv_lib *
dkimv_lib_new(struct auth_dns *dns)
{
	struct dkimv_lib *lib = calloc(1, sizeof(*lib));
	uint32_t flags = DKIM_LIBFLAGS_FIXCRLF | DKIM_LIBFLAGS_DELAYSIGPROC;
	u_int minbits = 1024;

	if (lib == NULL)
		return NULL;
	lib->dns = dns;
	lib->dl = dkim_init(NULL, NULL);
	if (lib->dl == NULL ||
	    dkim_options(lib->dl, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof(flags)) != DKIM_STAT_OK ||
	    dkim_options(lib->dl, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits,
	    sizeof(minbits)) != DKIM_STAT_OK ||
	    dkim_set_key_lookup(lib->dl, dkim_keylookup_cb) != DKIM_STAT_OK ||
	    dkim_set_prescreen(lib->dl, dkim_keylookup_prescreen) !=
	    DKIM_STAT_OK) {
		dkimv_lib_free(lib);
		return NULL;
	}
	return lib;
}

void
dkimv_lib_free(struct dkimv_lib *lib)
{
	if (lib == NULL)
		return;
	if (lib->dl != NULL)
		dkim_close(lib->dl);
	free(lib);
}

struct dkim_verifier *
dkimv_new(struct dkimv_lib *lib)
{
	struct dkim_verifier *v;
	DKIM_STAT st = DKIM_STAT_OK;

	if (lib == NULL || (v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->lib = lib;
	v->dkim = dkim_verify(lib->dl, (const u_char *)"cutover", NULL, &st);
	if (v->dkim == NULL || st != DKIM_STAT_OK ||
	    dkim_set_user_context(v->dkim, v) != DKIM_STAT_OK) {
		dkimv_free(v);
		return NULL;
	}
	v->state = DKIMV_ST_HEADER;
	return v;
}

void
dkimv_free(struct dkim_verifier *v)
{
	if (v == NULL)
		return;
	if (v->dkim != NULL)
		dkim_free(v->dkim);
	free(v);
}

/* Record that the message cannot be verified; the first reason stays. */
void
dkim_verifier_break(struct dkim_verifier *v, const char *what, DKIM_STAT st)
{
	const char *detail;
	int n;

	if (v->broken)
		return;
	v->broken = true;
	detail = v->dkim != NULL ? dkim_geterror(v->dkim) : NULL;
	if (detail == NULL || detail[0] == '\0')
		detail = dkim_getresultstr(st);
	n = snprintf(v->broken_reason, sizeof(v->broken_reason), "%s: %s",
	    what, detail != NULL ? detail : "error");
	if (n < 0) {
		v->broken_reason[0] = '\0';
		return;
	}
	if ((size_t)n >= sizeof(v->broken_reason))   /* cut: say so */
		memcpy(v->broken_reason + sizeof(v->broken_reason) - 4, "...", 4);
	for (char *p = v->broken_reason; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';     /* library texts may quote message bytes */
}

/* The value of a DKIM-Signature field, or NULL when it is another field. */
static const char *
sig_value(const char *field, size_t len, size_t *vlen)
{
	size_t n = sizeof(SIG_NAME) - 1;
	const char *p, *end = field + len, *colon;

	if (len < n || strncasecmp(field, SIG_NAME, n) != 0)
		return NULL;
	for (p = field + n; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if (p == end || *p != ':')
		return NULL;
	colon = p;
	*vlen = (size_t)(end - colon - 1);
	return colon + 1;
}

/*
 * Read what we can of a DKIM-Signature value and ask libopendkim whether
 * it parses; false when the field must be kept from the library (see
 * dkim_sigmap_unsafe()), also past DKIMV_MAX_SIGS.  dkim_sig_syntax() needs
 * a NUL-terminated string despite its length argument (it strlcpy()s tags
 * out of it), so it gets a copy.
 */
static bool
note_signature(struct dkim_verifier *v, const char *val, size_t vlen)
{
	size_t i = v->nfound++;
	const char *unsafe = dkim_sigmap_unsafe(val, vlen);
	char *copy;
	DKIM_STAT st = DKIM_STAT_SYNTAX;

	if (i >= DKIMV_MAX_SIGS)
		return unsafe == NULL;
	dkim_sigmap_malformed(val, vlen, &v->pre[i]);
	if (unsafe != NULL) {
		snprintf(v->pre[i].reason, sizeof(v->pre[i].reason), "%s",
		    unsafe);
		v->malformed[i] = true;
		return false;
	}
	if (v->dkim != NULL && memchr(val, '\0', vlen) == NULL &&
	    (copy = malloc(vlen + 1)) != NULL) {
		memcpy(copy, val, vlen);
		copy[vlen] = '\0';
		st = dkim_sig_syntax(v->dkim, (u_char *)copy, vlen);
		free(copy);
	}
	if (st != DKIM_STAT_OK)
		v->malformed[i] = true;
	return true;
}

/*
 * dkim_header() with every bare LF of the field made CRLF: libopendkim's
 * FIXCRLF covers canonicalization but not its tag parser, which then finds
 * a b= folded with bare LF corrupt.  Fields arrive that way from libmilter.
 * The copy is one header field, freed at once.
 */
static DKIM_STAT
header_crlf(struct dkim_verifier *v, const char *field, size_t len)
{
	size_t bare = 0, o = 0;
	char *copy;
	DKIM_STAT st;

	for (size_t i = 0; i < len; i++)
		if (field[i] == '\n' && (i == 0 || field[i - 1] != '\r'))
			bare++;
	if (bare == 0)
		return dkim_header(v->dkim, (u_char *)(uintptr_t)field, len);
	if ((copy = malloc(len + bare)) == NULL)
		return DKIM_STAT_NORESOURCE;
	for (size_t i = 0; i < len; i++) {
		if (field[i] == '\n' && (i == 0 || field[i - 1] != '\r'))
			copy[o++] = '\r';
		copy[o++] = field[i];
	}
	st = dkim_header(v->dkim, (u_char *)copy, o);
	free(copy);
	return st;
}

void
dkimv_header(struct dkim_verifier *v, const char *field, size_t len)
{
	const char *val;
	size_t vlen = 0;
	DKIM_STAT st;

	if (v == NULL || field == NULL)
		return;
	if (v->state != DKIMV_ST_HEADER) {
		dkim_verifier_break(v, "header after end of header",
		    DKIM_STAT_INVALID);
		return;
	}
	if ((val = sig_value(field, len, &vlen)) != NULL &&
	    !note_signature(v, val, vlen))
		return;        /* that signature is permerror, the rest go on */
	if (v->broken)
		return;
	if (len == 0) {
		/* libopendkim asserts len != 0 and would end the process */
		dkim_verifier_break(v, "empty header field", DKIM_STAT_SYNTAX);
		return;
	}
	if (memchr(field, '\0', len) != NULL) {
		/* never legal (RFC 5322 2.2), and libopendkim copies a From
		 * holding NULs past its buffer: keep them away from it */
		dkim_verifier_break(v, "NUL byte in a header field",
		    DKIM_STAT_SYNTAX);
		return;
	}
	st = header_crlf(v, field, len);
	if (st == DKIM_STAT_OK)
		return;
	if (val != NULL) {
		/* a signature the library cannot parse is that signature's
		 * permerror, not the other signatures' */
		if (v->nfound <= DKIMV_MAX_SIGS)
			v->malformed[v->nfound - 1] = true;
		return;
	}
	dkim_verifier_break(v, "header field refused", st);
}

/*
 * libopendkim 2.11.0~beta2 writes a pointer one past an array of as many
 * entries as the message has header fields when a signature's h= has
 * selected every field and still names more (dkim_canon_selecthdrs():
 * lhdrs[shcnt] = NULL with shcnt == dkim_hdrcnt): heap corruption any
 * sender can cause (found by fuzz_dkim_verify).  One more field whose name
 * holds a space can never be selected, because the library strips white
 * space from h= before it matches names, so no h= selects every field.
 * The field only exists inside the library: nothing signs, hashes or
 * reports it.
 */
static const char GUARD_FIELD[] = "Cutover guard: never in h=";

static DKIM_STAT
guard_field(struct dkim_verifier *v)
{
	return dkim_header(v->dkim, (u_char *)(uintptr_t)GUARD_FIELD,
	    sizeof GUARD_FIELD - 1);
}

void
dkimv_eoh(struct dkim_verifier *v)
{
	DKIM_STAT st;

	if (v == NULL)
		return;
	if (v->state != DKIMV_ST_HEADER) {
		dkim_verifier_break(v, "end of header twice", DKIM_STAT_INVALID);
		return;
	}
	v->state = DKIMV_ST_BODY;
	if (v->broken)
		return;
	if ((st = guard_field(v)) != DKIM_STAT_OK) {
		dkim_verifier_break(v, "guard field refused", st);
		return;
	}
	st = dkim_eoh(v->dkim);
	if (st == DKIM_STAT_NOSIG)
		v->nosig = true;
	else if (st != DKIM_STAT_OK)
		dkim_verifier_break(v, "header not verifiable", st);
}

void
dkimv_body(struct dkim_verifier *v, const char *chunk, size_t len)
{
	DKIM_STAT st;

	if (v == NULL || len == 0)
		return;
	if (v->state != DKIMV_ST_BODY) {
		dkim_verifier_break(v, "body outside the body", DKIM_STAT_INVALID);
		return;
	}
	if (v->broken || v->nosig || chunk == NULL)
		return;
	st = dkim_body(v->dkim, (u_char *)(uintptr_t)chunk, len);
	if (st != DKIM_STAT_OK)
		dkim_verifier_break(v, "body refused", st);
}
