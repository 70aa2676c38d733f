/*
 * test_msgstore.c - the bounded message store (smtpd/msgstore.c).
 *
 * Table (got/want): ram_max, the append sizes (a cycle, until a total),
 * whether the store must have spilled; every row's content is seeded
 * random bytes kept here as the reference, read back whole, from many
 * offsets with many lengths (byte-exact), and past the end (0).  Rows sit
 * on the edges: ram_max 0 and 1, exactly ram_max octets (RAM) and one
 * more (file), the 4 KiB initial buffer and the 64 KiB write buffer,
 * single appends larger than the write buffer, two-octet appends.
 * Reads while appending (the store is read before it is complete).
 * Errors: a missing spill directory and one that is a file (-1 with
 * ENOENT / ENOTDIR, then every append fails the same way); a full disk
 * simulated by RLIMIT_FSIZE with SIGXFSZ ignored (-1 with EFBIG, sticky).
 * The spill file never has a name in the directory, with O_TMPFILE and
 * with the mkstemp fallback, which this test forces by interposing open()
 * (it fails O_TMPFILE with EOPNOTSUPP when `fail_tmpfile` is set).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "msgstore.h"

static bool fail_tmpfile;
static unsigned tmpfile_refused;

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (fail_tmpfile && (flags & O_TMPFILE) == O_TMPFILE) {
		tmpfile_refused++;
		errno = EOPNOTSUPP;
		return -1;
	}
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

struct row {
	const char *name;
	size_t ram_max;
	size_t chunks[4];          /* cycled; 0 ends the cycle early */
	size_t total;
	bool spilled;
};

static const struct row rows[] = {
	{ "empty", 4096, { 10 }, 0, false },
	{ "small", 4096, { 100 }, 1000, false },
	{ "exactly ram_max", 4096, { 4096 }, 4096, false },
	{ "exactly ram_max in bytes", 100, { 1 }, 100, false },
	{ "ram_max + 1", 4096, { 4097 }, 4097, true },
	{ "ram_max + 1 in two", 4096, { 4096, 1 }, 4097, true },
	{ "ram_max + 1 in bytes", 100, { 1 }, 101, true },
	{ "ram_max 0", 0, { 7 }, 100, true },
	{ "ram_max 1", 1, { 1 }, 1, false },
	{ "ram_max 1 spill", 1, { 1 }, 2, true },
	{ "grow past initial", 1 << 20, { 1000, 3000 }, 9000, false },
	{ "odd ram_max", 10000, { 4095, 2 }, 10000, false },
	{ "odd ram_max spill", 10000, { 4095, 2 }, 10001, true },
	{ "line ends", 4096, { 78, 2 }, 300000, true },
	{ "write buffer edge", 1000, { 65536 }, 200000, true },
	{ "write buffer - 1", 1000, { 65535, 1 }, 200000, true },
	{ "big appends", 65536, { 300000 }, 1000000, true },
	{ "mixed", 65536, { 1, 70000, 2, 65535 }, 2 << 20, true },
};

static char *
random_bytes(size_t n, unsigned seed)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(rand_r(&seed) & 0xff);
	return p;
}

static void
check_read(const struct msgstore *m, const char *want, size_t size,
    size_t off, size_t len)
{
	char *got = malloc(len ? len : 1);
	size_t expect = off >= size ? 0 : (len < size - off ? len : size - off);
	ssize_t r;

	assert_non_null(got);
	r = msgstore_pread(m, got, len, off);
	assert_int_equal(r, (ssize_t)expect);
	assert_memory_equal(got, want + (off < size ? off : 0), expect);
	free(got);
}

static void
check_all(const struct msgstore *m, const char *want, size_t size,
    unsigned seed)
{
	static const size_t lens[] = { 1, 2, 3, 4095, 4096, 4097, 65535,
	    65536, 65537, 1 << 20 };

	check_read(m, want, size, 0, size);
	check_read(m, want, size, 0, size + 10);
	check_read(m, want, size, size, 10);
	check_read(m, want, size, size + 1, 10);
	check_read(m, want, size, 0, 0);
	for (int i = 0; i < 200 && size > 0; i++) {
		size_t off = (size_t)rand_r(&seed) % size;
		check_read(m, want, size, off, lens[i % 10]);
	}
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		if (lens[i] <= size) {
			check_read(m, want, size, lens[i] - 1, 3);
			check_read(m, want, size, size - lens[i], lens[i]);
		}
}

