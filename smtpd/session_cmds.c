/*
 * session_cmds.c - the SMTP command table (RFC 5321 4.1, 4.3.2).
 *
 * Public: session_command(), session_data_done().
 *
 * Each verb has flags and a do_* function (OpenSMTPD smtp_session.c
 * commands[], Postfix smtpd_cmd_table).  session_command() checks sequence
 * and argument presence from the flags and replies itself when they fail;
 * the do_* function then does the work.  The RCPT decision itself is
 * policy_decide() (policy/), so nothing here knows what a domain's state
 * means beyond the reply it was handed.
 *
 * What counts as a client error (towards max_errors): unknown or malformed
 * commands, bad sequence, bad syntax.  Policy answers (451 limbo, 550 not
 * ours) are not errors: a legitimate sender with many recipients must not
 * be disconnected for them.  max_recipients counts every RCPT of a
 * transaction so that a RCPT flood stays bounded in limbo too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "data_reader.h"
#include "session.h"

#define HELO_MAX 255

enum cmd_flag {
	CF_NEED_HELO = 1 << 0,
	CF_NEED_MAIL = 1 << 1,
	CF_NEED_ARG  = 1 << 2,
	CF_NO_ARG    = 1 << 3,
};

struct cmd_entry {
	unsigned flags;
	void (*run)(struct session *, const struct smtp_cmd *);
};

static char *
dup_bounded(const char *s, size_t len, size_t max)
{
	char *p;

	if (len > max)
		len = max;
	if ((p = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static void
do_helo_common(struct session *s, const struct smtp_cmd *c, bool ehlo)
{
	free(s->helo);
	s->helo = dup_bounded(c->arg, c->arglen, HELO_MAX);
	session_txn_reset(s);
	s->phase = PHASE_READY;
	if (ehlo)
		s->flags |= SF_EHLO;
	else
		s->flags &= ~(unsigned)SF_EHLO;
}

static void
do_helo(struct session *s, const struct smtp_cmd *c)
{
	do_helo_common(s, c, false);
	session_replyf(s, "250 %s", s->policy->hostname);
}

static void
do_ehlo(struct session *s, const struct smtp_cmd *c)
{
	bool tls = s->srv->tls != NULL && !(s->flags & SF_TLS);

	do_helo_common(s, c, true);
	session_replyf(s, "250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n%s250 SMTPUTF8",
	    s->policy->hostname, s->policy->limits.max_message_size,
	    tls ? "250-STARTTLS\r\n" : "");
}

static void
do_mail(struct session *s, const struct smtp_cmd *c)
{
	struct mail_args ma;
	const char *err;
	char addr[ADDRESS_PATH_MAX * 4];

	if (s->phase == PHASE_MAIL) {
		session_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (smtp_mail_parse(c->arg, c->arglen, &ma, &err) != 0) {
		session_error(s, err);
		return;
	}
	if (ma.has_size && ma.size > s->policy->limits.max_message_size) {
		session_log_limit(s, "message_size",
		    "552 5.3.4 Error: message size exceeds fixed limit");
		session_reply(s, "552 5.3.4 Error: message size exceeds fixed limit");
		return;
	}
	if (address_format(&ma.addr, addr, sizeof(addr)) < 0)
		addr[0] = '\0';
	s->mail_from = dup_bounded(addr, strlen(addr), sizeof(addr));
	s->mail_params = dup_bounded(ma.params, ma.paramslen, 512);
	if (ma.smtputf8)
		s->flags |= SF_SMTPUTF8;
	if (ma.body == BODY_8BITMIME)
		s->flags |= SF_8BITMIME;
	s->mail_size = ma.has_size ? ma.size : 0;
	s->phase = PHASE_MAIL;
	s->transactions++;
	session_reply(s, "250 2.1.0 Ok");
}

static void
tls_fields(struct session *s, struct jline *j)
{
	if (!(s->flags & SF_TLS)) {
		jline_null(j, "tls");
		return;
	}
	jline_obj_begin(j, "tls");
	jline_cstr(j, "version", s->tls_version);
	jline_cstr(j, "cipher", s->tls_cipher);
	jline_obj_end(j);
}

/* Fields shared by the rcpt and data lines. */
static void
txn_fields(struct session *s, struct jline *j)
{
	session_log_common(s, j);
	jline_cstr(j, "helo", s->helo);
	tls_fields(s, j);
	jline_cstr(j, "mail_from", s->mail_from);
	jline_cstr(j, "mail_params", s->mail_params);
}

