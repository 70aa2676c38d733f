/*
 * milter_config.c - load cutover-milter's configuration (libconfuse 3.3).
 *
 * Public functions: milter_config_load(), milter_config_free(),
 * milter_config_trusted(), milter_dmarc_action_name(),
 * milter_temp_action_name().  Format: milter_config.h.
 *
 * Errors are one line "FILE:LINE: what" (as cutoverd -n): values are
 * checked in libconfuse validate callbacks while its lexer still knows the
 * line, and libconfuse's own messages are captured by an error function.
 * The first error wins.  Before libconfuse sees the text, comments are
 * removed here (newlines kept): libconfuse miscounts lines after comments
 * and refuses comments inside lists.  "${" is refused, because libconfuse
 * would expand the environment of whoever (re)loads the daemon, and a NUL
 * byte is refused because it would silently end the text.
 *
 * Why file-scope state (`cur`): libconfuse callbacks carry no user
 * pointer.  Hence one load at a time (see the header).
 */
#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "milter_config.h"

#define FILE_MAX (1u << 20)           /* octets: a config, not a data set */
#define SHOW_MAX 80                   /* octets of a value quoted in errors */

struct mload {
	const char *path;
	char *err;
	size_t errlen;
	bool failed;
};

static struct mload *cur;

/* ---- errors ------------------------------------------------------------ */

static int
verror(unsigned line, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static int
verror(unsigned line, const char *fmt, va_list ap)
{
	char msg[300];
	size_t i;
	int n;

	if (cur == NULL || cur->failed)
		return -1;
	cur->failed = true;
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	if (line > 0)
		n = snprintf(cur->err, cur->errlen, "%s:%u: %s", cur->path, line, msg);
	else
		n = snprintf(cur->err, cur->errlen, "%s: %s", cur->path, msg);
	if (n < 0 && cur->errlen > 0)
		cur->err[0] = '\0';
	return -1;
}

static int
lerror(unsigned line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
lerror(unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(line, fmt, ap);
	va_end(ap);
	return -1;
}

static unsigned
line_of(const cfg_t *cfg)
{
	return cfg != NULL && cfg->line > 0 ? (unsigned)cfg->line : 0;
}

static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	verror(line_of(cfg), fmt, ap);
}

static const char *
show(const char *s, char *buf, size_t cap)
{
	size_t i, n = strnlen(s, SHOW_MAX);

	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[n] = '\0';
	return buf;
}

/* ---- text before libconfuse -------------------------------------------- */

/* Index past a quoted string starting at i (the quote), or len. */
static size_t
skip_quoted(const char *b, size_t i, size_t len)
{
	char q = b[i++];

	while (i < len && b[i] != q)
		i += (b[i] == '\\' && i + 1 < len) ? 2 : 1;
	return i < len ? i + 1 : len;
}

/* NUL or "${" anywhere, in quotes or not, is refused. */
static int
refuse_bytes(const char *b, size_t len)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (b[i] == '\n')
			line++;
		else if (b[i] == '\0')
			return lerror(line, "a NUL byte in the file");
		else if (b[i] == '$' && i + 1 < len && b[i + 1] == '{')
			return lerror(line, "\"${\" (environment expansion) is not "
			    "allowed");
	}
	return 0;
}

