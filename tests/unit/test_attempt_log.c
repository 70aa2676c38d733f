/*
 * test_attempt_log.c - the attempted-delivery log writer.
 *
 * Lines are written to files in a fresh temporary directory, read back and
 * parsed with jansson.  Covered: the common fields and the "t" format (also
 * across a change of second, i.e. the per-second cache), mode 0640 and
 * O_CLOEXEC (before and after reopen), disabled logs, open errors (missing
 * directory, a directory, a cut error message), reopen after rename with no
 * line lost, a failing reopen that keeps the old file, a short write
 * (RLIMIT_FSIZE) reported as -1, and 4 forked writers x 2000 lines that
 * must come out intact, in order per writer and never interleaved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "attempt_log.h"

struct fixture {
	char dir[PATH_MAX];
	char path[PATH_MAX];
};

static void
path_in(const struct fixture *f, const char *name, char *out)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", f->dir, name);

	assert_true(n > 0 && n < PATH_MAX);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	int n;

	if (!f)
		return -1;
	n = snprintf(f->dir, sizeof(f->dir), "%s/test_attempt_log.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(f->dir) || !mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	path_in(f, "attempts.jsonl", f->path);
	*state = f;
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int r = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

	if (r != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return r == 0 ? 0 : -1;
}

/* The whole file, NUL-terminated; *len gets its length. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Parse every line of a file; returns a JSON array of the objects. */
static json_t *
read_lines(const char *path)
{
	size_t len;
	char *buf = slurp(path, &len), *p = buf, *end = buf + len;
	json_t *arr = json_array();

	assert_true(len == 0 || buf[len - 1] == '\n');
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		json_error_t err;
		json_t *o;
		assert_non_null(nl);
		o = json_loadb(p, (size_t)(nl - p), 0, &err);
		if (!o)
			fail_msg("%s: %s: %.*s", path, err.text, (int)(nl - p), p);
		assert_true(json_is_object(o));
		json_array_append_new(arr, o);
		p = nl + 1;
	}
	free(buf);
	return arr;
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static long long
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ", within a few seconds of now. */
static void
check_time(const char *t)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct tm tm;
	time_t when;

	assert_int_equal(strlen(t), sizeof(pat) - 1);
	for (size_t i = 0; i < sizeof(pat) - 1; i++) {
		if (pat[i] == 'd')
			assert_true(t[i] >= '0' && t[i] <= '9');
		else
			assert_int_equal(t[i], pat[i]);
	}
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(t, "%Y-%m-%dT%H:%M:%S", &tm));
	when = timegm(&tm);
	assert_true(llabs((long long)(when - time(NULL))) <= 5);
}

static void
write_line(struct attempt_log *log, const char *sid, const char *ev,
    long long n)
{
	struct jline j;

	attempt_log_begin(log, &j, sid, ev);
	jline_int(&j, "n", n);
	assert_int_equal(attempt_log_write(log, &j), 0);
}

/* The descriptor of our log file, found through /proc/self/fd. */
static int
find_fd(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char link[PATH_MAX], target[PATH_MAX];
		ssize_t n;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(link, sizeof(link), "/proc/self/fd/%s",
		    e->d_name) >= (int)sizeof(link))
			continue;
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* ------------------------------------------------------------------ */

