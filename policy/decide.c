/*
 * decide.c - the RCPT decision: policy_decide(), decision_name().
 *
 * Order of the checks (README "What a RCPT gets"), first match wins:
 *   1. null path, no domain, or an address literal -> DENY relaying denied
 *   2. domain not configured                       -> DENY relaying denied
 *   3. %, ! or a quoted @ in the local part         -> DENY routing denied
 *      (RFC 5321 3.6.1: a relay may refuse sender-specified routing; we
 *      must, or "user%other.example@example.com" could be relayed on)
 *   4. the effective state: the recipient's override (`recipient "a@x"
 *      { state = ... }`, local part matched case-insensitively per ASCII)
 *      when there is one, else the domain's state;
 *   5. limbo, defer_at rcpt -> DEFER with the domain's defer reply
 *      limbo, defer_at data -> DEFER_DATA, "250 2.1.5" now, and the
 *      domain's defer reply in `later` for the session to send after the
 *      data (`later` is "" for every other decision)
 *      live -> LIVE, reply "": the session forwards `rcpt` (the recipient
 *      after the domain's recipient_map, `rewritten` set when it changed)
 *      to the domain's relay and the client gets the upstream's verdict;
 *      a rewrite that would break RFC 5321 limits -> DEFER with
 *      "451 4.3.0 recipient rewriting failed" (a map mistake is the
 *      admin's to fix: the sender retries instead of losing the mail)
 *      hold (not loadable yet) -> HOLD with the 4xx defer reply, so
 *      nothing is accepted.
 * Unknown domains are checked before routing characters so that a
 * stranger's address always gets the same answer: we are not a relay.
 * `state` is the effective state (LIMBO when the domain is unknown),
 * `overridden` says an override decided it, and `rcpt` is always set: the
 * recipient as parsed, or as rewritten for LIVE.
 *
 * Pure: no I/O, no allocation (policy_domain_find() and the map lookup
 * allocate only for a non-ASCII domain).  The domain's defer_reply was
 * checked and its %d expanded by policy_load(), so it is copied as it is.
 *
 * The address shown in a reply is the parsed one (already validated), cut
 * to REPLY_ADDR_MAX octets with "..." and with anything outside printable
 * ASCII shown as '?', so a reply stays one line of ASCII within 512 octets.
 */
#include <stdio.h>
#include <string.h>

#include "overrides.h"
#include "policy.h"
#include "rewrite.h"

#define REPLY_ADDR_MAX 256

static void
reply_addr(const struct address *a, char *buf, size_t buflen)
{
	char full[ADDRESS_LOCAL_MAX * 4 + 3 + 1 + ADDRESS_DOMAIN_MAX + 1];
	size_t i, n;

	if (address_format(a, full, sizeof full) < 0)
		full[0] = '\0';
	n = strnlen(full, sizeof full);
	if (n > REPLY_ADDR_MAX && REPLY_ADDR_MAX < buflen) {
		memcpy(full + REPLY_ADDR_MAX - 3, "...", 4);
		n = REPLY_ADDR_MAX;
	}
	if (n >= buflen)
		n = buflen - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)full[i];

		buf[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	buf[n] = '\0';
}

/* Copy a reply line into one of the 512-octet decision buffers. */
static void
copy_line(char *dst, size_t dstlen, const char *reply)
{
	size_t n = strnlen(reply, dstlen - 1);

	memcpy(dst, reply, n);
	dst[n] = '\0';
}

static void
copy_reply(struct policy_decision *out, const char *reply)
{
	copy_line(out->reply, sizeof out->reply, reply);
}

static void
set_reply(struct policy_decision *out, const char *code,
    const struct address *a, const char *text)
{
	char addr[REPLY_ADDR_MAX + 1];
	int n;

	/* The address is capped, the codes and texts are ours: it fits. */
	_Static_assert(REPLY_ADDR_MAX + 64 < sizeof out->reply, "reply size");
	reply_addr(a, addr, sizeof addr);
	n = snprintf(out->reply, sizeof out->reply, "%s <%s>: %s", code, addr,
	    text);
	if (n < 0 || (size_t)n >= sizeof out->reply)
		copy_reply(out, code);
}

static void
deny(struct policy_decision *out, const struct address *a, const char *why)
{
	out->decision = DECISION_DENY;
	set_reply(out, "550 5.7.1", a, why);
}

/* live: the recipient as it goes upstream. */
static void
decide_live(const struct policy_domain *d, const struct address *rcpt,
    struct policy_decision *out)
{
	enum rewrite_result r = rewrite_recipient(d->recipient_map, rcpt,
	    &out->rcpt);

	if (r == REWRITE_ERROR) {
		out->decision = DECISION_DEFER;
		copy_reply(out, "451 4.3.0 recipient rewriting failed");
		return;
	}
	out->decision = DECISION_LIVE;
	out->rewritten = r == REWRITE_CHANGED;
	out->reply[0] = '\0';
}

/* The decision for a configured domain that takes no routing chars. */
static void
decide_state(const struct policy_domain *d, const struct address *rcpt,
    struct policy_decision *out)
{
	const struct policy_override *ov = overrides_find(d->overrides,
	    rcpt->local, rcpt->local_len);

	out->state = ov != NULL ? ov->state : d->state;
	out->overridden = ov != NULL;
	switch (out->state) {
	case DOMAIN_LIVE:
		decide_live(d, rcpt, out);
		return;
	case DOMAIN_HOLD:
		out->decision = DECISION_HOLD;
		copy_reply(out, d->defer_reply);
		return;
	case DOMAIN_LIMBO:
		break;
	}
	if (d->defer_at == DEFER_AT_DATA) {
		out->decision = DECISION_DEFER_DATA;
		set_reply(out, "250 2.1.5", rcpt, "recipient ok");
		copy_line(out->later, sizeof out->later, d->defer_reply);
		return;
	}
	out->decision = DECISION_DEFER;
	copy_reply(out, d->defer_reply);
}

void
policy_decide(const struct policy *p, const struct address *rcpt,
    struct policy_decision *out)
{
	const struct policy_domain *d = NULL;

	out->later[0] = '\0';
	out->state = DOMAIN_LIMBO;
	out->overridden = false;
	out->rewritten = false;
	out->rcpt = *rcpt;
	if (!(rcpt->flags & (ADDRESS_NULL | ADDRESS_NO_DOMAIN | ADDRESS_IP_LITERAL)))
		d = policy_domain_find(p, rcpt->domain, rcpt->domain_len);
	out->domain = d;
	if (d != NULL)
		out->state = d->state;
	if (d == NULL)
		deny(out, rcpt, "relaying denied");
	else if (rcpt->flags & ADDRESS_ROUTING_CHARS)
		deny(out, rcpt, "sender-specified routing denied");
	else
		decide_state(d, rcpt, out);
}

const char *
decision_name(enum decision d)
{
	switch (d) {
	case DECISION_DEFER:
		return "defer";
	case DECISION_DEFER_DATA:
		return "defer_data";
	case DECISION_DENY:
		return "deny";
	case DECISION_LIVE:
		return "live";
	case DECISION_HOLD:
		return "hold";
	}
	return "unknown";
}
