/*
 * data_reader.h - the DATA phase byte machine (RFC 5321 4.1.1.4, 4.5.2), pure.
 *
 * Fed the raw bytes that follow "354", in chunks of any size, it finds the
 * end of data, which is CRLF "." CRLF and nothing else (the CRLF before the
 * dot may be the one that ended the DATA command, i.e. an empty message is
 * ".\r\n" at the start).  `\n.\n`, `\r.\r`, `\n.\r\n`, `\r\n.\n` ... are
 * ordinary content: counted as bare CR/LF, never as an end.  Dot-stuffing is
 * undone for the size, hash and header fields.  The message itself is not
 * stored; only what the attempt log needs is kept:
 *   - size in octets (after unstuffing, CRLF line ends)
 *   - SHA-256 of the body (the octets after the blank line ending the
 *     header section, as unstuffed; of nothing when there is no body)
 *   - Message-ID and Subject header values (unfolded, truncated)
 *   - counts of bare CR and bare LF
 *   - whether the size limit was passed (the caller answers 552 5.3.4)
 */
#ifndef CUTOVER_DATA_READER_H
#define CUTOVER_DATA_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DATA_FIELD_MAX 256

struct data_reader_result {
	size_t size;
	bool too_big;
	size_t bare_cr;
	size_t bare_lf;
	size_t nul_bytes;
	bool line_too_long;           /* a line over MAX_DATA_LINE_LENGTH */
	char body_sha256[65];         /* hex */
	char message_id[DATA_FIELD_MAX + 1];
	char subject[DATA_FIELD_MAX + 1];
};

struct data_reader;

struct data_reader *data_reader_new(size_t max_size);
void data_reader_free(struct data_reader *dr);
/*
 * Consume up to len bytes.  Returns the number of bytes consumed.  When the
 * end of data is found, *done is set, consumption stops right after the
 * final ".\r\n" (bytes after it are the next pipelined command and are not
 * consumed), and the result is available.
 */
size_t data_reader_feed(struct data_reader *dr, const char *buf, size_t len,
    bool *done);
const struct data_reader_result *data_reader_result(const struct data_reader *dr);

/*
 * Content sink (optional; set before the first feed): receives the message
 * as the client meant it, in order, in chunks of any size - dot-unstuffed,
 * every other byte as received (bare CR, bare LF and NUL included: the
 * caller refuses those by the counts in the result), the CRLF ending the
 * last line included, the final ".\r\n" not.  The sink is called from
 * inside data_reader_feed(), also past max_size (the reader never stops
 * early; a caller storing the content checks result->too_big itself).
 */
typedef void data_reader_sink(void *arg, const char *buf, size_t len);
void data_reader_set_sink(struct data_reader *dr, data_reader_sink *sink,
    void *arg);

#endif
