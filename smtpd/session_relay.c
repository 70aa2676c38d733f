/*
 * session_relay.c - the live side of a transaction: recipients proxied to
 * the next hop, the message relayed after the client's final dot.
 *
 * Public: relay_rcpt(), relay_txn_active(), relay_data_begin(),
 * relay_data_done(), relay_txn_end().
 *
 * cutoverd is a proxy, not a queue (DESIGN.md "Key decisions"): the first
 * live RCPT of a transaction opens (or reuses) an upstream session to that
 * recipient's next hop and sends MAIL; every live RCPT is forwarded and the
 * client gets the upstream's own verdict; after the client's dot the whole
 * message goes upstream and the client gets the upstream's reply to our
 * dot.  So there is no moment at which we said 250 and the upstream did
 * not.  While an upstream reply is awaited the session stops reading
 * commands (session_wait()), which keeps PIPELINING in order.
 *
 * One next hop per transaction: a live RCPT for another relay, TLS level
 * or sender map than the first one gets 452 4.5.3 and the client sends it
 * in a transaction of its own.  Once the next hop failed or refused our
 * MAIL, every further live RCPT of the transaction gets that same reply at
 * once instead of another connection attempt.
 *
 * The message: bare CR, bare LF or NUL anywhere in the data is refused
 * with 550 5.6.0 and nothing is sent (RFC 5321 2.3.8; a receiver that
 * reads them as line ends would see another message: SMTP smuggling).
 * Otherwise it is held in a msgstore (RAM, then an unlinked temp file),
 * and sent as: our Received header, the header section with the sender
 * map applied to From:/Sender:/Reply-To:, the body as received.  The
 * upstream client does the dot-stuffing; since every line now ends in
 * CRLF, no line of the content can end the upstream's data early.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/bufferevent.h>

#include "auth.h"
#include "auth_pool.h"
#include "data_reader.h"
#include "header_rewrite.h"
#include "msgstore.h"
#include "received.h"
#include "rewrite.h"
#include "session.h"
#include "session_relay.h"
#include "upstream.h"

#define RELAY_REPLY_MAX 4200      /* 8 lines of 512 + CRLFs */
#define ADDR_TEXT_MAX   (ADDRESS_PATH_MAX * 4 + 8)
#define HEADER_MAX      (1u << 20) /* header section we rewrite, octets */

static const char next_hop_busy[] =
    "452 4.5.3 Error: recipient for another next hop, send it in a new "
    "transaction";
static const char bare_eol[] =
    "550 5.6.0 Error: bare CR, bare LF or NUL in message data (RFC 5321 2.3.8)";
static const char store_error[] =
    "451 4.3.0 Error: could not store the message, try again later";
static const char too_big_reply[] =
    "552 5.3.4 Error: message size exceeds fixed limit";
static const char header_too_big[] =
    "552 5.3.4 Error: message header section too large";
static const char too_many_forged[] =
    "554 5.7.1 Error: too many Authentication-Results fields with our "
    "authserv-id";
static const char mixed_defer[] =
    "452 4.5.3 Error: this transaction has deferred recipients, send the "
    "live ones in a new transaction";

static void relay_send_mail(struct relay_txn *rt);

bool
relay_txn_active(const struct session *s)
{
	return s->relay != NULL && s->relay->accepted > 0;
}

/* ---- the RCPT ---------------------------------------------------------- */

static void
relay_rcpt_log(struct relay_txn *rt, const char *reply)
{
	struct session *s = rt->s;
	struct rcpt_args ra = {
		.params = rt->rcpt_params,
		.paramslen = strlen(rt->rcpt_params),
	};
	struct jline j;

	session_rcpt_log_open(s, &j, rt->rcpt, strlen(rt->rcpt), &ra, &rt->d,
	    "live");
	if (rt->d.rewritten)
		jline_cstr(&j, "rcpt_rewritten", rt->sent);
	if (rt->d.overridden)
		jline_bool(&j, "override", true);
	jline_cstr(&j, "upstream", rt->peer[0] ? rt->peer : NULL);
	jline_cstr(&j, "reply", reply);
	attempt_log_write(s->srv->log, &j);
}

