/*
 * test_milter_config.c - milter_config_load() on good and bad texts (every
 * error message, with its line), milter_config_trusted() matching, and
 * the action names.  Each text is written to a temporary file; the file
 * name in the error is replaced by "F" before comparing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "milter_config.h"

#define GOOD_HEAD "socket = \"inet:8893@127.0.0.1\"\nauthserv_id = \"mx.test\"\n"

struct err_case {
	const char *text;
	const char *want;             /* error with the path as "F" */
};

static const struct err_case err_cases[] = {
	{ "authserv_id = \"mx.test\"\n",
	  "F: socket is not set (for example socket = \"inet:8893@127.0.0.1\")" },
	{ "socket = \"inet:1@127.0.0.1\"\n",
	  "F: authserv_id is not set (for example authserv_id = \"mx.example.net\")" },
	{ "# c\n\nsocket = \"tcp:1@127.0.0.1\"\n",
	  "F:3: socket \"tcp:1@127.0.0.1\" is not inet:PORT@IP, inet6:PORT@IP or "
	  "unix:/absolute/path" },
	{ "socket = \"inet:0@127.0.0.1\"\n", "F:1: socket \"inet:0@127.0.0.1\" "
	  "is not inet:PORT@IP, inet6:PORT@IP or unix:/absolute/path" },
	{ "socket = \"inet:70000@127.0.0.1\"\n", "F:1: socket \"inet:70000@127.0.0.1\" "
	  "is not inet:PORT@IP, inet6:PORT@IP or unix:/absolute/path" },
	{ "socket = \"inet:25@localhost\"\n", "F:1: socket \"inet:25@localhost\" "
	  "is not inet:PORT@IP, inet6:PORT@IP or unix:/absolute/path" },
	{ "socket = \"unix:rel\"\n", "F:1: socket \"unix:rel\" "
	  "is not inet:PORT@IP, inet6:PORT@IP or unix:/absolute/path" },
	{ "socket = \"inet:25@127.0.0.1\"\n/* x\n y */ authserv_id = \"a b\"\n",
	  "F:3: authserv_id \"a b\" must be a host name (letters, digits, '.', "
	  "'-', '_'; 1 to 253 octets)" },
	{ "socket = \"inet:25@127.0.0.1\"\nauthserv_id = \"\"\n",
	  "F:2: authserv_id \"\" must be a host name (letters, digits, '.', "
	  "'-', '_'; 1 to 253 octets)" },
	{ GOOD_HEAD "resolver = \"8.8.8.8@\"\n",
	  "F:3: resolver \"8.8.8.8@\" is not IP or IP@PORT" },
	{ GOOD_HEAD "resolver = \"dns.example\"\n",
	  "F:3: resolver \"dns.example\" is not IP or IP@PORT" },
	{ GOOD_HEAD "dns_timeout = 0\n", "F:3: dns_timeout must be 1 to 60 "
	  "seconds, not 0" },
	{ GOOD_HEAD "dns_timeout = 61\n", "F:3: dns_timeout must be 1 to 60 "
	  "seconds, not 61" },
	{ GOOD_HEAD "trusted_peers = { \"127.0.0.1\", # loopback\n \"10.0.0.0/33\" }\n",
	  "F:4: trusted_peers: \"10.0.0.0/33\" is not an IP address or network "
	  "(192.0.2.0/24, 2001:db8::/32)" },
	{ GOOD_HEAD "trusted_peers = { \"::1/129\" }\n",
	  "F:3: trusted_peers: \"::1/129\" is not an IP address or network "
	  "(192.0.2.0/24, 2001:db8::/32)" },
	{ GOOD_HEAD "trusted_peers = { \"10.0.0.0/\" }\n",
	  "F:3: trusted_peers: \"10.0.0.0/\" is not an IP address or network "
	  "(192.0.2.0/24, 2001:db8::/32)" },
	{ GOOD_HEAD "action {\n dmarc_reject = always\n}\n",
	  "F:4: dmarc_reject \"always\" must be none or quarantine or reject" },
	{ GOOD_HEAD "action {\n temperror = reject\n}\n",
	  "F:4: temperror \"reject\" must be none or tempfail" },
	{ GOOD_HEAD "bogus = 1\n", "F:3: no such option 'bogus'" },
	{ GOOD_HEAD "resolver = \"${HOME}\"\n",
	  "F:3: \"${\" (environment expansion) is not allowed" },
	{ GOOD_HEAD "/* open\n", "F:3: comment is not closed" },
	{ GOOD_HEAD "dns_timeout = 5 }\n", "F:3: unexpected closing brace" },
	{ GOOD_HEAD "dns_timeout = abc\n", "F:3: invalid integer value for option 'dns_timeout'" },
};

