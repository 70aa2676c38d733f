/*
 * auth_pool.h - SPF/DKIM/DMARC checks of relayed mail (milter/auth.h) on a
 * small pool of worker threads, so the event loop never blocks on the
 * libraries' synchronous DNS (DESIGN.md "blocking libraries stay off the
 * event loop").
 *
 * Public functions:
 *   auth_pool_new/free()    threads, the auth context, the completion fd
 *   auth_pool_configure()   reload: new jobs get a new auth context
 *   auth_pool_submit()      check one stored message; the result comes
 *                           back through a callback on the event loop
 *   auth_job_cancel()       the session went away: no callback
 *   auth_pool_busy()        jobs the workers still hold (queued, running)
 *
 * Everything but the workers runs on the event-loop thread: submit,
 * cancel, configure, free, and every callback.  Workers hand results back
 * through an eventfd and a mutex-protected list (libevent is not
 * thread-enabled in cutoverd, so no event_active() from a worker).
 *
 * Callback contract: exactly one callback per submitted job unless it is
 * cancelled first, never inside auth_pool_submit(), never after
 * auth_job_cancel() or auth_pool_free().  A callback may submit and
 * cancel (other) jobs, not free the pool.  After its callback the job is
 * gone for the caller: do not cancel it (the pool frees it when the
 * worker is done with it).
 */
#ifndef CUTOVER_AUTH_POOL_H
#define CUTOVER_AUTH_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "policy.h"

struct event_base;
struct msgstore;

#define AUTH_POOL_FORGED_MAX  16          /* forged A-R fields reported */
#define AUTH_POOL_HEADER_MAX  (1u << 20)  /* header section read, octets
                                             (as the relay's own limit) */
#define AUTH_POOL_CHUNK       65536       /* body read per pread */
#define AUTH_POOL_QUEUE_PER_WORKER 256    /* queued jobs per worker */
#define AUTH_POOL_STOP_WAIT_MS 5000       /* auth_pool_free() waits this long
                                             for running checks */

struct auth_result {
	bool done;                /* false: v and forged are not filled */
	const char *reason;       /* static, when !done: "timeout", "queue full",
	                             "disabled", "error" (out of memory, message
	                             unreadable, header over AUTH_POOL_HEADER_MAX),
	                             "too many forged" (more than
	                             AUTH_POOL_FORGED_MAX A-R fields with our
	                             authserv-id: relaying would pass forgeries
	                             on, so the caller should not relay) */
	struct auth_verdicts v;   /* v.authres = the A-R value, authserv-id
	                             first, folded with CRLF TAB */
	size_t nforged;           /* A-R fields with our authserv-id, to remove */
	struct {
		size_t off, len;      /* into the message; the field with its CRLF */
	} forged[AUTH_POOL_FORGED_MAX];
};

typedef void auth_job_cb(const struct auth_result *r, void *arg);

struct auth_pool;
struct auth_job;

/* NULL with one line in err.  cfg->enabled false: a pool that answers
 * every job "disabled" (and starts threads when a reload enables it). */
struct auth_pool *auth_pool_new(struct event_base *base,
    const struct policy_auth *cfg, char *err, size_t errlen);

/* Reload: 0, or -1 with err and the old settings still in force.  New jobs
 * use the new auth context (resolver, authserv-id, DNS timeout) and
 * timeout; jobs in flight keep the context they started with. */
int auth_pool_configure(struct auth_pool *p, const struct policy_auth *cfg,
    char *err, size_t errlen);

/* At exit: drops every job without a callback, stops the workers.  Waits up
 * to AUTH_POOL_STOP_WAIT_MS for checks still running (a DNS lookup cannot
 * be interrupted); a worker still busy then is detached and frees what it
 * holds when its lookups end. */
void auth_pool_free(struct auth_pool *p);
void auth_pool_free_wait(struct auth_pool *p, unsigned wait_ms);

/*
 * Check the message in msg (a reference is taken; appending must be over):
 * header section [0, hdr_end) (hdr_end just past the blank line, or the
 * size when there is none), body from hdr_end.  ip numeric; helo may be
 * NULL; mailfrom "<a@b>" or "<>" (copied; longer than
 * auth_msg_new() keeps: the check says so, as auth.h does).  NULL
 * only when out of memory or libevent cannot arm the job's timer (then no
 * callback comes).
 */
struct auth_job *auth_pool_submit(struct auth_pool *p, struct msgstore *msg,
    size_t hdr_end, const char *ip, const char *helo, const char *mailfrom,
    auth_job_cb *cb, void *arg);

/* No callback after this; the worker's result, if any, is dropped.
 * NULL is fine. */
void auth_job_cancel(struct auth_job *j);

/* Jobs the workers still hold: queued plus running, including those
 * already answered "timeout" or cancelled (for status and tests). */
size_t auth_pool_busy(const struct auth_pool *p);

#endif
