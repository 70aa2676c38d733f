/*
 * test_auth_pool.c - the SPF/DKIM/DMARC worker pool (smtpd/auth_pool.h) on
 * a real libevent loop, with messages in real msgstores (spilled to a
 * file for the large one) and the real checks of milter/auth.h.
 *
 * DNS: the resolver is 127.0.0.1@PORT of a UDP socket this test binds and
 * never reads, so every lookup times out after dns_timeout: SPF and DMARC
 * come out temperror, DKIM none (no signature), which is what a check
 * without DNS must say.  Paths: verdicts and forged A-R offsets (table),
 * header too large, unreadable, too many forged, timeout, cancel (queued,
 * running, immediate), queue full, disabled, reload with jobs in flight,
 * a bad reload, auth_pool_free with a check still in a lookup.  Each test
 * ends with as many threads as it started with: nothing leaks (ASan).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth_pool.h"
#include "msgstore.h"

static int silent_fd = -1;
static char resolver[64];
static struct event_base *base;
static char long_from[AUTH_ADDR_MAX + 100];  /* "<aaa...@example.com>" */

/* ---- helpers ---------------------------------------------------------- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until *flag is set (or, flag NULL, for secs); false when
 * secs passed first. */
static bool
run_until(const int *flag, double secs)
{
	struct timeval tv = { 0, 20000 };
	struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
	double end = now_s() + secs;
	bool ok;

	assert_non_null(t);
	event_add(t, &tv);
	while ((flag == NULL || !*flag) && now_s() < end)
		event_base_loop(base, EVLOOP_ONCE);
	ok = flag != NULL && *flag;
	event_free(t);
	return ok;
}

static bool
wait_idle(struct auth_pool *p, double secs)
{
	double end = now_s() + secs;

	while (auth_pool_busy(p) > 0 && now_s() < end)
		run_until(NULL, 0.05);
	return auth_pool_busy(p) == 0;
}

/* Wait (without a loop) for the thread count to fall back to n. */
static bool
wait_threads(size_t n, double secs)
{
	double end = now_s() + secs;

	while (thread_count() > n && now_s() < end)
		usleep(20000);
	return thread_count() == n;
}

