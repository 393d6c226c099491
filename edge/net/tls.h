/*
 * edge/net/tls.h - the server TLS context shared by every worker's TLS
 * listener (TURN over TLS, RFC 8656 s3.1; ALPN "stun.turn", RFC 7443),
 * and the loading of certificate and key it shares with DTLS.
 */
#ifndef AVEDGE_EDGE_TLS_H
#define AVEDGE_EDGE_TLS_H

#include <stddef.h>

struct ssl_ctx_st;

/* A context for TLS 1.2 and 1.3 serving cert (a PEM chain) with the key
 * in pkey (NULL: in the cert file); cipher_list (NULL: a modern default)
 * for TLS 1.2. 0 or errno (EINVAL, ENOMEM) with err naming the file and
 * the problem. The context is safe to share between threads; free it
 * with edge_tls_ctx_free() after the workers. */
int edge_tls_ctx_new(struct ssl_ctx_st **out, const char *cert,
                     const char *pkey, const char *cipher_list, char *err,
                     size_t err_len);
void edge_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Load cert, pkey and cipher_list into ctx (a TLS or DTLS server context)
 * with the options and ALPN rules above: what edge_tls_ctx_new() and the
 * DTLS context (edge/net/dtls.c) share. 0 or EINVAL with err as above. */
int edge_tls_ctx_load(struct ssl_ctx_st *ctx, const char *cert,
                      const char *pkey, const char *cipher_list, char *err,
                      size_t err_len);

#endif
