/*
 * fuzz_smtp_cmd.c - libFuzzer target for smtp_cmd.c.
 *
 * The input, copied into an exact-size buffer (ASan sees any over-read), is
 * given to smtp_cmd_parse(), smtp_mail_parse(), smtp_rcpt_parse() (with and
 * without SMTPUTF8) and smtp_helo_check(), and also, when it parses as a
 * MAIL/RCPT/HELO/EHLO line, its argument to the matching function.
 * Checked: outputs point inside the input (or to ""), an error always comes
 * with a well-formed reply "ddd d.d.d text", success never with one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static bool
inside(const char *p, size_t n, const char *buf, size_t len)
{
	if (n == 0)
		return true;
	return p >= buf && p + n <= buf + len;
}

static void
check_reply(int r, const char *reply)
{
	if (r == 0) {
		CHECK(reply == NULL);
		return;
	}
	CHECK(r == -1 && reply != NULL);
	CHECK(reply[0] == '5' && reply[3] == ' ' && reply[4] == '5' &&
	    reply[5] == '.');
	CHECK(strlen(reply) < 80);
}

static void
check_address(const struct address *a)
{
	CHECK(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	CHECK(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
}

static void
args(const char *buf, size_t len)
{
	struct mail_args m;
	struct rcpt_args rc;
	const char *reply = NULL;
	int r;

	r = smtp_mail_parse(buf, len, &m, &reply);
	check_reply(r, reply);
	CHECK(m.params != NULL && inside(m.params, m.paramslen, buf, len));
	if (r == 0)
		check_address(&m.addr);
	for (int utf8 = 0; utf8 < 2; utf8++) {
		r = smtp_rcpt_parse(buf, len, utf8, &rc, &reply);
		check_reply(r, reply);
		CHECK(rc.params != NULL &&
		    inside(rc.params, rc.paramslen, buf, len));
		if (r == 0) {
			check_address(&rc.addr);
			CHECK(!(rc.addr.flags & ADDRESS_NULL));
			CHECK(utf8 || !(rc.addr.flags & ADDRESS_UTF8));
		}
	}
	r = smtp_helo_check(buf, len);
	CHECK(r == 0 || r == -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct smtp_cmd cmd;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (smtp_cmd_parse(buf, size, &cmd) == 0) {
		CHECK(cmd.verb < VERB__COUNT);
		CHECK(smtp_verb_name(cmd.verb) != NULL);
		CHECK(cmd.arg != NULL && inside(cmd.arg, cmd.arglen, buf, size));
		for (size_t i = 0; i < size; i++)
			CHECK((unsigned char)buf[i] >= 0x20 || buf[i] == '\t');
		if (cmd.arglen > 0)
			args(cmd.arg, cmd.arglen);
	} else {
		CHECK(cmd.verb == VERB_UNKNOWN && cmd.arglen == 0);
	}
	args(buf, size);
	free(buf);
	return 0;
}
