/*
 * config_check.c - the checks of single configured values, run by
 * libconfuse while its lexer still knows the line, so that every problem
 * is reported as "FILE:LINE: what is wrong" (README "Configuration").
 *
 * Functions (private to policy/config*.c, see config_internal.h):
 *   config_on_listen/hostname/attempt_log/user/default_reply/tls_file()
 *                            validate callbacks of the root and tls options
 *   config_parse_limit()     parse callback of every limits option
 *   config_on_state/defer_at/defer_reply()
 *                            validate callbacks of a domain's options
 *   config_domain_title()    name and uniqueness check of a domain section
 *
 * A domain's own errors (bad name, duplicate) are reported at the line of
 * its opening brace: libconfuse has no callback for a section title, so
 * the name is checked when the section's first option is read (the root's
 * line is then still that of the "{"), or, for an empty section, at its
 * "}" (config.c, with the "{" line found by config_open_line_of()).
 *
 * The callbacks carry no user pointer: they report into config_cur.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
in_section(cfg_t *cfg, const char *name, bool titled)
{
	if (strcmp(cfg_name(cfg), name) == 0 && (!titled || cfg_title(cfg) != NULL))
		return 0;
	return check_error(cfg, "an option must be set inside its own section "
	    "(no | or = in option names)");
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
	const char *name;
	long min, max;
} limit_range[] = {
	{ "max_connections", 1, 1000000 },
	{ "per_ip", 1, 1000000 },
	{ "max_recipients", 1, 100000 },
	{ "max_message_size", 1, 2147483647 },
	{ "max_line_length", 512, MAX_DATA_LINE_LENGTH },
	{ "max_errors", 1, 1000 },
	{ "command_timeout", 1, 86400 },
	{ "data_timeout", 1, 86400 },
	{ "backlog", 1, 65535 },
};

/* Decimal only (libconfuse's strtol base 0 would read 010 as 8). */
int
config_parse_limit(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char buf[CONF_SHOW_MAX + 1];
	long v = 0, min = 1, max = 1;
	size_t i;

	if (in_section(cfg, "limits", false) < 0)
		return -1;
	for (i = 0; i < sizeof limit_range / sizeof limit_range[0]; i++)
		if (strcmp(limit_range[i].name, opt->name) == 0) {
			min = limit_range[i].min;
			max = limit_range[i].max;
		}
	for (i = 0; value[i] >= '0' && value[i] <= '9' && v <= max; i++)
		v = v * 10 + (value[i] - '0');
	if (i == 0 || value[i] != '\0' || v < min || v > max)
		return check_error(cfg, "limits %s must be a whole number from "
		    "%ld to %ld, not \"%s\"", opt->name, min, max,
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
config_on_state(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], vb[CONF_SHOW_MAX + 1];
	const char *v;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if (strcmp(v, "limbo") == 0)
		return 0;
	if (strcmp(v, "live") == 0 || strcmp(v, "hold") == 0)
		return check_error(cfg, "domain \"%s\": state %s is not "
		    "supported yet (only limbo)", t, v);
	return check_error(cfg, "domain \"%s\": unknown state \"%s\" (limbo, "
	    "live or hold)", t, config_show(v, vb, sizeof vb));
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
