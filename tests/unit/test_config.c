/*
 * test_config.c - policy_load() and the reply checks it relies on.
 *
 * Good files: conf/demo.conf, conf/cutoverd.conf, the example in README.md
 * (all three are the documentation, so they must load), and a file that
 * uses every bit of syntax.  Bad files: a table of texts, each written to a
 * temporary file and loaded, each with the exact one-line error it must
 * give, "FILE:LINE: what is wrong" (or "FILE: what is wrong").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "domain_table.h"
#include "policy.h"
#include "reply_check.h"

#define CONF_DIR TEST_SOURCE_DIR "/../conf"

static char tmp_path[64];

static int
setup(void **state)
{
	int fd;

	snprintf(tmp_path, sizeof tmp_path, "/tmp/test_config.XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	unlink(tmp_path);
	return 0;
}

static void
write_tmp(const char *text, size_t len)
{
	FILE *f = fopen(tmp_path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct policy *
load_ok(const char *path)
{
	struct policy *p = NULL;
	char err[512] = "";

	if (policy_load(path, &p, err, sizeof err) < 0)
		print_error("%s\n", err);
	assert_non_null(p);
	assert_string_equal(err, "");
	assert_int_equal(p->refs, 1);
	assert_string_equal(p->path, path);
	return p;
}

static const struct policy_domain *
find(const struct policy *p, const char *name)
{
	const struct policy_domain *d = policy_domain_find(p, name, strlen(name));

	assert_non_null(d);
	return d;
}

static void
assert_default_limits(const struct policy_limits *l)
{
	assert_int_equal(l->max_connections, DEFAULT_MAX_CONNECTIONS);
	assert_int_equal(l->per_ip, DEFAULT_PER_IP);
	assert_int_equal(l->max_recipients, DEFAULT_MAX_RECIPIENTS);
	assert_int_equal(l->max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
	assert_int_equal(l->max_line_length, DEFAULT_MAX_LINE_LENGTH);
	assert_int_equal(l->max_errors, DEFAULT_MAX_ERRORS);
	assert_int_equal(l->command_timeout, DEFAULT_COMMAND_TIMEOUT);
	assert_int_equal(l->data_timeout, DEFAULT_DATA_TIMEOUT);
	assert_int_equal(l->backlog, DEFAULT_BACKLOG);
}

/* ---- the shipped files -------------------------------------------------- */

static void
test_demo_conf(void **state)
{
	struct policy *p = load_ok(CONF_DIR "/demo.conf");
	const struct policy_domain *com, *org;

	assert_int_equal(p->nlisten, 1);
	assert_string_equal(p->listen[0], "127.0.0.1:2525");
	assert_string_equal(p->hostname, "mx-cutover.demo.invalid");
	assert_string_equal(p->attempt_log, "/tmp/cutover-demo/attempts.jsonl");
	assert_null(p->user);
	assert_null(p->tls_cert);
	assert_null(p->tls_key);
	assert_default_limits(&p->limits);
	assert_int_equal(policy_domain_count(p), 2);
	com = find(p, "example.com");
	org = find(p, "example.org");
	assert_int_equal(com->state, DOMAIN_LIMBO);
	assert_int_equal(com->defer_at, DEFER_AT_RCPT);
	assert_string_equal(com->defer_reply, "451 4.3.2 example.com is moving "
	    "to a new mail system, please retry later");
	assert_int_equal(org->state, DOMAIN_LIMBO);
	assert_int_equal(org->defer_at, DEFER_AT_DATA);
	assert_string_equal(org->defer_reply, "451 4.3.2 example.org is moving, "
	    "please retry in an hour");
	policy_unref(p);
}

