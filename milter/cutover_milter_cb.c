/*
 * cutover_milter_cb.c - the libmilter callbacks of cutover-milter.
 *
 * Exported: struct smfiDesc cm_filter (cutover_milter.h).
 *
 * Per connection (smfi_setpriv) a struct conn holds the configuration
 * snapshot taken at the start, the client IP and HELO, and per message
 * the auth_msg (SPF/DKIM/DMARC state, body streamed, never copied) and
 * the indexes of the Authentication-Results fields that claim our
 * authserv-id.  At the end of the message those forgeries are removed
 * (smfi_chgheader with NULL, highest index first, so removing one cannot
 * shift the index of the next), ours is inserted at the top
 * (smfi_insheader 0), and the action from cm_action_for() is applied.
 *
 * Header bytes: with SMFIP_HDR_LEADSPC negotiated the MTA gives a value
 * exactly as it was after the colon (what DKIM "simple" needs), and we
 * must write the space before our own value; without it the MTA strips
 * one space and adds one.  Values come with LF line breaks (libmilter);
 * the A-R we format folds with CRLF, turned into LF here.
 *
 * Skipped (SMFIS_ACCEPT, nothing changed): a client in trusted_peers, a
 * connection with no IP (local submission: Postfix non_smtpd_milters),
 * and an SMTP AUTH submission ({auth_authen} set at MAIL FROM).
 *
 * Invariants: every callback survives a missing conn (an MTA may skip
 * steps) and a missing message (headers without MAIL FROM); everything
 * allocated is freed at abort/close.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>

#include "cutover_milter.h"

#define HEADER_NAME_MAX 1000          /* octets of a field name we handle */

struct conn {
	struct cm_live *live;
	bool leadspc;
	bool noreply;                     /* MTA expects no reply to header,
	                                     eoh and body: errors wait for eom */
	bool nr_helo;                     /* no reply to HELO */
	bool failed;                      /* a header could not be handled */
	bool skip;
	char ip[INET6_ADDRSTRLEN];
	char helo[AUTH_ADDR_MAX];
	struct auth_msg *msg;
	unsigned ar_seen;                 /* A-R fields in this message */
	unsigned *forged;                 /* their 1-based indexes */
	size_t nforged, forged_cap;
	char *field;                      /* "name:value" being assembled */
	size_t field_cap;
};

static struct conn *
conn_get(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		return c;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->live = cm_live_acquire();
	if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
		cm_live_release(c->live);
		free(c);
		return NULL;
	}
	return c;
}

static void
msg_reset(struct conn *c)
{
	auth_msg_free(c->msg);
	c->msg = NULL;
	c->ar_seen = 0;
	c->nforged = 0;
	c->failed = false;
}

/*
 * The macros each step needs, asked for at negotiation (Postfix then sends
 * no others): {auth_authen} at MAIL (SMTP AUTH submissions are skipped), the
 * queue ID at end of message (the verdict log line).  Every other step gets
 * an empty list, so the MTA sends no macro packet for it.
 */
static const struct {
	int stage;
	const char *macros;
} symlists[] = {
	{ SMFIM_CONNECT, "" }, { SMFIM_HELO, "" },
	{ SMFIM_ENVFROM, "{auth_authen}" }, { SMFIM_ENVRCPT, "" },
	{ SMFIM_DATA, "" }, { SMFIM_EOH, "" }, { SMFIM_EOM, "i" },
};

static void
ask_symlists(SMFICTX *ctx)
{
	size_t i;

	for (i = 0; i < sizeof symlists / sizeof symlists[0]; i++)
		if (smfi_setsymlist(ctx, symlists[i].stage,
		    (char *)symlists[i].macros) != MI_SUCCESS)
			cm_log(LOG_WARNING, "smfi_setsymlist(%d) failed",
			    symlists[i].stage);
}

