/*
 * fuzz_authres.c - libFuzzer target for authres_format() / authres_is_ours().
 *
 * Input layout: byte 0 = number of resinfos (mod 4), byte 1 = cap selector,
 * bytes 2..5 = method/result per resinfo, then fields split at 0xff:
 * authserv-id, comment (per resinfo, empty = none), then property values,
 * dealt out to the resinfos in turn.
 * Invariants checked:
 *   - the cap is never passed (a canary after it stays), the result is -1
 *     with "" or the exact length with a NUL;
 *   - every CR is the start of CRLF TAB, every LF part of it, no space
 *     on either side of a fold (line widths are checked by test_authres);
 *   - parsed back, the output gives the same authserv-id, methods,
 *     results, comments and property values, in order;
 *   - -1 with a large cap only when some input holds a control character;
 *   - authres_is_ours() recognises our own output.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define MAXF 16
#define BIG 65536

static const char *const names[][2] = {
	{ "smtp", "mailfrom" }, { "header", "d" }, { "header", "s" },
	{ "header", "b" }, { "header", "from" }, { "policy", "dkim-rules" },
};

struct in {
	char *id, *comment[3];
	struct authres_prop props[3][MAXF];
	struct authres_resinfo ri[3];
	size_t n;
	bool ctl;
};

struct rd {
	const char *p, *end;
};

static bool
has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return true;
	return false;
}

/* Read a value (quoted-string or bare) into buf; returns its length. */
static size_t
read_value(struct rd *r, char *buf)
{
	size_t n = 0;

	if (r->p < r->end && *r->p == '"') {
		for (r->p++; r->p < r->end && *r->p != '"'; r->p++) {
			if (*r->p == '\\')
				r->p++;
			CHECK(r->p < r->end);
			buf[n++] = *r->p;
		}
		CHECK(r->p < r->end);
		r->p++;
		return n;
	}
	while (r->p < r->end && *r->p != ' ' && *r->p != ';')
		buf[n++] = *r->p++;
	return n;
}

static void
expect(struct rd *r, const char *s)
{
	size_t n = strlen(s);

	CHECK((size_t)(r->end - r->p) >= n && memcmp(r->p, s, n) == 0);
	r->p += n;
}

/*
 * Split data into the struct; fields are malloc'd NUL-terminated copies
 * (freed by the caller), flen their lengths: property values keep their
 * embedded NULs, the C strings (id, comments) end at the first one.
 */
static void
build(const uint8_t *data, size_t size, struct in *in, char **fields,
    size_t *flen, size_t *nf)
{
	size_t pos = 6, k, i;

	*nf = 0;
	while (pos <= size && *nf < MAXF) {
		const uint8_t *e = memchr(data + pos, 0xff, size - pos);
		size_t len = e ? (size_t)(e - data) - pos : size - pos;

		fields[*nf] = malloc(len + 1);
		CHECK(fields[*nf] != NULL);
		memcpy(fields[*nf], data + pos, len);
		fields[*nf][len] = '\0';
		flen[(*nf)++] = len;
		pos += len + 1;
	}
	memset(in, 0, sizeof *in);
	in->n = data[0] % 4;
	in->id = *nf > 0 ? fields[0] : "mx.example.net";
	in->ctl = has_ctl(in->id, strlen(in->id));
	for (i = 0; i < in->n; i++) {
		in->ri[i].method = (enum authres_method)(data[2 + i] % 3);
		in->ri[i].result = (enum authres_result)((data[2 + i] >> 2) % 8);
		in->ri[i].props = in->props[i];
		if (1 + i < *nf && fields[1 + i][0] != '\0') {
			in->ri[i].comment = fields[1 + i];
			in->ctl |= has_ctl(fields[1 + i], strlen(fields[1 + i]));
		}
	}
	for (k = 1 + in->n; in->n > 0 && k < *nf; k++) {
		struct authres_resinfo *r = &in->ri[k % in->n];
		struct authres_prop *p = &in->props[k % in->n][r->nprops++];

		p->ptype = names[k % 6][0];
		p->property = names[k % 6][1];
		p->value = fields[k];
		p->value_len = flen[k];
		in->ctl |= has_ctl(fields[k], flen[k]);
	}
}

/* Unfold: every CRLF TAB must be a fold and becomes one space. */
static size_t
unfold(const char *s, size_t n, char *out)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			CHECK(i + 2 < n && s[i + 1] == '\n' && s[i + 2] == '\t');
			CHECK(i > 0 && s[i - 1] != ' ' && s[i + 3] != ' ');
			out[m++] = ' ';
			i += 2;
			continue;
		}
		CHECK(s[i] != '\n');
		out[m++] = s[i];
	}
	return m;
}

static void
parse_back(const struct in *in, const char *s, size_t n)
{
	char *flat = malloc(n + 1), *val = malloc(n + 1);
	struct rd r;
	size_t i, j, len;

	CHECK(flat != NULL && val != NULL);
	r.p = flat;
	r.end = flat + unfold(s, n, flat);
	len = read_value(&r, val);
	CHECK(len == strlen(in->id) && memcmp(val, in->id, len) == 0);
	if (in->n == 0)
		expect(&r, "; none");
	for (i = 0; i < in->n; i++) {
		const struct authres_resinfo *ri = &in->ri[i];

		expect(&r, "; ");
		expect(&r, authres_method_name(ri->method));
		expect(&r, "=");
		expect(&r, authres_result_name(ri->result));
		if (ri->comment != NULL) {
			expect(&r, " (");
			for (len = 0; r.p < r.end && *r.p != ')'; r.p++) {
				if (*r.p == '\\')
					r.p++;
				CHECK(r.p < r.end);
				val[len++] = *r.p;
			}
			expect(&r, ")");
			CHECK(len == strlen(ri->comment) &&
			    memcmp(val, ri->comment, len) == 0);
		}
		for (j = 0; j < ri->nprops; j++) {
			expect(&r, " ");
			expect(&r, ri->props[j].ptype);
			expect(&r, ".");
			expect(&r, ri->props[j].property);
			expect(&r, "=");
			len = read_value(&r, val);
			CHECK(len == ri->props[j].value_len &&
			    memcmp(val, ri->props[j].value, len) == 0);
		}
	}
	CHECK(r.p == r.end);
	free(flat);
	free(val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fields[MAXF], *buf;
	size_t flen[MAXF];
	struct in in;
	size_t nf, i, cap;
	int n, m;

	if (size < 6)
		return 0;
	build(data, size, &in, fields, flen, &nf);
	buf = malloc(BIG + 1);
	CHECK(buf != NULL);
	n = authres_format(in.id, in.ri, in.n, buf, BIG);
	CHECK(n == -1 ? in.ctl || in.id[0] == '\0' : !in.ctl);
	if (n >= 0) {
		CHECK((size_t)n < BIG && buf[n] == '\0' && strlen(buf) == (size_t)n);
		parse_back(&in, buf, (size_t)n);
		CHECK(authres_is_ours(buf, (size_t)n, in.id));
	} else {
		CHECK(buf[0] == '\0');
	}
	cap = 1 + (size_t)data[1] * 8;
	memset(buf, 'Z', cap + 1);
	m = authres_format(in.id, in.ri, in.n, buf, cap);
	CHECK(buf[cap] == 'Z');
	CHECK(m == ((n >= 0 && (size_t)n < cap) ? n : -1));
	for (i = 0; i < nf; i++)
		free(fields[i]);
	free(buf);
	return 0;
}
