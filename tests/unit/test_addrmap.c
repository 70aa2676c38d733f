/*
 * test_addrmap.c - addrmap_load(), addrmap_lookup(), the map file format.
 *
 * Table-driven: each map text is written to a temporary file and loaded;
 * error rows give the exact "FILE:LINE: what" message wanted (FILE is
 * replaced by the temporary path).  Lookup rows query one loaded map.
 * The size test generates a 1,000,000-line map in /tmp and checks the
 * issue's bounds: load time < 2 s of CPU (6 s under sanitizers, which slow
 * every allocation and byte access; wall time is printed too) and < 200
 * bytes of heap per entry, both from mallinfo2() (which sees nothing
 * under ASan, whose allocator it does not know) and from the map's own
 * accounting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "addrmap.h"

#define S(x) x, sizeof(x) - 1

/* Defined only when AddressSanitizer's runtime is linked in. */
extern void __asan_init(void) __attribute__((weak));

static char *
write_map(const char *text, size_t len)
{
	static char path[64];
	static const char tmpl[] = "/tmp/test_addrmap.XXXXXX";
	int fd;

	memcpy(path, tmpl, sizeof tmpl);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static struct addrmap *
load_text(const char *text, size_t len)
{
	struct addrmap *m = NULL;
	char err[512];
	char *path = write_map(text, len);
	int rc = addrmap_load(path, &m, err, sizeof err);

	unlink(path);
	if (rc != 0)
		fail_msg("load failed: %s", err);
	return m;
}

struct err_case {
	const char *text;
	size_t len;
	const char *want;     /* after "FILE:" */
};

static const struct err_case err_cases[] = {
	{ S("nobody x@y.example\n"), "1: bad key \"nobody\": is not local@domain or @domain" },
	{ S("# c\n\n  a@b.example\n"), "3: missing value for \"a@b.example\"" },
	{ S("a@b.example c@d.example e@f.example\n"), "1: extra field \"e@f.example\"" },
	{ S("a@b.example c@d.example #x\n"), "1: extra field \"#x\"" },
	{ S("a@b.example c@d.example\nA@B.EXAMPLE e@f.example\n"), "2: duplicate key \"a@b.example\"" },
	{ S("@b.example @c.example\n@B.example. @d.example\n"), "2: duplicate key \"@b.example\"" },
	{ S("@xn--bcher-kva.example @c.example\n@b\xc3\xbc" "cher.example @d.example\n"), "2: duplicate key \"@xn--bcher-kva.example\"" },
	{ S("a@b.example @c.example\n"), "1: value \"@c.example\" is not an address like its key" },
	{ S("@b.example c@d.example\n"), "1: value \"c@d.example\" is not a domain wildcard (@domain) like its key" },
	{ S("a@b.example nothing\n"), "1: bad value \"nothing\": is not local@domain or @domain" },
	{ S("a@b.example @-x.example\n"), "1: bad value \"@-x.example\": has a label that starts with a hyphen" },
	{ S("@ @x.example\n"), "1: bad key \"@\": is empty" },
	{ S("@a_b.example @x.example\n"), "1: bad key \"@a_b.example\": contains a character other than a letter, digit, hyphen or dot" },
	{ S("a@[192.0.2.1] b@c.example\n"), "1: bad key \"a@[192.0.2.1]\": is not local@domain or @domain" },
	{ S("<a@b.example> b@c.example\n"), "1: bad key \"<a@b.example>\": is not local@domain or @domain" },
	{ S("postmaster b@c.example\n"), "1: bad key \"postmaster\": is not local@domain or @domain" },
	{ S("a@b..example b@c.example\n"), "1: bad key \"a@b..example\": is not local@domain or @domain" },
	{ S("a@b.example\0 b@c.example\n"), "1: NUL byte" },
	{ S("a@b.example lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll@c.example\n"), "1: bad value \"lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll@c.example\": is not local@domain or @domain" },
};

static void
test_load_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
		const struct err_case *c = &err_cases[i];
		char *path = write_map(c->text, c->len);
		struct addrmap *m = (struct addrmap *)1;
		char err[512], want[600];
		int rc = addrmap_load(path, &m, err, sizeof err);

		unlink(path);
		assert_true(snprintf(want, sizeof want, "%s:%s", path, c->want) <
		    (int)sizeof want);
		if (rc != -1 || m != NULL || strcmp(err, want) != 0)
			fail_msg("case %zu: got %d \"%s\", want \"%s\"", i, rc, err, want);
	}
}

