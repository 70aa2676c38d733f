/*
 * fuzz_addrmap.c - libFuzzer target for addrmap_load() / addrmap_lookup().
 *
 * addrmap_load() reads a file, so each input is written to one temporary
 * file per process (fuzz_file.h).
 * Invariants: an error leaves *out NULL and is one line starting with
 * "FILE:"; a loaded map holds one entry per key line, every key line's
 * key is found again (exact or through its domain wildcard), and every
 * value is "@domain" for a wildcard key, "local@domain" otherwise.
 * LeakSanitizer checks every error path.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrmap.h"
#include "fuzz_file.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_file_init("addrmap");
	return 0;
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The first field of every line that holds a key: found again. */
static size_t
check_keys(const struct addrmap *m, const char *d, size_t size)
{
	size_t pos = 0, keys = 0;

	while (pos < size) {
		const char *nl = memchr(d + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - d) : size, b = pos, e, at;
		const char *v;

		while (b < end && blank(d[b]))
			b++;
		for (e = b; e < end && !blank(d[e]); e++)
			;
		pos = end + 1;
		if (e == b || d[b] == '#')
			continue;
		keys++;
		for (at = e; at > b && d[at - 1] != '@'; at--)
			;
		CHECK(at > b);
		v = addrmap_lookup(m, d + b, at - 1 - b, d + at, e - at);
		CHECK(v != NULL);
		CHECK((d[b] == '@') == (v[0] == '@'));
		CHECK((strchr(v + 1, '@') == NULL) == (v[0] == '@'));
	}
	return keys;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addrmap *m = (struct addrmap *)&m;
	char err[512];
	const char *path;

	if (size > 65536)
		return 0;
	path = fuzz_file_write(data, size);
	if (addrmap_load(path, &m, err, sizeof err) != 0) {
		CHECK(m == NULL);
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(err[strlen(path)] == ':' && strchr(err, '\n') == NULL);
		return 0;
	}
	CHECK(check_keys(m, (const char *)data, size) == addrmap_count(m));
	CHECK(addrmap_bytes(m) > 0);
	addrmap_free(m);
	return 0;
}
