/*
 * config.c - policy_load(): read, check and snapshot the configuration.
 *
 * Public functions: policy_load(), policy_ref(), policy_unref(),
 * policy_domain_find(), policy_domain_count(), domain_state_name().
 * Private to policy/config*.c (config_internal.h): config_error(),
 * config_verror(), config_show(), config_cur.
 *
 * This file holds the libconfuse schema (conf_init()), the error line and
 * the building of the struct policy; the text is prepared for libconfuse
 * in config_text.c, and single values are checked in config_check.c.
 * When a domain section is complete it is checked as a whole here: a live
 * domain, or one with a live recipient, needs a relay; its address maps
 * are loaded (addrmap_load()), and a bad map line is reported as the
 * map's own "MAPFILE:LINE: what", so the reload is refused and the admin
 * is sent to the right file.  Recipient sections become the domain's
 * overrides as each is complete (config_internal.h).  The relay fields
 * and maps are freed here (domain_free_relay()): domain_table.c knows
 * only the limbo fields.  The auth { } section's authserv_id and resolver
 * default to hostname and relay { resolver }, so one setting serves both
 * when they are the same (build_auth()).
 *
 * Format: README.md "Configuration" (libconfuse syntax).  Every problem is
 * reported as exactly one line "FILE:LINE: what is wrong", or "FILE: what
 * is wrong" when no line applies (missing file, nothing configured), and
 * nothing is printed: libconfuse's own messages are captured through
 * cfg_set_error_function(), semantic checks run in validate and parse
 * callbacks while the lexer still knows the line.  The first error wins.
 *
 * libconfuse callbacks carry no user pointer, and its lexer is global
 * state anyway: the load in progress is the file-scope `config_cur`, so
 * policy_load() must not run in two threads at once (cutoverd loads from
 * its main thread only).  The snapshot it returns is read-only and may be
 * shared by any number of threads; the reference count is atomic.
 */
#include <confuse.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrmap.h"
#include "config_internal.h"
#include "domain_table.h"
#include "overrides.h"
#include "policy.h"
#include "reply_check.h"

struct load *config_cur;

/* ---- errors -------------------------------------------------------- */

/* Copy at most CONF_SHOW_MAX octets of s, control bytes as '?'. */
const char *
config_show(const char *s, char *buf, size_t buflen)
{
	size_t i, n = strnlen(s, CONF_SHOW_MAX);

	if (n >= buflen)
		n = buflen - 1;
	for (i = 0; i < n; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[n] = '\0';
	return buf;
}

void
config_verror(struct load *ld, unsigned line, const char *fmt, va_list ap)
{
	char msg[CONF_MSG_MAX];
	size_t i;
	int n;

	if (ld->failed)
		return;
	ld->failed = true;
	/* A message cut at CONF_MSG_MAX still says what is wrong first. */
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	for (i = 0; msg[i] != '\0'; i++) /* one line, whatever was quoted */
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	if (ld->last_line > 0 && line > ld->last_line)
		line = ld->last_line;
	if (line > 0)
		n = snprintf(ld->err, ld->errlen, "%s:%u: %s", ld->path, line, msg);
	else
		n = snprintf(ld->err, ld->errlen, "%s: %s", ld->path, msg);
	if (n < 0 && ld->errlen > 0)
		ld->err[0] = '\0';
	/* n >= errlen: cut by snprintf and terminated, still the first line. */
}

int
config_error(struct load *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_verror(ld, line, fmt, ap);
	va_end(ap);
	return -1;
}

int
config_error_as_is(struct load *ld, const char *msg)
{
	size_t i;
	int n;

	if (ld->failed)
		return -1;
	ld->failed = true;
	n = snprintf(ld->err, ld->errlen, "%s", msg);
	if (n < 0 && ld->errlen > 0)
		ld->err[0] = '\0';
	for (i = 0; i < ld->errlen && ld->err[i] != '\0'; i++)
		if ((unsigned char)ld->err[i] < 0x20 || ld->err[i] == 0x7f)
			ld->err[i] = '?';
	return -1;
}

static void
dup_title_error(struct load *ld, cfg_t *cfg, const char *title)
{
	const struct policy_domain *d = NULL;
	char key[DOMAIN_KEY_SIZE], buf[CONF_SHOW_MAX + 1];
	const char *why;
	int n;

	n = domain_key(title, strlen(title), key, &why);
	if (n >= 0)
		d = domain_table_find(ld->p->domains, key, (size_t)n);
	config_error(ld, config_line_of(cfg), "domain \"%s\" is configured "
	    "twice (first at line %u)", config_show(title, buf, sizeof buf),
	    d ? d->config_line : 0);
}

static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libconfuse's messages, with the line of the section being read. */
static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	if (config_cur == NULL || config_cur->failed)
		return;
	if (strcmp(fmt, "found duplicate title '%s'") == 0) {
		dup_title_error(config_cur, cfg, va_arg(ap, const char *));
		return;
	}
	config_verror(config_cur, config_line_of(cfg), fmt, ap);
}

