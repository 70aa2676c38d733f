/*
 * msgstore.c - one message's content, in RAM up to a threshold, beyond it
 * in an unlinked temporary file.
 *
 * Public functions: see msgstore.h.
 *
 * RAM phase: one buffer that grows geometrically (x2, from 4 KiB) and is
 * never larger than ram_max, so a message of ram_max octets exactly stays
 * in RAM and one more octet spills.  Spill: the file is opened with
 * O_TMPFILE in spill_dir (never visible in the directory), or, where the
 * file system lacks O_TMPFILE, created by mkstemp() and unlinked at once;
 * either way mode 0600 and no name left behind by a crash.  The RAM part
 * is written to it and the buffer shrinks to a MSGSTORE_WBUF write buffer,
 * so appends of a few octets (the DATA reader hands over line ends of two)
 * do not cost a write(2) each.  Memory is therefore at most
 * max(ram_max, MSGSTORE_WBUF) octets plus the struct, whatever the size.
 *
 * Reads: [0, flushed) come from the file with pread(2), [flushed, size)
 * from the write buffer; reads never change the store, so they need no
 * flush and the store can be read while it is still being appended to.
 *
 * Errors: a failed write (ENOSPC, EFBIG, EIO) makes the store unusable;
 * the errno is kept and every later append returns it again, so a caller
 * that checks only at the end still sees the failure.  Writes and reads
 * loop on short counts and EINTR.  Rejected: mmap of the spill file
 * (SIGBUS on ENOSPC instead of an error return); writing the file without
 * a buffer (a syscall per line of a large message).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msgstore.h"

#define MSGSTORE_INITIAL (4 * 1024)
#define MSGSTORE_WBUF    (64 * 1024)
#define MSGSTORE_DEFAULT_DIR "/tmp"

struct msgstore {
	size_t ram_max;
	char *dir;
	char *buf;                  /* RAM content, or the write buffer */
	size_t cap;
	size_t used;                /* octets in buf */
	size_t size;                /* octets appended in all */
	size_t flushed;             /* octets in the file (spilled) */
	int fd;                     /* -1 until spilled */
	int err;                    /* errno of a failed append, or 0 */
	unsigned refs;              /* msgstore_ref(); atomic */
};

struct msgstore *
msgstore_new(size_t ram_max, const char *spill_dir)
{
	struct msgstore *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->ram_max = ram_max;
	m->refs = 1;
	m->fd = -1;
	m->dir = strdup(spill_dir ? spill_dir : MSGSTORE_DEFAULT_DIR);
	if (m->dir == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
msgstore_free(struct msgstore *m)
{
	if (m == NULL || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->buf);
	free(m->dir);
	free(m);
}

struct msgstore *
msgstore_ref(struct msgstore *m)
{
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
	return m;
}

size_t
msgstore_size(const struct msgstore *m)
{
	return m->size;
}

bool
msgstore_spilled(const struct msgstore *m)
{
	return m->fd >= 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* An unnamed 0600 file in m->dir. */
static int
open_spill(const struct msgstore *m)
{
	char path[4096];
	int fd, n;

	fd = open(m->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
	n = snprintf(path, sizeof path, "%s/cutover-msg.XXXXXX", m->dir);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (unlink(path) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Move the RAM content to a new file; buf becomes the write buffer. */
static int
spill(struct msgstore *m)
{
	char *wbuf;
	int fd = open_spill(m);

	if (fd < 0)
		return -1;
	if (write_all(fd, m->buf, m->used) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	wbuf = realloc(m->buf, MSGSTORE_WBUF);
	if (wbuf == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	m->fd = fd;
	m->buf = wbuf;
	m->cap = MSGSTORE_WBUF;
	m->flushed = m->used;
	m->used = 0;
	return 0;
}

static int
flush(struct msgstore *m)
{
	if (write_all(m->fd, m->buf, m->used) < 0)
		return -1;
	m->flushed += m->used;
	m->used = 0;
	return 0;
}

static int
append_file(struct msgstore *m, const char *p, size_t n)
{
	if (m->used + n > m->cap && flush(m) < 0)
		return -1;
	if (n >= m->cap) {
		if (write_all(m->fd, p, n) < 0)
			return -1;
		m->flushed += n;
		return 0;
	}
	memcpy(m->buf + m->used, p, n);
	m->used += n;
	return 0;
}

/* Room for `need` octets in RAM (0 < need <= ram_max): doubling, capped
 * at ram_max. */
static int
grow(struct msgstore *m, size_t need)
{
	size_t cap = m->cap;
	char *nb;

	if (need <= cap)
		return 0;
	if (cap == 0)
		cap = MSGSTORE_INITIAL < m->ram_max ? MSGSTORE_INITIAL : m->ram_max;
	while (cap < need)
		cap = cap > m->ram_max / 2 ? m->ram_max : cap * 2;
	nb = realloc(m->buf, cap);
	if (nb == NULL) {
		errno = ENOMEM;
		return -1;
	}
	m->buf = nb;
	m->cap = cap;
	return 0;
}

static int
append(struct msgstore *m, const char *p, size_t n)
{
	if (m->fd < 0 && n <= m->ram_max - m->used) {
		if (grow(m, m->used + n) < 0)
			return -1;
		memcpy(m->buf + m->used, p, n);
		m->used += n;
		return 0;
	}
	if (m->fd < 0 && spill(m) < 0)
		return -1;
	return append_file(m, p, n);
}

int
msgstore_append(struct msgstore *m, const char *buf, size_t len)
{
	if (m->err != 0) {
		errno = m->err;
		return -1;
	}
	if (len == 0)
		return 0;
	if (len > SIZE_MAX - m->size) {
		m->err = EFBIG;
		errno = EFBIG;
		return -1;
	}
	if (append(m, buf, len) < 0) {
		m->err = errno ? errno : EIO;
		errno = m->err;
		return -1;
	}
	m->size += len;
	return 0;
}

static ssize_t
read_file(const struct msgstore *m, char *buf, size_t len, size_t offset)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(m->fd, buf + got, len - got,
		    (off_t)(offset + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;        /* the file is shorter than we wrote */
			return -1;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t
msgstore_pread(const struct msgstore *m, char *buf, size_t len,
    size_t offset)
{
	size_t base = m->fd >= 0 ? m->flushed : 0;
	size_t got = 0, n;

	if (offset >= m->size || len == 0)
		return 0;
	if (len > m->size - offset)
		len = m->size - offset;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (offset < base) {
		n = base - offset < len ? base - offset : len;
		if (read_file(m, buf, n, offset) < 0)
			return -1;
		got = n;
	}
	if (got < len)
		memcpy(buf + got, m->buf + (offset + got - base), len - got);
	return (ssize_t)len;
}
