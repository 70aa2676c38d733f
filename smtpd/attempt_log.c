/*
 * attempt_log.c - the attempted-delivery log: JSON lines, schema v1
 * (README.md "Attempt log").
 *
 * Public functions:
 *   attempt_log_open()          open (or disable, path NULL/"") the log
 *   attempt_log_reopen()        after rotation (SIGUSR1)
 *   attempt_log_close()
 *   attempt_log_set_hostname()  after a reload
 *   attempt_log_begin()         {"v","t","host","sid","ev" ...
 *   attempt_log_write()         close the object, one write(2)
 *
 * Invariants and why:
 * - A line is exactly one write(2) on an O_APPEND descriptor: the kernel
 *   places each append atomically at the end of the file, so lines written
 *   by several processes never interleave and nothing waits in a user-space
 *   buffer that a crash would lose.  A short write is reported (-1), never
 *   completed by a second write, which could land after another process's
 *   line and splice two lines together (errno is then EIO: write(2) gave
 *   no reason).  EINTR (nothing written) is retried.
 * - The file is opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640 (the
 *   log holds addresses: not world-readable).  A missing parent directory is
 *   an error, not something to create: a typo in the configuration should
 *   be reported, not silently grow a new directory tree.
 * - Reopen opens the new file first and then dup3()s it over the old
 *   descriptor number: there is no instant at which the log descriptor is
 *   closed, so no line can fall into a gap, and if the new file cannot be
 *   opened the old one stays in use.  dup3 (not dup2) keeps O_CLOEXEC.
 * - "t" is UTC with milliseconds from CLOCK_REALTIME; the expensive part
 *   (gmtime_r + strftime) is cached per second, since every line needs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attempt_log.h"

#define LOG_MODE 0640
#define TS_SECONDS_LEN 19       /* "YYYY-MM-DDTHH:MM:SS" */

struct attempt_log {
	int fd;                 /* -1: disabled */
	char *path;
	char *hostname;
	time_t ts_sec;          /* second that ts_text was formatted for */
	bool ts_valid;
	char ts_text[TS_SECONDS_LEN + 1];
};

/* Write an error line; a message cut by errlen ends in "...". */
static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
	else if ((size_t)n >= errlen && errlen > 3)
		memcpy(err + errlen - 4, "...", 4);
}

/* Explain an open(2) failure; ENOENT is usually the directory. */
static void
open_err(const char *path, int e, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (e == ENOENT && slash && slash != path) {
		size_t dlen = (size_t)(slash - path);
		char *dir = strndup(path, dlen);
		if (dir && stat(dir, &st) < 0 && errno == ENOENT) {
			set_err(err, errlen, "attempt log %s: directory %s does "
			    "not exist (it is not created)", path, dir);
			free(dir);
			return;
		}
		free(dir);
	}
	set_err(err, errlen, "attempt log %s: %s", path, strerror(e));
}

static int
open_path(const char *path, char *err, size_t errlen)
{
	int fd;

	do {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    LOG_MODE);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		open_err(path, errno, err, errlen);
	return fd;
}

int
attempt_log_open(const char *path, const char *hostname,
    struct attempt_log **out, char *err, size_t errlen)
{
	struct attempt_log *log = calloc(1, sizeof(*log));

	if (!log) {
		set_err(err, errlen, "attempt log: out of memory");
		return -1;
	}
	log->fd = -1;
	if (path && *path) {
		log->path = strdup(path);
		if (!log->path) {
			set_err(err, errlen, "attempt log: out of memory");
			attempt_log_close(log);
			return -1;
		}
		log->fd = open_path(path, err, errlen);
		if (log->fd < 0) {
			attempt_log_close(log);
			return -1;
		}
	}
	if (attempt_log_set_hostname(log, hostname) < 0) {
		set_err(err, errlen, "attempt log: out of memory");
		attempt_log_close(log);
		return -1;
	}
	*out = log;
	return 0;
}

int
attempt_log_reopen(struct attempt_log *log, char *err, size_t errlen)
{
	int fd, r;

	if (log->fd < 0)
		return 0;
	fd = open_path(log->path, err, errlen);
	if (fd < 0)
		return -1;
	do {
		r = dup3(fd, log->fd, O_CLOEXEC);
	} while (r < 0 && (errno == EINTR || errno == EBUSY));
	if (r < 0) {
		set_err(err, errlen, "attempt log %s: dup3: %s", log->path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void
attempt_log_close(struct attempt_log *log)
{
	if (!log)
		return;
	if (log->fd >= 0)
		close(log->fd);
	free(log->path);
	free(log->hostname);
	free(log);
}

int
attempt_log_set_hostname(struct attempt_log *log, const char *hostname)
{
	char *h = strdup(hostname ? hostname : "");

	if (!h)
		return -1;
	free(log->hostname);
	log->hostname = h;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" into ts (25 bytes with the NUL). */
static void
format_time(struct attempt_log *log, char ts[TS_SECONDS_LEN + 6])
{
	struct timespec now;
	struct tm tm;
	long ms;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0) {
		now.tv_sec = time(NULL);
		now.tv_nsec = 0;
	}
	if (!log->ts_valid || log->ts_sec != now.tv_sec) {
		if (!gmtime_r(&now.tv_sec, &tm) ||
		    strftime(log->ts_text, sizeof(log->ts_text),
		    "%Y-%m-%dT%H:%M:%S", &tm) != TS_SECONDS_LEN)
			memcpy(log->ts_text, "1970-01-01T00:00:00",
			    TS_SECONDS_LEN + 1);
		log->ts_sec = now.tv_sec;
		log->ts_valid = true;
	}
	ms = now.tv_nsec / 1000000;
	memcpy(ts, log->ts_text, TS_SECONDS_LEN);
	ts[TS_SECONDS_LEN] = '.';
	ts[TS_SECONDS_LEN + 1] = (char)('0' + ms / 100);
	ts[TS_SECONDS_LEN + 2] = (char)('0' + ms / 10 % 10);
	ts[TS_SECONDS_LEN + 3] = (char)('0' + ms % 10);
	ts[TS_SECONDS_LEN + 4] = 'Z';
	ts[TS_SECONDS_LEN + 5] = '\0';
}

void
attempt_log_begin(struct attempt_log *log, struct jline *j,
    const char *sid, const char *event)
{
	char ts[TS_SECONDS_LEN + 6];

	format_time(log, ts);
	jline_begin(j);
	jline_int(j, "v", ATTEMPT_LOG_VERSION);
	jline_str(j, "t", ts, TS_SECONDS_LEN + 5);
	jline_cstr(j, "host", log->hostname);
	jline_cstr(j, "sid", sid);
	jline_cstr(j, "ev", event);
}

int
attempt_log_write(struct attempt_log *log, struct jline *j)
{
	size_t len = jline_end(j);
	ssize_t n;

	if (log->fd < 0)
		return 0;
	do {
		n = write(log->fd, j->buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}
