/*
 * config_check.c - the checks of single configured values, run by
 * libconfuse while its lexer still knows the line, so that every problem
 * is reported as "FILE:LINE: what is wrong" (README "Configuration").
 *
 * Functions (private to policy/config*.c, see config_internal.h):
 *   config_on_listen/hostname/attempt_log/user/default_reply/tls_file()
 *                            validate callbacks of the root and tls options
 *   config_parse_limit()     parse callback of every number in limits { },
 *                            relay { } and auth { }
 *   config_on_state/defer_at/defer_reply/relay/relay_tls/map()
 *                            validate callbacks of a domain's options
 *   config_on_rcpt_state()   validate callback of a recipient's state
 *   config_on_resolver()     validate callback of relay { } and auth { }
 *   config_on_ca_file/spill_dir()
 *                            validate callbacks of the relay { } section
 *   config_parse_bool(), config_on_authserv_id()
 *                            callbacks of the auth { } section
 *   config_domain_title()    name and uniqueness check of a domain section
 *   config_rcpt_title()      the same for a recipient section in a domain
 *   config_cur_domain()      the domain section being read
 *   config_state_of(), config_relay_tls_of()   names to enum values
 *
 * Syntax checked here (README "Configuration"): relay "[host]:port" (an
 * IP address or a name, used as is), "host" or "host:port" (an LDH name,
 * MX lookup; a bare IP address needs brackets, so no one gets an MX
 * lookup of "192.0.2.1"); resolver "IP" or "IP@port" (IPv4 or IPv6), one
 * check for both sections that have one; authserv_id a host name's
 * characters (it is written as an RFC 8601 token, and the milter's
 * config takes the same); booleans true/false, yes/no, on/off;
 * ca_file must open for reading and be a regular file, spill_dir must be
 * a directory, both at load, so a reload that cannot work is refused.
 *
 * A domain's own errors (bad name, duplicate) are reported at the line of
 * its opening brace: libconfuse has no callback for a section title, so
 * the name is checked when the section's first option is read (the root's
 * line is then still that of the "{"), or, for an empty section, at its
 * "}" (config.c, with the "{" line found by config_open_line_of()).
 * A recipient section is named the same way, one level down: at its first
 * option the domain's line is still that of the recipient's "{"; an
 * empty one is named at its "}".
 *
 * The callbacks carry no user pointer: they report into config_cur.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "reply_check.h"

static int
check_error(cfg_t *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* config_error() at the line libconfuse is reading. */
static int
check_error(cfg_t *cfg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_verror(config_cur, config_line_of(cfg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * libconfuse resolves a quoted option name like "domain=x|state" from the
 * root (its path syntax): the callback then sees the wrong section, and
 * the value would bypass the checks of the section it belongs to.  An
 * option is only taken inside its own section.
 */
static int
wrong_section(cfg_t *cfg)
{
	return check_error(cfg, "an option must be set inside its own section "
	    "(no | or = in option names)");
}

static int
in_section(cfg_t *cfg, const char *name, bool titled)
{
	if (strcmp(cfg_name(cfg), name) == 0 && (!titled || cfg_title(cfg) != NULL))
		return 0;
	return wrong_section(cfg);
}

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool
port_ok(const char *s)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return i > 0 && v >= 1 && v <= 65535;
}

/* "a.b.c.d:port" or "[v6]:port"; NULL when fine, else what is wrong. */
static const char *
listen_problem(const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *colon, *end;
	int af = AF_INET;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return "is not [IPv6-address]:port";
		s++;
		colon = end + 1;
		af = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return "has no :port";
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return "needs brackets around an IPv6 address: [addr]:port";
		end = colon;
	}
	if ((size_t)(end - s) >= sizeof host)
		return "has an address that is too long";
	memcpy(host, s, (size_t)(end - s));
	host[end - s] = '\0';
	if (inet_pton(af, host, bin) != 1)
		return af == AF_INET6 ? "has a bad IPv6 address" :
		    "needs an IPv4 address or [IPv6-address] before the port";
	if (!port_ok(colon + 1))
		return "needs a port from 1 to 65535";
	return NULL;
}

static bool
user_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i]) != NULL))
			return false;
	return i > 0 && i <= 32 && s[0] != '-';
}

