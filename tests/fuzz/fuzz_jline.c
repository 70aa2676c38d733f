/*
 * fuzz_jline.c - libFuzzer target for jline.c.
 *
 * json_escape() of arbitrary bytes, with max_in and the size of dst taken
 * from the first two bytes: the output must fit, be NUL-terminated, be
 * valid UTF-8 (checked by jansson, which refuses anything else) and parse
 * as a JSON string.  Then a whole line is built from the input (each byte
 * of the first 16 picks an operation, the rest is cut into string values)
 * and must parse as one JSON object on one line, within JLINE_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jline.h"
#include "limits_default.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void
escape(const uint8_t *data, size_t size)
{
	char dst[LOG_FIELD_MAX * 6 + 8], quoted[sizeof(dst) + 2];
	size_t max_in = data[0] * 2, dstlen = (size_t)data[1] * 7 % sizeof(dst);
	size_t n;
	json_t *v;

	memset(dst, 'X', sizeof(dst));
	n = json_escape(dst, dstlen, (const char *)data + 2, size - 2, max_in);
	if (dstlen == 0) {
		CHECK(n == 0 && dst[0] == 'X');
		return;
	}
	CHECK(n < dstlen && dst[n] == '\0');
	CHECK(dst[dstlen] == 'X' || dstlen == sizeof(dst));
	quoted[0] = '"';
	memcpy(quoted + 1, dst, n);
	quoted[n + 1] = '"';
	v = json_loadb(quoted, n + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	CHECK(v != NULL && json_is_string(v));
	json_decref(v);
}

static void
line(const uint8_t *data, size_t size)
{
	size_t nops = size < 16 ? size : 16, pos = nops, len;
	const char *val = (const char *)data;
	char key[9];
	struct jline j;
	json_t *o;

	jline_begin(&j);
	for (size_t k = 0; k < nops; k++) {
		size_t take = (size - pos) / (nops - k + 1) * 3;
		if (take > size - pos)
			take = size - pos;
		switch (data[k] % 9) {
		case 0: jline_str(&j, "s", val + pos, take); break;
		case 1: jline_int(&j, "i", (long long)((uint64_t)data[k] << 56)); break;
		case 2: jline_bool(&j, NULL, data[k] & 0x10); break;
		case 3: jline_null(&j, "n"); break;
		case 4: jline_obj_begin(&j, "o"); break;
		case 5: jline_arr_begin(&j, "a"); break;
		case 6: jline_obj_end(&j); break;
		case 7: jline_arr_end(&j); break;
		default:
			memset(key, 0, sizeof(key));
			memcpy(key, val + pos, take < 8 ? take : 8);
			jline_str(&j, key, "k", 1);
			break;
		}
		pos += take;
	}
	len = jline_end(&j);
	CHECK(len < JLINE_MAX && j.buf[len] == '\0' && j.buf[len - 1] == '\n');
	CHECK(memchr(j.buf, '\n', len - 1) == NULL);
	o = json_loadb(j.buf, len, JSON_ALLOW_NUL, NULL);
	CHECK(o != NULL && json_is_object(o));
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	escape(data, size);
	line(data, size);
	return 0;
}
