/*
 * config.c - policy_load(): read, check and snapshot the configuration.
 *
 * Public functions: policy_load(), policy_ref(), policy_unref(),
 * policy_domain_find(), policy_domain_count(), domain_state_name().
 *
 * Format: README.md "Configuration" (libconfuse syntax).  Every problem is
 * reported as exactly one line "FILE:LINE: what is wrong", or "FILE: what
 * is wrong" when no line applies (missing file, nothing configured), and
 * nothing is printed: libconfuse's own messages are captured through
 * cfg_set_error_function(), semantic checks run in validate and parse
 * callbacks while the lexer still knows the line.  The first error wins.
 *
 * Five libconfuse 3.3 quirks are handled before it sees the text:
 *   - comments inflate its line numbers (a "#" line counts as three), and
 *     a comment inside a list is a syntax error; so comments are removed
 *     here (newlines kept) with the same lexical rules, and libconfuse
 *     never sees one;
 *   - its lexer is quadratic in the length of one token: blanks are
 *     squeezed and a word or string is limited to CONF_TOKEN_MAX;
 *   - "${VAR}" is replaced by the environment, in and out of quotes: a
 *     daemon's config must not change with the environment of whoever
 *     reloads it, so "${" is refused;
 *   - a NUL byte would silently end the text: refused;
 *   - a section left open at the end of the file is silently closed:
 *     braces are counted here, and an unclosed one is an error.
 * A domain's own errors (bad name, duplicate) are reported at the line of
 * its opening brace: libconfuse has no callback for a section title, so
 * the name is checked when the section's first option is read (the root's
 * line is then still that of the "{"), or, for an empty section, at its
 * "}", with the "{" line found among the brace pairs counted here.
 *
 * libconfuse callbacks carry no user pointer, and its lexer is global
 * state anyway: the load in progress is the file-scope `cur`, so
 * policy_load() must not run in two threads at once (cutoverd loads from
 * its main thread only).  The snapshot it returns is read-only and may be
 * shared by any number of threads; the reference count is atomic.
 */
#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain_table.h"
#include "policy.h"
#include "reply_check.h"

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
	struct span *spans;               /* top-level { }, in file order */
	size_t nspans;
	size_t spans_cap;
};

static struct load *cur;

/* ---- errors -------------------------------------------------------- */