/* ---- validate callbacks: root options --------------------------------- */

static const char *
opt_str(cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);

	return s != NULL ? s : "";
}

int
config_on_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v, *why;

	if (cfg_opt_size(opt) == 0)
		return 0;
	v = opt_str(opt);
	if ((why = listen_problem(v)) != NULL)
		return check_error(cfg, "listen \"%s\" %s",
		    config_show(v, buf, sizeof buf), why);
	return 0;
}

int
config_on_hostname(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v = opt_str(opt), *why;

	if (domain_ldh_check(v, strlen(v), &why) < 0)
		return check_error(cfg, "hostname \"%s\" %s",
		    config_show(v, buf, sizeof buf), why);
	return 0;
}

static int
path_check(cfg_t *cfg, const char *what, const char *v, bool empty_ok)
{
	if (v[0] == '\0' && !empty_ok)
		return check_error(cfg, "%s is empty", what);
	if (has_control(v))
		return check_error(cfg, "%s contains a control character", what);
	if (strlen(v) > CONF_PATH_MAX)
		return check_error(cfg, "%s is longer than %d octets", what,
		    CONF_PATH_MAX);
	return 0;
}

int
config_on_attempt_log(cfg_t *cfg, cfg_opt_t *opt)
{
	return path_check(cfg, "attempt_log", opt_str(opt), true);
}

int
config_on_user(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v = opt_str(opt);

	if (!user_ok(v))
		return check_error(cfg, "user \"%s\" is not a valid user name "
		    "(letters, digits, . _ -; up to 32)",
		    config_show(v, buf, sizeof buf));
	return 0;
}

int
config_on_default_reply(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[200];
	const char *v = opt_str(opt);

	config_cur->default_reply_line = config_line_of(cfg);
	if (reply_check(v, strlen(v), '4', why, sizeof why) < 0)
		return check_error(cfg, "default_defer_reply %s", why);
	return 0;
}

int
config_on_tls_file(cfg_t *cfg, cfg_opt_t *opt)
{
	bool cert = strcmp(opt->name, "cert") == 0;

	if (in_section(cfg, "tls", false) < 0)
		return -1;
	if (cert)
		config_cur->tls_cert_line = config_line_of(cfg);
	else
		config_cur->tls_key_line = config_line_of(cfg);
	return path_check(cfg, cert ? "tls cert" : "tls key", opt_str(opt), false);
}

/* ---- limits ----------------------------------------------------------- */

static const struct {
	const char *section;
	const char *name;
	long min, max;
} limit_range[] = {
	{ "limits", "max_connections", 1, 1000000 },
	{ "limits", "per_ip", 1, 1000000 },
	{ "limits", "max_recipients", 1, 100000 },
	{ "limits", "max_message_size", 1, 2147483647 },
	{ "limits", "max_line_length", 512, MAX_DATA_LINE_LENGTH },
	{ "limits", "max_errors", 1, 1000 },
	{ "limits", "command_timeout", 1, 86400 },
	{ "limits", "data_timeout", 1, 86400 },
	{ "limits", "backlog", 1, 65535 },
	{ "relay", "spill_threshold", 1, 2147483647 },
	{ "relay", "connect_timeout", 1, 86400 },
	{ "relay", "reply_timeout", 1, 86400 },
	{ "relay", "data_timeout", 1, 86400 },
	{ "relay", "idle_time", 1, 86400 },
	{ "relay", "per_hop_connections", 1, 100000 },
	{ "auth", "workers", 1, MAX_AUTH_WORKERS },
	{ "auth", "timeout", 1, 3600 },
	{ "auth", "dns_timeout", 1, 600 },
};

