/*
 * tls.h - the TLS side of STARTTLS (RFC 3207): the server context and the
 * wrapping of a plaintext session's bufferevent in an OpenSSL filter.
 */
#ifndef CUTOVER_TLS_H
#define CUTOVER_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <event2/bufferevent.h>

/* TLS 1.2+, certificate chain + key checked to match.  NULL + err on failure. */
SSL_CTX *tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen);
/* A server-side TLS bufferevent on fd (closed when it is freed). */
struct bufferevent *tls_wrap(struct event_base *base, int fd, SSL_CTX *ctx);
/* Heap copies of the negotiated version and cipher names. */
void tls_describe(struct bufferevent *bev, char **version, char **cipher);

#endif
