/*
 * fuzz_upstream_reply.c - libFuzzer target for smtpd/upstream_reply.c and
 * the DNS answer parser smtpd/mx_dns.c.
 *
 * The input is split at LF into reply lines (each copied into an exact-size
 * buffer, so ASan sees any over-read) and fed to upstream_reply_parse()
 * until it says DONE or ERROR, then the parser starts over; every line also
 * goes to upstream_caps_line().  Checked: the text pointer stays inside the
 * line, codes stay 200..599 and equal across a reply, the enhanced code's
 * class matches, nlines <= UPSTREAM_LINES_MAX, kept texts have no control
 * octet, and upstream_reply_format() of a complete reply is well-formed
 * (each line "ddd[- ]c.d.d upstream ...", joined by CRLF, nothing else).
 * The whole input is also parsed as a DNS message for A, AAAA and MX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_dns.h"
#include "upstream_reply.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void
check_format(const struct upstream_reply *r)
{
	char buf[UPSTREAM_LINES_MAX * (UPSTREAM_LINE_MAX + 400)];
	int n = upstream_reply_format(r, buf, sizeof(buf));

	CHECK(n > 0 && (size_t)n == strlen(buf));
	for (const char *p = buf; p != NULL;) {
		CHECK(p[0] == buf[0] && p[1] == buf[1] && p[2] == buf[2]);
		CHECK(p[3] == ' ' || p[3] == '-');
		CHECK(p[4] == buf[0]);
		const char *cr = strchr(p, '\r');
		CHECK(cr == NULL || cr[1] == '\n');
		CHECK(memchr(p, '\n', cr != NULL ? (size_t)(cr - p) : strlen(p)) == NULL);
		p = cr != NULL ? cr + 2 : NULL;
	}
}

static void
check_reply(const struct upstream_reply *r)
{
	CHECK(r->code >= 200 && r->code <= 599);
	CHECK(r->nlines >= 1 && r->nlines <= UPSTREAM_LINES_MAX);
	CHECK(r->ecode[0] == '\0' || r->ecode[0] == '0' + r->code / 100);
	for (size_t i = 0; i < r->nlines; i++)
		for (const char *c = r->text[i]; *c != '\0'; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	check_format(r);
}

static void
lines(const uint8_t *data, size_t size)
{
	struct upstream_parser p = { 0 };
	struct upstream_reply r;
	struct upstream_caps caps = { 0 };
	size_t off = 0;

	memset(&r, 0, sizeof(r));
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t n = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
		char *line = malloc(n + 1);
		const char *t = NULL;
		size_t tl = 0;

		CHECK(line != NULL);
		memcpy(line, data + off, n);
		off += n + 1;
		int prev = p.lines > 0 ? r.code : 0;
		enum upstream_parse st = upstream_reply_parse(&p, &r, line, n,
		    &t, &tl);
		if (st != UPSTREAM_PARSE_ERROR) {
			CHECK(t >= line && t + tl <= line + n);
			CHECK(prev == 0 || prev == r.code);
			upstream_caps_line(&caps, t, tl);
		}
		if (st == UPSTREAM_PARSE_DONE)
			check_reply(&r);
		if (st != UPSTREAM_PARSE_MORE) {
			memset(&p, 0, sizeof(p));
			memset(&r, 0, sizeof(r));
		}
		free(line);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = { MX_TYPE_A, MX_TYPE_AAAA, MX_TYPE_MX };
	struct mx_dns_answer a;
	unsigned char *copy = malloc(size + 1);

	CHECK(copy != NULL);
	memcpy(copy, data, size);
	lines(copy, size);
	for (size_t i = 0; i < 3; i++) {
		if (mx_dns_parse(copy, size, types[i], &a) == 0) {
			CHECK(a.n <= MX_DNS_RR_MAX);
			for (size_t j = 0; j < a.n; j++)
				CHECK(strlen(a.rr[j].name) < MX_NAME_MAX);
		}
	}
	free(copy);
	return 0;
}
