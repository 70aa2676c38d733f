/*
 * mx_dns.h - pure helpers of the next-hop resolution (mx.c): the relay
 * string syntax and the DNS answers it needs (RFC 1035 4.1 wire format,
 * MX RFC 974/5321 5.1, null MX RFC 7505).
 *
 * Public functions:
 *   mx_relay_parse()   "[host]:port", "[host]", "host:port", "host"
 *   mx_dns_parse()     answer records of one type from a DNS message
 */
#ifndef CUTOVER_MX_DNS_H
#define CUTOVER_MX_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_NAME_MAX   256        /* a domain name in text, with its NUL */
#define MX_DNS_RR_MAX 16         /* answer records kept per message */

#define MX_TYPE_A     1
#define MX_TYPE_MX    15
#define MX_TYPE_AAAA  28

struct mx_relay {
	char host[MX_NAME_MAX];      /* no brackets, no trailing dot */
	uint16_t port;               /* 25 when not given */
	bool literal;                /* [host]: no MX lookup */
	bool is_ip;                  /* host is an IPv4/IPv6 literal */
};

struct mx_dns_rr {
	uint16_t pref;               /* MX */
	char name[MX_NAME_MAX];      /* MX exchange, "" = root (null MX) */
	unsigned char addr[16];      /* A (4 octets) or AAAA (16) */
};

struct mx_dns_answer {
	int rcode;                   /* the header's RCODE */
	size_t n;                    /* records of the asked type kept */
	struct mx_dns_rr rr[MX_DNS_RR_MAX];
};

/* 0, or -1 when the relay string is malformed. */
int mx_relay_parse(const char *relay, struct mx_relay *out);

/* Records of `qtype` in the answer section (any owner: the resolver has
 * followed CNAMEs).  0, or -1 when the message is malformed. */
int mx_dns_parse(const unsigned char *pkt, size_t len, int qtype,
    struct mx_dns_answer *out);

#endif
