/*
 * dkim_eom.c - end of message for the DKIM verifier: finish libopendkim,
 * evaluate every signature and put the verdicts in header order.
 *
 * Public functions: dkimv_eom(), dkimv_summary(), dkimv_result_name(),
 * dkimv_alg_name().
 *
 * Slots: each DKIM-Signature field seen is a slot, in header order (at
 * most DKIMV_MAX_SIGS).  A slot whose field failed dkim_sig_syntax() is
 * permerror as read at header time; the others are matched to
 * libopendkim's signatures by d=, s= and b= (first unused slot), so a
 * field the library dropped without our syntax check noticing still shows,
 * as permerror "signature not parsed", instead of vanishing into "none".
 * When the message is broken (a libopendkim error, calls out of order),
 * every slot is permerror with the reason recorded.
 */
#include <string.h>
#include <strings.h>

#include "dkim_internal.h"

/* reason and broken_reason have the same size: nothing is cut. */
static void
set_reason(struct dkim_sig_outcome *o, const char *text)
{
	size_t n = strnlen(text, sizeof(o->reason) - 1);

	memcpy(o->reason, text, n);
	o->reason[n] = '\0';
}

static void
process_all(struct dkim_verifier *v, DKIM_SIGINFO **sigs, int nsigs)
{
	for (int i = 0; i < nsigs; i++) {
		unsigned int fl = dkim_sig_getflags(sigs[i]);

		if ((fl & (DKIM_SIGFLAG_PROCESSED | DKIM_SIGFLAG_IGNORE)) == 0 &&
		    dkim_sig_geterror(sigs[i]) == DKIM_SIGERROR_UNKNOWN)
			(void)dkim_sig_process(v->dkim, sigs[i]);
	}
}

static bool
same_sig(const struct dkim_sig_outcome *a, const struct dkim_sig_outcome *b)
{
	return strcasecmp(a->d, b->d) == 0 && strcmp(a->s, b->s) == 0 &&
	    strcmp(a->b, b->b) == 0;
}

/* The slot for a library signature: same d/s/b, else the first free. */
static size_t
slot_for(const struct dkim_verifier *v, const bool *used,
    const struct dkim_sig_outcome *o, size_t nslots)
{
	size_t first = nslots;

	for (size_t i = 0; i < nslots; i++) {
		if (used[i] || v->malformed[i])
			continue;
		if (same_sig(&v->pre[i], o))
			return i;
		if (first == nslots)
			first = i;
	}
	return first;
}

static void
from_library(struct dkim_verifier *v, struct dkim_outcome *out,
    size_t nslots)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	bool used[DKIMV_MAX_SIGS] = { false };

	if (dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	process_all(v, sigs, nsigs);
	for (int i = 0; i < nsigs && i < DKIMV_MAX_SIGS; i++) {
		struct dkim_sig_outcome o;
		size_t s;

		dkim_sigmap_from_lib(v->dkim, sigs[i],
		    dkim_keylookup_seen(v, sigs[i]), &o);
		s = slot_for(v, used, &o, nslots);
		if (s == nslots)
			continue;
		used[s] = true;
		/* a= as written: the library leaves its default (rsa-sha1) in
		 * a signature it rejected before reading a= */
		o.alg = v->pre[s].alg;
		out->sig[s] = o;
	}
	for (size_t i = 0; i < nslots; i++) {
		if (!used[i] && !v->malformed[i]) {
			out->sig[i] = v->pre[i];
			set_reason(&out->sig[i], "signature not parsed");
		}
	}
}

static void
all_broken(struct dkim_verifier *v, struct dkim_outcome *out, size_t nslots)
{
	for (size_t i = 0; i < nslots; i++) {
		out->sig[i] = v->pre[i];
		out->sig[i].result = AUTHRES_PERMERROR;
		if (v->malformed[i])
			continue;      /* keeps its "malformed" reason */
		set_reason(&out->sig[i], v->broken_reason[0] != '\0' ?
		    v->broken_reason : "message not verifiable");
	}
}

void
dkimv_eom(struct dkim_verifier *v, struct dkim_outcome *out)
{
	size_t nslots;
	DKIM_STAT st;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->nfound = v->nfound;
	nslots = v->nfound < DKIMV_MAX_SIGS ? v->nfound : DKIMV_MAX_SIGS;
	out->n = nslots;
	for (size_t i = 0; i < nslots; i++)
		if (v->malformed[i])
			out->sig[i] = v->pre[i];
	if (v->state != DKIMV_ST_BODY)
		dkim_verifier_break(v, "end of message before end of header",
		    DKIM_STAT_INVALID);
	v->state = DKIMV_ST_DONE;
	if (nslots == 0)
		return;
	if (!v->broken && !v->nosig) {
		st = dkim_eom(v->dkim, NULL);
		if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL ||
		    st == DKIM_STAT_INVALID)
			dkim_verifier_break(v, "end of message", st);
	}
	if (v->broken)
		all_broken(v, out, nslots);
	else
		from_library(v, out, nslots);
}

enum authres_result
dkimv_summary(const struct dkim_outcome *out)
{
	static const enum authres_result order[] = {
		AUTHRES_PASS, AUTHRES_TEMPERROR, AUTHRES_FAIL, AUTHRES_POLICY,
		AUTHRES_NEUTRAL, AUTHRES_PERMERROR,
	};

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (size_t i = 0; i < out->n; i++)
			if (out->sig[i].result == order[k])
				return order[k];
	return out->nfound > 0 ? AUTHRES_PERMERROR : AUTHRES_NONE;
}

const char *
dkimv_result_name(enum authres_result r)
{
	return authres_result_name(r);
}

const char *
dkimv_alg_name(enum dkimv_alg a)
{
	switch (a) {
	case DKIMV_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIMV_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	case DKIMV_ALG_RSA_SHA1:
		return "rsa-sha1";
	default:
		return "unknown";
	}
}