/* Answer the RCPT being forwarded; `async`: from an upstream callback, so
 * go on with the client's queued input (never from inside a command, or
 * the input would be processed twice). */
static void
relay_rcpt_answer(struct relay_txn *rt, const char *reply, bool accepted,
    bool async)
{
	struct session *s = rt->s;

	if (accepted) {
		rt->accepted++;
		s->txn_accepted++;
		session_rcpt_remember(s, rt->rcpt, strlen(rt->rcpt), "");
	} else if (reply[0] == '4') {
		s->deferred++;
	} else {
		s->denied++;
	}
	relay_rcpt_log(rt, reply);
	if (s->phase == PHASE_CLOSING) {
		s->flags &= ~(unsigned)SF_WAIT;
		return;
	}
	session_reply(s, reply);
	if (async)
		session_resume(s);
}

/* A live RCPT answered without the upstream (next hop conflicts). */
static void
relay_reply_now(struct session *s, const struct rcpt_args *ra,
    const struct policy_decision *d, const char *reply)
{
	char addr[RELAY_ADDR_MAX];
	struct jline j;
	int n = address_format(&ra->addr, addr, sizeof(addr));

	if (reply[0] == '4')
		s->deferred++;
	else
		s->denied++;
	session_reply(s, reply);
	session_rcpt_log_open(s, &j, addr, n < 0 ? 0 : (size_t)n, ra, d,
	    "live");
	jline_cstr(&j, "reply", reply);
	attempt_log_write(s->srv->log, &j);
}

static void
relay_format(const struct upstream_reply *r, char *buf, size_t len)
{
	if (upstream_reply_format(r, buf, len) < 0)
		snprintf(buf, len, "451 4.3.0 Error: upstream reply too long");
}

/* The next hop failed or refused MAIL: the rest of the transaction's live
 * recipients get the same answer. */
static void
relay_fail(struct relay_txn *rt, const char *reply, bool async)
{
	free(rt->fail);
	rt->fail = strdup(reply);
	if (rt->up != NULL) {
		upstream_release(rt->up);
		rt->up = NULL;
	}
	rt->mail_done = false;
	relay_rcpt_answer(rt, reply, false, async);
}

static void
relay_on_rcpt(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	struct relay_txn *rt = arg;
	char reply[RELAY_REPLY_MAX];

	(void)u;
	rt->busy = false;
	relay_format(r, reply, sizeof(reply));
	if (r->local) {
		relay_fail(rt, reply, true);
		return;
	}
	relay_rcpt_answer(rt, reply, r->code / 100 == 2, true);
}

static void
relay_send_rcpt(struct relay_txn *rt)
{
	rt->busy = true;
	upstream_rcpt(rt->up, rt->sent, relay_on_rcpt, rt);
}

static void
relay_on_mail(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	struct relay_txn *rt = arg;
	char reply[RELAY_REPLY_MAX];

	(void)u;
	rt->busy = false;
	if (r->code / 100 != 2) {
		relay_format(r, reply, sizeof(reply));
		relay_fail(rt, reply, true);
		return;
	}
	rt->mail_done = true;
	relay_send_rcpt(rt);
}

static void
relay_on_ready(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	struct relay_txn *rt = arg;
	char reply[RELAY_REPLY_MAX];

	rt->req = NULL;
	rt->busy = false;
	if (u == NULL) {
		/* no session: the reply names the next hop we tried */
		relay_format(r, reply, sizeof(reply));
		relay_fail(rt, reply, true);
		return;
	}
	rt->up = u;
	snprintf(rt->peer, sizeof(rt->peer), "%s", upstream_peer(u));
	relay_send_mail(rt);
}