static char *
write_tmp(const char *text, size_t len)
{
	char *path = strdup("/tmp/test_milter_config.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* err with the temporary path replaced by "F". */
static void
normalise(const char *err, const char *path, char *out, size_t cap)
{
	size_t n = strlen(path);

	if (strncmp(err, path, n) == 0)
		snprintf(out, cap, "F%s", err + n);
	else
		snprintf(out, cap, "%s", err);
}

static void
test_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
		const struct err_case *c = &err_cases[i];
		char *path = write_tmp(c->text, strlen(c->text));
		char err[MILTER_CONFIG_ERR_MAX], got[MILTER_CONFIG_ERR_MAX];
		struct milter_config *cfg = NULL;

		print_message("case %zu\n", i);
		assert_int_equal(milter_config_load(path, &cfg, err, sizeof err), -1);
		assert_null(cfg);
		normalise(err, path, got, sizeof got);
		assert_string_equal(got, c->want);
		unlink(path);
		free(path);
	}
}

static void
test_nul_and_missing(void **state)
{
	static const char text[] = GOOD_HEAD "resolver = \"1.2.3.4\0\"\n";
	char *path = write_tmp(text, sizeof text - 1);
	char err[MILTER_CONFIG_ERR_MAX], got[MILTER_CONFIG_ERR_MAX];
	struct milter_config *cfg = NULL;

	(void)state;
	assert_int_equal(milter_config_load(path, &cfg, err, sizeof err), -1);
	normalise(err, path, got, sizeof got);
	assert_string_equal(got, "F:3: a NUL byte in the file");
	unlink(path);
	free(path);
	assert_int_equal(milter_config_load("/nonexistent/x.conf", &cfg, err,
	    sizeof err), -1);
	assert_string_equal(err, "/nonexistent/x.conf: cannot open: No such "
	    "file or directory");
}

static void
test_good(void **state)
{
	static const char text[] =
	    "# reference\n"
	    "socket = \"unix:/run/cutover/milter.sock\"  // trailing\n"
	    "authserv_id = \"mx.example.net\"\n"
	    "resolver = \"::1@5353\"\n"
	    "dns_timeout = 9\n"
	    "trusted_peers = { \"127.0.0.1\", \"::1\", \"10.1.2.3/8\",\n"
	    "                  \"2001:db8::/32\" }\n"
	    "action { dmarc_reject = reject  temperror = tempfail }\n";
	char *path = write_tmp(text, sizeof text - 1);
	char err[MILTER_CONFIG_ERR_MAX];
	struct milter_config *c = NULL;

	(void)state;
	assert_int_equal(milter_config_load(path, &c, err, sizeof err), 0);
	assert_string_equal(c->socket, "unix:/run/cutover/milter.sock");
	assert_string_equal(c->authserv_id, "mx.example.net");
	assert_string_equal(c->resolver, "::1@5353");
	assert_string_equal(c->path, path);
	assert_int_equal(c->dns_timeout, 9);
	assert_int_equal(c->ntrusted, 4);
	assert_int_equal(c->dmarc_action, MILTER_DMARC_REJECT);
	assert_int_equal(c->temp_action, MILTER_TEMP_TEMPFAIL);
	milter_config_free(c);
	unlink(path);
	free(path);
}