/* Decimal only (libconfuse's strtol base 0 would read 010 as 8).  The
 * parse callback of every number in `limits { }`, `relay { }` and
 * `auth { }`. */
int
config_parse_limit(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *sec = cfg_name(cfg);
	long v = 0, min = 0, max = 0;
	size_t i;

	for (i = 0; i < sizeof limit_range / sizeof limit_range[0]; i++)
		if (strcmp(limit_range[i].section, sec) == 0 &&
		    strcmp(limit_range[i].name, opt->name) == 0) {
			min = limit_range[i].min;
			max = limit_range[i].max;
		}
	if (max == 0 || cfg_title(cfg) != NULL)
		return wrong_section(cfg);
	for (i = 0; value[i] >= '0' && value[i] <= '9' && v <= max; i++)
		v = v * 10 + (value[i] - '0');
	if (i == 0 || value[i] != '\0' || v < min || v > max)
		return check_error(cfg, "%s %s must be a whole number from "
		    "%ld to %ld, not \"%s\"", sec, opt->name, min, max,
		    config_show(value, buf, sizeof buf));
	*(long *)result = v;
	return 0;
}

/* ---- domains ---------------------------------------------------------- */

/* Name check of the domain section `sec`, once, at the given line. */
int
config_domain_title(struct load *ld, cfg_t *sec, unsigned line)
{
	char buf[CONF_SHOW_MAX + 1];
	const struct policy_domain *d;
	const char *title = cfg_title(sec), *why;
	char *u;
	int n;

	if (ld->title_sec == sec)
		return 0;
	config_show(title, buf, sizeof buf);
	n = domain_key(title, strlen(title), ld->title_key, &why);
	if (n < 0)
		return config_error(ld, line, "domain \"%s\" %s", buf, why);
	if ((u = domain_utf8(ld->title_key, &why)) == NULL)
		return config_error(ld, line, "domain \"%s\": %s", buf, why);
	free(u);
	d = domain_table_find(ld->p->domains, ld->title_key, (size_t)n);
	if (d != NULL)
		return config_error(ld, line, "domain \"%s\" is configured twice "
		    "(first at line %u)", buf, d->config_line);
	ld->title_sec = sec;
	ld->title_line = line;
	overrides_free(ld->overrides); /* NULL unless a domain was dropped */
	ld->overrides = NULL;
	ld->rcpt_live_line = 0;
	ld->rcpt_map_line = 0;
	ld->sender_map_line = 0;
	ld->rcpt_sec = NULL;
	return 0;
}

/* Common start of the callbacks of options inside a domain section. */
static int
domain_opt(cfg_t *sec, cfg_opt_t *opt, const char **v, char *buf)
{
	struct load *ld = config_cur;

	if (in_section(sec, "domain", true) < 0 ||
	    config_domain_title(ld, sec, config_line_of(ld->root)) < 0)
		return -1;
	*v = opt_str(opt);
	config_show(cfg_title(sec), buf, CONF_SHOW_MAX + 1);
	return 0;
}

int
config_state_of(const char *name, enum domain_state *out)
{
	if (strcmp(name, "limbo") == 0)
		*out = DOMAIN_LIMBO;
	else if (strcmp(name, "live") == 0)
		*out = DOMAIN_LIVE;
	else
		return -1;
	return 0;
}

/* The state check shared by domains and recipients (rcpt NULL). */
static int
state_check(cfg_t *cfg, const char *dom, const char *rcpt, const char *v)
{
	char vb[CONF_SHOW_MAX + 1];
	const char *r1 = rcpt ? ": recipient \"" : "", *r2 = rcpt ? "\"" : "";
	enum domain_state st;

	if (config_state_of(v, &st) == 0)
		return 0;
	if (strcmp(v, "hold") == 0)
		return check_error(cfg, "domain \"%s\"%s%s%s: state hold is not "
		    "supported yet (limbo or live)", dom, r1, rcpt ? rcpt : "", r2);
	return check_error(cfg, "domain \"%s\"%s%s%s: unknown state \"%s\" "
	    "(limbo, live or hold)", dom, r1, rcpt ? rcpt : "", r2,
	    config_show(v, vb, sizeof vb));
}

