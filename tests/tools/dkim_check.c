/*
 * dkim_check.c - driver for the DKIM integration tests: verify message
 * files with the cutover DKIM verifier (milter/dkim_verify.h), keys looked
 * up through the given resolver.
 *
 *   dkim_check [-l] [-c CHUNK] RESOLVER FILE...
 *
 * RESOLVER is "IP@PORT" (the loopback DNS server of the test), or "-" for
 * no resolver (every key lookup a temporary failure).  Per FILE, one JSON
 * line on standard output:
 *   {"file": "NAME", "summary": "pass", "nfound": 1,
 *    "sigs": [{"result": "pass", "d": "example.com", "s": "sel",
 *              "alg": "rsa-sha256", "aligned_ok": true,
 *              "body_partial": false, "b": "...", "reason": "good"}]}
 * The message is fed as an MTA would: line ends made CRLF (with -l they are
 * left as they are, as libmilter hands them: bare LF), header fields
 * one by one (folding kept, no final CRLF), the body in CHUNK-byte pieces
 * (default 4096; 1 exercises every split).  A leading mbox "From " line is
 * skipped.  Exit status 0, or 2 on a usage or I/O error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dkim_verify.h"
#include "dns.h"

struct buf {
	char *p;
	size_t len;
};

/* The file, with every line end made CRLF unless keep. */
static int
read_msg(const char *path, bool keep, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, n = 0, o = 0;
	int c;

	if (f == NULL)
		return -1;
	while ((c = getc(f)) != EOF) {
		if (n + 1 >= cap) {
			char *nr = realloc(data, cap ? cap * 2 : 65536);

			if (nr == NULL) {
				free(data);
				fclose(f);
				return -1;
			}
			data = nr;
			cap = cap ? cap * 2 : 65536;
		}
		data[n++] = (char)c;
	}
	fclose(f);
	out->p = malloc(2 * n + 1);
	if (out->p == NULL) {
		free(data);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!keep && data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out->p[o++] = '\r';
		out->p[o++] = data[i];
	}
	out->len = o;
	free(data);
	return 0;
}

/* Feed header fields; returns the offset of the body (after CRLF CRLF). */
static size_t
feed_header(struct dkim_verifier *v, const char *m, size_t len)
{
	size_t pos = 0, start, end;

	if (len >= 5 && memcmp(m, "From ", 5) == 0) {
		const char *nl = memchr(m, '\n', len);

		pos = nl != NULL ? (size_t)(nl - m) + 1 : len;
	}
	while (pos < len) {
		if (len - pos >= 2 && m[pos] == '\r' && m[pos + 1] == '\n')
			return pos + 2;
		if (m[pos] == '\n')
			return pos + 1;
		start = pos;
		for (;;) {
			const char *nl = memchr(m + pos, '\n', len - pos);

			pos = nl != NULL ? (size_t)(nl - m) + 1 : len;
			if (pos >= len || (m[pos] != ' ' && m[pos] != '\t'))
				break;
		}
		end = pos;
		if (end > start && m[end - 1] == '\n')
			end--;
		if (end > start && m[end - 1] == '\r')
			end--;
		dkimv_header(v, m + start, end - start);
	}
	return len;
}

static json_t *
sig_json(const struct dkim_sig_outcome *o)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:s}",
	    "result", dkimv_result_name(o->result), "d", o->d, "s", o->s,
	    "alg", dkimv_alg_name(o->alg), "aligned_ok", o->aligned_ok,
	    "body_partial", o->body_partial, "b", o->b, "reason", o->reason);
}

static int
check_file(struct dkimv_lib *lib, const char *path, size_t chunk, bool keep)
{
	struct buf m = { NULL, 0 };
	struct dkim_verifier *v;
	struct dkim_outcome *out;
	const char *name = strrchr(path, '/');
	json_t *j, *sigs;
	char *line;
	size_t body;

	if (read_msg(path, keep, &m) != 0) {
		fprintf(stderr, "dkim_check: %s: %s\n", path, strerror(errno));
		return -1;
	}
	out = calloc(1, sizeof(*out));
	v = dkimv_new(lib);
	if (out == NULL || v == NULL) {
		fprintf(stderr, "dkim_check: out of memory\n");
		free(out);
		free(m.p);
		dkimv_free(v);
		return -1;
	}
	body = feed_header(v, m.p, m.len);
	dkimv_eoh(v);
	for (size_t p = body; p < m.len; p += chunk)
		dkimv_body(v, m.p + p, m.len - p < chunk ? m.len - p : chunk);
	dkimv_eom(v, out);
	dkimv_free(v);
	free(m.p);
	sigs = json_array();
	for (size_t i = 0; i < out->n; i++)
		json_array_append_new(sigs, sig_json(&out->sig[i]));
	j = json_pack("{s:s, s:s, s:I, s:o}", "file",
	    name != NULL ? name + 1 : path, "summary",
	    dkimv_result_name(dkimv_summary(out)), "nfound",
	    (json_int_t)out->nfound, "sigs", sigs);
	free(out);
	line = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (line == NULL)
		return -1;
	printf("%s\n", line);
	free(line);
	return 0;
}

int
main(int argc, char **argv)
{
	struct auth_dns *dns = NULL;
	struct dkimv_lib *lib;
	char err[256];
	size_t chunk = 4096;
	int opt, rc = 0;
	bool keep = false;

	while ((opt = getopt(argc, argv, "c:l")) != -1) {
		if (opt == 'l') {
			keep = true;
			continue;
		}
		if (opt != 'c' || (chunk = strtoul(optarg, NULL, 10)) == 0) {
			fprintf(stderr, "usage: dkim_check [-l] [-c CHUNK] RESOLVER FILE...\n");
			return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: dkim_check [-l] [-c CHUNK] RESOLVER FILE...\n");
		return 2;
	}
	if (strcmp(argv[optind], "-") != 0 &&
	    (dns = auth_dns_new(argv[optind], 2000, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dkim_check: resolver %s: %s\n", argv[optind], err);
		return 2;
	}
	if ((lib = dkimv_lib_new(dns)) == NULL) {
		fprintf(stderr, "dkim_check: cannot set up libopendkim\n");
		auth_dns_free(dns);
		return 2;
	}
	for (int i = optind + 1; i < argc; i++)
		if (check_file(lib, argv[i], chunk, keep) != 0)
			rc = 2;
	dkimv_lib_free(lib);
	auth_dns_free(dns);
	return rc;
}