/* ---- domains ---------------------------------------------------------- */

/* What domain_free() (domain_table.c) does not know about: relaying. */
static void
domain_free_relay(struct policy_domain *d)
{
	free(d->relay);
	free(d->recipient_map_path);
	free(d->sender_map_path);
	addrmap_free(d->recipient_map);
	addrmap_free(d->sender_map);
	overrides_free(d->overrides);
	d->relay = d->recipient_map_path = d->sender_map_path = NULL;
	d->recipient_map = d->sender_map = NULL;
	d->overrides = NULL;
}

static void
domain_release(struct policy_domain *d)
{
	if (d == NULL)
		return;
	domain_free_relay(d);
	domain_free(d);
}

static int
dup_opt(cfg_t *sec, const char *name, char **dst)
{
	const char *v = cfg_getstr(sec, name);

	*dst = v != NULL ? strdup(v) : NULL;
	return v != NULL && *dst == NULL ? -1 : 0;
}

static struct policy_domain *
domain_build(struct load *ld, cfg_t *sec)
{
	struct policy_domain *d = calloc(1, sizeof *d);
	const char *at = cfg_getstr(sec, "defer_at");
	const char *st = cfg_getstr(sec, "state");
	const char *why;

	if (d == NULL)
		return NULL;
	if (st == NULL || config_state_of(st, &d->state) < 0)
		d->state = DOMAIN_LIMBO; /* config_on_state() let nothing else by */
	d->defer_at = (at != NULL && strcmp(at, "data") == 0) ?
	    DEFER_AT_DATA : DEFER_AT_RCPT;
	d->relay_tls = config_relay_tls_of(cfg_getstr(sec, "relay_tls"));
	d->config_line = ld->title_line;
	d->name = strdup(ld->title_key);
	d->name_utf8 = domain_utf8(ld->title_key, &why);
	d->overrides = ld->overrides;
	ld->overrides = NULL;
	if (d->name == NULL || d->name_utf8 == NULL ||
	    dup_opt(sec, "defer_reply", &d->defer_reply) < 0 ||
	    dup_opt(sec, "relay", &d->relay) < 0 ||
	    dup_opt(sec, "recipient_map", &d->recipient_map_path) < 0 ||
	    dup_opt(sec, "sender_map", &d->sender_map_path) < 0) {
		domain_release(d);
		return NULL;
	}
	return d;
}

/* Load one map; its own errors ("MAP:LINE: what") are the load's error,
 * except those without a line (cannot open), which name our line. */
static int
load_map(struct load *ld, const struct policy_domain *d, const char *path,
    unsigned line, struct addrmap **out)
{
	char err[CONF_MSG_MAX], buf[CONF_SHOW_MAX + 1];
	size_t plen = strlen(path);

	if (addrmap_load(path, out, err, sizeof err) == 0)
		return 0;
	if (strncmp(err, path, plen) == 0 && err[plen] == ':' &&
	    err[plen + 1] >= '0' && err[plen + 1] <= '9')
		return config_error_as_is(ld, err);
	return config_error(ld, line, "domain \"%s\": %s", config_show(
	    d->name_utf8, buf, sizeof buf), err);
}

/* Whole-domain checks: relaying needs a relay; the maps load. */
static int
domain_check(struct load *ld, struct policy_domain *d)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *t = config_show(cfg_title(ld->title_sec), buf, sizeof buf);

	if (d->relay == NULL && d->state == DOMAIN_LIVE)
		return config_error(ld, d->config_line, "domain \"%s\": state live "
		    "needs a relay (relay = \"[host]:port\", \"host\" or "
		    "\"host:port\")", t);
	if (d->relay == NULL && ld->rcpt_live_line > 0)
		return config_error(ld, ld->rcpt_live_line, "domain \"%s\": a live "
		    "recipient needs the domain's relay (relay = \"[host]:port\", "
		    "\"host\" or \"host:port\")", t);
	if (d->recipient_map_path != NULL && load_map(ld, d,
	    d->recipient_map_path, ld->rcpt_map_line, &d->recipient_map) < 0)
		return -1;
	if (d->sender_map_path != NULL && load_map(ld, d,
	    d->sender_map_path, ld->sender_map_line, &d->sender_map) < 0)
		return -1;
	return 0;
}

