/*
 * upstream_data.c - sending a message's content after the upstream's 354
 * (RFC 5321 4.1.1.4, 4.5.2): dot-stuffing and the final ".".
 *
 * Functions (relay-internal): up_body_start(), up_body_writecb().
 *
 * Flow control: content is read from struct upstream_body in CHUNK-octet
 * pieces only while the output buffer holds less than OUT_HIGH; the write
 * low watermark (OUT_LOW) calls us back when the kernel has taken enough.
 * So at most about OUT_HIGH + CHUNK octets of a message are in our memory,
 * whatever its size.
 *
 * Stuffing: a "." is added before every "." that starts a line, a line
 * starting after any LF (not only CRLF).  The caller's content is CRLF
 * lines, so for it the two are the same; for content that is not, the
 * stricter choice means no upstream, however it frames lines, can see an
 * end of data inside the message (SMTP smuggling).  Content that does not
 * end in CRLF gets one before the final ".\r\n".
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "upstream_internal.h"

#define CHUNK     16384
#define OUT_LOW   16384
#define OUT_HIGH  65536

static int
stuff(struct upstream *u, struct evbuffer *out, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		const char *nl, *stop;

		if (u->at_bol && *p == '.' && evbuffer_add(out, ".", 1) != 0)
			return -1;
		nl = memchr(p, '\n', (size_t)(end - p));
		stop = nl != NULL ? nl + 1 : end;
		if (evbuffer_add(out, p, (size_t)(stop - p)) != 0)
			return -1;
		u->at_bol = nl != NULL;
		p = stop;
	}
	if (n >= 2) {
		u->tail[0] = end[-2];
		u->tail[1] = end[-1];
	} else if (n == 1) {
		u->tail[0] = u->tail[1];
		u->tail[1] = end[-1];
	}
	return 0;
}

static int
finish(struct upstream *u, struct evbuffer *out)
{
	bool crlf = u->tail[0] == '\r' && u->tail[1] == '\n';

	if (!crlf && evbuffer_add(out, "\r\n", 2) != 0)
		return -1;
	if (evbuffer_add(out, ".\r\n", 3) != 0)
		return -1;
	u->state = UP_DOT;
	memset(&u->parser, 0, sizeof(u->parser));
	up_timer(u, u->rc->data_timeout);
	return 0;
}

static void
fill(struct upstream *u)
{
	struct evbuffer *out = bufferevent_get_output(u->bev);
	char buf[CHUNK];

	while (u->state == UP_BODY && evbuffer_get_length(out) < OUT_HIGH) {
		ssize_t n = u->body.read(u->body.arg, buf, sizeof(buf));
		if (n < 0) {
			up_fail(u, 451, "4.3.0", "local error: cannot read the "
			    "message content");
			return;
		}
		if (n == 0) {
			if (finish(u, out) != 0)
				up_fail(u, 451, "4.3.0", "local error: out of memory");
			return;
		}
		u->sent += (size_t)n;
		if (stuff(u, out, buf, (size_t)n) != 0) {
			up_fail(u, 451, "4.3.0", "local error: out of memory");
			return;
		}
	}
	if (u->state == UP_BODY)
		up_timer(u, u->rc->reply_timeout);
}

void
up_body_writecb(struct bufferevent *bev, void *arg)
{
	struct upstream *u = arg;

	if (u->state == UP_BODY)
		fill(u);
}

void
up_body_start(struct upstream *u)
{
	u->state = UP_BODY;
	u->at_bol = true;
	u->tail[0] = '\r';
	u->tail[1] = '\n';
	u->sent = 0;
	bufferevent_setwatermark(u->bev, EV_WRITE, OUT_LOW, 0);
	fill(u);
}