void
session_rcpt_log_open(struct session *s, struct jline *j, const char *rcpt,
    size_t rcptlen, const struct rcpt_args *ra,
    const struct policy_decision *d, const char *decision)
{
	char sid[17];

	attempt_log_begin(s->srv->log, j, session_sid_str(s, sid), "rcpt");
	txn_fields(s, j);
	jline_str(j, "rcpt", rcpt, rcptlen);
	if (ra != NULL)
		jline_str(j, "rcpt_params", ra->params, ra->paramslen);
	else
		jline_null(j, "rcpt_params");
	if (d != NULL && d->domain != NULL) {
		jline_cstr(j, "domain", d->domain->name_utf8 ?
		    d->domain->name_utf8 : d->domain->name);
		jline_cstr(j, "state", domain_state_name(d->overridden ?
		    d->state : d->domain->state));
	} else {
		jline_null(j, "domain");
		jline_null(j, "state");
	}
	jline_cstr(j, "decision", decision);
}

static void
rcpt_log(struct session *s, const char *rcpt, size_t rcptlen,
    const struct rcpt_args *ra, const struct policy_decision *d,
    const char *decision, const char *reply)
{
	struct jline j;

	session_rcpt_log_open(s, &j, rcpt, rcptlen, ra, d, decision);
	if (d != NULL && d->overridden)
		jline_bool(&j, "override", true);
	jline_cstr(&j, "reply", reply);
	attempt_log_write(s->srv->log, &j);
}

void
session_rcpt_remember(struct session *s, const char *addr, size_t len,
    const char *later)
{
	struct rcpt_entry *r, **tail;

	if ((r = malloc(sizeof(*r) + len + 1)) == NULL)
		return;
	memcpy(r->addr, addr, len);
	r->addr[len] = '\0';
	r->next = NULL;
	for (tail = &s->rcpts; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = r;
	if (s->data_reply == NULL)
		s->data_reply = dup_bounded(later, strlen(later), 511);
}

static void
rcpt_decided(struct session *s, const struct rcpt_args *ra,
    const struct policy_decision *d)
{
	char addr[ADDRESS_PATH_MAX * 4];
	int len = address_format(&ra->addr, addr, sizeof(addr));

	if (len < 0)
		len = 0;
	switch (d->decision) {
	case DECISION_LIVE:
		relay_rcpt(s, ra, d);
		return;
	case DECISION_DEFER_DATA:
		if (s->relay != NULL) {
			/* the message goes upstream: a 250 here could not be
			 * followed by this recipient's own 451 after the dot */
			s->deferred++;
			session_reply(s, d->later);
			rcpt_log(s, addr, (size_t)len, ra, d, "defer", d->later);
			return;
		}
		session_rcpt_remember(s, addr, (size_t)len, d->later);
		s->txn_accepted++;
		break;
	case DECISION_DENY:
		s->denied++;
		break;
	default:
		s->deferred++;
		break;
	}
	session_reply(s, d->reply);
	rcpt_log(s, addr, (size_t)len, ra, d, decision_name(d->decision),
	    d->reply);
}

static void
do_rcpt(struct session *s, const struct smtp_cmd *c)
{
	static const char too_many[] = "452 4.5.3 Error: too many recipients";
	struct policy_decision d;
	struct rcpt_args ra;
	const char *err;

	s->nrcpts++;
	if (++s->txn_rcpts > s->policy->limits.max_recipients) {
		session_log_limit(s, "recipients", too_many);
		session_reply(s, too_many);
		return;
	}
	if (smtp_rcpt_parse(c->arg, c->arglen, (s->flags & SF_SMTPUTF8) != 0,
	    &ra, &err) != 0) {
		rcpt_log(s, c->arg, c->arglen, NULL, NULL, "syntax", err);
		session_error(s, err);
		return;
	}
	policy_decide(s->policy, &ra.addr, &d);
	rcpt_decided(s, &ra, &d);
}

static void
do_data(struct session *s, const struct smtp_cmd *c)
{
	static const char oom[] =
	    "451 4.3.0 Error: out of memory, try again later";
	const char *refused = NULL;

	(void)c;
	if (s->txn_accepted == 0) {
		session_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (session_data_begin(s) != 0)
		refused = oom;
	else if (relay_txn_active(s))
		refused = relay_data_begin(s);
	if (refused != NULL) {
		session_reply(s, refused);
		session_txn_reset(s);
		return;
	}
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
do_rset(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_txn_reset(s);
	session_reply(s, "250 2.0.0 Ok");
}

static void
do_noop(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, "250 2.0.0 Ok");
}

static void
do_quit(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_close_after_reply(s, "221 2.0.0 Bye", "quit");
}

static void
do_vrfy(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, "252 2.5.0 Cannot VRFY user; try RCPT to attempt delivery");
}

static void
do_help(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP "
	    "QUIT VRFY HELP STARTTLS; see RFC 5321");
}

static void
do_starttls(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (s->flags & SF_TLS) {
		session_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->srv->tls == NULL) {
		session_error(s, "454 4.7.0 TLS not available");
		return;
	}
	session_txn_reset(s);
	session_reply(s, "220 2.0.0 Ready to start TLS");
	s->phase = PHASE_STARTTLS;
}