static void
test_reference_conf(void **state)
{
	struct policy *p = load_ok(CONF_DIR "/cutoverd.conf");
	const struct policy_domain *d;

	assert_int_equal(p->nlisten, 2);
	assert_string_equal(p->listen[0], "0.0.0.0:25");
	assert_string_equal(p->listen[1], "[::]:25");
	assert_string_equal(p->hostname, "mx-cutover.example.net");
	assert_string_equal(p->attempt_log, "/var/log/cutover/attempts.jsonl");
	assert_string_equal(p->user, "cutover");
	assert_null(p->tls_cert);       /* the example's tls { } is commented out */
	assert_null(p->tls_key);
	assert_string_equal(p->default_defer_reply, DEFAULT_DEFER_REPLY);
	assert_default_limits(&p->limits);
	assert_int_equal(policy_domain_count(p), 2);
	d = find(p, "example.com");
	assert_string_equal(d->defer_reply,
	    "451 4.3.2 example.com is moving, please retry later");
	d = find(p, "xn--mnchen-3ya.example");
	assert_string_equal(d->name_utf8, "m\xc3\xbcnchen.example");
	assert_int_equal(d->defer_at, DEFER_AT_DATA);
	policy_unref(p);
}

/* The first ``` block after "## Configuration" in README.md. */
static void
test_readme_example(void **state)
{
	FILE *f = fopen(TEST_SOURCE_DIR "/../README.md", "r");
	char line[1024], text[8192] = "";
	int in = 0;
	size_t len = 0;
	struct policy *p;

	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL && in < 3) {
		if (in == 0 && strncmp(line, "## Configuration", 16) == 0)
			in = 1;
		else if (in >= 1 && strncmp(line, "```", 3) == 0)
			in++;
		else if (in == 2 && len + strlen(line) < sizeof text)
			len += (size_t)snprintf(text + len, sizeof text - len, "%s", line);
	}
	fclose(f);
	assert_int_equal(in, 3);
	write_tmp(text, len);
	p = load_ok(tmp_path);
	assert_int_equal(p->nlisten, 2);
	assert_string_equal(p->listen[1], "[::1]:2525");
	assert_string_equal(p->tls_key, "/etc/cutover/key.pem");
	assert_default_limits(&p->limits);
	assert_string_equal(find(p, "EXAMPLE.com.")->defer_reply,
	    "451 4.3.2 example.com is moving, please retry later");
	policy_unref(p);
}

/* Every piece of syntax: CRLF, comments of all kinds (in a list too),
 * quotes of both kinds, '#' and '//' inside values, +=, decimal limits. */
static const char syntax_text[] =
    "# comment\r\n"
    "listen = { \"127.0.0.1:25\", # first\r\n"
    "           \"[::1]:25\"     // second\r\n"
    "}\r\n"
    "listen += '192.0.2.1:2525' /* a third,\r\n"
    "   over two lines */\r\n"
    "hostname = MX.Example.NET\r\n"
    "attempt_log = /var/log//cutover#comment\r\n"
    "user = '_cutover'\r\n"
    "tls { cert = \"/etc/c#rt.pem\" key = '/etc/k\\'ey.pem' }\r\n"
    "limits {\r\n"
    "    max_connections = 010\r\n"
    "    per_ip = 1\r\n"
    "    max_recipients = 2\r\n"
    "    max_message_size = 2147483647\r\n"
    "    max_line_length = 65536\r\n"
    "    max_errors = 3\r\n"
    "    command_timeout = 4\r\n"
    "    data_timeout = 86400\r\n"
    "    backlog = 65535\r\n"
    "}\r\n"
    "default_defer_reply = \"451 4.3.2 %d: 100%% moving\"\r\n"
    "domain \"example.com\" { }\r\n"
    "domain example.net { state = \"limbo\" defer_at = rcpt }\r\n";

static void
test_syntax(void **state)
{
	struct policy *p;

	write_tmp(syntax_text, sizeof syntax_text - 1);
	p = load_ok(tmp_path);
	assert_int_equal(p->nlisten, 3);
	assert_string_equal(p->listen[0], "127.0.0.1:25");
	assert_string_equal(p->listen[1], "[::1]:25");
	assert_string_equal(p->listen[2], "192.0.2.1:2525");
	assert_string_equal(p->hostname, "MX.Example.NET");
	assert_string_equal(p->attempt_log, "/var/log//cutover");
	assert_string_equal(p->user, "_cutover");
	assert_string_equal(p->tls_cert, "/etc/c#rt.pem");
	assert_string_equal(p->tls_key, "/etc/k'ey.pem");
	assert_int_equal(p->limits.max_connections, 10);
	assert_int_equal(p->limits.per_ip, 1);
	assert_int_equal(p->limits.max_recipients, 2);
	assert_int_equal(p->limits.max_message_size, 2147483647);
	assert_int_equal(p->limits.max_line_length, 65536);
	assert_int_equal(p->limits.max_errors, 3);
	assert_int_equal(p->limits.command_timeout, 4);
	assert_int_equal(p->limits.data_timeout, 86400);
	assert_int_equal(p->limits.backlog, 65535);
	assert_string_equal(find(p, "example.com")->defer_reply,
	    "451 4.3.2 example.com: 100% moving");
	assert_string_equal(find(p, "example.net")->defer_reply,
	    "451 4.3.2 example.net: 100% moving");
	assert_int_equal(find(p, "example.net")->config_line, 24);
	policy_unref(p);
}