/* Forget the queries the silent resolver got so far. */
static void
drain_queries(void)
{
	char buf[512];

	while (recv(silent_fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
		;
}

/* A worker is running a check: its first query reached the resolver. */
static bool
wait_query(double secs)
{
	struct pollfd pfd = { .fd = silent_fd, .events = POLLIN };

	return poll(&pfd, 1, (int)(secs * 1000)) == 1;
}

static struct policy_auth
cfg_of(const char *id, unsigned workers, unsigned timeout, unsigned dns)
{
	struct policy_auth a = {
		.enabled = true, .authserv_id = (char *)id, .resolver = resolver,
		.workers = workers, .timeout = timeout, .dns_timeout = dns,
	};

	return a;
}

static struct auth_pool *
pool_of(const struct policy_auth *cfg)
{
	char err[256] = "";
	struct auth_pool *p = auth_pool_new(base, cfg, err, sizeof err);

	if (p == NULL)
		print_error("auth_pool_new: %s\n", err);
	assert_non_null(p);
	return p;
}

static struct msgstore *
store_of(const char *text, size_t len, size_t ram_max)
{
	struct msgstore *m = msgstore_new(ram_max, "/tmp");

	assert_non_null(m);
	assert_int_equal(msgstore_append(m, text, len), 0);
	return m;
}

static size_t
hdr_end_of(const char *text, size_t len)
{
	const char *e = memmem(text, len, "\r\n\r\n", 4);

	return e != NULL ? (size_t)(e - text) + 4 : len;
}

/* What one callback saw. */
struct outcome {
	int calls;
	bool done;
	const char *reason;
	struct auth_result r;
};

static void
on_result(const struct auth_result *r, void *arg)
{
	struct outcome *o = arg;

	o->calls++;
	o->done = r->done;
	o->reason = r->reason;
	o->r = *r;
}

static struct auth_job *
submit(struct auth_pool *p, struct msgstore *m, size_t hdr_end,
    const char *mailfrom, const char *helo, struct outcome *o)
{
	struct auth_job *j = auth_pool_submit(p, m, hdr_end, "192.0.2.7", helo,
	    mailfrom, on_result, o);

	assert_non_null(j);
	assert_int_equal(o->calls, 0);      /* never inside submit */
	return j;
}

/* ---- fixtures -------------------------------------------------------- */

static int
group_setup(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;

	memset(long_from, 'a', sizeof long_from);
	long_from[0] = '<';
	memcpy(long_from + sizeof long_from - 14, "@example.com>", 14);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (silent_fd < 0 || bind(silent_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(silent_fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	snprintf(resolver, sizeof resolver, "127.0.0.1@%u",
	    (unsigned)ntohs(sa.sin_port));
	base = event_base_new();
	return base == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	event_base_free(base);
	close(silent_fd);
	return 0;
}

/* ---- verdicts and forged A-R fields ------------------------------------ */

#define AR_OURS1 "Authentication-Results: mx.test; spf=pass smtp.mailfrom=a@example.com\r\n"
#define AR_OURS2 "Authentication-Results: MX.test;\r\n\tdkim=pass header.d=example.com\r\n"
#define AR_OTHER "Authentication-Results: other.example; dmarc=pass\r\n"
#define FROM "From: Alice <alice@example.com>\r\n"

struct verdict_case {
	const char *head;         /* header section, blank line included */
	bool big_body;            /* 200 KiB body, message spilled to a file */
	const char *mailfrom, *helo;
	bool done;
	const char *reason;
	enum authres_result spf;
	bool spf_helo;
	const char *spf_domain;   /* NULL: identity not checked */
	size_t nforged;
	const char *forged[2];    /* the forged fields, as found in head */
};

static const struct verdict_case verdict_cases[] = {
	{ AR_OURS1 FROM AR_OTHER AR_OURS2 "Subject: x\r\n\r\n", true,
	  "<alice@example.com>", "mail.example.com", true, NULL,
	  AUTHRES_TEMPERROR, false, "example.com", 2, { AR_OURS1, AR_OURS2 } },
	/* the null sender: SPF of the HELO name */
	{ FROM AR_OTHER "\r\n", false, "<>", "mail.example.org", true, NULL,
	  AUTHRES_TEMPERROR, true, "mail.example.org", 0, { NULL, NULL } },
	/* all header (no blank line, no final CRLF), a continuation first */
	{ " stray continuation\r\n" FROM AR_OURS2 "X-Last: no crlf", false,
	  "alice@example.com", NULL, true, NULL,
	  AUTHRES_TEMPERROR, false, "example.com", 1, { AR_OURS2, NULL } },
	/* LF line ends */
	{ "From: alice@example.com\nAuthentication-Results: mx.test; none\n\n",
	  false, "<alice@example.com>", NULL, true, NULL,
	  AUTHRES_TEMPERROR, false, "example.com", 1,
	  { "Authentication-Results: mx.test; none\n", NULL } },
	/* a MAIL FROM longer than the check keeps: permerror, never the SPF
	 * of a cut, different name (which identity auth.c then names is its
	 * business, not checked here) */
	{ FROM "\r\n", false, long_from, "h.example", true, NULL,
	  AUTHRES_PERMERROR, false, NULL, 0, { NULL, NULL } },
};

static void
check_verdict(const struct verdict_case *c, const char *text,
    const struct outcome *o)
{
	const struct auth_result *r = &o->r;
	char spf[64];
	size_t i;

	assert_int_equal(o->calls, 1);
	assert_int_equal(o->done, c->done);
	if (!c->done) {
		assert_string_equal(o->reason, c->reason);
		return;
	}
	assert_null(o->reason);
	assert_int_equal(r->v.spf, c->spf);
	if (c->spf_domain != NULL) {
		assert_int_equal(r->v.spf_helo, c->spf_helo);
		assert_string_equal(r->v.spf_domain, c->spf_domain);
	}
	assert_int_equal(r->v.dkim_summary, AUTHRES_NONE);
	assert_int_equal(r->v.dmarc.result, DMARC_RESULT_TEMPERROR);
	assert_true(strncmp(r->v.authres, "mx.test;", 8) == 0);
	snprintf(spf, sizeof spf, "spf=%s", authres_result_name(c->spf));
	assert_non_null(strstr(r->v.authres, spf));
	assert_non_null(strstr(r->v.authres, "dmarc=temperror"));
	assert_int_equal(r->nforged, c->nforged);
	for (i = 0; i < c->nforged; i++) {
		const char *f = strstr(text, c->forged[i]);

		assert_non_null(f);
		assert_int_equal(r->forged[i].off, (size_t)(f - text));
		assert_int_equal(r->forged[i].len, strlen(c->forged[i]));
	}
}

static char *
text_of(const struct verdict_case *c, size_t *len)
{
	size_t hl = strlen(c->head), bl = c->big_body ? 200 * 1024 : 6, i;
	char *t = malloc(hl + bl + 1);

	assert_non_null(t);
	memcpy(t, c->head, hl);
	for (i = 0; i < bl; i += 2)
		memcpy(t + hl + i, i % 80 == 78 ? "\r\n" : "ab", 2);
	if (bl >= 2)
		memcpy(t + hl + bl - 2, "\r\n", 2);
	t[hl + bl] = '\0';
	*len = hl + bl;
	return t;
}

static void
test_verdicts(void **state)
{
	enum { N = sizeof verdict_cases / sizeof verdict_cases[0] };
	struct policy_auth cfg = cfg_of("mx.test", 4, 30, 1);
	size_t threads = thread_count(), len[N], i;
	struct outcome out[N];
	struct msgstore *m[N];
	struct auth_pool *p;
	char *text[N];
	int all = 0;

	memset(out, 0, sizeof out);
	p = pool_of(&cfg);
	for (i = 0; i < N; i++) {
		const struct verdict_case *c = &verdict_cases[i];
		size_t hl = strlen(c->head);

		text[i] = text_of(c, &len[i]);
		if (hl < 2 || c->head[hl - 1] != '\n' || (c->head[hl - 2] != '\n' &&
		    (hl < 4 || memcmp(c->head + hl - 4, "\r\n\r\n", 4) != 0)))
			len[i] = hl;                /* all header: no body */
		m[i] = store_of(text[i], len[i], c->big_body ? 4096 : 1 << 20);
		assert_int_equal(msgstore_spilled(m[i]), c->big_body);
		/* the header section ends past its blank line, or at the end */
		submit(p, m[i], hl, c->mailfrom, c->helo, &out[i]);
		msgstore_free(m[i]);            /* the job keeps its reference */
	}
	for (i = 0; i < N; i++) {
		run_until(&out[i].calls, 20);
		check_verdict(&verdict_cases[i], text[i], &out[i]);
		all += out[i].calls;
		free(text[i]);
	}
	assert_int_equal(all, N);
	assert_true(wait_idle(p, 5));
	auth_pool_free(p);
	assert_true(wait_threads(threads, 5));
}

/* Checks that stop before any DNS: header too large, message shorter than
 * its hdr_end, more forged fields than the result holds. */
static void
test_no_check(void **state)
{
	struct policy_auth cfg = cfg_of("mx.test", 2, 30, 1);
	size_t threads = thread_count(), big = AUTH_POOL_HEADER_MAX + 10, i;
	char *text = malloc(big), forged[64 * 20];
	struct outcome o[3];
	struct msgstore *m;
	struct auth_pool *p = pool_of(&cfg);

	memset(o, 0, sizeof o);
	assert_non_null(text);
	memset(text, 'x', big);
	memcpy(text, "X-Big: ", 7);
	memcpy(text + big - 4, "\r\n\r\n", 4);
	m = store_of(text, big, 65536);
	submit(p, m, big, "<a@example.com>", NULL, &o[0]);
	msgstore_free(m);
	m = store_of("From: a@example.com\r\n\r\n", 23, 1024);
	submit(p, m, 100, "<a@example.com>", NULL, &o[1]);
	msgstore_free(m);
	forged[0] = '\0';
	for (i = 0; i <= AUTH_POOL_FORGED_MAX; i++)
		strcat(forged, "Authentication-Results: mx.test; x=y\r\n");
	strcat(forged, "\r\n");
	m = store_of(forged, strlen(forged), 1 << 20);
	submit(p, m, strlen(forged), "<a@example.com>", NULL, &o[2]);
	msgstore_free(m);
	for (i = 0; i < 3; i++) {
		assert_true(run_until(&o[i].calls, 10));
		assert_false(o[i].done);
		assert_int_equal(o[i].calls, 1);
	}
	assert_string_equal(o[0].reason, "error");
	assert_string_equal(o[1].reason, "error");
	assert_string_equal(o[2].reason, "too many forged");
	free(text);
	assert_true(wait_idle(p, 5));
	auth_pool_free(p);
	assert_true(wait_threads(threads, 5));
}

/* ---- timeout, cancel, queue full, disabled ---------------------------- */

#define MSG "From: a@example.com\r\nSubject: t\r\n\r\nhello\r\n"

static void
test_timeout(void **state)
{
	struct policy_auth cfg = cfg_of("mx.test", 1, 1, 3);
	size_t threads = thread_count();
	struct msgstore *m = store_of(MSG, sizeof MSG - 1, 1024);
	struct auth_pool *p = pool_of(&cfg);
	struct outcome o = { 0 };
	double t0 = now_s(), dt;

	submit(p, m, hdr_end_of(MSG, sizeof MSG - 1), "<a@example.com>", NULL, &o);
	assert_true(run_until(&o.calls, 10));
	dt = now_s() - t0;
	assert_true(dt > 0.9 && dt < 2.5);
	assert_false(o.done);
	assert_string_equal(o.reason, "timeout");
	/* the worker is still in its lookups; its result is dropped */
	assert_int_equal(auth_pool_busy(p), 1);
	assert_true(wait_idle(p, 15));
	run_until(NULL, 0.1);
	assert_int_equal(o.calls, 1);
	msgstore_free(m);
	auth_pool_free(p);
	assert_true(wait_threads(threads, 5));
}

static void
test_cancel(void **state)
{
	struct policy_auth cfg = cfg_of("mx.test", 1, 30, 1);
	size_t threads = thread_count();
	struct msgstore *m = store_of(MSG, sizeof MSG - 1, 1024);
	size_t he = hdr_end_of(MSG, sizeof MSG - 1);
	struct outcome o[4];
	struct auth_job *running, *queued, *imm;
	struct auth_pool *p = pool_of(&cfg);
	struct policy_auth off = cfg;

	memset(o, 0, sizeof o);
	drain_queries();
	running = submit(p, m, he, "<a@example.com>", NULL, &o[0]);
	queued = submit(p, m, he, "<a@example.com>", NULL, &o[1]);
	submit(p, m, he, "<a@example.com>", NULL, &o[2]);
	assert_true(wait_query(5));         /* the one worker took the first */
	assert_int_equal(auth_pool_busy(p), 3);
	auth_job_cancel(queued);            /* out of the queue at once */
	assert_int_equal(auth_pool_busy(p), 2);
	auth_job_cancel(running);           /* its result will be dropped */
	auth_job_cancel(NULL);
	off.enabled = false;
	assert_int_equal(auth_pool_configure(p, &off, NULL, 0), 0);
	imm = submit(p, m, he, "<a@example.com>", NULL, &o[3]);
	auth_job_cancel(imm);               /* before its zero timer */
	assert_true(run_until(&o[2].calls, 20));
	assert_true(o[2].done);
	assert_true(wait_idle(p, 5));
	run_until(NULL, 0.1);
	assert_int_equal(o[0].calls + o[1].calls + o[3].calls, 0);
	assert_int_equal(o[2].calls, 1);
	msgstore_free(m);
	auth_pool_free(p);
	assert_true(wait_threads(threads, 5));
}

static void
test_queue_full(void **state)
{
	enum { Q = AUTH_POOL_QUEUE_PER_WORKER };
	struct policy_auth cfg = cfg_of("mx.test", 1, 30, 2);
	size_t threads = thread_count(), he = hdr_end_of(MSG, sizeof MSG - 1), i;
	struct msgstore *m = store_of(MSG, sizeof MSG - 1, 1024);
	struct auth_job **jobs = calloc(Q + 1, sizeof *jobs);
	struct outcome *o = calloc(Q + 2, sizeof *o);
	struct auth_pool *p = pool_of(&cfg);

	assert_non_null(jobs);
	assert_non_null(o);
	drain_queries();
	jobs[0] = submit(p, m, he, "<a@example.com>", NULL, &o[0]);
	assert_true(wait_query(5));         /* the worker is in a lookup */
	for (i = 1; i <= Q; i++)
		jobs[i] = submit(p, m, he, "<a@example.com>", NULL, &o[i]);
	assert_int_equal(auth_pool_busy(p), Q + 1);
	submit(p, m, he, "<a@example.com>", NULL, &o[Q + 1]);
	assert_true(run_until(&o[Q + 1].calls, 1));
	assert_false(o[Q + 1].done);
	assert_string_equal(o[Q + 1].reason, "queue full");
	for (i = 0; i <= Q; i++) {
		assert_int_equal(o[i].calls, 0);
		auth_job_cancel(jobs[i]);
	}
	assert_int_equal(auth_pool_busy(p), 1);   /* the running one */
	assert_true(wait_idle(p, 10));
	run_until(NULL, 0.1);
	for (i = 0; i <= Q; i++)
		assert_int_equal(o[i].calls, 0);
	free(jobs);
	free(o);
	msgstore_free(m);
	auth_pool_free(p);
	assert_true(wait_threads(threads, 5));
}

/* ---- reload ------------------------------------------------------------ */

#define AR_MSG "Authentication-Results: old.test; x=y\r\n" \
    "Authentication-Results: new.test; x=y\r\n" MSG

static void
test_reload(void **state)
{
	struct policy_auth off = cfg_of("mx.test", 2, 30, 1), bad;
	struct policy_auth old = cfg_of("old.test", 1, 30, 1);
	struct policy_auth neu = cfg_of("new.test", 3, 30, 1);
	size_t threads = thread_count(), he = hdr_end_of(AR_MSG, sizeof AR_MSG - 1);
	struct msgstore *m = store_of(AR_MSG, sizeof AR_MSG - 1, 1024);
	struct outcome o[4];
	struct auth_pool *p;
	char err[256] = "";

	memset(o, 0, sizeof o);
	off.enabled = false;
	p = pool_of(&off);                  /* disabled: no threads */
	assert_int_equal(thread_count(), threads);
	submit(p, m, he, "<a@example.com>", NULL, &o[0]);
	assert_true(run_until(&o[0].calls, 1));
	assert_false(o[0].done);
	assert_string_equal(o[0].reason, "disabled");

	assert_int_equal(auth_pool_configure(p, &old, err, sizeof err), 0);
	submit(p, m, he, "<a@example.com>", NULL, &o[1]);
	assert_int_equal(auth_pool_configure(p, &neu, err, sizeof err), 0);
	submit(p, m, he, "<a@example.com>", NULL, &o[2]);
	bad = neu;
	bad.authserv_id = "bad.test";
	bad.resolver = "not-an-address";
	assert_int_equal(auth_pool_configure(p, &bad, err, sizeof err), -1);
	assert_true(err[0] != '\0');
	submit(p, m, he, "<a@example.com>", NULL, &o[3]);
	assert_true(run_until(&o[1].calls, 20));
	assert_true(run_until(&o[2].calls, 20));
	assert_true(run_until(&o[3].calls, 20));
	assert_true(o[1].done && o[2].done && o[3].done);
	/* the job in flight kept the old context: its id, its forgeries */
	assert_true(strncmp(o[1].r.v.authres, "old.test;", 9) == 0);
	assert_int_equal(o[1].r.nforged, 1);
	assert_int_equal(o[1].r.forged[0].off, 0);
	assert_true(strncmp(o[2].r.v.authres, "new.test;", 9) == 0);
	assert_int_equal(o[2].r.nforged, 1);
	assert_int_equal(o[2].r.forged[0].off, 39);
	assert_true(strncmp(o[3].r.v.authres, "new.test;", 9) == 0);
	assert_true(wait_idle(p, 5));
	msgstore_free(m);
	auth_pool_free(p);
	assert_true(wait_threads(threads, 5));
}

static void
test_new_errors(void **state)
{
	struct policy_auth cfg = cfg_of("mx.test", 1, 30, 1);
	char err[256] = "";

	cfg.resolver = "not-an-address";
	assert_null(auth_pool_new(base, &cfg, err, sizeof err));
	assert_true(err[0] != '\0');
	auth_pool_free(NULL);
}

/* auth_pool_free() while a check is in a lookup: it returns after its
 * wait, the worker leaves later and frees what it holds (threads and
 * ASan's leak check say so). */
static void
test_free_running(void **state)
{
	struct policy_auth cfg = cfg_of("mx.test", 2, 30, 2);
	size_t threads = thread_count(), he = hdr_end_of(MSG, sizeof MSG - 1);
	struct msgstore *m = store_of(MSG, sizeof MSG - 1, 1024);
	struct auth_pool *p = pool_of(&cfg);
	struct outcome o[3];
	double t0;

	memset(o, 0, sizeof o);
	drain_queries();
	submit(p, m, he, "<a@example.com>", NULL, &o[0]);
	submit(p, m, he, "<a@example.com>", NULL, &o[1]);
	submit(p, m, he, "<a@example.com>", NULL, &o[2]);   /* queued */
	msgstore_free(m);
	assert_true(wait_query(5));
	run_until(NULL, 0.2);
	t0 = now_s();
	auth_pool_free_wait(p, 200);
	assert_true(now_s() - t0 < 1.0);
	assert_true(thread_count() > threads);
	assert_true(wait_threads(threads, 20));
	assert_int_equal(o[0].calls + o[1].calls + o[2].calls, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_no_check),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_free_running),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
