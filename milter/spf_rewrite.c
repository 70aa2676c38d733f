/*
 * spf_rewrite.c - the record libspf2 compiles, rewritten from one that
 * spf_record_check() accepted (see spf_rewrite.h for every rule and why).
 *
 * Public functions: spf_rewrite, spf_rewrite_magic.
 *
 * Invariants: input is a syntactically valid record (RFC 7208 section 12)
 * without NUL bytes, so terms parse without error paths here; every read
 * is bounded by the term's length; output grows in a realloc'd buffer (a
 * term may grow to about 80 bytes), so there is no fixed limit to check.
 */
#include "spf_rewrite.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_record.h"

#define COUNTER_TERM "?exists:" SPF_MAGIC_TERM_NAME
#define MAGIC_TAIL ".invalid"

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

struct rw {
	struct sbuf out;
	int v6;
	int seen_all;
	const char *redirect, *exp;
	size_t redirect_len, exp_len;
};

static void
put(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = (b->len + n + 1) * 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* " " then the qualifier (if any): the start of every emitted term. */
static void
start_term(struct sbuf *b, char q)
{
	put(b, " ", 1);
	if (q != '\0')
		put(b, &q, 1);
}

static int
name_is(const char *p, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(p, want, len) == 0;
}

/* Digits at p (validated: 1-3 of them) -> value. */
static int
number(const char *p, size_t len, size_t *used)
{
	int v = 0;
	size_t i;

	for (i = 0; i < len && isdigit((unsigned char)p[i]); i++)
		v = v * 10 + (p[i] - '0');
	*used = i;
	return v;
}

/* "/N", "//N" or "/N//M" -> *c4, *c6 (-1 when absent). */
static void
dual_cidr(const char *p, size_t len, int *c4, int *c6)
{
	size_t i = 0, used;

	*c4 = -1;
	*c6 = -1;
	if (len >= 1 && p[0] == '/' && (len < 2 || p[1] != '/')) {
		*c4 = number(p + 1, len - 1, &used);
		i = 1 + used;
	}
	if (len - i >= 2 && p[i] == '/' && p[i + 1] == '/')
		*c6 = number(p + i + 2, len - i - 2, &used);
}

/* a or mx: rest is what follows the name (":domain" and/or the cidr). */
static void
rewrite_a_mx(struct rw *st, char q, const char *name, size_t nlen,
    const char *rest, size_t rlen)
{
	size_t at = spf_record_cidr_start(rest, rlen), dlen;
	int c4, c6, want;
	char num[16];
	int n;

	dual_cidr(rest + at, rlen - at, &c4, &c6);
	want = st->v6 ? c6 : c4;
	puts_(&st->out, " " COUNTER_TERM);
	start_term(&st->out, q);
	if (want != 0) {
		put(&st->out, name, nlen);
		put(&st->out, rest, at);
		if (want > 0) {
			n = snprintf(num, sizeof(num), "%s%d",
			    st->v6 ? "//" : "/", want & 0xff);
			if (n > 0 && (size_t)n < sizeof(num))
				puts_(&st->out, num);
		}
		return;
	}
	puts_(&st->out, "exists:");
	dlen = at > 0 ? at - 1 : 0;            /* without the ':' */
	if (dlen > 0 && rest[at - 1] == '.')
		dlen--;
	if (dlen > 0)
		put(&st->out, rest + 1, dlen);
	else
		puts_(&st->out, "%{d}");
	puts_(&st->out, ".cutover-");
	puts_(&st->out, nlen == 1 ? "a" : "mx");
	puts_(&st->out, st->v6 ? "6" MAGIC_TAIL : "4" MAGIC_TAIL);
}

/* ip4 / ip6 with a length of 0: all of one family, nothing of the other. */
static void
rewrite_ip(struct rw *st, char q, int mech_v6, const char *term,
    size_t len)
{
	const char *slash = memchr(term, '/', len);

	if (slash == NULL || (size_t)(term + len - slash) != 2 ||
	    slash[1] != '0') {
		start_term(&st->out, q);
		put(&st->out, q ? term + 1 : term, q ? len - 1 : len);
		return;
	}
	if (mech_v6 != st->v6)
		return;
	start_term(&st->out, q);
	puts_(&st->out, mech_v6 ? "ip6:::/1" : "ip4:0.0.0.0/1");
	start_term(&st->out, q);
	puts_(&st->out, mech_v6 ? "ip6:8000::/1" : "ip4:128.0.0.0/1");
}

static void
rewrite_mechanism(struct rw *st, char q, const char *term, size_t len,
    const char *name, size_t nlen)
{
	const char *rest = name + nlen;
	size_t rlen = (size_t)(term + len - rest);

	if (st->seen_all)
		return;
	if (name_is(name, nlen, "a") || name_is(name, nlen, "mx")) {
		rewrite_a_mx(st, q, name, nlen, rest, rlen);
		return;
	}
	if (name_is(name, nlen, "ip4") || name_is(name, nlen, "ip6")) {
		rewrite_ip(st, q, name_is(name, nlen, "ip6"), term, len);
		return;
	}
	if (name_is(name, nlen, "ptr") || name_is(name, nlen, "exists"))
		puts_(&st->out, " " COUNTER_TERM);
	else if (name_is(name, nlen, "all"))
		st->seen_all = 1;
	start_term(&st->out, q);
	put(&st->out, name, (size_t)(term + len - name));
}

static void
rewrite_term(struct rw *st, const char *t, size_t len)
{
	char q = memchr("+-~?", t[0], 4) != NULL ? t[0] : '\0';
	const char *name = q ? t + 1 : t;
	size_t nlen = 0;

	while (name + nlen < t + len && memchr(":/=", name[nlen], 3) == NULL)
		nlen++;
	if (!q && name + nlen < t + len && name[nlen] == '=') {
		if (name_is(name, nlen, "redirect")) {
			st->redirect = t;
			st->redirect_len = len;
		} else if (name_is(name, nlen, "exp")) {
			st->exp = t;
			st->exp_len = len;
		}
		return;
	}
	rewrite_mechanism(st, q, t, len, name, nlen);
}

char *
spf_rewrite(const char *rec, size_t len, int client_v6)
{
	struct rw st;
	size_t pos = 6;

	memset(&st, 0, sizeof(st));
	st.v6 = client_v6;
	puts_(&st.out, "v=spf1");
	while (pos < len) {
		const char *sp;
		size_t tlen;

		if (rec[pos] == ' ') {
			pos++;
			continue;
		}
		sp = memchr(rec + pos, ' ', len - pos);
		tlen = sp ? (size_t)(sp - rec - pos) : len - pos;
		rewrite_term(&st, rec + pos, tlen);
		pos += tlen;
	}
	if (st.redirect != NULL && !st.seen_all) {
		put(&st.out, " ", 1);
		put(&st.out, st.redirect, st.redirect_len);
	}
	if (st.exp != NULL) {
		put(&st.out, " ", 1);
		put(&st.out, st.exp, st.exp_len);
	}
	if (st.out.oom) {
		free(st.out.p);
		return NULL;
	}
	return st.out.p;
}

static int
ends_with(const char *name, size_t len, const char *tail)
{
	size_t tl = strlen(tail);

	return len >= tl && strncasecmp(name + len - tl, tail, tl) == 0;
}

enum spf_magic
spf_rewrite_magic(const char *name, size_t len, size_t *domain_len, int *v6)
{
	static const struct {
		const char *tail;
		enum spf_magic kind;
		int v6;
	} tails[] = {
		{ ".cutover-a4" MAGIC_TAIL, SPF_MAGIC_A, 0 },
		{ ".cutover-a6" MAGIC_TAIL, SPF_MAGIC_A, 1 },
		{ ".cutover-mx4" MAGIC_TAIL, SPF_MAGIC_MX, 0 },
		{ ".cutover-mx6" MAGIC_TAIL, SPF_MAGIC_MX, 1 },
	};
	size_t i;

	*domain_len = 0;
	*v6 = 0;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (name_is(name, len, SPF_MAGIC_TERM_NAME))
		return SPF_MAGIC_TERM;
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		if (!ends_with(name, len, tails[i].tail))
			continue;
		*domain_len = len - strlen(tails[i].tail);
		*v6 = tails[i].v6;
		return tails[i].kind;
	}
	return SPF_MAGIC_NONE;
}