static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct conn *c = conn_get(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	/*
	 * No reply to HELO, each header, eoh and body chunk, and no RCPT, DATA
	 * or unknown-command steps at all: the MTA then streams the message
	 * without a round trip per step (a verdict is only given at eom).
	 * Connect and MAIL keep their replies: a trusted peer and an SMTP AUTH
	 * submission are let go there, before any header is sent.
	 */
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
	    SMFIF_SETSYMLIST);
	*pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_EOH |
	    SMFIP_NR_BODY | SMFIP_NR_HELO | SMFIP_NORCPT |
	    SMFIP_NOUNKNOWN | SMFIP_NODATA);
	*pf2 = *pf3 = 0;
	c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	c->noreply = (*pf1 & (SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)) ==
	    (SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY);
	c->nr_helo = (*pf1 & SMFIP_NR_HELO) != 0;
	if (*pf0 & SMFIF_SETSYMLIST)
		ask_symlists(ctx);
	return SMFIS_CONTINUE;
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
	out[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, out, (socklen_t)cap);
}

static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct conn *c = conn_get(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	addr_text(hostaddr, c->ip, sizeof c->ip);
	if (c->ip[0] == '\0' || milter_config_trusted(c->live->cfg, c->ip)) {
		c->skip = true;
		cm_log(LOG_DEBUG, "connect from %s [%s]: trusted, not checked",
		    hostname ? hostname : "?", c->ip[0] ? c->ip : "local");
		return SMFIS_ACCEPT;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = conn_get(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	snprintf(c->helo, sizeof c->helo, "%s", helo ? helo : "");
	return c->nr_helo ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_get(ctx);
	const char *authen = smfi_getsymval(ctx, "{auth_authen}");

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	msg_reset(c);
	if (c->skip || (authen != NULL && authen[0] != '\0'))
		return SMFIS_ACCEPT;
	c->msg = auth_msg_new(c->live->auth, c->ip, c->helo,
	    argv && argv[0] ? argv[0] : "");
	return c->msg ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
}

static bool
note_forged(struct conn *c, unsigned idx)
{
	unsigned *n;

	if (c->nforged == c->forged_cap) {
		size_t cap = c->forged_cap ? c->forged_cap * 2 : 4;

		if ((n = realloc(c->forged, cap * sizeof *n)) == NULL)
			return false;
		c->forged = n;
		c->forged_cap = cap;
	}
	c->forged[c->nforged++] = idx;
	return true;
}

/* c->field = name ":" [" "] value, every bare LF of a folded value made
 * CRLF (libmilter gives LF; DKIM canonicalizes the field as it arrived on
 * the wire, with CRLF); its length, or 0 when out of memory. */
static size_t
assemble(struct conn *c, const char *name, const char *value)
{
	size_t nl = strnlen(name, HEADER_NAME_MAX), vl = strlen(value), i, o;
	size_t sp = c->leadspc ? 0 : 1, need = nl + 1 + sp + 2 * vl + 1;
	char *n;

	if (need > c->field_cap) {
		if ((n = realloc(c->field, need)) == NULL)
			return 0;
		c->field = n;
		c->field_cap = need;
	}
	memcpy(c->field, name, nl);
	o = nl;
	c->field[o++] = ':';
	if (sp)
		c->field[o++] = ' ';
	for (i = 0; i < vl; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			c->field[o++] = '\r';
		c->field[o++] = value[i];
	}
	c->field[o] = '\0';
	return o;
}

/* The reply to a header, eoh or body step: none when negotiated so. */
static sfsistat
stream_reply(const struct conn *c)
{
	return c != NULL && c->noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* Out of memory while a header is handled: refused at once, or at eom
 * when the MTA waits for no reply now. */
static sfsistat
header_failed(struct conn *c)
{
	c->failed = true;
	return c->noreply ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = smfi_getpriv(ctx);
	bool is_ar;
	size_t len;

	if (c == NULL || c->msg == NULL || c->failed)
		return stream_reply(c);
	if ((len = assemble(c, name, value ? value : "")) == 0)
		return header_failed(c);
	is_ar = strcasecmp(name, AUTHRES_FIELD_NAME) == 0;
	if (is_ar)
		c->ar_seen++;
	if (auth_msg_header(c->msg, c->field, len) == AUTH_HEADER_FORGED &&
	    is_ar && !note_forged(c, c->ar_seen))
		return header_failed(c);
	return stream_reply(c);
}

static sfsistat
cb_eoh(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL && c->msg != NULL && !c->failed)
		auth_msg_eoh(c->msg);
	return stream_reply(c);
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL && c->msg != NULL && !c->failed)
		auth_msg_body(c->msg, (const char *)chunk, len);
	return stream_reply(c);
}

/* " " + value with CRLF turned into LF (libmilter's line break). */
static char *
milter_value(const char *v)
{
	size_t i, o = 0, n = strlen(v);
	char *out = malloc(n + 2);

	if (out == NULL)
		return NULL;
	out[o++] = ' ';
	for (i = 0; i < n; i++)
		if (!(v[i] == '\r' && i + 1 < n && v[i + 1] == '\n'))
			out[o++] = v[i];
	out[o] = '\0';
	return out;
}

static int
edit_headers(SMFICTX *ctx, struct conn *c, const struct auth_verdicts *v)
{
	char *val = milter_value(v->authres);
	size_t i;
	int rc = 0;

	for (i = c->nforged; i > 0; i--)
		if (smfi_chgheader(ctx, (char *)AUTHRES_FIELD_NAME,
		    (int)c->forged[i - 1], NULL) != MI_SUCCESS)
			rc = -1;
	if (val == NULL || smfi_insheader(ctx, 0, (char *)AUTHRES_FIELD_NAME,
	    c->leadspc ? val : val + 1) != MI_SUCCESS)
		rc = -1;
	free(val);
	return rc;
}

static sfsistat
apply(SMFICTX *ctx, const struct auth_verdicts *v, enum cm_action a)
{
	char text[400];
	int n;

	switch (a) {
	case CM_REJECT:
		n = snprintf(text, sizeof text, "DMARC policy of %s rejects this "
		    "message", v->from_domain);
		smfi_setreply(ctx, (char *)"550", (char *)"5.7.1",
		    n > 0 && (size_t)n < sizeof text ? text : (char *)"DMARC reject");
		return SMFIS_REJECT;
	case CM_TEMPFAIL:
		smfi_setreply(ctx, (char *)"451", (char *)"4.7.5",
		    (char *)"DMARC check failed temporarily, try again later");
		return SMFIS_TEMPFAIL;
	case CM_QUARANTINE:
		if (smfi_quarantine(ctx, (char *)"DMARC policy quarantine") !=
		    MI_SUCCESS)
			cm_log(LOG_WARNING, "smfi_quarantine failed");
		return SMFIS_CONTINUE;
	case CM_ACCEPT:
		break;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	struct auth_verdicts *v;
	const char *qid = smfi_getsymval(ctx, "i");
	enum cm_action a;
	sfsistat rc;

	if (c == NULL || c->msg == NULL)
		return SMFIS_CONTINUE;
	if (c->failed || (v = malloc(sizeof *v)) == NULL) {
		msg_reset(c);
		return SMFIS_TEMPFAIL;
	}
	auth_msg_finish(c->msg, v);
	a = cm_action_for(c->live->cfg, v);
	if ((a == CM_ACCEPT || a == CM_QUARANTINE) && edit_headers(ctx, c, v) < 0)
		cm_log(LOG_WARNING, "%s: could not edit the header (did the MTA "
		    "allow header changes?)", qid ? qid : "NOQUEUE");
	cm_log_verdict(qid ? qid : "NOQUEUE", c->ip, v, a);
	rc = apply(ctx, v, a);
	free(v);
	msg_reset(c);
	return rc;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		msg_reset(c);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	msg_reset(c);
	free(c->forged);
	free(c->field);
	cm_live_release(c->live);
	free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

struct smfiDesc cm_filter = {
	.xxfi_name = (char *)"cutover-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};
