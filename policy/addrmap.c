/*
 * addrmap.c - address map files loaded into one arena + a hash table.
 *
 * Public functions: see addrmap.h.
 *
 * Storage: every key and value lives in ONE growable arena as
 * "key\0value\0"; the table is open addressing with linear probing over a
 * power-of-two array of {hash, 1 + arena offset} pairs (offset 0 = empty),
 * at most half full.  No allocation per entry: a 1,000,000-entry map is
 * two allocations, about 16 bytes of table plus the text per entry, and
 * the arena is trimmed to size once loaded.  Keeping the 32-bit hash in
 * the slot makes growing the table a pass over the slots alone and skips
 * most key comparisons.  Rejected alternative: a node per entry (key and
 * value pointers, malloc each) costs 3 allocations and ~100 bytes of
 * overhead per entry and loads several times slower.
 *
 * Keys are normalised once (domain_key() for the domain, ASCII lowercase
 * for the local part) so a lookup is one normalisation and at most two
 * probes.  Syntax of addresses is address_parse()'s (RFC 5321 4.1.2) on
 * "<token>": the map speaks envelope addresses.
 *
 * Invariants: arena offsets fit 32 bits (checked: "map too large");
 * count <= nslots / 2; the map is immutable once addrmap_load() returns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "address.h"
#include "addrmap.h"
#include "hash.h"
#include "domain_table.h"

#define LOCAL_SIZE sizeof(((struct address *)0)->local)
#define KEY_SIZE   (LOCAL_SIZE + 1 + DOMAIN_KEY_SIZE)

struct slot {
	uint32_t hash;
	uint32_t off;       /* 1 + arena offset of the key; 0 = empty */
};

struct addrmap {
	char *arena;        /* "key\0value\0" ... */
	size_t used;
	size_t cap;
	struct slot *slots;
	size_t nslots;      /* power of two */
	size_t count;
};

struct loader {
	const char *path;
	unsigned long line;
	char *err;
	size_t errlen;
};

static uint32_t
hash(const char *s, size_t len)
{
	return (uint32_t)hash_bytes(s, len);
}

static int fail(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct loader *ld, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof what)
		memcpy(what + sizeof what - 4, "...", 4);
	if (ld->line > 0)
		n = snprintf(ld->err, ld->errlen, "%s:%lu: %s", ld->path,
		    ld->line, what);
	else
		n = snprintf(ld->err, ld->errlen, "%s: %s", ld->path, what);
	if ((n < 0 || (size_t)n >= ld->errlen) && ld->errlen >= 4)
		memcpy(ld->err + ld->errlen - 4, "...", 4);
	return -1;
}

/* "local@domain" -> normalised key (or value when !fold); "" local for
 * a wildcard.  Returns the length, or -1 with *why. */
