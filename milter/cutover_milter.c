/*
 * cutover_milter.c - cutover-milter: SPF + DKIM + DMARC alignment ->
 * Authentication-Results, as a libmilter daemon (Postfix smtpd_milters).
 *
 * Usage: cutover-milter -c CONFIG [-n] [-f]
 *   -n  check CONFIG and exit: 0, or 1 and "FILE:LINE: what" on stderr
 *   -f  foreground (systemd Type=simple); logs go to stderr too
 * Signals: SIGHUP reloads CONFIG (a bad file is logged, the running one
 * stays); SIGTERM/SIGINT stop (smfi_stop, connections finish).
 *
 * Public here (cutover_milter.h): cm_live_acquire(), cm_live_release(),
 * cm_log().
 *
 * Why signals are taken by the main thread while smfi_main() runs on a
 * second one: libmilter's own signal thread sigwait()s SIGHUP, SIGTERM
 * and SIGINT and treats SIGHUP as "stop".  The main thread blocks the
 * three before any thread exists and sits in sigwait() for them; Linux
 * hands a process-directed signal to the thread-group leader when that
 * thread will take it (kernel/signal.c complete_signal), so the main
 * thread always gets them and libmilter's thread never does.  Rejected:
 * SIGUSR1 for reload (what the brief and every admin expect is SIGHUP);
 * restarting smfi_main() after it returns (it closes the listening socket
 * and cannot tell SIGHUP from SIGTERM).
 *
 * Reload: the new file is loaded and a new auth context built (resolver,
 * SPF, DKIM) first; only when both succeed is the snapshot swapped in
 * under the mutex.  Connections keep the snapshot they started with
 * (reference counted).  The socket cannot change without a restart: a
 * changed one is logged and ignored.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cutover_milter.h"

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cm_live *live;
static bool foreground;
static const char *config_path;

/* ---- logging ------------------------------------------------------------ */

void
cm_log(int prio, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* n >= sizeof line: the line is cut, still one line. */
	syslog(prio, "%s", line);
	if (foreground && prio != LOG_DEBUG)
		fprintf(stderr, "cutover-milter: %s\n", line);
}

/* ---- the running configuration ---------------------------------------- */

static void
live_free(struct cm_live *l)
{
	auth_ctx_free(l->auth);
	milter_config_free(l->cfg);
	free(l);
}

struct cm_live *
cm_live_acquire(void)
{
	struct cm_live *l;

	pthread_mutex_lock(&live_lock);
	l = live;
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&live_lock);
	return l;
}

void
cm_live_release(struct cm_live *l)
{
	if (l != NULL && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0)
		live_free(l);
}

/* Load path into a new snapshot (refs 1); NULL with err set. */
static struct cm_live *
live_load(const char *path, char *err, size_t errlen)
{
	struct cm_live *l = calloc(1, sizeof *l);
	struct auth_config ac = { 0 };
	char why[MILTER_CONFIG_ERR_MAX];

	if (l == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (milter_config_load(path, &l->cfg, err, errlen) < 0) {
		free(l);
		return NULL;
	}
	ac.authserv_id = l->cfg->authserv_id;
	ac.resolver = l->cfg->resolver;
	ac.dns_timeout_ms = l->cfg->dns_timeout * 1000;
	if ((l->auth = auth_ctx_new(&ac, why, sizeof why)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, why);
		live_free(l);
		return NULL;
	}
	l->refs = 1;
	return l;
}

static void
reload(void)
{
	char err[MILTER_CONFIG_ERR_MAX + 64];
	struct cm_live *n = live_load(config_path, err, sizeof err), *old;

	if (n == NULL) {
		cm_log(LOG_ERR, "reload failed, keeping the running configuration: "
		    "%s", err);
		return;
	}
	pthread_mutex_lock(&live_lock);
	old = live;
	if (strcmp(old->cfg->socket, n->cfg->socket) != 0)
		cm_log(LOG_WARNING, "reload: socket changed to %s; it takes "
		    "effect at restart only", n->cfg->socket);
	live = n;
	pthread_mutex_unlock(&live_lock);
	cm_live_release(old);
	cm_log(LOG_INFO, "reloaded %s: authserv_id=%s dmarc_reject=%s "
	    "temperror=%s", config_path, n->cfg->authserv_id,
	    milter_dmarc_action_name(n->cfg->dmarc_action),
	    milter_temp_action_name(n->cfg->temp_action));
}

/* ---- start and run ------------------------------------------------------ */

static void *
run_milter(void *arg)
{
	int *rc = arg;

	*rc = smfi_main();
	kill(getpid(), SIGTERM);          /* wake the main thread's sigwait */
	return NULL;
}

static int
serve(sigset_t *sigs)
{
	static int rc = MI_FAILURE;
	pthread_t t;
	int sig;

	if (pthread_create(&t, NULL, run_milter, &rc) != 0) {
		cm_log(LOG_ERR, "cannot start the milter thread");
		return 1;
	}
	for (;;) {
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		reload();
	}
	cm_log(LOG_INFO, "stopping");
	smfi_stop();
	pthread_join(t, NULL);
	return rc == MI_SUCCESS ? 0 : 1;
}

static int
setup_milter(const struct milter_config *cfg)
{
	if (smfi_setconn(cfg->socket) != MI_SUCCESS ||
	    smfi_register(cm_filter) != MI_SUCCESS) {
		cm_log(LOG_ERR, "cannot register the milter on %s", cfg->socket);
		return -1;
	}
	if (smfi_opensocket(true) != MI_SUCCESS) {
		cm_log(LOG_ERR, "cannot open socket %s", cfg->socket);
		return -1;
	}
	if (cm_listener_nodelay() < 0) {
		cm_log(LOG_ERR, "TCP_NODELAY on %s: %s", cfg->socket,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: cutover-milter -c CONFIG [-n] [-f]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	char err[MILTER_CONFIG_ERR_MAX + 64];
	struct milter_config *cfg;
	bool check = false;
	sigset_t sigs;
	int ch;

	while ((ch = getopt(argc, argv, "c:nf")) != -1) {
		if (ch == 'c')
			config_path = optarg;
		else if (ch == 'n')
			check = true;
		else if (ch == 'f')
			foreground = true;
		else
			return usage();
	}
	if (config_path == NULL || optind != argc)
		return usage();
	if (check) {
		if (milter_config_load(config_path, &cfg, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		milter_config_free(cfg);
		return 0;
	}
	openlog("cutover-milter", LOG_PID, LOG_MAIL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (milter_config_load(config_path, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	milter_config_free(cfg);
	/* Before any library may have started a thread (libunbound). */
	if (!foreground && daemon(0, 0) < 0) {
		fprintf(stderr, "cutover-milter: daemon: %s\n", strerror(errno));
		return 1;
	}
	if ((live = live_load(config_path, err, sizeof err)) == NULL) {
		cm_log(LOG_ERR, "%s", err);
		return 1;
	}
	if (setup_milter(live->cfg) < 0)
		return 1;
	cm_log(LOG_INFO, "started on %s, authserv_id=%s", live->cfg->socket,
	    live->cfg->authserv_id);
	ch = serve(&sigs);
	cm_live_release(live);
	return ch;
}