/* MAIL FROM as the upstream gets it: the client's, through sender_map. */
static void
relay_sender(struct relay_txn *rt)
{
	struct session *s = rt->s;
	struct address in, out;
	char buf[ADDR_TEXT_MAX];
	size_t used;
	int n;

	snprintf(rt->mail_from, sizeof(rt->mail_from), "%s",
	    s->mail_from != NULL ? s->mail_from : "");
	rt->sender_rewritten = false;
	n = snprintf(buf, sizeof(buf), "<%s>", rt->mail_from);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    address_parse(buf, (size_t)n, true, &in, &used) != ADDRESS_OK)
		return;
	if (rewrite_sender(rt->sender_map, &in, &out) == REWRITE_CHANGED &&
	    address_format(&out, rt->mail_from, sizeof(rt->mail_from)) >= 0)
		rt->sender_rewritten = true;
	else
		address_format(&in, rt->mail_from, sizeof(rt->mail_from));
}

static void
relay_send_mail(struct relay_txn *rt)
{
	struct session *s = rt->s;
	struct upstream_mail_params mp = {
		.size = s->mail_size,
		.body_8bit = (s->flags & SF_8BITMIME) != 0,
		.smtputf8 = (s->flags & SF_SMTPUTF8) != 0,
	};

	relay_sender(rt);
	rt->busy = true;
	upstream_mail(rt->up, rt->mail_from, &mp, relay_on_mail, rt);
}

static struct relay_txn *
relay_txn_new(struct session *s, const struct policy_domain *dom)
{
	struct relay_txn *rt = calloc(1, sizeof(*rt));

	if (rt == NULL)
		return NULL;
	rt->s = s;
	rt->hop = dom->relay;
	rt->tls = dom->relay_tls;
	rt->sender_map = dom->sender_map;
	return rt;
}

static bool
relay_same_hop(const struct relay_txn *rt, const struct policy_domain *dom)
{
	return strcmp(rt->hop, dom->relay) == 0 && rt->tls == dom->relay_tls &&
	    rt->sender_map == dom->sender_map;
}

/* Remember what the log and the upstream need: the command line the
 * rcpt_args point into is gone once we wait. */
static void
relay_pending(struct relay_txn *rt, const struct rcpt_args *ra,
    const struct policy_decision *d)
{
	size_t n = ra->paramslen < sizeof(rt->rcpt_params) - 1 ?
	    ra->paramslen : sizeof(rt->rcpt_params) - 1;

	rt->d = *d;
	if (address_format(&ra->addr, rt->rcpt, sizeof(rt->rcpt)) < 0)
		rt->rcpt[0] = '\0';
	if (address_format(&d->rcpt, rt->sent, sizeof(rt->sent)) < 0)
		snprintf(rt->sent, sizeof(rt->sent), "%s", rt->rcpt);
	memcpy(rt->rcpt_params, ra->params, n);
	rt->rcpt_params[n] = '\0';
}

void
relay_rcpt(struct session *s, const struct rcpt_args *ra,
    const struct policy_decision *d)
{
	struct relay_txn *rt = s->relay;

	if (rt == NULL && s->txn_accepted > 0) {
		relay_reply_now(s, ra, d, mixed_defer);
		return;
	}
	if (rt == NULL && (rt = s->relay = relay_txn_new(s, d->domain)) == NULL) {
		relay_reply_now(s, ra, d,
		    "451 4.3.0 Error: out of memory, try again later");
		return;
	}
	if (!relay_same_hop(rt, d->domain)) {
		relay_reply_now(s, ra, d, next_hop_busy);
		return;
	}
	relay_pending(rt, ra, d);
	if (rt->fail != NULL) {
		relay_rcpt_answer(rt, rt->fail, false, false);
		return;
	}
	if (rt->up != NULL && rt->mail_done) {
		session_wait(s);
		relay_send_rcpt(rt);
		return;
	}
	if (s->srv->relay != NULL)
		rt->req = upstream_acquire(s->srv->relay, rt->hop, rt->tls,
		    relay_on_ready, rt);
	if (rt->req == NULL) {
		relay_fail(rt, "451 4.3.0 Error: relaying not available, try "
		    "again later", false);
		return;
	}
	rt->busy = true;
	session_wait(s);
}

