/*
 * mx_dns.c - relay string syntax and DNS answer parsing for mx.c.
 *
 * Public functions: mx_relay_parse(), mx_dns_parse().
 *
 * Why our own parser: libunbound's event API (ub_resolve_event) hands back
 * the raw answer packet, not the parsed struct ub_result.  Only what the
 * relay client needs is read: the header's RCODE, and MX / A / AAAA
 * records of the answer section.  Every read is bounds-checked against the
 * packet length; compression pointers (RFC 1035 4.1.4) may only point
 * backwards, so a loop is impossible, and a name is at most 255 octets.
 * Names are lowercased (they come back in the case the question was asked).
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "mx_dns.h"

static bool
host_ok(const char *h, size_t n)
{
	if (n == 0 || n >= MX_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' || c == '/')
			return false;
	}
	return true;
}

static int
port_parse(const char *p, uint16_t *port)
{
	unsigned long v = 0;

	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || (v = v * 10 + (unsigned long)(*p - '0')) > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
mx_relay_parse(const char *relay, struct mx_relay *out)
{
	const char *h = relay, *end, *colon;
	unsigned char tmp[16];

	memset(out, 0, sizeof(*out));
	out->port = 25;
	if (relay[0] == '[') {
		h = relay + 1;
		if ((end = strchr(h, ']')) == NULL)
			return -1;
		out->literal = true;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strchr(relay, ':');
		end = colon != NULL ? colon : relay + strlen(relay);
	}
	if (colon != NULL && port_parse(colon + 1, &out->port) != 0)
		return -1;
	if (end > h && end[-1] == '.')
		end--;
	if (!host_ok(h, (size_t)(end - h)))
		return -1;
	memcpy(out->host, h, (size_t)(end - h));
	out->host[end - h] = '\0';
	out->is_ip = inet_pton(AF_INET, out->host, tmp) == 1 ||
	    inet_pton(AF_INET6, out->host, tmp) == 1;
	if (out->is_ip && !out->literal)
		return -1;
	return 0;
}

/* Read a (possibly compressed) name at *off into out (text, no final dot;
 * "" for the root); *off moves past the name as it is in the record. */
static int
read_name(const unsigned char *pkt, size_t len, size_t *off, char *out)
{
	size_t pos = *off, o = 0;
	bool jumped = false;

	for (;;) {
		if (pos >= len)
			return -1;
		unsigned lab = pkt[pos];
		if ((lab & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -1;
			size_t ptr = ((size_t)(lab & 0x3f) << 8) | pkt[pos + 1];
			if (!jumped)
				*off = pos + 2;
			if (ptr >= pos)
				return -1;
			jumped = true;
			pos = ptr;
			continue;
		}
		if ((lab & 0xc0) != 0)
			return -1;
		if (lab == 0) {
			if (!jumped)
				*off = pos + 1;
			out[o] = '\0';
			return 0;
		}
		if (pos + 1 + lab > len || o + lab + 2 > MX_NAME_MAX)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t i = 0; i < lab; i++) {
			unsigned char c = pkt[pos + 1 + i];
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		pos += 1 + lab;
	}
}

static unsigned
get16(const unsigned char *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

static int
read_rdata(const unsigned char *pkt, size_t len, size_t off, size_t rdlen,
    int qtype, struct mx_dns_rr *rr)
{
	size_t o = off + 2;
	char name[MX_NAME_MAX];

	memset(rr, 0, sizeof(*rr));
	if (qtype == MX_TYPE_A || qtype == MX_TYPE_AAAA) {
		if (rdlen != (qtype == MX_TYPE_A ? 4u : 16u))
			return -1;
		memcpy(rr->addr, pkt + off, rdlen);
		return 0;
	}
	if (rdlen < 3)
		return -1;
	rr->pref = (uint16_t)get16(pkt + off);
	if (read_name(pkt, off + rdlen, &o, name) != 0 || o != off + rdlen)
		return -1;
	memcpy(rr->name, name, sizeof(name));
	return 0;
}

int
mx_dns_parse(const unsigned char *pkt, size_t len, int qtype,
    struct mx_dns_answer *out)
{
	char name[MX_NAME_MAX];
	size_t off = 12;
	unsigned qd, an;

	memset(out, 0, sizeof(*out));
	if (len < 12)
		return -1;
	out->rcode = pkt[3] & 0x0f;
	qd = get16(pkt + 4);
	an = get16(pkt + 6);
	for (unsigned i = 0; i < qd; i++) {
		if (read_name(pkt, len, &off, name) != 0 || off + 4 > len)
			return -1;
		off += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		if (read_name(pkt, len, &off, name) != 0 || off + 10 > len)
			return -1;
		unsigned type = get16(pkt + off), rdlen = get16(pkt + off + 8);
		off += 10;
		if (off + rdlen > len)
			return -1;
		if ((int)type == qtype && out->n < MX_DNS_RR_MAX) {
			if (read_rdata(pkt, len, off, rdlen, qtype, &out->rr[out->n]) != 0)
				return -1;
			out->n++;
		}
		off += rdlen;
	}
	return 0;
}