int
config_on_state(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1];
	const char *v;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	return state_check(cfg, t, NULL, v);
}

int
config_on_defer_at(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], vb[CONF_SHOW_MAX + 1];
	const char *v;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if (strcmp(v, "rcpt") == 0 || strcmp(v, "data") == 0)
		return 0;
	return check_error(cfg, "domain \"%s\": defer_at must be rcpt or "
	    "data, not \"%s\"", t, config_show(v, vb, sizeof vb));
}

int
config_on_defer_reply(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], why[200], out[REPLY_TEXT_MAX + 1];
	const char *key = config_cur->title_key, *v;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if (reply_check(v, strlen(v), '4', why, sizeof why) < 0)
		return check_error(cfg, "domain \"%s\": defer_reply %s", t, why);
	if (reply_expand(v, strlen(v), key, strlen(key), out, sizeof out) < 0)
		return check_error(cfg, "domain \"%s\": defer_reply is longer "
		    "than %d octets once %%d is replaced", t, REPLY_TEXT_MAX);
	return 0;
}

/* ---- domains: relaying ------------------------------------------------ */

/* A next-hop name: LDH, and not an IP address (that needs brackets). */
static const char *
relay_name_problem(const char *host, size_t len, bool bracketed)
{
	unsigned char bin[16];
	char buf[INET6_ADDRSTRLEN + 1];
	const char *why;

	if (len < sizeof buf) {
		memcpy(buf, host, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET, buf, bin) == 1 ||
		    (bracketed && inet_pton(AF_INET6, buf, bin) == 1))
			return bracketed ? NULL : "has an IP address, which needs "
			    "brackets: \"[address]:port\"";
	}
	if (len == 0)
		return "has no host";
	if (memchr(host, ':', len) != NULL)
		return bracketed ? "has a bad IPv6 address inside [ ]" :
		    "needs brackets around an IPv6 address: \"[address]:port\"";
	if (domain_ldh_check(host, len, &why) < 0)
		return why;
	return NULL;
}

/* "[host]:port", "host" or "host:port"; NULL when fine, else what is
 * wrong.  A bracketed host is used as is (an IP address or a name), a
 * bare one gets an MX lookup (upstream.h). */
static const char *
relay_problem(const char *s)
{
	const char *end = s + strlen(s), *host = s, *hend, *colon;
	bool br = s[0] == '[';

	if (br) {
		if ((hend = memchr(s, ']', (size_t)(end - s))) == NULL)
			return "has [ without ]";
		host = s + 1;
		colon = hend + 1;
		if (*colon != ':')
			return "needs :port after [host]";
	} else {
		colon = memchr(s, ':', (size_t)(end - s));
		if (colon != NULL &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL)
			return "needs brackets around an IPv6 address: "
			    "\"[address]:port\"";
		hend = colon != NULL ? colon : end;
	}
	if (colon != NULL && !port_ok(colon + 1))
		return "needs a port from 1 to 65535";
	return relay_name_problem(host, (size_t)(hend - host), br);
}

int
config_on_relay(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], vb[CONF_SHOW_MAX + 1];
	const char *v, *why;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if ((why = relay_problem(v)) != NULL)
		return check_error(cfg, "domain \"%s\": relay \"%s\" %s", t,
		    config_show(v, vb, sizeof vb), why);
	return 0;
}

static const char *const relay_tls_names[] = {
	[RELAY_TLS_NONE] = "none",
	[RELAY_TLS_MAY] = "may",
	[RELAY_TLS_ENCRYPT] = "encrypt",
	[RELAY_TLS_VERIFY] = "verify",
};

/* The level named `name` (checked already); RELAY_TLS_MAY for NULL. */
enum relay_tls
config_relay_tls_of(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < 4; i++)
		if (strcmp(name, relay_tls_names[i]) == 0)
			return (enum relay_tls)i;
	return RELAY_TLS_MAY;
}