static size_t
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
run_row(const struct row *r, const char *dir, unsigned seed)
{
	struct msgstore *m = msgstore_new(r->ram_max, dir);
	char *want = random_bytes(r->total, seed);
	size_t off = 0, k = 0;

	assert_non_null(m);
	while (off < r->total) {
		size_t n = r->chunks[k++ % 4];
		if (n == 0) {
			k = 0;
			continue;
		}
		if (n > r->total - off)
			n = r->total - off;
		assert_int_equal(msgstore_append(m, want + off, n), 0);
		off += n;
		assert_int_equal(msgstore_size(m), off);
		if (k % 7 == 0)
			check_read(m, want, off, off / 2, off);
	}
	assert_int_equal(msgstore_append(m, want, 0), 0);
	assert_int_equal(msgstore_spilled(m), r->spilled);
	assert_int_equal(msgstore_size(m), r->total);
	check_all(m, want, r->total, seed);
	assert_int_equal(dir_entries(dir), 0);
	msgstore_free(m);
	free(want);
}

static char tmpdir[64];

static int
make_dir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_msgstore.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
remove_dir(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		print_message("%s\n", rows[i].name);
		run_row(&rows[i], tmpdir, (unsigned)i + 1);
	}
}

static void
test_mkstemp_fallback(void **state)
{
	(void)state;
	tmpfile_refused = 0;
	fail_tmpfile = true;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (rows[i].spilled)
			run_row(&rows[i], tmpdir, (unsigned)i + 100);
	fail_tmpfile = false;
	assert_true(tmpfile_refused >= 10);
}

static void
test_default_dir(void **state)
{
	struct msgstore *m = msgstore_new(0, NULL);

	(void)state;
	assert_non_null(m);
	assert_int_equal(msgstore_append(m, "abc", 3), 0);
	assert_true(msgstore_spilled(m));
	check_all(m, "abc", 3, 1);
	msgstore_free(m);
	msgstore_free(NULL);
}

/* Below the threshold all is well; crossing it fails with `want_errno`
 * and the store stays failed. */
static void
expect_spill_error(const char *dir, int want_errno, bool fallback)
{
	struct msgstore *m = msgstore_new(10, dir);

	assert_non_null(m);
	fail_tmpfile = fallback;
	assert_int_equal(msgstore_append(m, "0123456789", 10), 0);
	errno = 0;
	assert_int_equal(msgstore_append(m, "x", 1), -1);
	assert_int_equal(errno, want_errno);
	errno = 0;
	assert_int_equal(msgstore_append(m, "y", 1), -1);
	assert_int_equal(errno, want_errno);
	assert_int_equal(msgstore_size(m), 10);
	assert_false(msgstore_spilled(m));
	check_all(m, "0123456789", 10, 1);
	fail_tmpfile = false;
	msgstore_free(m);
}

static void
test_bad_dir(void **state)
{
	char missing[128], file[128], longdir[5000];
	int fd;

	(void)state;
	snprintf(missing, sizeof missing, "%s/missing", tmpdir);
	snprintf(file, sizeof file, "%s/file", tmpdir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	expect_spill_error(missing, ENOENT, false);
	expect_spill_error(missing, ENOENT, true);
	expect_spill_error(file, ENOTDIR, false);
	expect_spill_error(file, ENOTDIR, true);
	memset(longdir, 'd', sizeof longdir - 1);
	longdir[0] = '/';
	longdir[sizeof longdir - 1] = '\0';
	expect_spill_error(longdir, ENAMETOOLONG, true);
	assert_int_equal(unlink(file), 0);
}

/* A full disk: RLIMIT_FSIZE makes write(2) fail with EFBIG (SIGXFSZ
 * ignored), at the spill itself or at a later flush. */
static void
full_disk(size_t ram_max, size_t limit, size_t chunk, bool fallback)
{
	struct rlimit old, lim;
	struct msgstore *m = msgstore_new(ram_max, tmpdir);
	char *data = random_bytes(chunk, 7);
	size_t appended = 0;
	int rc = 0;

	assert_non_null(m);
	fail_tmpfile = fallback;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	while (appended < 4 * limit + 200000 &&
	    (rc = msgstore_append(m, data, chunk)) == 0)
		appended += chunk;
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(msgstore_append(m, "x", 1), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(msgstore_size(m), appended);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	fail_tmpfile = false;
	msgstore_free(m);
	free(data);
}

static void
test_full_disk(void **state)
{
	(void)state;
	assert_true(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	full_disk(1000, 500, 100, false);       /* at the spill */
	full_disk(1000, 500, 100, true);
	full_disk(1000, 100000, 100, false);    /* at a buffer flush */
	full_disk(1000, 100000, 70000, false);  /* at a direct write */
	full_disk(0, 0, 1, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_mkstemp_fallback),
		cmocka_unit_test(test_default_dir),
		cmocka_unit_test(test_bad_dir),
		cmocka_unit_test(test_full_disk),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