static void
test_long_line(void **state)
{
	char text[ADDRMAP_LINE_MAX + 64], err[512], want[600], *path;
	struct addrmap *m = NULL;
	size_t n;

	(void)state;
	/* exactly ADDRMAP_LINE_MAX octets is allowed (then fails as a key) */
	for (n = ADDRMAP_LINE_MAX; n <= ADDRMAP_LINE_MAX + 1; n++) {
		memset(text, 'a', n);
		text[n] = '\n';
		path = write_map(text, n + 1);
		assert_int_equal(addrmap_load(path, &m, err, sizeof err), -1);
		unlink(path);
		if (n == ADDRMAP_LINE_MAX)
			assert_non_null(strstr(err, ":1: missing value"));
		else {
			assert_true(snprintf(want, sizeof want,
			    "%s:1: line too long (over 1024 octets)", path) <
			    (int)sizeof want);
			assert_string_equal(err, want);
		}
	}
}

/* A file without line breaks (here 8 MiB, written in 64 KiB pieces) is
 * refused at its first line, read only as far as the limit: the load
 * takes no memory for it (getline() used to hold the whole line). */
static void
test_huge_line_bounded(void **state)
{
	static char chunk[64 * 1024];
	char *path = write_map("", 0), err[512];
	struct addrmap *m = NULL;
	struct rusage before, after;
	int fd = open(path, O_WRONLY | O_APPEND);
	size_t i;

	(void)state;
	assert_true(fd >= 0);
	memset(chunk, 'a', sizeof chunk);
	for (i = 0; i < 128; i++)
		assert_int_equal(write(fd, chunk, sizeof chunk),
		    (ssize_t)sizeof chunk);
	close(fd);
	getrusage(RUSAGE_SELF, &before);
	assert_int_equal(addrmap_load(path, &m, err, sizeof err), -1);
	getrusage(RUSAGE_SELF, &after);
	unlink(path);
	assert_null(m);
	assert_non_null(strstr(err, ":1: line too long"));
	/* max RSS (KiB) grew by far less than the 8 MiB line */
	assert_true(after.ru_maxrss - before.ru_maxrss < 2048);
}

static void
test_file_errors(void **state)
{
	struct addrmap *m = NULL;
	char err[512], small[24];

	(void)state;
	assert_int_equal(addrmap_load("/nonexistent/map", &m, err, sizeof err), -1);
	assert_null(m);
	assert_string_equal(err, "/nonexistent/map: cannot open: No such file or directory");
	assert_int_equal(addrmap_load("/tmp", &m, err, sizeof err), -1);
	assert_string_equal(err, "/tmp: read error: Is a directory");
	/* a message longer than the caller's buffer is cut with "..." */
	assert_int_equal(addrmap_load("/nonexistent/map", &m, small, sizeof small), -1);
	assert_string_equal(small, "/nonexistent/map: ca...");
}

static const char lookup_map[] =
	"# recipient map\n"
	"\n"
	"  Alice@Example.COM\talice@tenant.onmicrosoft.com\r\n"
	"bob@example.com Bob.Smith@NEW.example\n"
	"@example.com @tenant.onmicrosoft.com\n"
	"j\xc3\xb6rg@b\xc3\xbc" "cher.example joerg@xn--bcher-kva.example\n"
	"@xn--mnchen-3ya.example @M\xc3\x9c" "NCHEN.example\n"
	"\"quoted\"@q.example plain@q.example\n"
	"   # indented comment\n"
	"last@no-newline.example x@y.example";

struct lookup_case {
	const char *local;
	const char *domain;
	const char *want;     /* NULL: no match */
};

static const struct lookup_case lookup_cases[] = {
	{ "alice", "example.com", "alice@tenant.onmicrosoft.com" },
	{ "ALICE", "EXAMPLE.com", "alice@tenant.onmicrosoft.com" },
	{ "alice", "example.com.", "alice@tenant.onmicrosoft.com" },
	{ "Bob", "example.com", "Bob.Smith@new.example" },
	{ "carol", "example.com", "@tenant.onmicrosoft.com" },
	{ "carol", "Example.Com", "@tenant.onmicrosoft.com" },
	{ "", "example.com", "@tenant.onmicrosoft.com" },
	{ "carol", "sub.example.com", NULL },
	{ "alice", "example.org", NULL },
	{ "j\xc3\xb6rg", "xn--bcher-kva.example", "joerg@xn--bcher-kva.example" },
	{ "J\xc3\xb6rg", "B\xc3\xbc" "cher.example", "joerg@xn--bcher-kva.example" },
	{ "j\xc3\x96rg", "b\xc3\xbc" "cher.example", NULL },  /* only ASCII folds */
	{ "j\xc3\xb6rg", "b\xc3\xbc" "cher.example", "joerg@xn--bcher-kva.example" },
	{ "x", "m\xc3\xbcnchen.example", "@xn--mnchen-3ya.example" },
	{ "x", "XN--MNCHEN-3YA.example", "@xn--mnchen-3ya.example" },
	{ "\"quoted\"", "q.example", "plain@q.example" },
	{ "quoted", "q.example", NULL },
	{ "last", "no-newline.example", "x@y.example" },
	{ "alice", "bad_domain.example", NULL },
	{ "alice", "", NULL },
};