int
config_on_relay_tls(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], vb[CONF_SHOW_MAX + 1];
	const char *v;
	size_t i;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	for (i = 0; i < 4; i++)
		if (strcmp(v, relay_tls_names[i]) == 0)
			return 0;
	return check_error(cfg, "domain \"%s\": relay_tls must be none, may, "
	    "encrypt or verify, not \"%s\"", t, config_show(v, vb, sizeof vb));
}

/* recipient_map, sender_map: a path here, loaded by config.c when the
 * domain is complete (a map's errors are its own "MAP:LINE: what"). */
int
config_on_map(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], what[CONF_SHOW_MAX + 40];
	const char *v;
	int n;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if (strcmp(opt->name, "recipient_map") == 0)
		config_cur->rcpt_map_line = config_line_of(cfg);
	else
		config_cur->sender_map_line = config_line_of(cfg);
	n = snprintf(what, sizeof what, "domain \"%s\": %s", t, opt->name);
	if (n < 0 || (size_t)n >= sizeof what)
		return check_error(cfg, "domain \"%s\": bad option", t);
	return path_check(cfg, what, v, false);
}

/* ---- domains: recipient sections -------------------------------------- */

cfg_t *
config_cur_domain(struct load *ld)
{
	cfg_opt_t *opt = cfg_getopt(ld->root, "domain");
	unsigned n = opt != NULL ? cfg_opt_size(opt) : 0;

	return n == 0 ? NULL : cfg_opt_getnsec(opt, n - 1);
}

/* "<title>" as one RFC 5321 path; NULL when fine, else what is wrong. */
static const char *
rcpt_problem(const char *title, size_t len, struct address *a)
{
	char path[ADDRESS_PATH_MAX * 4 + 3];
	size_t used = 0;
	const unsigned bad = ADDRESS_NULL | ADDRESS_NO_DOMAIN | ADDRESS_ROUTED |
	    ADDRESS_IP_LITERAL;

	if (len + 2 >= sizeof path)
		return "is too long";
	path[0] = '<';
	memcpy(path + 1, title, len);
	path[len + 1] = '>';
	if (address_parse(path, len + 2, true, a, &used) != ADDRESS_OK ||
	    used != len + 2 || (a->flags & bad))
		return "is not an address (local@domain)";
	if (a->flags & ADDRESS_ROUTING_CHARS)
		return "has sender-specified routing (% ! or a quoted @), which "
		    "is always denied";
	return NULL;
}

int
config_rcpt_title(struct load *ld, cfg_t *dsec, cfg_t *rsec, unsigned line)
{
	char dt[CONF_SHOW_MAX + 1], rt[CONF_SHOW_MAX + 1], key[DOMAIN_KEY_SIZE];
	const struct policy_override *ov;
	const char *title = cfg_title(rsec), *why;
	struct address a;
	int n;

	if (ld->rcpt_sec == rsec)
		return 0;
	config_show(cfg_title(dsec), dt, sizeof dt);
	config_show(title, rt, sizeof rt);
	if ((why = rcpt_problem(title, strlen(title), &a)) != NULL)
		return config_error(ld, line, "domain \"%s\": recipient \"%s\" %s",
		    dt, rt, why);
	n = domain_key(a.domain, a.domain_len, key, &why);
	if (n < 0 || strcmp(key, ld->title_key) != 0)
		return config_error(ld, line, "domain \"%s\": recipient \"%s\" is "
		    "not an address of this domain", dt, rt);
	ov = overrides_find(ld->overrides, a.local, a.local_len);
	if (ov != NULL)
		return config_error(ld, line, "domain \"%s\": recipient \"%s\" is "
		    "configured twice (first at line %u)", dt, rt, ov->line);
	memcpy(ld->rcpt_local, a.local, a.local_len + 1);
	ld->rcpt_local_len = a.local_len;
	ld->rcpt_sec = rsec;
	ld->rcpt_line = line;
	return 0;
}