static int
normalise(const char *local, size_t llen, const char *domain, size_t dlen,
    bool fold, char *out, const char **why)
{
	size_t i;
	int n;

	if (llen >= LOCAL_SIZE) {
		*why = "local part too long";
		return -1;
	}
	for (i = 0; i < llen; i++) {
		char c = local[i];

		out[i] = (fold && c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[llen] = '@';
	n = domain_key(domain, dlen, out + llen + 1, why);
	if (n < 0)
		return -1;
	return (int)llen + 1 + n;
}

/* One key or value token: "@domain" or an RFC 5321 mailbox. */
static int
parse_token(const char *tok, size_t len, bool fold, char *out, bool *wild,
    const char **why)
{
	char path[ADDRMAP_LINE_MAX + 3];
	struct address a;
	size_t used;
	const unsigned bad = ADDRESS_NULL | ADDRESS_NO_DOMAIN | ADDRESS_ROUTED |
	    ADDRESS_IP_LITERAL;

	*wild = len > 0 && tok[0] == '@';
	if (*wild)
		return normalise("", 0, tok + 1, len - 1, fold, out, why);
	if (len > ADDRMAP_LINE_MAX) {
		*why = "too long";
		return -1;
	}
	path[0] = '<';
	memcpy(path + 1, tok, len);
	path[len + 1] = '>';
	if (address_parse(path, len + 2, true, &a, &used) != ADDRESS_OK ||
	    used != len + 2 || (a.flags & bad) != 0) {
		*why = "is not local@domain or @domain";
		return -1;
	}
	return normalise(a.local, a.local_len, a.domain, a.domain_len, fold,
	    out, why);
}

static const struct slot *
probe(const struct addrmap *m, const char *key, size_t len, uint32_t h)
{
	size_t mask = m->nslots - 1, i = h & mask;

	for (; m->slots[i].off != 0; i = (i + 1) & mask) {
		const char *k = m->arena + m->slots[i].off - 1;

		if (m->slots[i].hash == h && memcmp(k, key, len) == 0 &&
		    k[len] == '\0')
			return &m->slots[i];
	}
	return &m->slots[i];
}

static int
grow_slots(struct addrmap *m)
{
	size_t n = m->nslots * 2, i, j;
	struct slot *s = calloc(n, sizeof *s);

	if (s == NULL)
		return -1;
	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i].off == 0)
			continue;
		for (j = m->slots[i].hash & (n - 1); s[j].off != 0; j = (j + 1) & (n - 1))
			;
		s[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->nslots = n;
	return 0;
}

static int
arena_append(struct addrmap *m, const char *s, size_t len)
{
	if (m->used + len + 1 > m->cap) {
		size_t cap = m->cap * 2;
		char *a;

		while (cap < m->used + len + 1)
			cap *= 2;
		if ((a = realloc(m->arena, cap)) == NULL)
			return -1;
		m->arena = a;
		m->cap = cap;
	}
	memcpy(m->arena + m->used, s, len);
	m->arena[m->used + len] = '\0';
	m->used += len + 1;
	return 0;
}

static int
insert(struct loader *ld, struct addrmap *m, const char *key, size_t klen,
    const char *val, size_t vlen)
{
	uint32_t h = hash(key, klen);
	struct slot *s;
	size_t off = m->used;

	if ((m->count + 1) * 2 > m->nslots && grow_slots(m) < 0)
		return fail(ld, "out of memory");
	s = (struct slot *)probe(m, key, klen, h);
	if (s->off != 0)
		return fail(ld, "duplicate key \"%.*s\"", (int)klen, key);
	if (off + klen + vlen + 2 >= UINT32_MAX)
		return fail(ld, "map too large (4 GiB of text)");
	if (arena_append(m, key, klen) < 0 || arena_append(m, val, vlen) < 0)
		return fail(ld, "out of memory");
	s->hash = h;
	s->off = (uint32_t)(off + 1);
	m->count++;
	return 0;
}

#define BLANKS " \t\r"

/* Next blank-separated field at *pos of a NUL-terminated line (checked
 * for inner NULs first); its length, 0 when there is none. */
static size_t
field(const char *line, size_t *pos, const char **start)
{
	size_t b = *pos + strspn(line + *pos, BLANKS);
	size_t n = strcspn(line + b, BLANKS);

	*start = line + b;
	*pos = b + n;
	return n;
}

/* line[len] is NUL. */
static int
load_line(struct loader *ld, struct addrmap *m, const char *line, size_t len)
{
	char key[KEY_SIZE], val[KEY_SIZE];
	const char *k, *v, *x, *why = "";
	size_t pos = 0, kl, vl;
	int kn, vn;
	bool kw, vw;

	if (len > ADDRMAP_LINE_MAX)
		return fail(ld, "line too long (over %d octets)", ADDRMAP_LINE_MAX);
	if (memchr(line, '\0', len) != NULL)
		return fail(ld, "NUL byte");
	kl = field(line, &pos, &k);
	if (kl == 0 || k[0] == '#')
		return 0;
	vl = field(line, &pos, &v);
	if (vl == 0)
		return fail(ld, "missing value for \"%.*s\"", (int)kl, k);
	if (field(line, &pos, &x) != 0)
		return fail(ld, "extra field \"%.*s\"", (int)(line + pos - x), x);
	if ((kn = parse_token(k, kl, true, key, &kw, &why)) < 0)
		return fail(ld, "bad key \"%.*s\": %s", (int)kl, k, why);
	if ((vn = parse_token(v, vl, false, val, &vw, &why)) < 0)
		return fail(ld, "bad value \"%.*s\": %s", (int)vl, v, why);
	if (kw != vw)
		return fail(ld, "value \"%.*s\" is not %s like its key", (int)vl,
		    v, kw ? "a domain wildcard (@domain)" : "an address");
	return insert(ld, m, key, (size_t)kn, val, (size_t)vn);
}

/* The arena starts at the file's size: "key\0value\0" is exactly as long
 * as "key value\n", so a map without comments never reallocates. */
static struct addrmap *
map_new(FILE *f)
{
	struct addrmap *m = calloc(1, sizeof *m);
	struct stat st;

	if (m == NULL)
		return NULL;
	m->nslots = 16;
	m->cap = 4096;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > 4096 && (uintmax_t)st.st_size < UINT32_MAX)
		m->cap = (size_t)st.st_size + 2;
	m->slots = calloc(m->nslots, sizeof *m->slots);
	m->arena = malloc(m->cap);
	if (m->slots == NULL || m->arena == NULL) {
		addrmap_free(m);
		return NULL;
	}
	return m;
}

