/*
 * header_rewrite.c - sender_map on From:, Sender:, Reply-To: (RFC 5322
 * 2.2 header fields, 2.2.3 folding, 3.6.2 originator fields, 4.5 obs-hdr
 * WSP before the colon), pure.
 *
 * Public functions: see header_rewrite.h.
 *
 * The header section is walked line by line, a line ending with CRLF and
 * only CRLF (a bare LF is content of the line it is in, so it can never
 * make a new field start where a DKIM verifier or the next MTA would not
 * see one).  A field is a line starting with a name (printable ASCII but
 * ':'), optional WSP, ':', plus every following line that starts with SP
 * or HTAB.  Lines that are not fields (garbage, a continuation without a
 * field) and fields other than the three are copied as they are; the
 * walk stops at the blank line and the rest is copied untouched, so a
 * "From:" in the body is never seen.
 *
 * A wanted field's value (after ':', up to but not including the CRLF
 * ending its last line) goes through addrlist_rewrite() twice when it has
 * something to rewrite: first to learn whether the whole field succeeds
 * (the output buffer grows and the pass is repeated on ADDRLIST_ERR_SPACE),
 * then, with identical output, to report each rewrite to the caller.  So
 * the callback never announces a rewrite that was then abandoned, and no
 * list of notes has to be kept (a field may hold any number of addresses).
 * Rejected: unfolding the value first (changes bytes a reader may sign).
 *
 * Each addr-spec is wrapped as "<addr>" and parsed by address_parse()
 * (SMTPUTF8 allowed), then rewrite_sender() decides, so a header address
 * is rewritten exactly as the same envelope sender would be.  An address
 * that is not a valid RFC 5321 mailbox (e.g. a local part over 64 octets)
 * is kept silently: no map entry can name it.  A rewrite that would break
 * RFC 5321 limits leaves the whole field unchanged and is reported.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "addrlist.h"
#include "header_rewrite.h"
#include "rewrite.h"

struct obuf {
	char *p;
	size_t len;
	size_t cap;
};

struct field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct field_ctx {
	const struct addrmap *map;
	const struct field *f;
	header_rewrite_cb *cb;
	void *arg;
	bool report;
	bool limits;              /* a rewrite would break RFC 5321 limits */
	size_t changes;
};

static const char *const wanted[] = { "from", "sender", "reply-to" };

static int
obuf_put(struct obuf *o, const char *p, size_t n)
{
	size_t cap = o->cap ? o->cap : 256;
	char *np;

	if (n == 0)
		return 0;
	if (n <= o->cap - o->len) {
		memcpy(o->p + o->len, p, n);
		o->len += n;
		return 0;
	}
	while (cap - o->len < n) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	np = realloc(o->p, cap);
	if (np == NULL)
		return -1;
	o->p = np;
	o->cap = cap;
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return 0;
}

static void
note_kept(const struct field_ctx *c, const char *reason)
{
	struct header_rewrite_note n = {
		.what = HEADER_REWRITE_KEPT,
		.field = c->f->name, .field_len = c->f->name_len,
		.value = c->f->value, .value_len = c->f->value_len,
		.reason = reason,
	};

	if (c->cb)
		c->cb(c->arg, &n);
}

static void
note_changed(const struct field_ctx *c, const char *old, size_t old_len,
    const struct addrlist_repl *r)
{
	struct header_rewrite_note n = {
		.what = HEADER_REWRITE_CHANGED,
		.field = c->f->name, .field_len = c->f->name_len,
		.old_addr = old, .old_len = old_len,
		.new_addr = r->addr, .new_len = r->len,
	};

	if (c->cb)
		c->cb(c->arg, &n);
}

/* addrlist_cb: rewrite_sender() on one addr-spec. */
static int
map_addr(const char *addr, size_t len, void *ctx, struct addrlist_repl *out)
{
	struct field_ctx *c = ctx;
	char path[ADDRLIST_ADDR_MAX + 2];
	struct address in, res;
	size_t used;
	int n;

	if (len > ADDRLIST_ADDR_MAX)
		return 0;
	path[0] = '<';
	memcpy(path + 1, addr, len);
	path[len + 1] = '>';
	if (address_parse(path, len + 2, true, &in, &used) != ADDRESS_OK ||
	    used != len + 2)
		return 0;
	switch (rewrite_sender(c->map, &in, &res)) {
	case REWRITE_SAME:
		return 0;
	case REWRITE_ERROR:
		c->limits = true;
		return -1;
	case REWRITE_CHANGED:
		break;
	}
	n = address_format(&res, out->addr, sizeof out->addr);
	if (n < 0) {
		c->limits = true;
		return -1;
	}
	out->len = (size_t)n;
	c->changes++;
	if (c->report)
		note_changed(c, addr, len, out);
	return 1;
}

/* One pass over the value into *buf, grown and repeated on
 * ADDRLIST_ERR_SPACE.  -1 when out of memory, else 0 with *e the outcome. */
static int
rewrite_pass(struct field_ctx *c, char **buf, size_t *cap, size_t *olen,
    enum addrlist_error *e)
{
	char *nb;

