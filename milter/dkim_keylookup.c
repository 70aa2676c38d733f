/*
 * dkim_keylookup.c - libopendkim callbacks of the DKIM verifier: the key
 * lookup through auth_dns (milter/dns.h) and the prescreen that bounds the
 * number of signatures evaluated.
 *
 * Public functions: dkim_keylookup_cb(), dkim_keylookup_prescreen(),
 * dkim_keylookup_seen().
 *
 * Key lookup (RFC 6376 3.6.2): TXT at selector._domainkey.domain.  The
 * name is built only from LDH labels and dots, at most 253 octets, so
 * nothing a sender writes in s= or d= reaches the resolver as anything but
 * a plain name (an unusable one is permerror).  Answers: a record is handed
 * to libopendkim, which parses the tag list; several records: the first
 * that starts with "v=DKIM1", else the first (RFC 6376 3.6.2.2 lets the
 * verifier choose); NXDOMAIN/NODATA -> no key (permerror); TEMPFAIL or no
 * resolver -> try again (temperror).  A record longer than libopendkim's
 * buffer or holding a NUL byte is refused (permerror) rather than cut.
 * What was seen is recorded per signature for dkim_sigmap.c.
 *
 * q= (RFC 6376 3.5): with a lookup callback libopendkim no longer checks
 * it, so it is checked here: unknown methods are ignored, and a signature
 * whose q= names no "dns/txt" has no way to get its key: permerror,
 * without a query.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_internal.h"
#include "dns.h"

#define KEY_NAME_MAX 253
#define KEY_PREFIX "._domainkey."

static bool
ldh_name(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* selector._domainkey.domain into name (KEY_NAME_MAX + 1 bytes). */
static bool
key_name(DKIM_SIGINFO *sig, char *name, size_t cap)
{
	const char *s = (const char *)dkim_sig_getselector(sig);
	const char *d = (const char *)dkim_sig_getdomain(sig);
	size_t sl, dl, pl = sizeof(KEY_PREFIX) - 1;

	if (s == NULL || d == NULL)
		return false;
	sl = strnlen(s, cap);
	dl = strnlen(d, cap);
	if (!ldh_name(s, sl) || !ldh_name(d, dl) || sl + pl + dl >= cap)
		return false;
	memcpy(name, s, sl);
	memcpy(name + sl, KEY_PREFIX, pl);
	memcpy(name + sl + pl, d, dl);
	name[sl + pl + dl] = '\0';
	return true;
}

/* q= absent, or one of its colon-separated methods is dns/txt. */
static bool
query_ok(DKIM_SIGINFO *sig)
{
	const char *q = (const char *)dkim_sig_gettagvalue(sig, 0,
	    (u_char *)"q");
	const char *p, *end;

	if (q == NULL)
		return true;
	end = q + strlen(q);
	for (p = q; p < end; ) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *e = colon != NULL ? colon : end, *a = p;

		while (a < e && (*a == ' ' || *a == '\t' || *a == '\r' ||
		    *a == '\n'))
			a++;
		while (e > a && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r' || e[-1] == '\n'))
			e--;
		if (e - a == 7 && strncasecmp(a, "dns/txt", 7) == 0)
			return true;
		p = colon != NULL ? colon + 1 : end;
	}
	return false;
}

static size_t
pick_record(const struct auth_dns_txt *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const char *r = t->rec[i];
		size_t n = t->len[i], p = 0;

		while (p < n && (r[p] == ' ' || r[p] == '\t'))
			p++;
		if (n - p >= 7 && strncmp(r + p, "v=DKIM1", 7) == 0)
			return i;
	}
	return 0;
}

static enum dkim_keylook
lookup(struct dkimv_lib *lib, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	char name[KEY_NAME_MAX + 1];
	struct auth_dns_txt t = { 0 };
	enum auth_dns_status st;
	enum dkim_keylook look = DKIM_KEYLOOK_BADREC;
	size_t i;

	if (!query_ok(sig))
		return DKIM_KEYLOOK_BADQUERY;
	if (!key_name(sig, name, sizeof(name)))
		return DKIM_KEYLOOK_BADNAME;
	if (lib->dns == NULL)
		return DKIM_KEYLOOK_TEMPFAIL;
	st = auth_dns_txt(lib->dns, name, &t);
	if (st == AUTH_DNS_NXDOMAIN || st == AUTH_DNS_NODATA ||
	    (st == AUTH_DNS_OK && t.n == 0))
		look = DKIM_KEYLOOK_NOTFOUND;
	else if (st != AUTH_DNS_OK)
		look = DKIM_KEYLOOK_TEMPFAIL;
	else {
		i = pick_record(&t);
		if (t.len[i] < buflen &&
		    memchr(t.rec[i], '\0', t.len[i]) == NULL) {
			memcpy(buf, t.rec[i], t.len[i]);
			buf[t.len[i]] = '\0';
			look = DKIM_KEYLOOK_OK;
		}
	}
	auth_dns_txt_free(&t);
	return look;
}

static void
remember(struct dkim_verifier *v, const DKIM_SIGINFO *sig,
    enum dkim_keylook look)
{
	for (size_t i = 0; i < v->nlook; i++) {
		if (v->look[i].sig == sig) {
			v->look[i].look = look;
			return;
		}
	}
	if (v->nlook < DKIMV_MAX_SIGS) {
		v->look[v->nlook].sig = sig;
		v->look[v->nlook].look = look;
		v->nlook++;
	}
}

enum dkim_keylook
dkim_keylookup_seen(const struct dkim_verifier *v, const DKIM_SIGINFO *sig)
{
	for (size_t i = 0; i < v->nlook; i++)
		if (v->look[i].sig == sig)
			return v->look[i].look;
	return DKIM_KEYLOOK_NONE;
}

DKIM_CBSTAT
dkim_keylookup_cb(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct dkim_verifier *v = dkim_get_user_context(dkim);
	enum dkim_keylook look;

	if (v == NULL || sig == NULL || buf == NULL || buflen == 0)
		return DKIM_CBSTAT_ERROR;
	buf[0] = '\0';
	look = lookup(v->lib, sig, buf, buflen);
	remember(v, sig, look);
	switch (look) {
	case DKIM_KEYLOOK_OK:
		return DKIM_CBSTAT_CONTINUE;
	case DKIM_KEYLOOK_NOTFOUND:
		return DKIM_CBSTAT_NOTFOUND;
	case DKIM_KEYLOOK_TEMPFAIL:
		return DKIM_CBSTAT_TRYAGAIN;
	default:
		return DKIM_CBSTAT_ERROR;
	}
}

DKIM_CBSTAT
dkim_keylookup_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	for (int i = DKIMV_MAX_SIGS; i < nsigs; i++)
		dkim_sig_ignore(sigs[i]);
	return DKIM_CBSTAT_CONTINUE;
}
