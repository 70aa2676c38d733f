/*
 * cutover_milter.h - what the parts of the cutover-milter daemon share.
 * PRIVATE to milter/cutover_milter*.c (the executable), not the library.
 *
 *   cutover_milter.c      main(): options, config load/reload, signals,
 *                         the running configuration (struct cm_live)
 *   cutover_milter_cb.c   the libmilter callbacks (struct smfiDesc)
 *   cutover_milter_act.c  the verdict -> action table, logging a verdict
 *   cutover_milter_sock.c TCP_NODELAY on libmilter's listening socket
 *
 * The running configuration is a reference-counted snapshot: a connection
 * takes one at negotiate/connect and keeps it until close, so a SIGHUP
 * reload never changes the rules under a message in flight.
 */
#ifndef CUTOVER_MILTER_H
#define CUTOVER_MILTER_H

#include <libmilter/mfapi.h>
#include <stdbool.h>

#include "auth.h"
#include "milter_config.h"

struct cm_live {
	unsigned refs;                /* atomic */
	struct milter_config *cfg;
	struct auth_ctx *auth;
};

/* The current snapshot with one more reference (never NULL once running). */
struct cm_live *cm_live_acquire(void);
void cm_live_release(struct cm_live *l);

/* syslog (and stderr in the foreground), one line. */
void cm_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern struct smfiDesc cm_filter;

/* TCP_NODELAY on every listening TCP socket of the process (the one
 * smfi_opensocket() made): how many were set, or -1 with errno. */
int cm_listener_nodelay(void);

/* What to do with a message after its verdicts. */
enum cm_action {
	CM_ACCEPT = 0,                /* stamp and pass on */
	CM_QUARANTINE,                /* stamp, smfi_quarantine */
	CM_REJECT,                    /* 550 5.7.1 */
	CM_TEMPFAIL,                  /* 451 4.7.5 */
};

enum cm_action cm_action_for(const struct milter_config *cfg,
    const struct auth_verdicts *v);
const char *cm_action_name(enum cm_action a);
void cm_log_verdict(const char *qid, const char *ip,
    const struct auth_verdicts *v, enum cm_action a);

#endif