static void
test_default_hostname(void **state)
{
	static const char text[] = "listen = \"127.0.0.1:25\"\ndomain a.example {}\n";
	char host[256] = "";
	struct policy *p;

	write_tmp(text, sizeof text - 1);
	p = load_ok(tmp_path);
	assert_int_equal(gethostname(host, sizeof host - 1), 0);
	if (strchr(host, '.') != NULL)
		assert_string_equal(p->hostname, host);
	else
		assert_string_equal(p->hostname, DEFAULT_HOSTNAME_FALLBACK);
	assert_null(p->attempt_log);
	assert_string_equal(p->default_defer_reply, DEFAULT_DEFER_REPLY);
	policy_unref(p);
}

static void
test_refs(void **state)
{
	struct policy *p = load_ok(CONF_DIR "/demo.conf");

	assert_ptr_equal(policy_ref(p), p);
	assert_int_equal(p->refs, 2);
	policy_unref(p);
	assert_int_equal(p->refs, 1);
	policy_unref(p);
	policy_unref(NULL);
}

/* ---- bad files ------------------------------------------------------------ */

#define L "listen = { \"127.0.0.1:25\" }\n"
#define D "domain \"example.com\" { state = limbo }\n"
#define DOM(body) L "domain \"example.com\" {\n" body "\n}\n"
#define D45 "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d " \
    "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d"
#define LONGNAME "a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a123456789a123456789a123456789.com"

struct bad_case {
	const char *text;
	const char *want; /* what follows the file name */
};