/* Blank out comments in place, newlines kept. */
static int
strip_comments(char *b, size_t len)
{
	unsigned line = 1, start;
	size_t i = 0, j;

	if (refuse_bytes(b, len) < 0)
		return -1;
	while (i < len) {
		if (b[i] == '\n')
			line++;
		if (b[i] == '"' || b[i] == '\'') {
			for (j = i, i = skip_quoted(b, i, len); j < i; j++)
				line += b[j] == '\n';
			continue;
		}
		if (b[i] == '#' || (b[i] == '/' && i + 1 < len && b[i + 1] == '/')) {
			while (i < len && b[i] != '\n')
				b[i++] = ' ';
			continue;
		}
		if (b[i] == '/' && i + 1 < len && b[i + 1] == '*') {
			start = line;
			while (i < len && !(b[i] == '*' && i + 1 < len && b[i + 1] == '/'))
				if (b[i] != '\n')
					b[i++] = ' ';
				else
					i++, line++;
			if (i >= len)
				return lerror(start, "comment is not closed");
			b[i++] = ' ';
			b[i++] = ' ';
			continue;
		}
		i++;
	}
	return 0;
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL) {
		lerror(0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	buf = malloc(FILE_MAX + 1);
	n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
	if (buf == NULL)
		lerror(0, "out of memory");
	else if (ferror(f))
		lerror(0, "cannot read: %s", strerror(errno));
	else if (n > FILE_MAX)
		lerror(0, "is larger than %u octets", FILE_MAX);
	fclose(f);
	if (cur->failed || n > FILE_MAX) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*lenp = n;
	return buf;
}

/* ---- values ------------------------------------------------------------- */

static const unsigned char v4mapped[12] =
    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/*
 * Clients are compared in IPv4 form when they come as IPv4-mapped IPv6
 * (milter_config_trusted), so a network written as ::ffff:a.b.c.d/n with
 * n >= 96 is stored as the IPv4 network a.b.c.d/(n - 96); otherwise it
 * could never match.
 */
static void
net_unmap(struct milter_net *net)
{
	if (net->family != AF_INET6 || net->prefix < 96 ||
	    memcmp(net->addr, v4mapped, sizeof v4mapped) != 0)
		return;
	memmove(net->addr, net->addr + 12, 4);
	memset(net->addr + 4, 0, sizeof net->addr - 4);
	net->family = AF_INET;
	net->prefix -= 96;
}

/* "IPv4[/n]" or "IPv6[/n]" into *net; -1 when not one. */
static int
parse_net(const char *s, struct milter_net *net)
{
	char ip[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long pfx;
	unsigned i, max;

	if (len == 0 || len >= sizeof ip)
		return -1;
	memcpy(ip, s, len);
	ip[len] = '\0';
	memset(net, 0, sizeof *net);
	if (inet_pton(AF_INET, ip, net->addr) == 1)
		net->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, ip, net->addr) == 1)
		net->family = AF_INET6, max = 128;
	else
		return -1;
	net->prefix = max;
	if (slash != NULL) {
		errno = 0;
		pfx = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
		    errno != 0 || pfx > max)
			return -1;
		net->prefix = (unsigned)pfx;
	}
	for (i = net->prefix; i < max; i++)
		net->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	net_unmap(net);
	return 0;
}

static bool
net_match(const struct milter_net *n, int family, const unsigned char *a)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;
	unsigned char mask = (unsigned char)(0xff00u >> rest);

	if (n->family != family || memcmp(n->addr, a, full) != 0)
		return false;
	return rest == 0 || (a[full] & mask) == n->addr[full];
}

static int
on_trusted(cfg_t *cfg, cfg_opt_t *opt)
{
	struct milter_net net;
	char buf[SHOW_MAX + 1];
	unsigned i;

	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i);

		if (s == NULL || parse_net(s, &net) < 0)
			return lerror(line_of(cfg), "trusted_peers: \"%s\" is not an "
			    "IP address or network (192.0.2.0/24, 2001:db8::/32)",
			    show(s ? s : "", buf, sizeof buf));
	}
	return 0;
}

static bool
valid_port(const char *s, size_t len)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static bool
valid_ip(const char *s, size_t len)
{
	char ip[INET6_ADDRSTRLEN + 1];
	unsigned char a[16];

	if (len == 0 || len >= sizeof ip)
		return false;
	memcpy(ip, s, len);
	ip[len] = '\0';
	return inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1;
}

/* "inet:PORT@IP", "inet6:PORT@IP", "unix:/abs/path" or "local:/abs/path". */
static bool
valid_socket(const char *s)
{
	const char *at, *p;

	if (strncmp(s, "unix:/", 6) == 0 || strncmp(s, "local:/", 7) == 0)
		return strlen(s) < 100;     /* sun_path holds 108 */
	if (strncmp(s, "inet:", 5) == 0)
		p = s + 5;
	else if (strncmp(s, "inet6:", 6) == 0)
		p = s + 6;
	else
		return false;
	if ((at = strchr(p, '@')) == NULL)
		return false;
	return valid_port(p, (size_t)(at - p)) && valid_ip(at + 1, strlen(at + 1));
}

