/*
 * upstream_tls.c - STARTTLS on the relay client's side (RFC 3207), per the
 * domain's relay_tls (Postfix smtp_tls_security_level semantics):
 *   none     never STARTTLS;
 *   may      STARTTLS when offered, no certificate checks; a refused
 *            STARTTLS (454) continues in plaintext, but a failed handshake
 *            fails that connection (451 4.7.0) and the next address is
 *            tried: we never fall back to plaintext on the same host after
 *            a handshake failure, which an active attacker could provoke;
 *   encrypt  STARTTLS required, no certificate checks;
 *   verify   STARTTLS required, chain checked against the system store or
 *            `ca_file`, and the name: the MX host name, or the host of a
 *            "[host]:port" relay (an IP literal is checked as an IP SAN).
 *
 * Functions (relay-internal): up_tls_ctx_new(), up_tls_start(),
 * up_tls_done(), up_tls_error().
 *
 * The TLS layer is an OpenSSL filter over the plaintext bufferevent (the
 * filter owns it), so the connect-time socket stays as it is.  TLS 1.2 or
 * newer, no compression, no renegotiation.  SNI is sent for host names.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "upstream_internal.h"

SSL_CTX *
up_tls_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok;

	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create the relay TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (ca_file != NULL && ca_file[0] != '\0')
		ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		unsigned long e = ERR_get_error();
		char buf[256] = "unknown error";
		if (e != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		ERR_clear_error();
		snprintf(err, errlen, "relay ca_file %s: %s",
		    ca_file != NULL ? ca_file : "(system store)", buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool
is_ip(const char *h)
{
	unsigned char tmp[16];

	return inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1;
}

static int
ssl_setup(struct upstream *u, SSL *ssl)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	bool ip = is_ip(u->host);

	if (!ip && u->host[0] != '\0' &&
	    SSL_set_tlsext_host_name(ssl, u->host) != 1)
		return -1;
	if (u->tls != RELAY_TLS_VERIFY) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (ip)
		return X509_VERIFY_PARAM_set1_ip_asc(param, u->host) == 1 ? 0 : -1;
	return X509_VERIFY_PARAM_set1_host(param, u->host, 0) == 1 ? 0 : -1;
}

int
up_tls_start(struct upstream *u)
{
	SSL *ssl;
	struct bufferevent *bev;

	if (evbuffer_get_length(bufferevent_get_input(u->bev)) > 0)
		return -1;
	if ((ssl = SSL_new(u->rc->ssl)) == NULL)
		return -1;
	if (ssl_setup(u, ssl) != 0) {
		SSL_free(ssl);
		return -1;
	}
	bev = bufferevent_openssl_filter_new(u->rc->base, u->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	u->bev = bev;
	u->state = UP_HANDSHAKE;
	up_set_callbacks(u);
	up_timer(u, u->rc->reply_timeout);
	return 0;
}

void
up_tls_done(struct upstream *u)
{
	SSL *ssl = bufferevent_openssl_get_ssl(u->bev);

	snprintf(u->tls_version, sizeof(u->tls_version), "%s",
	    SSL_get_version(ssl));
	snprintf(u->tls_cipher, sizeof(u->tls_cipher), "%s",
	    SSL_get_cipher_name(ssl));
	memset(&u->caps, 0, sizeof(u->caps));
	up_send(u, UP_EHLO2, u->rc->reply_timeout, "EHLO %s", u->rc->helo);
}

void
up_tls_error(struct upstream *u)
{
	SSL *ssl = bufferevent_openssl_get_ssl(u->bev);
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e = bufferevent_get_openssl_error(u->bev);
	char buf[256] = "connection closed";

	if (u->tls == RELAY_TLS_VERIFY && v != X509_V_OK) {
		ERR_clear_error();
		up_fail(u, 451, "4.7.0", "certificate verification failed: %s",
		    X509_verify_cert_error_string(v));
		return;
	}
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	up_fail(u, 451, "4.7.0", "TLS handshake failed: %s", buf);
}
