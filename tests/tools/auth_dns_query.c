/*
 * auth_dns_query.c - lookups through milter/dns.h from the command line,
 * for tests/integration/test_auth_dns.py (against a LoopbackDNS).
 *
 *   auth_dns_query [-s] RESOLVER TIMEOUT_MS NAME TYPE [NAME TYPE ...]
 *
 * TYPE is A, AAAA, MX, PTR or TXT.  All lookups run at once, one thread
 * each, on one struct auth_dns (its thread-safety is part of what is
 * tested); with -s one after another, and the pair "MS WAIT" sleeps MS
 * milliseconds (to let a cached answer expire).  Prints one line per
 * lookup, in argument order, then the counters of auth_dns_stats():
 *   NAME TYPE STATUS MS [RECORD ...]
 *   # lookups=N cache_hits=M
 * STATUS is auth_dns_status_name(); MS the lookup's wall time; records
 * are addresses, "PREF NAME" (MX), names (PTR) or TXT records with bytes
 * outside 0x21-0x7e written \xHH, each record separated by " | ".
 * Exit status 0 when every lookup ran, 2 on usage or set-up errors.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "dns.h"

#define MAX_LOOKUPS 32
#define OUT_MAX 8192

struct job {
	struct auth_dns *dns;
	const char *name;
	const char *type;
	char out[OUT_MAX];
	size_t len;
};

static void
emit(struct job *j, const char *s, size_t n)
{
	if (j->len + n + 1 > sizeof(j->out))
		n = sizeof(j->out) - j->len - 1;
	memcpy(j->out + j->len, s, n);
	j->len += n;
	j->out[j->len] = '\0';
}

static void
emit_word(struct job *j, const char *s)
{
	emit(j, " ", 1);
	emit(j, s, strlen(s));
}

static void
emit_bytes(struct job *j, const char *p, size_t len)
{
	char hex[8];
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c > 0x20 && c < 0x7f && c != '\\') {
			emit(j, (const char *)&c, 1);
			continue;
		}
		snprintf(hex, sizeof(hex), "\\x%02x", c);
		emit(j, hex, 4);
	}
}

static enum auth_dns_status
run_txt(struct job *j)
{
	struct auth_dns_txt t;
	enum auth_dns_status st = auth_dns_txt(j->dns, j->name, &t);
	size_t i;

	for (i = 0; i < t.n; i++) {
		emit(j, i ? " | " : " ", i ? 3 : 1);
		emit_bytes(j, t.rec[i], t.len[i]);
	}
	auth_dns_txt_free(&t);
	return st;
}

static enum auth_dns_status
run_addrs(struct job *j, int type)
{
	struct auth_dns_addrlist a;
	enum auth_dns_status st;
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	st = auth_dns_addrs(j->dns, j->name, type, NULL, &a);
	for (i = 0; i < a.n; i++)
		if (inet_ntop(a.addr[i].family, a.addr[i].a, buf,
		    sizeof(buf)) != NULL)
			emit_word(j, buf);
	auth_dns_addrs_free(&a);
	return st;
}

static enum auth_dns_status
run_names(struct job *j, int type)
{
	struct auth_dns_namelist l;
	struct auth_dns_tally tally = { 0, 0 };
	enum auth_dns_status st;
	char pref[16];
	size_t i;

	st = auth_dns_names(j->dns, j->name, type, &tally, &l);
	for (i = 0; i < l.n; i++) {
		if (type == AUTH_DNS_T_MX) {
			snprintf(pref, sizeof(pref), "%u", l.pref[i] & 0xffff);
			emit_word(j, pref);
		}
		emit_word(j, l.name[i]);
	}
	auth_dns_names_free(&l);
	return st;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
run(void *arg)
{
	struct job *j = arg;
	char head[1200], recs[OUT_MAX];
	enum auth_dns_status st;
	long long t0 = now_ms();
	int n;

	if (strcasecmp(j->type, "TXT") == 0)
		st = run_txt(j);
	else if (strcasecmp(j->type, "A") == 0)
		st = run_addrs(j, AUTH_DNS_T_A);
	else if (strcasecmp(j->type, "AAAA") == 0)
		st = run_addrs(j, AUTH_DNS_T_AAAA);
	else if (strcasecmp(j->type, "MX") == 0)
		st = run_names(j, AUTH_DNS_T_MX);
	else
		st = run_names(j, AUTH_DNS_T_PTR);
	memcpy(recs, j->out, j->len + 1);
	n = snprintf(head, sizeof(head), "%s %s %s %lld", j->name, j->type,
	    auth_dns_status_name(st), now_ms() - t0);
	j->len = 0;
	emit(j, head, n > 0 && (size_t)n < sizeof(head) ? (size_t)n : 0);
	emit(j, recs, strlen(recs));
	return NULL;
}

static int
known_type(const char *t, int sequential)
{
	if (sequential && strcmp(t, "WAIT") == 0)
		return 1;
	return strcasecmp(t, "A") == 0 || strcasecmp(t, "AAAA") == 0 ||
	    strcasecmp(t, "MX") == 0 || strcasecmp(t, "PTR") == 0 ||
	    strcasecmp(t, "TXT") == 0;
}

static void
wait_ms(const char *ms)
{
	long v = strtol(ms, NULL, 10);
	struct timespec ts = { v / 1000, (v % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
run_all(struct job *jobs, int n, int sequential)
{
	pthread_t tid[MAX_LOOKUPS];
	int started[MAX_LOOKUPS];
	int i;

	for (i = 0; i < n; i++) {
		if (sequential && strcmp(jobs[i].type, "WAIT") == 0) {
			wait_ms(jobs[i].name);
			started[i] = 0;
			continue;
		}
		started[i] = !sequential &&
		    pthread_create(&tid[i], NULL, run, &jobs[i]) == 0;
		if (!started[i])
			run(&jobs[i]);
	}
	for (i = 0; i < n; i++)
		if (started[i])
			pthread_join(tid[i], NULL);
}

int
main(int argc, char **argv)
{
	static struct job jobs[MAX_LOOKUPS];
	struct auth_dns *dns;
	unsigned long lookups, hits;
	char err[256];
	int i, n, seq = argc > 1 && strcmp(argv[1], "-s") == 0;

	argc -= seq;
	argv += seq;
	n = (argc - 3) / 2;
	if (argc < 5 || (argc - 3) % 2 != 0 || n > MAX_LOOKUPS) {
		fprintf(stderr, "usage: auth_dns_query [-s] RESOLVER TIMEOUT_MS "
		    "NAME TYPE [NAME TYPE ...]\n");
		return 2;
	}
	dns = auth_dns_new(argv[1], (unsigned)strtoul(argv[2], NULL, 10),
	    err, sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "auth_dns_query: %s\n", err);
		return 2;
	}
	for (i = 0; i < n; i++) {
		jobs[i].dns = dns;
		jobs[i].name = argv[3 + 2 * i];
		jobs[i].type = argv[4 + 2 * i];
		if (!known_type(jobs[i].type, seq)) {
			fprintf(stderr, "auth_dns_query: unknown type %s\n",
			    jobs[i].type);
			auth_dns_free(dns);
			return 2;
		}
	}
	run_all(jobs, n, seq);
	for (i = 0; i < n; i++)
		if (jobs[i].len > 0)
			printf("%s\n", jobs[i].out);
	auth_dns_stats(dns, &lookups, &hits);
	printf("# lookups=%lu cache_hits=%lu\n", lookups, hits);
	auth_dns_free(dns);
	return 0;
}
