/*
 * auth_pool.c - the SPF/DKIM/DMARC worker pool of cutoverd (auth_pool.h).
 *
 * Public functions: auth_pool_new/configure/free/free_wait/submit/busy,
 * auth_job_cancel.
 *
 * Two halves.  The pool (struct auth_pool) lives on the event-loop thread:
 * the current auth context, the timers, the list of every live job.  The
 * core (struct pool_core) is shared with the workers under one mutex: the
 * queue, the done list, the eventfd.  The core is reference counted (the
 * pool plus each worker thread), so a worker that outlives
 * auth_pool_free() - stuck in a DNS lookup past the stop wait - frees it
 * when it leaves, never touching the event base again.
 *
 * A job's life: submit -> queued (timer armed) -> running (a worker) ->
 * done (on the done list, eventfd written) -> the loop takes the list,
 * calls the callback unless the job was answered (timeout) or cancelled,
 * and frees the job.  The first of timer and result answers; the other is
 * dropped.  A job that timed out or was cancelled while queued leaves the
 * queue at once; one that is running is `abandoned` (atomic), so its
 * worker stops reading the body and skips the DNS of auth_msg_finish when
 * it has not started it yet.  Immediate answers ("queue full",
 * "disabled") go through a zero timer: never inside submit.
 *
 * Auth contexts are shared by reference count: jobs hold the one they
 * started with, so a reload never pulls a context from under a worker.
 *
 * Message reading: the header section, at most AUTH_POOL_HEADER_MAX
 * octets, in one buffer (a field must be whole for auth_msg_header); the
 * body in AUTH_POOL_CHUNK reads, never whole.  A field begins at a line
 * that does not start with SP or HTAB (RFC 5322 2.2.3) and is given
 * without its final line break; the blank line ends the section.
 *
 * Why threads and not a fork()ed helper: libspf2 and libopendkim are
 * synchronous and the auth context (DNS, DKIM library) is built once and
 * shared; a process would need the message copied to it.
 */
#include "auth_pool.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "msgstore.h"

/* Envelope copies: one octet more than auth_msg_new() keeps (with <>), so
 * a value cut here is still too long there and is reported as cut, never
 * checked as a shorter, different name. */
#define IP_MAX (64 + 1)
#define ENV_MAX (AUTH_ADDR_MAX + 3)

enum job_state {
	JOB_NEW = 0,              /* not queued: an immediate answer */
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
};

struct pool_ctx {
	struct auth_ctx *ctx;
	unsigned refs;            /* atomic: the pool + each job */
};

struct pool_core;

struct auth_job {
	TAILQ_ENTRY(auth_job) link;   /* queue or done list (core->mu) */
	TAILQ_ENTRY(auth_job) all;    /* every live job (loop thread) */
	struct auth_pool *pool;
	struct pool_core *core;
	struct pool_ctx *ctx;         /* NULL for an immediate answer */
	struct msgstore *msg;
	size_t hdr_end;
	enum job_state state;         /* core->mu */
	int abandoned;                /* atomic: nobody waits for the result */
	bool answered;                /* loop: the callback has run */
	bool cancelled;               /* loop */
	const char *fail;             /* loop: set = never queued, the reason
	                                 of the immediate answer */
	auth_job_cb *cb;
	void *arg;
	struct event *timer;          /* loop; NULL after auth_pool_free() */
	char ip[IP_MAX];
	char helo[ENV_MAX];
	char mailfrom[ENV_MAX];
	struct auth_result res;       /* written by the worker */
};

TAILQ_HEAD(job_list, auth_job);

struct pool_core {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job_list queue;
	struct job_list done;
	size_t queued;
	size_t running;
	unsigned want;                /* workers that take jobs: ids below */
	bool stopping;
	unsigned refs;                /* mu: the pool + each started worker */
	int efd;
};

struct worker {
	pthread_t tid;
	bool started;
};

/* What a worker thread is given: its own copy, so it never reads the
 * pool (which may be freed while the worker is still in a lookup). */
struct worker_arg {
	struct pool_core *core;
	unsigned id;
};

struct auth_pool {
	struct event_base *base;
	struct pool_core *core;
	struct event *ev;             /* efd readable */
	struct pool_ctx *ctx;         /* for new jobs; NULL when disabled */
	bool enabled;
	unsigned timeout;             /* seconds */
	size_t queue_max;
	struct job_list jobs;         /* every live job */
	struct worker workers[MAX_AUTH_WORKERS];
};