static const struct bad_case bad_cases[] = {
	/* libconfuse's own: unknown option, syntax */
	{ L D "foo = 1\n", ":3: no such option 'foo'" },
	{ DOM("  bar = 2"), ":3: no such option 'bar'" },
	{ L D "include(\"/etc/passwd\")\n", ":3: no such option 'include'" },
	{ L D "hostname = \n", ":3: premature end of file" },
	{ L D "limits {\n", ":3: { is not closed" },
	{ L "domain \"a.example\" {\n state = limbo\n\ndomain \"b.example\" { }\n", ":2: { is not closed" },
	{ "listen = {\n \"127.0.0.1:25\",\n" D, ":1: { is not closed" },
	{ L D "limits { max_errors = 3 } }\n", ":3: unexpected closing brace" },
	{ L D "hostname \"x\"\n", ":3: missing equal sign after option 'hostname'" },
	{ L D "}\n", ":3: unexpected closing brace" },
	{ L D "\"domain=example.com|state\" = live\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L D "\"limits|per_ip\" = 7\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L D "\"tls|cert\" = \"/c\"\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L D "\"domain|state\" = live\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L "\"domain|state\" = live\n" D, ":2: no sub-section title/index for 'domain'" },
	{ L D "limits { max_errors = 3 = 4 }\n", ":3: unexpected token '='" },
	/* lexical checks done before libconfuse */
	{ L D "hostname = \"unclosed\n\n", ":3: quoted string is not closed" },
	{ L D "\nuser = 'unclosed\n", ":4: quoted string is not closed" },
	{ L D "/* open\n\ncomment\n", ":3: /* comment is not closed" },
	{ L D "user = ${USER}\n", ":3: ${...} (environment substitution) is not supported" },
	{ L D "user = \"${USER}\"\n", ":3: ${...} (environment substitution) is not supported" },
	/* the line numbers stay right after comments of every kind */
	{ L "# c\n# d\n// e\n/* f\n g */\n" "domain \"example.com\" { # x\n state = live # y\n}\n",
	  ":8: domain \"example.com\": state live is not supported yet (only limbo)" },
	/* domain state, defer_at, defer_reply */
	{ DOM(" state = live"), ":3: domain \"example.com\": state live is not supported yet (only limbo)" },
	{ DOM(" state = hold"), ":3: domain \"example.com\": state hold is not supported yet (only limbo)" },
	{ DOM(" state = gone"), ":3: domain \"example.com\": unknown state \"gone\" (limbo, live or hold)" },
	/* a value over two lines is reported where it ends */
	{ DOM(" state = limbo\n state = \"a\nb\""), ":5: domain \"example.com\": unknown state \"a?b\" (limbo, live or hold)" },
	{ DOM(" defer_at = never"), ":3: domain \"example.com\": defer_at must be rcpt or data, not \"never\"" },
	{ DOM(" defer_reply = \"550 5.7.1 no\""), ":3: domain \"example.com\": defer_reply must be a 4xx reply, not 550" },
	{ DOM(" defer_reply = \"451 5.7.1 no\""), ":3: domain \"example.com\": defer_reply enhanced status code class 5 does not match reply code 451" },
	{ DOM(" defer_reply = \"451 4.7.1\""), ":3: domain \"example.com\": defer_reply needs a text after the enhanced status code" },
	{ DOM(" defer_reply = \"451 4.7 x\""), ":3: domain \"example.com\": defer_reply has a malformed enhanced status code (class.subject.detail, 1 to 3 digits each)" },
	{ DOM(" defer_reply = \"451 4.7.1 50% off\""), ":3: domain \"example.com\": defer_reply has % at offset 12: only %d (the domain) and %% are allowed" },
	{ DOM(" defer_reply = \"451 4.7.1 a\\tb\""), ":3: domain \"example.com\": defer_reply has a byte that is not printable ASCII at offset 11" },
	{ DOM(" defer_reply = \"451 4.3.2 " D45 "\""), ":3: domain \"example.com\": defer_reply is longer than 510 octets once %d is replaced" },
	{ L D "default_defer_reply = \"550 5.0.0 x\"\n", ":3: default_defer_reply must be a 4xx reply, not 550" },
	{ L D "\ndefault_defer_reply = \"451 4.3.2 " D45 "\"\n", ":4: default_defer_reply is longer than 510 octets once %d is replaced by example.com" },
	/* domain names, reported at the opening brace */
	{ L "domain \"xn--zz.example\" {\n}\n", ":2: domain \"xn--zz.example\": string contains invalid punycode data" },
	{ L "domain \"\" { state = limbo }\n", ":2: domain \"\" is empty" },
	{ L "domain \".\" { state = limbo }\n", ":2: domain \".\" is empty" },
	{ L "domain \"a_b.example\"\n{\n state = limbo\n}\n", ":3: domain \"a_b.example\" contains a character other than a letter, digit, hyphen or dot" },
	{ L "domain \"a_b.example\" {\n\n}\n", ":2: domain \"a_b.example\" contains a character other than a letter, digit, hyphen or dot" },
	{ L "limits {\n} domain \"a_b.example\" {\n}\n", ":3: domain \"a_b.example\" contains a character other than a letter, digit, hyphen or dot" },
	/* two pairs close on line 3, opened on lines 2 and 3: "}" it is */
	{ L "limits {\n} domain \"a_b.example\" { }\n", ":3: domain \"a_b.example\" contains a character other than a letter, digit, hyphen or dot" },
	{ L "limits {\n max_errors = 1 } domain \"a.example\" {\n}\ndomain \"A.example\" {\n}\n", ":5: domain \"A.example\" is configured twice (first at line 3)" },
	{ L "domain \"exa mple.com\" { state = limbo }\n", ":2: domain \"exa mple.com\" contains a character other than a letter, digit, hyphen or dot" },
	{ L "domain \"\xff.example\" { }\n", ":2: domain \"\xff.example\" string encoding error" },
	{ L "domain \"" LONGNAME "\" { }\n", ":2: domain \"a123456789a123456789a123456789a123456789a123456789.a123456789a123456789a12345678\" is longer than 253 octets" },
	{ L "domain \"a\nb\" { }\n", ":3: domain \"a?b\" contains a character other than a letter, digit, hyphen or dot" },
	/* duplicates, in any spelling */
	{ L D "\ndomain \"Example.COM.\" {\n state = limbo\n}\n", ":4: domain \"Example.COM.\" is configured twice (first at line 2)" },
	{ L D "\n\ndomain \"example.com\" {\n}\n", ":5: domain \"example.com\" is configured twice (first at line 2)" },
	{ L "domain \"m\xc3\xbcnchen.example\" { }\n\n\ndomain \"xn--mnchen-3ya.example\" {\n}\n",
	  ":5: domain \"xn--mnchen-3ya.example\" is configured twice (first at line 2)" },
	{ L "domain \"xn--mnchen-3ya.example\" { }\ndomain \"M\xc3\x9cNCHEN.example\" { }\n",
	  ":3: domain \"M\xc3\x9cNCHEN.example\" is configured twice (first at line 2)" },
	/* whole-file checks: no line */
	{ L, ": no domain configured" },
	{ "# nothing\n", ": listen is not set (for example listen = { \"0.0.0.0:25\", \"[::]:25\" })" },
	{ "", ": listen is not set (for example listen = { \"0.0.0.0:25\", \"[::]:25\" })" },
	{ "listen = { }\n" D, ": listen is not set (for example listen = { \"0.0.0.0:25\", \"[::]:25\" })" },
	/* listen */
	{ "listen = { \"127.0.0.1\" }\n" D, ":1: listen \"127.0.0.1\" has no :port" },
	{ "listen = { \"localhost:25\" }\n" D, ":1: listen \"localhost:25\" needs an IPv4 address or [IPv6-address] before the port" },
	{ "listen = { \"::1:25\" }\n" D, ":1: listen \"::1:25\" needs brackets around an IPv6 address: [addr]:port" },
	{ "listen = { \"[::1]:0\" }\n" D, ":1: listen \"[::1]:0\" needs a port from 1 to 65535" },
	{ "listen = { \"[::1]:65536\" }\n" D, ":1: listen \"[::1]:65536\" needs a port from 1 to 65535" },
	{ "listen = { \"1.2.3.4:\" }\n" D, ":1: listen \"1.2.3.4:\" needs a port from 1 to 65535" },
	{ "listen = { \"1.2.3.4:+25\" }\n" D, ":1: listen \"1.2.3.4:+25\" needs a port from 1 to 65535" },
	{ "listen = { \"1.2.3.4:000025\" }\n" D, ":1: listen \"1.2.3.4:000025\" needs a port from 1 to 65535" },
	{ "listen = { \"[::g]:25\" }\n" D, ":1: listen \"[::g]:25\" has a bad IPv6 address" },
	{ "listen = { \"[::1]25\" }\n" D, ":1: listen \"[::1]25\" is not [IPv6-address]:port" },
	{ "listen = { \"[::1\" }\n" D, ":1: listen \"[::1\" is not [IPv6-address]:port" },
	{ "listen = { \"[1111:2222:3333:4444:5555:6666:255.255.255.255:1]:25\" }\n" D,
	  ":1: listen \"[1111:2222:3333:4444:5555:6666:255.255.255.255:1]:25\" has an address that is too long" },
	{ "listen = { \"127.0.0.1:25\",\n  \"1.2.3.4.5:25\" }\n" D, ":2: listen \"1.2.3.4.5:25\" needs an IPv4 address or [IPv6-address] before the port" },
	/* limits */
	{ L D "limits {\n max_line_length = 100\n}\n", ":4: limits max_line_length must be a whole number from 512 to 65536, not \"100\"" },
	{ L D "limits {\n max_line_length = 65537\n}\n", ":4: limits max_line_length must be a whole number from 512 to 65536, not \"65537\"" },
	{ L D "limits {\n max_errors = 0\n}\n", ":4: limits max_errors must be a whole number from 1 to 1000, not \"0\"" },
	{ L D "limits {\n per_ip = 12x\n}\n", ":4: limits per_ip must be a whole number from 1 to 1000000, not \"12x\"" },
	{ L D "limits {\n max_connections = \"\"\n}\n", ":4: limits max_connections must be a whole number from 1 to 1000000, not \"\"" },
	{ L D "limits {\n max_message_size = 99999999999999999999999\n}\n", ":4: limits max_message_size must be a whole number from 1 to 2147483647, not \"99999999999999999999999\"" },
	{ L D "limits {\n backlog = -1\n}\n", ":4: limits backlog must be a whole number from 1 to 65535, not \"-1\"" },
	{ L D "limits {\n max_recipients = 0x10\n}\n", ":4: limits max_recipients must be a whole number from 1 to 100000, not \"0x10\"" },
	{ L D "limits {\n command_timeout = 86401\n}\n", ":4: limits command_timeout must be a whole number from 1 to 86400, not \"86401\"" },
	{ L D "limits {\n data_timeout = 0\n}\n", ":4: limits data_timeout must be a whole number from 1 to 86400, not \"0\"" },
	/* tls */
	{ L D "tls {\n cert = \"/a\"\n}\n", ":4: tls cert is set but tls key is not" },
	{ L D "tls {\n\n key = \"/a\"\n}\n", ":5: tls key is set but tls cert is not" },
	{ L D "tls {\n cert = \"\"\n key = \"/k\"\n}\n", ":4: tls cert is empty" },
	{ L D "tls {\n cert = \"/c\"\n key = \"/k\x01\"\n}\n", ":5: tls key contains a control character" },
	/* hostname, user, attempt_log */
	{ L D "hostname = \"a b\"\n", ":3: hostname \"a b\" contains a character other than a letter, digit, hyphen or dot" },
	{ L D "hostname = \"mx.example.\"\n", ":3: hostname \"mx.example.\" has an empty label" },
	{ L D "hostname = \"\"\n", ":3: hostname \"\" is empty" },
	{ L D "hostname = \"mx\\r\\n250 injected\"\n", ":3: hostname \"mx??250 injected\" contains a character other than a letter, digit, hyphen or dot" },
	{ L D "user = \"a:b\"\n", ":3: user \"a:b\" is not a valid user name (letters, digits, . _ -; up to 32)" },
	{ L D "user = \"\"\n", ":3: user \"\" is not a valid user name (letters, digits, . _ -; up to 32)" },
	{ L D "user = \"-x\"\n", ":3: user \"-x\" is not a valid user name (letters, digits, . _ -; up to 32)" },
	{ L D "user = \"abcdefghijabcdefghijabcdefghijabc\"\n", ":3: user \"abcdefghijabcdefghijabcdefghijabc\" is not a valid user name (letters, digits, . _ -; up to 32)" },
	{ L D "attempt_log = \"a\\nb\"\n", ":3: attempt_log contains a control character" },
};

