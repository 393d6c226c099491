/*
 * edge/net/tls.c - the server TLS context: TLS 1.2 and 1.3 only, the
 * certificate chain and its key checked to match at start-up, and ALPN
 * per RFC 7443: "stun.turn" is chosen when offered, a client offering no
 * ALPN is served, a client offering only other protocols is refused with
 * no_application_protocol. "stun.nat-discovery" is not offered: this
 * server does no RFC 5780 behaviour discovery.
 */
#include "edge/net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

/* ALPN wire format: length-prefixed names. */
static const unsigned char alpn_turn[] = "\x09stun.turn";

static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_turn,
	                          sizeof(alpn_turn) - 1, in,
	                          inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* The last OpenSSL error as text, the queue cleared. */
static const char *ssl_why(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, cap);
	else
		snprintf(buf, cap, "unknown error");
	ERR_clear_error();
	return buf;
}

/* Open and close: a missing or unreadable file is named with its errno,
 * clearer than OpenSSL's "system lib". */
static int readable(const char *what, const char *path, char *err,
                    size_t err_len)
{
	FILE *fp = fopen(path, "r");

	if (!fp) {
		int e = errno;
		snprintf(err, err_len, "%s %s: %s", what, path, strerror(e));
		return e;
	}
	fclose(fp);
	return 0;
}

int edge_tls_ctx_load(SSL_CTX *ctx, const char *cert, const char *pkey,
                      const char *cipher_list, char *err, size_t err_len)
{
	const char *key = pkey ? pkey : cert;
	char why[256];

	if (readable("cert", cert, err, err_len) ||
	    (pkey && readable("pkey", pkey, err, err_len)))
		return EINVAL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, cipher_list ? cipher_list
	                                             : DEFAULT_CIPHERS) != 1) {
		snprintf(err, err_len, "cipher-list %s: %s",
		         cipher_list ? cipher_list : DEFAULT_CIPHERS,
		         ssl_why(why, sizeof(why)));
		return EINVAL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, err_len, "cert %s: %s", cert,
		         ssl_why(why, sizeof(why)));
		return EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, err_len, "%s %s: no usable private key: %s",
		         pkey ? "pkey" : "cert", key,
		         ssl_why(why, sizeof(why)));
		return EINVAL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, err_len, "%s %s does not match cert %s: %s",
		         pkey ? "pkey" : "key in", key, cert,
		         ssl_why(why, sizeof(why)));
		return EINVAL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return 0;
}

int edge_tls_ctx_new(SSL_CTX **out, const char *cert, const char *pkey,
                     const char *cipher_list, char *err, size_t err_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];
	int rc;

	*out = NULL;
	if (!ctx) {
		snprintf(err, err_len, "TLS: %s", ssl_why(why, sizeof(why)));
		return ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	rc = edge_tls_ctx_load(ctx, cert, pkey, cipher_list, err, err_len);
	if (rc) {
		SSL_CTX_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

void edge_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}