static void
do_not_implemented(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	session_error(s, "502 5.5.1 Error: command not implemented");
}

static const struct cmd_entry commands[VERB__COUNT] = {
	[VERB_HELO]     = { CF_NEED_ARG, do_helo },
	[VERB_EHLO]     = { CF_NEED_ARG, do_ehlo },
	[VERB_MAIL]     = { CF_NEED_HELO | CF_NEED_ARG, do_mail },
	[VERB_RCPT]     = { CF_NEED_HELO | CF_NEED_MAIL | CF_NEED_ARG, do_rcpt },
	[VERB_DATA]     = { CF_NEED_HELO | CF_NEED_MAIL | CF_NO_ARG, do_data },
	[VERB_RSET]     = { CF_NO_ARG, do_rset },
	[VERB_NOOP]     = { 0, do_noop },
	[VERB_QUIT]     = { 0, do_quit },
	[VERB_VRFY]     = { CF_NEED_ARG, do_vrfy },
	[VERB_HELP]     = { 0, do_help },
	[VERB_STARTTLS] = { CF_NO_ARG, do_starttls },
	[VERB_EXPN]     = { 0, do_not_implemented },
	[VERB_BDAT]     = { 0, do_not_implemented },
	[VERB_AUTH]     = { 0, do_not_implemented },
};

/* Sequence and argument checks from the table; replies on failure. */
static bool
cmd_check(struct session *s, const struct smtp_cmd *c, unsigned flags)
{
	const char *verb = smtp_verb_name(c->verb);

	char buf[128];

	if ((flags & CF_NEED_ARG) && c->arglen == 0) {
		snprintf(buf, sizeof(buf), "501 5.5.4 Syntax: %s requires an argument",
		    verb);
		session_error(s, buf);
		return false;
	}
	if ((flags & CF_NO_ARG) && c->arglen != 0) {
		snprintf(buf, sizeof(buf), "501 5.5.4 Syntax: %s takes no argument",
		    verb);
		session_error(s, buf);
		return false;
	}
	if ((flags & CF_NEED_HELO) && s->phase == PHASE_GREETING) {
		session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return false;
	}
	if ((flags & CF_NEED_MAIL) && s->phase != PHASE_MAIL) {
		session_error(s, "503 5.5.1 Error: need MAIL command");
		return false;
	}
	return true;
}

void
session_command(struct session *s, const char *line, size_t len)
{
	const struct cmd_entry *e;
	struct smtp_cmd c;

	s->commands++;
	if (smtp_cmd_parse(line, len, &c) != 0) {
		session_error(s, "500 5.5.2 Error: bad characters in command");
		return;
	}
	e = c.verb != VERB_UNKNOWN && c.verb < VERB__COUNT ?
	    &commands[c.verb] : NULL;
	if (e == NULL || e->run == NULL) {
		session_error(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if (cmd_check(s, &c, e->flags))
		e->run(s, &c);
}

void
session_data_log_open(struct session *s, struct jline *j,
    const struct data_reader_result *r)
{
	char sid[17];

	attempt_log_begin(s->srv->log, j, session_sid_str(s, sid), "data");
	txn_fields(s, j);
	jline_arr_begin(j, "rcpts");
	for (const struct rcpt_entry *e = s->rcpts; e != NULL; e = e->next)
		jline_cstr(j, NULL, e->addr);
	jline_arr_end(j);
	jline_int(j, "size", (long long)r->size);
	jline_cstr(j, "message_id", r->message_id[0] ? r->message_id : NULL);
	jline_cstr(j, "subject", r->subject[0] ? r->subject : NULL);
	jline_cstr(j, "body_sha256", r->body_sha256);
	jline_int(j, "bare_cr", (long long)r->bare_cr);
	jline_int(j, "bare_lf", (long long)r->bare_lf);
}

static void
data_log(struct session *s, const struct data_reader_result *r,
    const char *reply)
{
	struct jline j;

	session_data_log_open(s, &j, r);
	jline_cstr(&j, "reply", reply);
	attempt_log_write(s->srv->log, &j);
}

void
session_data_done(struct session *s)
{
	static const char too_big[] =
	    "552 5.3.4 Error: message size exceeds fixed limit";
	const struct data_reader_result *r = data_reader_result(s->data);
	const char *reply = too_big;

	if (relay_txn_active(s)) {
		relay_data_done(s, r);
		return;
	}
	if (r->too_big)
		session_log_limit(s, "message_size", too_big);
	else if (s->data_reply != NULL && s->data_reply[0] != '\0')
		reply = s->data_reply;
	else
		reply = "451 4.3.2 Error: try again later";
	session_reply(s, reply);
	s->deferred += s->txn_accepted;
	data_log(s, r, reply);
	session_txn_reset(s);
}