/* One line into buf (cap = ADDRMAP_LINE_MAX + 2), its LF dropped: its
 * length, or -1 at the end of the file.  Reading stops one octet past
 * ADDRMAP_LINE_MAX, so an over-long line is reported (load_line) without
 * being read whole: a file without line breaks costs no memory. */
static ssize_t
read_line(FILE *f, char *buf, size_t cap)
{
	size_t n = 0;
	int c = EOF;

	while (n < cap - 1 && (c = getc_unlocked(f)) != EOF && c != '\n')
		buf[n++] = (char)c;
	buf[n] = '\0';
	if (n == 0 && c == EOF)
		return -1;
	return (ssize_t)n;
}

static int
load_file(struct loader *ld, struct addrmap *m, FILE *f)
{
	char line[ADDRMAP_LINE_MAX + 2];
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = read_line(f, line, sizeof line)) >= 0) {
		ld->line++;
		rc = load_line(ld, m, line, (size_t)n);
	}
	if (rc == 0 && ferror(f)) {
		ld->line = 0;
		rc = fail(ld, "read error: %s", strerror(errno));
	}
	return rc;
}

int
addrmap_load(const char *path, struct addrmap **out, char *err, size_t errlen)
{
	struct loader ld = { path, 0, err, errlen };
	struct addrmap *m;
	FILE *f;
	char *a;
	int rc;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL)
		return fail(&ld, "cannot open: %s", strerror(errno));
	if ((m = map_new(f)) == NULL) {
		fclose(f);
		return fail(&ld, "out of memory");
	}
	rc = load_file(&ld, m, f);
	fclose(f);
	if (rc < 0) {
		addrmap_free(m);
		return -1;
	}
	if (m->used > 0 && m->used < m->cap &&
	    (a = realloc(m->arena, m->used)) != NULL) {
		m->arena = a;
		m->cap = m->used;
	}
	*out = m;
	return 0;
}

const char *
addrmap_lookup(const struct addrmap *m, const char *local, size_t local_len,
    const char *domain, size_t domain_len)
{
	char key[KEY_SIZE];
	const struct slot *s;
	const char *why;
	int n;

	if (m == NULL || m->count == 0)
		return NULL;
	n = normalise(local, local_len, domain, domain_len, true, key, &why);
	if (n < 0)
		return NULL;
	s = probe(m, key, (size_t)n, hash(key, (size_t)n));
	if (s->off == 0) {
		key[local_len] = '@';
		n -= (int)local_len;
		s = probe(m, key + local_len, (size_t)n,
		    hash(key + local_len, (size_t)n));
	}
	if (s->off == 0)
		return NULL;
	return m->arena + s->off - 1 + n + 1;
}

size_t
addrmap_count(const struct addrmap *m)
{
	return m->count;
}

size_t
addrmap_bytes(const struct addrmap *m)
{
	return sizeof *m + m->cap + m->nslots * sizeof *m->slots;
}

void
addrmap_free(struct addrmap *m)
{
	if (m == NULL)
		return;
	free(m->arena);
	free(m->slots);
	free(m);
}