/* A domain section is complete: name it (if empty) and add it. */
static int
on_domain(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	struct load *ld = config_cur;
	unsigned line = config_line_of(cfg);
	struct policy_domain *d;

	if (sec == NULL ||
	    config_domain_title(ld, sec, config_open_line_of(ld, line)) < 0)
		return -1;
	d = domain_build(ld, sec);
	if (d == NULL)
		return config_error(ld, line, "out of memory");
	if (domain_check(ld, d) < 0) {
		domain_release(d);
		return -1;
	}
	if (domain_table_insert(ld->p->domains, d) < 0) {
		domain_release(d);
		return config_error(ld, line, "out of memory");
	}
	return 0;
}

/*
 * A recipient section is complete (cfg is its domain): name it (if
 * empty), add it to the domain's overrides, and take it out of libconfuse
 * (config_internal.h says why).
 */
static int
on_recipient(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt), line = config_line_of(cfg);
	cfg_t *rsec = n > 0 ? cfg_opt_getnsec(opt, n - 1) : NULL;
	struct load *ld = config_cur;
	char dt[CONF_SHOW_MAX + 1], rt[CONF_SHOW_MAX + 1];
	const char *st;
	enum domain_state state;

	if (rsec == NULL || strcmp(cfg_name(cfg), "domain") != 0 ||
	    config_domain_title(ld, cfg, config_line_of(ld->root)) < 0 ||
	    config_rcpt_title(ld, cfg, rsec, line) < 0)
		return -1;
	config_show(cfg_title(cfg), dt, sizeof dt);
	config_show(cfg_title(rsec), rt, sizeof rt);
	st = cfg_getstr(rsec, "state");
	if (st == NULL || config_state_of(st, &state) < 0)
		return config_error(ld, ld->rcpt_line, "domain \"%s\": recipient "
		    "\"%s\" has no state (limbo or live)", dt, rt);
	if ((ld->overrides == NULL && (ld->overrides = overrides_new()) == NULL) ||
	    overrides_add(ld->overrides, ld->rcpt_local, ld->rcpt_local_len,
	    state, ld->rcpt_line, NULL) < 0)
		return config_error(ld, ld->rcpt_line, "domain \"%s\": recipient "
		    "\"%s\": %s", dt, rt, strerror(errno));
	if (state == DOMAIN_LIVE && ld->rcpt_live_line == 0)
		ld->rcpt_live_line = ld->rcpt_line;
	ld->rcpt_sec = NULL;  /* freed next: its address may come back */
	return cfg_opt_rmnsec(opt, n - 1) == 0 ? 0 :
	    config_error(ld, line, "out of memory");
}

/* ---- after the parse: build the snapshot ----------------------------- */

static int
copy_str(struct load *ld, char **dst, const char *src)
{
	if (src == NULL)
		return 0;
	if ((*dst = strdup(src)) == NULL)
		return config_error(ld, 0, "out of memory");
	return 0;
}

static char *
default_hostname(void)
{
	char buf[256];
	const char *why;

	if (gethostname(buf, sizeof buf) == 0) {
		buf[sizeof buf - 1] = '\0';
		if (strchr(buf, '.') != NULL &&
		    domain_ldh_check(buf, strlen(buf), &why) == 0)
			return strdup(buf);
	}
	return strdup(DEFAULT_HOSTNAME_FALLBACK);
}

static int
build_listen(struct load *ld, cfg_t *root)
{
	unsigned i, n = cfg_size(root, "listen");

	if (n == 0)
		return config_error(ld, 0, "listen is not set (for example "
		    "listen = { \"0.0.0.0:25\", \"[::]:25\" })");
	ld->p->listen = calloc(n, sizeof *ld->p->listen);
	if (ld->p->listen == NULL)
		return config_error(ld, 0, "out of memory");
	for (i = 0; i < n; i++) {
		if (copy_str(ld, &ld->p->listen[i], cfg_getnstr(root, "listen", i)) < 0)
			return -1;
		ld->p->nlisten = i + 1;
	}
	return 0;
}

