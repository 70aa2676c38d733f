/*
 * cutover_milter_act.c - cutover-milter's action per verdict, and the one
 * log line per message.
 *
 * Functions (cutover_milter.h): cm_action_for(), cm_action_name(),
 * cm_log_verdict().
 *
 * The action table (README "cutover-milter", config `action { }`):
 *   dmarc=temperror and temperror = tempfail        -> 451 4.7.5
 *   dmarc=fail, disposition reject:
 *       dmarc_reject = reject                        -> 550 5.7.1
 *       dmarc_reject = quarantine                    -> quarantine
 *   dmarc=fail, disposition quarantine:
 *       dmarc_reject = reject or quarantine          -> quarantine
 *   anything else                                    -> accept (stamped)
 * The disposition already holds the domain's policy (p or sp) after pct
 * sampling (dmarc.c), so "reject only when the domain's policy is reject"
 * holds by construction, and p=none never leads to an action.
 */
#include <syslog.h>

#include "cutover_milter.h"

enum cm_action
cm_action_for(const struct milter_config *cfg, const struct auth_verdicts *v)
{
	const struct dmarc_verdict *d = &v->dmarc;

	if (d->result == DMARC_RESULT_TEMPERROR)
		return cfg->temp_action == MILTER_TEMP_TEMPFAIL ? CM_TEMPFAIL :
		    CM_ACCEPT;
	if (d->result != DMARC_RESULT_FAIL || cfg->dmarc_action == MILTER_DMARC_NONE)
		return CM_ACCEPT;
	if (d->disposition == DMARC_DISP_REJECT)
		return cfg->dmarc_action == MILTER_DMARC_REJECT ? CM_REJECT :
		    CM_QUARANTINE;
	if (d->disposition == DMARC_DISP_QUARANTINE)
		return CM_QUARANTINE;
	return CM_ACCEPT;
}

const char *
cm_action_name(enum cm_action a)
{
	switch (a) {
	case CM_ACCEPT:
		return "accept";
	case CM_QUARANTINE:
		return "quarantine";
	case CM_REJECT:
		return "reject";
	case CM_TEMPFAIL:
		return "tempfail";
	}
	return "unknown";
}

void
cm_log_verdict(const char *qid, const char *ip, const struct auth_verdicts *v,
    enum cm_action a)
{
	cm_log(LOG_INFO, "%s: ip=%s spf=%s spf_domain=%s dkim=%s dmarc=%s "
	    "from=%s policy=%s disposition=%s reason=\"%s\" action=%s",
	    qid, ip, authres_result_name(v->spf),
	    v->spf_domain[0] ? v->spf_domain : "-",
	    authres_result_name(v->dkim_summary),
	    dmarc_result_name(v->dmarc.result),
	    v->from_domain[0] ? v->from_domain : "-",
	    dmarc_policy_name(v->dmarc.policy),
	    dmarc_disposition_name(v->dmarc.disposition), v->dmarc.reason,
	    cm_action_name(a));
}
