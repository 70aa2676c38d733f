/*
 * limits_default.h - every default limit in one place (OpenSMTPD limit.c).
 * Each is configurable in the `limits { }` section (the DEFAULT_RELAY_*
 * ones in `relay { }`, DEFAULT_AUTH_* in `auth { }`); README lists them.
 */
#ifndef CUTOVER_LIMITS_DEFAULT_H
#define CUTOVER_LIMITS_DEFAULT_H

#define DEFAULT_MAX_CONNECTIONS   20000
#define DEFAULT_PER_IP            50
#define DEFAULT_MAX_RECIPIENTS    100      /* RFC 5321 4.5.3.1.8 minimum */
#define DEFAULT_MAX_MESSAGE_SIZE  52428800 /* 50 MiB */
#define DEFAULT_MAX_LINE_LENGTH   512      /* RFC 5321 4.5.3.1.4, incl. CRLF */
#define DEFAULT_MAX_ERRORS        10
#define DEFAULT_COMMAND_TIMEOUT   300      /* RFC 5321 4.5.3.2.7: 5 min */
#define DEFAULT_DATA_TIMEOUT      600
#define DEFAULT_BACKLOG           4096
#define DEFAULT_HOSTNAME_FALLBACK "localhost"
#define DEFAULT_DEFER_REPLY \
	"451 4.3.2 %d is moving to a new mail system, please retry later"

/* The relay client, `relay { }` section (issue 3). */
#define DEFAULT_RELAY_SPILL_DIR       "/var/tmp"
#define DEFAULT_RELAY_SPILL_THRESHOLD 262144   /* octets of a message in RAM */
#define DEFAULT_RELAY_CONNECT_TIMEOUT 30       /* seconds */
#define DEFAULT_RELAY_REPLY_TIMEOUT   300      /* RFC 5321 4.5.3.2: 5 min */
#define DEFAULT_RELAY_DATA_TIMEOUT    600      /* reply to the final dot */
#define DEFAULT_RELAY_IDLE_TIME       10       /* seconds an idle session is kept */
#define DEFAULT_RELAY_PER_HOP         50       /* sessions per next hop */
#define DEFAULT_RELAY_PORT            25

/* Sender authentication, `auth { }` section (issue 4). */
#define DEFAULT_AUTH_WORKERS          4        /* threads */
#define MAX_AUTH_WORKERS              64
#define DEFAULT_AUTH_TIMEOUT          20       /* seconds, the whole check */
#define DEFAULT_AUTH_DNS_TIMEOUT      5        /* seconds, one lookup */

#define MAX_DATA_LINE_LENGTH      65536    /* a text line inside DATA */
#define LOG_FIELD_MAX             256      /* client strings in the log */

#endif
