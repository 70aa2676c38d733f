/*
 * milter_config.h - cutover-milter's own configuration file (libconfuse).
 *
 * Public functions:
 *   milter_config_load()     read + validate a file; "FILE:LINE: what" errors
 *   milter_config_free()
 *   milter_config_trusted()  is a client IP in trusted_peers?
 *   milter_dmarc_action_name(), milter_temp_action_name()
 *
 * Format (README "cutover-milter"):
 *   socket        = "inet:8893@127.0.0.1"   # or "inet6:PORT@::1", "unix:/path"
 *   authserv_id   = "mx.example.net"        # required
 *   resolver      = "127.0.0.1@5353"        # optional: IP or IP@port
 *   dns_timeout   = 5                       # seconds, 1..60
 *   trusted_peers = { "127.0.0.1", "::1", "10.0.0.0/8" }
 *   action { dmarc_reject = none | quarantine | reject
 *            temperror    = none | tempfail }
 *
 * A loaded struct milter_config is read-only: a reload builds a new one and
 * the daemon swaps it in.  milter_config_load() uses file-scope state
 * around libconfuse (whose callbacks carry no user pointer), so it must not
 * run in two threads at once; the daemon loads from one thread only.
 */
#ifndef CUTOVER_MILTER_CONFIG_H
#define CUTOVER_MILTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define MILTER_CONFIG_DNS_TIMEOUT_DEFAULT 5
#define MILTER_CONFIG_DNS_TIMEOUT_MAX 60
#define MILTER_CONFIG_ERR_MAX 512

enum milter_dmarc_action {
	MILTER_DMARC_NONE = 0,        /* stamp the A-R header only (default) */
	MILTER_DMARC_QUARANTINE,      /* fail with p=quarantine|reject: hold */
	MILTER_DMARC_REJECT,          /* p=reject: 550; p=quarantine: hold */
};

enum milter_temp_action {
	MILTER_TEMP_NONE = 0,         /* stamp temperror, accept (default) */
	MILTER_TEMP_TEMPFAIL,         /* dmarc=temperror: 451 4.7.5 */
};

struct milter_net {
	int family;                   /* AF_INET or AF_INET6 */
	unsigned char addr[16];       /* network byte order, host bits zero */
	unsigned prefix;              /* 0..32 or 0..128 */
};

struct milter_config {
	char *path;
	char *socket;                 /* libmilter connection spec */
	char *authserv_id;
	char *resolver;               /* NULL = /etc/resolv.conf */
	unsigned dns_timeout;         /* seconds */
	struct milter_net *trusted;
	size_t ntrusted;
	enum milter_dmarc_action dmarc_action;
	enum milter_temp_action temp_action;
};

/* 0 and *out set, or -1 with one line in err ("FILE:LINE: what", or
 * "FILE: what" when no line applies). */
int milter_config_load(const char *path, struct milter_config **out,
    char *err, size_t errlen);
void milter_config_free(struct milter_config *c);

/* ip is a NUL-terminated numeric IPv4/IPv6 address (an IPv4-mapped IPv6
 * address matches IPv4 entries); false for anything unparsable. */
bool milter_config_trusted(const struct milter_config *c, const char *ip);

const char *milter_dmarc_action_name(enum milter_dmarc_action a);
const char *milter_temp_action_name(enum milter_temp_action a);

#endif