static int
build_tls(struct load *ld, cfg_t *tls)
{
	const char *cert = cfg_getstr(tls, "cert"), *key = cfg_getstr(tls, "key");

	if (cert != NULL && key == NULL)
		return config_error(ld, ld->tls_cert_line, "tls cert is set but tls "
		    "key is not");
	if (key != NULL && cert == NULL)
		return config_error(ld, ld->tls_key_line, "tls key is set but tls "
		    "cert is not");
	if (copy_str(ld, &ld->p->tls_cert, cert) < 0 ||
	    copy_str(ld, &ld->p->tls_key, key) < 0)
		return -1;
	return 0;
}

static void
build_limits(struct policy_limits *l, cfg_t *sec)
{
	l->max_connections = (size_t)cfg_getint(sec, "max_connections");
	l->per_ip = (size_t)cfg_getint(sec, "per_ip");
	l->max_recipients = (size_t)cfg_getint(sec, "max_recipients");
	l->max_message_size = (size_t)cfg_getint(sec, "max_message_size");
	l->max_line_length = (size_t)cfg_getint(sec, "max_line_length");
	l->max_errors = (size_t)cfg_getint(sec, "max_errors");
	l->command_timeout = (unsigned)cfg_getint(sec, "command_timeout");
	l->data_timeout = (unsigned)cfg_getint(sec, "data_timeout");
	l->backlog = (int)cfg_getint(sec, "backlog");
}

static int
build_relay(struct load *ld, cfg_t *sec)
{
	struct policy_relay *r = &ld->p->relay;
	const char *dir = cfg_getstr(sec, "spill_dir");

	r->spill_threshold = (size_t)cfg_getint(sec, "spill_threshold");
	r->connect_timeout = (unsigned)cfg_getint(sec, "connect_timeout");
	r->reply_timeout = (unsigned)cfg_getint(sec, "reply_timeout");
	r->data_timeout = (unsigned)cfg_getint(sec, "data_timeout");
	r->idle_time = (unsigned)cfg_getint(sec, "idle_time");
	r->per_hop_connections = (size_t)cfg_getint(sec, "per_hop_connections");
	if (copy_str(ld, &r->resolver, cfg_getstr(sec, "resolver")) < 0 ||
	    copy_str(ld, &r->ca_file, cfg_getstr(sec, "ca_file")) < 0 ||
	    copy_str(ld, &r->spill_dir, dir ? dir : DEFAULT_RELAY_SPILL_DIR) < 0)
		return -1;
	return 0;
}

/* auth { }: unset authserv_id and resolver follow hostname and relay's. */
static int
build_auth(struct load *ld, cfg_t *sec)
{
	struct policy_auth *a = &ld->p->auth;
	const char *id = cfg_getstr(sec, "authserv_id");
	const char *res = cfg_getstr(sec, "resolver");

	a->enabled = cfg_getbool(sec, "enabled") != cfg_false;
	a->workers = (unsigned)cfg_getint(sec, "workers");
	a->timeout = (unsigned)cfg_getint(sec, "timeout");
	a->dns_timeout = (unsigned)cfg_getint(sec, "dns_timeout");
	if (copy_str(ld, &a->authserv_id, id ? id : ld->p->hostname) < 0 ||
	    copy_str(ld, &a->resolver, res ? res : ld->p->relay.resolver) < 0)
		return -1;
	return 0;
}

/* Replace every domain's reply template by its expansion (%d = key). */
static int
expand_replies(struct load *ld)
{
	char out[REPLY_TEXT_MAX + 1];
	size_t i, n = domain_table_count(ld->p->domains);

	if (n == 0)
		return config_error(ld, 0, "no domain configured");
	for (i = 0; i < n; i++) {
		struct policy_domain *d = domain_table_at(ld->p->domains, i);
		const char *t = d->defer_reply ? d->defer_reply :
		    ld->p->default_defer_reply;

		if (reply_expand(t, strlen(t), d->name, strlen(d->name), out,
		    sizeof out) < 0)
			return config_error(ld, ld->default_reply_line,
			    "default_defer_reply is longer than %d octets once %%d "
			    "is replaced by %s", REPLY_TEXT_MAX, d->name);
		free(d->defer_reply);
		if ((d->defer_reply = strdup(out)) == NULL)
			return config_error(ld, 0, "out of memory");
	}
	return 0;
}