static int
on_socket(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	char buf[SHOW_MAX + 1];

	if (s == NULL || !valid_socket(s))
		return lerror(line_of(cfg), "socket \"%s\" is not inet:PORT@IP, "
		    "inet6:PORT@IP or unix:/absolute/path",
		    show(s ? s : "", buf, sizeof buf));
	return 0;
}

/* An authserv-id we write as a token: a host name's characters. */
static int
on_authserv_id(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	char buf[SHOW_MAX + 1];
	size_t i, n = s ? strnlen(s, 256) : 0;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' ||
		    s[i] == '_'))
			break;
	if (n == 0 || n > 253 || i < n)
		return lerror(line_of(cfg), "authserv_id \"%s\" must be a host name "
		    "(letters, digits, '.', '-', '_'; 1 to 253 octets)",
		    show(s ? s : "", buf, sizeof buf));
	return 0;
}

static int
on_resolver(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	const char *at = s ? strrchr(s, '@') : NULL;
	char buf[SHOW_MAX + 1];
	bool ok;

	if (s == NULL)
		ok = false;
	else if (at == NULL)
		ok = valid_ip(s, strlen(s));
	else
		ok = valid_ip(s, (size_t)(at - s)) &&
		    valid_port(at + 1, strlen(at + 1));
	if (!ok)
		return lerror(line_of(cfg), "resolver \"%s\" is not IP or IP@PORT",
		    show(s ? s : "", buf, sizeof buf));
	return 0;
}

static int
on_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 1 || v > MILTER_CONFIG_DNS_TIMEOUT_MAX)
		return lerror(line_of(cfg), "dns_timeout must be 1 to %d seconds, "
		    "not %ld", MILTER_CONFIG_DNS_TIMEOUT_MAX, v);
	return 0;
}

static int
keyword(cfg_t *cfg, cfg_opt_t *opt, const char *const *words, size_t n)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	char buf[SHOW_MAX + 1];
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return (int)i;
	return lerror(line_of(cfg), "%s \"%s\" must be %s or %s%s%s",
	    opt->name, show(s ? s : "", buf, sizeof buf), words[0], words[1],
	    n > 2 ? " or " : "", n > 2 ? words[2] : "");
}

static const char *const dmarc_words[] = { "none", "quarantine", "reject" };
static const char *const temp_words[] = { "none", "tempfail" };

static int
on_dmarc_action(cfg_t *cfg, cfg_opt_t *opt)
{
	return keyword(cfg, opt, dmarc_words, 3) < 0 ? -1 : 0;
}

static int
on_temp_action(cfg_t *cfg, cfg_opt_t *opt)
{
	return keyword(cfg, opt, temp_words, 2) < 0 ? -1 : 0;
}

/* ---- building ------------------------------------------------------------ */

static int
dup_str(char **dst, const char *src)
{
	if (src == NULL)
		return 0;
	if ((*dst = strdup(src)) == NULL)
		return lerror(0, "out of memory");
	return 0;
}

static int
index_of(const char *s, const char *const *words, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return (int)i;
	return 0;
}

static int
build_trusted(struct milter_config *c, cfg_t *root)
{
	unsigned i, n = cfg_size(root, "trusted_peers");

	if (n == 0)
		return 0;
	if ((c->trusted = calloc(n, sizeof *c->trusted)) == NULL)
		return lerror(0, "out of memory");
	for (i = 0; i < n; i++)
		if (parse_net(cfg_getnstr(root, "trusted_peers", i),
		    &c->trusted[c->ntrusted++]) < 0)
			return lerror(0, "trusted_peers: bad entry");
	return 0;
}

