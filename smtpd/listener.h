/*
 * listener.h - the listening sockets and the accept-time limits
 * (max_connections, per_ip), with a pause when descriptors run out.
 */
#ifndef CUTOVER_LISTENER_H
#define CUTOVER_LISTENER_H

#include <stddef.h>

struct server;
struct listener_set;

/* Bind every address ("1.2.3.4:25", "[::1]:25").  NULL + err on failure. */
struct listener_set *listener_set_open(struct server *srv, char *const *addrs,
    size_t naddrs, int backlog, char *err, size_t errlen);
void listener_set_close(struct listener_set *ls);

#endif
