/*
 * dns_types.c - typed lookups over auth_dns_lookup(): TXT (strings joined,
 * RFC 7208 3.3 / RFC 6376 3.6.2.2), A/AAAA addresses, MX/PTR names.
 *
 * Public functions: auth_dns_txt/_free, auth_dns_addrs/_free,
 * auth_dns_names/_free, auth_dns_rdata_name.
 *
 * Invariants: every rdata is parsed with (pos, len) bounds; a record whose
 * rdata does not parse makes the whole answer TEMPFAIL (malformed, per
 * dns.h), never a shorter list.  Names in rdata are uncompressed (libunbound
 * hands them out decompressed); a compression pointer is malformed here.
 * Label bytes other than letters, digits, '-' and '_' are written as \DDD
 * (RFC 1035 5.1), so a name never smuggles a '.' or a NUL.
 */
#include "dns.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int
join_txt(const unsigned char *p, size_t len, char **out, size_t *outlen)
{
	size_t pos = 0, n = 0;
	char *buf = malloc(len + 1);

	if (buf == NULL)
		return -1;
	while (pos < len) {
		size_t slen = p[pos];

		if (slen > len - pos - 1) {
			free(buf);
			return -1;
		}
		memcpy(buf + n, p + pos + 1, slen);
		n += slen;
		pos += 1 + slen;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

enum auth_dns_status
auth_dns_txt(struct auth_dns *d, const char *name, struct auth_dns_txt *out)
{
	struct auth_dns_rrset rr;
	enum auth_dns_status st;
	size_t i;

	memset(out, 0, sizeof(*out));
	st = auth_dns_lookup(d, name, AUTH_DNS_T_TXT, NULL, &rr);
	if (st != AUTH_DNS_OK)
		return st;
	out->rec = calloc(rr.n ? rr.n : 1, sizeof(*out->rec));
	out->len = calloc(rr.n ? rr.n : 1, sizeof(*out->len));
	if (out->rec == NULL || out->len == NULL)
		st = AUTH_DNS_TEMPFAIL;
	for (i = 0; st == AUTH_DNS_OK && i < rr.n; i++) {
		if (join_txt(rr.data[i], rr.len[i], &out->rec[i],
		    &out->len[i]) != 0)
			st = AUTH_DNS_TEMPFAIL;
		else
			out->n = i + 1;
	}
	auth_dns_rrset_free(&rr);
	if (st != AUTH_DNS_OK)
		auth_dns_txt_free(out);
	return st;
}

void
auth_dns_txt_free(struct auth_dns_txt *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->rec[i]);
	free(t->rec);
	free(t->len);
	memset(t, 0, sizeof(*t));
}

enum auth_dns_status
auth_dns_addrs(struct auth_dns *d, const char *name, int rrtype,
    struct auth_dns_tally *tally, struct auth_dns_addrlist *out)
{
	struct auth_dns_rrset rr;
	enum auth_dns_status st;
	size_t i, want = rrtype == AUTH_DNS_T_AAAA ? 16 : 4;

	memset(out, 0, sizeof(*out));
	if (rrtype != AUTH_DNS_T_A && rrtype != AUTH_DNS_T_AAAA)
		return AUTH_DNS_TEMPFAIL;
	st = auth_dns_lookup(d, name, rrtype, tally, &rr);
	if (st != AUTH_DNS_OK)
		return st;
	out->addr = calloc(rr.n ? rr.n : 1, sizeof(*out->addr));
	if (out->addr == NULL)
		st = AUTH_DNS_TEMPFAIL;
	for (i = 0; st == AUTH_DNS_OK && i < rr.n; i++) {
		if (rr.len[i] != want) {
			st = AUTH_DNS_TEMPFAIL;
			break;
		}
		out->addr[i].family = want == 16 ? AF_INET6 : AF_INET;
		memcpy(out->addr[i].a, rr.data[i], want);
		out->n = i + 1;
	}
	auth_dns_rrset_free(&rr);
	if (st != AUTH_DNS_OK)
		auth_dns_addrs_free(out);
	return st;
}

void
auth_dns_addrs_free(struct auth_dns_addrlist *a)
{
	if (a == NULL)
		return;
	free(a->addr);
	memset(a, 0, sizeof(*a));
}

static int
put_label_byte(unsigned char c, char *out, size_t outlen, size_t *o)
{
	int plain = isalnum(c) || c == '-' || c == '_';
	size_t need = plain ? 1 : 4;

	if (*o + need >= outlen)
		return -1;
	if (plain) {
		out[(*o)++] = (char)c;
		return 0;
	}
	out[(*o)++] = '\\';
	out[(*o)++] = (char)('0' + c / 100);
	out[(*o)++] = (char)('0' + (c / 10) % 10);
	out[(*o)++] = (char)('0' + c % 10);
	return 0;
}

int
auth_dns_rdata_name(const unsigned char *p, size_t len, size_t *used,
    char *out, size_t outlen)
{
	size_t pos = 0, o = 0, i;

	if (outlen == 0)
		return -1;
	for (;;) {
		size_t lab;

		if (pos >= len)
			return -1;
		lab = p[pos++];
		if (lab == 0)
			break;
		if (lab > 63 || lab > len - pos)
			return -1;
		if (o > 0 && o + 1 < outlen)
			out[o++] = '.';
		else if (o > 0)
			return -1;
		for (i = 0; i < lab; i++)
			if (put_label_byte(p[pos + i], out, outlen, &o) != 0)
				return -1;
		pos += lab;
	}
	out[o] = '\0';
	if (used != NULL)
		*used = pos;
	return 0;
}

static int
parse_name_rr(const unsigned char *p, size_t len, int rrtype, char **name,
    unsigned *pref)
{
	char buf[1025];
	size_t skip = rrtype == AUTH_DNS_T_MX ? 2 : 0, used;

	if (len < skip)
		return -1;
	*pref = skip ? (unsigned)(p[0] << 8 | p[1]) : 0;
	if (auth_dns_rdata_name(p + skip, len - skip, &used, buf,
	    sizeof(buf)) != 0 || used != len - skip)
		return -1;
	*name = strdup(buf);
	return *name == NULL ? -1 : 0;
}

enum auth_dns_status
auth_dns_names(struct auth_dns *d, const char *name, int rrtype,
    struct auth_dns_tally *tally, struct auth_dns_namelist *out)
{
	struct auth_dns_rrset rr;
	enum auth_dns_status st;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (rrtype != AUTH_DNS_T_MX && rrtype != AUTH_DNS_T_PTR)
		return AUTH_DNS_TEMPFAIL;
	st = auth_dns_lookup(d, name, rrtype, tally, &rr);
	if (st != AUTH_DNS_OK)
		return st;
	out->name = calloc(rr.n ? rr.n : 1, sizeof(*out->name));
	out->pref = calloc(rr.n ? rr.n : 1, sizeof(*out->pref));
	if (out->name == NULL || out->pref == NULL)
		st = AUTH_DNS_TEMPFAIL;
	for (i = 0; st == AUTH_DNS_OK && i < rr.n; i++) {
		if (parse_name_rr(rr.data[i], rr.len[i], rrtype, &out->name[i],
		    &out->pref[i]) != 0)
			st = AUTH_DNS_TEMPFAIL;
		else
			out->n = i + 1;
	}
	auth_dns_rrset_free(&rr);
	if (st != AUTH_DNS_OK)
		auth_dns_names_free(out);
	return st;
}

void
auth_dns_names_free(struct auth_dns_namelist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->name[i]);
	free(l->name);
	free(l->pref);
	memset(l, 0, sizeof(*l));
}
