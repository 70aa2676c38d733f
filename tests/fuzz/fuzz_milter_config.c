/*
 * fuzz_milter_config.c - libFuzzer target for milter_config_load()
 * (cutover-milter's configuration file).
 *
 * As fuzz_config.c: each input is written to a temporary file
 * (fuzz_file.h), loaded, and freed, so LeakSanitizer checks every error path.
 * Invariants: an error is one line starting with the file name; a loaded
 * configuration has a socket and an authserv-id, a DNS timeout in range,
 * known actions, trusted networks with valid prefixes and no host bits,
 * and every trusted network matches its own address.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "milter_config.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_file_init("milter_config");
	return 0;
}

static void
check_net(const struct milter_config *c, const struct milter_net *n)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned max = n->family == AF_INET ? 32 : 128, bytes = max / 8, i;

	CHECK(n->family == AF_INET || n->family == AF_INET6);
	CHECK(n->prefix <= max);
	for (i = 0; i < bytes; i++) {
		unsigned keep = n->prefix >= (i + 1) * 8 ? 8 :
		    n->prefix > i * 8 ? n->prefix - i * 8 : 0;
		unsigned char host = (unsigned char)(0xffu >> keep);

		CHECK((n->addr[i] & host) == 0);
	}
	CHECK(inet_ntop(n->family, n->addr, ip, sizeof ip) != NULL);
	CHECK(milter_config_trusted(c, ip));
}

static void
check_config(const struct milter_config *c)
{
	size_t i;

	CHECK(c->socket != NULL && c->socket[0] != '\0');
	CHECK(c->authserv_id != NULL && c->authserv_id[0] != '\0');
	CHECK(c->dns_timeout >= 1 &&
	    c->dns_timeout <= MILTER_CONFIG_DNS_TIMEOUT_MAX);
	CHECK(c->dmarc_action <= MILTER_DMARC_REJECT);
	CHECK(c->temp_action <= MILTER_TEMP_TEMPFAIL);
	CHECK(milter_dmarc_action_name(c->dmarc_action) != NULL);
	CHECK(milter_temp_action_name(c->temp_action) != NULL);
	for (i = 0; i < c->ntrusted; i++)
		check_net(c, &c->trusted[i]);
	CHECK(!milter_config_trusted(c, "not an address"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_config *c = NULL;
	char err[MILTER_CONFIG_ERR_MAX];
	const char *path = fuzz_file_write(data, size);

	if (milter_config_load(path, &c, err, sizeof err) == 0) {
		check_config(c);
		milter_config_free(c);
	} else {
		CHECK(c == NULL);
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
	}
	return 0;
}
