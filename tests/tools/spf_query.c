/*
 * spf_query.c - SPF checks from the command line, for the RFC 7208 suite
 * replay (tests/integration/test_spf_suite.py) and for operators.
 *
 *   spf_query RESOLVER IP HELO MAILFROM
 *   spf_query RESOLVER --batch
 *
 * RESOLVER is "IP@port" (or "-" for /etc/resolv.conf); MAILFROM may be ""
 * (null sender: the HELO identity is checked).  One check prints one line
 * "RESULT EXPLANATION" (explanation empty unless fail with exp=) and, on
 * standard error, the domain checked and the problem text.
 * --batch reads checks from standard input, one per line as
 * "IP<TAB>HELO<TAB>MAILFROM", and prints for each one line
 * "RESULT<TAB>EXPLANATION<TAB>domain=D helo_identity=N problem=P" with
 * bytes below 0x20 and '\' written \xHH.  One process and one resolver
 * for many checks: the suite's run time is mostly process start-up
 * otherwise (several times more under ASan).
 * Exit status 0 when every check produced a result, 2 on usage or set-up
 * errors or a malformed batch line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "spf.h"

static void
put_escaped(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static int
batch_line(struct spf_checker *c, char *line)
{
	struct spf_outcome o;
	char *helo, *from, *nl;

	nl = strchr(line, '\n');
	if (nl != NULL)
		*nl = '\0';
	helo = strchr(line, '\t');
	from = helo ? strchr(helo + 1, '\t') : NULL;
	if (from == NULL) {
		fprintf(stderr, "spf_query: malformed batch line\n");
		return -1;
	}
	*helo++ = '\0';
	*from++ = '\0';
	spf_check(c, line, helo, from, &o);
	printf("%s\t", spf_result_name(o.result));
	put_escaped(o.explanation);
	printf("\tdomain=");
	put_escaped(o.domain);
	printf(" helo_identity=%d problem=", o.helo_identity);
	put_escaped(o.problem);
	printf("\n");
	fflush(stdout);
	return 0;
}

static int
run_batch(struct spf_checker *c)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	while (rc == 0 && getline(&line, &cap, stdin) > 0)
		if (batch_line(c, line) != 0)
			rc = 2;
	free(line);
	return rc;
}

int
main(int argc, char **argv)
{
	struct auth_dns *dns;
	struct spf_checker *c;
	struct spf_outcome o;
	char err[256];
	const char *resolver;
	int batch = argc == 3 && strcmp(argv[2], "--batch") == 0, rc = 0;

	if (argc != 5 && !batch) {
		fprintf(stderr, "usage: spf_query RESOLVER IP HELO MAILFROM\n"
		    "       spf_query RESOLVER --batch\n");
		return 2;
	}
	resolver = strcmp(argv[1], "-") == 0 ? NULL : argv[1];
	dns = auth_dns_new(resolver, 3000, err, sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "spf_query: %s\n", err);
		return 2;
	}
	c = spf_checker_new(dns, "receiver.test");
	if (c == NULL) {
		fprintf(stderr, "spf_query: cannot create the checker\n");
		auth_dns_free(dns);
		return 2;
	}
	if (batch)
		rc = run_batch(c);
	else {
		spf_check(c, argv[2], argv[3], argv[4], &o);
		printf("%s %s\n", spf_result_name(o.result), o.explanation);
		fprintf(stderr, "domain=%s helo_identity=%d problem=%s\n",
		    o.domain, o.helo_identity, o.problem);
	}
	spf_checker_free(c);
	auth_dns_free(dns);
	return rc;
}