static void
test_defaults(void **state)
{
	char *path = write_tmp(GOOD_HEAD, strlen(GOOD_HEAD));
	char err[MILTER_CONFIG_ERR_MAX];
	struct milter_config *c = NULL;

	(void)state;
	assert_int_equal(milter_config_load(path, &c, err, sizeof err), 0);
	assert_null(c->resolver);
	assert_int_equal(c->dns_timeout, MILTER_CONFIG_DNS_TIMEOUT_DEFAULT);
	assert_int_equal(c->ntrusted, 0);
	assert_int_equal(c->dmarc_action, MILTER_DMARC_NONE);
	assert_int_equal(c->temp_action, MILTER_TEMP_NONE);
	assert_false(milter_config_trusted(c, "127.0.0.1"));
	milter_config_free(c);
	milter_config_free(NULL);
	unlink(path);
	free(path);
}

struct trust_case {
	const char *ip;
	bool want;
};

static const struct trust_case trust_cases[] = {
	{ "127.0.0.1", true }, { "127.0.0.2", false }, { "10.200.3.4", true },
	{ "11.0.0.1", false }, { "::1", true }, { "::2", false },
	{ "2001:db8:ffff::1", true }, { "2001:db9::1", false },
	{ "::ffff:10.9.9.9", true }, { "192.168.1.129", true },
	{ "192.168.1.128", false }, { "192.168.1.130", false },
	{ "172.31.255.255", true }, { "172.32.0.0", false }, { "172.15.0.1", false },
	/* networks written in IPv4-mapped form match as IPv4 */
	{ "198.51.100.7", true }, { "::ffff:198.51.100.200", true },
	{ "198.51.101.1", false }, { "203.0.113.5", true }, { "203.0.113.6", false },
	{ "::ffff:0:0", false },
	{ "not-an-ip", false }, { "", false }, { NULL, false },
};

static void
test_trusted(void **state)
{
	static const char text[] = GOOD_HEAD
	    "trusted_peers = { \"127.0.0.1\", \"::1\", \"10.0.0.0/8\", "
	    "\"2001:db8::/32\", \"192.168.1.129/32\", \"172.16.0.0/12\",\n"
	    "\"::ffff:198.51.100.0/120\", \"::FFFF:203.0.113.5\" }\n";
	char *path = write_tmp(text, sizeof text - 1);
	char err[MILTER_CONFIG_ERR_MAX];
	struct milter_config *c = NULL;
	size_t i;

	(void)state;
	assert_int_equal(milter_config_load(path, &c, err, sizeof err), 0);
	for (i = 0; i < sizeof trust_cases / sizeof trust_cases[0]; i++) {
		print_message("case %zu: %s\n", i,
		    trust_cases[i].ip ? trust_cases[i].ip : "(null)");
		assert_int_equal(milter_config_trusted(c, trust_cases[i].ip),
		    trust_cases[i].want);
	}
	milter_config_free(c);
	unlink(path);
	free(path);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(milter_dmarc_action_name(MILTER_DMARC_NONE), "none");
	assert_string_equal(milter_dmarc_action_name(MILTER_DMARC_QUARANTINE),
	    "quarantine");
	assert_string_equal(milter_dmarc_action_name(MILTER_DMARC_REJECT), "reject");
	assert_string_equal(milter_dmarc_action_name((enum milter_dmarc_action)7),
	    "unknown");
	assert_string_equal(milter_temp_action_name(MILTER_TEMP_NONE), "none");
	assert_string_equal(milter_temp_action_name(MILTER_TEMP_TEMPFAIL),
	    "tempfail");
	assert_string_equal(milter_temp_action_name((enum milter_temp_action)7),
	    "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_missing),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
