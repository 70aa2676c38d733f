/*
 * jline.h - build one attempt-log line: a JSON object in a fixed buffer.
 *
 * Bounded by construction: the line never exceeds JLINE_MAX; client strings
 * are escaped (RFC 8259: quotes, backslash, control bytes as \u00XX, invalid
 * UTF-8 bytes as \u00XX of the byte... i.e. the output is always valid JSON
 * and valid UTF-8) and truncated to LOG_FIELD_MAX input bytes, with a
 * "truncated" marker ("…" appended) so a reader can tell.  If the whole line
 * would overflow, later fields are dropped and "trunc":true is set; the
 * object is always closed properly.
 */
#ifndef CUTOVER_JLINE_H
#define CUTOVER_JLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JLINE_MAX 8192

struct jline {
	size_t len;
	bool overflow;
	int depth;               /* nesting of objects/arrays opened */
	bool need_comma[8];
	char buf[JLINE_MAX];
	char closer[8];          /* '}' or ']' of each open level */
	int skipped;             /* levels opened but dropped (too deep / full) */
};

void jline_begin(struct jline *j);              /* writes "{" */
void jline_str(struct jline *j, const char *key, const char *val, size_t len);
void jline_cstr(struct jline *j, const char *key, const char *val); /* NULL -> null */
void jline_int(struct jline *j, const char *key, long long v);
void jline_bool(struct jline *j, const char *key, bool v);
void jline_null(struct jline *j, const char *key);
void jline_obj_begin(struct jline *j, const char *key);  /* key NULL in arrays */
void jline_obj_end(struct jline *j);
void jline_arr_begin(struct jline *j, const char *key);
void jline_arr_end(struct jline *j);
/* Close the object, append "\n"; returns the final length. */
size_t jline_end(struct jline *j);

/* Escape into dst (always NUL-terminated); returns bytes written. Exposed
 * for unit tests. */
size_t json_escape(char *dst, size_t dstlen, const char *src, size_t srclen,
    size_t max_in);

#endif
