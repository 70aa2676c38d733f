/*
 * fuzz_config.c - libFuzzer target for policy_load().
 *
 * policy_load() reads a file, so each input is written to one temporary
 * file per process (fuzz_file.h), loaded,
 * and the snapshot released: LeakSanitizer checks every error path.
 * Invariants: an error is one line starting with the file name (or, for a
 * bad line in a recipient_map/sender_map file, with that map's name, so
 * only when the input names a map); a loaded policy has a listen address,
 * a domain, only valid 4xx defer replies with %d expanded, a relay for
 * every live domain, and overrides found by their own local parts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain_table.h"
#include "fuzz_file.h"
#include "overrides.h"
#include "policy.h"
#include "reply_check.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_file_init("config");
	return 0;
}

static void
check_policy(const struct policy *p)
{
	char why[256];
	size_t i, n = policy_domain_count(p);

	CHECK(p->refs == 1 && p->nlisten > 0 && n > 0);
	CHECK(p->hostname != NULL && p->default_defer_reply != NULL);
	CHECK((p->tls_cert == NULL) == (p->tls_key == NULL));
	CHECK(p->limits.max_line_length >= 512);
	for (i = 0; i < n; i++) {
		const struct policy_domain *d = domain_table_at(p->domains, i);

		CHECK(reply_check(d->defer_reply, strlen(d->defer_reply), '4', why,
		    sizeof why) == 0 || strchr(d->defer_reply, '%') != NULL);
		CHECK(policy_domain_find(p, d->name, strlen(d->name)) == d);
		CHECK(policy_domain_find(p, d->name_utf8, strlen(d->name_utf8)) == d);
		CHECK(d->state != DOMAIN_LIVE || d->relay != NULL);
		CHECK(d->relay_tls <= RELAY_TLS_VERIFY);
		CHECK((d->recipient_map == NULL) == (d->recipient_map_path == NULL));
		CHECK((d->sender_map == NULL) == (d->sender_map_path == NULL));
		CHECK(d->overrides == NULL || overrides_count(d->overrides) > 0);
	}
	CHECK(p->relay.spill_dir != NULL && p->relay.spill_threshold >= 1);
	CHECK(p->relay.connect_timeout >= 1 && p->relay.per_hop_connections >= 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	char err[512];
	const char *path = fuzz_file_write(data, size);

	if (policy_load(path, &p, err, sizeof err) == 0) {
		check_policy(p);
		policy_unref(p);
	} else {
		CHECK(p == NULL);
		CHECK(strncmp(err, path, strlen(path)) == 0 ||
		    memmem(data, size, "_map", 4) != NULL);
		CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
	}
	return 0;
}
