/*
 * spf_exp.c - exp= text macro expansion, RFC 7208 7:
 *
 *   macro-expand = "%{" letter [DIGIT+] ["r"] *delimiter "}"
 *                / "%%" / "%_" / "%-"
 *   letters s l o d i p h c r t v; upper case = URL-escaped (7.3)
 *
 * Public functions: spf_exp_expand (see spf_exp.h).
 * Transformers (7.3): the value is split at any of the delimiters
 * (default "."), reversed with "r", cut to the N right-hand parts with a
 * digit, and joined with ".".  Invariants: every read bounded by len,
 * every write by outlen (overflow is an error, never a silent cut).
 */
#include "spf_exp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define VALUE_MAX 1100
#define PARTS_MAX 128

struct out {
	char *p;
	size_t len, cap;
};

static int
put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap)
		return -1;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

static int
put_str(struct out *o, const char *s)
{
	return put(o, s, strlen(s));
}

static int
ip_value(const struct spf_exp_env *env, int dotted, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (!env->v6 || !dotted)
		return inet_ntop(env->v6 ? AF_INET6 : AF_INET, env->ip, buf,
		    (socklen_t)len) ? 0 : -1;
	if (len < 64)
		return -1;
	for (i = 0; i < 16; i++) {
		buf[o++] = hex[env->ip[i] >> 4];
		buf[o++] = '.';
		buf[o++] = hex[env->ip[i] & 0xf];
		buf[o++] = i == 15 ? '\0' : '.';
	}
	return 0;
}

/* The raw value of a macro letter (lower-cased) into buf. */
static int
letter_value(const struct spf_exp_env *env, char letter, char *buf,
    size_t len)
{
	const char *at = strrchr(env->sender, '@');
	int n;

	if (letter == 'i' || letter == 'c')
		return ip_value(env, letter == 'i', buf, len);
	if (letter == 't')
		n = snprintf(buf, len, "%lld", env->now);
	else if (letter == 'l' && at != NULL && at != env->sender)
		n = snprintf(buf, len, "%.*s", (int)(at - env->sender),
		    env->sender);
	else if (letter == 'l')
		n = snprintf(buf, len, "postmaster");
	else if (letter == 'o')
		n = snprintf(buf, len, "%s", at ? at + 1 : env->sender);
	else if (letter == 'p')
		n = snprintf(buf, len, "%s", env->validated_name ?
		    env->validated_name(env->arg) : "unknown");
	else if (letter == 'v')
		n = snprintf(buf, len, "%s", env->v6 ? "ip6" : "in-addr");
	else if (strchr("sdhr", letter) != NULL)
		n = snprintf(buf, len, "%s", letter == 's' ? env->sender :
		    letter == 'd' ? env->domain : letter == 'h' ? env->helo :
		    env->receiver);
	else
		return -1;
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

/* Split value at delims, reverse, keep the right-most keep parts (0 =
 * all), join with '.'. */
static int
transform(char *value, const char *delims, size_t ndelims, int reverse,
    unsigned keep, struct out *o)
{
	char *part[PARTS_MAX];
	size_t n = 0, i, first, p = 0, len = strlen(value);

	part[n++] = value;
	for (i = 0; i < len; i++)
		if (memchr(delims, value[i], ndelims) != NULL) {
			if (n == PARTS_MAX)
				return -1;
			value[i] = '\0';
			part[n++] = value + i + 1;
		}
	for (i = 0; reverse && i < n / 2; i++) {
		char *t = part[i];

		part[i] = part[n - 1 - i];
		part[n - 1 - i] = t;
	}
	first = keep > 0 && keep < n ? n - keep : 0;
	for (i = first; i < n; i++)
		if ((p++ > 0 && put(o, ".", 1) != 0) || put_str(o, part[i]) != 0)
			return -1;
	return 0;
}

/* RFC 3986 unreserved characters stay, everything else is %XX. */
static int
url_escape(const char *s, struct out *o)
{
	char hex[4];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			if (put(o, s, 1) != 0)
				return -1;
			continue;
		}
		snprintf(hex, sizeof(hex), "%%%02X", c);
		if (put(o, hex, 3) != 0)
			return -1;
	}
	return 0;
}

/* One "%{...}" at p (len bytes left); returns bytes used, 0 on error. */
static size_t
expand_macro(const struct spf_exp_env *env, const char *p, size_t len,
    struct out *o)
{
	char value[VALUE_MAX], done[VALUE_MAX];
	struct out t = { done, 0, sizeof(done) };
	size_t i = 3, dstart;
	unsigned keep = 0;
	int upper, reverse = 0;
	char letter;

	if (len < 4 || !isalpha((unsigned char)p[2]))
		return 0;
	upper = isupper((unsigned char)p[2]);
	letter = (char)tolower((unsigned char)p[2]);
	for (; i < len && isdigit((unsigned char)p[i]) && keep < 1000; i++)
		keep = keep * 10 + (unsigned)(p[i] - '0');
	if (i < len && (p[i] == 'r' || p[i] == 'R')) {
		reverse = 1;
		i++;
	}
	for (dstart = i; i < len && memchr(".-+,/_=", p[i], 7) != NULL; i++)
		;
	if (i >= len || p[i] != '}' || (i > 3 && isdigit((unsigned char)
	    p[3]) && keep == 0))
		return 0;
	if (letter_value(env, letter, value, sizeof(value)) != 0)
		return 0;
	done[0] = '\0';
	if (transform(value, i > dstart ? p + dstart : ".", i > dstart ?
	    i - dstart : 1, reverse, keep, &t) != 0)
		return 0;
	if ((upper ? url_escape(done, o) : put_str(o, done)) != 0)
		return 0;
	return i + 1;
}

int
spf_exp_expand(const struct spf_exp_env *env, const char *text, size_t len,
    char *out, size_t outlen)
{
	struct out o = { out, 0, outlen };
	size_t i = 0, used;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	while (i < len) {
		if (text[i] != '%') {
			if (put(&o, text + i, 1) != 0)
				return -1;
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		if (text[i + 1] == '{')
			used = expand_macro(env, text + i, len - i, &o);
		else if (text[i + 1] == '%' || text[i + 1] == '_')
			used = put(&o, text[i + 1] == '%' ? "%" : " ", 1) ? 0 : 2;
		else if (text[i + 1] == '-')
			used = put(&o, "%20", 3) ? 0 : 2;
		else
			used = 0;
		if (used == 0)
			return -1;
		i += used;
	}
	return 0;
}
