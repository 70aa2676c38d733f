/*
 * attempt_log.h - the attempted-delivery log: JSON lines, schema v1.
 *
 * One object per line, each written with a single write(2) on an O_APPEND
 * descriptor so lines from several processes never interleave and nothing
 * sits in a user-space buffer a crash could lose.  SIGUSR1 in cutoverd calls
 * attempt_log_reopen() for rotation.  Schema: README.md "Attempt log".
 */
#ifndef CUTOVER_ATTEMPT_LOG_H
#define CUTOVER_ATTEMPT_LOG_H

#include <stddef.h>

#include "jline.h"

#define ATTEMPT_LOG_VERSION 1

struct attempt_log;

/* path NULL or "" means: no log file (lines are dropped). */
int attempt_log_open(const char *path, const char *hostname,
    struct attempt_log **out, char *err, size_t errlen);
int attempt_log_reopen(struct attempt_log *log, char *err, size_t errlen);
void attempt_log_close(struct attempt_log *log);
/* Change the host name stamped on lines (after a reload). */
int attempt_log_set_hostname(struct attempt_log *log, const char *hostname);

/*
 * Start a line: {"v":1,"t":"2026-11-23T06:54:20.123Z","host":"...",
 * "sid":"...","ev":"<event>"  – the caller adds fields, then calls
 * attempt_log_write().
 */
void attempt_log_begin(struct attempt_log *log, struct jline *j,
    const char *sid, const char *event);
/* Close the object and write it with one write(2).  Returns 0 or -1. */
int attempt_log_write(struct attempt_log *log, struct jline *j);

#endif
