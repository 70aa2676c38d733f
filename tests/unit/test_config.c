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

#include "addrmap.h"
#include "domain_table.h"
#include "overrides.h"
#include "policy.h"
#include "reply_check.h"

#define CONF_DIR TEST_SOURCE_DIR "/../conf"
#define FIX TEST_SOURCE_DIR "/unit/fixtures/"

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

static void
assert_default_relay(const struct policy_relay *r)
{
	assert_null(r->resolver);
	assert_null(r->ca_file);
	assert_string_equal(r->spill_dir, DEFAULT_RELAY_SPILL_DIR);
	assert_int_equal(r->spill_threshold, DEFAULT_RELAY_SPILL_THRESHOLD);
	assert_int_equal(r->connect_timeout, DEFAULT_RELAY_CONNECT_TIMEOUT);
	assert_int_equal(r->reply_timeout, DEFAULT_RELAY_REPLY_TIMEOUT);
	assert_int_equal(r->data_timeout, DEFAULT_RELAY_DATA_TIMEOUT);
	assert_int_equal(r->idle_time, DEFAULT_RELAY_IDLE_TIME);
	assert_int_equal(r->per_hop_connections, DEFAULT_RELAY_PER_HOP);
}

/* auth { } left out (or all commented): hostname and relay's resolver. */
static void
assert_default_auth(const struct policy *p)
{
	const struct policy_auth *a = &p->auth;

	assert_true(a->enabled);
	assert_string_equal(a->authserv_id, p->hostname);
	if (p->relay.resolver == NULL)
		assert_null(a->resolver);
	else
		assert_string_equal(a->resolver, p->relay.resolver);
	assert_int_equal(a->workers, DEFAULT_AUTH_WORKERS);
	assert_int_equal(a->timeout, DEFAULT_AUTH_TIMEOUT);
	assert_int_equal(a->dns_timeout, DEFAULT_AUTH_DNS_TIMEOUT);
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
	assert_default_auth(p);
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
	assert_default_relay(&p->relay);
	assert_default_auth(p);
	assert_string_equal(p->auth.authserv_id, "mx-cutover.example.net");
	assert_int_equal(policy_domain_count(p), 3);
	d = find(p, "example.com");
	assert_string_equal(d->defer_reply,
	    "451 4.3.2 example.com is moving, please retry later");
	assert_int_equal(d->state, DOMAIN_LIMBO);
	assert_string_equal(d->relay, "[192.0.2.25]:25");
	assert_int_equal(d->relay_tls, RELAY_TLS_MAY);
	assert_null(d->recipient_map);   /* commented out in the example */
	assert_int_equal(overrides_count(d->overrides), 1);
	assert_int_equal(overrides_find(d->overrides, "early.adopter", 13)->state,
	    DOMAIN_LIVE);
	d = find(p, "xn--mnchen-3ya.example");
	assert_string_equal(d->name_utf8, "m\xc3\xbcnchen.example");
	assert_int_equal(d->defer_at, DEFER_AT_DATA);
	assert_null(d->relay);
	d = find(p, "example.net");
	assert_int_equal(d->state, DOMAIN_LIVE);
	assert_string_equal(d->relay, "example-net.mail.tenant.example");
	assert_int_equal(d->relay_tls, RELAY_TLS_VERIFY);
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

/* ---- live: relay, maps, recipient overrides, the relay { } section ------ */

static const char live_text[] =
    "listen = \"127.0.0.1:25\"\n"
    "relay {\n"
    "    resolver = \"::1@5353\"\n"
    "    ca_file = \"" FIX "ca.pem\"\n"
    "    spill_dir = \"" FIX "\"\n"
    "    spill_threshold = 1\n"
    "    connect_timeout = 2\n"
    "    reply_timeout = 3\n"
    "    data_timeout = 4\n"
    "    idle_time = 5\n"
    "    per_hop_connections = 6\n"
    "}\n"
    "domain \"live.example\" {\n"
    "    state = live\n"
    "    relay = \"[192.0.2.25]:2525\"\n"
    "    relay_tls = verify\n"
    "    recipient_map = \"" FIX "recipient.map\"\n"
    "    sender_map = \"" FIX "sender.map\"\n"
    "    recipient \"Stay@LIVE.example\" { state = limbo }\n"
    "}\n"
    "domain \"m\xc3\xbcnchen.example\" {\n"
    "    recipient \"j\xc3\xb6rg@xn--mnchen-3ya.example\" { state = live }\n"
    "    recipient \"anna@M\xc3\x9cNCHEN.example.\" {\n"
    "        state = limbo\n"
    "    }\n"
    "    relay = \"mx.tenant.example:2525\"\n"
    "    relay_tls = none\n"
    "}\n"
    "domain \"v6.example\" { relay = \"[::1]:25\" relay_tls = encrypt }\n"
    "domain \"name.example\" { relay = \"[MX.Tenant.example]:587\" state = live }\n"
    "domain \"limbo.example\" { }\n";

static void
check_override(const struct policy_domain *d, const char *local,
    enum domain_state st, unsigned line)
{
	const struct policy_override *ov = overrides_find(d->overrides, local,
	    strlen(local));

	assert_non_null(ov);
	assert_int_equal(ov->state, st);
	assert_int_equal(ov->line, line);
}

static void
test_live_conf(void **state)
{
	const struct policy_domain *d;
	struct policy *p;

	write_tmp(live_text, sizeof live_text - 1);
	p = load_ok(tmp_path);
	assert_string_equal(p->relay.resolver, "::1@5353");
	assert_string_equal(p->relay.ca_file, FIX "ca.pem");
	assert_string_equal(p->relay.spill_dir, FIX);
	assert_int_equal(p->relay.spill_threshold, 1);
	assert_int_equal(p->relay.connect_timeout, 2);
	assert_int_equal(p->relay.reply_timeout, 3);
	assert_int_equal(p->relay.data_timeout, 4);
	assert_int_equal(p->relay.idle_time, 5);
	assert_int_equal(p->relay.per_hop_connections, 6);
	assert_int_equal(p->limits.data_timeout, DEFAULT_DATA_TIMEOUT);

	d = find(p, "live.example");
	assert_int_equal(d->state, DOMAIN_LIVE);
	assert_string_equal(d->relay, "[192.0.2.25]:2525");
	assert_int_equal(d->relay_tls, RELAY_TLS_VERIFY);
	assert_string_equal(d->recipient_map_path, FIX "recipient.map");
	assert_string_equal(d->sender_map_path, FIX "sender.map");
	assert_int_equal(addrmap_count(d->recipient_map), 5);
	assert_int_equal(addrmap_count(d->sender_map), 1);
	assert_int_equal(overrides_count(d->overrides), 1);
	check_override(d, "stay", DOMAIN_LIMBO, 19);
	assert_null(overrides_find(d->overrides, "stay2", 5));

	d = find(p, "m\xc3\xbcnchen.example");
	assert_int_equal(d->state, DOMAIN_LIMBO);
	assert_string_equal(d->relay, "mx.tenant.example:2525");
	assert_int_equal(d->relay_tls, RELAY_TLS_NONE);
	assert_null(d->recipient_map);
	assert_null(d->recipient_map_path);
	assert_null(d->sender_map);
	assert_int_equal(overrides_count(d->overrides), 2);
	check_override(d, "J\xc3\xb6rg", DOMAIN_LIVE, 22);
	check_override(d, "ANNA", DOMAIN_LIMBO, 23);

	d = find(p, "v6.example");
	assert_int_equal(d->state, DOMAIN_LIMBO);
	assert_string_equal(d->relay, "[::1]:25");
	assert_int_equal(d->relay_tls, RELAY_TLS_ENCRYPT);
	assert_null(d->overrides);
	d = find(p, "name.example");
	assert_int_equal(d->state, DOMAIN_LIVE);
	assert_int_equal(d->relay_tls, RELAY_TLS_MAY);
	d = find(p, "limbo.example");
	assert_null(d->relay);
	assert_int_equal(d->relay_tls, RELAY_TLS_MAY);
	policy_unref(p);
}

static void
test_relay_defaults(void **state)
{
	static const char text[] = "listen = \"127.0.0.1:25\"\n"
	    "relay { resolver = 192.0.2.53 }\ndomain a.example {}\n";
	struct policy *p = load_ok(CONF_DIR "/demo.conf");

	assert_default_relay(&p->relay);
	policy_unref(p);
	write_tmp(text, sizeof text - 1);
	p = load_ok(tmp_path);
	assert_string_equal(p->relay.resolver, "192.0.2.53");
	assert_int_equal(p->relay.idle_time, DEFAULT_RELAY_IDLE_TIME);
	policy_unref(p);
}

struct auth_case {
	const char *text;         /* after listen and one domain */
	bool enabled;
	const char *authserv_id;  /* NULL: the text must not load */
	const char *resolver;     /* NULL = system */
	unsigned workers, timeout, dns_timeout;
};

#define AW DEFAULT_AUTH_WORKERS
#define AT DEFAULT_AUTH_TIMEOUT
#define AD DEFAULT_AUTH_DNS_TIMEOUT

static const struct auth_case auth_cases[] = {
	/* every option set */
	{ "hostname = mx.example.net\nrelay { resolver = \"::1@53\" }\n"
	  "auth {\n enabled = false\n authserv_id = \"Auth_1.example.org\"\n"
	  " resolver = \"127.0.0.1@5353\"\n workers = 64\n timeout = 3600\n"
	  " dns_timeout = 600\n}\n",
	  false, "Auth_1.example.org", "127.0.0.1@5353", 64, 3600, 600 },
	/* defaults: hostname, relay's resolver (in either order) */
	{ "hostname = mx.example.net\nrelay { resolver = \"::1@53\" }\n",
	  true, "mx.example.net", "::1@53", AW, AT, AD },
	{ "auth { workers = 1 }\nrelay { resolver = 192.0.2.53 }\n"
	  "hostname = mx2.example.net\n",
	  true, "mx2.example.net", "192.0.2.53", 1, AT, AD },
	{ "hostname = h.example\nauth { }\n", true, "h.example", NULL, AW, AT, AD },
	/* its own resolver wins over relay's; an IPv6 one in brackets is
	 * unbound's syntax, not ours */
	{ "hostname = h.example\nrelay { resolver = 192.0.2.1 }\n"
	  "auth { resolver = \"[::1]\" }\n", true, NULL, NULL, 0, 0, 0 },
	{ "hostname = h.example\nrelay { resolver = 192.0.2.1 }\n"
	  "auth { resolver = 192.0.2.2 enabled = yes timeout = 1 dns_timeout = 1 }\n",
	  true, "h.example", "192.0.2.2", AW, 1, 1 },
	/* the spellings of a boolean */
	{ "hostname = h.example\nauth { enabled = off }\n", false, "h.example", NULL, AW, AT, AD },
	{ "hostname = h.example\nauth { enabled = no }\n", false, "h.example", NULL, AW, AT, AD },
	{ "hostname = h.example\nauth { enabled = on }\n", true, "h.example", NULL, AW, AT, AD },
	{ "hostname = h.example\nauth { enabled = \"true\" }\n", true, "h.example", NULL, AW, AT, AD },
};

static void
test_auth_conf(void **state)
{
	char text[1024], err[512];
	size_t i;

	for (i = 0; i < sizeof auth_cases / sizeof auth_cases[0]; i++) {
		const struct auth_case *c = &auth_cases[i];
		struct policy *p = NULL;
		int n = snprintf(text, sizeof text, "listen = \"127.0.0.1:25\"\n"
		    "domain a.example {}\n%s", c->text);

		assert_true(n > 0 && (size_t)n < sizeof text);
		write_tmp(text, (size_t)n);
		if (c->authserv_id == NULL) {
			assert_int_equal(policy_load(tmp_path, &p, err, sizeof err), -1);
			assert_null(p);
			continue;
		}
		p = load_ok(tmp_path);
		assert_int_equal(p->auth.enabled, c->enabled);
		assert_string_equal(p->auth.authserv_id, c->authserv_id);
		if (c->resolver == NULL)
			assert_null(p->auth.resolver);
		else
			assert_string_equal(p->auth.resolver, c->resolver);
		assert_int_equal(p->auth.workers, c->workers);
		assert_int_equal(p->auth.timeout, c->timeout);
		assert_int_equal(p->auth.dns_timeout, c->dns_timeout);
		policy_unref(p);
	}
}

/* 100,000 recipient sections load in linear time (not libconfuse's
 * quadratic title search) and every one is found. */
static void
test_many_recipients(void **state)
{
	enum { N = 100000 };
	static const char head[] = "listen = \"127.0.0.1:25\"\n"
	    "domain \"big.example\" {\n relay = \"[127.0.0.1]:25\"\n";
	size_t cap = sizeof head + (size_t)N * 64, len = sizeof head - 1, i;
	char *text = malloc(cap), local[32];
	const struct policy_domain *d;
	struct policy *p;

	assert_non_null(text);
	memcpy(text, head, len);
	for (i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "recipient "
		    "\"User%zu@big.example\" { state = %s }\n", i,
		    i % 2 ? "live" : "limbo");
	len += (size_t)snprintf(text + len, cap - len, "}\n");
	assert_true(len < cap);
	write_tmp(text, len);
	free(text);
	p = load_ok(tmp_path);
	d = find(p, "big.example");
	assert_int_equal(overrides_count(d->overrides), N);
	for (i = 0; i < N; i++) {
		const struct policy_override *ov;

		snprintf(local, sizeof local, "user%zu", i);
		ov = overrides_find(d->overrides, local, strlen(local));
		assert_non_null(ov);
		assert_int_equal(ov->state, i % 2 ? DOMAIN_LIVE : DOMAIN_LIMBO);
		assert_int_equal(ov->line, i + 4);
	}
	assert_null(overrides_find(d->overrides, "user100000", 10));
	policy_unref(p);
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
	const char *want; /* what follows the file name; a map's own error
	                     (starting with '/') is the whole line */
};

#define RELAY_FORMS "(relay = \"[host]:port\", \"host\" or \"host:port\")"
#define RELAY(v) DOM(" relay = \"" v "\"")
#define RELAY_ERR(v) ":3: domain \"example.com\": relay \"" v "\" "
#define RCPT(t, body) DOM(" relay = \"mx.example.net\"\n recipient \"" t "\" {" body "}")
#define RCPT_ERR(t) ":4: domain \"example.com\": recipient \"" t "\" "
#define RSEC(body) L D "relay {\n" body "\n}\n"
#define ASEC(body) L D "auth {\n" body "\n}\n"
#define LONGNAME80 "a123456789a123456789a123456789a123456789a123456789." \
    "a123456789a123456789a12345678"

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
	{ L "# c\n# d\n// e\n/* f\n g */\n" "domain \"example.com\" { # x\n state = hold # y\n}\n",
	  ":8: domain \"example.com\": state hold is not supported yet (limbo or live)" },
	/* domain state, defer_at, defer_reply */
	{ DOM(" state = hold"), ":3: domain \"example.com\": state hold is not supported yet (limbo or live)" },
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
	/* live: a relay is needed, at the domain's line */
	{ DOM(" state = live"), ":2: domain \"example.com\": state live needs a relay " RELAY_FORMS },
	{ L D "domain \"example.org\"\n{\n state = live\n relay_tls = verify\n}\n",
	  ":4: domain \"example.org\": state live needs a relay " RELAY_FORMS },
	{ DOM(" state = limbo\n recipient \"a@example.com\" { state = limbo }\n recipient \"b@example.com\" {\n  state = live\n }"),
	  ":5: domain \"example.com\": a live recipient needs the domain's relay " RELAY_FORMS },
	/* relay syntax */
	{ RELAY(""), RELAY_ERR("") "has no host" },
	{ RELAY("[]:25"), RELAY_ERR("[]:25") "has no host" },
	{ RELAY(":25"), RELAY_ERR(":25") "has no host" },
	{ RELAY("[::1]"), RELAY_ERR("[::1]") "needs :port after [host]" },
	{ RELAY("[mx.example.net"), RELAY_ERR("[mx.example.net") "has [ without ]" },
	{ RELAY("[::1]x:25"), RELAY_ERR("[::1]x:25") "needs :port after [host]" },
	{ RELAY("[::1]:0"), RELAY_ERR("[::1]:0") "needs a port from 1 to 65535" },
	{ RELAY("mx.example.net:65536"), RELAY_ERR("mx.example.net:65536") "needs a port from 1 to 65535" },
	{ RELAY("mx.example.net:"), RELAY_ERR("mx.example.net:") "needs a port from 1 to 65535" },
	{ RELAY("mx.example.net:25x"), RELAY_ERR("mx.example.net:25x") "needs a port from 1 to 65535" },
	{ RELAY("192.0.2.1:25"), RELAY_ERR("192.0.2.1:25") "has an IP address, which needs brackets: \"[address]:port\"" },
	{ RELAY("192.0.2.1"), RELAY_ERR("192.0.2.1") "has an IP address, which needs brackets: \"[address]:port\"" },
	{ RELAY("::1:25"), RELAY_ERR("::1:25") "needs brackets around an IPv6 address: \"[address]:port\"" },
	{ RELAY("[::g]:25"), RELAY_ERR("[::g]:25") "has a bad IPv6 address inside [ ]" },
	{ RELAY("[a_b.example]:25"), RELAY_ERR("[a_b.example]:25") "contains a character other than a letter, digit, hyphen or dot" },
	{ RELAY("mx example"), RELAY_ERR("mx example") "contains a character other than a letter, digit, hyphen or dot" },
	{ RELAY("mx.example.net."), RELAY_ERR("mx.example.net.") "has an empty label" },
	{ RELAY("-mx.example.net:25"), RELAY_ERR("-mx.example.net:25") "has a label that starts with a hyphen" },
	{ DOM(" relay_tls = maybe"), ":3: domain \"example.com\": relay_tls must be none, may, encrypt or verify, not \"maybe\"" },
	{ DOM(" relay_tls = \"\""), ":3: domain \"example.com\": relay_tls must be none, may, encrypt or verify, not \"\"" },
	/* maps: a bad line is the map's own error; no file names our line */
	{ DOM(" relay = \"mx.example.net\"\n recipient_map = \"" FIX "bad.map\""), FIX "bad.map:3: missing value for \"lonely@example.com\"" },
	{ DOM(" relay = \"mx.example.net\"\n sender_map = \"" FIX "bad.map\""), FIX "bad.map:3: missing value for \"lonely@example.com\"" },
	{ DOM(" recipient_map = \"/nonexistent/r.map\""), ":3: domain \"example.com\": /nonexistent/r.map: cannot open: No such file or directory" },
	{ DOM(" sender_map = \"" FIX "recipient.map\"\n\n recipient_map = \"/tmp\""), ":5: domain \"example.com\": /tmp: read error: Is a directory" },
	{ DOM(" recipient_map = \"\""), ":3: domain \"example.com\": recipient_map is empty" },
	{ DOM(" sender_map = \"a\\tb\""), ":3: domain \"example.com\": sender_map contains a control character" },
	/* recipient sections */
	{ RCPT("a@example.org", " state = live "), RCPT_ERR("a@example.org") "is not an address of this domain" },
	{ RCPT("a@sub.example.com", " state = live "), RCPT_ERR("a@sub.example.com") "is not an address of this domain" },
	{ RCPT("a@[192.0.2.1]", " state = live "), RCPT_ERR("a@[192.0.2.1]") "is not an address (local@domain)" },
	{ RCPT("example.com", " state = live "), RCPT_ERR("example.com") "is not an address (local@domain)" },
	{ RCPT("<a@example.com>", " state = live "), RCPT_ERR("<a@example.com>") "is not an address (local@domain)" },
	{ RCPT("", " state = live "), RCPT_ERR("") "is not an address (local@domain)" },
	{ RCPT("@x:a@example.com", " state = live "), RCPT_ERR("@x:a@example.com") "is not an address (local@domain)" },
	{ RCPT("a%b@example.com", " state = live "), RCPT_ERR("a%b@example.com") "has sender-specified routing (% ! or a quoted @), which is always denied" },
	{ RCPT("a@example.com", ""), RCPT_ERR("a@example.com") "has no state (limbo or live)" },
	{ RCPT("a@example.com", " state = hold "), ":4: domain \"example.com\": recipient \"a@example.com\": state hold is not supported yet (limbo or live)" },
	{ RCPT("a@example.com", "\n state = moved\n"), ":5: domain \"example.com\": recipient \"a@example.com\": unknown state \"moved\" (limbo, live or hold)" },
	{ RCPT("a@example.com", " bogus = 1 "), ":4: no such option 'bogus'" },
	{ DOM(" recipient \"a@example.com\" { state = limbo }\n\n recipient \"A@EXAMPLE.com.\" {\n state = live }"),
	  ":5: domain \"example.com\": recipient \"A@EXAMPLE.com.\" is configured twice (first at line 3)" },
	{ DOM(" recipient \"a@example.com\" { state = limbo }\n recipient \"a@example.com\" { }"),
	  ":4: domain \"example.com\": recipient \"a@example.com\" is configured twice (first at line 3)" },
	{ L "domain \"xn--mnchen-3ya.example\" {\n recipient \"j\xc3\xb6rg@M\xc3\x9cNCHEN.example\" { state = limbo }\n"
	  " recipient \"J\xc3\xb6rg@xn--mnchen-3ya.example\" { state = limbo }\n}\n",
	  ":4: domain \"xn--mnchen-3ya.example\": recipient \"J\xc3\xb6rg@xn--mnchen-3ya.example\" is configured twice (first at line 3)" },
	{ L "domain \"a_b.example\" {\n recipient \"a@a_b.example\" { state = limbo }\n}\n",
	  ":2: domain \"a_b.example\" contains a character other than a letter, digit, hyphen or dot" },
	{ DOM(" \"recipient=a@example.com|state\" = live"), ":3: no sub-section 'a@example.com' in 'recipient'" },
	{ L D "\"domain=example.com|recipient=a@example.com|state\" = live\n", ":3: no sub-section 'a@example.com' in 'recipient'" },
	{ DOM(" recipient \"a@example.com\" { \"state\" = \"live\" }\n \"recipient=a@example.com|state\" = hold"), ":4: no sub-section 'a@example.com' in 'recipient'" },
	/* the relay { } section */
	{ RSEC(" resolver = localhost"), ":4: relay resolver \"localhost\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ RSEC(" resolver = \"127.0.0.1:53\""), ":4: relay resolver \"127.0.0.1:53\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ RSEC(" resolver = \"127.0.0.1@\""), ":4: relay resolver \"127.0.0.1@\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ RSEC(" resolver = \"::1@0\""), ":4: relay resolver \"::1@0\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ RSEC(" resolver = \"\""), ":4: relay resolver \"\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ RSEC(" ca_file = \"/nonexistent/ca.pem\""), ":4: relay ca_file: cannot open: No such file or directory" },
	{ RSEC(" ca_file = \"/tmp\""), ":4: relay ca_file is not a regular file" },
	{ RSEC(" ca_file = \"\""), ":4: relay ca_file is empty" },
	{ RSEC(" spill_dir = \"/nonexistent/spill\""), ":4: relay spill_dir: No such file or directory" },
	{ RSEC(" spill_dir = \"" FIX "ca.pem\""), ":4: relay spill_dir is not a directory" },
	{ RSEC(" spill_dir = \"/tmp\\n\""), ":4: relay spill_dir contains a control character" },
	{ RSEC(" spill_threshold = 0"), ":4: relay spill_threshold must be a whole number from 1 to 2147483647, not \"0\"" },
	{ RSEC(" connect_timeout = 0"), ":4: relay connect_timeout must be a whole number from 1 to 86400, not \"0\"" },
	{ RSEC(" reply_timeout = 86401"), ":4: relay reply_timeout must be a whole number from 1 to 86400, not \"86401\"" },
	{ RSEC(" data_timeout = -1"), ":4: relay data_timeout must be a whole number from 1 to 86400, not \"-1\"" },
	{ RSEC(" idle_time = 1x"), ":4: relay idle_time must be a whole number from 1 to 86400, not \"1x\"" },
	{ RSEC(" per_hop_connections = 100001"), ":4: relay per_hop_connections must be a whole number from 1 to 100000, not \"100001\"" },
	{ RSEC(" max_errors = 1"), ":4: no such option 'max_errors'" },
	{ L D "\"relay|resolver\" = \"127.0.0.1\"\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L D "\"relay|idle_time\" = 5\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	/* the auth { } section */
	{ ASEC(" resolver = localhost"), ":4: auth resolver \"localhost\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ ASEC(" resolver = \"127.0.0.1:53\""), ":4: auth resolver \"127.0.0.1:53\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ ASEC(" resolver = \"::1@65536\""), ":4: auth resolver \"::1@65536\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ ASEC(" resolver = \"\""), ":4: auth resolver \"\" must be an IPv4 or IPv6 address, optionally with @port (127.0.0.1@5353)" },
	{ ASEC(" enabled = maybe"), ":4: auth enabled must be true or false, not \"maybe\"" },
	{ ASEC(" enabled = 1"), ":4: auth enabled must be true or false, not \"1\"" },
	{ ASEC(" enabled = \"\""), ":4: auth enabled must be true or false, not \"\"" },
	{ ASEC(" authserv_id = \"\""), ":4: auth authserv_id \"\" must be a host name (letters, digits, '.', '-', '_'; 1 to 253 octets)" },
	{ ASEC(" authserv_id = \"mx example\""), ":4: auth authserv_id \"mx example\" must be a host name (letters, digits, '.', '-', '_'; 1 to 253 octets)" },
	{ ASEC(" authserv_id = \"mx;x\""), ":4: auth authserv_id \"mx;x\" must be a host name (letters, digits, '.', '-', '_'; 1 to 253 octets)" },
	{ ASEC(" authserv_id = \"" LONGNAME "\""), ":4: auth authserv_id \"" LONGNAME80 "\" must be a host name (letters, digits, '.', '-', '_'; 1 to 253 octets)" },
	{ ASEC(" workers = 0"), ":4: auth workers must be a whole number from 1 to 64, not \"0\"" },
	{ ASEC(" workers = 65"), ":4: auth workers must be a whole number from 1 to 64, not \"65\"" },
	{ ASEC(" timeout = 0"), ":4: auth timeout must be a whole number from 1 to 3600, not \"0\"" },
	{ ASEC(" timeout = 3601"), ":4: auth timeout must be a whole number from 1 to 3600, not \"3601\"" },
	{ ASEC(" dns_timeout = 0"), ":4: auth dns_timeout must be a whole number from 1 to 600, not \"0\"" },
	{ ASEC(" dns_timeout = 5s"), ":4: auth dns_timeout must be a whole number from 1 to 600, not \"5s\"" },
	{ ASEC(" ca_file = \"/tmp\""), ":4: no such option 'ca_file'" },
	{ L D "\"auth|enabled\" = false\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L D "\"auth|authserv_id\" = x\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L D "\"auth|resolver\" = 127.0.0.1\n", ":3: an option must be set inside its own section (no | or = in option names)" },
	{ L D "\"auth|workers\" = 2\n", ":3: an option must be set inside its own section (no | or = in option names)" },
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
	snprintf(full, sizeof full, "%s%s", want[0] == '/' ? "" : tmp_path, want);
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
		cmocka_unit_test_setup_teardown(test_live_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_recipients, setup, teardown),
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
