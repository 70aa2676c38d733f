/*
 * main.c - cutoverd: command line, start-up, signals, shutdown.
 *
 *   cutoverd [-c FILE]       run in the foreground
 *   cutoverd -n [-c FILE]    check FILE and exit 0, or 1 with FILE:LINE: why
 *
 * Start-up order matters: the configuration is checked, the listeners are
 * bound and the attempt log opened while still root, then privileges are
 * dropped to `user`, and only then is the first connection accepted.
 * Signals are handled on the event loop (evsignal), never in async context:
 * SIGHUP reload, SIGUSR1 reopen the attempt log, SIGTERM/SIGINT graceful
 * stop (421 to every session, then exit once they are gone or after
 * STOP_GRACE_SECONDS).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "auth_pool.h"
#include "ipcount.h"
#include "listener.h"
#include "server.h"
#include "session.h"
#include "upstream.h"
#include "tls.h"

#define DEFAULT_CONFIG      "/etc/cutover/cutoverd.conf"
#define STOP_GRACE_SECONDS  5

static void
usage(void)
{
	fprintf(stderr, "usage: cutoverd [-n] [-c config]\n"
	    "  -c FILE  configuration (default " DEFAULT_CONFIG ")\n"
	    "  -n       check the configuration and exit\n");
}

/* -n: the same checks a start would make that need no privileges. */
static int
check_config(const char *path)
{
	char err[1024];
	struct policy *p;
	SSL_CTX *tls = NULL;

	if (policy_load(path, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (p->tls_cert != NULL &&
	    (tls = tls_ctx_new(p->tls_cert, p->tls_key, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		policy_unref(p);
		return 1;
	}
	SSL_CTX_free(tls);
	printf("%s: ok, %zu domain(s)\n", path, policy_domain_count(p));
	policy_unref(p);
	return 0;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || user[0] == '\0')
		return 0;
	if (geteuid() != 0) {
		server_notice("not started as root: user = %s ignored", user);
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		server_notice("user %s: no such user", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		server_notice("cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		server_notice("privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct policy *p;
	char err[1024];

	(void)sig;
	(void)what;
	if (policy_load(srv->policy->path, &p, err, sizeof(err)) != 0 ||
	    server_apply_policy(srv, p, err, sizeof(err)) != 0) {
		server_notice("reload failed, keeping the running configuration: %s",
		    err);
		return;
	}
	server_notice("reloaded %s: %zu domain(s)", srv->policy->path,
	    policy_domain_count(srv->policy));
}

static void
on_reopen(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	char err[1024];

	(void)sig;
	(void)what;
	if (attempt_log_reopen(srv->log, err, sizeof(err)) != 0)
		server_notice("attempt log reopen failed: %s", err);
	else
		server_notice("attempt log reopened");
}

static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	server_notice("%zu session(s) still open after %d s; closing them",
	    srv->nsessions, STOP_GRACE_SECONDS);
	event_base_loopexit(srv->base, NULL);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	static const struct timeval grace = { STOP_GRACE_SECONDS, 0 };
	struct server *srv = arg;
	struct session *s, *next;

	(void)what;
	if (srv->stopping)
		return;
	srv->stopping = true;
	server_notice("signal %d: stopping, %zu session(s) open", (int)sig,
	    srv->nsessions);
	listener_set_close(srv->listeners);
	srv->listeners = NULL;
	for (s = TAILQ_FIRST(&srv->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		session_shutdown(s);
	}
	if (srv->nsessions == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->stop_timer = evtimer_new(srv->base, on_stop_timer, srv);
	evtimer_add(srv->stop_timer, &grace);
}

static int
server_start(struct server *srv, const char *path)
{
	char err[1024];
	struct policy *p;

	if (policy_load(path, &p, err, sizeof(err)) != 0) {
		server_notice("%s", err);
		return -1;
	}
	if (server_apply_policy(srv, p, err, sizeof(err)) != 0) {
		server_notice("%s: %s", path, err);
		return -1;
	}
	srv->listeners = listener_set_open(srv, srv->policy->listen,
	    srv->policy->nlisten, srv->policy->limits.backlog, err, sizeof(err));
	if (srv->listeners == NULL) {
		server_notice("%s: %s", path, err);
		return -1;
	}
	return drop_privileges(srv->policy->user);
}

static void
server_stop(struct server *srv, struct event **sigs, size_t nsigs)
{
	session_free_all(srv);
	if (srv->relay != NULL)
		relay_client_free(srv->relay);
	if (srv->auth != NULL)
		auth_pool_free(srv->auth);
	for (size_t i = 0; i < nsigs; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (srv->stop_timer != NULL)
		event_free(srv->stop_timer);
	listener_set_close(srv->listeners);
	attempt_log_close(srv->log);
	SSL_CTX_free(srv->tls);
	if (srv->policy != NULL)
		policy_unref(srv->policy);
	ipcount_free(srv->ipcount);
	event_base_free(srv->base);
}

static int
run(const char *path)
{
	static const int signals[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	event_callback_fn handlers[] = { on_reload, on_reopen, on_stop, on_stop };
	struct event *sigs[4] = { 0 };
	struct server srv = { 0 };
	int rc = 1;

	TAILQ_INIT(&srv.sessions);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (getrandom(&srv.sid_base, sizeof(srv.sid_base), 0) !=
	    (ssize_t)sizeof(srv.sid_base))
		srv.sid_base = (uint64_t)getpid() << 32;
	srv.base = event_base_new();
	srv.ipcount = ipcount_new();
	if (srv.base == NULL || srv.ipcount == NULL || server_start(&srv, path) != 0)
		goto out;
	for (size_t i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(srv.base, signals[i], handlers[i], &srv);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
			goto out;
	}
	server_notice("started: %zu listener(s), %zu domain(s), pid %d",
	    srv.policy->nlisten, policy_domain_count(srv.policy), (int)getpid());
	event_base_dispatch(srv.base);
	server_notice("stopped");
	rc = 0;
out:
	if (srv.base != NULL)
		server_stop(&srv, sigs, 4);
	else
		ipcount_free(srv.ipcount);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	bool check = false;
	int ch;

	while ((ch = getopt(argc, argv, "c:nh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = true;
			break;
		default:
			usage();
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	return check ? check_config(path) : run(path);
}