	for (;;) {
		c->changes = 0;
		c->limits = false;
		*e = addrlist_rewrite(c->f->value, c->f->value_len, map_addr, c,
		    *buf, *cap, olen);
		if (*e != ADDRLIST_ERR_SPACE || *cap > SIZE_MAX / 2)
			return 0;
		if ((nb = realloc(*buf, *cap * 2)) == NULL)
			return -1;
		*buf = nb;
		*cap *= 2;
	}
}

/* The field's value rewritten into o, or copied when nothing changes or
 * it cannot be rewritten.  Returns the number of rewrites, or -1 when out
 * of memory. */
static int
rewrite_value(struct field_ctx *c, struct obuf *o)
{
	size_t cap = c->f->value_len + ADDRLIST_ADDR_MAX, olen = 0;
	char *buf = malloc(cap);
	enum addrlist_error e;
	int rc = -1;

	if (buf == NULL || rewrite_pass(c, &buf, &cap, &olen, &e) < 0)
		goto out;
	if (e == ADDRLIST_OK && c->changes > 0) {
		c->report = true;
		if (rewrite_pass(c, &buf, &cap, &olen, &e) < 0)
			goto out;
		c->report = false;
	}
	if (e != ADDRLIST_OK)
		note_kept(c, c->limits ? rewrite_result_text(REWRITE_ERROR) :
		    addrlist_error_text(e));
	if (e == ADDRLIST_OK && c->changes > 0) {
		if (obuf_put(o, buf, olen) == 0)
			rc = c->changes > INT_MAX ? INT_MAX : (int)c->changes;
	} else if (obuf_put(o, c->f->value, c->f->value_len) == 0)
		rc = 0;
out:
	free(buf);
	return rc;
}

static bool
is_wanted(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
		if (strlen(wanted[i]) == len &&
		    strncasecmp(name, wanted[i], len) == 0)
			return true;
	return false;
}

/* End of the line starting at pos: just past its CRLF, or end. */
static size_t
line_end(const char *p, size_t pos, size_t end)
{
	const char *q = memmem(p + pos, end - pos, "\r\n", 2);

	return q ? (size_t)(q - p) + 2 : end;
}

/* The field starting at pos: name, value, and one past its last line.
 * Returns false when the line does not start a field. */
static bool
parse_field(const char *p, size_t pos, size_t end, struct field *f,
    size_t *next)
{
	size_t i = pos, e;

	while (i < end && p[i] > ' ' && p[i] < 127 && p[i] != ':')
		i++;
	f->name = p + pos;
	f->name_len = i - pos;
	while (i < end && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (f->name_len == 0 || i == end || p[i] != ':')
		return false;
	e = line_end(p, pos, end);
	while (e < end && (p[e] == ' ' || p[e] == '\t'))
		e = line_end(p, e, end);
	f->value = p + i + 1;
	f->value_len = e - (i + 1);
	if (e >= pos + 2 && p[e - 2] == '\r' && p[e - 1] == '\n' &&
	    f->value_len >= 2)
		f->value_len -= 2;
	*next = e;
	return true;
}

/* One field or line at pos into o; *pos moves past it.  Returns the
 * number of rewrites or -1. */
static int
one_field(const char *p, size_t *pos, size_t end, struct field_ctx *c,
    struct obuf *o)
{
	struct field f;
	size_t next, head;
	int n;

	if (!parse_field(p, *pos, end, &f, &next))
		next = line_end(p, *pos, end);
	else if (c->map != NULL && is_wanted(f.name, f.name_len)) {
		c->f = &f;
		head = (size_t)(f.value - (p + *pos));
		if (obuf_put(o, p + *pos, head) < 0 ||
		    (n = rewrite_value(c, o)) < 0)
			return -1;
		head = (size_t)(f.value - p) + f.value_len;
		*pos = next;
		return obuf_put(o, p + head, next - head) < 0 ? -1 : n;
	}
	n = obuf_put(o, p + *pos, next - *pos);
	*pos = next;
	return n;
}

bool
header_rewrite_section_end(const char *buf, size_t len, size_t *end)
{
	const char *q;

	if (len >= 2 && buf[0] == '\r' && buf[1] == '\n') {
		*end = 2;
		return true;
	}
	q = memmem(buf, len, "\r\n\r\n", 4);
	*end = q ? (size_t)(q - buf) + 4 : len;
	return q != NULL;
}

int
header_rewrite_apply(const char *hdr, size_t len, const struct addrmap *map,
    header_rewrite_cb *cb, void *arg, char **out, size_t *out_len)
{
	struct field_ctx c = { .map = map, .cb = cb, .arg = arg };
	struct obuf o = { NULL, 0, 0 };
	size_t pos = 0, end, stop;
	int total = 0, n;

	*out = NULL;
	*out_len = 0;
	/* the fields end where the blank line starts */
	stop = header_rewrite_section_end(hdr, len, &end) ? end - 2 : len;
	while (pos < stop) {
		if ((n = one_field(hdr, &pos, stop, &c, &o)) < 0)
			goto fail;
		total = n > INT_MAX - total ? INT_MAX : total + n;
	}
	if (obuf_put(&o, hdr + pos, len - pos) < 0)
		goto fail;
	if (o.p == NULL && (o.p = malloc(1)) == NULL)
		goto fail;
	*out = o.p;
	*out_len = o.len;
	return total;
fail:
	free(o.p);
	errno = ENOMEM;
	return -1;
}