static int
build(struct load *ld, cfg_t *root)
{
	struct policy *p = ld->p;
	const char *host = cfg_getstr(root, "hostname");
	const char *reply = cfg_getstr(root, "default_defer_reply");

	if (build_listen(ld, root) < 0 || build_tls(ld, cfg_getsec(root, "tls")) < 0)
		return -1;
	if (copy_str(ld, &p->hostname, host) < 0 ||
	    copy_str(ld, &p->attempt_log, cfg_getstr(root, "attempt_log")) < 0 ||
	    copy_str(ld, &p->user, cfg_getstr(root, "user")) < 0 ||
	    copy_str(ld, &p->default_defer_reply,
	    reply ? reply : DEFAULT_DEFER_REPLY) < 0)
		return -1;
	if (host == NULL && (p->hostname = default_hostname()) == NULL)
		return config_error(ld, 0, "out of memory");
	build_limits(&p->limits, cfg_getsec(root, "limits"));
	if (build_relay(ld, cfg_getsec(root, "relay")) < 0 ||
	    build_auth(ld, cfg_getsec(root, "auth")) < 0)
		return -1;
	return expand_replies(ld);
}

/* ---- libconfuse option tables ----------------------------------------- */

#define OPT_STR(n, cb) \
	{ .name = (n), .type = CFGT_STR, .flags = CFGF_NODEFAULT, .validcb = (cb) }
#define OPT_LIMIT(n, d) \
	{ .name = (n), .type = CFGT_INT, .def.number = (d), \
	  .parsecb = config_parse_limit }

static cfg_t *
conf_init(void)
{
	cfg_opt_t tls_opts[] = {
		OPT_STR("cert", config_on_tls_file),
		OPT_STR("key", config_on_tls_file),
		CFG_END()
	};
	cfg_opt_t limit_opts[] = {
		OPT_LIMIT("max_connections", DEFAULT_MAX_CONNECTIONS),
		OPT_LIMIT("per_ip", DEFAULT_PER_IP),
		OPT_LIMIT("max_recipients", DEFAULT_MAX_RECIPIENTS),
		OPT_LIMIT("max_message_size", DEFAULT_MAX_MESSAGE_SIZE),
		OPT_LIMIT("max_line_length", DEFAULT_MAX_LINE_LENGTH),
		OPT_LIMIT("max_errors", DEFAULT_MAX_ERRORS),
		OPT_LIMIT("command_timeout", DEFAULT_COMMAND_TIMEOUT),
		OPT_LIMIT("data_timeout", DEFAULT_DATA_TIMEOUT),
		OPT_LIMIT("backlog", DEFAULT_BACKLOG),
		CFG_END()
	};
	cfg_opt_t relay_opts[] = {
		OPT_STR("resolver", config_on_resolver),
		OPT_STR("ca_file", config_on_ca_file),
		OPT_STR("spill_dir", config_on_spill_dir),
		OPT_LIMIT("spill_threshold", DEFAULT_RELAY_SPILL_THRESHOLD),
		OPT_LIMIT("connect_timeout", DEFAULT_RELAY_CONNECT_TIMEOUT),
		OPT_LIMIT("reply_timeout", DEFAULT_RELAY_REPLY_TIMEOUT),
		OPT_LIMIT("data_timeout", DEFAULT_RELAY_DATA_TIMEOUT),
		OPT_LIMIT("idle_time", DEFAULT_RELAY_IDLE_TIME),
		OPT_LIMIT("per_hop_connections", DEFAULT_RELAY_PER_HOP),
		CFG_END()
	};
	cfg_opt_t auth_opts[] = {
		{ .name = "enabled", .type = CFGT_BOOL, .def.boolean = cfg_true,
		  .parsecb = config_parse_bool },
		OPT_STR("authserv_id", config_on_authserv_id),
		OPT_STR("resolver", config_on_resolver),
		OPT_LIMIT("workers", DEFAULT_AUTH_WORKERS),
		OPT_LIMIT("timeout", DEFAULT_AUTH_TIMEOUT),
		OPT_LIMIT("dns_timeout", DEFAULT_AUTH_DNS_TIMEOUT),
		CFG_END()
	};
	cfg_opt_t rcpt_opts[] = {
		OPT_STR("state", config_on_rcpt_state),
		CFG_END()
	};
	cfg_opt_t domain_opts[] = {
		OPT_STR("state", config_on_state),
		OPT_STR("defer_at", config_on_defer_at),
		OPT_STR("defer_reply", config_on_defer_reply),
		OPT_STR("relay", config_on_relay),
		OPT_STR("relay_tls", config_on_relay_tls),
		OPT_STR("recipient_map", config_on_map),
		OPT_STR("sender_map", config_on_map),
		{ .name = "recipient", .type = CFGT_SEC, .subopts = rcpt_opts,
		  .flags = CFGF_MULTI | CFGF_TITLE, .validcb = on_recipient },
		CFG_END()
	};
	cfg_opt_t opts[] = {
		{ .name = "listen", .type = CFGT_STR,
		  .flags = CFGF_LIST | CFGF_NODEFAULT, .validcb = config_on_listen },
		OPT_STR("hostname", config_on_hostname),
		OPT_STR("attempt_log", config_on_attempt_log),
		OPT_STR("user", config_on_user),
		OPT_STR("default_defer_reply", config_on_default_reply),
		{ .name = "tls", .type = CFGT_SEC, .subopts = tls_opts },
		{ .name = "limits", .type = CFGT_SEC, .subopts = limit_opts },
		{ .name = "relay", .type = CFGT_SEC, .subopts = relay_opts },
		{ .name = "auth", .type = CFGT_SEC, .subopts = auth_opts },
		{ .name = "domain", .type = CFGT_SEC, .subopts = domain_opts,
		  .flags = CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES,
		  .validcb = on_domain },
		CFG_END()
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg != NULL)
		cfg_set_error_function(cfg, conf_errfunc);
	return cfg;
}