static const struct auth_result fail_results[] = {
	{ .reason = "timeout" },
	{ .reason = "queue full" },
	{ .reason = "disabled" },
	{ .reason = "error" },
	{ .reason = "too many forged" },
};

static const struct auth_result *
fail_result(const char *reason)
{
	size_t i;

	for (i = 0; reason != NULL &&
	    i < sizeof fail_results / sizeof fail_results[0]; i++)
		if (strcmp(fail_results[i].reason, reason) == 0)
			return &fail_results[i];
	return &fail_results[3];
}

/* ---- contexts ---------------------------------------------------------- */

static struct pool_ctx *
ctx_new(const struct policy_auth *cfg, char *err, size_t errlen)
{
	struct auth_config ac = {
		.authserv_id = cfg->authserv_id,
		.resolver = cfg->resolver,
		.dns_timeout_ms = cfg->dns_timeout * 1000u,
	};
	struct pool_ctx *c = calloc(1, sizeof *c);

	if (c == NULL) {
		snprintf(err, errlen, "auth: out of memory");
		return NULL;
	}
	if ((c->ctx = auth_ctx_new(&ac, err, errlen)) == NULL) {
		free(c);
		return NULL;
	}
	c->refs = 1;
	return c;
}

static struct pool_ctx *
ctx_ref(struct pool_ctx *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

static void
ctx_unref(struct pool_ctx *c)
{
	if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	auth_ctx_free(c->ctx);
	free(c);
}

/* ---- jobs and the core ------------------------------------------------- */

/* Any thread; the timer is gone already when a worker calls it. */
static void
job_destroy(struct auth_job *j)
{
	if (j->timer != NULL)
		event_free(j->timer);
	msgstore_free(j->msg);
	ctx_unref(j->ctx);
	free(j);
}

/* Loop thread: leave the pool's list, then destroy. */
static void
job_free(struct auth_job *j)
{
	TAILQ_REMOVE(&j->pool->jobs, j, all);
	job_destroy(j);
}

static void
core_destroy(struct pool_core *c)
{
	struct auth_job *j;

	while ((j = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, j, link);
		job_destroy(j);
	}
	while ((j = TAILQ_FIRST(&c->done)) != NULL) {
		TAILQ_REMOVE(&c->done, j, link);
		job_destroy(j);
	}
	if (c->efd >= 0)
		close(c->efd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Drop one reference (the pool's or a worker's); the last frees. */
static void
core_release(struct pool_core *c)
{
	bool last;

	pthread_mutex_lock(&c->mu);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (last)
		core_destroy(c);
}

static struct pool_core *
core_new(void)
{
	struct pool_core *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	TAILQ_INIT(&c->queue);
	TAILQ_INIT(&c->done);
	c->refs = 1;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0 || pthread_mutex_init(&c->mu, NULL) != 0) {
		if (c->efd >= 0)
			close(c->efd);
		free(c);
		return NULL;
	}
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		close(c->efd);
		free(c);
		return NULL;
	}
	return c;
}

/* ---- the worker side -------------------------------------------------- */

static bool
job_abandoned(const struct auth_job *j)
{
	return __atomic_load_n(&j->abandoned, __ATOMIC_ACQUIRE) != 0;
}

/* [off, off + len) of the message into buf; false when it is short. */
static bool
read_at(const struct msgstore *m, char *buf, size_t len, size_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = msgstore_pread(m, buf + got, len - got, off + got);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* The end of the field starting at h[pos] (past its line break). */
static size_t
field_end(const char *h, size_t pos, size_t n)
{
	const char *nl;

	for (;;) {
		if ((nl = memchr(h + pos, '\n', n - pos)) == NULL)
			return n;
		pos = (size_t)(nl - h) + 1;
		if (pos >= n || (h[pos] != ' ' && h[pos] != '\t'))
			return pos;
	}
}

/* Each field of h[0..n) to auth_msg_header(); forged ones recorded.
 * NULL, or the reason the check cannot go on. */
static const char *
feed_fields(struct auth_job *j, struct auth_msg *m, const char *h, size_t n)
{
	struct auth_result *r = &j->res;
	size_t pos = 0, end, len;

	while (pos < n && h[pos] != '\n' &&
	    !(h[pos] == '\r' && pos + 1 < n && h[pos + 1] == '\n')) {
		end = field_end(h, pos, n);
		len = end - pos;
		if (len > 0 && h[pos + len - 1] == '\n' && --len > 0 &&
		    h[pos + len - 1] == '\r')
			len--;
		if (auth_msg_header(m, h + pos, len) == AUTH_HEADER_FORGED) {
			if (r->nforged == AUTH_POOL_FORGED_MAX)
				return "too many forged";
			r->forged[r->nforged].off = pos;
			r->forged[r->nforged].len = end - pos;
			r->nforged++;
		}
		pos = end;
	}
	return NULL;
}

static const char *
feed_header(struct auth_job *j, struct auth_msg *m)
{
	const char *why;
	char *h;

	if (j->hdr_end > AUTH_POOL_HEADER_MAX)
		return "error";
	if ((h = malloc(j->hdr_end ? j->hdr_end : 1)) == NULL)
		return "error";
	if (!read_at(j->msg, h, j->hdr_end, 0)) {
		free(h);
		return "error";
	}
	why = feed_fields(j, m, h, j->hdr_end);
	free(h);
	return why;
}

/* The body in chunks; stops early (NULL + abandoned) when nobody waits. */
static const char *
feed_body(struct auth_job *j, struct auth_msg *m, char *chunk)
{
	size_t off = j->hdr_end;
	ssize_t n;

	while (!job_abandoned(j)) {
		n = msgstore_pread(j->msg, chunk, AUTH_POOL_CHUNK, off);
		if (n < 0)
			return "error";
		if (n == 0)
			return NULL;
		auth_msg_body(m, chunk, (size_t)n);
		off += (size_t)n;
	}
	return NULL;
}

/* Fill j->res (done, or reason). */
static void
job_run(struct auth_job *j, char *chunk)
{
	struct auth_msg *m;
	const char *why;

	j->res.reason = "error";
	if (job_abandoned(j))
		return;
	/* "" for no HELO: auth_msg_new() treats it as NULL */
	m = auth_msg_new(j->ctx->ctx, j->ip, j->helo, j->mailfrom);
	if (m == NULL)
		return;
	if ((why = feed_header(j, m)) == NULL) {
		auth_msg_eoh(m);
		why = feed_body(j, m, chunk);
	}
	if (why == NULL && !job_abandoned(j)) {
		auth_msg_finish(m, &j->res.v);
		j->res.done = true;
		j->res.reason = NULL;
	} else if (why != NULL) {
		j->res.reason = why;
	}
	auth_msg_free(m);
}

/* With c->mu held: the next job for worker `id`, or NULL to stop. */
static struct auth_job *
next_job(struct pool_core *c, unsigned id)
{
	struct auth_job *j;

	while (!c->stopping && (id >= c->want || TAILQ_EMPTY(&c->queue)))
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->stopping)
		return NULL;
	j = TAILQ_FIRST(&c->queue);
	TAILQ_REMOVE(&c->queue, j, link);
	c->queued--;
	c->running++;
	j->state = JOB_RUNNING;
	return j;
}

/* With c->mu held: hand the result to the loop, or drop it at exit.
 * True when the eventfd is to be written. */
static bool
job_finished(struct pool_core *c, struct auth_job *j)
{
	c->running--;
	j->state = JOB_DONE;
	if (!c->stopping) {
		TAILQ_INSERT_TAIL(&c->done, j, link);
		return true;
	}
	pthread_mutex_unlock(&c->mu);
	job_destroy(j);
	pthread_mutex_lock(&c->mu);
	return false;
}

static void *
worker_main(void *arg)
{
	struct worker_arg wa = *(struct worker_arg *)arg;
	struct pool_core *c = wa.core;
	char *chunk = malloc(AUTH_POOL_CHUNK);
	const uint64_t one = 1;
	struct auth_job *j;
	bool wake;

	free(arg);
	pthread_mutex_lock(&c->mu);
	while ((j = next_job(c, wa.id)) != NULL) {
		pthread_mutex_unlock(&c->mu);
		if (chunk != NULL)
			job_run(j, chunk);
		pthread_mutex_lock(&c->mu);
		wake = job_finished(c, j);
		pthread_mutex_unlock(&c->mu);
		/* c->efd stays open: this thread holds a reference to c */
		if (wake && write(c->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			abort();
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	free(chunk);
	core_release(c);
	return NULL;
}

/* ---- the loop side: answers ------------------------------------------- */

static void
deliver(struct auth_job *j, const struct auth_result *r)
{
	j->answered = true;
	j->cb(r, j->arg);
}

/* A worker's result arrived (eventfd). */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct auth_pool *p = arg;
	struct job_list list = TAILQ_HEAD_INITIALIZER(list);
	struct auth_job *j;
	uint64_t v;

	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		v = 0;                  /* the list says what is done, not v */
	pthread_mutex_lock(&p->core->mu);
	TAILQ_CONCAT(&list, &p->core->done, link);
	pthread_mutex_unlock(&p->core->mu);
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, link);
		if (!j->answered && !j->cancelled) {
			evtimer_del(j->timer);
			deliver(j, j->res.done ? &j->res : fail_result(j->res.reason));
		}
		job_free(j);
	}
}

/* With core->mu held: take a queued job out of the queue. */
static bool
unqueue(struct pool_core *c, struct auth_job *j)
{
	if (j->state != JOB_QUEUED)
		return false;
	TAILQ_REMOVE(&c->queue, j, link);
	c->queued--;
	return true;
}

/* The timer: an immediate answer, or the check took too long. */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct auth_job *j = arg;
	struct pool_core *c = j->core;
	bool gone;

	if (j->fail != NULL) {
		deliver(j, fail_result(j->fail));
		job_free(j);
		return;
	}
	__atomic_store_n(&j->abandoned, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&c->mu);
	gone = unqueue(c, j);
	pthread_mutex_unlock(&c->mu);
	deliver(j, fail_result("timeout"));
	if (gone)
		job_free(j);
}