/* ---- the message --------------------------------------------------------- */

static void
relay_sink(void *arg, const char *buf, size_t len)
{
	struct relay_txn *rt = arg;

	if (!rt->store_failed && msgstore_append(rt->msg, buf, len) != 0)
		rt->store_failed = true;
}

const char *
relay_data_begin(struct session *s)
{
	const struct policy_relay *cfg = &s->policy->relay;
	struct relay_txn *rt = s->relay;

	if (rt->up == NULL)         /* the next hop went away after a RCPT */
		return rt->fail != NULL ? rt->fail : store_error;
	rt->msg = msgstore_new(cfg->spill_threshold, cfg->spill_dir);
	if (rt->msg == NULL)
		return store_error;
	data_reader_set_sink(s->data, relay_sink, rt);
	return NULL;
}

/* The upstream's own words, for the log: "code ecode text / text ...". */
static void
relay_words(const struct upstream_reply *r, char *buf, size_t len)
{
	size_t used;
	int n = snprintf(buf, len, "%d%s%s", r->code, r->ecode[0] ? " " : "",
	    r->ecode);

	used = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < r->nlines && used < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s", i ? " / " : " ",
		    r->text[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The checks' verdicts on the data line: null when none ran. */
static void
relay_auth_log(const struct relay_txn *rt, struct jline *j)
{
	if (rt->spf[0] == '\0' && rt->auth_error == NULL) {
		jline_null(j, "auth");
		return;
	}
	jline_obj_begin(j, "auth");
	if (rt->spf[0] != '\0') {
		jline_cstr(j, "spf", rt->spf);
		jline_cstr(j, "dkim", rt->dkim);
		jline_cstr(j, "dmarc", rt->dmarc);
		jline_int(j, "forged_removed", (long long)rt->nforged);
	} else {
		jline_cstr(j, "error", rt->auth_error);
	}
	jline_obj_end(j);
}

static void
relay_data_log(struct relay_txn *rt, const struct upstream_reply *ur,
    const char *reply)
{
	struct session *s = rt->s;
	char words[RELAY_REPLY_MAX];
	struct jline j;

	session_data_log_open(s, &j, &rt->result);
	jline_obj_begin(&j, "relay");
	jline_cstr(&j, "peer", rt->peer[0] ? rt->peer : NULL);
	if (rt->up != NULL && upstream_tls_version(rt->up)[0] != '\0') {
		jline_obj_begin(&j, "tls");
		jline_cstr(&j, "version", upstream_tls_version(rt->up));
		jline_cstr(&j, "cipher", upstream_tls_cipher(rt->up));
		jline_obj_end(&j);
	} else {
		jline_null(&j, "tls");
	}
	if (ur != NULL) {
		relay_words(ur, words, sizeof(words));
		jline_cstr(&j, "reply", words);
		jline_bool(&j, "local", ur->local);
	} else {
		jline_null(&j, "reply");
	}
	jline_obj_end(&j);
	jline_arr_begin(&j, "rewrites");
	if (rt->sender_rewritten && s->mail_from != NULL) {
		jline_obj_begin(&j, NULL);
		jline_cstr(&j, "field", "mail_from");
		jline_cstr(&j, "old", s->mail_from);
		jline_cstr(&j, "new", rt->mail_from);
		jline_obj_end(&j);
	}
	for (size_t i = 0; i < rt->nrewrites; i++) {
		jline_obj_begin(&j, NULL);
		jline_cstr(&j, "field", rt->rewrites[i].field);
		jline_cstr(&j, "old", rt->rewrites[i].old);
		jline_cstr(&j, "new", rt->rewrites[i].new);
		jline_obj_end(&j);
	}
	jline_arr_end(&j);
	relay_auth_log(rt, &j);
	jline_cstr(&j, "reply", reply);
	attempt_log_write(s->srv->log, &j);
}

/* The transaction is over: answer, log, count, reset. */
static void
relay_data_final(struct relay_txn *rt, const struct upstream_reply *ur,
    const char *reply, bool async)
{
	struct session *s = rt->s;

	relay_data_log(rt, ur, reply);
	if (reply[0] == '4')
		s->deferred += s->txn_accepted;
	else if (reply[0] == '5')
		s->denied += s->txn_accepted;
	if (s->phase == PHASE_CLOSING) {
		s->flags &= ~(unsigned)SF_WAIT;
		session_txn_reset(s);
		return;
	}
	session_reply(s, reply);
	session_txn_reset(s);
	if (async)
		session_resume(s);
}

static void
relay_on_data(struct upstream *u, const struct upstream_reply *r, void *arg)
{
	struct relay_txn *rt = arg;
	char reply[RELAY_REPLY_MAX];

	(void)u;
	rt->busy = false;
	relay_format(r, reply, sizeof(reply));
	relay_data_final(rt, r, reply, true);
}

static ssize_t
relay_body_read(void *arg, char *buf, size_t len)
{
	struct relay_txn *rt = arg;
	ssize_t n;

	if (rt->pos < rt->prefixlen) {
		size_t k = rt->prefixlen - rt->pos;

		if (k > len)
			k = len;
		memcpy(buf, rt->prefix + rt->pos, k);
		rt->pos += k;
		return (ssize_t)k;
	}
	n = msgstore_pread(rt->msg, buf, len,
	    rt->body_off + (rt->pos - rt->prefixlen));
	if (n > 0)
		rt->pos += (size_t)n;
	return n;
}

/* Our Received header (RFC 5321 4.4), with the TLS details. */
static int
relay_received(struct relay_txn *rt, char *buf, size_t cap, size_t *len)
{
	struct session *s = rt->s;
	char sid[17];
	struct received_info ri = {
		.helo = s->helo,
		.helo_len = s->helo != NULL ? strlen(s->helo) : 0,
		.ip = s->ip,
		.hostname = s->policy->hostname,
		.session_id = session_sid_str(s, sid),
		.esmtp = (s->flags & SF_EHLO) != 0,
		.tls = (s->flags & SF_TLS) != 0,
		.tls_version = s->tls_version,
		.tls_cipher = s->tls_cipher,
		.nrcpt = s->txn_accepted,
		.rcpt = s->rcpts != NULL ? s->rcpts->addr : NULL,
		.rcpt_len = s->rcpts != NULL ? strlen(s->rcpts->addr) : 0,
		.when = time(NULL),
	};

	return received_format(&ri, buf, cap, len);
}

static const char *
relay_field_name(const char *f, size_t len)
{
	static const char *const names[] = { "from", "sender", "reply-to" };

	for (size_t i = 0; i < 3; i++)
		if (strlen(names[i]) == len && strncasecmp(f, names[i], len) == 0)
			return names[i];
	return "other";
}

static void
relay_note(void *arg, const struct header_rewrite_note *n)
{
	struct relay_txn *rt = arg;
	struct relay_rewrite *w;

	if (n->what != HEADER_REWRITE_CHANGED || rt->nrewrites >= RELAY_REWRITES)
		return;
	w = &rt->rewrites[rt->nrewrites++];
	w->field = relay_field_name(n->field, n->field_len);
	snprintf(w->old, sizeof(w->old), "%.*s", (int)(n->old_len < 1024 ?
	    n->old_len : 1024), n->old_addr);
	snprintf(w->new, sizeof(w->new), "%.*s", (int)(n->new_len < 1024 ?
	    n->new_len : 1024), n->new_addr);
}

/* Read [0, len) of the stored message into a new buffer. */
static char *
relay_read_head(struct relay_txn *rt, size_t len)
{
	char *buf = malloc(len ? len : 1);
	size_t got = 0;

	while (buf != NULL && got < len) {
		ssize_t n = msgstore_pread(rt->msg, buf + got, len - got, got);

		if (n <= 0) {
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	return buf;
}

/*
 * Read the header section back into rt->head (sender_map and the checks
 * need it whole; it is bounded by HEADER_MAX).  NULL, or the reply.
 */
static const char *
relay_read_header(struct relay_txn *rt)
{
	size_t size = msgstore_size(rt->msg), want, end;

	want = size < HEADER_MAX ? size : HEADER_MAX;
	if ((rt->head = relay_read_head(rt, want)) == NULL)
		return store_error;
	if (!header_rewrite_section_end(rt->head, want, &end) && size > want)
		return header_too_big;
	rt->hdr_end = end;
	return NULL;
}

/* The header section without the forged Authentication-Results fields
 * (offsets ascending, from the checks), into a new buffer. */
static char *
relay_drop_forged(const struct relay_txn *rt, size_t *len)
{
	char *out = malloc(rt->hdr_end ? rt->hdr_end : 1);
	size_t at = 0, n = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < rt->nforged; i++) {
		size_t off = rt->forged[i].off, flen = rt->forged[i].len;

		if (off < at || off + flen > rt->hdr_end)
			continue;
		memcpy(out + n, rt->head + at, off - at);
		n += off - at;
		at = off + flen;
	}
	memcpy(out + n, rt->head + at, rt->hdr_end - at);
	*len = n + rt->hdr_end - at;
	return out;
}

/* The header section as it goes upstream into *out (NULL: as stored). */
static const char *
relay_header_out(struct relay_txn *rt, char **out, size_t *outlen)
{
	char *hdr;
	size_t len;
	int n;

	*out = NULL;
	*outlen = 0;
	if (rt->head == NULL)
		return NULL;
	if ((hdr = relay_drop_forged(rt, &len)) == NULL)
		return store_error;
	if (rt->sender_map == NULL) {
		*out = hdr;
		*outlen = len;
		return NULL;
	}
	n = header_rewrite_apply(hdr, len, rt->sender_map, relay_note, rt,
	    out, outlen);
	free(hdr);
	return n < 0 ? store_error : NULL;
}

/* prefix = Received + Authentication-Results + the header section as it
 * goes out; the body (or, without a header read, all) comes from msg. */
static const char *
relay_compose(struct relay_txn *rt)
{
	char rec[RECEIVED_MAX];
	size_t reclen, arlen = rt->authres ? strlen(rt->authres) : 0;
	char *hdr;
	size_t hdrlen;
	const char *err;

	if (relay_received(rt, rec, sizeof(rec), &reclen) != 0)
		return store_error;
	if ((err = relay_header_out(rt, &hdr, &hdrlen)) != NULL)
		return err;
	rt->body_off = rt->head != NULL ? rt->hdr_end : 0;
	free(rt->prefix);
	if ((rt->prefix = malloc(reclen + arlen + hdrlen + 1)) == NULL) {
		free(hdr);
		return store_error;
	}
	memcpy(rt->prefix, rec, reclen);
	if (arlen > 0)
		memcpy(rt->prefix + reclen, rt->authres, arlen);
	if (hdrlen > 0)
		memcpy(rt->prefix + reclen + arlen, hdr, hdrlen);
	rt->prefixlen = reclen + arlen + hdrlen;
	free(hdr);
	return NULL;
}

/* Compose and hand the message to the upstream. */
static void
relay_send(struct relay_txn *rt, bool async)
{
	const char *reply;

	if ((reply = relay_compose(rt)) != NULL) {
		relay_data_final(rt, NULL, reply, async);
		return;
	}
	rt->pos = 0;
	rt->body.read = relay_body_read;
	rt->body.arg = rt;
	rt->busy = true;
	if (!async)
		session_wait(rt->s);
	upstream_data(rt->up, &rt->body, relay_on_data, rt);
}

static void
relay_on_auth(const struct auth_result *r, void *arg)
{
	struct relay_txn *rt = arg;
	const struct auth_verdicts *v = &r->v;
	size_t len;

	rt->job = NULL;
	if (!r->done && strcmp(r->reason, "too many forged") == 0) {
		/* we could not remove them all: never relay a forgery */
		rt->auth_error = r->reason;
		relay_data_final(rt, NULL, too_many_forged, true);
		return;
	}
	if (!r->done) {
		rt->auth_error = r->reason;
		relay_send(rt, true);
		return;
	}
	snprintf(rt->spf, sizeof(rt->spf), "%s", authres_result_name(v->spf));
	snprintf(rt->dkim, sizeof(rt->dkim), "%s",
	    authres_result_name(v->dkim_summary));
	snprintf(rt->dmarc, sizeof(rt->dmarc), "%s",
	    dmarc_result_name(v->dmarc.result));
	rt->nforged = r->nforged < RELAY_FORGED_MAX ? r->nforged :
	    RELAY_FORGED_MAX;
	for (size_t i = 0; i < rt->nforged; i++) {
		rt->forged[i].off = r->forged[i].off;
		rt->forged[i].len = r->forged[i].len;
	}
	len = strlen(v->authres) + sizeof("Authentication-Results: \r\n");
	if ((rt->authres = malloc(len)) != NULL)
		snprintf(rt->authres, len, "Authentication-Results: %s\r\n",
		    v->authres);
	relay_send(rt, true);
}

/* Run the checks on a worker when they are on; else relay at once. */
static void
relay_check_and_send(struct relay_txn *rt)
{
	struct session *s = rt->s;
	const char *reply;

	if (s->policy->auth.enabled || rt->sender_map != NULL) {
		if ((reply = relay_read_header(rt)) != NULL) {
			relay_data_final(rt, NULL, reply, false);
			return;
		}
	}
	if (s->policy->auth.enabled && s->srv->auth != NULL) {
		rt->job = auth_pool_submit(s->srv->auth, rt->msg, rt->hdr_end,
		    s->ip, s->helo, s->mail_from, relay_on_auth, rt);
		if (rt->job != NULL) {
			session_wait(s);
			return;
		}
		rt->auth_error = "error";
	}
	relay_send(rt, false);
}

void
relay_data_done(struct session *s, const struct data_reader_result *r)
{
	struct relay_txn *rt = s->relay;

	rt->result = *r;
	if (r->too_big) {
		session_log_limit(s, "message_size", too_big_reply);
		relay_data_final(rt, NULL, too_big_reply, false);
		return;
	}
	if (r->bare_cr > 0 || r->bare_lf > 0 || r->nul_bytes > 0) {
		relay_data_final(rt, NULL, bare_eol, false);
		return;
	}
	if (rt->store_failed) {
		relay_data_final(rt, NULL, store_error, false);
		return;
	}
	relay_check_and_send(rt);
}

void
relay_txn_end(struct session *s)
{
	struct relay_txn *rt = s->relay;

	if (rt == NULL)
		return;
	s->relay = NULL;
	if (rt->req != NULL)
		upstream_acquire_cancel(rt->req);
	if (rt->job != NULL)
		auth_job_cancel(rt->job);
	if (rt->up != NULL) {
		if (rt->busy)
			upstream_abort(rt->up);
		else
			upstream_release(rt->up);
	}
	msgstore_free(rt->msg);
	free(rt->head);
	free(rt->authres);
	free(rt->prefix);
	free(rt->fail);
	free(rt);
}