/* Copy at most CONF_SHOW_MAX octets of s, control bytes as '?'. */
static const char *
show(const char *s, char *buf, size_t buflen)
{
	size_t i, n = strnlen(s, CONF_SHOW_MAX);

	if (n >= buflen)
		n = buflen - 1;
	for (i = 0; i < n; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[n] = '\0';
	return buf;
}

static void
load_verror(struct load *ld, unsigned line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
load_verror(struct load *ld, unsigned line, const char *fmt, va_list ap)
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

static int
load_error(struct load *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
load_error(struct load *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	load_verror(ld, line, fmt, ap);
	va_end(ap);
	return -1;
}

static unsigned
line_of(const cfg_t *cfg)
{
	return cfg != NULL && cfg->line > 0 ? (unsigned)cfg->line : 0;
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
	return load_error(cur, line_of(cfg), "an option must be set inside "
	    "its own section (no | or = in option names)");
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
	load_error(ld, line_of(cfg), "domain \"%s\" is configured twice (first "
	    "at line %u)", show(title, buf, sizeof buf), d ? d->config_line : 0);
}

static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libconfuse's messages, with the line of the section being read. */
static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	if (cur == NULL || cur->failed)
		return;
	if (strcmp(fmt, "found duplicate title '%s'") == 0) {
		dup_title_error(cur, cfg, va_arg(ap, const char *));
		return;
	}
	load_verror(cur, line_of(cfg), fmt, ap);
}

/* ---- reading the file, removing comments ----------------------------- */

static char *
read_all(int fd, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1), *n;
	ssize_t r;

	while (buf != NULL) {
		if (len == cap) {
			if (cap > CONF_FILE_MAX) {
				errno = EFBIG;
				break;
			}
			cap = cap * 2 > CONF_FILE_MAX ? CONF_FILE_MAX + 1 : cap * 2;
			if ((n = realloc(buf, cap + 1)) == NULL)
				break;
			buf = n;
		}
		r = read(fd, buf + len, cap - len);
		if (r == 0) {
			buf[len] = '\0';
			*lenp = len;
			return buf;
		}
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			len += (size_t)r;
	}
	free(buf);
	return NULL;
}

static char *
read_file(struct load *ld, size_t *lenp)
{
	int fd = open(ld->path, O_RDONLY | O_CLOEXEC);
	char *buf;
	int saved;

	if (fd < 0) {
		load_error(ld, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	buf = read_all(fd, lenp);
	saved = errno;
	close(fd);
	if (buf == NULL && saved == EFBIG)
		load_error(ld, 0, "is larger than %u octets", CONF_FILE_MAX);
	else if (buf == NULL)
		load_error(ld, 0, "cannot read: %s", strerror(saved));
	return buf;
}

/*
 * The text is rewritten in place before libconfuse sees it: comments go
 * (their newlines stay), every run of blanks becomes one space, and no
 * word or quoted string may pass CONF_TOKEN_MAX octets.  The last two
 * matter because libconfuse's flex lexer rescans a token from its start
 * each time it refills its buffer: a 16 MiB run of blanks took 85 s.
 * The rewrite never writes more than it reads (w <= r), and keeps every
 * newline, so line numbers are those of the file.
 */
struct pre {
	struct load *ld;
	char *buf;
	size_t len;
	size_t r;             /* next byte to read */
	size_t w;             /* next byte to write */
	size_t word;          /* octets of the word or string being written */
	unsigned line;
	unsigned depth;       /* of { } outside quotes */
	unsigned open_line;   /* of the outermost open { */
};

static int
add_span(struct load *ld, unsigned open, unsigned close)
{
	struct span *n;

	if (ld->nspans == ld->spans_cap) {
		size_t cap = ld->spans_cap ? ld->spans_cap * 2 : 16;

		if ((n = realloc(ld->spans, cap * sizeof *n)) == NULL)
			return load_error(ld, 0, "out of memory");
		ld->spans = n;
		ld->spans_cap = cap;
	}
	ld->spans[ld->nspans].open = open;
	ld->spans[ld->nspans++].close = close;
	return 0;
}

/* Braces outside quotes: libconfuse 3.3 takes the end of the file as the
 * "}" of a section left open, so they are counted here. */
static int
count_brace(struct pre *s, char c)
{
	if (c == '{' && s->depth++ == 0)
		s->open_line = s->line;
	else if (c == '}' && s->depth > 0 && --s->depth == 0)
		return add_span(s->ld, s->open_line, s->line);
	return 0;
}

/* Write c; `plain` = outside quotes.  Blanks and newlines end a word. */
static int
emit(struct pre *s, char c, bool plain)
{
	if (plain && (c == ' ' || c == '\n'))
		s->word = 0;
	else if (++s->word > CONF_TOKEN_MAX)
		return load_error(s->ld, s->line, "a word or quoted string is "
		    "longer than %d octets", CONF_TOKEN_MAX);
	if (plain && count_brace(s, c) < 0)
		return -1;
	if (c == '\n')
		s->line++;
	s->buf[s->w++] = c;
	return 0;
}

static int
emit_blank(struct pre *s)
{
	if (s->w > 0 && (s->buf[s->w - 1] == ' ' || s->buf[s->w - 1] == '\n'))
		return 0;
	return emit(s, ' ', true);
}

/* Copy a quoted string; a backslash escapes the next byte (libconfuse's
 * rules for both quote kinds).  An unclosed one is reported where it
 * starts, not at the end of the file as libconfuse would. */
static int
copy_quoted(struct pre *s)
{
	unsigned start = s->line;
	char q = s->buf[s->r];

	if (emit(s, s->buf[s->r++], false) < 0)
		return -1;
	while (s->r < s->len && s->buf[s->r] != q) {
		if (s->buf[s->r] == '\\' && s->r + 1 < s->len &&
		    emit(s, s->buf[s->r++], false) < 0)
			return -1;
		if (emit(s, s->buf[s->r++], false) < 0)
			return -1;
	}
	if (s->r >= s->len)
		return load_error(s->ld, start, "quoted string is not closed");
	return emit(s, s->buf[s->r++], false);
}

/* Drop a / * ... * / comment, keeping its newlines. */
static int
skip_block(struct pre *s)
{
	unsigned start = s->line;

	for (s->r += 2; s->r < s->len; s->r++) {
		if (s->buf[s->r] == '*' && s->r + 1 < s->len &&
		    s->buf[s->r + 1] == '/') {
			s->r += 2;
			return emit_blank(s);
		}
		if (s->buf[s->r] == '\n' && emit(s, '\n', true) < 0)
			return -1;
	}
	return load_error(s->ld, start, "/* comment is not closed");
}

/* Does a comment start at r?  "//" and "/ *" only at a token start, as
 * in libconfuse ("a//b" is one word), "#" anywhere outside quotes. */
static int
comment_at(const struct pre *s)
{
	const char *b = s->buf;
	bool start = s->w == 0 || strchr(" \n={}()+,\"'", b[s->w - 1]) != NULL;

	if (b[s->r] == '#')
		return '#';
	if (b[s->r] != '/' || s->r + 1 >= s->len || !start)
		return 0;
	return b[s->r + 1] == '/' ? '#' : b[s->r + 1] == '*' ? '*' : 0;
}

static int
pre_step(struct pre *s)
{
	char c = s->buf[s->r];
	int comment = comment_at(s);

	if (c == '"' || c == '\'')
		return copy_quoted(s);
	if (comment == '*')
		return skip_block(s);
	if (comment == '#') {
		while (s->r < s->len && s->buf[s->r] != '\n')
			s->r++;
		return 0;
	}
	if (c == ' ' || c == '\t' || c == '\r') {
		while (s->r < s->len && strchr(" \t\r", s->buf[s->r]) != NULL)
			s->r++;
		return emit_blank(s);
	}
	s->r++;
	return emit(s, c, true);
}

/* Refuse `bad` (see the top of the file) and say where it is. */
static int
refuse(struct load *ld, const char *buf, size_t len, const char *bad,
    size_t badlen, const char *what)
{
	const char *at = memmem(buf, len, bad, badlen);
	unsigned line = 1;
	size_t i;

	if (at == NULL)
		return 0;
	for (i = 0; i < (size_t)(at - buf); i++)
		if (buf[i] == '\n')
			line++;
	return load_error(ld, line, "%s", what);
}

/* Rewrite buf (see struct pre); *lenp becomes the new length. */
static int
prepare(struct load *ld, char *buf, size_t *lenp)
{
	struct pre s = { .ld = ld, .buf = buf, .len = *lenp, .line = 1 };

	if (refuse(ld, buf, s.len, "\0", 1, "NUL byte in the file") < 0)
		return -1;
	while (s.r < s.len)
		if (pre_step(&s) < 0)
			return -1;
	buf[s.w] = '\0';
	*lenp = s.w;
	if (s.depth > 0)
		return load_error(ld, s.open_line, "{ is not closed");
	ld->last_line = (s.w > 0 && buf[s.w - 1] == '\n') ? s.line - 1 : s.line;
	return refuse(ld, buf, s.w, "${", 2, "${...} (environment substitution) "
	    "is not supported");
}

/*
 * The opening line of the top-level section that closed at `close`, so
 * that an empty domain section is named at its "domain ... {" line too.
 * When pairs that close on that line opened on different lines, which
 * one is meant is unknown: then `close` itself.
 */
static unsigned
open_line_of(const struct load *ld, unsigned close)
{
	size_t lo = 0, hi = ld->nspans, i;

	while (lo < hi) {            /* first span closing at or after `close` */
		size_t mid = lo + (hi - lo) / 2;

		if (ld->spans[mid].close < close)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ld->nspans || ld->spans[lo].close != close)
		return close;
	for (i = lo + 1; i < ld->nspans && ld->spans[i].close == close; i++)
		if (ld->spans[i].open != ld->spans[lo].open)
			return close;
	return ld->spans[lo].open;
}

/* ---- checks of single values ------------------------------------------ */

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

static int
on_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v, *why;

	if (cfg_opt_size(opt) == 0)
		return 0;
	v = opt_str(opt);
	if ((why = listen_problem(v)) != NULL)
		return load_error(cur, line_of(cfg), "listen \"%s\" %s",
		    show(v, buf, sizeof buf), why);
	return 0;
}

static int
on_hostname(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v = opt_str(opt), *why;

	if (domain_ldh_check(v, strlen(v), &why) < 0)
		return load_error(cur, line_of(cfg), "hostname \"%s\" %s",
		    show(v, buf, sizeof buf), why);
	return 0;
}

static int
path_check(cfg_t *cfg, const char *what, const char *v, bool empty_ok)
{
	if (v[0] == '\0' && !empty_ok)
		return load_error(cur, line_of(cfg), "%s is empty", what);
	if (has_control(v))
		return load_error(cur, line_of(cfg), "%s contains a control "
		    "character", what);
	if (strlen(v) > CONF_PATH_MAX)
		return load_error(cur, line_of(cfg), "%s is longer than %d "
		    "octets", what, CONF_PATH_MAX);
	return 0;
}

static int
on_attempt_log(cfg_t *cfg, cfg_opt_t *opt)
{
	return path_check(cfg, "attempt_log", opt_str(opt), true);
}

static int
on_user(cfg_t *cfg, cfg_opt_t *opt)
{
	char buf[CONF_SHOW_MAX + 1];
	const char *v = opt_str(opt);

	if (!user_ok(v))
		return load_error(cur, line_of(cfg), "user \"%s\" is not a valid "
		    "user name (letters, digits, . _ -; up to 32)",
		    show(v, buf, sizeof buf));
	return 0;
}

static int
on_default_reply(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[200];
	const char *v = opt_str(opt);

	cur->default_reply_line = line_of(cfg);
	if (reply_check(v, strlen(v), '4', why, sizeof why) < 0)
		return load_error(cur, line_of(cfg), "default_defer_reply %s", why);
	return 0;
}

static int
on_tls_file(cfg_t *cfg, cfg_opt_t *opt)
{
	bool cert = strcmp(opt->name, "cert") == 0;

	if (in_section(cfg, "tls", false) < 0)
		return -1;
	if (cert)
		cur->tls_cert_line = line_of(cfg);
	else
		cur->tls_key_line = line_of(cfg);
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
static int
parse_limit(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
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
		return load_error(cur, line_of(cfg), "limits %s must be a whole "
		    "number from %ld to %ld, not \"%s\"", opt->name, min, max,
		    show(value, buf, sizeof buf));
	*(long *)result = v;
	return 0;
}

/* ---- domains ---------------------------------------------------------- */

/* Name check of the domain section `sec`, once, at the given line. */
static int
domain_title(struct load *ld, cfg_t *sec, unsigned line)
{
	char buf[CONF_SHOW_MAX + 1];
	const struct policy_domain *d;
	const char *title = cfg_title(sec), *why;
	char *u;
	int n;

	if (ld->title_sec == sec)
		return 0;
	show(title, buf, sizeof buf);
	n = domain_key(title, strlen(title), ld->title_key, &why);
	if (n < 0)
		return load_error(ld, line, "domain \"%s\" %s", buf, why);
	if ((u = domain_utf8(ld->title_key, &why)) == NULL)
		return load_error(ld, line, "domain \"%s\": %s", buf, why);
	free(u);
	d = domain_table_find(ld->p->domains, ld->title_key, (size_t)n);
	if (d != NULL)
		return load_error(ld, line, "domain \"%s\" is configured twice "
		    "(first at line %u)", buf, d->config_line);
	ld->title_sec = sec;
	ld->title_line = line;
	return 0;
}

/* Common start of the callbacks of options inside a domain section. */
static int
domain_opt(cfg_t *sec, cfg_opt_t *opt, const char **v, char *buf)
{
	if (in_section(sec, "domain", true) < 0 ||
	    domain_title(cur, sec, line_of(cur->root)) < 0)
		return -1;
	*v = opt_str(opt);
	show(cfg_title(sec), buf, CONF_SHOW_MAX + 1);
	return 0;
}

static int
on_state(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], vb[CONF_SHOW_MAX + 1];
	const char *v;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if (strcmp(v, "limbo") == 0)
		return 0;
	if (strcmp(v, "live") == 0 || strcmp(v, "hold") == 0)
		return load_error(cur, line_of(cfg), "domain \"%s\": state %s is "
		    "not supported yet (only limbo)", t, v);
	return load_error(cur, line_of(cfg), "domain \"%s\": unknown state "
	    "\"%s\" (limbo, live or hold)", t, show(v, vb, sizeof vb));
}

static int
on_defer_at(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], vb[CONF_SHOW_MAX + 1];
	const char *v;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if (strcmp(v, "rcpt") == 0 || strcmp(v, "data") == 0)
		return 0;
	return load_error(cur, line_of(cfg), "domain \"%s\": defer_at must be "
	    "rcpt or data, not \"%s\"", t, show(v, vb, sizeof vb));
}

static int
on_defer_reply(cfg_t *cfg, cfg_opt_t *opt)
{
	char t[CONF_SHOW_MAX + 1], why[200], out[REPLY_TEXT_MAX + 1];
	const char *v;

	if (domain_opt(cfg, opt, &v, t) < 0)
		return -1;
	if (reply_check(v, strlen(v), '4', why, sizeof why) < 0)
		return load_error(cur, line_of(cfg), "domain \"%s\": defer_reply "
		    "%s", t, why);
	if (reply_expand(v, strlen(v), cur->title_key, strlen(cur->title_key),
	    out, sizeof out) < 0)
		return load_error(cur, line_of(cfg), "domain \"%s\": defer_reply "
		    "is longer than %d octets once %%d is replaced", t,
		    REPLY_TEXT_MAX);
	return 0;
}

static struct policy_domain *
domain_build(struct load *ld, cfg_t *sec)
{
	struct policy_domain *d = calloc(1, sizeof *d);
	const char *at = cfg_getstr(sec, "defer_at");
	const char *reply = cfg_getstr(sec, "defer_reply");
	const char *why;

	if (d == NULL)
		return NULL;
	d->state = DOMAIN_LIMBO; /* the only state on_state() lets through */
	d->defer_at = (at != NULL && strcmp(at, "data") == 0) ?
	    DEFER_AT_DATA : DEFER_AT_RCPT;
	d->config_line = ld->title_line;
	d->name = strdup(ld->title_key);
	d->name_utf8 = domain_utf8(ld->title_key, &why);
	if (reply != NULL)
		d->defer_reply = strdup(reply);
	if (d->name == NULL || d->name_utf8 == NULL ||
	    (reply != NULL && d->defer_reply == NULL)) {
		domain_free(d);
		return NULL;
	}
	return d;
}

/* A domain section is complete: name it (if empty) and add it. */
static int
on_domain(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	struct policy_domain *d;

	if (sec == NULL ||
	    domain_title(cur, sec, open_line_of(cur, line_of(cfg))) < 0)
		return -1;
	d = domain_build(cur, sec);
	if (d == NULL || domain_table_insert(cur->p->domains, d) < 0) {
		domain_free(d);
		return load_error(cur, line_of(cfg), "out of memory");
	}
	return 0;
}

/* ---- after the parse: build the snapshot ----------------------------- */

static int
copy_str(struct load *ld, char **dst, const char *src)
{
	if (src == NULL)
		return 0;
	if ((*dst = strdup(src)) == NULL)
		return load_error(ld, 0, "out of memory");
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
		return load_error(ld, 0, "listen is not set (for example "
		    "listen = { \"0.0.0.0:25\", \"[::]:25\" })");
	ld->p->listen = calloc(n, sizeof *ld->p->listen);
	if (ld->p->listen == NULL)
		return load_error(ld, 0, "out of memory");
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
		return load_error(ld, ld->tls_cert_line, "tls cert is set but tls "
		    "key is not");
	if (key != NULL && cert == NULL)
		return load_error(ld, ld->tls_key_line, "tls key is set but tls "
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

/* Replace every domain's reply template by its expansion (%d = key). */
static int
expand_replies(struct load *ld)
{
	char out[REPLY_TEXT_MAX + 1];
	size_t i, n = domain_table_count(ld->p->domains);

	if (n == 0)
		return load_error(ld, 0, "no domain configured");
	for (i = 0; i < n; i++) {
		struct policy_domain *d = domain_table_at(ld->p->domains, i);
		const char *t = d->defer_reply ? d->defer_reply :
		    ld->p->default_defer_reply;

		if (reply_expand(t, strlen(t), d->name, strlen(d->name), out,
		    sizeof out) < 0)
			return load_error(ld, ld->default_reply_line,
			    "default_defer_reply is longer than %d octets once %%d "
			    "is replaced by %s", REPLY_TEXT_MAX, d->name);
		free(d->defer_reply);
		if ((d->defer_reply = strdup(out)) == NULL)
			return load_error(ld, 0, "out of memory");
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
		return load_error(ld, 0, "out of memory");
	build_limits(&p->limits, cfg_getsec(root, "limits"));
	return expand_replies(ld);
}

/* ---- libconfuse option tables ----------------------------------------- */

#define OPT_STR(n, cb) \
	{ .name = (n), .type = CFGT_STR, .flags = CFGF_NODEFAULT, .validcb = (cb) }
#define OPT_LIMIT(n, d) \
	{ .name = (n), .type = CFGT_INT, .def.number = (d), .parsecb = parse_limit }

static cfg_t *
conf_init(void)
{
	cfg_opt_t tls_opts[] = {
		OPT_STR("cert", on_tls_file),
		OPT_STR("key", on_tls_file),
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
	cfg_opt_t domain_opts[] = {
		OPT_STR("state", on_state),
		OPT_STR("defer_at", on_defer_at),
		OPT_STR("defer_reply", on_defer_reply),
		CFG_END()
	};
	cfg_opt_t opts[] = {
		{ .name = "listen", .type = CFGT_STR,
		  .flags = CFGF_LIST | CFGF_NODEFAULT, .validcb = on_listen },
		OPT_STR("hostname", on_hostname),
		OPT_STR("attempt_log", on_attempt_log),
		OPT_STR("user", on_user),
		OPT_STR("default_defer_reply", on_default_reply),
		{ .name = "tls", .type = CFGT_SEC, .subopts = tls_opts },
		{ .name = "limits", .type = CFGT_SEC, .subopts = limit_opts },
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
		return load_error(ld, 0, "out of memory");
	ld->root = root;
	cur = ld;
	rc = cfg_parse_buf(root, text);
	if (rc != CFG_SUCCESS && !ld->failed)
		load_error(ld, line_of(root), "syntax error");
	if (rc == CFG_SUCCESS)
		rc = build(ld, root);
	cur = NULL;
	ld->root = NULL;
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
	if ((text = read_file(&ld, &len)) == NULL)
		return -1;
	ld.p = calloc(1, sizeof *ld.p);
	if (ld.p == NULL || (ld.p->domains = domain_table_new()) == NULL ||
	    (ld.p->path = strdup(path)) == NULL)
		load_error(&ld, 0, "out of memory");
	else if (prepare(&ld, text, &len) == 0)
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