static int
build(struct milter_config *c, cfg_t *root)
{
	cfg_t *act = cfg_getsec(root, "action");

	if (cfg_getstr(root, "socket") == NULL)
		return lerror(0, "socket is not set (for example socket = "
		    "\"inet:8893@127.0.0.1\")");
	if (cfg_getstr(root, "authserv_id") == NULL)
		return lerror(0, "authserv_id is not set (for example "
		    "authserv_id = \"mx.example.net\")");
	if (dup_str(&c->path, cur->path) < 0 ||
	    dup_str(&c->socket, cfg_getstr(root, "socket")) < 0 ||
	    dup_str(&c->authserv_id, cfg_getstr(root, "authserv_id")) < 0 ||
	    dup_str(&c->resolver, cfg_getstr(root, "resolver")) < 0)
		return -1;
	c->dns_timeout = (unsigned)cfg_getint(root, "dns_timeout");
	c->dmarc_action = (enum milter_dmarc_action)index_of(
	    cfg_getstr(act, "dmarc_reject"), dmarc_words, 3);
	c->temp_action = (enum milter_temp_action)index_of(
	    cfg_getstr(act, "temperror"), temp_words, 2);
	return build_trusted(c, root);
}

#define OPT_STR(n, cb) \
	{ .name = (n), .type = CFGT_STR, .flags = CFGF_NODEFAULT, .validcb = (cb) }

static int
parse(struct milter_config *c, const char *text)
{
	cfg_opt_t act_opts[] = {
		CFG_STR("dmarc_reject", "none", CFGF_NONE),
		CFG_STR("temperror", "none", CFGF_NONE),
		CFG_END()
	};
	cfg_opt_t opts[] = {
		OPT_STR("socket", on_socket),
		OPT_STR("authserv_id", on_authserv_id),
		OPT_STR("resolver", on_resolver),
		CFG_INT("dns_timeout", MILTER_CONFIG_DNS_TIMEOUT_DEFAULT, CFGF_NONE),
		{ .name = "trusted_peers", .type = CFGT_STR,
		  .flags = CFGF_LIST | CFGF_NODEFAULT, .validcb = on_trusted },
		CFG_SEC("action", act_opts, CFGF_NONE),
		CFG_END()
	};
	cfg_t *root;
	int rc;

	opts[3].validcb = on_timeout;
	act_opts[0].validcb = on_dmarc_action;
	act_opts[1].validcb = on_temp_action;
	if ((root = cfg_init(opts, CFGF_NONE)) == NULL)
		return lerror(0, "out of memory");
	cfg_set_error_function(root, conf_errfunc);
	rc = cfg_parse_buf(root, text);
	if (rc != CFG_SUCCESS && !cur->failed)
		lerror(line_of(root), "syntax error");
	if (rc == CFG_SUCCESS && build(c, root) < 0)
		rc = CFG_PARSE_ERROR;
	cfg_free(root);
	return rc == CFG_SUCCESS ? 0 : -1;
}

/* ---- public ---------------------------------------------------------------- */

int
milter_config_load(const char *path, struct milter_config **out, char *err,
    size_t errlen)
{
	struct mload ld = { .path = path, .err = err, .errlen = errlen };
	struct milter_config *c = NULL;
	size_t len = 0;
	char *text;
	int rc = -1;

	if (errlen > 0)
		err[0] = '\0';
	cur = &ld;
	text = read_file(path, &len);
	if (text != NULL && strip_comments(text, len) == 0) {
		if ((c = calloc(1, sizeof *c)) == NULL)
			lerror(0, "out of memory");
		else
			rc = parse(c, text);
	}
	cur = NULL;
	free(text);
	if (rc < 0) {
		milter_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void
milter_config_free(struct milter_config *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->socket);
	free(c->authserv_id);
	free(c->resolver);
	free(c->trusted);
	free(c);
}

bool
milter_config_trusted(const struct milter_config *c, const char *ip)
{
	unsigned char a[16];
	size_t i;
	int fam;

	if (ip == NULL)
		return false;
	if (inet_pton(AF_INET, ip, a) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, ip, a) == 1)
		fam = AF_INET6;
	else
		return false;
	if (fam == AF_INET6 && memcmp(a, v4mapped, sizeof v4mapped) == 0) {
		memmove(a, a + 12, 4);
		fam = AF_INET;
	}
	for (i = 0; i < c->ntrusted; i++)
		if (net_match(&c->trusted[i], fam, a))
			return true;
	return false;
}

const char *
milter_dmarc_action_name(enum milter_dmarc_action a)
{
	return (unsigned)a < 3 ? dmarc_words[a] : "unknown";
}

const char *
milter_temp_action_name(enum milter_temp_action a)
{
	return (unsigned)a < 2 ? temp_words[a] : "unknown";
}