int
config_on_rcpt_state(cfg_t *cfg, cfg_opt_t *opt)
{
	char dt[CONF_SHOW_MAX + 1], rt[CONF_SHOW_MAX + 1];
	struct load *ld = config_cur;
	cfg_t *dsec = config_cur_domain(ld);

	if (in_section(cfg, "recipient", true) < 0 || dsec == NULL ||
	    config_domain_title(ld, dsec, config_line_of(ld->root)) < 0 ||
	    config_rcpt_title(ld, dsec, cfg, config_line_of(dsec)) < 0)
		return -1;
	return state_check(cfg, config_show(cfg_title(dsec), dt, sizeof dt),
	    config_show(cfg_title(cfg), rt, sizeof rt), opt_str(opt));
}

/* ---- the relay { } section -------------------------------------------- */

/* "IPv4", "IPv6", or either with "@port" (unbound's forwarder syntax). */
static bool
resolver_ok(const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *at = strrchr(s, '@');
	size_t len = at != NULL ? (size_t)(at - s) : strlen(s);

	if (len >= sizeof host)
		return false;
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, bin) != 1 && inet_pton(AF_INET6, host, bin) != 1)
		return false;
	return at == NULL || port_ok(at + 1);
}

/* The resolver of relay { } and of auth { }: one syntax, one check. */
int
config_on_resolver(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v = opt_str(opt), *sec = cfg_name(cfg);

	if (in_section(cfg, strcmp(sec, "auth") == 0 ? "auth" : "relay",
	    false) < 0)
		return -1;
	if (!resolver_ok(v))
		return check_error(cfg, "%s resolver \"%s\" must be an IPv4 or "
		    "IPv6 address, optionally with @port (127.0.0.1@5353)", sec,
		    config_show(v, buf, sizeof buf));
	return 0;
}

int
config_on_ca_file(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = opt_str(opt);
	struct stat st;
	int fd;

	if (in_section(cfg, "relay", false) < 0 ||
	    path_check(cfg, "relay ca_file", v, false) < 0)
		return -1;
	if ((fd = open(v, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return check_error(cfg, "relay ca_file: cannot open: %s",
		    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return check_error(cfg, "relay ca_file is not a regular file");
	}
	close(fd);
	return 0;
}

int
config_on_spill_dir(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = opt_str(opt);
	struct stat st;

	if (in_section(cfg, "relay", false) < 0 ||
	    path_check(cfg, "relay spill_dir", v, false) < 0)
		return -1;
	if (stat(v, &st) < 0)
		return check_error(cfg, "relay spill_dir: %s", strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return check_error(cfg, "relay spill_dir is not a directory");
	return 0;
}

/* ---- the auth { } section --------------------------------------------- */

/* Parse callback of a boolean: libconfuse's own message names no section,
 * and it would also take the option from a "sec|name" path. */
int
config_parse_bool(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	char buf[CONF_SHOW_MAX + 1];
	size_t i;

	if (in_section(cfg, "auth", false) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		if (strcmp(value, yes[i]) == 0) {
			*(cfg_bool_t *)result = cfg_true;
			return 0;
		}
		if (strcmp(value, no[i]) == 0) {
			*(cfg_bool_t *)result = cfg_false;
			return 0;
		}
	}
	return check_error(cfg, "%s %s must be true or false, not \"%s\"",
	    cfg_name(cfg), opt->name, config_show(value, buf, sizeof buf));
}

/* Written bare as the RFC 8601 authserv-id token: a host name's octets. */
int
config_on_authserv_id(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v = opt_str(opt);
	size_t i, n = strnlen(v, 254);

	if (in_section(cfg, "auth", false) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') || strchr(".-_", v[i]) != NULL))
			break;
	if (n == 0 || n > 253 || i < n)
		return check_error(cfg, "auth authserv_id \"%s\" must be a host "
		    "name (letters, digits, '.', '-', '_'; 1 to 253 octets)",
		    config_show(v, buf, sizeof buf));
	return 0;
}