static void
test_fields(void **state)
{
	struct fixture *f = *state;
	struct attempt_log *log = NULL;
	char err[256];
	struct stat st;
	struct jline j;
	json_t *lines, *o;
	int fd;

	umask(022);
	assert_int_equal(attempt_log_open(f->path, "mx.example.net", &log,
	    err, sizeof(err)), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	fd = find_fd(f->path);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	attempt_log_begin(log, &j, "0123456789abcdef", "rcpt");
	jline_cstr(&j, "rcpt", "user@example.com");
	jline_cstr(&j, "evil", "a\"}\n{\"x\":1");
	assert_int_equal(attempt_log_write(log, &j), 0);
	assert_int_equal(attempt_log_set_hostname(log, "other.example"), 0);
	write_line(log, "fedcba9876543210", "disconnect", 7);
	assert_int_equal(attempt_log_set_hostname(log, NULL), 0);
	write_line(log, NULL, "connect", 8);
	attempt_log_close(log);

	lines = read_lines(f->path);
	assert_int_equal(json_array_size(lines), 3);
	o = json_array_get(lines, 0);
	assert_int_equal(jint(o, "v"), ATTEMPT_LOG_VERSION);
	check_time(jstr(o, "t"));
	assert_string_equal(jstr(o, "host"), "mx.example.net");
	assert_string_equal(jstr(o, "sid"), "0123456789abcdef");
	assert_string_equal(jstr(o, "ev"), "rcpt");
	assert_string_equal(jstr(o, "rcpt"), "user@example.com");
	assert_string_equal(jstr(o, "evil"), "a\"}\n{\"x\":1");
	o = json_array_get(lines, 1);
	assert_string_equal(jstr(o, "host"), "other.example");
	assert_string_equal(jstr(o, "ev"), "disconnect");
	assert_int_equal(jint(o, "n"), 7);
	o = json_array_get(lines, 2);
	assert_string_equal(jstr(o, "host"), "");
	assert_true(json_is_null(json_object_get(o, "sid")));
	json_decref(lines);
}

/* Lines over more than one second: "t" never goes backwards and each one
 * is right (the per-second cache is refreshed). */
static void
test_time_cache(void **state)
{
	struct fixture *f = *state;
	struct attempt_log *log = NULL;
	const struct timespec pause = { 0, 20 * 1000 * 1000 };
	char err[256], prev[32] = "";
	json_t *lines;
	size_t n = 0, seconds = 0;

	assert_int_equal(attempt_log_open(f->path, "h", &log, err,
	    sizeof(err)), 0);
	for (int i = 0; i < 150; i++) {
		write_line(log, "s", "connect", i);
		nanosleep(&pause, NULL);
	}
	attempt_log_close(log);
	lines = read_lines(f->path);
	for (n = 0; n < json_array_size(lines); n++) {
		const char *t = jstr(json_array_get(lines, n), "t");
		check_time(t);
		assert_true(strcmp(prev, t) <= 0);
		if (strncmp(prev, t, 19) != 0)
			seconds++;
		snprintf(prev, sizeof(prev), "%s", t);
	}
	assert_int_equal(n, 150);
	assert_true(seconds >= 3);
	json_decref(lines);
}

static void
test_disabled(void **state)
{
	struct fixture *f = *state;
	const char *paths[] = { NULL, "" };
	char err[64];

	for (size_t i = 0; i < 2; i++) {
		struct attempt_log *log = NULL;
		assert_int_equal(attempt_log_open(paths[i], "h", &log, err,
		    sizeof(err)), 0);
		assert_non_null(log);
		write_line(log, "s", "connect", 1);
		assert_int_equal(attempt_log_reopen(log, err, sizeof(err)), 0);
		write_line(log, "s", "connect", 2);
		attempt_log_close(log);
	}
	assert_int_equal(access(f->path, F_OK), -1);
	attempt_log_close(NULL);
}

static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct attempt_log *log = (struct attempt_log *)&log;
	struct attempt_log *const sentinel = log;
	char path[PATH_MAX], err[256], small[16];

	path_in(f, "missing/attempts.jsonl", path);
	assert_int_equal(attempt_log_open(path, "h", &log, err, sizeof(err)),
	    -1);
	assert_ptr_equal(log, sentinel);
	assert_non_null(strstr(err, "does not exist"));
	assert_non_null(strstr(err, "missing"));
	assert_int_equal(access(path, F_OK), -1);

	assert_int_equal(attempt_log_open(f->dir, "h", &log, err, sizeof(err)),
	    -1);
	assert_ptr_equal(log, sentinel);
	assert_non_null(strstr(err, strerror(EISDIR)));

	assert_int_equal(attempt_log_open(path, "h", &log, small,
	    sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_string_equal(small + sizeof(small) - 4, "...");
	assert_int_equal(attempt_log_open(path, "h", &log, NULL, 0), -1);
}

/* Rotation: rename, keep writing (to the renamed file), reopen, keep
 * writing (to the new file).  No line may be lost or duplicated. */
static void
test_reopen_after_rename(void **state)
{
	struct fixture *f = *state;
	struct attempt_log *log = NULL;
	char err[256], rotated[PATH_MAX];
	int next[2] = { 0, 0 };

	assert_int_equal(attempt_log_open(f->path, "h", &log, err,
	    sizeof(err)), 0);
	for (int round = 0; round < 5; round++) {
		char name[32];
		snprintf(name, sizeof(name), "attempts.jsonl.%d", round);
		path_in(f, name, rotated);
		for (int i = 0; i < 300; i++) {
			if (i == 100)
				assert_int_equal(rename(f->path, rotated), 0);
			if (i == 200) {
				assert_int_equal(attempt_log_reopen(log, err,
				    sizeof(err)), 0);
				assert_true(fcntl(find_fd(f->path), F_GETFD) &
				    FD_CLOEXEC);
			}
			write_line(log, "s", "rcpt", round * 300 + i);
		}
	}
	attempt_log_close(log);

	for (int round = 0; round <= 5; round++) {
		char name[32];
		json_t *lines;
		if (round < 5) {
			snprintf(name, sizeof(name), "attempts.jsonl.%d", round);
			path_in(f, name, rotated);
		} else {
			snprintf(rotated, sizeof(rotated), "%s", f->path);
		}
		lines = read_lines(rotated);
		for (size_t k = 0; k < json_array_size(lines); k++) {
			long long n = jint(json_array_get(lines, k), "n");
			assert_int_equal(n, next[0]);
			next[0]++;
		}
		next[1] += (int)json_array_size(lines);
		json_decref(lines);
	}
	assert_int_equal(next[0], 1500);
	assert_int_equal(next[1], 1500);
}

/* A reopen that fails keeps the old descriptor in use. */
static void
test_reopen_failure(void **state)
{
	struct fixture *f = *state;
	struct attempt_log *log = NULL;
	char err[256], rotated[PATH_MAX];
	json_t *lines;

	path_in(f, "old.jsonl", rotated);
	assert_int_equal(attempt_log_open(f->path, "h", &log, err,
	    sizeof(err)), 0);
	write_line(log, "s", "connect", 1);
	assert_int_equal(rename(f->path, rotated), 0);
	assert_int_equal(mkdir(f->path, 0700), 0);
	err[0] = '\0';
	assert_int_equal(attempt_log_reopen(log, err, sizeof(err)), -1);
	assert_non_null(strstr(err, f->path));
	write_line(log, "s", "connect", 2);
	attempt_log_close(log);
	lines = read_lines(rotated);
	assert_int_equal(json_array_size(lines), 2);
	assert_int_equal(jint(json_array_get(lines, 1), "n"), 2);
	json_decref(lines);
}

/* RLIMIT_FSIZE makes write(2) short, then fail: both are -1. */
static void
test_short_write(void **state)
{
	struct fixture *f = *state;
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 100, 100 };
		struct attempt_log *log = NULL;
		char err[256], pad[200];
		struct jline j;
		int bad = 0;

		memset(pad, 'p', sizeof(pad));
		signal(SIGXFSZ, SIG_IGN);
		if (attempt_log_open(f->path, "h", &log, err, sizeof(err)) < 0 ||
		    setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		attempt_log_begin(log, &j, "s", "data");
		bad += attempt_log_write(log, &j) != 0;
		attempt_log_begin(log, &j, "s", "data");
		jline_str(&j, "pad", pad, sizeof(pad));
		bad += attempt_log_write(log, &j) != -1;
		attempt_log_begin(log, &j, "s", "data");
		bad += attempt_log_write(log, &j) != -1;
		attempt_log_close(log);
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* 4 processes x 2000 lines of varying length on their own descriptors. */
static void
test_concurrent_writers(void **state)
{
	enum { WRITERS = 4, LINES = 2000 };
	struct fixture *f = *state;
	pid_t pids[WRITERS];
	long long next[WRITERS] = { 0 };
	json_t *lines;

	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			struct attempt_log *log = NULL;
			char err[256], sid[8], pad[4000];
			struct jline j;
			int bad = 0;
			snprintf(sid, sizeof(sid), "w%d", w);
			memset(pad, 'a' + w, sizeof(pad));
			if (attempt_log_open(f->path, "h", &log, err,
			    sizeof(err)) < 0)
				_exit(1);
			for (int i = 0; i < LINES; i++) {
				attempt_log_begin(log, &j, sid, "rcpt");
				jline_int(&j, "n", i);
				for (int k = 0; k < i % 16; k++)
					jline_str(&j, "pad", pad, 250);
				bad += attempt_log_write(log, &j) != 0;
			}
			attempt_log_close(log);
			_exit(bad ? 1 : 0);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		int status;
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	lines = read_lines(f->path);
	assert_int_equal(json_array_size(lines), WRITERS * LINES);
	for (size_t k = 0; k < json_array_size(lines); k++) {
		json_t *o = json_array_get(lines, k);
		const char *sid = jstr(o, "sid");
		int w = sid[1] - '0';
		assert_true(sid[0] == 'w' && w >= 0 && w < WRITERS);
		assert_int_equal(jint(o, "n"), next[w]);
		next[w]++;
	}
	json_decref(lines);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_cache, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_short_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