static void
check_bad(const char *text, size_t len, const char *want, size_t row)
{
	struct policy *p = (struct policy *)&p;
	char err[512], full[1024];

	write_tmp(text, len);
	memset(err, 'x', sizeof err);
	if (policy_load(tmp_path, &p, err, sizeof err) == 0) {
		print_error("row %zu: loaded, want %s\n", row, want);
		policy_unref(p);
		fail();
	}
	assert_ptr_equal(p, (struct policy *)&p); /* untouched */
	snprintf(full, sizeof full, "%s%s", tmp_path, want);
	if (strcmp(err, full) != 0)
		print_error("row %zu: got  %s\n        want %s\n", row, err, full);
	assert_string_equal(err, full);
}

static void
test_bad_files(void **state)
{
	size_t i;

	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
		check_bad(bad_cases[i].text, strlen(bad_cases[i].text),
		    bad_cases[i].want, i);
}

static void
test_bad_bytes(void **state)
{
	static const char nul[] = L D "user = x\0y\n";
	char text[8192];
	int n;

	check_bad(nul, sizeof nul - 1, ":3: NUL byte in the file", 0);
	n = snprintf(text, sizeof text, L D "attempt_log = \"/%04096d\"\n", 0);
	assert_true(n > 0 && (size_t)n < sizeof text);
	check_bad(text, (size_t)n, ":3: attempt_log is longer than 4096 octets", 1);
}

