/*
 * test_jline.c - json_escape() and the jline object builder.
 *
 * Escaping is table-driven (got/want) over ASCII, control bytes, valid and
 * invalid UTF-8 (overlongs, surrogates, > U+10FFFF, truncated sequences) and
 * the two kinds of cut (max_in, dst size).  Every line the builder produces
 * is re-parsed with jansson, including lines that overflowed, nested past
 * the depth limit, or were built by a seeded random sequence of calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jline.h"
#include "limits_default.h"

#define S(x) x, sizeof(x) - 1
#define ELL "\xe2\x80\xa6"

/* An independent UTF-8 check: decode code points, check their ranges. */
static bool
valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned cp, len, min;
		if (p[i] < 0x80) {
			i++;
			continue;
		} else if ((p[i] & 0xe0) == 0xc0) {
			cp = p[i] & 0x1f; len = 2; min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			cp = p[i] & 0x0f; len = 3; min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			cp = p[i] & 0x07; len = 4; min = 0x10000;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (unsigned k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static json_t *
parse_line(const char *buf, size_t len)
{
	json_error_t err;
	json_t *o;

	assert_true(len > 0);
	assert_int_equal(buf[len - 1], '\n');
	assert_null(memchr(buf, '\n', len - 1));
	assert_true(valid_utf8(buf, len));
	o = json_loadb(buf, len, JSON_ALLOW_NUL, &err);
	if (!o)
		fail_msg("jansson: %s in %.*s", err.text, (int)len, buf);
	assert_true(json_is_object(o));
	return o;
}

/* ------------------------------------------------------------------ */

struct esc_case {
	const char *in;
	size_t inlen;
	size_t max_in;
	size_t dstlen;
	const char *want;
};

static const struct esc_case esc_cases[] = {
	{ S(""), 256, 64, "" },
	{ S("plain text 123"), 256, 64, "plain text 123" },
	{ S("\""), 256, 64, "\\\"" },
	{ S("\\"), 256, 64, "\\\\" },
	{ S("a\nb\rc\td"), 256, 64, "a\\nb\\rc\\td" },
	{ S("\0"), 256, 64, "\\u0000" },
	{ S("\x01\x08\x0c\x1f"), 256, 64, "\\u0001\\u0008\\u000c\\u001f" },
	{ S("\x7f"), 256, 64, "\\u007f" },
	{ S(" ~/<>'"), 256, 64, " ~/<>'" },
	/* valid UTF-8 passes through */
	{ S("\xc3\xa9"), 256, 64, "\xc3\xa9" },
	{ S("\xc2\x80"), 256, 64, "\xc2\x80" },
	{ S("\xe2\x82\xac"), 256, 64, "\xe2\x82\xac" },
	{ S("\xe0\xa0\x80"), 256, 64, "\xe0\xa0\x80" },
	{ S("\xed\x9f\xbf"), 256, 64, "\xed\x9f\xbf" },
	{ S("\xee\x80\x80"), 256, 64, "\xee\x80\x80" },
	{ S("\xe2\x80\xa8"), 256, 64, "\xe2\x80\xa8" },
	{ S("\xf0\x9f\x98\x80"), 256, 64, "\xf0\x9f\x98\x80" },
	{ S("\xf0\x90\x80\x80"), 256, 64, "\xf0\x90\x80\x80" },
	{ S("\xf4\x8f\xbf\xbf"), 256, 64, "\xf4\x8f\xbf\xbf" },
	/* invalid UTF-8: every byte as \u00XX */
	{ S("\x80"), 256, 64, "\\u0080" },
	{ S("\xbf"), 256, 64, "\\u00bf" },
	{ S("\xc0\x80"), 256, 64, "\\u00c0\\u0080" },
	{ S("\xc1\xbf"), 256, 64, "\\u00c1\\u00bf" },
	{ S("\xe0\x80\x80"), 256, 64, "\\u00e0\\u0080\\u0080" },
	{ S("\xe0\x9f\xbf"), 256, 64, "\\u00e0\\u009f\\u00bf" },
	{ S("\xf0\x80\x80\x80"), 256, 64, "\\u00f0\\u0080\\u0080\\u0080" },
	{ S("\xf0\x8f\xbf\xbf"), 256, 64, "\\u00f0\\u008f\\u00bf\\u00bf" },
	{ S("\xed\xa0\x80"), 256, 64, "\\u00ed\\u00a0\\u0080" },
	{ S("\xed\xbf\xbf"), 256, 64, "\\u00ed\\u00bf\\u00bf" },
	{ S("\xf4\x90\x80\x80"), 256, 64, "\\u00f4\\u0090\\u0080\\u0080" },
	{ S("\xf5\x80\x80\x80"), 256, 64, "\\u00f5\\u0080\\u0080\\u0080" },
	{ S("\xfe\xff"), 256, 64, "\\u00fe\\u00ff" },
	{ S("a\xc3"), 256, 64, "a\\u00c3" },
	{ S("\xe2\x82"), 256, 64, "\\u00e2\\u0082" },
	{ S("\xe2\x82" "A"), 256, 64, "\\u00e2\\u0082A" },
	{ S("\xf0\x9f\x98"), 256, 64, "\\u00f0\\u009f\\u0098" },
	{ S("\xc3\xe2\x82\xac"), 256, 64, "\\u00c3\xe2\x82\xac" },
	{ S("\xc3\"\xa9"), 256, 64, "\\u00c3\\\"\\u00a9" },
	/* cut at max_in, never inside a sequence, marked with U+2026 */
	{ S("abcdef"), 3, 64, "abc" ELL },
	{ S("abc"), 3, 64, "abc" },
	{ S("ab\xe2\x82\xac"), 3, 64, "ab" ELL },
	{ S("ab\xe2\x82\xac"), 4, 64, "ab" ELL },
	{ S("ab\xe2\x82\xac"), 5, 64, "ab\xe2\x82\xac" },
	{ S("ab\xe2\x82\xac!"), 5, 64, "ab\xe2\x82\xac" ELL },
	{ S("ab\xff\xff"), 3, 64, "ab\\u00ff" ELL },
	{ S("\n\n"), 1, 64, "\\n" ELL },
	{ S("abc"), 0, 64, ELL },
	/* cut by the size of dst (cap = dstlen - 1), at a whole unit */
	{ S("abcdef"), 256, 5, "a" ELL },
	{ S("abcdef"), 256, 6, "ab" ELL },
	{ S("abcdef"), 256, 7, "abcdef" },
	{ S("abcdef"), 256, 8, "abcdef" },
	{ S("abc"), 256, 3, "" },
	{ S("abc"), 256, 1, "" },
	{ S("\x01\x01"), 256, 12, "\\u0001" ELL },
	{ S("\x01\x01"), 256, 13, "\\u0001\\u0001" },
	{ S("a\xf0\x9f\x98\x80"), 256, 5, "a" ELL },
	{ S("a\xf0\x9f\x98\x80"), 256, 6, "a\xf0\x9f\x98\x80" },
};

static void
test_escape_table(void **state)
{
	for (size_t i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		const struct esc_case *c = &esc_cases[i];
		char dst[128];
		size_t n;

		memset(dst, 'X', sizeof(dst));
		n = json_escape(dst, c->dstlen, c->in, c->inlen, c->max_in);
		if (n != strlen(c->want) || strcmp(dst, c->want) != 0)
			fail_msg("case %zu: got [%s] (%zu), want [%s]", i, dst,
			    n, c->want);
		assert_int_equal(dst[c->dstlen], 'X');
		assert_true(valid_utf8(dst, n));
	}
}

static void
test_escape_zero_dst(void **state)
{
	char dst[4] = "XYZ";

	assert_int_equal(json_escape(dst, 0, "abc", 3, 256), 0);
	assert_string_equal(dst, "XYZ");
}

/* Random well-formed UTF-8 round-trips through jansson exactly; random
 * bytes always give valid UTF-8 that jansson accepts as a string. */
static size_t
put_cp(char *p, unsigned cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static json_t *
parse_string(const char *esc, size_t n)
{
	char quoted[LOG_FIELD_MAX * 6 + 16];
	json_error_t err;
	json_t *v;

	assert_true(n + 2 < sizeof(quoted));
	quoted[0] = '"';
	memcpy(quoted + 1, esc, n);
	quoted[n + 1] = '"';
	v = json_loadb(quoted, n + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (!v)
		fail_msg("jansson: %s in %.*s", err.text, (int)n + 2, quoted);
	assert_true(json_is_string(v));
	return v;
}

static void
test_escape_random(void **state)
{
	static const unsigned ranges[][2] = {
		{ 0, 0x7f }, { 0x80, 0x7ff }, { 0x800, 0xd7ff },
		{ 0xe000, 0xffff }, { 0x10000, 0x10ffff },
	};
	char src[LOG_FIELD_MAX], dst[LOG_FIELD_MAX * 6 + 4];
	unsigned seed = 12345;

	for (int round = 0; round < 2000; round++) {
		size_t n = 0, e;
		json_t *v;
		while (n + 4 <= sizeof(src) && (rand_r(&seed) % 64) != 0) {
			const unsigned *r = ranges[rand_r(&seed) % 5];
			n += put_cp(src + n, r[0] + (unsigned)rand_r(&seed) %
			    (r[1] - r[0] + 1));
		}
		e = json_escape(dst, sizeof(dst), src, n, LOG_FIELD_MAX);
		v = parse_string(dst, e);
		assert_int_equal(json_string_length(v), n);
		assert_memory_equal(json_string_value(v), src, n);
		json_decref(v);

		for (size_t k = 0; k < sizeof(src); k++)
			src[k] = (char)rand_r(&seed);
		n = (size_t)rand_r(&seed) % (sizeof(src) + 1);
		e = json_escape(dst, sizeof(dst), src, n, (size_t)rand_r(&seed)
		    % (LOG_FIELD_MAX + 1));
		assert_true(valid_utf8(dst, e));
		json_decref(parse_string(dst, e));
	}
}

/* ------------------------------------------------------------------ */

static void
test_basic_object(void **state)
{
	struct jline j;
	size_t n;

	jline_begin(&j);
	jline_int(&j, "v", 1);
	jline_str(&j, "s", "a\"b", 3);
	jline_cstr(&j, "c", "x");
	jline_cstr(&j, "n", NULL);
	jline_str(&j, "n2", NULL, 5);
	jline_bool(&j, "t", true);
	jline_bool(&j, "f", false);
	jline_null(&j, "z");
	jline_int(&j, "min", LLONG_MIN);
	jline_int(&j, "max", LLONG_MAX);
	jline_obj_begin(&j, "tls");
	jline_cstr(&j, "version", "TLSv1.3");
	jline_obj_end(&j);
	jline_arr_begin(&j, "rcpts");
	jline_cstr(&j, "ignored-key", "a@b");
	jline_cstr(&j, NULL, "c@d");
	jline_obj_begin(&j, NULL);
	jline_obj_end(&j);
	jline_arr_begin(&j, NULL);
	jline_arr_end(&j);
	jline_arr_end(&j);
	jline_arr_begin(&j, "empty");
	jline_arr_end(&j);
	jline_cstr(&j, NULL, "nokey");
	n = jline_end(&j);
	assert_string_equal(j.buf,
	    "{\"v\":1,\"s\":\"a\\\"b\",\"c\":\"x\",\"n\":null,\"n2\":null,"
	    "\"t\":true,\"f\":false,\"z\":null,"
	    "\"min\":-9223372036854775808,\"max\":9223372036854775807,"
	    "\"tls\":{\"version\":\"TLSv1.3\"},"
	    "\"rcpts\":[\"a@b\",\"c@d\",{},[]],\"empty\":[],\"\":\"nokey\"}\n");
	assert_int_equal(n, strlen(j.buf));
	json_decref(parse_line(j.buf, n));

	/* after the end, nothing changes */
	jline_cstr(&j, "late", "x");
	jline_obj_begin(&j, "late");
	jline_obj_end(&j);
	assert_int_equal(jline_end(&j), n);
	assert_int_equal(j.len, n);
}

static void
test_empty_object(void **state)
{
	struct jline j;

	jline_begin(&j);
	assert_int_equal(jline_end(&j), 3);
	assert_string_equal(j.buf, "{}\n");
}

static void
test_field_cut_at_log_field_max(void **state)
{
	char big[LOG_FIELD_MAX + 50];
	struct jline j;
	json_t *o;
	const char *s;

	memset(big, 'a', sizeof(big));
	jline_begin(&j);
	jline_str(&j, "exact", big, LOG_FIELD_MAX);
	jline_str(&j, "long", big, sizeof(big));
	o = parse_line(j.buf, jline_end(&j));
	s = json_string_value(json_object_get(o, "exact"));
	assert_int_equal(strlen(s), LOG_FIELD_MAX);
	s = json_string_value(json_object_get(o, "long"));
	assert_int_equal(strlen(s), LOG_FIELD_MAX + 3);
	assert_memory_equal(s + LOG_FIELD_MAX, ELL, 3);
	assert_null(json_object_get(o, "trunc"));
	json_decref(o);
}

/* Fields worth ~1.5 KB each (invalid bytes escape 1:6) overflow the line;
 * the ones that fit are kept in order, everything after is dropped. */
static void
test_overflow_keeps_valid_json(void **state)
{
	char bad[LOG_FIELD_MAX], key[16];
	struct jline j;
	json_t *o;
	size_t n, kept = 0;

	memset(bad, 0xff, sizeof(bad));
	jline_begin(&j);
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		jline_str(&j, key, bad, sizeof(bad));
	}
	jline_cstr(&j, "small", "x");
	n = jline_end(&j);
	assert_true(n < JLINE_MAX);
	assert_true(j.overflow);
	o = parse_line(j.buf, n);
	assert_true(json_is_true(json_object_get(o, "trunc")));
	assert_null(json_object_get(o, "small"));
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		if (json_object_get(o, key)) {
			assert_int_equal(kept, (size_t)i);
			kept++;
		}
	}
	assert_true(kept >= 4 && kept < 20);
	assert_int_equal(json_object_size(o), kept + 1);
	json_decref(o);
}

/* Overflow inside nested levels: the ends still close real levels only. */
static void
test_overflow_nested(void **state)
{
	char bad[LOG_FIELD_MAX];
	struct jline j;
	json_t *o, *arr;
	size_t n;

	memset(bad, 0x01, sizeof(bad));
	jline_begin(&j);
	jline_cstr(&j, "first", "kept");
	jline_obj_begin(&j, "outer");
	jline_arr_begin(&j, "list");
	for (int i = 0; i < 10; i++) {
		jline_obj_begin(&j, NULL);
		jline_str(&j, "x", bad, sizeof(bad));
		jline_obj_end(&j);
	}
	jline_arr_end(&j);
	jline_obj_end(&j);
	jline_arr_begin(&j, "after");
	jline_arr_end(&j);
	n = jline_end(&j);
	o = parse_line(j.buf, n);
	assert_true(json_is_true(json_object_get(o, "trunc")));
	assert_string_equal(json_string_value(json_object_get(o, "first")),
	    "kept");
	arr = json_object_get(json_object_get(o, "outer"), "list");
	assert_true(json_is_array(arr));
	assert_true(json_array_size(arr) >= 4 && json_array_size(arr) < 10);
	assert_null(json_object_get(o, "after"));
	json_decref(o);
}

static void
test_depth_limit(void **state)
{
	struct jline j;
	json_t *o, *p;
	size_t n;

	/* root + 7 levels: allowed */
	jline_begin(&j);
	for (int i = 0; i < 7; i++)
		jline_obj_begin(&j, "o");
	jline_int(&j, "deep", 7);
	for (int i = 0; i < 7; i++)
		jline_obj_end(&j);
	n = jline_end(&j);
	o = parse_line(j.buf, n);
	assert_null(json_object_get(o, "trunc"));
	p = o;
	for (int i = 0; i < 7; i++)
		p = json_object_get(p, "o");
	assert_int_equal(json_integer_value(json_object_get(p, "deep")), 7);
	json_decref(o);

	/* 10 levels: the last 3 are dropped, their ends are no-ops */
	jline_begin(&j);
	for (int i = 0; i < 10; i++)
		jline_arr_begin(&j, "a");
	jline_int(&j, NULL, 1);
	for (int i = 0; i < 10; i++)
		jline_arr_end(&j);
	jline_cstr(&j, "later", "dropped");
	n = jline_end(&j);
	o = parse_line(j.buf, n);
	assert_true(json_is_true(json_object_get(o, "trunc")));
	assert_null(json_object_get(o, "later"));
	json_decref(o);
}

static void
test_unbalanced(void **state)
{
	struct jline j;
	json_t *o;

	/* levels left open are closed by jline_end, with their own bracket */
	jline_begin(&j);
	jline_obj_begin(&j, "o");
	jline_arr_begin(&j, "a");
	jline_int(&j, NULL, 5);
	o = parse_line(j.buf, jline_end(&j));
	assert_string_equal(j.buf, "{\"o\":{\"a\":[5]}}\n");
	json_decref(o);

	/* an extra end at the root closes nothing */
	jline_begin(&j);
	jline_obj_end(&j);
	jline_arr_end(&j);
	jline_int(&j, "x", 1);
	jline_end(&j);
	assert_string_equal(j.buf, "{\"x\":1}\n");

	/* mismatched end type: the level's own bracket is written */
	jline_begin(&j);
	jline_arr_begin(&j, "a");
	jline_obj_end(&j);
	jline_end(&j);
	assert_string_equal(j.buf, "{\"a\":[]}\n");
}

/* A seeded random sequence of builder calls: every line must be valid. */
static void
test_random_sequences(void **state)
{
	unsigned seed = 777;
	char val[LOG_FIELD_MAX + 40];

	for (int round = 0; round < 3000; round++) {
		struct jline j;
		int ops = rand_r(&seed) % 80;
		size_t n;

		jline_begin(&j);
		for (int k = 0; k < ops; k++) {
			size_t len = (size_t)rand_r(&seed) % sizeof(val);
			for (size_t b = 0; b < len; b++)
				val[b] = (char)rand_r(&seed);
			switch (rand_r(&seed) % 8) {
			case 0: jline_str(&j, "s", val, len); break;
			case 1: jline_int(&j, "i", rand_r(&seed)); break;
			case 2: jline_bool(&j, "b", true); break;
			case 3: jline_null(&j, "n"); break;
			case 4: jline_obj_begin(&j, "o"); break;
			case 5: jline_arr_begin(&j, "a"); break;
			case 6: jline_obj_end(&j); break;
			default: jline_arr_end(&j); break;
			}
		}
		n = jline_end(&j);
		assert_true(n < JLINE_MAX);
		assert_int_equal(j.buf[n], '\0');
		json_decref(parse_line(j.buf, n));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_zero_dst),
		cmocka_unit_test(test_escape_random),
		cmocka_unit_test(test_basic_object),
		cmocka_unit_test(test_empty_object),
		cmocka_unit_test(test_field_cut_at_log_field_max),
		cmocka_unit_test(test_overflow_keeps_valid_json),
		cmocka_unit_test(test_overflow_nested),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_unbalanced),
		cmocka_unit_test(test_random_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
