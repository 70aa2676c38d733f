/*
 * dkim_internal.h - what the DKIM verifier's files share (dkim_verify.c,
 * dkim_eom.c, dkim_keylookup.c); not for other modules, which use
 * dkim_verify.h.
 *
 * struct dkim_verifier holds one message's state: the libopendkim handle,
 * the DKIM-Signature fields seen (in header order, with what could be read
 * from each before libopendkim had a say) and what DNS said for each key
 * lookup.  Nothing in it is shared between threads.
 */
#ifndef CUTOVER_DKIM_INTERNAL_H
#define CUTOVER_DKIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <opendkim/dkim.h>

#include "dkim_sigmap.h"
#include "dkim_verify.h"

struct dkimv_lib {
	DKIM_LIB *dl;
	struct auth_dns *dns;      /* not owned; NULL: every lookup fails */
};

enum dkimv_state {
	DKIMV_ST_HEADER = 0,
	DKIMV_ST_BODY,
	DKIMV_ST_DONE,
};

struct dkim_keyrec {
	const DKIM_SIGINFO *sig;
	enum dkim_keylook look;
};

struct dkim_verifier {
	struct dkimv_lib *lib;
	DKIM *dkim;
	enum dkimv_state state;
	bool broken;               /* libopendkim refused the message */
	bool nosig;                /* libopendkim found no usable signature */
	char broken_reason[DKIMV_REASON_MAX];
	size_t nfound;             /* DKIM-Signature fields seen */
	bool malformed[DKIMV_MAX_SIGS];
	struct dkim_sig_outcome pre[DKIMV_MAX_SIGS];  /* read by us from each */
	size_t nlook;
	struct dkim_keyrec look[DKIMV_MAX_SIGS];
};

void dkim_verifier_break(struct dkim_verifier *v, const char *what,
    DKIM_STAT st);

DKIM_CBSTAT dkim_keylookup_cb(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf,
    size_t buflen);
DKIM_CBSTAT dkim_keylookup_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs,
    int nsigs);
enum dkim_keylook dkim_keylookup_seen(const struct dkim_verifier *v,
    const DKIM_SIGINFO *sig);

#endif
