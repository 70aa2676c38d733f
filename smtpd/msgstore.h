/*
 * msgstore.h - one message's content while it is being relayed: kept in RAM
 * up to a threshold, beyond it in an unlinked temporary file, so a session's
 * memory stays bounded whatever the message size (DESIGN.md "Data flow").
 *
 * Public functions:
 *   msgstore_new/free()    threshold in octets, directory for the spill
 *   msgstore_append()      add content; spills on crossing the threshold
 *   msgstore_size()        octets appended so far
 *   msgstore_spilled()     whether a file is in use
 *   msgstore_pread()       read back from any offset (RAM or file)
 *   msgstore_ref()         one more owner: msgstore_free() frees at the
 *                          last; reads from several threads are safe once
 *                          appending is over (a worker checks the message
 *                          while the session may already relay it)
 *
 * The spill file is created with O_TMPFILE (or mkstemp + unlink) mode 0600,
 * so no message content is ever left behind by a crash.  Errors (ENOSPC,
 * EIO) are returned; the caller answers 451 4.3.0 and never relays a
 * message it could not store whole.
 */
#ifndef CUTOVER_MSGSTORE_H
#define CUTOVER_MSGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct msgstore;

/* NULL and errno on failure. */
struct msgstore *msgstore_new(size_t ram_max, const char *spill_dir);
void msgstore_free(struct msgstore *m);
struct msgstore *msgstore_ref(struct msgstore *m);
/* 0, or -1 with errno (the store is then unusable). */
int msgstore_append(struct msgstore *m, const char *buf, size_t len);
size_t msgstore_size(const struct msgstore *m);
bool msgstore_spilled(const struct msgstore *m);
/* Up to len octets from offset; returns the count (0 at the end) or -1. */
ssize_t msgstore_pread(const struct msgstore *m, char *buf, size_t len,
    size_t offset);

#endif
