/*
 * tls.c - STARTTLS with OpenSSL 3 through bufferevent_openssl.
 *
 * The session waits until "220 Ready to start TLS" has left its plaintext
 * bufferevent, discards whatever the client pipelined after STARTTLS
 * (RFC 3207 4.2, CVE-2011-0411), and then hands the socket to a new
 * OpenSSL socket bufferevent.  A socket bufferevent rather than a filter
 * over the old one: one buffer layer, and its write callback means "on the
 * wire", which a graceful close after the last reply needs.
 * Protocol floor TLS 1.2; no renegotiation, no compression.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <event2/bufferevent_ssl.h>

#include "tls.h"

static void
tls_error_text(const char *what, const char *path, char *err, size_t errlen)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s %s: %s", what, path, buf);
	ERR_clear_error();
}

SSL_CTX *
tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tls_error_text("cannot create TLS context for", cert, err, errlen);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_error_text("cannot load certificate", cert, err, errlen);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_error_text("cannot load key", key, err, errlen);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error_text("key does not match certificate", cert, err, errlen);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct bufferevent *
tls_wrap(struct event_base *base, int fd, SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void
tls_describe(struct bufferevent *bev, char **version, char **cipher)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	*version = dup_or_null(ssl != NULL ? SSL_get_version(ssl) : NULL);
	*cipher = dup_or_null(ssl != NULL ? SSL_get_cipher_name(ssl) : NULL);
}
