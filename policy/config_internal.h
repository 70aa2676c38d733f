/*
 * config_internal.h - what the three parts of policy_load() share.
 * PRIVATE to policy/config.c, policy/config_text.c and
 * policy/config_check.c: nothing else may include it.
 *
 *   config.c        the schema, the error line, the snapshot, policy_*()
 *   config_text.c   config_read_file(), config_prepare(),
 *                   config_open_line_of(): the text before libconfuse
 *   config_check.c  the libconfuse callbacks that check values
 *
 * A domain's recipient sections are checked as they are read and moved at
 * once into ld->overrides (config.c removes each from libconfuse), which
 * the domain takes when it is complete: libconfuse looks for an existing
 * title with a linear search, so 100,000 recipients left in it would make
 * a load quadratic.
 *
 * Why one load in a global: libconfuse callbacks carry no user pointer,
 * and its lexer is global state anyway, so the load in progress is
 * `config_cur`, set by config.c around cfg_parse_buf() only.  Hence
 * policy_load() must not run in two threads at once.
 *
 * Errors: every part reports through config_error(), which keeps the first
 * error only and always returns -1, so `return config_error(...)` is the
 * way out of any check.
 */
#ifndef CUTOVER_CONFIG_INTERNAL_H
#define CUTOVER_CONFIG_INTERNAL_H

#include <confuse.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "domain_table.h"
#include "overrides.h"
#include "policy.h"

#define CONF_FILE_MAX  (16u << 20)  /* octets; a config is not a data set */
#define CONF_PATH_MAX  4096         /* octets of a configured file name */
#define CONF_MSG_MAX   400          /* octets of one error message */
#define CONF_SHOW_MAX  80           /* octets of a value quoted in an error */
#define CONF_TOKEN_MAX 65536        /* octets of one word or quoted string */

/* Lines of a top-level { } pair (a section or a list). */
struct span {
	unsigned open;
	unsigned close;
};

struct load {
	const char *path;
	char *err;
	size_t errlen;
	bool failed;
	cfg_t *root;
	struct policy *p;
	cfg_t *title_sec;                 /* domain section already named */
	char title_key[DOMAIN_KEY_SIZE];  /* its key */
	unsigned title_line;              /* its opening brace */
	unsigned default_reply_line;
	unsigned tls_cert_line;
	unsigned tls_key_line;
	unsigned last_line;               /* of the file; libconfuse says EOF+1 */
	/* the domain being read (reset when its title is checked) */
	struct policy_overrides *overrides; /* its recipient sections */
	unsigned rcpt_live_line;          /* first live recipient; 0 = none */
	unsigned rcpt_map_line;           /* its recipient_map / sender_map */
	unsigned sender_map_line;
	/* the recipient section being read (see config_rcpt_title()) */
	cfg_t *rcpt_sec;                  /* already named; NULL = none */
	unsigned rcpt_line;               /* its opening brace */
	size_t rcpt_local_len;
	char rcpt_local[OVERRIDES_LOCAL_MAX + 1]; /* its local part, as parsed */
	struct span *spans;               /* top-level { }, in file order */
	size_t nspans;
	size_t spans_cap;
};

/* The load being parsed (NULL outside cfg_parse_buf()); see above. */
extern struct load *config_cur;

/* ---- config.c: errors ----------------------------------------------- */

/* Record "PATH:LINE: msg" (line 0: "PATH: msg") unless an error is
 * already recorded; config_error() returns -1. */
int config_error(struct load *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void config_verror(struct load *ld, unsigned line, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

/* Record `msg` as the whole error line (a map file's own "MAP:LINE: what"),
 * control bytes as '?', unless an error is already recorded; returns -1. */
int config_error_as_is(struct load *ld, const char *msg);

/* Copy at most CONF_SHOW_MAX octets of s, control bytes as '?'. */
const char *config_show(const char *s, char *buf, size_t buflen);

static inline unsigned
config_line_of(const cfg_t *cfg)
{
	return cfg != NULL && cfg->line > 0 ? (unsigned)cfg->line : 0;
}

/* ---- config_text.c: the text before libconfuse ------------------------ */

/* The file, NUL-terminated, at most CONF_FILE_MAX octets; NULL + error. */
char *config_read_file(struct load *ld, size_t *lenp);

/* Remove comments, squeeze blanks, cap tokens, count braces and refuse
 * what libconfuse mishandles, in place; 0, or -1 with the error set. */
int config_prepare(struct load *ld, char *buf, size_t *lenp);

/* The "{" line of the top-level pair closed at `close` (or `close`). */
unsigned config_open_line_of(const struct load *ld, unsigned close);

/* ---- config_check.c: value checks, as libconfuse callbacks ------------ */

int config_on_listen(cfg_t *cfg, cfg_opt_t *opt);
int config_on_hostname(cfg_t *cfg, cfg_opt_t *opt);
int config_on_attempt_log(cfg_t *cfg, cfg_opt_t *opt);
int config_on_user(cfg_t *cfg, cfg_opt_t *opt);
int config_on_default_reply(cfg_t *cfg, cfg_opt_t *opt);
int config_on_tls_file(cfg_t *cfg, cfg_opt_t *opt);
int config_parse_limit(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result);
int config_on_state(cfg_t *cfg, cfg_opt_t *opt);
int config_on_defer_at(cfg_t *cfg, cfg_opt_t *opt);
int config_on_defer_reply(cfg_t *cfg, cfg_opt_t *opt);
int config_on_relay(cfg_t *cfg, cfg_opt_t *opt);
int config_on_relay_tls(cfg_t *cfg, cfg_opt_t *opt);
int config_on_map(cfg_t *cfg, cfg_opt_t *opt);
int config_on_rcpt_state(cfg_t *cfg, cfg_opt_t *opt);
int config_on_resolver(cfg_t *cfg, cfg_opt_t *opt);
int config_on_ca_file(cfg_t *cfg, cfg_opt_t *opt);
int config_on_spill_dir(cfg_t *cfg, cfg_opt_t *opt);
int config_parse_bool(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result);
int config_on_authserv_id(cfg_t *cfg, cfg_opt_t *opt);

/* The state names a domain or recipient may have (limbo, live). */
int config_state_of(const char *name, enum domain_state *out);
enum relay_tls config_relay_tls_of(const char *name);

/* Name check of the domain section `sec`, once, at the given line; sets
 * ld->title_sec/title_key/title_line.  0, or -1 with the error set. */
int config_domain_title(struct load *ld, cfg_t *sec, unsigned line);

/* The domain section being read: the last one of the root. */
cfg_t *config_cur_domain(struct load *ld);

/* Name check of the recipient section `rsec` of the domain `dsec`, once,
 * at the given line: an address of that domain (any case, either IDN
 * form), no routing characters, not yet listed.  Sets ld->rcpt_sec,
 * rcpt_line, rcpt_local.  0, or -1 with the error set. */
int config_rcpt_title(struct load *ld, cfg_t *dsec, cfg_t *rsec,
    unsigned line);

#endif