/* ---- public ----------------------------------------------------------- */

static void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nlisten; i++)
		free(p->listen[i]);
	free(p->listen);
	free(p->path);
	free(p->hostname);
	free(p->attempt_log);
	free(p->user);
	free(p->tls_cert);
	free(p->tls_key);
	free(p->default_defer_reply);
	free(p->relay.resolver);
	free(p->relay.ca_file);
	free(p->relay.spill_dir);
	free(p->auth.authserv_id);
	free(p->auth.resolver);
	for (i = 0; i < domain_table_count(p->domains); i++)
		domain_free_relay(domain_table_at(p->domains, i));
	domain_table_free(p->domains);
	free(p);
}

/* Parse the blanked text into ld->p; 0 or -1 (error already set). */
static int
parse(struct load *ld, const char *text)
{
	cfg_t *root = conf_init();
	int rc;

	if (root == NULL)
		return config_error(ld, 0, "out of memory");
	ld->root = root;
	config_cur = ld;
	rc = cfg_parse_buf(root, text);
	if (rc != CFG_SUCCESS && !ld->failed)
		config_error(ld, config_line_of(root), "syntax error");
	if (rc == CFG_SUCCESS)
		rc = build(ld, root);
	config_cur = NULL;
	ld->root = NULL;
	overrides_free(ld->overrides); /* of a domain left unfinished */
	ld->overrides = NULL;
	cfg_free(root);
	return rc == CFG_SUCCESS ? 0 : -1;
}

int
policy_load(const char *path, struct policy **out, char *err, size_t errlen)
{
	struct load ld = { .path = path, .err = err, .errlen = errlen };
	size_t len;
	char *text;
	int rc = -1;

	if (errlen > 0)
		err[0] = '\0';
	if ((text = config_read_file(&ld, &len)) == NULL)
		return -1;
	ld.p = calloc(1, sizeof *ld.p);
	if (ld.p == NULL || (ld.p->domains = domain_table_new()) == NULL ||
	    (ld.p->path = strdup(path)) == NULL)
		config_error(&ld, 0, "out of memory");
	else if (config_prepare(&ld, text, &len) == 0)
		rc = parse(&ld, text);
	free(text);
	free(ld.spans);
	if (rc < 0) {
		policy_free(ld.p);
		return -1;
	}
	ld.p->refs = 1;
	*out = ld.p;
	return 0;
}

struct policy *
policy_ref(struct policy *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

void
policy_unref(struct policy *p)
{
	if (p != NULL && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
		policy_free(p);
}

const struct policy_domain *
policy_domain_find(const struct policy *p, const char *domain, size_t len)
{
	char key[DOMAIN_KEY_SIZE];
	const char *why;
	int n = domain_key(domain, len, key, &why);

	return n < 0 ? NULL : domain_table_find(p->domains, key, (size_t)n);
}

size_t
policy_domain_count(const struct policy *p)
{
	return domain_table_count(p->domains);
}

const char *
domain_state_name(enum domain_state s)
{
	switch (s) {
	case DOMAIN_LIMBO:
		return "limbo";
	case DOMAIN_LIVE:
		return "live";
	case DOMAIN_HOLD:
		return "hold";
	}
	return "unknown";
}
