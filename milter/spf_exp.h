/*
 * spf_exp.h - macro expansion of an exp= explanation text (RFC 7208 6.2,
 * 7), done by us rather than by libspf2.
 *
 * Public functions:
 *   spf_exp_expand()  macro-string -> text; -1 on a syntax error or when
 *                     the text does not fit (RFC 7208 6.2: then there is
 *                     no explanation)
 *
 * Why ours: libspf2 URL-escapes upper-case macros with lower-case hex
 * (RFC 3986 2.1 asks for upper case: "%3D") and has no way to expand
 * %{p} that we control.  The expanded text is then handed to libspf2 as
 * a literal (spf_dns.c escapes '%' and ' '), so libspf2 only copies it.
 *
 * Pure: no DNS here; %{p} comes from a callback, asked only when used.
 */
#ifndef CUTOVER_SPF_EXP_H
#define CUTOVER_SPF_EXP_H

#include <stddef.h>

struct spf_exp_env {
	const char *sender;       /* %{s}: local@domain */
	const char *domain;       /* %{d}: the current domain */
	const char *helo;         /* %{h} */
	const char *receiver;     /* %{r} */
	int v6;                   /* client family, for %{i} %{c} %{v} */
	unsigned char ip[16];     /* 4 or 16 bytes used */
	long long now;            /* %{t} */
	/* %{p}: the validated client name, or "unknown" */
	const char *(*validated_name)(void *arg);
	void *arg;
};

int spf_exp_expand(const struct spf_exp_env *env, const char *text,
    size_t len, char *out, size_t outlen);

#endif