/* Token limits: libconfuse's lexer is quadratic in one token's length. */
static void
test_long_tokens(void **state)
{
	static const char head[] = L D "\nuser = ";
	size_t n = sizeof head - 1;
	char *text = malloc(n + 70000 + 8);
	struct policy *p;

	assert_non_null(text);
	memcpy(text, head, n);
	memset(text + n, 'a', 65537);
	check_bad(text, n + 65537, ":4: a word or quoted string is longer than 65536 octets", 0);
	text[n] = '"';
	memcpy(text + n + 65537, "\"\n", 2);
	check_bad(text, n + 65539, ":4: a word or quoted string is longer than 65536 octets", 1);
	/* a long comment, long runs of blanks: gone before libconfuse */
	n = sizeof L D - 1;
	memcpy(text, L D, n);
	memset(text + n, ' ', 30000);
	memcpy(text + n + 30000, "# ", 2);
	memset(text + n + 30002, 'c', 39000);
	write_tmp(text, n + 69002);
	p = load_ok(tmp_path);
	assert_null(p->user);
	policy_unref(p);
	free(text);
}

/* A file of `size` octets: `text`, then spaces. */
static void
write_spaces(const char *path, long size, const char *text)
{
	static char spaces[65536];
	FILE *f = fopen(path, "wb");
	long done;

	assert_non_null(f);
	memset(spaces, ' ', sizeof spaces);
	for (done = 0; done < size; done += (long)sizeof spaces)
		assert_int_equal(fwrite(spaces, 1, sizeof spaces, f), sizeof spaces);
	assert_int_equal(done, size);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void
test_file_errors(void **state)
{
	struct policy *p = NULL;
	char err[512];
	FILE *f;

	assert_int_equal(policy_load("/nonexistent/cutover.conf", &p, err,
	    sizeof err), -1);
	assert_string_equal(err, "/nonexistent/cutover.conf: cannot open: "
	    "No such file or directory");
	assert_int_equal(policy_load("/tmp", &p, err, sizeof err), -1);
	assert_string_equal(err, "/tmp: cannot read: Is a directory");
	assert_null(p);

	f = fopen(tmp_path, "wb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 16L << 20, SEEK_SET), 0);
	assert_int_equal(fputc('\n', f), '\n');
	assert_int_equal(fclose(f), 0);
	assert_int_equal(policy_load(tmp_path, &p, err, sizeof err), -1);
	assert_string_equal(err + strlen(tmp_path), ": is larger than 16777216 octets");

	/* exactly at the limit is fine */
	write_spaces(tmp_path, 16L << 20, "listen = \"127.0.0.1:25\" domain a.example {}");
	p = load_ok(tmp_path);
	policy_unref(p);
}

static void
test_small_err_buffer(void **state)
{
	struct policy *p = NULL;
	char err[8];

	memset(err, 'x', sizeof err);
	assert_int_equal(policy_load("/nonexistent", &p, err, sizeof err), -1);
	assert_string_equal(err, "/nonexi");
	assert_int_equal(policy_load("/nonexistent", &p, NULL, 0), -1);
	assert_null(p);
}

/* ---- reply_check / reply_expand ------------------------------------------ */

struct reply_case {
	const char *reply;
	char class;
	const char *why;  /* NULL = valid */
};

static const struct reply_case reply_cases[] = {
	{ "451 4.3.2 moving", '4', NULL },
	{ "421 4.7.0 x", '4', NULL },
	{ "250 2.1.5 ok", '2', NULL },
	{ "554 5.999.999 no", 0, NULL },
	{ "451 4.3.2 %d and %%", '4', NULL },
	{ "451 4.3.2  ", '4', NULL },
	{ "", 0, "does not start with a 2xx, 4xx or 5xx reply code" },
	{ "45", 0, "does not start with a 2xx, 4xx or 5xx reply code" },
	{ "351 3.0.0 x", 0, "does not start with a 2xx, 4xx or 5xx reply code" },
	{ "4a1 4.0.0 x", 0, "does not start with a 2xx, 4xx or 5xx reply code" },
	{ "451", 0, "needs a space after the reply code 451" },
	{ "451-4.3.2 x", 0, "needs a space after the reply code 451" },
	{ "550 5.7.1 no", '4', "must be a 4xx reply, not 550" },
	{ "451 x", '4', "needs an enhanced status code (RFC 3463) such as 4.3.2 after the reply code" },
	{ "451 3.3.2 x", '4', "needs an enhanced status code (RFC 3463) such as 4.3.2 after the reply code" },
	{ "451 4", '4', "needs an enhanced status code (RFC 3463) such as 4.3.2 after the reply code" },
	{ "451 5.3.2 x", '4', "enhanced status code class 5 does not match reply code 451" },
	{ "451 4..2 x", '4', "has a malformed enhanced status code (class.subject.detail, 1 to 3 digits each)" },
	{ "451 4.1234.2 x", '4', "has a malformed enhanced status code (class.subject.detail, 1 to 3 digits each)" },
	{ "451 4.3", '4', "has a malformed enhanced status code (class.subject.detail, 1 to 3 digits each)" },
	{ "451 4.3.", '4', "has a malformed enhanced status code (class.subject.detail, 1 to 3 digits each)" },
	{ "451 4.3.2222 x", '4', "has a malformed enhanced status code (class.subject.detail, 1 to 3 digits each)" },
	{ "451 4.3.2", '4', "needs a text after the enhanced status code" },
	{ "451 4.3.2 ", '4', "needs a text after the enhanced status code" },
	{ "451 4.3.2x", '4', "needs a text after the enhanced status code" },
	{ "451 4.3.2 50%", '4', "has % at offset 12: only %d (the domain) and %% are allowed" },
	{ "451 4.3.2 %s", '4', "has % at offset 10: only %d (the domain) and %% are allowed" },
	{ "451 4.3.2 a\r\n", '4', "has a byte that is not printable ASCII at offset 11" },
	{ "451 4.3.2 \xc3\xa4", '4', "has a byte that is not printable ASCII at offset 10" },
	{ "451 4.3.2 \x7f", '4', "has a byte that is not printable ASCII at offset 10" },
};

static void
test_reply_check(void **state)
{
	char err[200], big[600];
	size_t i;

	for (i = 0; i < sizeof reply_cases / sizeof reply_cases[0]; i++) {
		const struct reply_case *c = &reply_cases[i];
		int rc;

		strcpy(err, "unset");
		rc = reply_check(c->reply, strlen(c->reply), c->class, err, sizeof err);
		if (rc != (c->why ? -1 : 0))
			print_error("row %zu: %s\n", i, err);
		assert_int_equal(rc, c->why ? -1 : 0);
		assert_string_equal(err, c->why ? c->why : "unset");
	}
	memset(big, 'x', sizeof big);
	memcpy(big, "451 4.3.2 ", 10);
	assert_int_equal(reply_check(big, 510, '4', err, sizeof err), 0);
	assert_int_equal(reply_check(big, 511, '4', err, sizeof err), -1);
	assert_string_equal(err, "is 511 octets long, the limit is 510 (512 with CRLF)");
	assert_int_equal(reply_check(big, 511, '4', err, 0), -1);
	assert_int_equal(reply_check(big, 511, '4', err, 6), -1);
	assert_string_equal(err, "is 51");
}

struct expand_case {
	const char *tmpl;
	const char *domain;
	size_t buflen;
	int want;
	const char *out;
};

static const struct expand_case expand_cases[] = {
	{ "451 4.3.2 %d moving", "example.com", 64, 28, "451 4.3.2 example.com moving" },
	{ "%d%d", "ab", 64, 4, "abab" },
	{ "100%%", "x", 64, 4, "100%" },
	{ "", "x", 1, 0, "" },
	{ "abc", "x", 4, 3, "abc" },
	{ "abc", "x", 3, -1, "" },
	{ "a%d", "xyz", 5, 4, "axyz" },
	{ "a%d", "xyz", 4, -1, "" },
	{ "a%s", "x", 64, -1, "" },
	{ "a%", "x", 64, -1, "" },
};

static void
test_reply_expand(void **state)
{
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof expand_cases / sizeof expand_cases[0]; i++) {
		const struct expand_case *c = &expand_cases[i];

		memset(buf, 'q', sizeof buf);
		assert_int_equal(reply_expand(c->tmpl, strlen(c->tmpl), c->domain,
		    strlen(c->domain), buf, c->buflen), c->want);
		assert_string_equal(buf, c->out);
	}
	assert_int_equal(reply_expand("x", 1, "d", 1, buf, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_conf),
		cmocka_unit_test(test_reference_conf),
		cmocka_unit_test_setup_teardown(test_readme_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_hostname, setup, teardown),
		cmocka_unit_test(test_refs),
		cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
		cmocka_unit_test(test_small_err_buffer),
		cmocka_unit_test(test_reply_check),
		cmocka_unit_test(test_reply_expand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
