/*
 * fuzz_header_rewrite.c - libFuzzer target for header_rewrite_apply() and
 * header_rewrite_section_end().
 *
 * The input is a header section (and maybe a body).  Checked on every
 * input:
 *   - no map: the output is the input byte for byte, no rewrite, no note;
 *   - the identity map (every entry maps to itself): a rewrite can only
 *     change how a domain is spelt (case, IDN form), so with no rewrite
 *     the output is the input byte for byte; the return value is the
 *     number of CHANGED notes;
 *   - a rewriting map: the bytes after the header section are the same,
 *     and rewriting the output again changes nothing (no entry maps onto
 *     a key), byte for byte;
 *   - every note is well formed (a wanted field name, addresses with '@'
 *     within ADDRLIST_ADDR_MAX, a reason for a kept field).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addrlist.h"
#include "header_rewrite.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static struct addrmap *identity, *rewriting;

static const char identity_text[] =
	"alice@example.com alice@example.com\n"
	"@example.org @example.org\n"
	"\"q\"@example.net \"q\"@example.net\n";

static const char rewriting_text[] =
	"alice@example.com alice@tenant.example\n"
	"@example.org @new.example\n"
	"\"q\"@example.net plain@example.net\n"
	"bob@example.org robert@new.example\n";

static struct addrmap *
load(const char *text, size_t len)
{
	char path[] = "/tmp/fuzz_header_rewrite.XXXXXX", err[512];
	struct addrmap *m = NULL;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, text, len) == (ssize_t)len);
	close(fd);
	if (addrmap_load(path, &m, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	unlink(path);
	return m;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	identity = load(identity_text, sizeof identity_text - 1);
	rewriting = load(rewriting_text, sizeof rewriting_text - 1);
	return 0;
}

static bool
wanted(const char *f, size_t n)
{
	return (n == 4 && strncasecmp(f, "from", 4) == 0) ||
	    (n == 6 && strncasecmp(f, "sender", 6) == 0) ||
	    (n == 8 && strncasecmp(f, "reply-to", 8) == 0);
}

static void
note_cb(void *arg, const struct header_rewrite_note *n)
{
	int *changed = arg;

	CHECK(wanted(n->field, n->field_len));
	if (n->what == HEADER_REWRITE_CHANGED) {
		CHECK(n->old_len > 0 && n->old_len <= ADDRLIST_ADDR_MAX);
		CHECK(n->new_len > 0 && n->new_len <= ADDRLIST_ADDR_MAX);
		CHECK(memchr(n->old_addr, '@', n->old_len) != NULL);
		CHECK(memchr(n->new_addr, '@', n->new_len) != NULL);
		(*changed)++;
	} else {
		CHECK(n->what == HEADER_REWRITE_KEPT);
		CHECK(n->reason != NULL && n->reason[0] != '\0');
	}
}

static int
apply(const char *in, size_t len, const struct addrmap *m, char **out,
    size_t *olen)
{
	int changed = 0, n;

	n = header_rewrite_apply(in, len, m, note_cb, &changed, out, olen);
	CHECK(n >= 0 && *out != NULL);
	CHECK(n == changed);
	return n;
}

static void
check_rewriting(const char *in, size_t len)
{
	char *out, *again;
	size_t olen, alen, in_end, tail;
	int n;

	header_rewrite_section_end(in, len, &in_end);
	n = apply(in, len, rewriting, &out, &olen);
	tail = len - in_end;
	CHECK(olen >= tail);
	CHECK(memcmp(out + olen - tail, in + in_end, tail) == 0);
	if (n == 0) {
		CHECK(olen == len && memcmp(out, in, len) == 0);
	} else {
		CHECK(apply(out, olen, rewriting, &again, &alen) == 0);
		CHECK(alen == olen && memcmp(again, out, olen) == 0);
		free(again);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out;
	size_t olen, end;

	CHECK(header_rewrite_section_end(in, size, &end) ? end <= size :
	    end == size);
	CHECK(apply(in, size, NULL, &out, &olen) == 0);
	CHECK(olen == size && memcmp(out, in, size) == 0);
	free(out);
	if (apply(in, size, identity, &out, &olen) == 0)
		CHECK(olen == size && memcmp(out, in, size) == 0);
	free(out);
	check_rewriting(in, size);
	return 0;
}