/* ---- the loop side: public --------------------------------------------- */

static void
copy_bounded(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static struct auth_job *
job_new(struct auth_pool *p, struct msgstore *msg, size_t hdr_end,
    auth_job_cb *cb, void *arg)
{
	struct auth_job *j = calloc(1, sizeof *j);

	if (j == NULL)
		return NULL;
	if ((j->timer = evtimer_new(p->base, on_timer, j)) == NULL) {
		free(j);
		return NULL;
	}
	j->pool = p;
	j->core = p->core;
	j->msg = msgstore_ref(msg);
	j->hdr_end = hdr_end;
	j->cb = cb;
	j->arg = arg;
	TAILQ_INSERT_TAIL(&p->jobs, j, all);
	return j;
}

/* Queue j, or say why not (the answer then comes from a zero timer). */
static const char *
job_queue(struct auth_pool *p, struct auth_job *j)
{
	struct pool_core *c = p->core;
	const char *why = NULL;

	if (!p->enabled || p->ctx == NULL)
		return "disabled";
	pthread_mutex_lock(&c->mu);
	if (c->queued >= p->queue_max) {
		why = "queue full";
	} else {
		j->ctx = ctx_ref(p->ctx);
		j->state = JOB_QUEUED;
		TAILQ_INSERT_TAIL(&c->queue, j, link);
		c->queued++;
		/* broadcast: a worker above `want` must not swallow the wake-up */
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return why;
}

struct auth_job *
auth_pool_submit(struct auth_pool *p, struct msgstore *msg, size_t hdr_end,
    const char *ip, const char *helo, const char *mailfrom, auth_job_cb *cb,
    void *arg)
{
	struct timeval now = { 0, 0 }, tv = { (time_t)p->timeout, 0 };
	struct auth_job *j = job_new(p, msg, hdr_end, cb, arg);

	if (j == NULL)
		return NULL;
	copy_bounded(j->ip, sizeof j->ip, ip);
	copy_bounded(j->helo, sizeof j->helo, helo);
	copy_bounded(j->mailfrom, sizeof j->mailfrom, mailfrom);
	j->fail = job_queue(p, j);
	if (evtimer_add(j->timer, j->fail != NULL ? &now : &tv) < 0) {
		auth_job_cancel(j);
		return NULL;
	}
	return j;
}

void
auth_job_cancel(struct auth_job *j)
{
	struct pool_core *c;
	bool gone = true;

	if (j == NULL)
		return;
	c = j->core;
	j->cancelled = true;
	evtimer_del(j->timer);
	__atomic_store_n(&j->abandoned, 1, __ATOMIC_RELEASE);
	if (j->fail == NULL) {
		pthread_mutex_lock(&c->mu);
		gone = unqueue(c, j);
		pthread_mutex_unlock(&c->mu);
	}
	if (gone)
		job_free(j);
}

size_t
auth_pool_busy(const struct auth_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->core->mu);
	n = p->core->queued + p->core->running;
	pthread_mutex_unlock(&p->core->mu);
	return n;
}

/* Start the workers below n not started yet, signals blocked in them
 * (they belong to the loop thread).  0, or -1 with err. */
static int
start_workers(struct auth_pool *p, unsigned n, char *err, size_t errlen)
{
	sigset_t all, old;
	unsigned i;
	int rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n && rc == 0; i++) {
		struct worker *w = &p->workers[i];
		struct worker_arg *wa;

		if (w->started)
			continue;
		if ((wa = malloc(sizeof *wa)) == NULL) {
			rc = ENOMEM;
			break;
		}
		wa->core = p->core;
		wa->id = i;
		pthread_mutex_lock(&p->core->mu);
		p->core->refs++;
		pthread_mutex_unlock(&p->core->mu);
		if ((rc = pthread_create(&w->tid, NULL, worker_main, wa)) != 0) {
			free(wa);
			core_release(p->core);
		} else {
			w->started = true;
		}
	}
	if (rc != 0)
		snprintf(err, errlen, "auth: cannot start a worker: %s",
		    strerror(rc));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

int
auth_pool_configure(struct auth_pool *p, const struct policy_auth *cfg,
    char *err, size_t errlen)
{
	struct pool_ctx *ctx = NULL;

	if (cfg->enabled && (ctx = ctx_new(cfg, err, errlen)) == NULL)
		return -1;
	if (cfg->enabled && start_workers(p, cfg->workers, err, errlen) < 0) {
		ctx_unref(ctx);
		return -1;
	}
	ctx_unref(p->ctx);
	p->ctx = ctx;
	p->enabled = cfg->enabled;
	p->timeout = cfg->timeout;
	p->queue_max = (size_t)cfg->workers * AUTH_POOL_QUEUE_PER_WORKER;
	pthread_mutex_lock(&p->core->mu);
	if (cfg->enabled)           /* disabled: what is queued still runs */
		p->core->want = cfg->workers;
	pthread_cond_broadcast(&p->core->cv);
	pthread_mutex_unlock(&p->core->mu);
	return 0;
}

struct auth_pool *
auth_pool_new(struct event_base *base, const struct policy_auth *cfg,
    char *err, size_t errlen)
{
	struct auth_pool *p = calloc(1, sizeof *p);

	if (p == NULL || (p->core = core_new()) == NULL) {
		snprintf(err, errlen, "auth: %s", strerror(errno));
		free(p);
		return NULL;
	}
	p->base = base;
	TAILQ_INIT(&p->jobs);
	p->ev = event_new(base, p->core->efd, EV_READ | EV_PERSIST, on_done, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0) {
		snprintf(err, errlen, "auth: cannot watch the completion fd");
		auth_pool_free(p);
		return NULL;
	}
	if (auth_pool_configure(p, cfg, err, errlen) < 0) {
		auth_pool_free(p);      /* idle workers: they leave at once */
		return NULL;
	}
	return p;
}

/* Every job: no more callbacks, timers freed (the base may go next). */
static void
drop_jobs(struct auth_pool *p)
{
	struct auth_job *j;

	while ((j = TAILQ_FIRST(&p->jobs)) != NULL) {
		TAILQ_REMOVE(&p->jobs, j, all);
		event_free(j->timer);
		j->timer = NULL;
		j->cancelled = true;
		__atomic_store_n(&j->abandoned, 1, __ATOMIC_RELEASE);
		if (j->fail != NULL)        /* in no list of the core */
			job_destroy(j);
	}
}

/* Join worker w before the deadline (CLOCK_REALTIME); false if busy. */
static bool
join_by(struct worker *w, const struct timespec *deadline)
{
	if (!w->started)
		return true;
	if (pthread_timedjoin_np(w->tid, NULL, deadline) == 0)
		return true;
	pthread_detach(w->tid);
	return false;
}

void
auth_pool_free_wait(struct auth_pool *p, unsigned wait_ms)
{
	struct timespec deadline;
	unsigned i;

	if (p == NULL)
		return;
	drop_jobs(p);
	pthread_mutex_lock(&p->core->mu);
	p->core->stopping = true;   /* queued and done jobs: core_destroy() */
	pthread_cond_broadcast(&p->core->cv);
	pthread_mutex_unlock(&p->core->mu);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (i = 0; i < MAX_AUTH_WORKERS; i++)
		join_by(&p->workers[i], &deadline);
	if (p->ev != NULL)
		event_free(p->ev);
	ctx_unref(p->ctx);
	core_release(p->core);
	free(p);
}

void
auth_pool_free(struct auth_pool *p)
{
	auth_pool_free_wait(p, AUTH_POOL_STOP_WAIT_MS);
}
