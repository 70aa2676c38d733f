/*
 * orgdomain.c - Organizational Domain via libpsl, DMARC alignment.
 *
 * Public functions: orgdomain_get(), orgdomain_source(), dmarc_aligned().
 *
 * RFC 7489 3.2: the longest public-suffix match plus one more label; that
 * is libpsl's psl_registrable_domain().  When the name is itself a public
 * suffix there is no extra label: like OpenDMARC and the DMARCbis draft we
 * take the name itself, so "com" aligns only with "com".
 *
 * Why the Debian list first, not psl_latest(NULL): psl_latest() picks the
 * newer of the built-in list and the distribution file, and libpsl may be
 * built without either; naming the file keeps the list the one the admin
 * updates with apt, and orgdomain_source() tells which one is in use.  The
 * .dafsa form loads without parsing 200 KB of text.
 *
 * Invariants: the context is created once (pthread_once) and only read
 * afterwards, so concurrent callers (milter threads) need no lock.  Names
 * are validated and lowercased into a local buffer before libpsl sees
 * them, so libpsl never gets non-ASCII, uppercase or empty labels.
 */
#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "orgdomain.h"

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;
static const char *psl_src = "none";

static void
load_psl(void)
{
	static const char *files[] = { ORGDOMAIN_PSL_DAFSA, ORGDOMAIN_PSL_DAT };
	static const char *names[] = { "file:" ORGDOMAIN_PSL_DAFSA,
	    "file:" ORGDOMAIN_PSL_DAT };
	size_t i;

	for (i = 0; i < 2; i++) {
		if (access(files[i], R_OK) != 0)
			continue;
		psl_ctx = psl_load_file(files[i]);
		if (psl_ctx != NULL) {
			psl_src = names[i];
			return;
		}
	}
	psl_ctx = psl_builtin();
	if (psl_ctx != NULL)
		psl_src = "builtin";
}

const char *
orgdomain_source(void)
{
	pthread_once(&psl_once, load_psl);
	return psl_src;
}

/*
 * Lowercase `domain` into buf (NUL-terminated), dropping one trailing dot;
 * returns the length, or -1 if it is not a usable DNS name.
 */
static int
normalize(const char *domain, size_t len, char *buf, size_t cap)
{
	size_t i, label = 0;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > ORGDOMAIN_MAX || len >= cap)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)domain[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
		buf[i] = (char)tolower(c);
	}
	if (label == 0)
		return -1;
	buf[len] = '\0';
	return (int)len;
}

int
orgdomain_get(const char *domain, size_t len, char *out, size_t cap)
{
	char name[ORGDOMAIN_MAX + 1];
	const char *reg;
	int n;
	size_t rlen;

	if (cap > 0)
		out[0] = '\0';
	n = normalize(domain, len, name, sizeof name);
	pthread_once(&psl_once, load_psl);
	if (n < 0 || psl_ctx == NULL)
		return -1;
	reg = psl_registrable_domain(psl_ctx, name);
	if (reg == NULL)
		reg = name;
	rlen = (size_t)n - (size_t)(reg - name);
	if (rlen >= cap)
		return -1;
	memcpy(out, reg, rlen + 1);
	return (int)rlen;
}

bool
dmarc_aligned(const char *a, const char *b, enum dmarc_align mode)
{
	char na[ORGDOMAIN_MAX + 1], nb[ORGDOMAIN_MAX + 1];
	int la, lb;

	if (a == NULL || b == NULL)
		return false;
	if (mode == DMARC_ALIGN_STRICT) {
		la = normalize(a, strlen(a), na, sizeof na);
		lb = normalize(b, strlen(b), nb, sizeof nb);
	} else {
		la = orgdomain_get(a, strlen(a), na, sizeof na);
		lb = orgdomain_get(b, strlen(b), nb, sizeof nb);
	}
	return la >= 0 && la == lb && memcmp(na, nb, (size_t)la) == 0;
}