static void
test_lookup(void **state)
{
	struct addrmap *m = load_text(S(lookup_map));
	size_t i;

	(void)state;
	assert_int_equal(addrmap_count(m), 7);
	for (i = 0; i < sizeof lookup_cases / sizeof lookup_cases[0]; i++) {
		const struct lookup_case *c = &lookup_cases[i];
		const char *got = addrmap_lookup(m, c->local, strlen(c->local),
		    c->domain, strlen(c->domain));

		if ((got == NULL) != (c->want == NULL) ||
		    (got != NULL && strcmp(got, c->want) != 0))
			fail_msg("case %zu %s@%s: got \"%s\", want \"%s\"", i,
			    c->local, c->domain, got ? got : "(null)",
			    c->want ? c->want : "(null)");
	}
	/* lengths are honoured: bytes past them are not part of the query */
	assert_string_equal(addrmap_lookup(m, "alicexyz", 5, "example.comzz", 11),
	    "alice@tenant.onmicrosoft.com");
	addrmap_free(m);
}

static void
test_empty_and_null(void **state)
{
	struct addrmap *m = load_text(S("# only comments\n\n\t\n"));
	char big[300];

	(void)state;
	assert_int_equal(addrmap_count(m), 0);
	assert_null(addrmap_lookup(m, "a", 1, "b.example", 9));
	assert_null(addrmap_lookup(NULL, "a", 1, "b.example", 9));
	assert_true(addrmap_bytes(m) > 0);
	addrmap_free(m);
	addrmap_free(NULL);
	m = load_text(S("@b.example @c.example\n"));
	memset(big, 'a', sizeof big);
	assert_null(addrmap_lookup(m, big, sizeof big, "b.example", 9));
	addrmap_free(m);
}

/* CPU time of this process: the machine may be busy with other builds,
 * and the bound is about the loader's work, not about the scheduler. */
static double
now(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BIG_N 1000000

static void
test_million(void **state)
{
	char path[] = "/tmp/test_addrmap_1m.XXXXXX", err[512], local[32];
	struct mallinfo2 before, after;
	struct addrmap *m = NULL;
	double t0, t1, w0, w1, limit;
	size_t heap, i;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	for (i = 0; i < BIG_N; i++)
		fprintf(f, "user%zu@example.com user%zu@tenant.onmicrosoft.com\n", i, i);
	assert_int_equal(fclose(f), 0);
	before = mallinfo2();
	w0 = now(CLOCK_MONOTONIC);
	t0 = now(CLOCK_PROCESS_CPUTIME_ID);
	assert_int_equal(addrmap_load(path, &m, err, sizeof err), 0);
	t1 = now(CLOCK_PROCESS_CPUTIME_ID);
	w1 = now(CLOCK_MONOTONIC);
	after = mallinfo2();
	unlink(path);
	heap = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
	limit = __asan_init != NULL ? 6.0 : 2.0;
	printf("1M entries: load %.3f s CPU (limit %.0f s), %.3f s wall, "
	    "mallinfo2 %.1f bytes/entry, map %.1f bytes/entry\n", t1 - t0,
	    limit, w1 - w0, (double)heap / BIG_N,
	    (double)addrmap_bytes(m) / BIG_N);
	assert_true(t1 - t0 < limit);
	assert_true((double)heap / BIG_N < 200.0);
	assert_true((double)addrmap_bytes(m) / BIG_N < 200.0);
	assert_int_equal(addrmap_count(m), BIG_N);
	for (i = 0; i < BIG_N; i += 99991) {
		char want[64];
		int n = snprintf(local, sizeof local, "USER%zu", i);

		assert_true(n > 0 && n < (int)sizeof local);
		assert_true(snprintf(want, sizeof want,
		    "user%zu@tenant.onmicrosoft.com", i) < (int)sizeof want);
		assert_string_equal(addrmap_lookup(m, local, (size_t)n,
		    "example.com", 11), want);
	}
	assert_null(addrmap_lookup(m, "user1000000", 11, "example.com", 11));
	addrmap_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_huge_line_bounded),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_million),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
